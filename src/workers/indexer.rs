//! SQLite: brings the search index (`search::index`) up to date every two seconds:
//! new messages, changed documents, or a whole new index batch by batch. Searches find
//! what it has not reached yet in the database, so results are complete meanwhile;
//! the indexer only reads the database (its one write drops the changes applied).
//! PostgreSQL indexes in the database itself.

use super::blocking;
use crate::db::Pool;
use std::time::Duration;

/// Messages (and changed documents) indexed per batch.
const BATCH: i64 = 20_000;
const PAUSE: Duration = Duration::from_secs(2);
/// Documents indexed in one backlog after which the index is merged into one segment
/// once the indexer is idle (see `search::compact`).
const COMPACT_AFTER: usize = 100_000;
/// Between the batches of a backlog (an import through the web, a new index).
const BETWEEN_BATCHES: Duration = Duration::from_millis(50);

/// Starts the indexer (nothing to do on PostgreSQL).
pub fn spawn(pool: Pool, database_url: &str) {
    if crate::db::is_postgres_url(database_url) {
        return;
    }
    tokio::spawn(async move {
        // Documents indexed since the index was last compacted.
        let mut backlog = 0usize;
        loop {
            let p = pool.clone();
            let indexed = blocking("search indexing failed", move || {
                let mut c = p.get()?;
                Ok(crate::search::catch_up(&mut c, BATCH)?)
            })
            .await;
            if indexed == Some(0) && backlog >= COMPACT_AFTER {
                // Idle after a large backlog (a new index, an import through the web):
                // one segment for the searches (tantivy merges in its own threads).
                backlog = 0;
                let p = pool.clone();
                let started = std::time::Instant::now();
                let done = blocking("search index compaction failed", move || {
                    let mut c = p.get()?;
                    Ok(crate::search::compact(&mut c)?)
                })
                .await;
                if done.is_some() {
                    tracing::info!(
                        ms = started.elapsed().as_millis() as u64,
                        "search index compacted"
                    );
                }
            }
            if let Some(n) = indexed.filter(|n| *n > 0) {
                backlog += n;
                tracing::debug!(indexed = n, "search index caught up");
                tokio::time::sleep(BETWEEN_BATCHES).await;
                continue;
            }
            tokio::time::sleep(PAUSE).await;
        }
    });
}
