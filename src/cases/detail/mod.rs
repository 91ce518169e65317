//! Everything about one case, as the case page and `GET /api/cases/{number}` show it:
//! the views, and [`load`], which composes one loader per panel (thread, evidence,
//! escalation work, similar cases, audit).

mod evidence;
mod similar;
mod thread;
mod work;

pub use thread::{ThreadWindow, EARLIER, NEWEST_MAX, RECENT};

use super::CaseRow;
use crate::db::schema::audit_events;
use crate::db::DbConn;
use crate::db::Direct;
use crate::db::Stamp;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

pub fn rfc3339(t: &NaiveDateTime) -> String {
    crate::db::stamp::rfc3339(t)
}

fn opt_rfc3339(t: &Option<NaiveDateTime>) -> Option<String> {
    t.as_ref().map(rfc3339)
}

#[derive(Debug, Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = crate::db::schema::attachments)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct AttachmentView {
    /// What `attachment_ids` of an escalation or a reply name.
    pub id: i64,
    #[serde(skip)]
    pub message_row_id: i64,
    pub filename: String,
    pub size: i64,
    pub content_type: String,
    pub is_tnef: bool,
    #[serde(skip)]
    pub sha256: String,
    /// `ok` (inspected bundle), `refused` (hostile or damaged: see note), `text`, or null.
    pub bundle_status: Option<String>,
    pub bundle_note: Option<String>,
}

impl AttachmentView {
    /// A raster image the page shows as a thumbnail (by its declared type; the
    /// thumbnail route checks the bytes). Never SVG.
    pub fn is_image(&self) -> bool {
        let t = self.content_type.to_ascii_lowercase();
        let name = self.filename.to_ascii_lowercase();
        [
            "image/png",
            "image/jpeg",
            "image/jpg",
            "image/gif",
            "image/webp",
            "image/bmp",
        ]
        .contains(&t.as_str())
            || [".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"]
                .iter()
                .any(|e| name.ends_with(e))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingView {
    pub attachment: String,
    pub entry: String,
    pub line: i64,
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    #[serde(skip)]
    pub row_id: i64,
    pub message_id: String,
    pub from_name: String,
    pub from_address: String,
    pub sent_at: String,
    pub direction: String,
    pub is_auto_reply: bool,
    pub subject: String,
    pub body_text: String,
    /// The HTML part, cleaned at arrival (`mail::html`), inline images pointing at
    /// their attachment; null for plain-text mail.
    pub body_html: Option<String>,
    /// The quoted history of the HTML part (folded on the page), cleaned the same way.
    pub quoted_html: Option<String>,
    /// Remote images removed from the HTML part.
    pub blocked_images: i64,
    #[serde(skip)]
    pub main_text: String,
    #[serde(skip)]
    pub folded_text: String,
    pub attachments: Vec<AttachmentView>,
    /// A staff action this unverified live message proposes (see `mail::ingest::trust`).
    pub proposal: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CodeView {
    pub code: String,
    pub kind: String,
    pub name: String,
    pub description: String,
    pub facility: String,
    pub found_in: String,
    /// R&D's note on what the code means in our products.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimilarCase {
    pub number: String,
    pub subject: String,
    pub shared: Vec<String>,
    pub resolution: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryView {
    pub kind: String,
    pub from_name: String,
    pub body_text: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EscalationView {
    pub id: i64,
    pub status: String,
    pub question: String,
    pub serial_number: Option<String>,
    pub opened_by: String,
    pub opened_at: String,
    pub first_answered_at: Option<String>,
    pub answers: Vec<EntryView>,
    pub followups: Vec<EntryView>,
    #[serde(skip)]
    pub entries: Vec<EntryView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScopeView {
    pub problem_definition: String,
    pub problem_scope: String,
    pub log_instructions: Option<String>,
    pub author: String,
    pub created_at: String,
    pub versions: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClosureView {
    pub problem_definition: String,
    pub resolution: String,
    pub root_cause: Option<String>,
    pub customer_agreed: bool,
    pub author: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditView {
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseDetail {
    #[serde(skip)]
    pub id: i64,
    pub number: String,
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub customer: Option<String>,
    pub oem: Option<String>,
    pub tracking_token: String,
    pub language: String,
    pub created_at: String,
    pub updated_at: String,
    pub first_response_at: Option<String>,
    pub closed_at: Option<String>,
    /// Imported history: judged by the thread's own times, never overdue.
    pub imported: bool,
    /// The case this one was merged into (its number), when it was.
    pub merged_into: Option<String>,
    /// Cases one message tied to this one, already worked: possibly the same thread.
    pub linked: Vec<String>,
    /// Cases merged into this one (not undone).
    pub merges: Vec<crate::cases::merge::MergeView>,
    pub messages: Vec<MessageView>,
    /// Messages in the case; more than `messages.len()` when the page shows the first
    /// and the newest only (`?newest=n` shows more, `?thread=all` all of them).
    pub message_count: i64,
    pub error_codes: Vec<CodeView>,
    pub serial_numbers: Vec<String>,
    pub product_keys: Vec<String>,
    pub attachments: Vec<AttachmentView>,
    pub escalations: Vec<EscalationView>,
    pub scope: Option<ScopeView>,
    pub closure: Option<ClosureView>,
    pub assignee: Option<String>,
    #[serde(skip)]
    pub assignee_id: Option<i64>,
    pub contact_email: Option<String>,
    pub outbox: Vec<crate::mail::outbox::OutboxView>,
    pub activation_records: Vec<crate::activation::RecordRow>,
    /// Serial numbers of the case with no activation record.
    pub activation_missing: Vec<String>,
    pub similar_cases: Vec<SimilarCase>,
    /// What the log bundles and text attachments say, with file and line.
    pub findings: Vec<FindingView>,
    #[serde(skip)]
    pub first_customer_at: Option<NaiveDateTime>,
    #[serde(skip)]
    pub first_response: Option<NaiveDateTime>,
    /// The audit trail, newest first: the newest [`AUDIT_SHOWN`] on the first screen,
    /// up to [`AUDIT_WHOLE`] with the whole thread.
    pub audit: Vec<AuditView>,
    /// Older events exist than `audit` holds.
    pub audit_more: bool,
}

impl CaseDetail {
    /// "Show earlier messages" of a windowed thread: the next window (`?newest=`) and
    /// how many messages it adds; `None` when every message is shown or the window is
    /// at [`NEWEST_MAX`] (the whole thread is the next step then).
    pub fn earlier(&self) -> Option<(i64, i64)> {
        let shown = self.messages.len() as i64;
        let hidden = self.message_count - shown;
        // The first message is shown besides the window's newest.
        let newest = shown - 1;
        if hidden <= 0 || newest >= NEWEST_MAX {
            return None;
        }
        let step = hidden.min(EARLIER).min(NEWEST_MAX - newest);
        Some((newest + step, step))
    }
}

/// The case with this number, with everything its page shows; `NotFound` when there
/// is none.
/// Every query is an index range under a small LIMIT (or bounded by the case's own
/// size), so the cost does not grow with the database; `tests/cost.rs` keeps it so.
/// Read at one moment on SQLite (`db::read_tx`; in the caller's read transaction when
/// there is one, as on the case page), whoever asks: the page, the API, the case
/// report, the canned replies filled for the case.
#[tracing::instrument(skip(conn))]
pub fn load_by_number(
    conn: &mut DbConn,
    number: &str,
    window: ThreadWindow,
) -> QueryResult<CaseDetail> {
    crate::db::read_tx(conn, |conn| {
        let case = super::find_by_number(conn, number)?.ok_or(diesel::result::Error::NotFound)?;
        load(conn, case, window)
    })
}

/// Everything the case page shows about `case`.
pub fn load(conn: &mut DbConn, case: CaseRow, window: ThreadWindow) -> QueryResult<CaseDetail> {
    // The messages first, then the case's attachments (`thread::messages` reads them
    // after): on PostgreSQL each statement sees the latest commit, and a reply that
    // lands in between then shows in neither rather than without its attachments.
    let thread = thread::messages(conn, case.id, &case.number, case.message_count, window)?;
    let findings = thread::findings(conn, case.id)?;
    let error_codes = evidence::codes(conn, case.id)?;
    let serials = evidence::serials(conn, case.id)?;
    let escalations = work::escalations(conn, case.id)?;
    let scope = work::scope(conn, case.id)?;
    let closure = work::closure(conn, case.id)?;
    let (audit, audit_more) = audit(
        conn,
        case.id,
        match window {
            ThreadWindow::Recent | ThreadWindow::Newest(_) => AUDIT_SHOWN,
            ThreadWindow::All => AUDIT_WHOLE,
        },
    )?;
    let assignee = assignee_name(conn, case.assignee_id)?;
    let outbox = crate::mail::outbox::for_case(conn, case.id)?;
    let activation = evidence::activation(conn, &serials.serial_numbers)?;
    let merged_into = match case.merged_into {
        Some(id) => super::find(conn, id)?.map(|c| c.number),
        None => None,
    };
    let linked = super::merge::linked(conn, case.id)?;
    let merges = super::merge::merges_into(conn, case.id)?;
    let similar_cases = similar::similar(
        conn,
        case.id,
        &error_codes
            .iter()
            .map(|c| c.code.clone())
            .collect::<Vec<_>>(),
        &serials.serial_numbers,
    )?;
    Ok(CaseDetail {
        assignee,
        assignee_id: case.assignee_id,
        contact_email: case.contact_email.clone(),
        outbox,
        activation_records: activation.records,
        activation_missing: activation.missing,
        similar_cases,
        findings,
        first_customer_at: case.first_customer_at,
        first_response: case.first_response_at,
        id: case.id,
        number: case.number,
        subject: case.subject,
        status: case.status,
        priority: case.priority,
        customer: case.customer,
        oem: case.oem,
        tracking_token: case.tracking_token,
        language: case.language,
        created_at: rfc3339(&case.created_at),
        updated_at: rfc3339(&case.updated_at),
        first_response_at: opt_rfc3339(&case.first_response_at),
        closed_at: opt_rfc3339(&case.closed_at),
        imported: case.imported,
        merged_into,
        linked,
        merges,
        messages: thread.messages,
        message_count: thread.total,
        error_codes,
        serial_numbers: serials.serial_numbers,
        product_keys: serials.product_keys,
        attachments: thread.attachments,
        escalations,
        scope,
        closure,
        audit,
        audit_more,
    })
}

/// Audit events on the first screen. A case of 2,000 messages holds thousands: reading
/// 200 of them was 29 % of its page (profiled in session 30), behind a closed panel.
pub const AUDIT_SHOWN: i64 = 50;

/// Audit events read with the whole thread (`?thread=all`).
pub const AUDIT_WHOLE: i64 = 1000;

/// The audit panel: the newest `limit` events, and whether there are older ones.
fn audit(conn: &mut DbConn, case_id: i64, limit: i64) -> QueryResult<(Vec<AuditView>, bool)> {
    let mut events: Vec<AuditView> = audit_events::table
        .filter(audit_events::case_id.eq(case_id))
        // The order of the index (case_id, created_at): the newest read, no sort.
        .order((audit_events::created_at.desc(), audit_events::id.desc()))
        .limit(limit + 1)
        .select((
            audit_events::actor,
            audit_events::action,
            audit_events::detail,
            audit_events::created_at,
        ))
        .rows::<(String, String, String, Stamp)>(conn)?
        .into_iter()
        .map(|(actor, action, detail, t)| AuditView {
            actor,
            action,
            detail,
            created_at: rfc3339(&t.0),
        })
        .collect();
    let more = events.len() as i64 > limit;
    events.truncate(limit as usize);
    Ok((events, more))
}

fn assignee_name(conn: &mut DbConn, assignee: Option<i64>) -> QueryResult<Option<String>> {
    match assignee {
        Some(a) => crate::db::schema::users::table
            .find(a)
            .select(crate::db::schema::users::name)
            .first_row::<String>(conn)
            .optional(),
        None => Ok(None),
    }
}
