//! Group commit for live deliveries (`POST /api/mail/inbound`): concurrent messages are
//! filed by one writer thread in one write transaction, each in its own savepoint, and
//! every caller is answered only once the transaction holding its message committed.
//!
//! On SQLite, sixteen clients each opening their own write transaction spend their
//! time waiting on the database lock (its busy handler sleeps in steps of milliseconds);
//! one writer that takes whatever has queued up while the previous group committed
//! does the same work without waiting, and commits once per group. A message that
//! fails rolls back its own savepoint and is answered with its error; the others in
//! the group are unaffected. A failed commit answers every message of the group with
//! the error, and nothing of the group is acknowledged. The group's commit is made
//! durable on disk (`synchronous=FULL`, one fsync per group) before anyone is answered.

use super::{ingest_input_with, Outcome, Rules, Staff};
use crate::db::{self, DbConn, Pool};
use crate::mail::IngestError;
use crate::storage::BlobStore;
use diesel::Connection;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use tokio::sync::oneshot;

/// Messages filed in one transaction at most.
pub const MAX_GROUP: usize = 64;
/// Bytes of mail filed in one transaction at most (a group closes once past it), so a
/// group of large messages does not hold the write lock for long.
const MAX_GROUP_BYTES: usize = 8 * 1024 * 1024;
/// Deliveries waiting for the writer at most; beyond that callers are told to retry.
const QUEUE: usize = 1024;

/// What a delivery gets back.
pub type Reply = Result<Vec<Outcome>, GroupError>;

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// No connection, or the group's transaction could not begin or commit.
    #[error("database: {0}")]
    Db(String),
    /// Too many deliveries are waiting; the caller should retry shortly.
    #[error("the mail writer is busy")]
    Busy,
    /// The writer thread is gone (the server is shutting down).
    #[error("the mail writer has stopped")]
    Stopped,
}

struct Job {
    raw: Vec<u8>,
    source: String,
    reply: oneshot::Sender<Reply>,
}

/// The handle deliveries are sent through; the writer thread ends when it is dropped.
pub struct GroupCommit {
    tx: SyncSender<Job>,
}

impl GroupCommit {
    /// Starts the writer thread, which takes a connection from `pool` per group.
    pub fn start(pool: Pool, store: Arc<dyn BlobStore + Send + Sync>, rules: Arc<Rules>) -> Self {
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("mail-writer".into())
            .spawn(move || writer(pool, store, rules, rx));
        if let Err(e) = spawned {
            // Without a writer every delivery is answered `Stopped` (its job is dropped).
            tracing::error!(error = %e, "cannot start the mail writer thread");
        }
        GroupCommit { tx }
    }

    /// Files `raw` with the next group; resolves once its transaction has committed.
    pub async fn deliver(&self, raw: Vec<u8>, source: &str) -> Reply {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            raw,
            source: source.to_string(),
            reply,
        };
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(GroupError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(GroupError::Stopped),
        }
        rx.await.unwrap_or(Err(GroupError::Stopped))
    }
}

fn writer(
    pool: Pool,
    store: Arc<dyn BlobStore + Send + Sync>,
    rules: Arc<Rules>,
    rx: Receiver<Job>,
) {
    while let Ok(first) = rx.recv() {
        let mut bytes = first.raw.len();
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP && bytes < MAX_GROUP_BYTES {
            match rx.try_recv() {
                Ok(j) => {
                    bytes += j.raw.len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        let span = tracing::debug_span!("ingest_group", messages = jobs.len(), bytes);
        let _g = span.enter();
        let replies = match pool.get() {
            // A panic while filing (a bug) fails this group only: nothing of it is
            // acknowledged, its connection (still inside the transaction) is discarded
            // by the pool and so rolled back, and the writer goes on with the next group.
            Ok(mut conn) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                file_group(&mut conn, store.as_ref(), &rules, &jobs)
            }))
            .unwrap_or_else(|_| {
                tracing::error!("the mail writer panicked; the group is not acknowledged");
                fail(&jobs, &"the mail writer failed on this group")
            }),
            Err(e) => fail(&jobs, &e),
        };
        for (job, reply) in jobs.into_iter().zip(replies) {
            // A caller that went away (timeout) no longer waits; its message stays filed.
            let _ = job.reply.send(reply);
        }
    }
}

/// The same error for every job of a group.
fn fail(jobs: &[Job], e: &dyn std::fmt::Display) -> Vec<Reply> {
    jobs.iter()
        .map(|_| Err(GroupError::Db(e.to_string())))
        .collect()
}

/// Files every job in one transaction, each in a savepoint; commits once.
fn file_group(conn: &mut DbConn, store: &dyn BlobStore, rules: &Rules, jobs: &[Job]) -> Vec<Reply> {
    let staff = match Staff::load(conn) {
        Ok(s) => s,
        Err(e) => return fail(jobs, &e),
    };
    // Each group's commit reaches the disk before anyone is answered (SQLite's WAL
    // default, NORMAL, survives a crash of the process but not of the machine); one
    // fsync per group, not per message. The pooled connection gets NORMAL back after.
    if let Err(e) = durable(conn, true) {
        return fail(jobs, &e);
    }
    let replies = file_in_batch(conn, store, rules, &staff, jobs);
    if let Err(e) = durable(conn, false) {
        tracing::warn!(error = %e, "synchronous=NORMAL not restored on a pooled connection");
    }
    replies
}

/// `PRAGMA synchronous` FULL (`on`) or back to NORMAL, on SQLite.
fn durable(conn: &mut DbConn, on: bool) -> diesel::QueryResult<()> {
    use diesel::connection::SimpleConnection;
    if !db::is_sqlite(conn) {
        return Ok(());
    }
    conn.batch_execute(if on {
        "PRAGMA synchronous=FULL;"
    } else {
        "PRAGMA synchronous=NORMAL;"
    })
}

/// The group inside one write transaction.
fn file_in_batch(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    rules: &Rules,
    staff: &Staff,
    jobs: &[Job],
) -> Vec<Reply> {
    if let Err(e) = db::begin_batch(conn) {
        return fail(jobs, &e);
    }
    let mut replies: Vec<Reply> = Vec::with_capacity(jobs.len());
    for job in jobs {
        let r = conn.transaction::<_, IngestError, _>(|c| {
            ingest_input_with(c, store, rules, staff, &job.raw, &job.source)
        });
        if let Err(e) = &r {
            tracing::warn!(error = %e, source = %job.source, "delivery failed; its savepoint rolled back");
            // Some errors (disk full, I/O) make SQLite roll back the whole transaction,
            // not only the savepoint: then nothing of the group was filed.
            if !db::in_transaction(conn) {
                tracing::error!(error = %e, "the group's transaction was rolled back");
                return fail(jobs, e);
            }
        }
        replies.push(r.map_err(GroupError::from));
    }
    match db::end_batch(conn, true) {
        Ok(()) => replies,
        Err(e) => {
            tracing::error!(error = %e, "group commit failed; no message of the group is acknowledged");
            let _ = db::end_batch(conn, false);
            fail(jobs, &e)
        }
    }
}
