//! A customer's page: every case of one customer (organisation), newest activity
//! first, with its contacts, serials and their activation records, open escalations
//! and the error codes it keeps meeting. Each list is bounded: a customer with 50,000
//! cases shows the newest `CASES` and says there are more.

use super::CaseRow;
use crate::db::schema::{case_codes, case_serials, cases, escalations, messages};
use crate::db::DbConn;
use crate::db::Direct;
use diesel::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Cases shown (the newest activity first).
pub const CASES: i64 = 200;

#[derive(Debug, Clone, Serialize)]
pub struct CaseLine {
    pub number: String,
    pub subject: String,
    pub status: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Contact {
    pub name: String,
    pub address: String,
    pub messages: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OpenEscalation {
    pub case_number: String,
    pub question: String,
    pub status: String,
    pub opened_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub name: String,
    pub cases: Vec<CaseLine>,
    /// More cases than shown.
    pub more: bool,
    pub open: i64,
    pub contacts: Vec<Contact>,
    pub serials: Vec<String>,
    pub activation_records: Vec<crate::activation::RecordRow>,
    pub open_escalations: Vec<OpenEscalation>,
    /// Error codes of the shown cases, most cases first.
    pub codes: Vec<(String, i64)>,
}

/// The customer's page; None when no case has that customer.
pub fn load(conn: &mut DbConn, name: &str) -> QueryResult<Option<Customer>> {
    let rows: Vec<CaseRow> = cases::table
        .filter(cases::customer.eq(name))
        .filter(cases::merged_into.is_null())
        .order((cases::updated_at.desc(), cases::id.desc()))
        .limit(CASES + 1)
        .select(CaseRow::as_select())
        .load(conn)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let more = rows.len() as i64 > CASES;
    let rows: Vec<CaseRow> = rows.into_iter().take(CASES as usize).collect();
    let ids: Vec<i64> = rows.iter().map(|c| c.id).collect();
    let number: HashMap<i64, String> = rows.iter().map(|c| (c.id, c.number.clone())).collect();

    let senders: Vec<(String, String)> = messages::table
        .filter(messages::case_id.eq_any(&ids))
        .filter(messages::direction.eq("customer"))
        .select((messages::from_name, messages::from_address))
        .limit(5000)
        .rows(conn)?;
    let mut by_address: BTreeMap<String, Contact> = BTreeMap::new();
    for (n, a) in senders {
        let key = a.to_lowercase();
        let c = by_address.entry(key).or_insert_with(|| Contact {
            name: n.clone(),
            address: a.clone(),
            messages: 0,
        });
        c.messages += 1;
        if c.name.is_empty() {
            c.name = n;
        }
    }
    // The addresses support writes to count too (a thread exported from support's
    // side may hold no message of the customer's own).
    for c in &rows {
        if let Some(a) = c.contact_email.as_deref().filter(|a| !a.is_empty()) {
            by_address
                .entry(a.to_lowercase())
                .or_insert_with(|| Contact {
                    name: String::new(),
                    address: a.to_string(),
                    messages: 0,
                });
        }
    }
    let mut contacts: Vec<Contact> = by_address.into_values().collect();
    contacts.sort_by(|a, b| b.messages.cmp(&a.messages).then(a.address.cmp(&b.address)));
    contacts.truncate(50);

    let mut serials: Vec<String> = case_serials::table
        .filter(case_serials::case_id.eq_any(&ids))
        .select(case_serials::serial)
        .limit(1000)
        .rows(conn)?;
    serials.sort();
    serials.dedup();
    serials.truncate(200);
    let activation_records = crate::activation::for_serials(conn, &serials)?;

    let open_escalations = escalations::table
        .filter(escalations::case_id.eq_any(&ids))
        .filter(escalations::status.ne(super::EscalationStatus::Closed.as_str()))
        .order(escalations::opened_at.asc())
        .limit(100)
        .select((
            escalations::case_id,
            escalations::question,
            escalations::status,
            escalations::opened_at,
        ))
        .rows::<(i64, String, String, chrono::NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(case_id, question, status, at)| OpenEscalation {
            case_number: number.get(&case_id).cloned().unwrap_or_default(),
            question: crate::mail::extract::mask_secrets(&question)
                .chars()
                .take(200)
                .collect(),
            status,
            opened_at: super::detail::rfc3339(&at),
        })
        .collect();

    let pairs: Vec<(i64, String)> = case_codes::table
        .filter(case_codes::case_id.eq_any(&ids))
        .select((case_codes::case_id, case_codes::code))
        .limit(5000)
        .rows(conn)?;
    let mut per_code: HashMap<String, std::collections::HashSet<i64>> = HashMap::new();
    for (case_id, code) in pairs {
        per_code.entry(code).or_default().insert(case_id);
    }
    let mut codes: Vec<(String, i64)> = per_code
        .into_iter()
        .map(|(c, s)| (c, s.len() as i64))
        .collect();
    codes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    codes.truncate(20);

    let open = rows.iter().filter(|c| c.status != "closed").count() as i64;
    Ok(Some(Customer {
        name: name.to_string(),
        cases: rows
            .into_iter()
            .map(|c| CaseLine {
                updated_at: super::detail::rfc3339(&c.updated_at),
                number: c.number,
                subject: c.subject,
                status: c.status,
            })
            .collect(),
        more,
        open,
        contacts,
        serials,
        activation_records,
        open_escalations,
        codes,
    }))
}
