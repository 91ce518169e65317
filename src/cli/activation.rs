//! `casebook activation import`: activation records from the platform's CSV export.

use super::fail;
use crate::startup::AppState;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum ActivationCmd {
    /// Import a CSV export (column mapping in the README); bad rows are reported with
    /// their line numbers, good rows imported; a re-import adds nothing.
    Import {
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn import(state: &AppState, file: &std::path::Path, json: bool) -> ExitCode {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => return fail(format!("{}: {e}", file.display())),
    };
    let mut conn = match state.pool.get() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {bar:40} {pos}/{len} rows {per_sec} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let source = format!("csv:{}", file.display());
    let report = crate::activation::import_csv(&mut conn, &bytes, &source, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    match report {
        Ok(r) => {
            if json {
                println!("{}", serde_json::to_string(&r).unwrap_or_default());
            } else {
                for (line, err) in &r.errors {
                    println!("line {line}: {err}");
                }
                println!(
                    "{} rows: {} imported, {} already present, {} refused",
                    r.rows,
                    r.imported,
                    r.duplicates,
                    r.errors.len()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `casebook activation …`.
pub(super) fn run(state: &AppState, action: &ActivationCmd) -> ExitCode {
    match action {
        ActivationCmd::Import { file, json } => import(state, file, *json),
    }
}
