//! What support and R&D do to a case: replies, scope, escalations, closure, status,
//! notes, assignment. Each action is one transaction; outgoing mail is an outbox row
//! committed with it, so nothing is lost and nothing half-done is left behind.
//!
//! One file per action group; this one holds the error and what they share: loading
//! the case, field checks, the signature, and recording an outgoing mail.

mod closure;
mod escalations;
mod reply;
mod scope;
mod status;

pub use closure::{close_case, ClosureInput};
pub use escalations::{
    answer_escalation, close_escalation, follow_up, open_escalation, EscalationInput,
};
pub use reply::reply;
pub use scope::{set_scope, ScopeInput};
pub use status::{add_note, assign, can_transition, set_status};

use super::{CaseRow, NewMessage, Status};
use crate::auth::users::User;
use crate::config::Settings;
use crate::db::schema::{cases, messages};
use crate::db::DbConn;
use crate::db::Direct;
use crate::mail::extract;
use crate::mail::outbound::{self, Outgoing};
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

/// The case `number`, refused when it was merged into another (work goes there).
fn load_case(conn: &mut DbConn, number: &str) -> WResult<CaseRow> {
    let case = super::find_by_number(conn, number)?.ok_or(WorkflowError::NotFound)?;
    if case.merged_into.is_some() {
        return Err(WorkflowError::Invalid("merge.already_merged"));
    }
    Ok(case)
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

/// Is the case written in Chinese (which mail template to use)?
fn is_zh(case: &CaseRow) -> bool {
    case.language.starts_with("zh")
}

/// A mail written in Chinese and in English: one struct of fields, two templates
/// (`$zh`, `$en`, which see the fields through `Deref`), and `render_for(case)`
/// picking the case's language.
macro_rules! bilingual_mail {
    ($fields:ident, $zh:ident = $zh_path:literal, $en:ident = $en_path:literal) => {
        #[derive(askama::Template)]
        #[template(path = $zh_path)]
        struct $zh<'a>(&'a $fields<'a>);

        #[derive(askama::Template)]
        #[template(path = $en_path)]
        struct $en<'a>(&'a $fields<'a>);

        impl<'a> std::ops::Deref for $zh<'a> {
            type Target = $fields<'a>;
            fn deref(&self) -> &$fields<'a> {
                self.0
            }
        }

        impl<'a> std::ops::Deref for $en<'a> {
            type Target = $fields<'a>;
            fn deref(&self) -> &$fields<'a> {
                self.0
            }
        }

        impl $fields<'_> {
            /// The mail in the case's language.
            fn render_for(&self, case: &crate::cases::CaseRow) -> Result<String, askama::Error> {
                use askama::Template;
                if super::is_zh(case) {
                    $zh(self).render()
                } else {
                    $en(self).render()
                }
            }
        }
    };
}
use bilingual_mail;

/// What signs `actor`'s mail: their own signature (`people::signature`), else their
/// name and the organisation of `--mail-from`.
fn signature(conn: &mut DbConn, actor: &User, settings: &Settings) -> WResult<String> {
    if let Some(own) = crate::people::signature::of(conn, actor.id)? {
        return Ok(own);
    }
    Ok(default_signature(actor, settings))
}

fn default_signature(actor: &User, settings: &Settings) -> String {
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
        .rows(conn)?;
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

/// An outgoing mail: who it goes to, what it says, and how it is filed.
struct Mail<'a> {
    /// `support` (to the customer) or `to_rnd`.
    direction: &'a str,
    /// The outbox kind: `reply`, `scope`, `closure`, `escalation`.
    kind: &'a str,
    to: Vec<String>,
    body: String,
    /// Marked `Auto-Submitted` (notifications, not a person writing).
    automatic: bool,
    /// Files of the case sent with it: (attachment id, file).
    files: Vec<(i64, outbound::OutFile)>,
}

impl<'a> Mail<'a> {
    /// A mail from support to the customer, written by a person.
    fn to_customer(kind: &'a str, to: Vec<String>, body: String) -> Self {
        Mail {
            direction: "support",
            kind,
            to,
            body,
            automatic: false,
            files: Vec::new(),
        }
    }
}

/// Composes the mail, stores it on the case's timeline and queues it in the outbox.
/// Returns the message row id.
fn record_outgoing(
    conn: &mut DbConn,
    case: &CaseRow,
    actor: &User,
    settings: &Settings,
    mail: Mail<'_>,
) -> WResult<i64> {
    if case.imported {
        // Staff mail from imported history makes it live work.
        crate::cases::become_live(conn, &mut case.clone())?;
    }
    let (parent, refs) = thread_ids(conn, case.id)?;
    let composed = outbound::compose(
        settings,
        &Outgoing {
            case_number: case.number.clone(),
            tracking_token: case.tracking_token.clone(),
            language: case.language.clone(),
            to: mail.to,
            subject: case.subject.clone(),
            body: mail.body.clone(),
            in_reply_to: parent.clone(),
            references: refs.clone(),
            automatic: mail.automatic,
            // A person's mail to the customer also as HTML; R&D's internal mail and
            // automatic notices stay plain.
            html: mail.direction == "support" && !mail.automatic,
            files: mail.files.iter().map(|(_, f)| f.clone()).collect(),
        },
    )?;
    let now = crate::now();
    let source = format!("outbox:{}", mail.kind);
    let row_id = NewMessage {
        case_id: case.id,
        raw_id: None,
        message_id: &composed.message_id,
        content_hash: crate::storage::sha256_hex(mail.body.as_bytes()),
        in_reply_to: parent.as_deref(),
        refs: refs.join(" "),
        from_name: &actor.name,
        from_address: &composed.envelope_from,
        to_addrs: composed.envelope_to.join(", "),
        subject: &composed.subject,
        sent_at: now,
        received_at: now,
        direction: mail.direction,
        is_auto_reply: false,
        body_text: extract::mask_secrets(&mail.body),
        source: &source,
    }
    .insert(conn)?;
    // The files sent show on the message in the thread (the same stored bytes).
    for (id, _) in &mail.files {
        crate::bundles::link_copy(conn, *id, case.id, row_id)?;
    }
    crate::mail::outbox::enqueue(conn, case.id, Some(row_id), mail.kind, &composed, now)?;
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
        .exec(conn)?;
    Ok(())
}

/// The addresses typed in the form (comma or semicolon separated), else the case's
/// contact.
/// Most addresses one outgoing mail may go to (the catalog's
/// `workflow.too_many_recipients` names the number).
pub const MAX_RECIPIENTS: usize = 50;

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
    if list.len() > MAX_RECIPIENTS {
        return Err(WorkflowError::Invalid("workflow.too_many_recipients"));
    }
    Ok(list)
}
