//! One bench run: the parse-only ceiling on a sample, then the corpus through the real
//! bulk ingest into a fresh database (SQLite, or the PostgreSQL of `--database-url`),
//! then the search index catching up.

use crate::corpus::{Corpus, RND, SUPPORT};
use casebook::config::Settings;
use casebook::mail::ingest::{ingest_bulk, Input};
use std::time::Instant;

pub struct BenchResult {
    pub messages: usize,
    pub threads: usize,
    pub bytes: usize,
    /// Messages parsed for the ceiling (a sample of the corpus when it is large).
    pub parse_messages: usize,
    pub parse_secs: f64,
    pub ingest_secs: f64,
    /// Search indexing of the same messages, done after ingest (as the server's indexer does).
    pub index_secs: f64,
    pub activation_records: usize,
    pub outcomes: std::collections::BTreeMap<&'static str, usize>,
}

/// The parse-only ceiling is measured on at most this many messages.
const PARSE_SAMPLE: usize = 100_000;

/// With `keep`, the database stays in `DATA_DIR/bench-data` for `scripts/bench` to serve.
/// Messages are generated one by one as the ingest asks for them, so the corpus never
/// sits in memory whole, and generating them does not count as ingest time.
pub fn run(
    base: &Settings,
    messages: usize,
    threads: usize,
    batch: usize,
    keep: bool,
    adversarial: bool,
) -> Result<BenchResult, String> {
    let corpus = Corpus::new(messages, threads, 42);
    let corpus = if adversarial {
        corpus.adversarial()
    } else {
        corpus
    };
    let sample: Vec<Vec<u8>> = (0..corpus.len().min(PARSE_SAMPLE))
        .map(|i| corpus.message(i))
        .collect();
    let t0 = Instant::now();
    let mut parsed = 0usize;
    for m in &sample {
        if casebook::mail::parse::parse_message(m).is_ok() {
            parsed += 1;
        }
    }
    let parse_secs = t0.elapsed().as_secs_f64();
    if parsed != sample.len() {
        return Err(format!(
            "only {parsed} of {} generated messages parse",
            sample.len()
        ));
    }
    let parse_messages = sample.len();
    drop(sample);
    let dir = if keep {
        base.data_dir.join("bench-data")
    } else {
        base.data_dir.join(format!("bench-{}", std::process::id()))
    };
    let _ = std::fs::remove_dir_all(&dir);
    let mut settings = Settings::for_data_dir(dir.clone());
    settings.token_prefix = base.token_prefix.clone();
    settings.token_prefixes = base.token_prefixes.clone();
    // On PostgreSQL (`--database-url`): the database scripts/bench made for this run.
    if casebook::db::is_postgres_url(&base.database_url) {
        settings.database_url = base.database_url.clone();
    }
    settings.blob_url = base.blob_url.clone();
    let state = casebook::startup::build_state(settings, 2).map_err(|e| e.to_string())?;
    let mut conn = state.pool.get().map_err(|e| e.to_string())?;
    // The support engineer and R&D engineer of the corpus, so their mail counts as staff.
    for (name, email, role) in [
        (SUPPORT.0, SUPPORT.1, casebook::auth::Role::Support),
        (RND.0, RND.1, casebook::auth::Role::Rnd),
    ] {
        let password: String = format!("bench-{:016x}", rand::random::<u64>());
        casebook::auth::users::create(&mut conn, email, name, role, &[], &password)
            .map_err(|e| e.to_string())?;
    }
    let records: Vec<casebook::activation::NewRecord> = corpus
        .activation_records()
        .iter()
        .filter_map(|r| casebook::activation::validate(r).ok())
        .collect();
    casebook::db::begin_batch(&mut conn).map_err(|e| e.to_string())?;
    let (activation_records, _) = casebook::activation::insert_all(&mut conn, &records, "bench")
        .map_err(|e| e.to_string())?;
    casebook::db::end_batch(&mut conn, true).map_err(|e| e.to_string())?;
    let mut bytes = 0usize;
    let inputs = (0..corpus.len()).map(|i| {
        let raw = corpus.message(i);
        bytes += raw.len();
        Ok(Input {
            raw,
            source: format!("bench#{i}"),
        })
    });
    let report = ingest_bulk(
        &mut conn,
        &state.settings,
        &state.rules,
        batch,
        inputs,
        |_| Ok(()),
    )
    .map_err(|e| e.to_string())?;
    drop(conn);
    drop(state);
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(BenchResult {
        messages: corpus.len(),
        threads: corpus.threads,
        bytes,
        parse_messages,
        parse_secs,
        ingest_secs: report.ingest.as_secs_f64(),
        index_secs: report.index.as_secs_f64(),
        activation_records,
        outcomes: report.counts,
    })
}
