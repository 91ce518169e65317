//! A case report: one page about one case, to hand to an account manager or an OEM:
//! who and what, the evidence (serials with their activation records, decoded error
//! codes), the scope, the key events on a time line with their durations, and the
//! closure summary. Built from the case page's own data; free text is masked again
//! (product keys, passwords) since the page leaves the support team.

use crate::cases::detail::{CaseDetail, ClosureView, CodeView, ScopeView};
use crate::mail::extract::mask_secrets;
use chrono::NaiveDateTime;
use serde::Serialize;

/// One key event of the case.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Catalog key suffix: `case_report.event.{kind}`.
    pub kind: &'static str,
    pub at: String,
    /// Since the case opened, e.g. "3d 4h".
    pub since_opened: String,
    /// Since the event before.
    pub since_previous: String,
    /// What it was about (an escalation's question, shortened), when anything.
    pub detail: String,
    #[serde(skip)]
    at_time: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct Serial {
    pub serial: String,
    /// "online success", "offline failure 0x…", one per record; empty: none found.
    pub records: Vec<Record>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub activated_at: Option<String>,
    pub product: Option<String>,
    pub method: Option<String>,
    pub result: Option<String>,
    pub error_code: Option<String>,
    pub product_key: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    pub number: String,
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub customer: Option<String>,
    pub oem: Option<String>,
    pub products: Vec<String>,
    pub contact_email: Option<String>,
    pub assignee: Option<String>,
    pub imported: bool,
    pub opened_at: String,
    pub closed_at: Option<String>,
    /// Opened to closed (or to now, for an open live case; to its last message for
    /// open imported history).
    pub age: String,
    pub messages: i64,
    pub serials: Vec<Serial>,
    pub codes: Vec<CodeView>,
    pub scope: Option<ScopeView>,
    pub events: Vec<Event>,
    pub closure: Option<ClosureView>,
}

fn parse(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ").ok()
}

fn span(from: NaiveDateTime, to: NaiveDateTime) -> String {
    crate::cases::sla::short((to - from).num_minutes())
}

fn shorten(s: &str, n: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n).collect::<String>())
    } else {
        s
    }
}

/// The case report of a loaded case; `now` judges an open live case's age.
pub fn build(d: CaseDetail, now: NaiveDateTime) -> CaseReport {
    let opened = parse(&d.created_at).unwrap_or(now);
    let mut events: Vec<Event> = Vec::new();
    let mut push = |kind: &'static str, at: Option<NaiveDateTime>, detail: String| {
        if let Some(at) = at {
            events.push(Event {
                kind,
                at: crate::cases::detail::rfc3339(&at),
                since_opened: String::new(),
                since_previous: String::new(),
                detail,
                at_time: at,
            });
        }
    };
    push("opened", Some(opened), String::new());
    if d.first_customer_at.is_some_and(|t| t > opened) {
        push("customer_wrote", d.first_customer_at, String::new());
    }
    push("first_response", d.first_response, String::new());
    push(
        "scope",
        d.scope.as_ref().and_then(|s| parse(&s.created_at)),
        String::new(),
    );
    for e in &d.escalations {
        let question = shorten(&mask_secrets(&e.question), 80);
        push("escalated", parse(&e.opened_at), question);
        push(
            "rnd_answered",
            e.first_answered_at.as_deref().and_then(parse),
            String::new(),
        );
    }
    push(
        "closure",
        d.closure.as_ref().and_then(|c| parse(&c.created_at)),
        String::new(),
    );
    let closed = d.closed_at.as_deref().and_then(parse);
    if closed.is_some_and(|c| {
        d.closure
            .as_ref()
            .and_then(|x| parse(&x.created_at))
            .is_none_or(|t| t != c)
    }) {
        push("closed", closed, String::new());
    }
    // In time order (a stable sort keeps "opened" first on equal times).
    events.sort_by_key(|e| e.at_time);
    let mut previous = opened;
    for e in &mut events {
        e.since_opened = span(opened, e.at_time);
        e.since_previous = span(previous, e.at_time);
        previous = e.at_time;
    }
    let end = match closed {
        Some(c) => c,
        None if d.imported => parse(&d.updated_at).unwrap_or(now).min(now),
        None => now,
    };
    let serials = d
        .serial_numbers
        .iter()
        .map(|s| Serial {
            serial: s.clone(),
            records: d
                .activation_records
                .iter()
                .filter(|r| r.serial_number == *s || r.machine_serial.as_deref() == Some(s))
                .map(|r| Record {
                    activated_at: r.activated_at.as_ref().map(crate::cases::detail::rfc3339),
                    product: r.product.clone(),
                    method: r.method.clone(),
                    result: r.result.clone(),
                    error_code: r.error_code.clone(),
                    product_key: r.product_key.clone(),
                })
                .collect(),
        })
        .collect();
    let mut products: Vec<String> = d
        .activation_records
        .iter()
        .filter_map(|r| r.product.clone())
        .collect();
    products.sort();
    products.dedup();
    let mask_scope = |s: ScopeView| ScopeView {
        problem_definition: mask_secrets(&s.problem_definition),
        problem_scope: mask_secrets(&s.problem_scope),
        log_instructions: s.log_instructions.as_deref().map(mask_secrets),
        ..s
    };
    let mask_closure = |c: ClosureView| ClosureView {
        problem_definition: mask_secrets(&c.problem_definition),
        resolution: mask_secrets(&c.resolution),
        root_cause: c.root_cause.as_deref().map(mask_secrets),
        ..c
    };
    CaseReport {
        number: d.number,
        subject: mask_secrets(&d.subject),
        status: d.status,
        priority: d.priority,
        customer: d.customer,
        oem: d.oem,
        products,
        contact_email: d.contact_email,
        assignee: d.assignee,
        imported: d.imported,
        opened_at: d.created_at,
        closed_at: d.closed_at,
        age: span(opened, end),
        messages: d.message_count,
        serials,
        codes: d.error_codes,
        scope: d.scope.map(mask_scope),
        events,
        closure: d.closure.map(mask_closure),
    }
}
