//! Which case a message belongs to: In-Reply-To, then References (newest first), then
//! the case tag, then a tracking token, then the Outlook conversation id.

use super::Rules;
use crate::cases::{self, CaseRow};
use crate::db::schema::{cases as cases_t, messages};
use crate::db::DbConn;
use crate::mail::{extract, ParsedMail};
use diesel::prelude::*;

/// The case a message belongs to, by the threading rules in order.
pub(super) fn find_case(
    conn: &mut DbConn,
    rules: &Rules,
    pm: &ParsedMail,
    own_id: &str,
) -> QueryResult<Option<CaseRow>> {
    let mut ids: Vec<&str> = Vec::new();
    for id in pm.in_reply_to.iter().chain(pm.references.iter().rev()) {
        let id = id.trim().trim_start_matches('<').trim_end_matches('>');
        if extract::plausible_message_id(id) && id != own_id && !ids.contains(&id) {
            ids.push(id);
        }
    }
    for id in ids.iter().take(100) {
        let found: Option<i64> = messages::table
            .filter(messages::message_id.eq(*id))
            .select(messages::case_id)
            .first(conn)
            .optional()?;
        if let Some(case_id) = found {
            return cases::find(conn, case_id);
        }
    }
    let tag = extract::find_case_tag(&pm.subject).or_else(|| extract::find_case_tag(&pm.body_text));
    if let Some(number) = tag {
        if let Some(c) = cases::find_by_number(conn, &number)? {
            return Ok(Some(c));
        }
    }
    let mut tokens = extract::find_tokens_re(&pm.subject, &rules.token_re);
    tokens.extend(extract::find_tokens_re(&pm.body_text, &rules.token_re));
    for t in tokens {
        let found = cases_t::table
            .filter(cases_t::tracking_token.eq(&t))
            .select(CaseRow::as_select())
            .first(conn)
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    if let Some(key) = &pm.thread_key {
        let found: Option<i64> = messages::table
            .filter(messages::thread_key.eq(key))
            .select(messages::case_id)
            .first(conn)
            .optional()?;
        if let Some(case_id) = found {
            return cases::find(conn, case_id);
        }
    }
    Ok(None)
}
