//! Each engineer's own signature under the mail they send. Plain text: the HTML part of
//! a mail shows it as written (escaped), so it can carry no markup.

use crate::db::schema::signatures;
use crate::db::DbConn;
use crate::db::Direct;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Longest signature kept, in characters.
pub const MAX_CHARS: usize = 2000;

/// The user's signature, when they wrote one.
pub fn of(conn: &mut DbConn, user_id: i64) -> QueryResult<Option<String>> {
    signatures::table
        .find(user_id)
        .select(signatures::body)
        .first_row(conn)
        .optional()
}

/// Saves (or, when blank, removes) the user's signature; line ends normalised, trailing
/// space trimmed, at most `MAX_CHARS`. Returns what was kept.
pub fn save(
    conn: &mut DbConn,
    user_id: i64,
    body: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<String>> {
    let text: String = body
        .replace("\r\n", "\n")
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim_matches('\n')
        .chars()
        .take(MAX_CHARS)
        .collect();
    conn.transaction(|c| {
        diesel::delete(signatures::table.find(user_id)).execute(c)?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        diesel::insert_into(signatures::table)
            .values((
                signatures::user_id.eq(user_id),
                signatures::body.eq(&text),
                signatures::updated_at.eq(now),
            ))
            .execute(c)?;
        Ok(Some(text))
    })
}
