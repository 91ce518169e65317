//! The outbox: every outgoing mail is a row first, committed with the action that
//! caused it; a worker (`crate::workers::outbox`) claims due rows (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, the single writer on SQLite), sends, and retries with
//! backoff while SMTP is down.

use super::outbound::Composed;
use crate::db::schema::outbox;
use crate::db::DbConn;
use crate::db::Direct;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

pub const MAX_ATTEMPTS: i64 = 12;
/// A claim older than this is taken to belong to a crashed worker.
pub const LEASE_MINUTES: i64 = 10;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct OutboxRow {
    pub id: i64,
    /// None: mail of no case (the weekly report).
    pub case_id: Option<i64>,
    pub message_row_id: Option<i64>,
    pub kind: String,
    pub message_id: String,
    pub envelope_from: String,
    pub envelope_to: String,
    pub subject: String,
    pub raw: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<NaiveDateTime>,
    pub sent_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutboxView {
    pub message_id: String,
    pub kind: String,
    pub to: Vec<String>,
    pub subject: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = outbox)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
struct NewOutboxRow<'a> {
    case_id: Option<i64>,
    message_row_id: Option<i64>,
    kind: &'a str,
    message_id: &'a str,
    envelope_from: &'a str,
    envelope_to: String,
    subject: &'a str,
    raw: &'a str,
    state: &'a str,
    attempts: i64,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

/// Queues a composed mail, due at once.
pub fn enqueue(
    conn: &mut DbConn,
    case_id: i64,
    message_row_id: Option<i64>,
    kind: &str,
    c: &Composed,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(outbox::table)
        .values(NewOutboxRow {
            case_id: Some(case_id),
            message_row_id,
            kind,
            message_id: &c.message_id,
            envelope_from: &c.envelope_from,
            envelope_to: c.envelope_to.join(", "),
            subject: &c.subject,
            raw: &c.raw,
            state: "queued",
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
        })
        .returning(outbox::id)
        .row(conn)
}

/// Queues a composed mail of no case (the weekly report), due at once.
pub fn enqueue_notice(
    conn: &mut DbConn,
    kind: &str,
    c: &Composed,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(outbox::table)
        .values(NewOutboxRow {
            case_id: None,
            message_row_id: None,
            kind,
            message_id: &c.message_id,
            envelope_from: &c.envelope_from,
            envelope_to: c.envelope_to.join(", "),
            subject: &c.subject,
            raw: &c.raw,
            state: "queued",
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
        })
        .returning(outbox::id)
        .row(conn)
}

/// The newest 100 outgoing mails of the case, oldest first.
pub fn for_case(conn: &mut DbConn, case_id: i64) -> QueryResult<Vec<OutboxView>> {
    let mut rows: Vec<OutboxRow> = crate::on_engine!(conn, |c| outbox::table
        .filter(outbox::case_id.eq(case_id))
        .order(outbox::id.desc())
        .limit(100)
        .select(OutboxRow::as_select())
        .load(c))?;
    rows.reverse();
    Ok(rows
        .into_iter()
        .map(|r| OutboxView {
            to: r.envelope_to.split(", ").map(str::to_string).collect(),
            message_id: r.message_id,
            kind: r.kind,
            subject: r.subject,
            state: r.state,
            attempts: r.attempts,
            last_error: r.last_error,
            created_at: crate::cases::detail::rfc3339(&r.created_at),
            sent_at: r.sent_at.as_ref().map(crate::cases::detail::rfc3339),
        })
        .collect())
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// Claims up to `limit` due rows for `worker`; two workers never get the same row.
pub fn claim(
    conn: &mut DbConn,
    worker: &str,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let stale = now - Duration::minutes(LEASE_MINUTES);
    let ids: Vec<i64> = match conn {
        DbConn::Pg(_) => diesel::sql_query(
            "UPDATE outbox SET claimed_by = $1, claimed_at = $2 WHERE id IN (
                SELECT id FROM outbox WHERE state = 'queued' AND next_attempt_at <= $2
                  AND (claimed_at IS NULL OR claimed_at < $3)
                ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING id",
        )
        .bind::<diesel::sql_types::Text, _>(worker)
        .bind::<diesel::sql_types::Timestamp, _>(now)
        .bind::<diesel::sql_types::Timestamp, _>(stale)
        .bind::<diesel::sql_types::BigInt, _>(limit)
        .rows::<IdRow>(conn)?
        .into_iter()
        .map(|r| r.id)
        .collect(),
        DbConn::Sqlite(_) => crate::db::write_tx(conn, |c| {
            let ids: Vec<i64> = outbox::table
                .filter(outbox::state.eq("queued"))
                .filter(outbox::next_attempt_at.le(now))
                .filter(
                    outbox::claimed_at
                        .is_null()
                        .or(outbox::claimed_at.lt(stale)),
                )
                .order(outbox::id.asc())
                .limit(limit)
                .select(outbox::id)
                .load(c)?;
            diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
                .set((outbox::claimed_by.eq(worker), outbox::claimed_at.eq(now)))
                .execute(c)?;
            Ok::<_, diesel::result::Error>(ids)
        })?,
    };
    outbox::table
        .filter(outbox::id.eq_any(&ids))
        .order(outbox::id.asc())
        .select(OutboxRow::as_select())
        .load(conn)
}

pub fn mark_sent(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::state.eq("sent"),
            outbox::sent_at.eq(now),
            outbox::attempts.eq(outbox::attempts + 1i64),
            outbox::last_error.eq(None::<String>),
            outbox::claimed_by.eq(None::<String>),
            outbox::claimed_at.eq(None::<NaiveDateTime>),
        ))
        .exec(conn)?;
    Ok(())
}

/// Exponential backoff from the base interval: 2×, 4×, 8× … capped at one hour.
pub fn backoff(base_secs: i64, attempts: i64) -> Duration {
    let secs = base_secs
        .max(1)
        .saturating_mul(1i64 << attempts.clamp(0, 12));
    Duration::seconds(secs.min(3600))
}

pub fn mark_failed_attempt(
    conn: &mut DbConn,
    row: &OutboxRow,
    error: &str,
    now: NaiveDateTime,
    base_secs: i64,
) -> QueryResult<()> {
    let attempts = row.attempts + 1;
    let state = if attempts >= MAX_ATTEMPTS {
        "failed"
    } else {
        "queued"
    };
    diesel::update(outbox::table.find(row.id))
        .set((
            outbox::state.eq(state),
            outbox::attempts.eq(attempts),
            outbox::last_error.eq(error.chars().take(500).collect::<String>()),
            outbox::next_attempt_at.eq(now + backoff(base_secs, attempts)),
            outbox::claimed_by.eq(None::<String>),
            outbox::claimed_at.eq(None::<NaiveDateTime>),
        ))
        .exec(conn)?;
    Ok(())
}

/// Puts failed mail of a case back in the queue (the "retry" button), due at `now`.
pub fn requeue_failed(conn: &mut DbConn, case_id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        outbox::table
            .filter(outbox::case_id.eq(case_id))
            .filter(outbox::state.eq("failed")),
    )
    .set((
        outbox::state.eq("queued"),
        outbox::attempts.eq(0i64),
        outbox::next_attempt_at.eq(now),
    ))
    .exec(conn)
}
