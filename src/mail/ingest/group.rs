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
//!
//! On SQLite the WAL is copied back into the database by a thread of its own beside the
//! writer (`db::wal`): SQLite's default runs that checkpoint inside a group's commit,
//! and every caller of the group waits for it (a quarter of the writer's time under 16
//! clients; at 1,000,000 messages live delivery went from 847–1,097 to 1,351–1,400 msg/s
//! without it).

use super::{ingest_prepared, prepare_input, Outcome, PreparedInput, Rules, Staff};
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
    /// Prepared by the caller's task (`prepare_input`), not by the writer.
    prepared: PreparedInput,
    source: String,
    reply: oneshot::Sender<Reply>,
}

/// The handle deliveries are sent through; the writer thread ends when it is dropped.
pub struct GroupCommit {
    tx: SyncSender<Job>,
    store: Arc<dyn BlobStore + Send + Sync>,
    rules: Arc<Rules>,
}

impl GroupCommit {
    /// Starts the writer thread, which takes a connection from `pool` per group.
    pub fn start(pool: Pool, store: Arc<dyn BlobStore + Send + Sync>, rules: Arc<Rules>) -> Self {
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        // The checkpointer ends when the writer (which holds its sender) ends.
        let (wal_tx, wal_rx) = sync_channel::<()>(1);
        let checkpoints = pool.clone();
        let wal = std::thread::Builder::new()
            .name("wal-checkpointer".into())
            .spawn(move || checkpointer(checkpoints, wal_rx))
            .map(|_| wal_tx);
        if let Err(e) = &wal {
            // The writer then checkpoints in its commits, as SQLite does by default.
            tracing::warn!(error = %e, "cannot start the WAL checkpointer thread");
        }
        let (for_writer, rules_for_writer) = (store.clone(), rules.clone());
        let spawned = std::thread::Builder::new()
            .name("mail-writer".into())
            .spawn(move || writer(pool, for_writer, rules_for_writer, rx, wal.ok()));
        if let Err(e) = spawned {
            // Without a writer every delivery is answered `Stopped` (its job is dropped).
            tracing::error!(error = %e, "cannot start the mail writer thread");
        }
        GroupCommit { tx, store, rules }
    }

    /// Files `raw` with the next group; resolves once its transaction has committed.
    ///
    /// The message is parsed and prepared here, on the blocking pool (several at once,
    /// beside the writer): the one writer thread only files.
    pub async fn deliver(&self, raw: Vec<u8>, source: &str) -> Reply {
        let (store, rules) = (self.store.clone(), self.rules.clone());
        let (raw, prepared) = tokio::task::spawn_blocking(move || {
            let prepared = prepare_input(store.as_ref(), &rules, &raw);
            (raw, prepared)
        })
        .await
        .map_err(|_| GroupError::Stopped)?;
        let prepared = prepared?;
        let (reply, rx) = oneshot::channel();
        let job = Job {
            raw,
            prepared,
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
    wal: Option<SyncSender<()>>,
) {
    // The staff directory, kept between groups while `directory_version` stands still
    // (reading every account for each group was 7.5 % of the writer's time).
    let mut staff: Option<(i64, Staff)> = None;
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
        let mut sqlite = false;
        let replies = match pool.get() {
            // A panic while filing (a bug) fails this group only: nothing of it is
            // acknowledged, its connection (still inside the transaction) is discarded
            // by the pool and so rolled back, and the writer goes on with the next group.
            Ok(mut conn) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                sqlite = db::is_sqlite(&conn);
                file_group(
                    &mut conn,
                    store.as_ref(),
                    &rules,
                    &jobs,
                    wal.is_some(),
                    &mut staff,
                )
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
        if let Some(wal) = wal.as_ref().filter(|_| sqlite) {
            // Full: a checkpoint is already asked for.
            let _ = wal.try_send(());
        }
    }
}

/// Checkpoints the WAL after groups commit (`db::wal`), on pooled connections.
fn checkpointer(pool: Pool, rx: Receiver<()>) {
    db::wal::run_checkpointer(rx, || {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        db::wal::checkpoint(&mut conn).map_err(|e| e.to_string())
    });
}

/// The same error for every job of a group.
fn fail(jobs: &[Job], e: &dyn std::fmt::Display) -> Vec<Reply> {
    jobs.iter()
        .map(|_| Err(GroupError::Db(e.to_string())))
        .collect()
}

/// Files every job in one transaction, each in a savepoint; commits once.
fn file_group(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    rules: &Rules,
    jobs: &[Job],
    checkpointer: bool,
    cache: &mut Option<(i64, Staff)>,
) -> Vec<Reply> {
    // The counter first: a change committed between the two reads leaves the kept
    // directory with the older number, and the next group reads it again.
    let loaded =
        crate::auth::users::directory_version(conn).and_then(|version| match cache.take() {
            Some((v, s)) if v == version => Ok((v, s)),
            _ => Staff::load(conn).map(|s| (version, s)),
        });
    let (version, staff) = match loaded {
        Ok(l) => l,
        Err(e) => return fail(jobs, &e),
    };
    // Each group's commit reaches the disk before anyone is answered (SQLite's WAL
    // default, NORMAL, survives a crash of the process but not of the machine); one
    // fsync per group, not per message. The pooled connection gets NORMAL back after,
    // and SQLite's own checkpoint threshold.
    if let Err(e) = writer_settings(conn, true, checkpointer) {
        // Whatever of it took effect is undone: the connection goes back to the pool.
        let _ = writer_settings(conn, false, checkpointer);
        return fail(jobs, &e);
    }
    let replies = file_in_batch(conn, store, rules, &staff, jobs);
    if let Err(e) = writer_settings(conn, false, checkpointer) {
        tracing::warn!(error = %e, "synchronous=NORMAL not restored on a pooled connection");
    }
    *cache = Some((version, staff));
    replies
}

/// On SQLite, for the group (`on`) or back to the pool's defaults: `synchronous` FULL,
/// and with a checkpointer beside it, the writer's own checkpoint only at
/// `db::wal::WRITER_AUTOCHECKPOINT` WAL pages.
fn writer_settings(conn: &mut DbConn, on: bool, checkpointer: bool) -> diesel::QueryResult<()> {
    use diesel::connection::SimpleConnection;
    if !db::is_sqlite(conn) {
        return Ok(());
    }
    // Both, even when the first fails (restoring a pooled connection).
    let sync = conn.batch_execute(if on {
        "PRAGMA synchronous=FULL;"
    } else {
        "PRAGMA synchronous=NORMAL;"
    });
    let pages = db::wal::writer_autocheckpoint(conn, on && checkpointer);
    sync.and(pages)
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
        // A conflict with another server's writer (PostgreSQL: `db::is_conflict`) rolls
        // back this delivery's savepoint only; filed again, it reads what the other
        // committed meanwhile.
        let mut attempt = 0;
        let r = loop {
            attempt += 1;
            let r = conn.transaction::<_, IngestError, _>(|c| {
                ingest_prepared(c, store, rules, staff, &job.raw, &job.source, &job.prepared)
            });
            match &r {
                Err(IngestError::Db(e))
                    if attempt < 4 && db::is_conflict(e) && db::in_transaction(conn) =>
                {
                    tracing::info!(attempt, source = %job.source, "delivery conflicted with a concurrent transaction; filing it again");
                }
                _ => break r,
            }
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::prelude::*;

    #[derive(QueryableByName)]
    struct Pages {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    fn message(i: usize) -> Vec<u8> {
        // About 24 KiB of text: the deliveries below write thousands of WAL pages.
        let body = format!("Line {i} of a long log excerpt, 0x8007232B.\r\n").repeat(500);
        format!(
            "From: user{i}@customer.example\r\nTo: support@cmgos.example\r\n\
             Subject: Printer {i} not reachable\r\nMessage-ID: <wal-{i}@customer.example>\r\n\
             Date: Tue, 02 Jul 2024 09:00:00 +0800\r\n\r\n{body}"
        )
        .into_bytes()
    }

    /// Live deliveries leave the WAL to the checkpointer, and shortly after the last
    /// group everything is copied into the database file. SQLite's own checkpoint (in
    /// the writer's commit, every 1,000 pages) leaves the pages written after its last
    /// run in the WAL until the next one. Nothing here checkpoints by itself: the
    /// database file's size tells what was copied.
    #[test]
    fn the_checkpointer_copies_the_wal_behind_the_writer() {
        let dir = tempfile::tempdir().expect("dir");
        let settings = crate::config::Settings::for_data_dir(dir.path().to_path_buf());
        let pool = db::connect_and_migrate(&settings.database_url, 4).expect("db");
        let store: Arc<dyn BlobStore + Send + Sync> =
            Arc::new(crate::storage::DirStore::new(settings.blob_dir()).expect("store"));
        let rules = Arc::new(Rules::from_settings(&settings).expect("rules"));
        let group = GroupCommit::start(pool.clone(), store, rules);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        for i in 0..240 {
            let r = rt.block_on(group.deliver(message(i), "test"));
            assert!(r.is_ok(), "delivery {i}: {r:?}");
        }
        let mut conn = pool.get().expect("conn");
        let n: i64 = crate::db::schema::messages::table
            .count()
            .get_result(&mut conn)
            .expect("count");
        assert_eq!(n, 240);
        let pages = |c: &mut DbConn| -> i64 {
            diesel::sql_query(
                "SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()",
            )
            .get_result::<Pages>(c)
            .expect("pages")
            .n
        };
        let size = || {
            std::fs::metadata(&settings.database_url)
                .expect("file")
                .len() as i64
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while size() != pages(&mut conn) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(pages(&mut conn) > 4_000_000, "{} bytes", pages(&mut conn));
        assert_eq!(
            size(),
            pages(&mut conn),
            "the database file holds every page"
        );
    }
}
