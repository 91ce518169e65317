//! SQLite: indexes newly arrived messages for search every two seconds, so a message
//! is found by search within a pass of arriving (searches do not index anything
//! themselves: they stay within their time budget). PostgreSQL indexes in the
//! database itself.

use super::blocking;
use crate::db::Pool;
use std::time::Duration;

/// Messages indexed per pass.
const BATCH: i64 = 20_000;
const PAUSE: Duration = Duration::from_secs(2);
const BETWEEN_BATCHES: Duration = Duration::from_millis(150);
/// Documents indexed in one backlog (an upgraded database, an import through the web)
/// after which the indexes are compacted once the indexer is idle (see
/// `search::compact_step`); live mail alone is left to FTS5's own merging, which
/// would otherwise rewrite a large index for every few small batches.
const COMPACT_AFTER: usize = 100_000;

/// Starts the indexer (nothing to do on PostgreSQL).
pub fn spawn(pool: Pool, database_url: &str) {
    if crate::db::is_postgres_url(database_url) {
        return;
    }
    tokio::spawn(async move {
        // Documents indexed since the indexes were last compacted.
        let mut backlog = 0usize;
        loop {
            let p = pool.clone();
            let indexed = blocking("search indexing failed", move || {
                let mut c = p.get()?;
                Ok(crate::search::catch_up(&mut c, BATCH)?)
            })
            .await;
            if indexed == Some(0) && backlog >= COMPACT_AFTER {
                // Idle after a large backlog: merge the indexes' segments, a bounded
                // step at a time with the same gaps as indexing batches.
                let mut state = crate::search::Compaction::default();
                let started = std::time::Instant::now();
                loop {
                    let pool = pool.clone();
                    let step = blocking("search index compaction failed", move || {
                        let mut c = pool.get()?;
                        let worked = crate::search::compact_step(&mut c, &mut state)?;
                        Ok((worked, state))
                    })
                    .await;
                    match step {
                        Some((true, s)) => {
                            state = s;
                            tokio::time::sleep(BETWEEN_BATCHES).await;
                        }
                        _ => break,
                    }
                }
                tracing::info!(
                    ms = started.elapsed().as_millis() as u64,
                    "search indexes compacted"
                );
                backlog = 0;
            }
            if let Some(n) = indexed.filter(|n| *n > 0) {
                backlog += n;
                tracing::debug!(indexed = n, "search index caught up");
                // Catching up on a backlog (an import, an upgraded database), each batch
                // holds the write lock for ~0.1 s: a gap longer than SQLite's busy
                // handler polls (100 ms) lets waiting deliveries in between batches
                // (back to back, they waited up to 8 s at 1,000,000 messages).
                tokio::time::sleep(BETWEEN_BATCHES).await;
                continue;
            }
            tokio::time::sleep(PAUSE).await;
        }
    });
}
