//! Which case a message belongs to, whatever the order the thread arrives in: a known
//! ancestor (In-Reply-To, then References newest first), then the case tag, then a
//! tracking token, then a stored reply that references this message (its late
//! parent), then a stored message that shares a referenced id with it (a common
//! ancestor never received), then the Outlook conversation id.

use super::Rules;
use crate::cases::{self, CaseRow};
use crate::db::schema::{cases as cases_t, message_refs, messages};
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
    let ids = referenced_ids(pm, own_id);
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
    // A reply stored before this message, its parent, arrived.
    if extract::plausible_message_id(own_id) {
        if let Some(case_id) = case_referencing(conn, &[own_id])? {
            return cases::find(conn, case_id);
        }
    }
    // Another reply to the same ancestor, which we never received.
    if !ids.is_empty() {
        let some: Vec<&str> = ids.iter().take(100).copied().collect();
        if let Some(case_id) = case_referencing(conn, &some)? {
            return cases::find(conn, case_id);
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

/// The plausible Message-IDs `pm` references (In-Reply-To, then References newest
/// first), without angle brackets, duplicates or its own id.
pub(super) fn referenced_ids<'a>(pm: &'a ParsedMail, own_id: &str) -> Vec<&'a str> {
    let mut ids: Vec<&str> = Vec::new();
    for id in pm.in_reply_to.iter().chain(pm.references.iter().rev()) {
        let id = id.trim().trim_start_matches('<').trim_end_matches('>');
        if extract::plausible_message_id(id) && id != own_id && !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// The case of the oldest stored message that references any of `ids` (one index
/// range per id, first row only: no cost growth with a popular ancestor).
fn case_referencing(conn: &mut DbConn, ids: &[&str]) -> QueryResult<Option<i64>> {
    let mut best: Option<(i64, i64)> = None;
    for id in ids {
        let row: Option<i64> = message_refs::table
            .filter(message_refs::ref_id.eq(*id))
            .order(message_refs::message_row_id.asc())
            .select(message_refs::message_row_id)
            .first(conn)
            .optional()?;
        if let Some(r) = row {
            if best.is_none_or(|(b, _)| r < b) {
                let case_id = messages::table
                    .find(r)
                    .select(messages::case_id)
                    .first(conn)?;
                best = Some((r, case_id));
            }
        }
    }
    Ok(best.map(|(_, c)| c))
}

/// Records the ids `pm` references for message row `row_id` (a new row, and the ids
/// are distinct: nothing to conflict with).
pub(super) fn record_refs(
    conn: &mut DbConn,
    pm: &ParsedMail,
    own_id: &str,
    row_id: i64,
) -> QueryResult<()> {
    for id in referenced_ids(pm, own_id).into_iter().take(100) {
        diesel::insert_into(message_refs::table)
            .values((
                message_refs::ref_id.eq(id),
                message_refs::message_row_id.eq(row_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}
