//! A case's outgoing mail: what is queued, sent or failed, and sending the failed again.

use super::workflow::{WResult, WorkflowError};
use crate::auth::User;
use crate::db::DbConn;
use crate::mail::outbox::{self, OutboxView};

/// The outbox of case `number`, newest first.
pub fn for_case(conn: &mut DbConn, number: &str) -> WResult<Vec<OutboxView>> {
    let case = super::merge::surviving_by_number(conn, number)?.ok_or(WorkflowError::NotFound)?;
    Ok(outbox::for_case(conn, case.id)?)
}

/// Queues every failed mail of case `number` again; returns how many.
#[tracing::instrument(skip(conn, actor), fields(actor = actor.id))]
pub fn retry_failed(conn: &mut DbConn, actor: &User, number: &str) -> WResult<usize> {
    crate::db::write_tx(conn, |c| {
        let case = super::merge::surviving_by_number(c, number)?.ok_or(WorkflowError::NotFound)?;
        let k = outbox::requeue_failed(c, case.id, crate::now())?;
        super::audit(
            c,
            Some(case.id),
            &actor.name,
            "outbox.retried",
            &format!("{k} mails"),
        )?;
        Ok(k)
    })
}
