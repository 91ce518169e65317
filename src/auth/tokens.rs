//! Bearer tokens for the JSON API; only their sha256 is stored.

use super::users::User;
use crate::db::schema::{api_tokens, users};
use crate::db::DbConn;
use diesel::prelude::*;

pub fn create(conn: &mut DbConn, user_id: i64) -> QueryResult<String> {
    let token = format!("cb_{}", super::random_hex(24));
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::user_id.eq(user_id),
            api_tokens::token_hash.eq(crate::storage::sha256_hex(token.as_bytes())),
            api_tokens::created_at.eq(crate::now()),
        ))
        .execute(conn)?;
    Ok(token)
}

/// The enabled user owning this token, if any.
pub fn lookup(conn: &mut DbConn, token: &str) -> QueryResult<Option<User>> {
    let hash = crate::storage::sha256_hex(token.trim().as_bytes());
    api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(hash))
        .filter(users::disabled.eq(false))
        .select(User::as_select())
        .first(conn)
        .optional()
}
