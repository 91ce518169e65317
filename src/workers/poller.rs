//! The IMAP poller beside the server: claims due mailboxes every second and polls
//! each on its own blocking thread, so a slow or hanging server delays no other.

use super::blocking;
use crate::auth::Keys;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Pool;
use crate::mail::Rules;
use crate::mailboxes::{claim, poll_claimed_idle, worker_id, Ctx, IDLE_RENEW};
use crate::storage::BlobStore;
use std::sync::Arc;
use std::time::Duration;

const PAUSE: Duration = Duration::from_secs(1);

/// What the poller needs besides the pool.
#[derive(Clone)]
pub struct PollerSettings {
    pub store: Arc<dyn BlobStore>,
    pub rules: Arc<Rules>,
    pub keys: Keys,
    /// Connect, read and write timeout for IMAP servers.
    pub timeout: Duration,
    pub clock: Arc<dyn Clock>,
}

impl PollerSettings {
    pub fn new(
        s: &Settings,
        store: Arc<dyn BlobStore>,
        rules: Arc<Rules>,
        keys: Keys,
        clock: Arc<dyn Clock>,
    ) -> Self {
        PollerSettings {
            store,
            rules,
            keys,
            timeout: s.imap_timeout(),
            clock,
        }
    }
}

/// Starts the poller.
pub fn spawn(pool: Pool, settings: PollerSettings) {
    let worker = worker_id("serve");
    tokio::spawn(async move {
        tracing::info!("mailbox poller started");
        loop {
            let (p, w, clock) = (pool.clone(), worker.clone(), settings.clock.clone());
            let claimed = blocking("mailbox poller: cannot claim", move || {
                let mut c = p.get()?;
                Ok(claim(&mut c, &w, clock.now(), true, None)?.claimed)
            })
            .await;
            for row in claimed.unwrap_or_default() {
                let (pool, st) = (pool.clone(), settings.clone());
                // The poll records its own result (and failure) on the mailbox.
                tokio::spawn(blocking("mailbox poll failed", move || {
                    let ctx = Ctx {
                        pool: &pool,
                        store: st.store.as_ref(),
                        rules: &st.rules,
                        keys: &st.keys,
                        timeout: st.timeout,
                        clock: st.clock.as_ref(),
                    };
                    let _ = poll_claimed_idle(&ctx, &row, &mut |_| {}, Some(IDLE_RENEW));
                    Ok(())
                }));
            }
            tokio::time::sleep(PAUSE).await;
        }
    });
}
