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

/// `casebook reanalyze`: ties among stored messages joined as ingest joins them now.
pub(super) fn reanalyze(state: &crate::startup::AppState) -> ExitCode {
    let mut conn = match state.pool.get() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    match crate::cases::merge::reanalyze_threads(&mut conn) {
        Ok(n) => {
            println!("{n} group(s) of cases joined (merged, or linked where worked)");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
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
