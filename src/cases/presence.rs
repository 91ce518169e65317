//! "A colleague is replying": while someone types a reply on a case, their page says so
//! every few seconds (`touch`); the other people on that case see a notice, on the page
//! when it loads and live through `/events`. Kept in the database, so it works through
//! several servers on one PostgreSQL.

use crate::db::schema::{cases, presence, users};
use crate::db::DbConn;
use crate::db::Direct;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

/// Someone seen typing within this long is still replying.
pub const FRESH_SECONDS: i64 = 45;

/// Records that `user_id` is typing a reply on case `number`; `None` when there is no
/// such case.
pub fn touch(
    conn: &mut DbConn,
    number: &str,
    user_id: i64,
    now: NaiveDateTime,
) -> QueryResult<Option<i64>> {
    let Some(case_id) = super::id_by_number(conn, number)? else {
        return Ok(None);
    };
    let n = diesel::update(presence::table.find((case_id, user_id)))
        .set(presence::seen_at.eq(now))
        .exec(conn)?;
    if n == 0 {
        let row = (
            presence::case_id.eq(case_id),
            presence::user_id.eq(user_id),
            presence::seen_at.eq(now),
        );
        // Two tabs of one user may race here: the second insert is a no-op.
        match conn {
            DbConn::Sqlite(c) => diesel::insert_or_ignore_into(presence::table)
                .values(row)
                .execute(c)?,
            DbConn::Pg(c) => diesel::insert_into(presence::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(c)?,
        };
    }
    Ok(Some(case_id))
}

/// Stops saying that `user_id` replies on case `number` (the reply was sent).
pub fn clear(conn: &mut DbConn, number: &str, user_id: i64) -> QueryResult<()> {
    if let Some(case_id) = super::id_by_number(conn, number)? {
        diesel::delete(presence::table.find((case_id, user_id))).exec(conn)?;
    }
    Ok(())
}

/// Who else is replying on the case now: names, at most 10.
pub fn others(
    conn: &mut DbConn,
    case_id: i64,
    me: i64,
    now: NaiveDateTime,
) -> QueryResult<Vec<String>> {
    presence::table
        .inner_join(users::table)
        .filter(presence::case_id.eq(case_id))
        .filter(presence::user_id.ne(me))
        .filter(presence::seen_at.gt(now - Duration::seconds(FRESH_SECONDS)))
        .order(presence::seen_at.desc())
        .limit(10)
        .select(users::name)
        .rows(conn)
}

/// One sighting, as the live stream sends it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub case: String,
    pub user_id: i64,
    pub name: String,
    pub at: NaiveDateTime,
}

/// Sightings after `since`, oldest first, at most 200 (an index range on `seen_at`).
pub fn since(conn: &mut DbConn, since: NaiveDateTime) -> QueryResult<Vec<Seen>> {
    Ok(presence::table
        .inner_join(cases::table)
        .inner_join(users::table)
        .filter(presence::seen_at.gt(since))
        .order(presence::seen_at.asc())
        .limit(200)
        .select((
            cases::number,
            presence::user_id,
            users::name,
            presence::seen_at,
        ))
        .rows::<(String, i64, String, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(case, user_id, name, at)| Seen {
            case,
            user_id,
            name,
            at,
        })
        .collect())
}

/// Forgets sightings older than an hour (run now and then).
pub fn sweep(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(presence::table.filter(presence::seen_at.lt(now - Duration::hours(1))))
        .exec(conn)
}
