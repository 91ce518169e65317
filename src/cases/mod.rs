//! Cases: the model, queries for the queue and the case page, numbers and tokens,
//! and the audit trail.

pub mod canned;
pub mod customer;
pub mod detail;
pub mod list;
pub mod merge;
pub mod narrow;
pub mod outbox;
pub mod presence;
pub mod queue;
pub mod reanalysis;
pub mod rnd_queue;
pub mod sla;
pub mod states;
pub mod workflow;

pub use list::{list, Cursor, ListFilter, ListPage, Place, COUNT_CAP};
pub use states::{EscalationStatus, Priority, Status};

use crate::db::schema::{audit_events, cases, messages};
use crate::db::DbConn;
use crate::db::Direct;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = cases)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct CaseRow {
    pub id: i64,
    pub number: String,
    pub subject: String,
    pub customer: Option<String>,
    pub oem: Option<String>,
    pub status: String,
    pub priority: String,
    pub tracking_token: String,
    pub assignee_id: Option<i64>,
    pub language: String,
    pub parent_case_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub first_customer_at: Option<NaiveDateTime>,
    pub first_response_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub contact_email: Option<String>,
    /// Imported history: judged by the thread's own times (see [`CaseRow::clock`]).
    pub imported: bool,
    /// The case this one was merged into (its number redirects there).
    pub merged_into: Option<i64>,
    /// Messages in the case, kept by the database's triggers as messages arrive and
    /// move (migration `case_message_count`).
    pub message_count: i64,
}

impl CaseRow {
    /// The time this case is judged at: now for live work; for imported history its
    /// own last moment (closed, else its last message), never today.
    pub fn clock(&self, now: NaiveDateTime) -> NaiveDateTime {
        sla::clock(self.imported, self.closed_at, self.updated_at, now)
    }
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<CaseRow>> {
    crate::on_engine!(conn, |c| cases::table
        .find(id)
        .select(CaseRow::as_select())
        .first(c)
        .optional())
}

pub fn find_by_number(conn: &mut DbConn, number: &str) -> QueryResult<Option<CaseRow>> {
    let number = number.trim().to_ascii_uppercase();
    crate::on_engine!(conn, |c| cases::table
        .filter(cases::number.eq(&number))
        .select(CaseRow::as_select())
        .first(c)
        .optional())
}

/// The id of the case numbered `number` (any letter case), when there is one.
pub fn id_by_number(conn: &mut DbConn, number: &str) -> QueryResult<Option<i64>> {
    cases::table
        .filter(cases::number.eq(number.trim().to_ascii_uppercase()))
        .select(cases::id)
        .first_row(conn)
        .optional()
}

/// Letters and digits that cannot be mistaken for each other (no 0/O, 1/I/L).
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

pub fn fresh_number(conn: &mut DbConn) -> QueryResult<String> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    loop {
        let suffix: String = (0..6)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect();
        let n = format!("CAS-{:05}-{}", rng.gen_range(0..100_000), suffix);
        if find_by_number(conn, &n)?.is_none() {
            return Ok(n);
        }
    }
}

pub fn fresh_token(conn: &mut DbConn, prefix: &str) -> QueryResult<String> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    loop {
        let t = format!(
            "{}:{:07}",
            prefix.to_ascii_uppercase(),
            rng.gen_range(0..10_000_000)
        );
        let used: i64 = cases::table
            .filter(cases::tracking_token.eq(&t))
            .count()
            .row(conn)?;
        if used == 0 {
            return Ok(t);
        }
    }
}

/// A row of `messages` written by Casebook itself (notes, uploads, outgoing mail).
#[derive(Debug, Insertable)]
#[diesel(table_name = messages)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub struct NewMessage<'a> {
    pub case_id: i64,
    pub raw_id: Option<i64>,
    pub message_id: &'a str,
    pub content_hash: String,
    pub in_reply_to: Option<&'a str>,
    pub refs: String,
    pub from_name: &'a str,
    pub from_address: &'a str,
    pub to_addrs: String,
    pub subject: &'a str,
    pub sent_at: NaiveDateTime,
    pub received_at: NaiveDateTime,
    pub direction: &'a str,
    pub is_auto_reply: bool,
    /// Secrets masked (see `mail::extract::mask_secrets`).
    pub body_text: String,
    pub source: &'a str,
}

impl NewMessage<'_> {
    pub fn insert(&self, conn: &mut DbConn) -> QueryResult<i64> {
        diesel::insert_into(messages::table)
            .values(self)
            .returning(messages::id)
            .row(conn)
    }
}

/// Imported history turns into live work (live mail arrived, or staff mailed from it):
/// judged by today's clock from now on. A first response history never had is due
/// from now, not from years ago.
pub fn become_live(conn: &mut DbConn, case: &mut CaseRow) -> QueryResult<()> {
    if !case.imported {
        return Ok(());
    }
    case.imported = false;
    if case.first_response_at.is_none() {
        case.first_customer_at = None;
    }
    diesel::update(cases::table.find(case.id))
        .set((
            cases::imported.eq(false),
            cases::first_customer_at.eq(case.first_customer_at),
        ))
        .exec(conn)?;
    Ok(())
}

/// An internal entry on the case's timeline (note, upload, filed quarantine): staff
/// only, never mailed. Returns the message row id.
pub fn insert_internal(
    conn: &mut DbConn,
    case_id: i64,
    actor: &crate::auth::User,
    body: &str,
    source: &str,
    raw_id: Option<i64>,
) -> QueryResult<i64> {
    let now = crate::now();
    let message_id = format!("{source}.{}@casebook.invalid", crate::auth::random_hex(12));
    NewMessage {
        case_id,
        raw_id,
        message_id: &message_id,
        content_hash: crate::storage::sha256_hex(body.as_bytes()),
        in_reply_to: None,
        refs: String::new(),
        from_name: &actor.name,
        from_address: &actor.email,
        to_addrs: String::new(),
        subject: "",
        sent_at: now,
        received_at: now,
        direction: "internal",
        is_auto_reply: false,
        body_text: crate::mail::extract::mask_secrets(body),
        source,
    }
    .insert(conn)
}

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_events)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
struct NewAuditEvent<'a> {
    case_id: Option<i64>,
    actor: &'a str,
    action: &'a str,
    detail: &'a str,
    created_at: NaiveDateTime,
}

pub fn audit(
    conn: &mut DbConn,
    case_id: Option<i64>,
    actor: &str,
    action: &str,
    detail: &str,
) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values(NewAuditEvent {
            case_id,
            actor,
            action,
            detail,
            created_at: crate::now(),
        })
        .exec(conn)?;
    Ok(())
}

pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
