//! `casebook ingest` (files, directories, stdin; in bulk) and `casebook mailgate` (one
//! message from an MTA pipe, posted to a server).

use super::{fail, summary};
use crate::mail::ingest::{ingest_bulk, BulkError, Input};
use crate::startup::AppState;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

fn collect_files(path: &std::path::Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            collect_files(&e, out)?;
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// The files in the order their threads are filed (see `mail::ingest::order`): a first
/// pass reads the head of each file (Message-ID, In-Reply-To, References, Date).
/// Unreadable files keep their place; the second pass reports them.
fn in_thread_order(files: Vec<PathBuf>) -> Vec<PathBuf> {
    use crate::mail::ingest::order::{thread_order, Head};
    if files.len() < 2 {
        return files;
    }
    let heads: Vec<Option<Head>> = files
        .iter()
        .map(|f| {
            if f.as_os_str() == "-" {
                return None;
            }
            let mut head = Vec::new();
            std::fs::File::open(f)
                .and_then(|file| file.take(256 * 1024).read_to_end(&mut head))
                .ok()
                .and_then(|_| Head::of(&head))
        })
        .collect();
    let mut slots: Vec<Option<PathBuf>> = files.into_iter().map(Some).collect();
    thread_order(&heads)
        .into_iter()
        .filter_map(|i| slots[i].take())
        .collect()
}

/// sysexits: 0 delivered, 65 EX_DATAERR (refused for good), 75 EX_TEMPFAIL (retry later), 77 EX_NOPERM.
pub(super) fn mailgate(url: &str, token_file: &std::path::Path) -> ExitCode {
    const EX_DATAERR: u8 = 65;
    const EX_NOINPUT: u8 = 66;
    const EX_TEMPFAIL: u8 = 75;
    const EX_NOPERM: u8 = 77;
    const EX_CONFIG: u8 = 78;
    let token = match std::fs::read_to_string(token_file) {
        Ok(t) => t.trim().to_string(),
        Err(e) => {
            eprintln!(
                "casebook mailgate: token file {}: {e}",
                token_file.display()
            );
            return ExitCode::from(EX_CONFIG);
        }
    };
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut raw) {
        eprintln!("casebook mailgate: stdin: {e}");
        return ExitCode::from(EX_NOINPUT);
    }
    let agent = ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(120))
        .build();
    match agent
        .post(url)
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", "message/rfc822")
        .send_bytes(&raw)
    {
        Ok(resp) => {
            let body = resp.into_string().unwrap_or_default();
            eprintln!("casebook mailgate: {body}");
            ExitCode::SUCCESS
        }
        Err(ureq::Error::Status(code, resp)) => {
            let body = resp.into_string().unwrap_or_default();
            eprintln!("casebook mailgate: HTTP {code}: {body}");
            match code {
                401 | 403 => ExitCode::from(EX_NOPERM),
                400 | 413 => ExitCode::from(EX_DATAERR),
                _ => ExitCode::from(EX_TEMPFAIL),
            }
        }
        Err(e) => {
            eprintln!("casebook mailgate: {e} (will be retried by the MTA)");
            ExitCode::from(EX_TEMPFAIL)
        }
    }
}

/// Messages per transaction in `casebook ingest` by default (`--batch`). Larger batches write each index page
/// a message touched once per batch: the random keys (Message-IDs, references, content
/// hashes) of a million messages dirty a page per key, and 5,000 messages a batch
/// rather than 1,000 ingest 1,000,000 messages 9 % faster (BENCHMARKS.md, session 22).
/// A failure rolls back at most one batch, which a second run takes in again.
pub(super) const BATCH: u32 = 5000;

/// `casebook ingest PATH…`: every file (directories walked in name order; `-` is
/// stdin) in bulk; a line per message once its batch has committed, then a summary.
pub(super) fn ingest(state: &AppState, paths: &[PathBuf], json: bool, batch: usize) -> ExitCode {
    let mut files = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            files.push(p.clone());
            continue;
        }
        if let Err(e) = collect_files(p, &mut files) {
            return fail(format!("{}: {e}", p.display()));
        }
    }
    let files = in_thread_order(files);
    let mut conn = match state.pool.get() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let inputs = files.into_iter().filter_map(|f| {
        if f.as_os_str() == "-" {
            let mut raw = Vec::new();
            return Some(match std::io::stdin().read_to_end(&mut raw) {
                Ok(_) => Ok(Input {
                    raw,
                    source: "stdin".to_string(),
                }),
                Err(e) => Err(BulkError::Input(format!("stdin: {e}"))),
            });
        }
        match std::fs::read(&f) {
            Ok(raw) => Some(Ok(Input {
                raw,
                source: f.display().to_string(),
            })),
            Err(e) => {
                eprintln!("casebook: skipping {}: {e}", f.display());
                None
            }
        }
    });
    let people_before = match crate::cases::reanalysis::people_mark(&mut conn) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let report = ingest_bulk(
        &mut conn,
        &state.settings,
        &state.rules,
        batch,
        inputs,
        |o| writeln!(out, "{}", o.line(json)),
    );
    if let Ok(r) = &report {
        if r.replayed > 0 {
            eprintln!(
                "re-read {} case(s) whose history was filed out of its own time order",
                r.replayed
            );
        }
    }
    if report.is_ok() {
        // A sender recognised as staff late in the import: their earlier mail re-read.
        match crate::cases::reanalysis::after_import(&mut conn, &state.rules, people_before) {
            Ok(0) => {}
            Ok(n) => eprintln!(
                "re-read {n} case(s) where a sender was recognised as staff later in the import"
            ),
            Err(e) => return fail(e),
        }
    }
    match report {
        Ok(r) if json => {
            eprintln!("{}", summary(&r.counts));
            ExitCode::SUCCESS
        }
        Ok(r) => {
            let _ = writeln!(out, "{}", summary(&r.counts));
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
