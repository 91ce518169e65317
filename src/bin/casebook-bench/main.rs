//! `casebook-bench`: the ingest benchmark (BENCHMARKS.md) on a generated corpus, with
//! the same global flags as `casebook`; `scripts/bench` runs it before the load tests.

mod corpus;
mod run;

use clap::Parser;
use std::process::ExitCode;

/// Measure ingestion: a generated corpus into a fresh SQLite database (see BENCHMARKS.md).
#[derive(Parser, Debug)]
#[command(name = "casebook-bench", version)]
struct Args {
    #[command(flatten)]
    globals: casebook::cli::Globals,
    #[arg(long, default_value_t = 50_000)]
    messages: usize,
    #[arg(long, default_value_t = 5_000)]
    threads: usize,
    /// Messages per transaction.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Keep the database in DATA_DIR/bench-data (for scripts/bench).
    #[arg(long)]
    keep: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    casebook::telemetry::init(args.globals.log_format);
    let settings = args.globals.settings();
    match run::run(
        &settings,
        args.messages,
        args.threads,
        args.batch,
        args.keep,
    ) {
        Ok(r) => {
            let parse_rate = r.parse_messages as f64 / r.parse_secs;
            let ingest_rate = r.messages as f64 / r.ingest_secs;
            println!("messages            {} in {} cases", r.messages, r.threads);
            println!("corpus              {:.1} MiB", r.bytes as f64 / 1048576.0);
            println!("activation records  {}", r.activation_records);
            println!(
                "parse only          {:.2} s   {:.0} msg/s  (mail-parser ceiling, {} messages)",
                r.parse_secs, parse_rate, r.parse_messages
            );
            println!("ingest end to end   {:.2} s   {:.0} msg/s  (stored raw, parsed, threaded, committed to SQLite)", r.ingest_secs, ingest_rate);
            println!("ratio to ceiling    {:.2}", ingest_rate / parse_rate);
            println!(
                "search indexing    {:.2} s   {:.0} msg/s  (after ingest, as the server's background indexer does)",
                r.index_secs,
                r.messages as f64 / r.index_secs
            );
            println!("outcomes            {:?}", r.outcomes);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("casebook-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
