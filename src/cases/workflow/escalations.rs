//! Escalations to R&D: support opens one, R&D answers or asks for more, support
//! follows up, and someone closes it. R&D is mailed when asked something.

use super::{load_case, nonempty, record_outgoing, trimmed, Mail, WResult, WorkflowError};
use crate::auth::users::{Role, User};
use crate::cases::{audit, CaseRow, EscalationStatus, Status};
use crate::config::Settings;
use crate::db::schema::{attachments, cases, escalation_entries, escalations, users};
use crate::db::DbConn;
use crate::mail::extract;
use chrono::NaiveDateTime;
use diesel::prelude::*;

struct EscalationMail<'a> {
    opened_by: &'a str,
    number: &'a str,
    customer: &'a str,
    question: &'a str,
    serial: Option<&'a str>,
    help: Option<&'a str>,
    attachments: String,
}

super::bilingual_mail!(
    EscalationMail,
    EscalationZh = "mail/escalation_zh.txt",
    EscalationEn = "mail/escalation_en.txt"
);

pub struct EscalationInput<'a> {
    pub question: &'a str,
    pub serial_number: Option<&'a str>,
    pub help_needed: Option<&'a str>,
    pub attachment_ids: &'a [i64],
}

#[derive(Insertable)]
#[diesel(table_name = escalations)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
struct NewEscalation<'a> {
    case_id: i64,
    status: &'a str,
    question: String,
    serial_number: Option<&'a str>,
    help_needed: Option<&'a str>,
    attachment_ids: String,
    opened_by: &'a str,
    opened_at: NaiveDateTime,
    last_activity_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = escalation_entries)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct NewEntry<'a> {
    escalation_id: i64,
    kind: &'a str,
    author_name: &'a str,
    body_text: String,
    created_at: NaiveDateTime,
}

/// What R&D is told: the question and what comes with it.
struct RndNote<'a> {
    question: &'a str,
    serial: Option<&'a str>,
    help: Option<&'a str>,
    /// (attachment id, file name)
    attachments: &'a [(i64, String)],
}

/// Opens an escalation on the case (not on a closed one); the case becomes escalated.
/// Returns the escalation's id.
#[tracing::instrument(skip_all, fields(case = %number, actor = %actor.name))]
pub fn open_escalation(
    conn: &mut DbConn,
    settings: &Settings,
    actor: &User,
    number: &str,
    e: &EscalationInput,
) -> WResult<i64> {
    let question = nonempty(e.question, "workflow.empty_question")?;
    let serial = trimmed(e.serial_number);
    let help = trimmed(e.help_needed);
    crate::db::write_tx(conn, |c| {
        let case = load_case(c, number)?;
        if case.status == Status::Closed.as_str() {
            return Err(WorkflowError::Invalid("workflow.case_closed"));
        }
        let atts: Vec<(i64, String)> = attachments::table
            .filter(attachments::case_id.eq(case.id))
            .filter(attachments::id.eq_any(e.attachment_ids))
            .select((attachments::id, attachments::filename))
            .load(c)?;
        let now = crate::now();
        let help_masked = help.as_deref().map(extract::mask_secrets);
        let id: i64 = diesel::insert_into(escalations::table)
            .values(NewEscalation {
                case_id: case.id,
                status: EscalationStatus::Open.as_str(),
                question: extract::mask_secrets(&question),
                serial_number: serial.as_deref(),
                help_needed: help_masked.as_deref(),
                attachment_ids: atts
                    .iter()
                    .map(|a| a.0.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                opened_by: &actor.name,
                opened_at: now,
                last_activity_at: now,
            })
            .returning(escalations::id)
            .get_result(c)?;
        notify_rnd(
            c,
            settings,
            actor,
            &case,
            &RndNote {
                question: &question,
                serial: serial.as_deref(),
                help: help.as_deref(),
                attachments: &atts,
            },
        )?;
        diesel::update(cases::table.find(case.id))
            .set((
                cases::status.eq(Status::Escalated.as_str()),
                cases::updated_at.eq(now),
            ))
            .execute(c)?;
        audit(
            c,
            Some(case.id),
            &actor.name,
            "escalation.opened",
            &format!("escalation {id}"),
        )?;
        Ok(id)
    })
}

/// Mails the R&D users (when `notify_rnd` is on and there are any).
fn notify_rnd(
    c: &mut DbConn,
    settings: &Settings,
    actor: &User,
    case: &CaseRow,
    note: &RndNote<'_>,
) -> WResult<()> {
    if !settings.notify_rnd {
        return Ok(());
    }
    let rnd: Vec<String> = users::table
        .filter(users::role.eq(Role::Rnd.as_str()))
        .filter(users::disabled.eq(false))
        .select(users::email)
        .load(c)?;
    if rnd.is_empty() {
        return Ok(());
    }
    let names = note
        .attachments
        .iter()
        .map(|a| a.1.clone())
        .collect::<Vec<_>>()
        .join(", ");
    let customer = case.customer.clone().unwrap_or_default();
    let text = EscalationMail {
        opened_by: &actor.name,
        number: &case.number,
        customer: &customer,
        question: note.question,
        serial: note.serial,
        help: note.help,
        attachments: names,
    }
    .render_for(case)?;
    record_outgoing(
        c,
        case,
        actor,
        settings,
        Mail {
            direction: "to_rnd",
            kind: "escalation",
            to: rnd,
            body: text,
            automatic: true,
            files: Vec::new(),
        },
    )?;
    Ok(())
}

/// The escalation's case, and whether the escalation is closed.
fn escalation_case(c: &mut DbConn, id: i64) -> WResult<(CaseRow, bool)> {
    let read = |c: &mut DbConn| -> WResult<(i64, String)> {
        escalations::table
            .find(id)
            .select((escalations::case_id, escalations::status))
            .first(c)
            .optional()?
            .ok_or(WorkflowError::NotFound)
    };
    let (mut case_id, mut status) = read(c)?;
    // The case row first, then the escalation's (the order a merge takes them in, so
    // the two cannot deadlock on PostgreSQL); a merge that moved the escalation while
    // we waited is followed.
    for _ in 0..4 {
        crate::cases::merge::lock_rows(c, &[case_id])?;
        let now = read(c)?;
        if now.0 == case_id {
            status = now.1;
            break;
        }
        (case_id, status) = now;
    }
    let case = crate::cases::find(c, case_id)?.ok_or(WorkflowError::NotFound)?;
    let closed = EscalationStatus::parse(&status) == Some(EscalationStatus::Closed);
    Ok((case, closed))
}

/// The case of an escalation that is not closed (refused when it is).
fn open_escalation_case(c: &mut DbConn, id: i64) -> WResult<CaseRow> {
    let (case, closed) = escalation_case(c, id)?;
    if closed {
        return Err(WorkflowError::Invalid("workflow.escalation_closed"));
    }
    Ok(case)
}

fn add_entry(
    c: &mut DbConn,
    esc: i64,
    kind: &str,
    author: &str,
    body: &str,
    at: NaiveDateTime,
) -> WResult<()> {
    diesel::insert_into(escalation_entries::table)
        .values(NewEntry {
            escalation_id: esc,
            kind,
            author_name: author,
            body_text: extract::mask_secrets(body),
            created_at: at,
        })
        .execute(c)?;
    Ok(())
}

/// R&D answers (or asks for more information). Internal: nothing goes to the customer.
/// Returns the case number.
#[tracing::instrument(skip_all, fields(escalation = id, actor = %actor.name, needs_info))]
pub fn answer_escalation(
    conn: &mut DbConn,
    actor: &User,
    id: i64,
    body: &str,
    needs_info: bool,
) -> WResult<String> {
    let body = nonempty(body, "workflow.empty_body")?;
    crate::db::write_tx(conn, |c| {
        let case = open_escalation_case(c, id)?;
        let now = crate::now();
        add_entry(
            c,
            id,
            if needs_info { "needs_info" } else { "answer" },
            &actor.name,
            &body,
            now,
        )?;
        crate::notify::record(
            c,
            &case,
            crate::notify::Kind::RndAnswer,
            None,
            &actor.name,
            Some(actor.id),
            now,
        )?;
        let status = if needs_info {
            EscalationStatus::NeedsInfo
        } else {
            EscalationStatus::Answered
        };
        diesel::update(escalations::table.find(id))
            .set((
                escalations::status.eq(status.as_str()),
                escalations::last_activity_at.eq(now),
            ))
            .execute(c)?;
        diesel::update(
            escalations::table
                .find(id)
                .filter(escalations::first_answered_at.is_null()),
        )
        .set(escalations::first_answered_at.eq(now))
        .execute(c)?;
        diesel::update(cases::table.find(case.id))
            .set(cases::updated_at.eq(now))
            .execute(c)?;
        audit(
            c,
            Some(case.id),
            &actor.name,
            if needs_info {
                "escalation.needs_info"
            } else {
                "escalation.answered"
            },
            &format!("escalation {id}"),
        )?;
        Ok(case.number)
    })
}

/// Support follows up in the same escalation; it waits on R&D again. Returns the
/// case number.
#[tracing::instrument(skip_all, fields(escalation = id, actor = %actor.name))]
pub fn follow_up(
    conn: &mut DbConn,
    settings: &Settings,
    actor: &User,
    id: i64,
    body: &str,
) -> WResult<String> {
    let body = nonempty(body, "workflow.empty_body")?;
    crate::db::write_tx(conn, |c| {
        let case = open_escalation_case(c, id)?;
        let now = crate::now();
        add_entry(c, id, "followup", &actor.name, &body, now)?;
        diesel::update(escalations::table.find(id))
            .set((
                escalations::status.eq(EscalationStatus::Open.as_str()),
                escalations::last_activity_at.eq(now),
            ))
            .execute(c)?;
        notify_rnd(
            c,
            settings,
            actor,
            &case,
            &RndNote {
                question: &body,
                serial: None,
                help: None,
                attachments: &[],
            },
        )?;
        audit(
            c,
            Some(case.id),
            &actor.name,
            "escalation.followup",
            &format!("escalation {id}"),
        )?;
        Ok(case.number)
    })
}

/// Closes the escalation (the case stays as it is). Returns the case number.
#[tracing::instrument(skip_all, fields(escalation = id, actor = %actor.name))]
pub fn close_escalation(conn: &mut DbConn, actor: &User, id: i64) -> WResult<String> {
    crate::db::write_tx(conn, |c| {
        let (case, _) = escalation_case(c, id)?;
        diesel::update(escalations::table.find(id))
            .set((
                escalations::status.eq(EscalationStatus::Closed.as_str()),
                escalations::closed_at.eq(crate::now()),
            ))
            .execute(c)?;
        audit(
            c,
            Some(case.id),
            &actor.name,
            "escalation.closed",
            &format!("escalation {id}"),
        )?;
        Ok(case.number)
    })
}
