//! What the queue shows beside the cases themselves: the staff names and the open
//! escalations of the cases on the page.

use super::{list, CaseRow, ListFilter};
use crate::db::schema::{escalations, users};
use crate::db::DbConn;
use crate::db::Direct;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// One page of the queue.
pub struct QueuePage {
    pub rows: Vec<CaseRow>,
    pub total: i64,
    /// Enabled users by name: (id, name).
    pub staff: Vec<(i64, String)>,
    /// Open escalations of the cases on the page: (case id, status, last activity).
    pub open_escalations: Vec<(i64, String, NaiveDateTime)>,
}

#[tracing::instrument(skip_all)]
pub fn load(conn: &mut DbConn, filter: &ListFilter) -> QueryResult<QueuePage> {
    let (rows, total) = list(conn, filter)?;
    let staff = filter_assignees(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let open_escalations = escalations::table
        .filter(escalations::case_id.eq_any(&ids))
        .filter(escalations::status.ne("closed"))
        .select((
            escalations::case_id,
            escalations::status,
            escalations::opened_at,
            escalations::last_activity_at,
        ))
        .rows::<(i64, String, NaiveDateTime, Option<NaiveDateTime>)>(conn)?
        .into_iter()
        .map(|(id, status, opened, last)| (id, status, last.unwrap_or(opened)))
        .collect();
    Ok(QueuePage {
        rows,
        total,
        staff,
        open_escalations,
    })
}

/// Enabled users by name, optionally only those with one of `roles`: (id, name).
pub fn enabled_staff(conn: &mut DbConn, roles: Option<&[&str]>) -> QueryResult<Vec<(i64, String)>> {
    // Every enabled user, the roles picked here: one statement prepared once per
    // connection (a list of roles bound as `IN (…)` is prepared again on every page).
    let all: Vec<(i64, String, String)> = users::table
        .filter(users::disabled.eq(false))
        .order(users::name.asc())
        .select((users::id, users::name, users::role))
        .rows(conn)?;
    Ok(all
        .into_iter()
        .filter(|(_, _, role)| roles.is_none_or(|r| r.contains(&role.as_str())))
        .map(|(id, name, _)| (id, name))
        .collect())
}

/// The queue's assignee filter: who can be assigned (support and admin) and any other
/// enabled user who still holds cases (assigned before a change of role), by name; R&D
/// and managers who hold no case are not listed.
pub fn filter_assignees(conn: &mut DbConn) -> QueryResult<Vec<(i64, String)>> {
    use crate::db::schema::cases;
    let users: Vec<(i64, String, String)> = users::table
        .filter(users::disabled.eq(false))
        .order(users::name.asc())
        .select((users::id, users::name, users::role))
        .rows(conn)?;
    let mut out = Vec::with_capacity(users.len());
    for (id, name, role) in users {
        // One index probe per other user (cases_assignee), not a walk over the cases.
        let holds = role == "support"
            || role == "admin"
            || diesel::select(diesel::dsl::exists(
                cases::table.filter(cases::assignee_id.eq(id)),
            ))
            .row::<bool>(conn)?;
        if holds {
            out.push((id, name));
        }
    }
    Ok(out)
}

/// Who a case can be assigned to: enabled support engineers and admins.
pub fn assignable(conn: &mut DbConn) -> QueryResult<Vec<(i64, String)>> {
    enabled_staff(conn, Some(&["support", "admin"]))
}
