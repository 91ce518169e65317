//! The case's state and ownership: status changes (the state machine), assignment
//! and priority, internal notes.

use super::{load_case, nonempty, WResult, WorkflowError};
use crate::auth::users::User;
use crate::cases::{audit, Priority, Status};
use crate::db::schema::{cases, users};
use crate::db::DbConn;
use diesel::prelude::*;

/// The allowed status changes; anything else is refused with a message.
pub fn can_transition(from: Status, to: Status) -> bool {
    use Status::*;
    matches!(
        (from, to),
        (New, Open | WaitingCustomer | Escalated | Resolved | Closed)
            | (Open, WaitingCustomer | Escalated | Resolved | Closed)
            | (WaitingCustomer, Open | Escalated | Resolved | Closed)
            | (Escalated, Open | WaitingCustomer | Resolved | Closed)
            | (Resolved, Open | Closed)
            | (Closed, Open)
    )
}

/// Moves the case to status `to` (closing goes through the closure form).
#[tracing::instrument(skip_all, fields(case = %number, actor = %actor.name, to))]
pub fn set_status(conn: &mut DbConn, actor: &User, number: &str, to: &str) -> WResult<()> {
    let target =
        Status::parse(to.trim()).ok_or(WorkflowError::Invalid("workflow.unknown_status"))?;
    crate::db::write_tx(conn, |c| {
        let case = load_case(c, number)?;
        let from = Status::parse(&case.status).unwrap_or(Status::New);
        if !can_transition(from, target) {
            return Err(WorkflowError::Invalid("workflow.bad_transition"));
        }
        if target == Status::Closed {
            // Closing needs a summary: the closure form.
            return Err(WorkflowError::Invalid("workflow.close_needs_summary"));
        }
        let now = crate::now();
        diesel::update(cases::table.find(case.id))
            .set((
                cases::status.eq(target.as_str()),
                cases::updated_at.eq(now),
                cases::closed_at.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(c)?;
        audit(
            c,
            Some(case.id),
            &actor.name,
            "status.set",
            &format!("{} → {}", from.as_str(), target.as_str()),
        )?;
        Ok(())
    })
}

/// Adds an internal note to the case's timeline. Returns the message row id.
#[tracing::instrument(skip_all, fields(case = %number, actor = %actor.name))]
pub fn add_note(conn: &mut DbConn, actor: &User, number: &str, body: &str) -> WResult<i64> {
    let body = nonempty(body, "workflow.empty_body")?;
    crate::db::write_tx(conn, |c| {
        let case = load_case(c, number)?;
        let now = crate::now();
        let id = crate::cases::insert_internal(c, case.id, actor, &body, "note", None)?;
        diesel::update(cases::table.find(case.id))
            .set(cases::updated_at.eq(now))
            .execute(c)?;
        audit(c, Some(case.id), &actor.name, "note.added", "")?;
        // `@name` tells that colleague and makes them a watcher (never the writer).
        let mentioned: Vec<Option<i64>> = crate::notify::mentioned(c, &body)?
            .into_iter()
            .filter(|u| *u != actor.id)
            .map(Some)
            .collect();
        for u in mentioned.iter().flatten() {
            crate::notify::watch(c, case.id, *u, now)?;
        }
        crate::notify::to_users(
            c,
            case.id,
            &mentioned,
            crate::notify::Kind::Mention,
            Some(id),
            &actor.name,
            now,
        )?;
        Ok(id)
    })
}

/// Sets the assignee (None: nobody) and, when given, the priority.
#[tracing::instrument(skip_all, fields(case = %number, actor = %actor.name, ?assignee, ?priority))]
pub fn assign(
    conn: &mut DbConn,
    actor: &User,
    number: &str,
    assignee: Option<Option<i64>>,
    priority: Option<&str>,
) -> WResult<()> {
    // assignee None: keep it; Some(None): nobody. priority None: keep it;
    // Some(None): not a priority.
    let parsed: Option<Option<Priority>> = priority.map(Priority::parse);
    crate::db::write_tx(conn, |c| {
        let case = load_case(c, number)?;
        let assignee = assignee.unwrap_or(case.assignee_id);
        if let Some(a) = assignee {
            let ok: i64 = users::table
                .filter(users::id.eq(a))
                .filter(users::disabled.eq(false))
                .count()
                .get_result(c)?;
            if ok == 0 {
                return Err(WorkflowError::Invalid("workflow.unknown_user"));
            }
        }
        let priority = match parsed {
            Some(None) => return Err(WorkflowError::Invalid("workflow.unknown_priority")),
            Some(Some(p)) => Some(p),
            None => None,
        };
        if let Some(p) = priority {
            diesel::update(cases::table.find(case.id))
                .set(cases::priority.eq(p.as_str()))
                .execute(c)?;
        }
        diesel::update(cases::table.find(case.id))
            .set(cases::assignee_id.eq(assignee))
            .execute(c)?;
        audit(
            c,
            Some(case.id),
            &actor.name,
            "case.assigned",
            &format!(
                "assignee {} priority {}",
                assignee
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "-".into()),
                priority.map_or(case.priority.as_str(), |p| p.as_str())
            ),
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_machine() {
        assert!(can_transition(Status::New, Status::Open));
        assert!(can_transition(Status::Closed, Status::Open));
        assert!(!can_transition(Status::Closed, Status::Escalated));
        assert!(!can_transition(Status::Closed, Status::Closed));
        assert!(!can_transition(Status::Resolved, Status::WaitingCustomer));
    }
}
