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

/// Starts the indexer (nothing to do on PostgreSQL).
pub fn spawn(pool: Pool, database_url: &str) {
    if crate::db::is_postgres_url(database_url) {
        return;
    }
    tokio::spawn(async move {
        loop {
            let pool = pool.clone();
            let indexed = blocking("search indexing failed", move || {
                let mut c = pool.get()?;
                Ok(crate::search::catch_up(&mut c, BATCH)?)
            })
            .await;
            if let Some(n) = indexed.filter(|n| *n > 0) {
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
