//! Which case a message belongs to, whatever the order the thread arrives in: a known
//! ancestor (In-Reply-To, then References newest first), then the case tag, then a
//! tracking token, then a stored reply that references this message (its late
//! parent), then a stored message that shares a referenced id with it (a common
//! ancestor never received), then the Outlook conversation id.

use super::Rules;
use crate::cases::{self, CaseRow};
use crate::db::schema::{cases as cases_t, message_refs, messages};
use crate::db::DbConn;
use crate::db::Direct;
use crate::mail::{extract, ParsedMail};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

/// The case a message belongs to, by the threading rules in order. When the header
/// rules tie several cases together (a late parent of one that answers another, two
/// replies to one ghost), they are joined (`cases::merge::join`) and the survivor is
/// the message's case; `may_merge` is false for unverified live mail, which only links
/// (an outsider who knows two Message-IDs must not merge two cases). A merged case found by its tag or token gives its survivor.
pub(super) fn find_case(
    conn: &mut DbConn,
    rules: &Rules,
    pm: &ParsedMail,
    own_id: &str,
    may_merge: bool,
) -> QueryResult<Option<CaseRow>> {
    let ids = referenced_ids(pm, own_id);
    let some: Vec<&str> = ids.iter().take(100).copied().collect();
    // Known ancestors, in the order they are referenced (In-Reply-To first). On SQLite
    // one lookup per id, with one statement prepared once per connection (an `IN` list
    // is a new statement for each length, prepared again at every message); on
    // PostgreSQL, where each statement is a round trip, one statement for all of them
    // (an array is one statement whatever its length).
    let mut known: Vec<(String, i64)> = Vec::new();
    if let DbConn::Pg(c) = conn {
        // Each id its own index probe (`message_id = u.id`, as a statement of one id
        // would be), its first row in the index's order (the one used below).
        // `message_id = ANY($1)` was planned for a table nearly empty when the
        // connection prepared it (a whole scan), and kept that plan while the table
        // grew: 0.08 ms at first, 1.1 ms per message at 7,000 messages.
        #[derive(diesel::QueryableByName)]
        struct Known {
            #[diesel(sql_type = diesel::sql_types::Text)]
            message_id: String,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            case_id: i64,
        }
        if !some.is_empty() {
            let rows: Vec<Known> = crate::db::cached_sql(
                "SELECT m.message_id, m.case_id FROM unnest(CAST($1 AS TEXT[])) AS u(id) \
                 CROSS JOIN LATERAL (SELECT message_id, case_id FROM messages \
                 WHERE message_id = u.id ORDER BY content_hash LIMIT 1) m",
            )
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&some)
            .load(c)?;
            known = rows
                .into_iter()
                .map(|k| (k.message_id, k.case_id))
                .collect();
        }
    } else {
        for id in &some {
            known.extend(
                messages::table
                    .filter(messages::message_id.eq(*id))
                    .select((messages::message_id, messages::case_id))
                    .rows::<(String, i64)>(conn)?,
            );
        }
    }
    let mut by_headers: Vec<i64> = Vec::new();
    for id in &some {
        if let Some((_, c)) = known.iter().find(|(m, _)| m == id) {
            push_new(&mut by_headers, *c);
        }
    }
    let ancestors_known = !by_headers.is_empty();
    // A reply stored before this message (its late parent) arrived, then other
    // replies to an ancestor we never received (a ghost).
    let mut referenced: Vec<&str> = Vec::new();
    if extract::plausible_message_id(own_id) {
        referenced.push(own_id);
    }
    referenced.extend(
        some.iter()
            .filter(|id| !known.iter().any(|(m, _)| m == *id))
            .copied(),
    );
    for c in cases_referencing(conn, &referenced)? {
        push_new(&mut by_headers, c);
    }
    if ancestors_known {
        return cases::merge::join(conn, &by_headers, may_merge, &pm.from_address);
    }
    let tag = extract::find_case_tag(&pm.subject).or_else(|| extract::find_case_tag(&pm.body_text));
    if let Some(number) = tag {
        if let Some(c) = cases::find_by_number(conn, &number)? {
            return cases::merge::surviving(conn, c.id);
        }
    }
    let mut tokens = extract::find_tokens_re(&pm.subject, &rules.token_re);
    tokens.extend(extract::find_tokens_re(&pm.body_text, &rules.token_re));
    for t in tokens {
        let found: Option<i64> = cases_t::table
            .filter(cases_t::tracking_token.eq(&t))
            .select(cases_t::id)
            .first_row(conn)
            .optional()?;
        if let Some(id) = found {
            return cases::merge::surviving(conn, id);
        }
    }
    if !by_headers.is_empty() {
        return cases::merge::join(conn, &by_headers, may_merge, &pm.from_address);
    }
    if let Some(key) = &pm.thread_key {
        let found: Option<i64> = messages::table
            .filter(messages::thread_key.eq(key))
            .select(messages::case_id)
            .first_row(conn)
            .optional()?;
        if let Some(case_id) = found {
            return cases::merge::surviving(conn, case_id);
        }
    }
    Ok(None)
}

fn push_new(ids: &mut Vec<i64>, id: i64) {
    if !ids.contains(&id) {
        ids.push(id);
    }
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

/// For each of `ids` in turn that a stored message references, the case of the oldest
/// such message (one index range per id, first row only: no cost growth with a popular
/// ancestor). On PostgreSQL in one statement.
fn cases_referencing(conn: &mut DbConn, ids: &[&str]) -> QueryResult<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    if let DbConn::Pg(c) = conn {
        #[derive(diesel::QueryableByName)]
        struct Found {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            case_id: i64,
        }
        let found: Vec<Found> = crate::db::cached_sql(
            "SELECT m.case_id FROM unnest(CAST($1 AS TEXT[])) WITH ORDINALITY AS u(id, ord) \
             CROSS JOIN LATERAL (SELECT r.message_row_id FROM message_refs r \
             WHERE r.ref_id = u.id ORDER BY r.message_row_id LIMIT 1) f \
             JOIN messages m ON m.id = f.message_row_id ORDER BY u.ord",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(ids)
        .load(c)?;
        return Ok(found.into_iter().map(|f| f.case_id).collect());
    }
    let mut out = Vec::new();
    for id in ids {
        let row: Option<i64> = message_refs::table
            .filter(message_refs::ref_id.eq(*id))
            .order(message_refs::message_row_id.asc())
            .select(message_refs::message_row_id)
            .first_row(conn)
            .optional()?;
        if let Some(r) = row {
            out.push(
                messages::table
                    .find(r)
                    .select(messages::case_id)
                    .first_row(conn)?,
            );
        }
    }
    Ok(out)
}

/// Records the ids `pm` references for message row `row_id` (a new row, and the ids
/// are distinct: nothing to conflict with).
pub(super) fn record_refs(
    conn: &mut DbConn,
    pm: &ParsedMail,
    own_id: &str,
    row_id: i64,
) -> QueryResult<()> {
    let ids: Vec<&str> = referenced_ids(pm, own_id).into_iter().take(100).collect();
    if let DbConn::Pg(c) = conn {
        if !ids.is_empty() {
            crate::db::cached_sql(
                "INSERT INTO message_refs (ref_id, message_row_id) \
                 SELECT unnest(CAST($1 AS TEXT[])), $2",
            )
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&ids)
            .bind::<diesel::sql_types::BigInt, _>(row_id)
            .execute(c)?;
        }
        return Ok(());
    }
    for id in ids {
        diesel::insert_into(message_refs::table)
            .values((
                message_refs::ref_id.eq(id),
                message_refs::message_row_id.eq(row_id),
            ))
            .exec(conn)?;
    }
    Ok(())
}

/// Serialises messages of one thread across connections, processes and servers.
///
/// On PostgreSQL: a transaction-level advisory lock on a hash of every id the message
/// carries or references (its own Message-ID, In-Reply-To, References, the Outlook
/// conversation id) and on every case tag and tracking token it carries (which
/// `find_case` and a new case's number and token read), taken in ascending order so
/// that two messages never wait on each other crosswise. Two messages that could join
/// one case share at least one of these, so the second waits for the first to commit
/// and then finds its case. On SQLite the write transaction itself is the lock (`BEGIN
/// IMMEDIATE`: one writer at a time, across processes), and the lookup runs inside it.
pub(super) fn lock_thread(
    conn: &mut DbConn,
    rules: &Rules,
    pm: &ParsedMail,
    own_id: &str,
) -> QueryResult<()> {
    let DbConn::Pg(conn) = conn else {
        return Ok(());
    };
    let mut keys: Vec<i64> = referenced_ids(pm, own_id)
        .into_iter()
        .take(100)
        .chain(std::iter::once(own_id))
        .map(|id| lock_key("mid", id))
        .collect();
    if let Some(k) = &pm.thread_key {
        keys.push(lock_key("thread", k));
    }
    for text in [&pm.subject, &pm.body_text] {
        if let Some(tag) = extract::find_case_tag(text) {
            keys.push(lock_key("tag", &tag.to_ascii_uppercase()));
        }
        keys.extend(
            extract::find_tokens_re(text, &rules.token_re)
                .iter()
                .take(100)
                .map(|t| lock_key("token", t)),
        );
    }
    keys.sort_unstable();
    keys.dedup();
    // One statement: the locks are taken one after the other in the array's order.
    crate::db::cached_sql(
        "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST($1 AS BIGINT[])) AS k",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(keys)
    .execute(conn)?;
    Ok(())
}

/// A stable 64-bit key for an advisory lock on `value` in namespace `kind`.
fn lock_key(kind: &str, value: &str) -> i64 {
    let mut h = Sha256::new();
    h.update(b"casebook-thread\0");
    h.update(kind.as_bytes());
    h.update([0]);
    h.update(value.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        assert_eq!(lock_key("mid", "a@b"), lock_key("mid", "a@b"));
        assert_ne!(lock_key("mid", "a@b"), lock_key("mid", "a@c"));
        assert_ne!(lock_key("mid", "a@b"), lock_key("thread", "a@b"));
    }
}
