//! The thread panel: messages in order with their attachments, and what the log
//! bundles and text attachments say.

use super::{rfc3339, AttachmentView, FindingView, MessageView};
use crate::db::schema::{attachments, bundle_findings, message_html, messages};
use crate::db::DbConn;
use crate::db::Direct;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Findings shown at most.
const MAX_FINDINGS: i64 = 300;

/// Attachments listed in the panel at most (the newest; the thread shows each
/// message's own).
const MAX_ATTACHMENTS: i64 = 200;

/// The case's attachments for the panel: the newest [`MAX_ATTACHMENTS`], oldest first.
fn attachments(conn: &mut DbConn, case_id: i64) -> QueryResult<Vec<AttachmentView>> {
    let mut v: Vec<AttachmentView> = crate::on_engine!(conn, |c| attachments::table
        .filter(attachments::case_id.eq(case_id))
        .order(attachments::id.desc())
        .limit(MAX_ATTACHMENTS)
        .select(AttachmentView::as_select())
        .load(c))?;
    v.reverse();
    Ok(v)
}

/// What the bundles say, with file and line (timestamps only where they have a line).
pub(super) fn findings(conn: &mut DbConn, case_id: i64) -> QueryResult<Vec<FindingView>> {
    Ok(bundle_findings::table
        .inner_join(attachments::table.on(attachments::id.eq(bundle_findings::attachment_id)))
        .filter(bundle_findings::case_id.eq(case_id))
        .filter(
            bundle_findings::kind
                .ne("timestamp")
                .or(bundle_findings::line.gt(0)),
        )
        .order(bundle_findings::id.asc())
        .limit(MAX_FINDINGS)
        .select((
            attachments::filename,
            bundle_findings::entry_path,
            bundle_findings::line,
            bundle_findings::kind,
            bundle_findings::value,
        ))
        .rows::<(String, String, i64, String, String)>(conn)?
        .into_iter()
        .map(|(attachment, entry, line, kind, value)| FindingView {
            attachment,
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
    #[diesel(deserialize_as = crate::db::Stamp)]
    sent_at: NaiveDateTime,
    direction: String,
    is_auto_reply: bool,
    subject: String,
    body_text: String,
    proposal: Option<String>,
    /// The HTML part as shown (`message_html`, read in the same query), its quoted
    /// part and the count of remote images it blocked.
    html: Option<String>,
    quoted_html: Option<String>,
    blocked_images: Option<i64>,
}

/// Which part of a long thread the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThreadWindow {
    /// The first message and the newest [`RECENT`]: the first screen of any case costs
    /// the same, whatever the length of its thread.
    #[default]
    Recent,
    /// The first message and the newest `n`, more than [`RECENT`] and at most
    /// [`NEWEST_MAX`] (`?newest=n`: "Show earlier messages", [`EARLIER`] at a time).
    Newest(i64),
    /// Every message (asked for explicitly: `?thread=all`).
    All,
}

impl ThreadWindow {
    /// The window for `?newest=n`: [`Recent`](Self::Recent) up to [`RECENT`], at most
    /// [`NEWEST_MAX`].
    pub fn newest(n: i64) -> ThreadWindow {
        if n <= RECENT {
            ThreadWindow::Recent
        } else {
            ThreadWindow::Newest(n.min(NEWEST_MAX))
        }
    }

    /// How many of the newest messages the window holds (`None`: all of them).
    fn limit(self) -> Option<i64> {
        match self {
            ThreadWindow::Recent => Some(RECENT),
            ThreadWindow::Newest(n) => Some(n),
            ThreadWindow::All => None,
        }
    }
}

/// Newest messages shown on a case's first screen (besides the first message). A case
/// page's cost follows the messages it shows: at 40, a case of thousands of messages
/// served two thirds of what a case of ten does.
pub const RECENT: i64 = 20;

/// Messages each "Show earlier messages" adds to the window.
pub const EARLIER: i64 = 40;

/// The largest window short of the whole thread (`?thread=all`).
pub const NEWEST_MAX: i64 = 1000;

/// The thread as the page shows it.
pub(super) struct Thread {
    pub messages: Vec<MessageView>,
    /// Messages in the case (shown or not).
    pub total: i64,
    /// The case's attachments for the panel ([`attachments`]), read after the messages.
    pub attachments: Vec<AttachmentView>,
}

fn select_messages(
    conn: &mut DbConn,
    case_id: i64,
    newest_first: bool,
    limit: Option<i64>,
) -> QueryResult<Vec<MsgRow>> {
    let cols = (
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
        message_html::html.nullable(),
        message_html::quoted.nullable(),
        message_html::blocked_images.nullable(),
    );
    crate::on_engine!(conn, |c| {
        let mut q = messages::table
            .left_join(message_html::table.on(message_html::message_row_id.eq(messages::id)))
            .filter(messages::case_id.eq(case_id))
            .select(cols)
            .into_boxed();
        q = if newest_first {
            q.order((messages::sent_at.desc(), messages::id.desc()))
        } else {
            q.order((messages::sent_at.asc(), messages::id.asc()))
        };
        if let Some(n) = limit {
            q = q.limit(n);
        }
        q.load::<MsgRow>(c)
    })
}

/// The messages, oldest first, each with its attachments and its quoted text folded:
/// all of them, or the first and the window's newest (each an index range of the
/// case's messages under a LIMIT; `message_count` is the case's, shown when messages
/// are left out).
/// The case's attachments for the panel ([`attachments`]) are read after the messages;
/// when that list holds every attachment of the case, the messages take theirs from it
/// instead of reading them again.
pub(super) fn messages(
    conn: &mut DbConn,
    case_id: i64,
    number: &str,
    message_count: i64,
    window: ThreadWindow,
) -> QueryResult<Thread> {
    // The case's own count when messages are left out (kept by triggers; at least
    // what was read, should a message land between the two reads on PostgreSQL).
    let (rows, total) = match window.limit() {
        None => {
            let all = select_messages(conn, case_id, false, None)?;
            let n = all.len() as i64;
            (all, n)
        }
        Some(limit) => {
            let mut newest = select_messages(conn, case_id, true, Some(limit + 1))?;
            let total = if newest.len() as i64 > limit {
                // More than the window: the first message is older than all of those kept.
                newest.truncate(limit as usize);
                newest.extend(select_messages(conn, case_id, false, Some(1))?);
                message_count.max(newest.len() as i64)
            } else {
                newest.len() as i64
            };
            newest.reverse();
            (newest, total)
        }
    };
    let ids: Vec<i64> = rows.iter().map(|m| m.row_id).collect();
    let case_attachments = attachments(conn, case_id)?;
    // The whole thread is read by case (a list of ids could pass the engines' limit on
    // bound values); a window by its few message ids.
    // The panel's list is every attachment of the case when it is under its limit
    // (messages and their attachments move between cases together: `merge`).
    let atts: Vec<AttachmentView> = if (case_attachments.len() as i64) < MAX_ATTACHMENTS {
        let shown: std::collections::HashSet<i64> = ids.iter().copied().collect();
        case_attachments
            .iter()
            .filter(|a| shown.contains(&a.message_row_id))
            .cloned()
            .collect()
    } else if window == ThreadWindow::All {
        crate::on_engine!(conn, |c| attachments::table
            .filter(attachments::case_id.eq(case_id))
            .order(attachments::id.asc())
            .select(AttachmentView::as_select())
            .load(c))?
    } else {
        let among = crate::db::ids_in(conn, "attachments.message_row_id", &ids);
        crate::on_engine!(conn, |c| attachments::table
            .filter(among)
            .order(attachments::id.asc())
            .select(AttachmentView::as_select())
            .load(c))?
    };
    let messages = rows
        .into_iter()
        .map(|m| {
            let (main_text, folded_text) = crate::mail::extract::split_folded(&m.body_text);
            let link = |h: &str| {
                crate::mail::html::link_inline(h, |sha| {
                    atts.iter()
                        .find(|a| a.message_row_id == m.row_id && a.sha256 == sha)
                        .map(|a| format!("/cases/{number}/attachments/{}/inline", a.id))
                })
            };
            let body_html = m.html.as_deref().map(link);
            let quoted_html = m.html.as_ref().and(m.quoted_html.as_deref()).map(link);
            let blocked_images = m.blocked_images.unwrap_or(0);
            MessageView {
                body_html,
                quoted_html,
                blocked_images,
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
        .collect();
    Ok(Thread {
        messages,
        total,
        attachments: case_attachments,
    })
}
