//! SQLite's WAL copied back into the database (checkpointed) by a thread beside the
//! writer. SQLite's default runs the checkpoint inside the commit that crosses 1,000 WAL
//! pages, with its own fsyncs: the writer stops for it, and on a large database
//! (random pages all over a file of gigabytes) that is a good part of its time. The
//! writer keeps a checkpoint of its own at `WRITER_AUTOCHECKPOINT` pages, which bounds
//! the WAL should the checkpointer never catch up (the WAL starts over only at a write
//! that finds it all copied).

use super::DbConn;
use diesel::connection::SimpleConnection;
use std::sync::mpsc::Receiver;

/// WAL pages after which the writer's own commit checkpoints (16,384 pages of 4 KiB are
/// 64 MiB); normally the checkpointer has done it long before.
pub const WRITER_AUTOCHECKPOINT: u32 = 16_384;
/// SQLite's default, which other connections keep.
pub const DEFAULT_AUTOCHECKPOINT: u32 = 1_000;
/// The checkpointer runs at most this often while the writer keeps committing.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// The checkpoint threshold of the writer's connection: `WRITER_AUTOCHECKPOINT` while a
/// checkpointer works beside it (`on`), else SQLite's default. Nothing on PostgreSQL.
pub fn writer_autocheckpoint(conn: &mut DbConn, on: bool) -> diesel::QueryResult<()> {
    if !super::is_sqlite(conn) {
        return Ok(());
    }
    let pages = if on {
        WRITER_AUTOCHECKPOINT
    } else {
        DEFAULT_AUTOCHECKPOINT
    };
    conn.batch_execute(&format!("PRAGMA wal_autocheckpoint={pages};"))
}

/// Copies what it can of the WAL into the database (`PASSIVE`: it never waits for the
/// writer or for readers). Nothing on PostgreSQL.
pub fn checkpoint(conn: &mut DbConn) -> diesel::QueryResult<()> {
    if !super::is_sqlite(conn) {
        return Ok(());
    }
    conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);")
}

/// The checkpointer's loop: one `checkpoint` per signal on `rx` (the writer sends one
/// after each commit), at most every `CHECKPOINT_EVERY`; ends when the writer drops its
/// sender.
pub fn run_checkpointer(rx: Receiver<()>, mut checkpoint: impl FnMut() -> Result<(), String>) {
    while rx.recv().is_ok() {
        if let Err(e) = checkpoint() {
            tracing::warn!(error = %e, "WAL checkpoint failed; the writer will do it");
        }
        std::thread::sleep(CHECKPOINT_EVERY);
    }
}
