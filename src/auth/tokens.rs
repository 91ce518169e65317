//! Bearer tokens for the JSON API; only their sha256 is stored.
//!
//! A token has a scope (`full`: whatever its owner's role allows; `inbound`: only
//! `POST /api/mail/inbound`, for an MTA pipe), an optional expiry, and stops working
//! when it is revoked (the row is deleted), when its owner is disabled, or when the
//! owner's password is set (`users::set_password` revokes them all).

use super::users::User;
use crate::db::schema::{api_tokens, users};
use crate::db::DbConn;
use crate::db::Direct;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scope {
    /// Everything the owner's role allows under /api.
    Full,
    /// Only `POST /api/mail/inbound` (an MTA pipe, `casebook mailgate`).
    Inbound,
    /// As `Inbound`, for a pipe that carries only mail your own MTA accepted from
    /// authenticated staff (submission): staff mail on it counts as verified.
    #[value(name = "inbound-internal")]
    InboundInternal,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Full => "full",
            Scope::Inbound => "inbound",
            Scope::InboundInternal => "inbound-internal",
        }
    }

    /// Unknown values read as the narrowest scope.
    pub fn parse(s: &str) -> Scope {
        match s {
            "full" => Scope::Full,
            "inbound-internal" => Scope::InboundInternal,
            _ => Scope::Inbound,
        }
    }
}

/// `last_used_at` is written at most this often per token, so that API reads do not
/// turn into a write each.
const TOUCH_EVERY_MINUTES: i64 = 5;

/// Longest accepted expiry, in days (about 10 years).
pub const MAX_EXPIRY_DAYS: i64 = 3660;

/// Creates a token for the user; `expires_in_days` None: it does not expire.
pub fn create(
    conn: &mut DbConn,
    user_id: i64,
    scope: Scope,
    expires_in_days: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<String> {
    create_with_id(conn, user_id, scope, expires_in_days, now).map(|(_, t)| t)
}

/// As `create`, with the new token's id.
pub fn create_with_id(
    conn: &mut DbConn,
    user_id: i64,
    scope: Scope,
    expires_in_days: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<(i64, String)> {
    let token = format!("cb_{}", super::random_hex(24));
    let expires_at = expires_in_days.map(|d| now + Duration::days(d.clamp(1, MAX_EXPIRY_DAYS)));
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::user_id.eq(user_id),
            api_tokens::token_hash.eq(crate::storage::sha256_hex(token.as_bytes())),
            api_tokens::created_at.eq(now),
            api_tokens::expires_at.eq(expires_at),
            api_tokens::scope.eq(scope.as_str()),
        ))
        .returning(api_tokens::id)
        .row::<i64>(conn)
        .map(|id| (id, token))
}

/// A live token as a request finds it.
#[derive(Debug, Clone)]
pub struct Found {
    pub user: User,
    pub scope: Scope,
    /// The token's id when its last-used time is due to be written (`touch`): at most
    /// every [`TOUCH_EVERY_MINUTES`], so that API reads do not each turn into a write.
    pub touch: Option<i64>,
}

/// The enabled user owning this live (not expired) token, and the token's scope. Only
/// reads: a request runs it in place (`web::read`) and writes the last-used time
/// apart, when it is due.
pub fn lookup(conn: &mut DbConn, token: &str, now: NaiveDateTime) -> QueryResult<Option<Found>> {
    let hash = crate::storage::sha256_hex(token.trim().as_bytes());
    #[allow(clippy::type_complexity)]
    let found: Option<(
        i64,
        Option<NaiveDateTime>,
        String,
        Option<NaiveDateTime>,
        User,
    )> = crate::on_engine!(conn, |c| api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(&hash))
        .filter(users::disabled.eq(false))
        .select((
            api_tokens::id,
            api_tokens::expires_at,
            api_tokens::scope,
            api_tokens::last_used_at,
            User::as_select(),
        ))
        .first(c)
        .optional())?;
    let Some((id, expires_at, scope, last_used, user)) = found else {
        return Ok(None);
    };
    if expires_at.is_some_and(|t| t <= now) {
        return Ok(None);
    }
    let due = last_used.is_none_or(|t| now - t >= Duration::minutes(TOUCH_EVERY_MINUTES));
    Ok(Some(Found {
        user,
        scope: Scope::parse(&scope),
        touch: due.then_some(id),
    }))
}

/// Writes a token's last-used time.
pub fn touch(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(api_tokens::table.find(id))
        .set(api_tokens::last_used_at.eq(now))
        .exec(conn)
        .map(drop)
}

/// One token as the list shows it (never the token itself).
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: i64,
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub scope: Scope,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
}

impl TokenInfo {
    pub fn is_expired(&self, now: NaiveDateTime) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// Every token, newest first; only those of `email` when given.
pub fn list(conn: &mut DbConn, email: Option<&str>) -> QueryResult<Vec<TokenInfo>> {
    let mut q = api_tokens::table
        .inner_join(users::table)
        .select((
            api_tokens::id,
            api_tokens::user_id,
            users::email,
            users::name,
            api_tokens::scope,
            api_tokens::created_at,
            api_tokens::last_used_at,
            api_tokens::expires_at,
        ))
        .order(api_tokens::id.desc())
        .into_boxed();
    if let Some(e) = email {
        q = q.filter(users::email.eq(e.trim().to_lowercase()));
    }
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        i64,
        i64,
        String,
        String,
        String,
        NaiveDateTime,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    )> = q.load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, user_id, email, name, scope, created_at, last_used_at, expires_at)| TokenInfo {
                id,
                user_id,
                email,
                name,
                scope: Scope::parse(&scope),
                created_at,
                last_used_at,
                expires_at,
            },
        )
        .collect())
}

/// Revokes one token; false when there is no such token.
pub fn revoke(conn: &mut DbConn, id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(api_tokens::table.find(id)).exec(conn)? > 0)
}

/// Revokes every token of the user; returns how many there were.
pub fn revoke_all_for_user(conn: &mut DbConn, user_id: i64) -> QueryResult<usize> {
    diesel::delete(api_tokens::table.filter(api_tokens::user_id.eq(user_id))).exec(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_names_round_trip_and_unknown_is_narrow() {
        for s in [Scope::Full, Scope::Inbound] {
            assert_eq!(Scope::parse(s.as_str()), s);
        }
        assert_eq!(Scope::parse("admin"), Scope::Inbound);
        assert_eq!(Scope::parse(""), Scope::Inbound);
    }
}
