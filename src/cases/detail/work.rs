//! The work panels: escalations to R&D with their entries, the latest problem scope
//! (and how many versions), and the latest closure summary.

use super::{opt_rfc3339, rfc3339, ClosureView, EntryView, EscalationView, ScopeView};
use crate::db::schema::{closures, escalation_entries, escalations, scopes};
use crate::db::DbConn;
use crate::db::Direct;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Queryable)]
struct EscRow {
    id: i64,
    status: String,
    question: String,
    serial_number: Option<String>,
    opened_by: String,
    opened_at: NaiveDateTime,
    first_answered_at: Option<NaiveDateTime>,
}

#[derive(Queryable)]
struct EntryRow {
    escalation_id: i64,
    kind: String,
    author_name: String,
    body_text: String,
    created_at: NaiveDateTime,
}

/// The case's escalations, oldest first, each with its entries in order.
pub(super) fn escalations(conn: &mut DbConn, case_id: i64) -> QueryResult<Vec<EscalationView>> {
    let rows: Vec<EscRow> = escalations::table
        .filter(escalations::case_id.eq(case_id))
        .order(escalations::id.asc())
        .limit(50)
        .select((
            escalations::id,
            escalations::status,
            escalations::question,
            escalations::serial_number,
            escalations::opened_by,
            escalations::opened_at,
            escalations::first_answered_at,
        ))
        .rows(conn)?;
    if rows.is_empty() {
        // Most cases were never escalated: no second round trip for them.
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let entries: Vec<EntryRow> = escalation_entries::table
        .filter(crate::db::ids_in(
            conn,
            "escalation_entries.escalation_id",
            &ids,
        ))
        .order((
            escalation_entries::created_at.asc(),
            escalation_entries::id.asc(),
        ))
        .select((
            escalation_entries::escalation_id,
            escalation_entries::kind,
            escalation_entries::author_name,
            escalation_entries::body_text,
            escalation_entries::created_at,
        ))
        .rows(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine: Vec<EntryView> = entries
                .iter()
                .filter(|e| e.escalation_id == r.id)
                .map(|e| EntryView {
                    kind: e.kind.clone(),
                    from_name: e.author_name.clone(),
                    body_text: e.body_text.clone(),
                    created_at: rfc3339(&e.created_at),
                })
                .collect();
            let of_kind = |kind: &str| -> Vec<EntryView> {
                mine.iter().filter(|e| e.kind == kind).cloned().collect()
            };
            EscalationView {
                id: r.id,
                status: r.status,
                question: r.question,
                serial_number: r.serial_number,
                opened_by: r.opened_by,
                opened_at: rfc3339(&r.opened_at),
                first_answered_at: opt_rfc3339(&r.first_answered_at),
                answers: of_kind("answer"),
                followups: of_kind("followup"),
                entries: mine,
            }
        })
        .collect())
}

/// The latest scope, with the number of versions saved.
pub(super) fn scope(conn: &mut DbConn, case_id: i64) -> QueryResult<Option<ScopeView>> {
    let rows: Vec<(String, String, Option<String>, String, NaiveDateTime)> = scopes::table
        .filter(scopes::case_id.eq(case_id))
        .order(scopes::id.desc())
        .select((
            scopes::problem_definition,
            scopes::problem_scope,
            scopes::log_instructions,
            scopes::author,
            scopes::created_at,
        ))
        .rows(conn)?;
    let versions = rows.len();
    Ok(rows.into_iter().next().map(|(d, s, l, a, t)| ScopeView {
        problem_definition: d,
        problem_scope: s,
        log_instructions: l,
        author: a,
        created_at: rfc3339(&t),
        versions,
    }))
}

/// The latest closure summary.
pub(super) fn closure(conn: &mut DbConn, case_id: i64) -> QueryResult<Option<ClosureView>> {
    Ok(closures::table
        .filter(closures::case_id.eq(case_id))
        .order(closures::id.desc())
        .select((
            closures::problem_definition,
            closures::resolution,
            closures::root_cause,
            closures::customer_agreed,
            closures::author,
            closures::created_at,
        ))
        .first_row::<(String, String, Option<String>, bool, String, NaiveDateTime)>(conn)
        .optional()?
        .map(|(d, r, rc, agreed, a, t)| ClosureView {
            problem_definition: d,
            resolution: r,
            root_cause: rc,
            customer_agreed: agreed,
            author: a,
            created_at: rfc3339(&t),
        }))
}
