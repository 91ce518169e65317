//! Proposals: a staff action recognised in live mail whose sender is not a verified
//! staff identity (see `trust`) is shown as written and offered on the case page. A
//! staff member who may do that action applies it with one click, as themselves.

use super::events::apply_events;
use super::Direction;
use crate::auth::{Role, User};
use crate::cases::{self, CaseRow};
use crate::db::schema::messages;
use crate::db::DbConn;
use crate::mail::ParsedMail;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum ProposalError {
    #[error("no such proposal")]
    NotFound,
    #[error("your role may not apply this proposal")]
    Forbidden,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// The direction a proposal takes the message to, and who may apply it.
fn kind(proposal: &str) -> Option<(Direction, &'static [Role])> {
    const SUPPORT: &[Role] = &[Role::Support, Role::Admin];
    const RND: &[Role] = &[Role::Rnd, Role::Admin];
    match proposal {
        "closure" | "scope" => Some((Direction::Support, SUPPORT)),
        "escalation" => Some((Direction::ToRnd, SUPPORT)),
        "answer" => Some((Direction::FromRnd, RND)),
        _ => None,
    }
}

/// Applies the proposal of message row `row_id` in case `number` as `actor`: the
/// closure, scope, escalation or R&D answer is recorded at the message's own time.
#[tracing::instrument(skip(conn, serial, actor), fields(actor = actor.id))]
pub fn apply_proposal(
    conn: &mut DbConn,
    serial: &regex::Regex,
    actor: &User,
    number: &str,
    row_id: i64,
) -> Result<(), ProposalError> {
    crate::db::write_tx(conn, |c| {
        let case: CaseRow = cases::find_by_number(c, number)?.ok_or(ProposalError::NotFound)?;
        let (proposal, from_address, body, sent_at): (
            Option<String>,
            String,
            String,
            NaiveDateTime,
        ) = messages::table
            .filter(messages::id.eq(row_id))
            .filter(messages::case_id.eq(case.id))
            .select((
                messages::proposal,
                messages::from_address,
                messages::body_text,
                messages::sent_at,
            ))
            .first(c)
            .optional()?
            .ok_or(ProposalError::NotFound)?;
        let (dir, roles) = proposal
            .as_deref()
            .and_then(kind)
            .ok_or(ProposalError::NotFound)?;
        if !roles.contains(&actor.role()) {
            return Err(ProposalError::Forbidden);
        }
        let pm = ParsedMail {
            message_id: None,
            in_reply_to: vec![],
            references: vec![],
            thread_key: None,
            subject: String::new(),
            from_name: actor.name.clone(),
            from_address,
            to: vec![],
            sent_at: Some(sent_at),
            body_text: body.clone(),
            body_html: None,
            is_auto_reply: false,
            is_own_loop: false,
            attachments: vec![],
            auth_results: vec![],
        };
        apply_events(
            c,
            serial,
            &case,
            row_id,
            dir,
            &pm,
            &super::events::Body::read(&body),
            &actor.name,
            sent_at,
            super::events::Apply::Arriving,
        )?;
        diesel::update(messages::table.find(row_id))
            .set((
                messages::proposal.eq(None::<String>),
                messages::direction.eq(dir.as_str()),
            ))
            .execute(c)?;
        cases::audit(
            c,
            Some(case.id),
            &actor.name,
            "proposal.applied",
            proposal.as_deref().unwrap_or(""),
        )?;
        Ok(())
    })
}
