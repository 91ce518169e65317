//! R&D's queue: escalations waiting for an answer or for more information, oldest first.

use crate::db::schema::{cases, escalations};
use crate::db::Direct;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct EscalationRow {
    pub id: i64,
    pub case_number: String,
    pub subject: String,
    pub customer: String,
    pub status: String,
    pub question: String,
    pub opened_by: String,
    pub opened_at: String,
    pub waiting: String,
    pub overdue: bool,
}

type Row = (
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    (bool, Option<NaiveDateTime>, NaiveDateTime),
);

/// The escalations in `statuses` (at most 500), judged overdue at `now`.
pub fn load(
    conn: &mut crate::db::DbConn,
    statuses: &[super::EscalationStatus],
    overdue_hours: i64,
    now: NaiveDateTime,
) -> QueryResult<Vec<EscalationRow>> {
    let rows: Vec<Row> = escalations::table
        .inner_join(cases::table.on(cases::id.eq(escalations::case_id)))
        .filter(escalations::status.eq_any(statuses.iter().map(|s| s.as_str())))
        .order(escalations::opened_at.asc())
        .limit(500)
        .select((
            escalations::id,
            cases::number,
            cases::subject,
            cases::customer,
            escalations::status,
            escalations::question,
            escalations::opened_by,
            escalations::opened_at,
            escalations::last_activity_at,
            (cases::imported, cases::closed_at, cases::updated_at),
        ))
        .rows(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                number,
                subject,
                customer,
                status,
                question,
                opened_by,
                opened_at,
                last,
                (imported, closed_at, updated_at),
            )| {
                let since = last.unwrap_or(opened_at);
                // Imported history waits by its own clock and is never overdue.
                let clock = crate::cases::sla::clock(imported, closed_at, updated_at, now);
                EscalationRow {
                    id,
                    overdue: !imported
                        && crate::cases::sla::escalation_overdue(
                            &status,
                            since,
                            overdue_hours,
                            now,
                        ),
                    waiting: crate::cases::sla::short((clock - since).num_minutes().max(0)),
                    case_number: number,
                    subject,
                    customer: customer.unwrap_or_default(),
                    status,
                    question: question.chars().take(200).collect(),
                    opened_by,
                    opened_at: opened_at.format("%Y-%m-%d %H:%M").to_string(),
                }
            },
        )
        .collect())
}
