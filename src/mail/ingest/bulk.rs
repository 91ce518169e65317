//! Bulk ingest (`casebook ingest`, the bench): many messages per transaction, stored
//! files flushed once per batch, then the search index caught up.

use super::{ingest_prepared, prepare_input, Outcome, PreparedInput, Rules, Staff};
use crate::db::Direct;
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
    Search(crate::search::SearchError),
    /// The caller's report of committed outcomes failed.
    #[error(transparent)]
    Report(#[from] std::io::Error),
}

/// Inputs prepared ahead of the writer, waiting in the hand-over (`PREPARED_AHEAD /
/// CHUNK` chunks); besides them, one chunk being filled and one being filed.
const PREPARED_AHEAD: usize = 64;
/// Prepared inputs handed to the writer together: one hand-over per input woke the
/// waiting reader with a system call every time (`perf`: 6 % of the writer's time).
const CHUNK: usize = 16;
/// Bytes of inputs read ahead of the writer at most (an input larger than this still
/// goes, alone): a directory of large mailbox files is not read into memory at once.
const AHEAD_BYTES: usize = 64 * 1024 * 1024;

/// The bytes read ahead of the writer (`AHEAD_BYTES` in a run). Closed when the writer
/// stops, so that the reader never waits for a writer that is gone.
struct Ahead {
    limit: usize,
    /// Bytes taken and not yet given back; closed.
    state: std::sync::Mutex<(usize, bool)>,
    changed: std::sync::Condvar,
}

impl Ahead {
    fn new(limit: usize) -> Self {
        Ahead {
            limit,
            state: std::sync::Mutex::new((0, false)),
            changed: std::sync::Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, bool)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `n` more bytes fit now (only the reader takes: it then takes without
    /// waiting).
    fn fits(&self, n: usize) -> bool {
        let s = self.lock();
        s.1 || s.0 == 0 || s.0 + n <= self.limit
    }

    /// Waits until `n` more bytes fit; false once the writer has stopped.
    fn take(&self, n: usize) -> bool {
        let mut s = self.lock();
        while !s.1 && s.0 > 0 && s.0 + n > self.limit {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        if s.1 {
            return false;
        }
        s.0 += n;
        true
    }

    /// The writer is done with `n` bytes.
    fn give(&self, n: usize) {
        let mut s = self.lock();
        s.0 = s.0.saturating_sub(n);
        self.changed.notify_all();
    }

    fn close(&self) {
        self.lock().1 = true;
        self.changed.notify_all();
    }
}

/// The reader's side of a run: takes each input's bytes from `ahead`, prepares it and
/// hands the prepared inputs to the writer `CHUNK` at a time, until the inputs end or
/// the writer is gone. The time spent reading inputs is added to `reading` (ns).
///
/// The inputs in hand go to the writer first when the next one must wait for room:
/// the writer gives bytes back only for inputs it has, so waiting with them in hand
/// would wait for ever.
fn read_ahead<T>(
    mut inputs: impl Iterator<Item = Result<Input, BulkError>>,
    ahead: &Ahead,
    tx: &std::sync::mpsc::SyncSender<Vec<(usize, T)>>,
    reading: &std::sync::atomic::AtomicU64,
    mut prepare: impl FnMut(Result<Input, BulkError>) -> T,
) {
    let mut chunk = Vec::with_capacity(CHUNK);
    loop {
        let t = Instant::now();
        let next = inputs.next();
        reading.fetch_add(
            t.elapsed().as_nanos() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        let Some(input) = next else { break };
        let size = input.as_ref().map_or(0, |i| i.raw.len());
        if !chunk.is_empty() && !ahead.fits(size) && tx.send(std::mem::take(&mut chunk)).is_err() {
            return;
        }
        // The writer stopped (an error): nothing more to prepare.
        if !ahead.take(size) {
            return;
        }
        chunk.push((size, prepare(input)));
        if chunk.len() >= CHUNK
            && tx
                .send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))
                .is_err()
        {
            return;
        }
    }
    if !chunk.is_empty() {
        let _ = tx.send(chunk);
    }
}

/// An input read and prepared for the writer, or why it could not be.
type Prepared = Result<(Input, PreparedInput), BulkError>;

/// Adds the counts of one commit to the run's report (its times are the run's own).
fn merge_counts(report: &mut BulkReport, r: BulkReport) {
    for (k, v) in r.counts {
        *report.counts.entry(k).or_default() += v;
    }
}

/// What a bulk run did.
#[derive(Debug, Default)]
pub struct BulkReport {
    /// Outcomes by kind (`Kind::as_str`).
    pub counts: BTreeMap<&'static str, usize>,
    /// Time spent ingesting and committing, without reading inputs or reporting: the
    /// run's wall time less what the writer waited while the inputs were being read
    /// (inputs are read and prepared on a thread beside the writer).
    pub ingest: Duration,
    /// Time the search index took to catch up afterwards.
    pub index: Duration,
}

/// Ingests `inputs` with `batch` messages per transaction into the stored files under
/// `blob_dir`; `committed` sees each outcome once its transaction has committed (so
/// every outcome reported is durable). Stops at the first input that cannot be read
/// or ingested, rolling back its batch. Catches the search index up at the end.
///
/// Inputs are read and prepared (`prepare_input`: parsed, attachments stored, texts
/// masked and scanned) on a thread of their own, a few messages ahead of the writer,
/// which only files and commits: the two share the machine's cores.
#[tracing::instrument(skip(conn, settings, rules, inputs, committed))]
pub fn ingest_bulk(
    conn: &mut DbConn,
    settings: &crate::config::Settings,
    rules: &Rules,
    batch: usize,
    inputs: impl IntoIterator<Item = Result<Input, BulkError>, IntoIter: Send>,
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
    let started = Instant::now();
    let reading = std::sync::atomic::AtomicU64::new(0);
    let mut waited = Duration::ZERO;
    let mut writer_busy = Duration::ZERO;
    // SQLite: the WAL copied into the database on a connection and thread of their own
    // (`db::wal`); without one, the writer checkpoints in its commits as by default.
    let mut wal_conn = if db::is_sqlite(conn) {
        db::establish(&settings.database_url)
            .map_err(|e| tracing::warn!(error = %e, "no connection for WAL checkpoints"))
            .ok()
    } else {
        None
    };
    db::wal::writer_autocheckpoint(conn, wal_conn.is_some())?;
    let ahead = Ahead::new(AHEAD_BYTES);
    let run = std::thread::scope(|scope| -> Result<(), BulkError> {
        let wal = match wal_conn.as_mut() {
            Some(c) => {
                let (wal_tx, wal_rx) = std::sync::mpsc::sync_channel::<()>(1);
                std::thread::Builder::new()
                    .name("wal-checkpointer".into())
                    .spawn_scoped(scope, move || {
                        db::wal::run_checkpointer(wal_rx, || {
                            db::wal::checkpoint(c).map_err(|e| e.to_string())
                        })
                    })
                    .ok()
                    .map(|_| wal_tx)
            }
            None => None,
        };
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<Vec<(usize, Prepared)>>(PREPARED_AHEAD / CHUNK);
        let (store, reading, ahead) = (store.as_ref(), &reading, &ahead);
        let inputs = inputs.into_iter();
        let producer = std::thread::Builder::new()
            .name("ingest-prepare".into())
            .spawn_scoped(scope, move || {
                read_ahead(inputs, ahead, &tx, reading, |input| {
                    input.and_then(|i| {
                        let prepared = prepare_input(store, rules, &i.raw).map_err(|error| {
                            BulkError::Ingest {
                                input: i.source.clone(),
                                error,
                            }
                        })?;
                        Ok((i, prepared))
                    })
                })
            })
            .map_err(|e| BulkError::Input(format!("cannot start the prepare thread: {e}")))?;
        let mut write = || -> Result<(), BulkError> {
            let t = Instant::now();
            db::begin_batch(conn)?;
            writer_busy += t.elapsed();
            loop {
                let w = Instant::now();
                let Ok(chunk) = rx.recv() else { break };
                waited += w.elapsed();
                let t = Instant::now();
                let mut given = 0;
                for (size, item) in chunk {
                    let (input, prepared) = match item {
                        Ok(i) => i,
                        Err(e) => {
                            let _ = db::end_batch(conn, false);
                            return Err(e);
                        }
                    };
                    if let Err(error) = ingest_prepared(
                        conn,
                        store,
                        rules,
                        &staff,
                        &input.raw,
                        &input.source,
                        &prepared,
                    )
                    .map(|o| pending.extend(o))
                    {
                        let _ = db::end_batch(conn, false);
                        return Err(BulkError::Ingest {
                            input: input.source,
                            error,
                        });
                    }
                    drop((input, prepared));
                    given += size;
                    if pending.len() >= batch {
                        let mut r = BulkReport::default();
                        commit(conn, &mut pending, &mut r)?;
                        merge_counts(&mut report, r);
                        if let Some(wal) = &wal {
                            let _ = wal.try_send(());
                        }
                        db::begin_batch(conn)?;
                    }
                }
                ahead.give(given);
                writer_busy += t.elapsed();
            }
            Ok(())
        };
        let written = write();
        // The producer is always joined here, whatever the writer's outcome: it stops
        // at its next input once the writer is gone (`Ahead::close`, the channel).
        ahead.close();
        drop(rx);
        let joined = producer.join();
        match (written, joined) {
            (Err(e), _) => Err(e),
            (Ok(()), Err(_)) => {
                // Its inputs ended early: the batch in hand must not pass for the whole run.
                let _ = db::end_batch(conn, false);
                Err(BulkError::Input(
                    "the thread preparing the inputs failed".into(),
                ))
            }
            (Ok(()), Ok(())) => Ok(()),
        }
    });
    // The connection is the caller's: SQLite's default threshold back.
    if let Err(e) = db::wal::writer_autocheckpoint(conn, false) {
        tracing::warn!(error = %e, "WAL checkpoint threshold not restored");
    }
    run?;
    let mut last = BulkReport::default();
    commit(conn, &mut pending, &mut last)?;
    merge_counts(&mut report, last);
    // Waiting while the producer read inputs is not ingest time; waiting while it
    // prepared them is (preparing is part of ingest).
    let read = Duration::from_nanos(reading.load(std::sync::atomic::Ordering::Relaxed));
    report.ingest = started.elapsed().saturating_sub(waited.min(read));
    tracing::debug!(?writer_busy, ?waited, ?read, "bulk ingest");
    let t = Instant::now();
    match crate::search::catch_up_all(conn) {
        // A server on this database holds the index: its indexer takes the import in.
        Err(crate::search::SearchError::Index(crate::search::index::IndexError::Locked)) => {
            tracing::info!("search index held by a running server: it indexes the import");
        }
        other => {
            other.map_err(BulkError::Search)?;
        }
    }
    report.index = t.elapsed();
    // A large import changes the tables' shape; a few messages do not (and ANALYZE
    // of a large database takes seconds).
    // Everything is committed by now: a failure here costs only speed until
    // autovacuum comes round, never the import.
    if report.counts.values().sum::<usize>() >= 1000 {
        if let Err(e) = db::refresh_statistics(conn) {
            tracing::warn!(error = %e, "planner statistics not refreshed after the import");
        }
        // SQLite: a large import leaves the search index in a dozen segments, which
        // every search walks; one is faster. Only when the import is a good part of the
        // index: a thousand messages into a million are left to tantivy's merging.
        let t = Instant::now();
        let imported = report.counts.values().sum::<usize>() as i64;
        let newest: Option<i64> = {
            use diesel::prelude::*;
            crate::db::schema::messages::table
                .select(diesel::dsl::max(crate::db::schema::messages::id))
                .first_row(conn)
                .unwrap_or(None)
        };
        if imported.saturating_mul(10) >= newest.unwrap_or(0) {
            if let Err(e) = crate::search::compact(conn) {
                tracing::warn!(error = %e, "search index not compacted after the import");
            }
        }
        report.index += t.elapsed();
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reader waits while the writer is `AHEAD_BYTES` behind, goes on as soon as the
    /// writer gives bytes back, and stops waiting (false) once the writer is gone.
    #[test]
    fn reading_ahead_is_bounded_by_bytes_and_ends_with_the_writer() {
        let ahead = Ahead::new(AHEAD_BYTES);
        // One input larger than the budget still goes, alone.
        assert!(ahead.take(AHEAD_BYTES * 2));
        std::thread::scope(|s| {
            let waiting = s.spawn(|| ahead.take(1));
            std::thread::sleep(Duration::from_millis(100));
            assert!(
                !waiting.is_finished(),
                "the reader must wait for the writer"
            );
            ahead.give(AHEAD_BYTES * 2);
            assert!(waiting.join().expect("reader"), "room again after give");
        });
        assert!(
            ahead.take(AHEAD_BYTES - 1),
            "fits beside the one byte taken"
        );
        std::thread::scope(|s| {
            let waiting = s.spawn(|| ahead.take(10));
            std::thread::sleep(Duration::from_millis(100));
            assert!(!waiting.is_finished(), "over the budget: waits");
            ahead.close();
            assert!(!waiting.join().expect("reader"), "the writer stopped");
        });
        assert!(!ahead.take(0), "closed for good");
    }

    /// Five inputs of 600 bytes, named 0 to 4.
    fn five_inputs() -> impl Iterator<Item = Result<Input, BulkError>> {
        (0..5).map(|i| {
            Ok(Input {
                raw: vec![b'x'; 600],
                source: format!("{i}"),
            })
        })
    }

    /// The writer gives bytes back only for the inputs it has received. With room for
    /// one input at a time, each input must reach it before the reader waits for room
    /// for the next; holding it would wait for ever.
    #[test]
    fn the_inputs_in_hand_go_to_the_writer_before_the_reader_waits() {
        use std::sync::mpsc::RecvTimeoutError;
        let ahead = std::sync::Arc::new(Ahead::new(1000));
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(usize, usize)>>(PREPARED_AHEAD);
        let reader = {
            let ahead = ahead.clone();
            std::thread::spawn(move || {
                let reading = std::sync::atomic::AtomicU64::new(0);
                let mut n = 0;
                read_ahead(five_inputs(), &ahead, &tx, &reading, |_| {
                    n += 1;
                    n
                });
            })
        };
        let mut got = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(chunk) => {
                    ahead.give(chunk.iter().map(|(size, _)| size).sum());
                    got.push(chunk.into_iter().map(|(_, n)| n).collect::<Vec<_>>());
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("the reader waits for room with inputs in hand: {got:?}")
                }
            }
        }
        reader.join().expect("reader");
        // Every input, in order, each sent alone (two never fit together).
        assert_eq!(got, [vec![1], vec![2], vec![3], vec![4], vec![5]]);
        // With room for all, they go together, in one chunk.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(usize, usize)>>(PREPARED_AHEAD);
        let mut n = 0;
        read_ahead(
            five_inputs(),
            &Ahead::new(10_000),
            &tx,
            &std::sync::atomic::AtomicU64::new(0),
            |_| {
                n += 1;
                n
            },
        );
        drop(tx);
        let chunks: Vec<Vec<usize>> = rx
            .iter()
            .map(|c| c.into_iter().map(|(_, n)| n).collect())
            .collect();
        assert_eq!(chunks, [vec![1, 2, 3, 4, 5]]);
    }
}
