//! The outbox sender: claims due mail, sends it, records the result; while SMTP is
//! down each mail waits longer (see `mail::outbox::backoff`).

use super::blocking;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Pool;
use crate::mail::outbound::{OutboundError, Transport};
use crate::mail::outbox::{claim, mark_failed_attempt, mark_sent, OutboxRow};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Mails claimed per pass.
const BATCH: i64 = 20;

/// What the sender needs.
pub struct OutboxSettings {
    pub transport: Transport,
    /// For the log: where mail goes, without credentials.
    pub describe: String,
    /// The pause when nothing was sent, and the base of the retry backoff.
    pub interval: Duration,
    pub clock: Arc<dyn Clock>,
}

impl OutboxSettings {
    /// Fails when the mail transport cannot be set up.
    pub fn from_settings(s: &Settings, clock: Arc<dyn Clock>) -> Result<Self, OutboundError> {
        Ok(OutboxSettings {
            transport: Transport::from_settings(s)?,
            describe: Transport::describe(s),
            interval: Duration::from_secs(s.outbox_interval_secs),
            clock,
        })
    }
}

/// A worker id for outbox claims: `PID-RANDOM`.
pub fn worker_id() -> String {
    format!("{}-{}", std::process::id(), crate::auth::random_hex(4))
}

/// One pass: claim what is due, send it, record the result. Returns mails sent.
pub async fn run_once(pool: &Pool, settings: &OutboxSettings, worker: &str) -> usize {
    let (p, w, clock) = (pool.clone(), worker.to_string(), settings.clock.clone());
    let Some(rows) = blocking("outbox: cannot claim", move || {
        let mut c = p.get()?;
        Ok(claim(&mut c, &w, clock.now(), BATCH)?)
    })
    .await
    else {
        return 0;
    };
    let base = settings.interval.as_secs() as i64;
    let mut sent = 0;
    for row in rows {
        let span = tracing::info_span!("outbox.send", id = row.id, kind = %row.kind);
        if send_one(pool, settings, row, base).instrument(span).await {
            sent += 1;
        }
    }
    sent
}

/// Sends one claimed mail and records the result; true when it went out.
async fn send_one(pool: &Pool, settings: &OutboxSettings, row: OutboxRow, base: i64) -> bool {
    let to: Vec<String> = row
        .envelope_to
        .split(", ")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let result = settings
        .transport
        .send_raw(&row.envelope_from, &to, row.raw.as_bytes())
        .await;
    let err = match &result {
        Ok(()) => {
            tracing::info!("sent");
            None
        }
        Err(e) => {
            tracing::warn!(error = %super::cause_chain(e), attempt = row.attempts + 1,
                "send failed; will retry");
            Some(e.to_string())
        }
    };
    let (p, clock) = (pool.clone(), settings.clock.clone());
    blocking("outbox: cannot record the result", move || {
        let mut c = p.get()?;
        let now = clock.now();
        match err {
            None => mark_sent(&mut c, row.id, now)?,
            Some(e) => mark_failed_attempt(&mut c, &row, &e, now, base)?,
        }
        Ok(())
    })
    .await;
    result.is_ok()
}

/// Starts the sender: a pass, then a pause when there was nothing to send.
pub fn spawn(pool: Pool, settings: OutboxSettings) {
    let worker = worker_id();
    tokio::spawn(async move {
        tracing::info!(transport = %settings.describe, "outbox worker started");
        loop {
            let sent = run_once(&pool, &settings, &worker).await;
            if sent == 0 {
                tokio::time::sleep(settings.interval).await;
            }
        }
    });
}
