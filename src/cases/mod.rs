//! Cases: the model, queries for the queue and the case page, numbers and tokens,
//! and the audit trail.

pub mod detail;

use crate::db::schema::{audit_events, cases};
use crate::db::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    Open,
    WaitingCustomer,
    Escalated,
    Resolved,
    Closed,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::New,
        Status::Open,
        Status::WaitingCustomer,
        Status::Escalated,
        Status::Resolved,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Open => "open",
            Status::WaitingCustomer => "waiting_customer",
            Status::Escalated => "escalated",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

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
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<CaseRow>> {
    cases::table
        .find(id)
        .select(CaseRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_number(conn: &mut DbConn, number: &str) -> QueryResult<Option<CaseRow>> {
    cases::table
        .filter(cases::number.eq(number.trim().to_ascii_uppercase()))
        .select(CaseRow::as_select())
        .first(conn)
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
            .get_result(conn)?;
        if used == 0 {
            return Ok(t);
        }
    }
}

pub fn audit(
    conn: &mut DbConn,
    case_id: Option<i64>,
    actor: &str,
    action: &str,
    detail: &str,
) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::case_id.eq(case_id),
            audit_events::actor.eq(actor),
            audit_events::action.eq(action),
            audit_events::detail.eq(detail),
            audit_events::created_at.eq(crate::now()),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub q: Option<String>,
    pub status: Option<String>,
    pub page: i64,
    pub per_page: i64,
}

/// The queue: newest activity first, with an optional text and status filter.
pub fn list(conn: &mut DbConn, f: &ListFilter) -> QueryResult<(Vec<CaseRow>, i64)> {
    let build = || {
        let mut q = cases::table.into_boxed();
        if let Some(s) = f.status.as_deref().filter(|s| !s.is_empty()) {
            if s == "active" {
                q = q.filter(cases::status.ne("closed"));
            } else {
                q = q.filter(cases::status.eq(s.to_string()));
            }
        }
        if let Some(text) = f.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let pattern = format!("%{}%", escape_like(text));
            q = q.filter(
                cases::subject
                    .like(pattern.clone())
                    .escape('\\')
                    .or(cases::number.like(pattern.clone()).escape('\\'))
                    .or(cases::customer.like(pattern.clone()).escape('\\'))
                    .or(cases::tracking_token.like(pattern).escape('\\')),
            );
        }
        q
    };
    let total: i64 = build().count().get_result(conn)?;
    let per = f.per_page.clamp(1, 200);
    let page = f.page.max(1);
    let rows = build()
        .order((cases::updated_at.desc(), cases::id.desc()))
        .limit(per)
        .offset((page - 1) * per)
        .select(CaseRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
