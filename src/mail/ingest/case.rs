//! A new case from its first message: number, tracking token, customer and OEM,
//! subject and language.

use super::{Direction, Rules};
use crate::cases::{self, CaseRow, Status};
use crate::db::schema::cases as cases_t;
use crate::db::DbConn;
use crate::db::Direct;
use crate::mail::{extract, IngestError, ParsedMail};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Insertable)]
#[diesel(table_name = cases_t)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct NewCase<'a> {
    number: &'a str,
    subject: &'a str,
    customer: Option<&'a str>,
    oem: Option<&'a str>,
    status: &'a str,
    priority: &'a str,
    tracking_token: &'a str,
    language: &'a str,
    parent_case_id: Option<i64>,
    contact_email: Option<&'a str>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    imported: bool,
}

/// What a message's subject says of the case it would open, read without the
/// database (on the thread that prepares the message, beside the writer).
pub(crate) struct FromSubject {
    customer: Option<String>,
    oem: Option<String>,
    /// The subject the case shows: tags and tokens taken off, secrets masked.
    display: String,
}

impl FromSubject {
    pub(crate) fn read(rules: &Rules, pm: &ParsedMail) -> Self {
        let (customer, oem) = extract::customer_oem_from_subject(&pm.subject);
        FromSubject {
            customer,
            oem,
            display: extract::display_subject_re(&pm.subject, &rules.token_re),
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn create_case(
    conn: &mut DbConn,
    rules: &Rules,
    pm: &ParsedMail,
    from_subject: &FromSubject,
    dir: Direction,
    sent_at: NaiveDateTime,
    parent: Option<i64>,
    imported: bool,
) -> Result<CaseRow, IngestError> {
    let mut number =
        extract::find_case_tag(&pm.subject).or_else(|| extract::find_case_tag(&pm.body_text));
    if let Some(n) = &number {
        if cases::find_by_number(conn, n)?.is_some() {
            number = None;
        }
    }
    let number = match number {
        Some(n) => n,
        None => cases::fresh_number(conn)?,
    };
    let mut token = None;
    for t in extract::find_tokens_re(&pm.subject, &rules.token_re) {
        let used: i64 = cases_t::table
            .filter(cases_t::tracking_token.eq(&t))
            .count()
            .row(conn)?;
        if used == 0 {
            token = Some(t);
            break;
        }
    }
    let token = match token {
        Some(t) => t,
        None => cases::fresh_token(conn, &rules.issue_prefix)?,
    };
    let (mut customer, mut oem) = (from_subject.customer.clone(), from_subject.oem.clone());
    // A case that continues a closed one is the same customer's (the thread says so
    // better than a guess from the sender's domain).
    if let Some(p) = parent
        .map(|id| cases::find(conn, id))
        .transpose()?
        .flatten()
    {
        customer = customer.or(p.customer);
        oem = oem.or(p.oem);
    }
    if customer.is_none() && dir == Direction::Customer {
        customer = customer_from_sender(pm);
    }
    let subject = if from_subject.display.is_empty() {
        "(no subject)"
    } else {
        from_subject.display.as_str()
    };
    let id: i64 = diesel::insert_into(cases_t::table)
        .values(NewCase {
            number: &number,
            subject,
            customer: customer.as_deref(),
            oem: oem.as_deref(),
            status: Status::New.as_str(),
            priority: "normal",
            tracking_token: &token,
            language: language_of(&format!("{} {}", pm.subject, pm.body_text)),
            parent_case_id: parent,
            contact_email: (dir == Direction::Customer && !pm.from_address.is_empty())
                .then_some(pm.from_address.as_str()),
            created_at: sent_at,
            updated_at: sent_at,
            imported,
        })
        .returning(cases_t::id)
        .row(conn)?;
    cases::find(conn, id)?.ok_or(IngestError::Db(diesel::result::Error::NotFound))
}

fn customer_from_sender(pm: &ParsedMail) -> Option<String> {
    const FREEMAIL: &[&str] = &[
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "sohu.com",
        "gmail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "foxmail.com",
        "icloud.com",
        "aliyun.com",
        "139.com",
    ];
    let (_, domain) = pm.from_address.rsplit_once('@')?;
    if FREEMAIL.contains(&domain) {
        let n = pm.from_name.trim();
        return Some(if n.is_empty() {
            pm.from_address.clone()
        } else {
            n.to_string()
        });
    }
    Some(domain.to_string())
}

fn language_of(text: &str) -> &'static str {
    if text.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c)) {
        "zh-CN"
    } else {
        "en"
    }
}
