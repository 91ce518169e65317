//! `casebook-bench`: the ingest benchmark (BENCHMARKS.md) on a generated corpus, with
//! the same global flags as `casebook`; `scripts/bench` runs it before the load tests.

mod corpus;
mod inbound;
mod run;
mod text;

use clap::Parser;
use std::process::ExitCode;

casebook::jemalloc!();

/// Measure ingestion: a generated corpus into a fresh database (SQLite in the data dir,
/// or the PostgreSQL of `--database-url`; see BENCHMARKS.md).
#[derive(Parser, Debug)]
#[command(name = "casebook-bench", version)]
struct Args {
    #[command(flatten)]
    globals: casebook::cli::Globals,
    #[arg(long, default_value_t = 50_000)]
    messages: usize,
    #[arg(long, default_value_t = 5_000)]
    threads: usize,
    /// Messages per transaction (`casebook ingest` uses 5,000).
    #[arg(long, default_value_t = 5000)]
    batch: usize,
    /// Keep the database in DATA_DIR/bench-data (for scripts/bench).
    #[arg(long)]
    keep: bool,
    /// Instead of the bulk ingest: post the corpus to a running server's
    /// `POST /api/mail/inbound` at HOST:PORT (live delivery under concurrency).
    #[arg(long, value_name = "HOST:PORT")]
    inbound: Option<String>,
    /// API token for `--inbound` (an admin's or an inbound-scoped token).
    #[arg(
        long,
        env = "CASEBOOK_BENCH_TOKEN",
        hide_env_values = true,
        default_value = ""
    )]
    token: String,
    /// The adversarial data set: one error code on every case, none closed.
    #[arg(long)]
    adversarial: bool,
    /// Concurrent connections for `--inbound`.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Instead of a run: write the corpus to DIR as numbered `.eml` files and its
    /// activation records as `activation.csv` (test data sets: `casebook ingest DIR`).
    #[arg(long, value_name = "DIR")]
    export: Option<std::path::PathBuf>,
    /// Instead of a run: time the text work of search (index tokens per body, a
    /// snippet per hit) on the corpus's bodies, without a database.
    #[arg(long)]
    text_work: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    casebook::telemetry::init(args.globals.log_format);
    let settings = args.globals.settings();
    if let Some(dir) = &args.export {
        let corpus = corpus::Corpus::new(args.messages, args.threads, 42);
        let corpus = if args.adversarial {
            corpus.adversarial()
        } else {
            corpus
        };
        return match corpus.export(dir) {
            Ok(n) => {
                println!("exported {n} messages to {}", dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {}: {e}", dir.display());
                ExitCode::FAILURE
            }
        };
    }
    if args.text_work {
        let corpus = corpus::Corpus::new(args.messages, args.threads, 42);
        let r = text::run(&corpus);
        println!(
            "text work on {} bodies: index tokens {:.2} us per body; a snippet {:.2} us ({} hits of the bench's word queries)",
            r.bodies, r.index_tokens_us, r.snippet_us, r.snippets
        );
        return ExitCode::SUCCESS;
    }
    if let Some(addr) = &args.inbound {
        return match inbound::run(addr, &args.token, args.clients, args.messages, args.threads) {
            Ok(r) => {
                let pct = |p: f64| {
                    let i = ((r.latencies_ms.len() as f64 * p) as usize)
                        .min(r.latencies_ms.len().saturating_sub(1));
                    r.latencies_ms.get(i).copied().unwrap_or(0.0)
                };
                println!(
                    "inbound deliveries  {} with {} clients",
                    r.messages, args.clients
                );
                println!(
                    "elapsed             {:.2} s   {:.0} msg/s (each answered after its commit)",
                    r.secs,
                    r.messages as f64 / r.secs
                );
                println!(
                    "latency             p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms",
                    pct(0.50),
                    pct(0.95),
                    pct(0.99)
                );
                println!("answers by status   {:?}", r.statuses);
                if r.statuses.keys().any(|s| *s != 200) {
                    return ExitCode::FAILURE;
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("casebook-bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run::run(
        &settings,
        args.messages,
        args.threads,
        args.batch,
        args.keep,
        args.adversarial,
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
            println!("ingest end to end   {:.2} s   {:.0} msg/s  (stored raw, parsed, threaded, committed)", r.ingest_secs, ingest_rate);
            println!("ratio to ceiling    {:.2}", ingest_rate / parse_rate);
            if casebook::db::is_postgres_url(&settings.database_url) {
                println!("search indexing    none after ingest (PostgreSQL indexes as it inserts)");
            } else {
                println!(
                    "search indexing    {:.2} s   {:.0} msg/s  (after ingest, as the server's background indexer does)",
                    r.index_secs,
                    r.messages as f64 / r.index_secs
                );
            }
            println!("outcomes            {:?}", r.outcomes);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("casebook-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
