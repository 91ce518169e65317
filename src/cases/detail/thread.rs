//! The thread panel: messages in order with their attachments, and what the log
//! bundles and text attachments say.

use super::{rfc3339, AttachmentView, FindingView, MessageView};
use crate::db::schema::{attachments, bundle_findings, messages};
use crate::db::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Findings shown at most.
const MAX_FINDINGS: i64 = 300;

pub(super) fn attachments(conn: &mut DbConn, case_id: i64) -> QueryResult<Vec<AttachmentView>> {
    attachments::table
        .filter(attachments::case_id.eq(case_id))
        .order(attachments::id.asc())
        .select(AttachmentView::as_select())
        .load(conn)
}

/// What the bundles say, with file and line (timestamps only where they have a line).
pub(super) fn findings(
    conn: &mut DbConn,
    case_id: i64,
    atts: &[AttachmentView],
) -> QueryResult<Vec<FindingView>> {
    Ok(bundle_findings::table
        .filter(bundle_findings::case_id.eq(case_id))
        .filter(
            bundle_findings::kind
                .ne("timestamp")
                .or(bundle_findings::line.gt(0)),
        )
        .order(bundle_findings::id.asc())
        .limit(MAX_FINDINGS)
        .select((
            bundle_findings::attachment_id,
            bundle_findings::entry_path,
            bundle_findings::line,
            bundle_findings::kind,
            bundle_findings::value,
        ))
        .load::<(i64, String, i64, String, String)>(conn)?
        .into_iter()
        .map(|(att, entry, line, kind, value)| FindingView {
            attachment: atts
                .iter()
                .find(|a| a.id == att)
                .map(|a| a.filename.clone())
                .unwrap_or_default(),
            entry,
            line,
            kind,
            value,
        })
        .collect())
}

#[derive(Queryable)]
struct MsgRow {
    row_id: i64,
    message_id: String,
    from_name: String,
    from_address: String,
    sent_at: NaiveDateTime,
    direction: String,
    is_auto_reply: bool,
    subject: String,
    body_text: String,
    proposal: Option<String>,
}

/// The messages, oldest first, each with its attachments and its quoted text folded.
pub(super) fn messages(
    conn: &mut DbConn,
    case_id: i64,
    atts: &[AttachmentView],
) -> QueryResult<Vec<MessageView>> {
    Ok(messages::table
        .filter(messages::case_id.eq(case_id))
        .order((messages::sent_at.asc(), messages::id.asc()))
        .select((
            messages::id,
            messages::message_id,
            messages::from_name,
            messages::from_address,
            messages::sent_at,
            messages::direction,
            messages::is_auto_reply,
            messages::subject,
            messages::body_text,
            messages::proposal,
        ))
        .load::<MsgRow>(conn)?
        .into_iter()
        .map(|m| {
            let (main_text, folded_text) = crate::mail::extract::split_folded(&m.body_text);
            MessageView {
                row_id: m.row_id,
                message_id: m.message_id,
                from_name: m.from_name,
                from_address: m.from_address,
                sent_at: rfc3339(&m.sent_at),
                direction: m.direction,
                is_auto_reply: m.is_auto_reply,
                subject: m.subject,
                attachments: atts
                    .iter()
                    .filter(|a| a.message_row_id == m.row_id)
                    .cloned()
                    .collect(),
                body_text: m.body_text,
                proposal: m.proposal,
                main_text,
                folded_text,
            }
        })
        .collect())
}
