//! Running and keeping the server: `serve`, `migrate`, `reanalyze`, `backup`, `restore`.

use super::fail;
use crate::auth::users;
use crate::config::Settings;
use crate::startup::build_state;
use std::path::Path;
use std::process::ExitCode;

/// `casebook serve`.
pub(super) fn serve(
    mut settings: Settings,
    bind: &str,
    secure_cookies: bool,
    db_pool: u32,
) -> ExitCode {
    settings.secure_cookies = secure_cookies;
    crate::startup::limit_malloc_arenas();
    let state = match build_state(settings, db_pool) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if let Ok(mut c) = state.pool.get() {
        if users::count(&mut c).unwrap_or(1) == 0 {
            eprintln!(
                "No users yet. Create the first admin with: casebook user add --email you@example.com --name \"Your Name\" --role admin   (password on stdin)"
            );
        }
    }
    match crate::startup::run_server(state, bind) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("server: {e}")),
    }
}

/// `casebook migrate`.
pub(super) fn migrate(settings: Settings) -> ExitCode {
    match build_state(settings, 1) {
        Ok(_) => {
            eprintln!("migrations applied");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `casebook reanalyze [--case N]`: ties among stored messages joined as ingest joins
/// them now, then cases re-read from their stored mail (one, or every case).
pub(super) fn reanalyze(state: &crate::startup::AppState, case: Option<&str>) -> ExitCode {
    use crate::cases::reanalysis::{self, Scope};
    let mut conn = match state.pool.get() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Some(number) = case {
        let found = crate::cases::merge::surviving_by_number(&mut conn, number.trim());
        let c = match found {
            Ok(Some(c)) => c,
            Ok(None) => {
                eprintln!("error: no case {number}");
                return ExitCode::from(2);
            }
            Err(e) => return fail(e),
        };
        let staff = match crate::mail::ingest::Staff::load(&mut conn) {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let rules = &state.rules;
        let done = crate::db::write_tx(&mut conn, |conn| {
            crate::mail::ingest::replay::reanalyze_case(conn, rules, &staff, c.id)
        });
        return match done {
            Ok(r) => {
                println!(
                    "{}: {} message(s) changed direction; status {} → {}",
                    c.number, r.directions, r.status_before, r.status_after
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    match crate::cases::merge::reanalyze_threads(&mut conn) {
        Ok(n) => println!("{n} group(s) of cases joined (merged, or linked where worked)"),
        Err(e) => return fail(e),
    }
    let queued = reanalysis::enqueue(&mut conn, &Scope::All, "all", "casebook reanalyze");
    if let Err(e) = queued {
        return fail(e);
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("re-reading cases {bar:40} {pos}/{len} {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = |done: i64, total: i64| {
        bar.set_length(total.max(0) as u64);
        bar.set_position(done.max(0) as u64);
    };
    match reanalysis::run_all(&mut conn, &state.rules, &progress) {
        Ok(()) => {
            bar.finish_and_clear();
            match reanalysis::recent(&mut conn, 1) {
                Ok(jobs) => {
                    if let Some(j) = jobs.first() {
                        println!("{} case(s) re-read, {} changed", j.done, j.changed);
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Err(e) => fail(e),
    }
}

/// `casebook reindex`: the search index built again, with a progress bar.
pub(super) fn reindex(state: &crate::startup::AppState) -> ExitCode {
    let mut conn = match state.pool.get() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if !crate::db::is_sqlite(&conn) {
        eprintln!("PostgreSQL keeps its search indexes itself: nothing to rebuild");
        return ExitCode::SUCCESS;
    }
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    use diesel::RunQueryDsl;
    let total = diesel::sql_query(
        "SELECT (SELECT COUNT(*) FROM messages) + (SELECT COUNT(*) FROM search_docs) AS n",
    )
    .get_result::<N>(&mut *conn)
    .map(|r| r.n)
    .unwrap_or(0);
    let bar = indicatif::ProgressBar::new(total.max(0) as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "indexing {bar:40} {pos}/{len} documents {per_sec} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    match crate::search::reindex(&mut conn, |n| bar.inc(n as u64)) {
        Ok(n) => {
            bar.finish_and_clear();
            println!(
                "search index built: {n} documents in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(crate::search::SearchError::Index(crate::search::index::IndexError::Locked)) => {
            bar.abandon();
            fail("the search index is held by a running server: stop it first")
        }
        Err(e) => {
            bar.abandon();
            fail(e)
        }
    }
}

/// `casebook backup DEST`.
pub(super) fn backup(settings: &Settings, dest: &Path) -> ExitCode {
    match crate::backup::backup(settings, dest) {
        Ok(r) => {
            eprintln!(
                "backup written to {}: database {} bytes, {} stored files",
                dest.display(),
                r.0,
                r.1
            );
            if !settings.blob_url.is_empty() {
                eprintln!(
                    "stored files written since --blob-url was set are in the object store, not in this backup: copy the bucket after this backup (objects are never changed or deleted, so a later copy holds every file this backup names)"
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `casebook restore SRC`.
pub(super) fn restore(settings: &Settings, src: &Path) -> ExitCode {
    match crate::backup::restore(settings, src) {
        Ok(n) => {
            eprintln!(
                "restored into {} ({n} stored files)",
                settings.data_dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
