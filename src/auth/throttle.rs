//! Login throttling, kept in the database so that several servers count together.
//!
//! Two counters per attempt: one per (account, client address) and one per client
//! address. An account is never locked for everyone: wrong passwords from one
//! address do not stop the right password from another.
//!
//! Counting is atomic: an attempt reserves a slot (a conditional increment, a single
//! statement on either engine) *before* the password is checked, and the login is
//! refused without checking when no slot is left. So however many attempts arrive in
//! parallel, at most the limit of them reach the password check per window. A right
//! password gives its slots back.

use crate::config::IpRange;
use crate::db::schema::login_attempts::dsl as la;
use crate::db::DbConn;
use crate::db::Direct;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use std::net::IpAddr;

pub const WINDOW_MINUTES: i64 = 15;
/// Wrong passwords for one account from one client address per window.
pub const MAX_PER_ACCOUNT: i64 = 5;
/// Wrong passwords from one client address per window, all accounts together.
pub const MAX_PER_ADDRESS: i64 = 30;

/// The counter of one account from one client.
pub fn account_key(email: &str, client: &str) -> String {
    format!("acct:{}|{client}", email.trim().to_lowercase())
}

/// The counter of one client.
pub fn address_key(client: &str) -> String {
    format!("ip:{client}")
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the
/// right-most address of `X-Forwarded-For` that is not itself a trusted proxy
/// (what the left part says was written by the client and proves nothing).
/// `forwarded_for` holds the header's values in the order they arrived.
pub fn client_address(peer: Option<IpAddr>, forwarded_for: &[&str], trusted: &[IpRange]) -> String {
    let Some(peer) = peer else {
        return "unknown".into();
    };
    let is_trusted = |ip: IpAddr| trusted.iter().any(|r| r.contains(ip));
    if !is_trusted(peer) {
        return counted_as(peer);
    }
    let mut client = peer;
    for item in forwarded_for
        .iter()
        .flat_map(|v| v.split(','))
        .rev()
        .map(str::trim)
    {
        let Some(ip) = parse_forwarded_ip(item) else {
            // Not written by our proxy: stop at the last address we can vouch for.
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    counted_as(client)
}

/// How a client address is counted: IPv4 as itself, IPv6 by its /64 (one host
/// usually holds a whole /64 and could otherwise take a fresh address per attempt).
fn counted_as(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let net = std::net::Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64));
                format!("{net}/64")
            }
        },
        v4 => v4.to_string(),
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`.
fn parse_forwarded_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    None
}

/// The outcome of asking for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The attempt is counted; go on and check the password.
    Granted,
    /// Too many attempts: refuse without checking the password.
    Throttled,
}

/// Takes one slot of `key` if fewer than `max` are taken in the current window.
/// Each step is one statement, atomic on SQLite and PostgreSQL alike (a concurrent
/// writer of the same row is waited for and the condition evaluated again).
fn take(conn: &mut DbConn, key: &str, max: i64, now: NaiveDateTime) -> QueryResult<bool> {
    let cutoff = now - Duration::minutes(WINDOW_MINUTES);
    for _ in 0..3 {
        // A live window with room.
        let n = diesel::update(
            la::login_attempts
                .filter(la::key.eq(key))
                .filter(la::window_start.gt(cutoff))
                .filter(la::failures.lt(max)),
        )
        .set(la::failures.eq(la::failures + 1i64))
        .exec(conn)?;
        if n > 0 {
            return Ok(true);
        }
        // An expired window starts again.
        let n = diesel::update(
            la::login_attempts
                .filter(la::key.eq(key))
                .filter(la::window_start.le(cutoff)),
        )
        .set((la::failures.eq(1i64), la::window_start.eq(now)))
        .exec(conn)?;
        if n > 0 {
            return Ok(true);
        }
        // No row yet: the first attempt. Someone else may insert it first; then the
        // loop takes a slot in their row.
        let row = (
            la::key.eq(key),
            la::failures.eq(1i64),
            la::window_start.eq(now),
        );
        let n = match conn {
            DbConn::Sqlite(c) => diesel::insert_or_ignore_into(la::login_attempts)
                .values(row)
                .execute(c)?,
            DbConn::Pg(c) => diesel::insert_into(la::login_attempts)
                .values(row)
                .on_conflict_do_nothing()
                .execute(c)?,
        };
        if n > 0 {
            return Ok(true);
        }
        let exists: i64 = la::login_attempts
            .filter(la::key.eq(key))
            .count()
            .row(conn)?;
        if exists > 0 {
            // The row is there, live and full (or filled meanwhile): one last look.
            let n = diesel::update(
                la::login_attempts
                    .filter(la::key.eq(key))
                    .filter(la::window_start.gt(cutoff))
                    .filter(la::failures.lt(max)),
            )
            .set(la::failures.eq(la::failures + 1i64))
            .exec(conn)?;
            return Ok(n > 0);
        }
    }
    Ok(false)
}

/// Gives one slot of `key` back.
fn give_back(conn: &mut DbConn, key: &str) -> QueryResult<()> {
    diesel::update(
        la::login_attempts
            .filter(la::key.eq(key))
            .filter(la::failures.gt(0i64)),
    )
    .set(la::failures.eq(la::failures - 1i64))
    .exec(conn)?;
    Ok(())
}

/// Counts a login attempt before its password is checked. A refused attempt takes
/// no slot.
pub fn reserve(
    conn: &mut DbConn,
    email: &str,
    client: &str,
    now: NaiveDateTime,
) -> QueryResult<Slot> {
    let addr = address_key(client);
    if !take(conn, &addr, MAX_PER_ADDRESS, now)? {
        return Ok(Slot::Throttled);
    }
    if !take(conn, &account_key(email, client), MAX_PER_ACCOUNT, now)? {
        give_back(conn, &addr)?;
        return Ok(Slot::Throttled);
    }
    Ok(Slot::Granted)
}

/// The password was right: the attempt does not count, and this client's count for
/// the account starts again. Expired windows are swept on the way.
pub fn succeeded(
    conn: &mut DbConn,
    email: &str,
    client: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    give_back(conn, &address_key(client))?;
    diesel::delete(la::login_attempts.filter(la::key.eq(account_key(email, client)))).exec(conn)?;
    diesel::delete(
        la::login_attempts.filter(la::window_start.lt(now - Duration::minutes(WINDOW_MINUTES))),
    )
    .exec(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(s: &[&str]) -> Vec<IpRange> {
        IpRange::parse_list(s).expect("ranges")
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("ip"))
    }

    #[test]
    fn forwarded_for_only_from_a_trusted_peer() {
        let none: Vec<IpRange> = Vec::new();
        assert_eq!(
            client_address(ip("127.0.0.1"), &["9.9.9.9"], &none),
            "127.0.0.1"
        );
        let t = ranges(&["127.0.0.1", "10.0.0.0/8"]);
        assert_eq!(
            client_address(ip("203.0.113.5"), &["9.9.9.9"], &t),
            "203.0.113.5",
            "an untrusted peer's header is ignored"
        );
        assert_eq!(client_address(ip("127.0.0.1"), &["9.9.9.9"], &t), "9.9.9.9");
        // The client writes whatever it likes on the left; the right-most untrusted wins.
        assert_eq!(
            client_address(ip("127.0.0.1"), &["1.1.1.1, 8.8.8.8, 10.0.0.7"], &t),
            "8.8.8.8"
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &["1.1.1.1", "8.8.8.8:4711"], &t),
            "8.8.8.8"
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &["[2001:db8::1]:443"], &t),
            "2001:db8::/64"
        );
        assert_eq!(
            client_address(ip("2001:db8::1:2:3:4"), &[], &t),
            client_address(ip("2001:db8::9"), &[], &t),
            "one /64 is one client"
        );
        assert_eq!(client_address(ip("::ffff:192.0.2.1"), &[], &t), "192.0.2.1");
        // Garbage: stop at the last address we can vouch for.
        assert_eq!(
            client_address(ip("127.0.0.1"), &["8.8.8.8, nonsense"], &t),
            "127.0.0.1"
        );
        assert_eq!(client_address(ip("127.0.0.1"), &[], &t), "127.0.0.1");
        // All trusted: the left-most.
        assert_eq!(
            client_address(ip("127.0.0.1"), &["10.0.0.1, 10.0.0.2"], &t),
            "10.0.0.1"
        );
        assert_eq!(client_address(None, &["8.8.8.8"], &t), "unknown");
    }

    #[test]
    fn keys_are_per_account_and_client() {
        assert_ne!(account_key("a@x", "1.1.1.1"), account_key("a@x", "2.2.2.2"));
        assert_eq!(
            account_key(" A@X ", "1.1.1.1"),
            account_key("a@x", "1.1.1.1")
        );
    }
}
