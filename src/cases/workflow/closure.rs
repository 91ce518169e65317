//! Closing a case with its summary: definition, resolution, root cause. Open
//! escalations close with it; the summary may be mailed to the customer.

use super::{
    can_transition, load_case, nonempty, recipients, record_outgoing, signature, trimmed, Mail,
    WResult, WorkflowError,
};
use crate::auth::users::User;
use crate::cases::{audit, EscalationStatus, Status};
use crate::config::Settings;
use crate::db::schema::{cases, closures, escalations};
use crate::db::DbConn;
use crate::mail::extract::mask_secrets;
use chrono::NaiveDateTime;
use diesel::prelude::*;

struct ClosureMail<'a> {
    definition: &'a str,
    resolution: &'a str,
    root_cause: Option<&'a str>,
    signature: &'a str,
}

super::bilingual_mail!(
    ClosureMail,
    ClosureZh = "mail/closure_zh.txt",
    ClosureEn = "mail/closure_en.txt"
);

pub struct ClosureInput<'a> {
    pub problem_definition: &'a str,
    pub resolution: &'a str,
    pub root_cause: Option<&'a str>,
    pub customer_agreed: bool,
    pub send: bool,
    pub to: Option<&'a str>,
}

#[derive(Insertable)]
#[diesel(table_name = closures)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
struct NewClosure<'a> {
    case_id: i64,
    problem_definition: &'a str,
    resolution: &'a str,
    root_cause: Option<&'a str>,
    customer_agreed: bool,
    author: &'a str,
    message_row_id: Option<i64>,
    created_at: NaiveDateTime,
}

/// Closes the case with its summary (refused where the state machine says no).
#[tracing::instrument(skip_all, fields(case = %number, actor = %actor.name, send = i.send))]
pub fn close_case(
    conn: &mut DbConn,
    settings: &Settings,
    actor: &User,
    number: &str,
    i: &ClosureInput,
) -> WResult<()> {
    let def = nonempty(i.problem_definition, "workflow.empty_definition")?;
    let resolution = nonempty(i.resolution, "workflow.empty_resolution")?;
    let rc = trimmed(i.root_cause);
    crate::db::write_tx(conn, |c| {
        let case = load_case(c, number)?;
        let status = Status::parse(&case.status).unwrap_or(Status::New);
        if !can_transition(status, Status::Closed) {
            return Err(WorkflowError::Invalid("workflow.bad_transition"));
        }
        let mut row = None;
        if i.send {
            let to = recipients(&case, i.to)?;
            let sig = signature(c, actor, settings)?;
            let text = ClosureMail {
                definition: &def,
                resolution: &resolution,
                root_cause: rc.as_deref(),
                signature: &sig,
            }
            .render_for(&case)?;
            row = Some(record_outgoing(
                c,
                &case,
                actor,
                settings,
                Mail::to_customer("closure", to, text),
            )?);
        }
        let now = crate::now();
        // Stored and shown masked, like notes; the mail above says what staff wrote.
        let rc_masked = rc.as_deref().map(mask_secrets);
        diesel::insert_into(closures::table)
            .values(NewClosure {
                case_id: case.id,
                problem_definition: &mask_secrets(&def),
                resolution: &mask_secrets(&resolution),
                root_cause: rc_masked.as_deref(),
                customer_agreed: i.customer_agreed,
                author: &actor.name,
                message_row_id: row,
                created_at: now,
            })
            .execute(c)?;
        let closed = EscalationStatus::Closed.as_str();
        diesel::update(
            escalations::table
                .filter(escalations::case_id.eq(case.id))
                .filter(escalations::status.ne(closed)),
        )
        .set((
            escalations::status.eq(closed),
            escalations::closed_at.eq(now),
        ))
        .execute(c)?;
        let first_response = case.first_response_at.or(row.map(|_| now));
        diesel::update(cases::table.find(case.id))
            .set((
                cases::status.eq(Status::Closed.as_str()),
                cases::closed_at.eq(now),
                cases::updated_at.eq(now),
                cases::first_response_at.eq(first_response),
            ))
            .execute(c)?;
        audit(
            c,
            Some(case.id),
            &actor.name,
            "case.closed",
            &format!("{} → closed", case.status),
        )?;
        Ok(())
    })
}
