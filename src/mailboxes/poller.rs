//! Polling one claimed mailbox: fetch what is new (renewing the claim meanwhile),
//! record how far the folder was read, and the result with its backoff.

use super::{client, renew, Holder, MailboxError, MailboxRow, HEARTBEAT_SECONDS};
use crate::clock::Clock;
use crate::db::schema::mailboxes;
use crate::db::DbConn;
use crate::db::Direct;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Backoff after `failures` failed polls: poll interval ×2 each, capped at one hour.
pub fn backoff(poll_seconds: i64, failures: i64) -> Duration {
    let secs = poll_seconds
        .max(1)
        .saturating_mul(1i64 << failures.clamp(0, 12));
    Duration::seconds(secs.min(3600))
}

/// Records the result of a poll and releases the claim; does nothing when the claim
/// was lost meanwhile (the new holder records its own result). Returns whether it
/// was recorded.
pub fn finish(
    conn: &mut DbConn,
    row: &MailboxRow,
    result: Result<(), &str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let release = (
        mailboxes::claimed_by.eq(None::<String>),
        mailboxes::claimed_at.eq(None::<NaiveDateTime>),
    );
    let mut target = diesel::update(mailboxes::table)
        .filter(mailboxes::id.eq(row.id))
        .into_boxed();
    if let Some(w) = row.claimed_by.as_deref() {
        target = target.filter(mailboxes::claimed_by.eq(w.to_string()));
    }
    let n = match result {
        Ok(()) => target
            .set((
                mailboxes::last_error.eq(None::<String>),
                mailboxes::last_ok_at.eq(Some(now)),
                mailboxes::failures.eq(0i64),
                mailboxes::next_attempt_at.eq(now + Duration::seconds(row.poll_seconds.max(1))),
                release,
            ))
            .execute(conn)?,
        Err(e) => {
            let failures = row.failures + 1;
            target
                .set((
                    mailboxes::last_error.eq(Some(e.chars().take(500).collect::<String>())),
                    mailboxes::failures.eq(failures),
                    mailboxes::next_attempt_at.eq(now + backoff(row.poll_seconds, failures)),
                    release,
                ))
                .execute(conn)?
        }
    };
    Ok(n == 1)
}

/// Records how far the folder has been read, only while the claim is still ours.
pub(crate) fn set_position(
    conn: &mut DbConn,
    row: &MailboxRow,
    uidvalidity: Option<i64>,
    last_uid: i64,
) -> Result<(), MailboxError> {
    let mut target = diesel::update(mailboxes::table)
        .filter(mailboxes::id.eq(row.id))
        .into_boxed();
    if let Some(w) = row.claimed_by.as_deref() {
        target = target.filter(mailboxes::claimed_by.eq(w.to_string()));
    }
    let n = target
        .set((
            mailboxes::uidvalidity.eq(uidvalidity),
            mailboxes::last_uid.eq(last_uid),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(lost(conn, row));
    }
    Ok(())
}

/// The error for a claim that is no longer ours, naming the new holder.
pub(crate) fn lost(conn: &mut DbConn, row: &MailboxRow) -> MailboxError {
    let by: Option<String> = mailboxes::table
        .find(row.id)
        .select(mailboxes::claimed_by)
        .first_row(conn)
        .optional()
        .ok()
        .flatten()
        .flatten();
    MailboxError::ClaimLost(
        row.name.clone(),
        by.map(|b| Holder::parse(&b).to_string())
            .unwrap_or_else(|| "nobody (the claim was released)".into()),
    )
}

/// What fetching needs besides the mailbox.
pub struct Ctx<'a> {
    pub pool: &'a crate::db::Pool,
    pub store: &'a dyn crate::storage::BlobStore,
    pub rules: &'a crate::mail::Rules,
    pub keys: &'a crate::auth::Keys,
    /// Connect, read and write timeout for the IMAP server.
    pub timeout: std::time::Duration,
    /// When claims are renewed and results recorded.
    pub clock: &'a dyn Clock,
}

/// Renews the claim every [`HEARTBEAT_SECONDS`] until `stop` is dropped; sets
/// `lost` when another poller holds it now.
fn heartbeat(
    pool: &crate::db::Pool,
    clock: &dyn Clock,
    row: &MailboxRow,
    lost: &AtomicBool,
    stop: std::sync::mpsc::Receiver<()>,
) {
    let Some(worker) = row.claimed_by.as_deref() else {
        return;
    };
    let every = std::time::Duration::from_secs(HEARTBEAT_SECONDS);
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
        let renewed = pool.get().map_err(|e| e.to_string()).and_then(|mut c| {
            renew(&mut c, row.id, worker, clock.now()).map_err(|e| e.to_string())
        });
        match renewed {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("mailbox claim lost to another poller; stopping this poll");
                lost.store(true, Ordering::SeqCst);
                return;
            }
            // Tried again at the next beat; the lease outlasts a few misses.
            Err(e) => tracing::warn!(error = %e, "cannot renew the mailbox claim"),
        }
    }
}

/// Polls one claimed mailbox (renewing the claim meanwhile) and records its health;
/// errors stay with the mailbox.
pub fn poll_claimed(
    ctx: &Ctx<'_>,
    row: &MailboxRow,
    sink: &mut dyn FnMut(&crate::mail::Outcome),
) -> Result<usize, MailboxError> {
    poll_claimed_idle(ctx, row, sink, None)
}

/// How long one connection waits in IDLE before it is renewed (servers may drop an
/// idle client after 30 minutes; RFC 2177 asks for less than 29).
pub const IDLE_RENEW: std::time::Duration = std::time::Duration::from_secs(25 * 60);

/// As `poll_claimed`; with `idle`, a server that offers IDLE is then waited on for new
/// mail (up to `idle`), and the mailbox is due again at once so that the next
/// connection waits in its turn; polling every `poll_seconds` stays the fallback.
pub fn poll_claimed_idle(
    ctx: &Ctx<'_>,
    row: &MailboxRow,
    sink: &mut dyn FnMut(&crate::mail::Outcome),
    idle: Option<std::time::Duration>,
) -> Result<usize, MailboxError> {
    let span = tracing::info_span!("mailbox.poll", mailbox = %row.name, host = %row.host);
    let _g = span.enter();
    let lost = AtomicBool::new(false);
    let res = std::thread::scope(|scope| {
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let (pool, clock, lost_ref) = (ctx.pool, ctx.clock, &lost);
        let beat_span = span.clone();
        scope.spawn(move || {
            let _g = beat_span.enter();
            heartbeat(pool, clock, row, lost_ref, stop_rx)
        });
        let res = client::fetch_and_idle(ctx, row, &lost, sink, idle);
        drop(stop_tx);
        res
    });
    let idled = matches!(res, Ok((_, true)));
    let res = res.map(|(n, _)| n);
    let now = ctx.clock.now();
    let mut conn = ctx
        .pool
        .get()
        .map_err(|e| MailboxError::Pool(e.to_string()))?;
    let recorded = match &res {
        Ok(n) => {
            if *n > 0 {
                tracing::info!(messages = n, "mailbox fetched");
            }
            let recorded = finish(&mut conn, row, Ok(()), now)?;
            if recorded && idled {
                // Waited in IDLE: due again now, to wait on a fresh connection.
                diesel::update(mailboxes::table.find(row.id))
                    .set(mailboxes::next_attempt_at.eq(now))
                    .execute(&mut conn)?;
            }
            recorded
        }
        Err(e) => {
            tracing::warn!(error = %e, "mailbox poll failed; will retry with backoff");
            finish(&mut conn, row, Err(&e.to_string()), now)?
        }
    };
    if !recorded {
        tracing::warn!("mailbox claim was taken over meanwhile; result left to the new holder");
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(60, 1), Duration::seconds(120));
        assert_eq!(backoff(60, 3), Duration::seconds(480));
        assert_eq!(backoff(60, 40), Duration::seconds(3600));
    }
}
