//! Login throttling per account and per client address, kept in the database so
//! that several servers count together.

use crate::db::schema::login_attempts::dsl as la;
use crate::db::DbConn;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

pub const WINDOW_MINUTES: i64 = 15;
pub const MAX_PER_ACCOUNT: i64 = 5;
pub const MAX_PER_ADDRESS: i64 = 30;

pub fn account_key(email: &str) -> String {
    format!("acct:{}", email.trim().to_lowercase())
}

pub fn address_key(addr: &str) -> String {
    format!("ip:{addr}")
}

fn failures(conn: &mut DbConn, key: &str, now: NaiveDateTime) -> QueryResult<i64> {
    let row: Option<(NaiveDateTime, i64)> = la::login_attempts
        .filter(la::key.eq(key))
        .select((la::window_start, la::failures))
        .first(conn)
        .optional()?;
    Ok(match row {
        Some((start, n)) if now - start < Duration::minutes(WINDOW_MINUTES) => n,
        _ => 0,
    })
}

pub fn is_blocked(
    conn: &mut DbConn,
    email: &str,
    addr: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    Ok(failures(conn, &account_key(email), now)? >= MAX_PER_ACCOUNT
        || failures(conn, &address_key(addr), now)? >= MAX_PER_ADDRESS)
}

pub fn record_failure(
    conn: &mut DbConn,
    email: &str,
    addr: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    for key in [account_key(email), address_key(addr)] {
        crate::db::write_tx(conn, |c| {
            let current = failures(c, &key, now)?;
            let row: Option<NaiveDateTime> = la::login_attempts
                .filter(la::key.eq(&key))
                .select(la::window_start)
                .first(c)
                .optional()?;
            match row {
                Some(start) if current > 0 => {
                    diesel::update(la::login_attempts.filter(la::key.eq(&key)))
                        .set((la::failures.eq(current + 1), la::window_start.eq(start)))
                        .execute(c)?;
                }
                Some(_) => {
                    diesel::update(la::login_attempts.filter(la::key.eq(&key)))
                        .set((la::failures.eq(1i64), la::window_start.eq(now)))
                        .execute(c)?;
                }
                None => {
                    diesel::insert_into(la::login_attempts)
                        .values((
                            la::key.eq(&key),
                            la::failures.eq(1i64),
                            la::window_start.eq(now),
                        ))
                        .execute(c)?;
                }
            }
            Ok::<_, diesel::result::Error>(())
        })?;
    }
    Ok(())
}

pub fn clear_account(conn: &mut DbConn, email: &str) -> QueryResult<()> {
    diesel::delete(la::login_attempts.filter(la::key.eq(account_key(email)))).execute(conn)?;
    Ok(())
}
