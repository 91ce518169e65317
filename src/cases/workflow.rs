//! What support and R&D do to a case: replies, scope, escalations, closure, status,
//! notes, assignment. Each action is one transaction; outgoing mail is an outbox row
//! committed with it, so nothing is lost and nothing half-done is left behind.

use super::{audit, CaseRow, Status};
use crate::auth::users::{Role, User};
use crate::config::Settings;
use crate::db::schema::{
    attachments, cases, closures, escalation_entries, escalations, messages, scopes, users,
};
use crate::db::DbConn;
use crate::mail::extract;
use crate::mail::outbound::{self, Outgoing};
use askama::Template;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// A refusal the user can act on; the text is a catalog key.
    #[error("{0}")]
    Invalid(&'static str),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Mail(#[from] outbound::OutboundError),
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

pub type WResult<T> = Result<T, WorkflowError>;

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

fn load_case(conn: &mut DbConn, number: &str) -> WResult<CaseRow> {
    super::find_by_number(conn, number)?.ok_or(WorkflowError::NotFound)
}

/// An optional field, trimmed; None when blank.
fn trimmed(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

fn nonempty(s: &str, key: &'static str) -> WResult<String> {
    let t = s.trim();
    if t.is_empty() {
        Err(WorkflowError::Invalid(key))
    } else {
        Ok(t.to_string())
    }
}

#[derive(Template)]
#[template(path = "mail/reply.txt")]
struct ReplyMail<'a> {
    body: &'a str,
    signature: &'a str,
}

#[derive(Template)]
#[template(path = "mail/scope_zh.txt")]
struct ScopeZh<'a> {
    definition: &'a str,
    scope: &'a str,
    logs: Option<&'a str>,
    signature: &'a str,
}

#[derive(Template)]
#[template(path = "mail/scope_en.txt")]
struct ScopeEn<'a> {
    definition: &'a str,
    scope: &'a str,
    logs: Option<&'a str>,
    signature: &'a str,
}

#[derive(Template)]
#[template(path = "mail/closure_zh.txt")]
struct ClosureZh<'a> {
    definition: &'a str,
    resolution: &'a str,
    root_cause: Option<&'a str>,
    signature: &'a str,
}

#[derive(Template)]
#[template(path = "mail/closure_en.txt")]
struct ClosureEn<'a> {
    definition: &'a str,
    resolution: &'a str,
    root_cause: Option<&'a str>,
    signature: &'a str,
}

#[derive(Template)]
#[template(path = "mail/escalation_zh.txt")]
struct EscalationZh<'a> {
    opened_by: &'a str,
    number: &'a str,
    customer: &'a str,
    question: &'a str,
    serial: Option<&'a str>,
    help: Option<&'a str>,
    attachments: String,
}

#[derive(Template)]
#[template(path = "mail/escalation_en.txt")]
struct EscalationEn<'a> {
    opened_by: &'a str,
    number: &'a str,
    customer: &'a str,
    question: &'a str,
    serial: Option<&'a str>,
    help: Option<&'a str>,
    attachments: String,
}

fn signature(actor: &User, settings: &Settings) -> String {
    let org = settings
        .mail_from
        .split('<')
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches('"')
        .to_string();
    if org.is_empty() {
        actor.name.clone()
    } else {
        format!("{}\n{}", actor.name, org)
    }
}

/// Message ids of the thread, oldest first, for References; and the one to answer.
fn thread_ids(conn: &mut DbConn, case_id: i64) -> WResult<(Option<String>, Vec<String>)> {
    let rows: Vec<(String, String)> = messages::table
        .filter(messages::case_id.eq(case_id))
        .filter(messages::direction.eq_any(["customer", "support"]))
        .order((messages::sent_at.asc(), messages::id.asc()))
        .select((messages::message_id, messages::direction))
        .load(conn)?;
    let plausible: Vec<(String, String)> = rows
        .into_iter()
        .filter(|(id, _)| extract::plausible_message_id(id))
        .collect();
    let parent = plausible
        .iter()
        .rev()
        .find(|(_, d)| d == "customer")
        .or(plausible.last())
        .map(|(id, _)| id.clone());
    let mut refs: Vec<String> = plausible.iter().map(|(id, _)| id.clone()).collect();
    if refs.len() > 20 {
        let first = refs[0].clone();
        refs = std::iter::once(first)
            .chain(refs[refs.len() - 19..].iter().cloned())
            .collect();
    }
    Ok((parent, refs))
}

#[allow(clippy::too_many_arguments)]
fn record_outgoing(
    conn: &mut DbConn,
    case: &CaseRow,
    actor: &User,
    settings: &Settings,
    direction: &str,
    kind: &str,
    to: Vec<String>,
    body: String,
    automatic: bool,
) -> WResult<i64> {
    let (parent, refs) = thread_ids(conn, case.id)?;
    let composed = outbound::compose(
        settings,
        &Outgoing {
            case_number: case.number.clone(),
            tracking_token: case.tracking_token.clone(),
            language: case.language.clone(),
            to: to.clone(),
            subject: case.subject.clone(),
            body: body.clone(),
            in_reply_to: parent.clone(),
            references: refs.clone(),
            automatic,
        },
    )?;
    let now = crate::now();
    let row_id: i64 = diesel::insert_into(messages::table)
        .values((
            messages::case_id.eq(case.id),
            messages::message_id.eq(&composed.message_id),
            messages::content_hash.eq(crate::storage::sha256_hex(body.as_bytes())),
            messages::in_reply_to.eq(parent),
            messages::refs.eq(refs.join(" ")),
            messages::from_name.eq(&actor.name),
            messages::from_address.eq(&composed.envelope_from),
            messages::to_addrs.eq(composed.envelope_to.join(", ")),
            messages::subject.eq(&composed.subject),
            messages::sent_at.eq(now),
            messages::received_at.eq(now),
            messages::direction.eq(direction),
            messages::is_auto_reply.eq(false),
            messages::body_text.eq(extract::mask_secrets(&body)),
            messages::source.eq(format!("outbox:{kind}")),
        ))
        .returning(messages::id)
        .get_result(conn)?;
    crate::mail::outbox::enqueue(conn, case.id, Some(row_id), kind, &composed)?;
    Ok(row_id)
}

/// After mail to the customer: the first-response clock stops, the case waits on them.
fn after_customer_mail(conn: &mut DbConn, case: &CaseRow, to: &[String]) -> WResult<()> {
    let now = crate::now();
    let status = Status::parse(&case.status).unwrap_or(Status::New);
    let next = if matches!(status, Status::New | Status::Open) {
        Status::WaitingCustomer
    } else {
        status
    };
    let first_response = case.first_response_at.or(Some(now));
    let contact = case.contact_email.clone().or_else(|| to.first().cloned());
    diesel::update(cases::table.find(case.id))
        .set((
            cases::status.eq(next.as_str()),
            cases::first_response_at.eq(first_response),
            cases::updated_at.eq(now),
            cases::contact_email.eq(contact),
        ))
        .execute(conn)?;
    Ok(())
}

fn recipients(case: &CaseRow, to: Option<&str>) -> WResult<Vec<String>> {
    let list: Vec<String> = match to.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => t
            .split([',', ';'])
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => case.contact_email.iter().cloned().collect(),
    };
    if list.is_empty() {
        return Err(WorkflowError::Invalid("workflow.no_recipient"));
    }
    Ok(list)
}

pub fn reply(
    conn: &mut DbConn,
    settings: &Settings,
    actor: &User,
    number: &str,
    body: &str,
    to: Option<&str>,
) -> WResult<i64> {
    let body = nonempty(body, "workflow.empty_body")?;
    crate::db::write_tx(conn, |c| {
        let case = load_case(c, number)?;
        let to = recipients(&case, to)?;
        let text = ReplyMail {
            body: &body,
            signature: &signature(actor, settings),
        }
        .render()?;
        let id = record_outgoing(
            c,
            &case,
            actor,
            settings,
            "support",
            "reply",
            to.clone(),
            text,
            false,
        )?;
        after_customer_mail(c, &case, &to)?;
        audit(
            c,
            Some(case.id),
            &actor.name,
            "reply.sent",
            &format!("to {}", to.join(", ")),
        )?;
        Ok(id)
    })
}

pub struct ScopeInput<'a> {
    pub problem_definition: &'a str,
    pub problem_scope: &'a str,
    pub log_instructions: Option<&'a str>,
    pub send: bool,
    pub to: Option<&'a str>,
}

pub fn set_scope(
    conn: &mut DbConn,
    settings: &Settings,
    actor: &User,
    number: &str,
    s: &ScopeInput,
) -> WResult<()> {
    let def = nonempty(s.problem_definition, "workflow.empty_definition")?;
    let scope = nonempty(s.problem_scope, "workflow.empty_scope")?;
    let logs = trimmed(s.log_instructions);
    crate::db::write_tx(conn, |c| {
        let case = load_case(c, number)?;
        let mut row = None;
        if s.send {
            let to = recipients(&case, s.to)?;
            let sig = signature(actor, settings);
            let text = if case.language.starts_with("zh") {
                ScopeZh {
                    definition: &def,
                    scope: &scope,
                    logs: logs.as_deref(),
                    signature: &sig,
                }
                .render()?
            } else {
                ScopeEn {
                    definition: &def,
                    scope: &scope,
                    logs: logs.as_deref(),
                    signature: &sig,
                }
                .render()?
            };
            row = Some(record_outgoing(
                c,
                &case,
                actor,
                settings,
                "support",
                "scope",
                to.clone(),
                text,
                false,
            )?);
            after_customer_mail(c, &case, &to)?;
        }
        diesel::insert_into(scopes::table)
            .values((
                scopes::case_id.eq(case.id),
                scopes::problem_definition.eq(&def),
                scopes::problem_scope.eq(&scope),
                scopes::log_instructions.eq(&logs),
                scopes::author.eq(&actor.name),
                scopes::message_row_id.eq(row),
                scopes::created_at.eq(crate::now()),
            ))
            .execute(c)?;
        audit(
            c,
            Some(case.id),
            &actor.name,
            "scope.set",
            if s.send {
                "scope mail queued"
            } else {
                "scope saved"
            },
        )?;
        Ok(())
    })
}

pub struct EscalationInput<'a> {
    pub question: &'a str,
    pub serial_number: Option<&'a str>,
    pub help_needed: Option<&'a str>,
    pub attachment_ids: &'a [i64],
}

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
        let id: i64 = diesel::insert_into(escalations::table)
            .values((
                escalations::case_id.eq(case.id),
                escalations::status.eq("open"),
                escalations::question.eq(extract::mask_secrets(&question)),
                escalations::serial_number.eq(&serial),
                escalations::help_needed.eq(&help),
                escalations::attachment_ids.eq(atts
                    .iter()
                    .map(|a| a.0.to_string())
                    .collect::<Vec<_>>()
                    .join(",")),
                escalations::opened_by.eq(&actor.name),
                escalations::opened_at.eq(now),
                escalations::last_activity_at.eq(now),
            ))
            .returning(escalations::id)
            .get_result(c)?;
        notify_rnd(
            c,
            settings,
            actor,
            &case,
            &question,
            serial.as_deref(),
            help.as_deref(),
            &atts,
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

#[allow(clippy::too_many_arguments)]
fn notify_rnd(
    c: &mut DbConn,
    settings: &Settings,
    actor: &User,
    case: &CaseRow,
    question: &str,
    serial: Option<&str>,
    help: Option<&str>,
    atts: &[(i64, String)],
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
    let names = atts
        .iter()
        .map(|a| a.1.clone())
        .collect::<Vec<_>>()
        .join(", ");
    let customer = case.customer.clone().unwrap_or_default();
    let text = if case.language.starts_with("zh") {
        EscalationZh {
            opened_by: &actor.name,
            number: &case.number,
            customer: &customer,
            question,
            serial,
            help,
            attachments: names,
        }
        .render()?
    } else {
        EscalationEn {
            opened_by: &actor.name,
            number: &case.number,
            customer: &customer,
            question,
            serial,
            help,
            attachments: names,
        }
        .render()?
    };
    record_outgoing(
        c,
        case,
        actor,
        settings,
        "to_rnd",
        "escalation",
        rnd,
        text,
        true,
    )?;
    Ok(())
}

fn escalation_case(c: &mut DbConn, id: i64) -> WResult<(CaseRow, String)> {
    let (case_id, status): (i64, String) = escalations::table
        .find(id)
        .select((escalations::case_id, escalations::status))
        .first(c)
        .optional()?
        .ok_or(WorkflowError::NotFound)?;
    let case = super::find(c, case_id)?.ok_or(WorkflowError::NotFound)?;
    Ok((case, status))
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
        .values((
            escalation_entries::escalation_id.eq(esc),
            escalation_entries::kind.eq(kind),
            escalation_entries::author_name.eq(author),
            escalation_entries::body_text.eq(extract::mask_secrets(body)),
            escalation_entries::created_at.eq(at),
        ))
        .execute(c)?;
    Ok(())
}

/// R&D answers (or asks for more information). Internal: nothing goes to the customer.
pub fn answer_escalation(
    conn: &mut DbConn,
    actor: &User,
    id: i64,
    body: &str,
    needs_info: bool,
) -> WResult<String> {
    let body = nonempty(body, "workflow.empty_body")?;
    crate::db::write_tx(conn, |c| {
        let (case, status) = escalation_case(c, id)?;
        if status == "closed" {
            return Err(WorkflowError::Invalid("workflow.escalation_closed"));
        }
        let now = crate::now();
        add_entry(
            c,
            id,
            if needs_info { "needs_info" } else { "answer" },
            &actor.name,
            &body,
            now,
        )?;
        diesel::update(escalations::table.find(id))
            .set((
                escalations::status.eq(if needs_info { "needs_info" } else { "answered" }),
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

/// Support follows up in the same escalation; it waits on R&D again.
pub fn follow_up(
    conn: &mut DbConn,
    settings: &Settings,
    actor: &User,
    id: i64,
    body: &str,
) -> WResult<String> {
    let body = nonempty(body, "workflow.empty_body")?;
    crate::db::write_tx(conn, |c| {
        let (case, status) = escalation_case(c, id)?;
        if status == "closed" {
            return Err(WorkflowError::Invalid("workflow.escalation_closed"));
        }
        let now = crate::now();
        add_entry(c, id, "followup", &actor.name, &body, now)?;
        diesel::update(escalations::table.find(id))
            .set((
                escalations::status.eq("open"),
                escalations::last_activity_at.eq(now),
            ))
            .execute(c)?;
        notify_rnd(c, settings, actor, &case, &body, None, None, &[])?;
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

pub fn close_escalation(conn: &mut DbConn, actor: &User, id: i64) -> WResult<String> {
    crate::db::write_tx(conn, |c| {
        let (case, _) = escalation_case(c, id)?;
        diesel::update(escalations::table.find(id))
            .set((
                escalations::status.eq("closed"),
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

pub struct ClosureInput<'a> {
    pub problem_definition: &'a str,
    pub resolution: &'a str,
    pub root_cause: Option<&'a str>,
    pub customer_agreed: bool,
    pub send: bool,
    pub to: Option<&'a str>,
}

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
            let sig = signature(actor, settings);
            let text = if case.language.starts_with("zh") {
                ClosureZh {
                    definition: &def,
                    resolution: &resolution,
                    root_cause: rc.as_deref(),
                    signature: &sig,
                }
                .render()?
            } else {
                ClosureEn {
                    definition: &def,
                    resolution: &resolution,
                    root_cause: rc.as_deref(),
                    signature: &sig,
                }
                .render()?
            };
            row = Some(record_outgoing(
                c, &case, actor, settings, "support", "closure", to, text, false,
            )?);
        }
        let now = crate::now();
        diesel::insert_into(closures::table)
            .values((
                closures::case_id.eq(case.id),
                closures::problem_definition.eq(&def),
                closures::resolution.eq(&resolution),
                closures::root_cause.eq(&rc),
                closures::customer_agreed.eq(i.customer_agreed),
                closures::author.eq(&actor.name),
                closures::message_row_id.eq(row),
                closures::created_at.eq(now),
            ))
            .execute(c)?;
        diesel::update(
            escalations::table
                .filter(escalations::case_id.eq(case.id))
                .filter(escalations::status.ne("closed")),
        )
        .set((
            escalations::status.eq("closed"),
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
        let closed_at = if target == Status::Closed {
            Some(now)
        } else {
            None
        };
        diesel::update(cases::table.find(case.id))
            .set((
                cases::status.eq(target.as_str()),
                cases::updated_at.eq(now),
                cases::closed_at.eq(closed_at),
            ))
            .execute(c)?;
        audit(
            c,
            Some(case.id),
            &actor.name,
            "status.changed",
            &format!("{} → {}", from.as_str(), target.as_str()),
        )?;
        Ok(())
    })
}

pub fn add_note(conn: &mut DbConn, actor: &User, number: &str, body: &str) -> WResult<i64> {
    let body = nonempty(body, "workflow.empty_body")?;
    crate::db::write_tx(conn, |c| {
        let case = load_case(c, number)?;
        let now = crate::now();
        let id = super::insert_internal(c, case.id, actor, &body, "note", None)?;
        diesel::update(cases::table.find(case.id))
            .set(cases::updated_at.eq(now))
            .execute(c)?;
        audit(c, Some(case.id), &actor.name, "note.added", "")?;
        Ok(id)
    })
}

pub fn assign(
    conn: &mut DbConn,
    actor: &User,
    number: &str,
    assignee: Option<i64>,
    priority: Option<&str>,
) -> WResult<()> {
    crate::db::write_tx(conn, |c| {
        let case = load_case(c, number)?;
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
        if let Some(p) = priority {
            if !["low", "normal", "high", "urgent"].contains(&p) {
                return Err(WorkflowError::Invalid("workflow.unknown_priority"));
            }
            diesel::update(cases::table.find(case.id))
                .set(cases::priority.eq(p))
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
                priority.unwrap_or(&case.priority)
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
