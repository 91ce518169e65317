//! Everything about one case, as the case page and `GET /api/cases/{number}` show it.

use super::CaseRow;
use crate::db::schema::{
    attachments, audit_events, case_codes, case_serials, closures, escalation_entries, escalations,
    messages, scopes,
};
use crate::db::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

pub fn rfc3339(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn opt_rfc3339(t: &Option<NaiveDateTime>) -> Option<String> {
    t.as_ref().map(rfc3339)
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentView {
    #[serde(skip)]
    pub id: i64,
    #[serde(skip)]
    pub message_row_id: i64,
    pub filename: String,
    pub size: i64,
    pub content_type: String,
    pub is_tnef: bool,
    /// `ok` (inspected bundle), `refused` (hostile or damaged: see note), `text`, or null.
    pub bundle_status: Option<String>,
    pub bundle_note: Option<String>,
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
    #[serde(skip)]
    pub main_text: String,
    #[serde(skip)]
    pub folded_text: String,
    pub attachments: Vec<AttachmentView>,
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
    pub messages: Vec<MessageView>,
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
    pub audit: Vec<AuditView>,
}

type MsgRow = (
    i64,
    String,
    String,
    String,
    NaiveDateTime,
    String,
    bool,
    String,
    String,
);
type EscRow = (
    i64,
    String,
    String,
    Option<String>,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

/// The case page's data for case `number`; `NotFound` when there is no such case.
pub fn load_by_number(conn: &mut DbConn, number: &str) -> QueryResult<CaseDetail> {
    let case = super::find_by_number(conn, number)?.ok_or(diesel::result::Error::NotFound)?;
    load(conn, case)
}

pub fn load(conn: &mut DbConn, case: CaseRow) -> QueryResult<CaseDetail> {
    type AttRow = (
        i64,
        i64,
        String,
        i64,
        String,
        bool,
        Option<String>,
        Option<String>,
    );
    let atts: Vec<AttachmentView> = attachments::table
        .filter(attachments::case_id.eq(case.id))
        .order(attachments::id.asc())
        .select((
            attachments::id,
            attachments::message_row_id,
            attachments::filename,
            attachments::size,
            attachments::content_type,
            attachments::is_tnef,
            attachments::bundle_status,
            attachments::bundle_note,
        ))
        .load::<AttRow>(conn)?
        .into_iter()
        .map(
            |(
                id,
                message_row_id,
                filename,
                size,
                content_type,
                is_tnef,
                bundle_status,
                bundle_note,
            )| AttachmentView {
                id,
                message_row_id,
                filename,
                size,
                content_type,
                is_tnef,
                bundle_status,
                bundle_note,
            },
        )
        .collect();
    let findings: Vec<FindingView> = crate::db::schema::bundle_findings::table
        .filter(crate::db::schema::bundle_findings::case_id.eq(case.id))
        .filter(
            crate::db::schema::bundle_findings::kind
                .ne("timestamp")
                .or(crate::db::schema::bundle_findings::line.gt(0)),
        )
        .order(crate::db::schema::bundle_findings::id.asc())
        .limit(300)
        .select((
            crate::db::schema::bundle_findings::attachment_id,
            crate::db::schema::bundle_findings::entry_path,
            crate::db::schema::bundle_findings::line,
            crate::db::schema::bundle_findings::kind,
            crate::db::schema::bundle_findings::value,
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
        .collect();
    let msgs: Vec<MessageView> = messages::table
        .filter(messages::case_id.eq(case.id))
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
        ))
        .load::<MsgRow>(conn)?
        .into_iter()
        .map(
            |(
                row_id,
                message_id,
                from_name,
                from_address,
                sent,
                direction,
                is_auto_reply,
                subject,
                body,
            )| {
                let (main_text, folded_text) = crate::mail::extract::split_folded(&body);
                MessageView {
                    row_id,
                    message_id,
                    from_name,
                    from_address,
                    sent_at: rfc3339(&sent),
                    direction,
                    is_auto_reply,
                    subject,
                    attachments: atts
                        .iter()
                        .filter(|a| a.message_row_id == row_id)
                        .cloned()
                        .collect(),
                    body_text: body,
                    main_text,
                    folded_text,
                }
            },
        )
        .collect();
    let codes = case_codes::table
        .filter(case_codes::case_id.eq(case.id))
        .order(case_codes::id.asc())
        .select((case_codes::code, case_codes::found_in))
        .load::<(String, String)>(conn)?
        .into_iter()
        .map(|(code, found_in)| {
            let d = crate::codes::lookup(&code);
            CodeView {
                kind: d.as_ref().map(|d| d.kind.to_string()).unwrap_or_default(),
                name: d.as_ref().map(|d| d.name.clone()).unwrap_or_default(),
                description: d
                    .as_ref()
                    .map(|d| {
                        d.plain
                            .clone()
                            .filter(|_| d.description.is_empty())
                            .unwrap_or_else(|| d.description.clone())
                    })
                    .unwrap_or_default(),
                facility: d.as_ref().map(|d| d.facility.clone()).unwrap_or_default(),
                code,
                found_in,
                note: None,
            }
        })
        .collect::<Vec<CodeView>>();
    let mut codes = codes;
    for c in codes.iter_mut() {
        c.note = crate::activation::code_note(conn, &c.code)?.map(|n| n.0);
    }
    let serial_rows: Vec<(String, String)> = case_serials::table
        .filter(case_serials::case_id.eq(case.id))
        .order(case_serials::id.asc())
        .select((case_serials::serial, case_serials::kind))
        .load(conn)?;
    let serial_numbers = serial_rows
        .iter()
        .filter(|(_, k)| k == "serial")
        .map(|(s, _)| s.clone())
        .collect();
    let product_keys = serial_rows
        .iter()
        .filter(|(_, k)| k == "product_key")
        .map(|(s, _)| s.clone())
        .collect();
    let esc_rows: Vec<EscRow> = escalations::table
        .filter(escalations::case_id.eq(case.id))
        .order(escalations::id.asc())
        .select((
            escalations::id,
            escalations::status,
            escalations::question,
            escalations::serial_number,
            escalations::opened_by,
            escalations::opened_at,
            escalations::first_answered_at,
        ))
        .load(conn)?;
    let esc_ids: Vec<i64> = esc_rows.iter().map(|r| r.0).collect();
    let entries: Vec<(i64, String, String, String, NaiveDateTime)> = escalation_entries::table
        .filter(escalation_entries::escalation_id.eq_any(&esc_ids))
        .order((
            escalation_entries::created_at.asc(),
            escalation_entries::id.asc(),
        ))
        .select((
            escalation_entries::escalation_id,
            escalation_entries::kind,
            escalation_entries::author_name,
            escalation_entries::body_text,
            escalation_entries::created_at,
        ))
        .load(conn)?;
    let escalations = esc_rows
        .into_iter()
        .map(
            |(id, status, question, serial_number, opened_by, opened_at, first_answered_at)| {
                let mine: Vec<EntryView> = entries
                    .iter()
                    .filter(|e| e.0 == id)
                    .map(|e| EntryView {
                        kind: e.1.clone(),
                        from_name: e.2.clone(),
                        body_text: e.3.clone(),
                        created_at: rfc3339(&e.4),
                    })
                    .collect();
                EscalationView {
                    id,
                    status,
                    question,
                    serial_number,
                    opened_by,
                    opened_at: rfc3339(&opened_at),
                    first_answered_at: opt_rfc3339(&first_answered_at),
                    answers: mine
                        .iter()
                        .filter(|e| e.kind == "answer")
                        .cloned()
                        .collect(),
                    followups: mine
                        .iter()
                        .filter(|e| e.kind == "followup")
                        .cloned()
                        .collect(),
                    entries: mine,
                }
            },
        )
        .collect();
    let scope_rows: Vec<(String, String, Option<String>, String, NaiveDateTime)> = scopes::table
        .filter(scopes::case_id.eq(case.id))
        .order(scopes::id.desc())
        .select((
            scopes::problem_definition,
            scopes::problem_scope,
            scopes::log_instructions,
            scopes::author,
            scopes::created_at,
        ))
        .load(conn)?;
    let versions = scope_rows.len();
    let scope = scope_rows
        .into_iter()
        .next()
        .map(|(d, s, l, a, t)| ScopeView {
            problem_definition: d,
            problem_scope: s,
            log_instructions: l,
            author: a,
            created_at: rfc3339(&t),
            versions,
        });
    let closure = closures::table
        .filter(closures::case_id.eq(case.id))
        .order(closures::id.desc())
        .select((
            closures::problem_definition,
            closures::resolution,
            closures::root_cause,
            closures::customer_agreed,
            closures::author,
            closures::created_at,
        ))
        .first::<(String, String, Option<String>, bool, String, NaiveDateTime)>(conn)
        .optional()?
        .map(|(d, r, rc, agreed, a, t)| ClosureView {
            problem_definition: d,
            resolution: r,
            root_cause: rc,
            customer_agreed: agreed,
            author: a,
            created_at: rfc3339(&t),
        });
    let audit = audit_events::table
        .filter(audit_events::case_id.eq(case.id))
        .order(audit_events::id.desc())
        .limit(200)
        .select((
            audit_events::actor,
            audit_events::action,
            audit_events::detail,
            audit_events::created_at,
        ))
        .load::<(String, String, String, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(actor, action, detail, t)| AuditView {
            actor,
            action,
            detail,
            created_at: rfc3339(&t),
        })
        .collect();
    let assignee = match case.assignee_id {
        Some(a) => crate::db::schema::users::table
            .find(a)
            .select(crate::db::schema::users::name)
            .first::<String>(conn)
            .optional()?,
        None => None,
    };
    let outbox = crate::mail::outbox::for_case(conn, case.id)?;
    let serial_list: Vec<String> = serial_rows
        .iter()
        .filter(|(_, k)| k == "serial")
        .map(|(s, _)| s.clone())
        .collect();
    let activation_records = crate::activation::for_serials(conn, &serial_list)?;
    let activation_missing = serial_list
        .iter()
        .filter(|s| {
            !activation_records
                .iter()
                .any(|r| &r.serial_number == *s || r.machine_serial.as_deref() == Some(s.as_str()))
        })
        .cloned()
        .collect();
    let similar_cases = similar(
        conn,
        case.id,
        &codes.iter().map(|c| c.code.clone()).collect::<Vec<_>>(),
        &serial_list,
    )?;
    Ok(CaseDetail {
        assignee,
        assignee_id: case.assignee_id,
        contact_email: case.contact_email.clone(),
        outbox,
        activation_records,
        activation_missing,
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
        messages: msgs,
        error_codes: codes,
        serial_numbers,
        product_keys,
        attachments: atts,
        escalations,
        scope,
        closure,
        audit,
    })
}

/// Closed cases sharing error codes (weight 2) or serial-number prefixes (weight 1), best first.
/// A few indexed queries whatever the number of candidates: the newest closed cases
/// carrying each code or serial prefix, then their latest resolutions in one go.
fn similar(
    conn: &mut DbConn,
    case_id: i64,
    codes: &[String],
    serials: &[String],
) -> QueryResult<Vec<SimilarCase>> {
    use crate::db::schema::cases;
    type Candidate = (i64, String, String);
    /// Score, what is shared, number, subject.
    type Scored = (i64, Vec<String>, String, String);
    let mut score: std::collections::HashMap<i64, Scored> = std::collections::HashMap::new();
    let mut add = |rows: Vec<(i64, String, String)>, weight: i64, shared: &str| {
        for (id, number, subject) in rows {
            let e = score
                .entry(id)
                .or_insert_with(|| (0, Vec::new(), number, subject));
            e.0 += weight;
            if !e.1.iter().any(|s| s == shared) {
                e.1.push(shared.to_string());
            }
        }
    };
    for code in codes.iter().take(10) {
        let rows: Vec<Candidate> = case_codes::table
            .inner_join(cases::table.on(cases::id.eq(case_codes::case_id)))
            .filter(case_codes::code.eq(code))
            .filter(case_codes::case_id.ne(case_id))
            .filter(cases::status.eq("closed"))
            .order(case_codes::id.desc())
            .select((cases::id, cases::number, cases::subject))
            .limit(50)
            .load(conn)?;
        add(rows, 2, code);
    }
    for s in serials.iter().take(5) {
        if s.len() < 8 {
            continue;
        }
        let prefix: String = s.chars().take(6).collect();
        let pattern = format!("{}%", super::escape_like(&prefix));
        let mut q = case_serials::table
            .inner_join(cases::table.on(cases::id.eq(case_serials::case_id)))
            .filter(case_serials::serial.like(pattern).escape('\\'))
            .filter(case_serials::case_id.ne(case_id))
            .filter(cases::status.eq("closed"))
            .select((cases::id, cases::number, cases::subject))
            .limit(50)
            .into_boxed();
        if crate::db::is_sqlite(conn) {
            // SQLite's LIKE cannot use the index; a byte range on it can (U+10FFFF sorts
            // after every other character in SQLite's binary collation).
            q = q
                .filter(case_serials::serial.ge(prefix.clone()))
                .filter(case_serials::serial.lt(format!("{prefix}\u{10FFFF}")));
        }
        let rows: Vec<Candidate> = q.load(conn)?;
        add(rows, 1, &format!("{prefix}…"));
    }
    let mut ranked: Vec<(i64, Scored)> = score.into_iter().collect();
    ranked.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(b.0.cmp(&a.0)));
    ranked.truncate(5);
    let ids: Vec<i64> = ranked.iter().map(|r| r.0).collect();
    let mut resolutions: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
    // Oldest first, so the latest closure of each case wins.
    for (id, resolution) in closures::table
        .filter(closures::case_id.eq_any(&ids))
        .order(closures::id.asc())
        .select((closures::case_id, closures::resolution))
        .load::<(i64, String)>(conn)?
    {
        resolutions.insert(id, resolution);
    }
    Ok(ranked
        .into_iter()
        .map(|(id, (_, shared, number, subject))| SimilarCase {
            number,
            subject,
            shared,
            resolution: resolutions.remove(&id),
        })
        .collect())
}
