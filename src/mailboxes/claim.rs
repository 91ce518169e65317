//! Claims: two pollers (the server's, `casebook fetch`) never read one mailbox at
//! once. A claim is a lease renewed by a heartbeat; a holder that died on this host
//! loses it at once.

use super::{MailboxRow, LEASE_SECONDS};
use crate::db::schema::mailboxes;
use crate::db::DbConn;
use crate::db::Direct;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

/// A claim holder: `KIND:HOST:PID:RANDOM`, e.g. `fetch:mail1:4711:9f3a0c1e`.
pub fn worker_id(kind: &str) -> String {
    format!(
        "{kind}:{}:{}:{}",
        this_host(),
        std::process::id(),
        crate::auth::random_hex(4)
    )
}

fn this_host() -> String {
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty() && !h.contains(':'))
        .unwrap_or_else(|| "unknown-host".into())
}

/// Who holds a claim, parsed from `claimed_by` (see [`worker_id`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub kind: String,
    pub host: String,
    pub pid: Option<u32>,
}

impl Holder {
    pub fn parse(claimed_by: &str) -> Holder {
        let mut parts = claimed_by.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(kind), Some(host), Some(pid), Some(_)) => Holder {
                kind: kind.to_string(),
                host: host.to_string(),
                pid: pid.parse().ok(),
            },
            // Written by an older version ("fetch-PID-RANDOM", "PID-RANDOM").
            _ => Holder {
                kind: claimed_by.to_string(),
                host: String::new(),
                pid: None,
            },
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind.as_str() {
            "fetch" => "casebook fetch",
            "serve" => "casebook serve",
            other => other,
        };
        match self.pid {
            Some(pid) => write!(f, "{kind} (pid {pid} on {})", self.host),
            None => write!(f, "{kind}"),
        }
    }
}

/// Is this process alive? None when it cannot be told (no `/proc`).
fn process_alive(pid: u32) -> Option<bool> {
    if !std::path::Path::new("/proc/self/stat").exists() {
        return None;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `PID (COMM) STATE …`; COMM may hold spaces and parentheses. A zombie is dead.
        Ok(stat) => Some(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_none_or(|state| state != "Z" && state != "X"),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(false),
        Err(_) => None,
    }
}

/// A claim whose holder ran on this host and is no longer alive.
fn holder_is_gone(claimed_by: &str) -> bool {
    let h = Holder::parse(claimed_by);
    match h.pid {
        Some(pid) if h.host == this_host() => {
            pid != std::process::id() && process_alive(pid) == Some(false)
        }
        _ => false,
    }
}

/// A mailbox that another live process is polling.
#[derive(Debug, Clone)]
pub struct Busy {
    pub name: String,
    pub holder: Holder,
    /// Seconds since the holder last renewed its claim.
    pub renewed_secs_ago: i64,
    /// Seconds until the claim lapses unless renewed.
    pub expires_in_secs: i64,
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "mailbox {} skipped: {} is polling it (claim renewed {} s ago, lapses in {} s unless renewed)",
            self.name, self.holder, self.renewed_secs_ago, self.expires_in_secs
        )
    }
}

/// What [`claim`] got: the mailboxes now ours, and those another process holds.
#[derive(Debug, Default)]
pub struct Claims {
    pub claimed: Vec<MailboxRow>,
    pub busy: Vec<Busy>,
}

/// Claims mailboxes for `worker` so two pollers never read one mailbox at once.
/// `due_only`: only those whose next attempt has come (the server); else any
/// enabled mailbox (`casebook fetch`). `only`: one id. A claim is free when it was
/// never taken, has not been renewed for [`LEASE_SECONDS`], or its holder ran on this
/// host and is gone (killed); each is taken by compare-and-set on the old claim, so
/// of two pollers racing for it exactly one wins.
pub fn claim(
    conn: &mut DbConn,
    worker: &str,
    now: NaiveDateTime,
    due_only: bool,
    only: Option<i64>,
) -> QueryResult<Claims> {
    let stale = now - Duration::seconds(LEASE_SECONDS);
    let mut q = mailboxes::table
        .filter(mailboxes::enabled.eq(true))
        .select((
            mailboxes::id,
            mailboxes::name,
            mailboxes::claimed_by,
            mailboxes::claimed_at,
        ))
        .into_boxed();
    if due_only {
        q = q.filter(mailboxes::next_attempt_at.le(now));
    }
    if let Some(id) = only {
        q = q.filter(mailboxes::id.eq(id));
    }
    let candidates: Vec<(i64, String, Option<String>, Option<NaiveDateTime>)> =
        q.order(mailboxes::id.asc()).load(conn)?;
    let mut ids = Vec::new();
    let mut out = Claims::default();
    for (id, name, by, at) in candidates {
        let free = match (&by, at) {
            (None, _) | (_, None) => true,
            (Some(_), Some(at)) if at < stale => true,
            (Some(b), Some(_)) => holder_is_gone(b),
        };
        if free {
            let mut upd = diesel::update(mailboxes::table)
                .filter(mailboxes::id.eq(id))
                .into_boxed();
            upd = match &by {
                Some(b) => upd.filter(mailboxes::claimed_by.eq(b.clone())),
                None => upd.filter(mailboxes::claimed_by.is_null()),
            };
            upd = match at {
                Some(t) => upd.filter(mailboxes::claimed_at.eq(t)),
                None => upd.filter(mailboxes::claimed_at.is_null()),
            };
            let n = upd
                .set((
                    mailboxes::claimed_by.eq(worker),
                    mailboxes::claimed_at.eq(now),
                ))
                .execute(conn)?;
            if n == 1 {
                if let Some(b) = by.as_deref() {
                    tracing::warn!(mailbox = %name, previous = %Holder::parse(b),
                        "took over the claim of a poller that is gone");
                }
                ids.push(id);
                continue;
            }
            // Someone else was quicker: read who holds it now.
            let (by2, at2): (Option<String>, Option<NaiveDateTime>) = mailboxes::table
                .find(id)
                .select((mailboxes::claimed_by, mailboxes::claimed_at))
                .first_row(conn)?;
            out.busy.push(busy(name, by2.as_deref(), at2, now));
        } else {
            out.busy.push(busy(name, by.as_deref(), at, now));
        }
    }
    out.claimed = mailboxes::table
        .filter(mailboxes::id.eq_any(&ids))
        .order(mailboxes::id.asc())
        .select(MailboxRow::as_select())
        .load(conn)?;
    Ok(out)
}

fn busy(name: String, by: Option<&str>, at: Option<NaiveDateTime>, now: NaiveDateTime) -> Busy {
    let at = at.unwrap_or(now);
    Busy {
        name,
        holder: Holder::parse(by.unwrap_or("another poller")),
        renewed_secs_ago: (now - at).num_seconds().max(0),
        expires_in_secs: (at + Duration::seconds(LEASE_SECONDS) - now)
            .num_seconds()
            .max(0),
    }
}

/// Renews `worker`'s claim on a mailbox (the heartbeat of a running poll). False when
/// the claim is no longer `worker`'s: it lapsed and another poller took it over.
pub fn renew(conn: &mut DbConn, id: i64, worker: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let n = diesel::update(
        mailboxes::table
            .filter(mailboxes::id.eq(id))
            .filter(mailboxes::claimed_by.eq(worker)),
    )
    .set(mailboxes::claimed_at.eq(now))
    .exec(conn)?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_holders_on_this_host_that_are_gone_lose_their_claim() {
        let me = worker_id("fetch");
        let h = Holder::parse(&me);
        assert_eq!(
            (h.kind.as_str(), h.pid),
            ("fetch", Some(std::process::id()))
        );
        assert_eq!(h.host, this_host());
        assert!(h.to_string().starts_with("casebook fetch (pid "), "{h}");
        assert!(!holder_is_gone(&me), "this process is alive");
        // A child that has exited and been reaped: its pid is free.
        let mut child = std::process::Command::new("true").spawn().expect("true");
        let pid = child.id();
        child.wait().expect("wait");
        let dead = format!("fetch:{}:{pid}:00000000", this_host());
        if process_alive(pid).is_some() {
            assert!(holder_is_gone(&dead), "{dead}");
        }
        // Elsewhere, or written by an older version: only the lease tells.
        assert!(!holder_is_gone(&format!(
            "fetch:elsewhere.example:{pid}:00000000"
        )));
        assert!(!holder_is_gone(&format!("fetch-{pid}-abcd")));
        assert_eq!(Holder::parse("fetch-1-abcd").pid, None);
    }
}
