//! The weekly report mail: every few minutes, saved report views that are due (see
//! `reports::views`) are built and queued in the outbox.

use super::blocking;
use crate::config::Settings;
use crate::db::Pool;
use std::time::Duration;

/// How often due views are looked for.
pub const INTERVAL: Duration = Duration::from_secs(300);

/// Starts the weekly report mailer.
pub fn spawn(pool: Pool, settings: Settings) {
    tokio::spawn(async move {
        loop {
            let (p, s) = (pool.clone(), settings.clone());
            if let Some(n) = blocking("weekly reports: cannot send", move || {
                let mut c = p.get()?;
                Ok(crate::reports::views::send_due(&mut c, &s, crate::now())?)
            })
            .await
            {
                if n > 0 {
                    tracing::info!(queued = n, "weekly report mail queued");
                }
            }
            tokio::time::sleep(INTERVAL).await;
        }
    });
}
