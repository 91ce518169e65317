//! Bulk ingest (`casebook ingest`, the bench): many messages per transaction, stored
//! files flushed once per batch, then the search index caught up.

use super::{ingest_input_with, Outcome, Rules, Staff};
use crate::db::{self, DbConn};
use crate::mail::IngestError;
use crate::storage::{BlobStore, DirStore, StorageError};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One input of a bulk run: its bytes and the name its outcomes carry.
pub struct Input {
    pub raw: Vec<u8>,
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// An input could not be read; the text says which and why.
    #[error("{0}")]
    Input(String),
    #[error("{input}: {error}")]
    Ingest { input: String, error: IngestError },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error("search index: {0}")]
    Search(diesel::result::Error),
    /// The caller's report of committed outcomes failed.
    #[error(transparent)]
    Report(#[from] std::io::Error),
}

/// What a bulk run did.
#[derive(Debug, Default)]
pub struct BulkReport {
    /// Outcomes by kind (`Kind::as_str`).
    pub counts: BTreeMap<&'static str, usize>,
    /// Time spent ingesting and committing, without reading inputs or reporting.
    pub ingest: Duration,
    /// Time the search index took to catch up afterwards.
    pub index: Duration,
}

/// Ingests `inputs` with `batch` messages per transaction into the stored files under
/// `blob_dir`; `committed` sees each outcome once its transaction has committed (so
/// every outcome reported is durable). Stops at the first input that cannot be read
/// or ingested, rolling back its batch. Catches the search index up at the end.
#[tracing::instrument(skip(conn, settings, rules, inputs, committed))]
pub fn ingest_bulk(
    conn: &mut DbConn,
    settings: &crate::config::Settings,
    rules: &Rules,
    batch: usize,
    inputs: impl IntoIterator<Item = Result<Input, BulkError>>,
    mut committed: impl FnMut(&Outcome) -> std::io::Result<()>,
) -> Result<BulkReport, BulkError> {
    db::tune_for_bulk(conn)?;
    // The data dir's files flushed together once per batch; the database or an
    // object store are durable at each put.
    let store: Box<dyn BlobStore> = crate::storage::open_store(
        settings,
        DirStore::new(settings.blob_dir())?.with_deferred_sync(),
    )?;
    let staff = Staff::load_for_batch(conn)?;
    let batch = batch.max(1);
    let mut report = BulkReport::default();
    let mut pending: Vec<Outcome> = Vec::new();
    let mut commit = |conn: &mut DbConn,
                      pending: &mut Vec<Outcome>,
                      report: &mut BulkReport|
     -> Result<(), BulkError> {
        let t = Instant::now();
        store.sync_all()?;
        db::end_batch(conn, true)?;
        report.ingest += t.elapsed();
        for o in pending.drain(..) {
            *report.counts.entry(o.outcome.as_str()).or_default() += 1;
            committed(&o)?;
        }
        Ok(())
    };
    db::begin_batch(conn)?;
    for input in inputs {
        let input = match input {
            Ok(i) => i,
            Err(e) => {
                let _ = db::end_batch(conn, false);
                return Err(e);
            }
        };
        let t = Instant::now();
        match ingest_input_with(
            conn,
            store.as_ref(),
            rules,
            &staff,
            &input.raw,
            &input.source,
        ) {
            Ok(o) => pending.extend(o),
            Err(error) => {
                let _ = db::end_batch(conn, false);
                return Err(BulkError::Ingest {
                    input: input.source,
                    error,
                });
            }
        }
        report.ingest += t.elapsed();
        if pending.len() >= batch {
            commit(conn, &mut pending, &mut report)?;
            let t = Instant::now();
            db::begin_batch(conn)?;
            report.ingest += t.elapsed();
        }
    }
    commit(conn, &mut pending, &mut report)?;
    let t = Instant::now();
    crate::search::catch_up_all(conn).map_err(BulkError::Search)?;
    report.index = t.elapsed();
    // A large import changes the tables' shape; a few messages do not (and ANALYZE
    // of a large database takes seconds).
    // Everything is committed by now: a failure here costs only speed until
    // autovacuum comes round, never the import.
    if report.counts.values().sum::<usize>() >= 1000 {
        if let Err(e) = db::refresh_statistics(conn) {
            tracing::warn!(error = %e, "planner statistics not refreshed after the import");
        }
        // SQLite: a large import leaves each search index in up to a dozen segments,
        // which every search walks side by side; one is 43 % faster for identifiers at
        // 1,000,000 messages, and takes 4 s there. Only when the import is a good part
        // of the index: a thousand messages into a million are left to FTS5's merging.
        let t = Instant::now();
        let imported = report.counts.values().sum::<usize>() as i64;
        let newest: Option<i64> = {
            use diesel::prelude::*;
            crate::db::schema::messages::table
                .select(diesel::dsl::max(crate::db::schema::messages::id))
                .first(conn)
                .unwrap_or(None)
        };
        if imported.saturating_mul(10) >= newest.unwrap_or(0) {
            if let Err(e) = crate::search::compact(conn) {
                tracing::warn!(error = %e, "search indexes not compacted after the import");
            }
        }
        report.index += t.elapsed();
    }
    Ok(report)
}
