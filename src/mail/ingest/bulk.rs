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
/// PostgreSQL: writers filing side by side, each on a connection of its own. One
/// writer and its server process take turns (each statement waits for its answer), so
/// one alone leaves the cores idle half the time and pays a wake-up from idle at every
/// answer; two keep both cores busy (BENCHMARKS.md, session 27: 470–476 msg/s with one
/// writer, 1,741–1,848 with two, 20,000 messages).
const PG_WRITERS: usize = 2;
/// PostgreSQL with several writers: messages per transaction at most. A writer keeps
/// its batch's inputs until it commits, to file them again when the server aborts the
/// batch (a conflict between two writers: a deadlock of their thread locks, or a new
/// case's random token both drew).
const PG_BATCH: usize = 1000;
/// Times a batch aborted by a conflict (`db::is_conflict`) is filed again before the
/// run fails.
const REFILES: usize = 8;
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
/// hands the prepared inputs to their writer (`route`, an index into `txs`) `CHUNK` at
/// a time, until the inputs end or a writer is gone. The time spent reading inputs is
/// added to `reading` (ns).
///
/// The inputs in hand go to the writers first when the next one must wait for room:
/// a writer gives bytes back only for inputs it has, so waiting with them in hand
/// would wait for ever.
fn read_ahead<T>(
    mut inputs: impl Iterator<Item = Result<Input, BulkError>>,
    ahead: &Ahead,
    txs: &[std::sync::mpsc::SyncSender<Vec<(usize, T)>>],
    reading: &std::sync::atomic::AtomicU64,
    route: impl Fn(&T) -> usize,
    mut prepare: impl FnMut(Result<Input, BulkError>) -> T,
) {
    let mut chunks: Vec<Vec<(usize, T)>> = txs.iter().map(|_| Vec::new()).collect();
    let send_all = |chunks: &mut Vec<Vec<(usize, T)>>| {
        chunks
            .iter_mut()
            .zip(txs)
            .filter(|(c, _)| !c.is_empty())
            .all(|(c, tx)| tx.send(std::mem::take(c)).is_ok())
    };
    loop {
        let t = Instant::now();
        let next = inputs.next();
        reading.fetch_add(
            t.elapsed().as_nanos() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        let Some(input) = next else { break };
        let size = input.as_ref().map_or(0, |i| i.raw.len());
        if !ahead.fits(size) && !send_all(&mut chunks) {
            return;
        }
        // A writer stopped (an error): nothing more to prepare.
        if !ahead.take(size) {
            return;
        }
        let item = prepare(input);
        let w = route(&item) % txs.len().max(1);
        let Some((chunk, tx)) = chunks.get_mut(w).zip(txs.get(w)) else {
            return;
        };
        chunk.push((size, item));
        if chunk.len() >= CHUNK && tx.send(std::mem::take(chunk)).is_err() {
            return;
        }
    }
    send_all(&mut chunks);
}

/// An input read and prepared for the writer, or why it could not be.
type Prepared = Result<(Input, PreparedInput), BulkError>;

/// The writer an input goes to: by its thread's root, so that a thread's messages
/// go to one writer, in order, and two writers seldom wait for each other's locks.
/// Mailboxes, exports and what cannot be read go to the first.
fn writer_for(item: &Prepared) -> usize {
    use std::hash::{Hash, Hasher};
    match item {
        Ok((_, PreparedInput::One(one))) => match one.as_ref() {
            Ok(p) => {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                p.thread_root().hash(&mut h);
                h.finish() as usize
            }
            Err(_) => 0,
        },
        _ => 0,
    }
}

/// What every writer of a run shares (each has a copy).
#[derive(Clone)]
struct Writing<'a> {
    store: &'a dyn BlobStore,
    rules: &'a Rules,
    staff: &'a Staff,
    ahead: &'a Ahead,
    /// The reader ended without failing (see `ingest_bulk`).
    read_all: &'a std::sync::atomic::AtomicBool,
    batch: usize,
    /// Several writers (PostgreSQL). A writer then commits before it waits for
    /// inputs, since another may be waiting for the locks its batch holds; and it
    /// keeps its batch's inputs, to file them again if the server aborts the batch to
    /// break a conflict between two writers (`db::is_conflict`).
    parallel: bool,
    /// Told after each commit (SQLite's WAL checkpointer).
    checkpoint: Option<std::sync::mpsc::SyncSender<()>>,
}

/// A batch being filed: its outcomes, and (several writers) its inputs.
#[derive(Default)]
struct Batch {
    outcomes: Vec<Outcome>,
    inputs: Vec<(Input, PreparedInput)>,
}

impl Writing<'_> {
    /// One writer: files the inputs of `rx`, `batch` messages a transaction, and sends
    /// each batch's outcomes to `done` once committed. Returns the time it waited for
    /// inputs.
    fn run(
        &self,
        conn: &mut DbConn,
        rx: std::sync::mpsc::Receiver<Vec<(usize, Prepared)>>,
        done: &mut dyn FnMut(Vec<Outcome>) -> Result<(), BulkError>,
    ) -> Result<Duration, BulkError> {
        let mut waited = Duration::ZERO;
        let mut b = Batch::default();
        db::begin_batch(conn)?;
        let filed = (|| -> Result<(), BulkError> {
            loop {
                let chunk = match rx.try_recv() {
                    Ok(chunk) => chunk,
                    Err(_) => {
                        // Only several writers keep their inputs, so only they
                        // commit here.
                        if !b.inputs.is_empty() {
                            self.commit(conn, &mut b, done, true)?;
                        }
                        let t = Instant::now();
                        let next = rx.recv();
                        waited += t.elapsed();
                        match next {
                            Ok(chunk) => chunk,
                            Err(_) => break,
                        }
                    }
                };
                let mut given = 0;
                for (size, item) in chunk {
                    let (input, prepared) = item?;
                    let conflict = self.file_or_conflict(conn, &input, &prepared, &mut b)?;
                    if self.parallel {
                        b.inputs.push((input, prepared));
                    }
                    if let Some(e) = conflict {
                        self.refile(conn, &mut b, e)?;
                    }
                    given += size;
                    if b.outcomes.len() >= self.batch {
                        self.commit(conn, &mut b, done, true)?;
                    }
                }
                self.ahead.give(given);
            }
            // Inputs that ended short of the whole run (the reader failed) must not
            // pass for it: their batch is rolled back.
            if !self.read_all.load(std::sync::atomic::Ordering::Acquire) {
                return Err(BulkError::Input(
                    "the thread preparing the inputs failed".into(),
                ));
            }
            Ok(())
        })();
        match filed {
            Ok(()) => {
                self.commit(conn, &mut b, done, false)?;
                Ok(waited)
            }
            Err(e) => {
                let _ = db::end_batch(conn, false);
                Err(e)
            }
        }
    }

    /// Files one input into batch `b`. With several writers, a conflict with another
    /// writer is returned (`db::is_conflict`: the batch is aborted, to be filed again);
    /// any other failure stops.
    fn file_or_conflict(
        &self,
        conn: &mut DbConn,
        input: &Input,
        prepared: &PreparedInput,
        b: &mut Batch,
    ) -> Result<Option<diesel::result::Error>, BulkError> {
        match ingest_prepared(
            conn,
            self.store,
            self.rules,
            self.staff,
            &input.raw,
            &input.source,
            prepared,
        ) {
            Ok(o) => {
                b.outcomes.extend(o);
                Ok(None)
            }
            Err(IngestError::Db(e)) if self.parallel && db::is_conflict(&e) => Ok(Some(e)),
            Err(error) => Err(BulkError::Ingest {
                input: input.source.clone(),
                error,
            }),
        }
    }

    /// The batch conflicted with another writer's (`e`): rolled back and filed again,
    /// until it goes through or `REFILES` attempts failed.
    fn refile(
        &self,
        conn: &mut DbConn,
        b: &mut Batch,
        mut e: diesel::result::Error,
    ) -> Result<(), BulkError> {
        for attempt in 1..=REFILES {
            tracing::info!(
                attempt,
                messages = b.inputs.len(),
                "batch aborted by a conflict with another writer; filing it again"
            );
            db::end_batch(conn, false)?;
            b.outcomes.clear();
            db::begin_batch(conn)?;
            // What the rolled-back run learnt of people is gone from the database.
            self.staff.forget_unsaved();
            let inputs = std::mem::take(&mut b.inputs);
            let mut again = None;
            for (input, prepared) in &inputs {
                again = self.file_or_conflict(conn, input, prepared, b)?;
                if again.is_some() {
                    break;
                }
            }
            b.inputs = inputs;
            match again {
                None => return Ok(()),
                Some(d) => e = d,
            }
        }
        let input = b
            .inputs
            .last()
            .map(|(i, _)| i.source.clone())
            .unwrap_or_default();
        Err(BulkError::Ingest {
            input,
            error: IngestError::Db(e),
        })
    }

    /// Commits the batch, sends its outcomes to `done` and, unless it is the last
    /// (`next` false), opens the next one. The checkpointer is told only between
    /// batches: after the last one it would keep the run waiting for its pause.
    fn commit(
        &self,
        conn: &mut DbConn,
        b: &mut Batch,
        done: &mut dyn FnMut(Vec<Outcome>) -> Result<(), BulkError>,
        next: bool,
    ) -> Result<(), BulkError> {
        self.store.sync_all()?;
        db::end_batch(conn, true)?;
        self.staff.saved();
        b.inputs.clear();
        if let (Some(wal), true) = (&self.checkpoint, next) {
            let _ = wal.try_send(());
        }
        if !b.outcomes.is_empty() {
            done(std::mem::take(&mut b.outcomes))?;
        }
        if next {
            db::begin_batch(conn)?;
        }
        Ok(())
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
    /// Cases whose history was filed out of its own time order (see `Outcome`), re-read
    /// in that order at the end.
    pub replayed: usize,
}

/// Re-reads the cases (or the cases they were merged into) whose history an import
/// filed out of its own time order, in that order (`replay::reanalyze_marked`): this
/// run's, and those a killed run left.
fn replay_out_of_order(conn: &mut DbConn, rules: &Rules) -> Result<usize, BulkError> {
    let n = super::replay::reanalyze_marked(conn, rules)?;
    if n > 0 {
        tracing::info!(cases = n, "history filed out of its own order re-read");
    }
    Ok(n)
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
    // PostgreSQL: more writers, each on a connection of its own (SQLite has one
    // writer at a time whatever we do). Without a second connection, one writer.
    let mut more: Vec<DbConn> = Vec::new();
    if !db::is_sqlite(conn) {
        for _ in 1..PG_WRITERS {
            match db::establish(&settings.database_url) {
                Ok(mut c) => {
                    db::tune_for_bulk(&mut c)?;
                    more.push(c);
                }
                Err(e) => tracing::warn!(error = %e, "one writer fewer: no connection for it"),
            }
        }
    }
    let writers = 1 + more.len();
    let batch = if writers > 1 {
        batch.clamp(1, PG_BATCH)
    } else {
        batch.max(1)
    };
    let mut report = BulkReport::default();
    let started = Instant::now();
    let reading = std::sync::atomic::AtomicU64::new(0);
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
    // Set once the reader has ended without failing (its inputs done, or a writer
    // stopped): a writer whose inputs end otherwise rolls its batch back (it must not
    // pass for the whole run).
    let read_all = std::sync::atomic::AtomicBool::new(false);
    let run = std::thread::scope(|scope| -> Result<Duration, BulkError> {
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
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..writers)
            .map(|_| {
                std::sync::mpsc::sync_channel::<Vec<(usize, Prepared)>>(PREPARED_AHEAD / CHUNK)
            })
            .unzip();
        let (store, reading, ahead, read_all) = (store.as_ref(), &reading, &ahead, &read_all);
        let inputs = inputs.into_iter();
        let reader = std::thread::Builder::new()
            .name("ingest-prepare".into())
            .spawn_scoped(scope, move || {
                read_ahead(inputs, ahead, &txs, reading, writer_for, |input| {
                    input.and_then(|i| {
                        let prepared = prepare_input(store, rules, &i.raw).map_err(|error| {
                            BulkError::Ingest {
                                input: i.source.clone(),
                                error,
                            }
                        })?;
                        Ok((i, prepared))
                    })
                });
                read_all.store(true, std::sync::atomic::Ordering::Release);
            })
            .map_err(|e| BulkError::Input(format!("cannot start the prepare thread: {e}")))?;
        let writing = Writing {
            store,
            rules,
            staff: &staff,
            ahead,
            read_all,
            batch,
            parallel: writers > 1,
            checkpoint: wal,
        };
        // Each batch's outcomes reported on the caller's thread, once committed.
        let mut report_batch = |outcomes: Vec<Outcome>| -> Result<(), BulkError> {
            for o in outcomes {
                *report.counts.entry(o.outcome.as_str()).or_default() += 1;
                committed(&o)?;
            }
            Ok(())
        };
        let written = (|| -> Result<Duration, BulkError> {
            let mut rxs = rxs.into_iter();
            if writers == 1 {
                // One writer (SQLite): on this thread, reporting as it commits.
                let Some(rx) = rxs.next() else {
                    return Err(BulkError::Input("no writer".into()));
                };
                let written = writing.run(conn, rx, &mut report_batch);
                if written.is_err() {
                    ahead.close();
                }
                return written;
            }
            let (done_tx, done_rx) = std::sync::mpsc::channel::<Vec<Outcome>>();
            let mut handles = Vec::new();
            for (conn, rx) in std::iter::once(&mut *conn).chain(more.iter_mut()).zip(rxs) {
                let (writing, done) = (writing.clone(), done_tx.clone());
                let handle = std::thread::Builder::new()
                    .name("ingest-write".into())
                    .spawn_scoped(scope, move || {
                        let mut send = |outcomes| {
                            // The caller stopped taking outcomes (its report failed).
                            done.send(outcomes)
                                .map_err(|_| BulkError::Input("the run was stopped".into()))
                        };
                        let written =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                writing.run(conn, rx, &mut send)
                            }))
                            .unwrap_or_else(|_| {
                                // Its locks go with its transaction, or the other writer could
                                // wait for them until the run ends, which it then never does.
                                let _ = db::end_batch(conn, false);
                                Err(BulkError::Input("a writer failed".into()))
                            });
                        if written.is_err() {
                            // The reader stops at its next input.
                            writing.ahead.close();
                        }
                        written
                    });
                match handle {
                    Ok(h) => handles.push(h),
                    Err(e) => {
                        ahead.close();
                        return Err(BulkError::Input(format!("cannot start a writer: {e}")));
                    }
                }
            }
            drop((done_tx, writing));
            for outcomes in done_rx.iter() {
                if let Err(e) = report_batch(outcomes) {
                    // Every writer stops at its next commit (nobody reports it); the
                    // batches they committed are marked for the re-read all the same.
                    ahead.close();
                    return Err(e);
                }
            }
            let mut waited: Option<Duration> = None;
            let mut failed = None;
            for h in handles {
                match h.join() {
                    Ok(Ok(w)) => waited = Some(waited.map_or(w, |m| m.min(w))),
                    Ok(Err(e)) => {
                        failed.get_or_insert(e);
                    }
                    Err(_) => {
                        failed.get_or_insert(BulkError::Input("a writer failed".into()));
                    }
                }
            }
            match failed {
                Some(e) => Err(e),
                None => Ok(waited.unwrap_or_default()),
            }
        })();
        // The reader is always joined here, whatever the writers' outcome: it stops at
        // its next input once they are gone (`Ahead::close`, the channels).
        ahead.close();
        match (written, reader.join()) {
            (Err(e), _) => Err(e),
            (Ok(_), Err(_)) => Err(BulkError::Input(
                "the thread preparing the inputs failed".into(),
            )),
            (Ok(waited), Ok(())) => Ok(waited),
        }
    });
    // The connection is the caller's: SQLite's default threshold back.
    if let Err(e) = db::wal::writer_autocheckpoint(conn, false) {
        tracing::warn!(error = %e, "WAL checkpoint threshold not restored");
    }
    // The batches committed before a failure stay: their cases filed out of order are
    // re-read all the same (the marks would wait for the next run otherwise).
    let replayed = replay_out_of_order(conn, rules);
    let waited = match run {
        Ok(w) => w,
        Err(e) => {
            if let Err(r) = replayed {
                tracing::warn!(error = %r, "cases filed out of order before the failure not re-read");
            }
            return Err(e);
        }
    };
    report.replayed = replayed?;
    // Waiting while the producer read inputs is not ingest time; waiting while it
    // prepared them is (preparing is part of ingest). With several writers, the run
    // waited while all of them did: the one that waited least.
    let read = Duration::from_nanos(reading.load(std::sync::atomic::Ordering::Relaxed));
    report.ingest = started.elapsed().saturating_sub(waited.min(read));
    tracing::debug!(?waited, ?read, writers, "bulk ingest");
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

    fn message(id: &str, from: &str, reply_to: Option<&str>, hour: u32) -> Input {
        let irt = reply_to
            .map(|p| format!("In-Reply-To: <{p}>\r\n"))
            .unwrap_or_default();
        let raw = format!(
            "From: {from}\r\nTo: support@cmgos.example\r\nSubject: printer not reachable\r\n\
             Message-ID: <{id}>\r\n{irt}Date: Tue, 02 Jul 2024 {hour:02}:00:00 +0000\r\n\r\n\
             the printer is not reachable\r\n"
        );
        Input {
            raw: raw.into_bytes(),
            source: id.to_string(),
        }
    }

    /// A run that fails (here: its report cannot be written) keeps the batches it
    /// committed, and the cases among them filed out of their own time order are
    /// re-read by this run all the same, not left to the next one.
    #[test]
    fn a_failed_run_rereads_what_it_committed_out_of_order() {
        use crate::db::schema::cases;
        use diesel::prelude::*;
        let dir = tempfile::tempdir().expect("dir");
        let mut settings = crate::config::Settings::for_data_dir(dir.path().to_path_buf());
        settings.staff_domains = vec!["cmgos.example".into()];
        let pool = db::connect_and_migrate(&settings.database_url, 2).expect("db");
        let rules = Rules::from_settings(&settings).expect("rules");
        let mut conn = pool.get().expect("conn");
        // The answer first: the question (two hours older) then joins its case.
        let inputs = vec![
            Ok(message(
                "answer@cmgos.example",
                "Wang <wangbb@cmgos.example>",
                Some("question@customer.example"),
                11,
            )),
            Ok(message(
                "question@customer.example",
                "Ma <ma@customer.example>",
                None,
                9,
            )),
        ];
        let mut seen = 0;
        let run = ingest_bulk(&mut conn, &settings, &rules, 1, inputs, |_| {
            seen += 1;
            if seen == 2 {
                return Err(std::io::Error::other("stdout closed"));
            }
            Ok(())
        });
        assert!(run.is_err(), "the report failed");
        let (created, first_response): (chrono::NaiveDateTime, Option<chrono::NaiveDateTime>) =
            cases::table
                .select((cases::created_at, cases::first_response_at))
                .first(&mut *conn)
                .expect("one case");
        let at = |h: u32| {
            chrono::NaiveDate::from_ymd_opt(2024, 7, 2).and_then(|d| d.and_hms_opt(h, 0, 0))
        };
        assert_eq!((Some(created), first_response), (at(9), at(11)));
    }

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
                read_ahead(
                    five_inputs(),
                    &ahead,
                    &[tx],
                    &reading,
                    |_| 0,
                    |_| {
                        n += 1;
                        n
                    },
                );
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
            std::slice::from_ref(&tx),
            &std::sync::atomic::AtomicU64::new(0),
            |_| 0,
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
