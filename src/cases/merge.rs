//! One thread, one case. When one message ties two cases together (it answers a
//! message of one and is answered by, or shares a never-received ancestor with, a
//! message of the other), cases that hold only mail merge into the oldest; cases
//! already worked in Casebook are linked as "possibly the same thread" for a
//! one-click merge. A merge moves messages, attachments, codes, serials, findings,
//! scopes, closures, escalations, outbox and audit to the survivor and records what it
//! moved, so that an admin can undo it; the merged case's number redirects.

use super::{audit, CaseRow, Status};
use crate::db::schema::{
    attachments, audit_events, bundle_findings, case_codes, case_links, case_serials, cases,
    closures, escalations, merges, messages, outbox, scopes,
};
use crate::db::DbConn;
use crate::db::Direct;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A refusal the user can act on; the text is a catalog key.
    #[error("{0}")]
    Invalid(&'static str),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error("merge record: {0}")]
    Record(#[from] serde_json::Error),
}

/// What a merge moved, and the survivor as it was before.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Moved {
    rows: BTreeMap<String, Vec<i64>>,
    survivor: SurvivorBefore,
    /// The survivor's fields as the merge wrote them: undo restores a field only
    /// while it still holds this value (what people changed since stays).
    #[serde(default)]
    survivor_after: Option<SurvivorBefore>,
    /// The merged case's status and closing time before it was closed as merged.
    merged_status: String,
    merged_closed_at: Option<NaiveDateTime>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct SurvivorBefore {
    #[serde(default)]
    assignee_id: Option<i64>,
    status: String,
    created_at: Option<NaiveDateTime>,
    updated_at: Option<NaiveDateTime>,
    first_customer_at: Option<NaiveDateTime>,
    first_response_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    customer: Option<String>,
    oem: Option<String>,
    contact_email: Option<String>,
    imported: bool,
}

/// Audit actions that mean someone worked the case in Casebook.
const WORKED: &[&str] = &[
    "case.assigned",
    "case.closed",
    "escalation.closed",
    "escalation.followup",
    "escalation.needs_info",
    "escalation.opened",
    "escalation.answered",
    "outbox.retried",
    "note.added",
    "proposal.applied",
    "reply.sent",
    "scope.set",
    "status.set",
    "bundle.uploaded",
    "quarantine.assigned",
    "case.merged",
];

/// Whether nobody has worked `case` in Casebook: no assignee, no note, reply, upload or
/// other staff action; only mail.
pub fn holds_only_mail(conn: &mut DbConn, case: &CaseRow) -> QueryResult<bool> {
    if case.assignee_id.is_some() || case.priority != "normal" {
        return Ok(false);
    }
    let staff_rows: bool = diesel::select(diesel::dsl::exists(
        messages::table
            .filter(messages::case_id.eq(case.id))
            .filter(
                messages::direction
                    .eq("internal")
                    .or(messages::source.like("outbox:%")),
            ),
    ))
    .row(conn)?;
    if staff_rows {
        return Ok(false);
    }
    let worked: bool = diesel::select(diesel::dsl::exists(
        audit_events::table
            .filter(audit_events::case_id.eq(case.id))
            .filter(audit_events::action.eq_any(WORKED)),
    ))
    .row(conn)?;
    Ok(!worked)
}

/// The case `id` is, following merges to the surviving case.
pub fn surviving(conn: &mut DbConn, id: i64) -> QueryResult<Option<CaseRow>> {
    let mut case = super::find(conn, id)?;
    let mut seen = vec![id];
    while let Some(next) = case.as_ref().and_then(|c| c.merged_into) {
        if seen.contains(&next) || seen.len() > 16 {
            // A cycle (never written by `merge`, which re-checks under lock): stop.
            tracing::warn!(case = id, "merge chain does not end");
            break;
        }
        seen.push(next);
        case = super::find(conn, next)?;
    }
    Ok(case)
}

/// The case `number`, or the case it was merged into (where its work goes now).
pub fn surviving_by_number(conn: &mut DbConn, number: &str) -> QueryResult<Option<CaseRow>> {
    match super::find_by_number(conn, number)? {
        Some(c) if c.merged_into.is_some() => surviving(conn, c.id),
        other => Ok(other),
    }
}

/// The one case for the cases `ids` that one message ties together: the oldest
/// survives; the others merge into it when both hold only mail, else are linked to it.
///
/// `trusted`: the tie comes from imported history or verified mail. Otherwise (live
/// mail from anyone) only cases whose customer is the sender merge; others are linked,
/// so an outsider who knows two Message-IDs cannot merge other people's cases.
pub fn join(
    conn: &mut DbConn,
    ids: &[i64],
    trusted: bool,
    sender: &str,
) -> QueryResult<Option<CaseRow>> {
    // Every row this join may touch locked at once, in order (PostgreSQL).
    if ids.len() > 1 {
        lock_rows(conn, ids)?;
    }
    let mut found: Vec<CaseRow> = Vec::new();
    for id in ids {
        if let Some(c) = surviving(conn, *id)? {
            if !found.iter().any(|f| f.id == c.id) {
                found.push(c);
            }
        }
    }
    found.sort_by_key(|c| (c.created_at, c.id));
    let mut it = found.into_iter();
    let Some(mut survivor) = it.next() else {
        return Ok(None);
    };
    for other in it {
        let senders_own = |c: &CaseRow| {
            !sender.trim().is_empty()
                && c.contact_email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(sender.trim()))
        };
        let may_merge = trusted || (senders_own(&survivor) && senders_own(&other));
        if may_merge && holds_only_mail(conn, &survivor)? && holds_only_mail(conn, &other)? {
            match merge(conn, &other, &survivor, "Casebook", true) {
                Ok(_) => {
                    survivor = super::find(conn, survivor.id)?.unwrap_or(survivor);
                }
                Err(MergeError::Db(e)) => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "automatic merge refused; linking instead");
                    link(conn, survivor.id, other.id)?;
                }
            }
        } else {
            link(conn, survivor.id, other.id)?;
        }
    }
    Ok(Some(survivor))
}

/// Records "possibly the same thread" both ways (once).
pub fn link(conn: &mut DbConn, a: i64, b: i64) -> QueryResult<()> {
    if a == b {
        return Ok(());
    }
    let now = crate::now();
    for (x, y) in [(a, b), (b, a)] {
        let exists: bool = diesel::select(diesel::dsl::exists(
            case_links::table
                .filter(case_links::case_id.eq(x))
                .filter(case_links::other_id.eq(y)),
        ))
        .row(conn)?;
        if !exists {
            diesel::insert_into(case_links::table)
                .values((
                    case_links::case_id.eq(x),
                    case_links::other_id.eq(y),
                    case_links::created_at.eq(now),
                ))
                .exec(conn)?;
        }
    }
    Ok(())
}

/// The numbers of the cases linked to `case_id` as possibly the same thread.
pub fn linked(conn: &mut DbConn, case_id: i64) -> QueryResult<Vec<String>> {
    case_links::table
        .inner_join(cases::table.on(cases::id.eq(case_links::other_id)))
        .filter(case_links::case_id.eq(case_id))
        .filter(cases::merged_into.is_null())
        .order(cases::created_at.asc())
        .select(cases::number)
        .limit(20)
        .rows(conn)
}

/// A merge as the survivor's page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct MergeView {
    pub id: i64,
    pub merged_number: String,
    pub actor: String,
    pub automatic: bool,
    pub created_at: String,
}

/// The merges into `case_id` that are not undone, newest first.
pub fn merges_into(conn: &mut DbConn, case_id: i64) -> QueryResult<Vec<MergeView>> {
    let rows: Vec<(i64, String, String, bool, NaiveDateTime)> = merges::table
        .inner_join(cases::table.on(cases::id.eq(merges::merged_id)))
        .filter(merges::survivor_id.eq(case_id))
        .filter(merges::undone_at.is_null())
        .order(merges::id.desc())
        .limit(50)
        .select((
            merges::id,
            cases::number,
            merges::actor,
            merges::automatic,
            merges::created_at,
        ))
        .rows(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, merged_number, actor, automatic, at)| MergeView {
            id,
            merged_number,
            actor,
            automatic,
            created_at: at.format("%Y-%m-%d %H:%M").to_string(),
        })
        .collect())
}

macro_rules! move_all {
    ($conn:expr, $moved:expr, $t:ident, $from:expr, $into:expr) => {{
        // One statement: what moved is exactly what is recorded.
        let ids: Vec<i64> = diesel::update($t::table.filter($t::case_id.eq($from)))
            .set($t::case_id.eq($into))
            .returning($t::id)
            .get_results($conn)?;
        $moved.rows.insert(stringify!($t).to_string(), ids);
    }};
}

macro_rules! move_new {
    ($conn:expr, $moved:expr, $t:ident, $col:ident, $from:expr, $into:expr) => {{
        let present = $t::table
            .filter($t::case_id.eq($into))
            .select($t::$col)
            .load::<String>($conn)?;
        let ids: Vec<i64> = $t::table
            .filter($t::case_id.eq($from))
            .select(($t::id, $t::$col))
            .load::<(i64, String)>($conn)?
            .into_iter()
            .filter(|(_, v)| !present.contains(v))
            .map(|(id, _)| id)
            .collect();
        for chunk in ids.chunks(500) {
            diesel::update($t::table.filter($t::id.eq_any(chunk)))
                .set($t::case_id.eq($into))
                .execute($conn)?;
        }
        $moved.rows.insert(stringify!($t).to_string(), ids);
    }};
}

macro_rules! move_back {
    ($conn:expr, $moved:expr, $t:ident, $to:expr) => {{
        if let Some(ids) = $moved.rows.get(stringify!($t)) {
            for chunk in ids.chunks(500) {
                diesel::update($t::table.filter($t::id.eq_any(chunk)))
                    .set($t::case_id.eq($to))
                    .execute($conn)?;
            }
        }
    }};
}

/// Merges `from` into `into` (inside the caller's transaction, or its own). Returns the
/// merge's id.
pub fn merge(
    conn: &mut DbConn,
    from: &CaseRow,
    into: &CaseRow,
    actor: &str,
    automatic: bool,
) -> Result<i64, MergeError> {
    if from.id == into.id {
        return Err(MergeError::Invalid("merge.same_case"));
    }
    crate::db::write_tx(conn, |conn| {
        // Both rows locked (PostgreSQL): a message being filed into `from` right now
        // waits and then follows the merge. Then both read again: what the caller saw
        // may have been merged since (two people merging A→B and B→A at once).
        lock_rows(conn, &[from.id, into.id])?;
        let from = &super::find(conn, from.id)?.ok_or(MergeError::NotFound)?;
        let into = &super::find(conn, into.id)?.ok_or(MergeError::NotFound)?;
        if from.merged_into.is_some() || into.merged_into.is_some() {
            return Err(MergeError::Invalid("merge.already_merged"));
        }
        let mut moved = Moved {
            survivor: SurvivorBefore {
                assignee_id: into.assignee_id,
                status: into.status.clone(),
                created_at: Some(into.created_at),
                updated_at: Some(into.updated_at),
                first_customer_at: into.first_customer_at,
                first_response_at: into.first_response_at,
                closed_at: into.closed_at,
                customer: into.customer.clone(),
                oem: into.oem.clone(),
                contact_email: into.contact_email.clone(),
                imported: into.imported,
            },
            merged_status: from.status.clone(),
            merged_closed_at: from.closed_at,
            ..Moved::default()
        };
        let (f, t) = (from.id, into.id);
        move_all!(conn, moved, messages, f, t);
        move_all!(conn, moved, attachments, f, t);
        move_all!(conn, moved, bundle_findings, f, t);
        move_all!(conn, moved, scopes, f, t);
        move_all!(conn, moved, closures, f, t);
        move_all!(conn, moved, escalations, f, t);
        move_all!(conn, moved, outbox, f, t);
        move_all!(conn, moved, audit_events, f, t);
        move_new!(conn, moved, case_codes, code, f, t);
        move_new!(conn, moved, case_serials, serial, f, t);
        // The search documents of escalation entries follow their escalation (the other
        // documents follow their rows by trigger; the subject stays with its case).
        diesel::sql_query(format!(
            "UPDATE search_docs SET case_id = {t} WHERE case_id = {f} AND id % 8 = 2"
        ))
        .exec(conn)?;
        let min_opt = |a: Option<NaiveDateTime>, b: Option<NaiveDateTime>| match (a, b) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        // The survivor takes the thread's own times; an open part reopens it.
        let from_open = from.status != Status::Closed.as_str();
        let (status, closed_at) = if into.status == Status::Closed.as_str() && from_open {
            (from.status.clone(), None)
        } else {
            (into.status.clone(), into.closed_at)
        };
        // History merged into live work: the live case's clock stands.
        let (first_customer_at, first_response_at) = match (into.imported, from.imported) {
            (false, true) => (into.first_customer_at, into.first_response_at),
            (true, false) => (from.first_customer_at, from.first_response_at),
            _ => (
                min_opt(into.first_customer_at, from.first_customer_at),
                min_opt(into.first_response_at, from.first_response_at),
            ),
        };
        let after = SurvivorBefore {
            assignee_id: into.assignee_id.or(from.assignee_id),
            status,
            created_at: Some(into.created_at.min(from.created_at)),
            updated_at: Some(into.updated_at.max(from.updated_at)),
            first_customer_at,
            first_response_at,
            closed_at,
            customer: into.customer.clone().or(from.customer.clone()),
            oem: into.oem.clone().or(from.oem.clone()),
            contact_email: into.contact_email.clone().or(from.contact_email.clone()),
            imported: into.imported && from.imported,
        };
        diesel::update(cases::table.find(t))
            .set((
                cases::assignee_id.eq(after.assignee_id),
                cases::status.eq(&after.status),
                cases::closed_at.eq(after.closed_at),
                cases::created_at.eq(into.created_at.min(from.created_at)),
                cases::updated_at.eq(into.updated_at.max(from.updated_at)),
                cases::first_customer_at.eq(after.first_customer_at),
                cases::first_response_at.eq(after.first_response_at),
                cases::customer.eq(&after.customer),
                cases::oem.eq(&after.oem),
                cases::contact_email.eq(&after.contact_email),
                cases::imported.eq(after.imported),
            ))
            .exec(conn)?;
        moved.survivor_after = Some(after);
        // Closed as merged: out of every active queue without another filter.
        diesel::update(cases::table.find(f))
            .set((
                cases::merged_into.eq(Some(t)),
                cases::status.eq(Status::Closed.as_str()),
                cases::closed_at.eq(from.closed_at.or(Some(crate::now()))),
            ))
            .exec(conn)?;
        diesel::delete(
            case_links::table.filter(
                case_links::case_id
                    .eq(f)
                    .and(case_links::other_id.eq(t))
                    .or(case_links::case_id.eq(t).and(case_links::other_id.eq(f))),
            ),
        )
        .exec(conn)?;
        let id: i64 = diesel::insert_into(merges::table)
            .values((
                merges::survivor_id.eq(t),
                merges::merged_id.eq(f),
                merges::actor.eq(actor),
                merges::automatic.eq(automatic),
                merges::moved.eq(serde_json::to_string(&moved)?),
                merges::created_at.eq(crate::now()),
            ))
            .returning(merges::id)
            .row(conn)?;
        audit(
            conn,
            Some(t),
            actor,
            if automatic {
                "case.joined"
            } else {
                "case.merged"
            },
            &format!("{} → {}", from.number, into.number),
        )?;
        tracing::info!(from = %from.number, into = %into.number, automatic, "cases merged");
        Ok(id)
    })
}

/// Undoes merge `id`: what it moved goes back, the survivor's fields are restored and
/// the merged case is a case of its own again (what arrived since stays where it is).
pub fn undo(conn: &mut DbConn, id: i64, actor: &str) -> Result<String, MergeError> {
    crate::db::write_tx(conn, |conn| {
        let (survivor, merged, moved, undone): (i64, i64, String, Option<NaiveDateTime>) =
            merges::table
                .find(id)
                .select((
                    merges::survivor_id,
                    merges::merged_id,
                    merges::moved,
                    merges::undone_at,
                ))
                .first_row(conn)
                .optional()?
                .ok_or(MergeError::NotFound)?;
        if undone.is_some() {
            return Err(MergeError::Invalid("merge.already_undone"));
        }
        lock_rows(conn, &[survivor, merged])?;
        // Newest first, and only while the survivor is a case of its own.
        let later: bool = diesel::select(diesel::dsl::exists(
            merges::table
                .filter(merges::survivor_id.eq(survivor))
                .filter(merges::id.gt(id))
                .filter(merges::undone_at.is_null()),
        ))
        .row(conn)?;
        let survivor_merged = super::find(conn, survivor)?.and_then(|c| c.merged_into);
        if later || survivor_merged.is_some() {
            return Err(MergeError::Invalid("merge.undo_newer_first"));
        }
        let claimed = diesel::update(merges::table.find(id).filter(merges::undone_at.is_null()))
            .set(merges::undone_at.eq(Some(crate::now())))
            .exec(conn)?;
        if claimed != 1 {
            return Err(MergeError::Invalid("merge.already_undone"));
        }
        let moved: Moved = serde_json::from_str(&moved)?;
        move_back!(conn, moved, messages, merged);
        move_back!(conn, moved, attachments, merged);
        move_back!(conn, moved, bundle_findings, merged);
        move_back!(conn, moved, scopes, merged);
        move_back!(conn, moved, closures, merged);
        move_back!(conn, moved, escalations, merged);
        move_back!(conn, moved, outbox, merged);
        move_back!(conn, moved, audit_events, merged);
        move_back!(conn, moved, case_codes, merged);
        move_back!(conn, moved, case_serials, merged);
        // What a re-analysis rebuilt since the merge from the moved mail (new rows, not
        // in the record) goes back with that mail.
        if let Some(ids) = moved.rows.get("messages") {
            for chunk in ids.chunks(500) {
                diesel::update(scopes::table.filter(scopes::message_row_id.eq_any(chunk)))
                    .set(scopes::case_id.eq(merged))
                    .exec(conn)?;
                diesel::update(closures::table.filter(closures::message_row_id.eq_any(chunk)))
                    .set(closures::case_id.eq(merged))
                    .exec(conn)?;
                diesel::update(
                    escalations::table.filter(escalations::message_row_id.eq_any(chunk)),
                )
                .set(escalations::case_id.eq(merged))
                .exec(conn)?;
            }
        }
        restore_survivor(conn, survivor, &moved)?;
        diesel::update(cases::table.find(merged))
            .set((
                cases::merged_into.eq(None::<i64>),
                cases::status.eq(&moved.merged_status),
                cases::closed_at.eq(moved.merged_closed_at),
            ))
            .exec(conn)?;
        if let Some(escs) = moved.rows.get("escalations") {
            for chunk in escs.chunks(500) {
                let list = chunk
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                diesel::sql_query(format!(
                    "UPDATE search_docs SET case_id = {merged} WHERE id IN \
                     (SELECT id * 8 + 2 FROM escalation_entries WHERE escalation_id IN ({list}))"
                ))
                .exec(conn)?;
            }
        }
        // Still possibly the same thread: linked, so nobody loses the connection.
        link(conn, survivor, merged)?;
        let number: String = cases::table
            .find(merged)
            .select(cases::number)
            .first_row(conn)?;
        audit(conn, Some(survivor), actor, "case.merge_undone", &number)?;
        audit(conn, Some(merged), actor, "case.merge_undone", &number)?;
        Ok(number)
    })
}

/// Puts back the survivor's fields as they were before the merge, each only while it
/// still holds what the merge wrote (a reply, a status or an assignment since stays).
fn restore_survivor(conn: &mut DbConn, survivor: i64, moved: &Moved) -> QueryResult<()> {
    let b = &moved.survivor;
    let Some(now) = super::find(conn, survivor)? else {
        return Ok(());
    };
    let Some(a) = &moved.survivor_after else {
        return Ok(());
    };
    let row = cases::table.find(survivor);
    if now.assignee_id == a.assignee_id {
        diesel::update(row)
            .set(cases::assignee_id.eq(b.assignee_id))
            .exec(conn)?;
    }
    if now.status == a.status && now.closed_at == a.closed_at {
        diesel::update(row)
            .set((
                cases::status.eq(&b.status),
                cases::closed_at.eq(b.closed_at),
            ))
            .exec(conn)?;
    }
    if Some(now.created_at) == a.created_at {
        if let Some(c) = b.created_at {
            diesel::update(row)
                .set(cases::created_at.eq(c))
                .exec(conn)?;
        }
    }
    if now.first_customer_at == a.first_customer_at && now.first_response_at == a.first_response_at
    {
        diesel::update(row)
            .set((
                cases::first_customer_at.eq(b.first_customer_at),
                cases::first_response_at.eq(b.first_response_at),
            ))
            .exec(conn)?;
    }
    if now.customer == a.customer && now.oem == a.oem {
        diesel::update(row)
            .set((cases::customer.eq(&b.customer), cases::oem.eq(&b.oem)))
            .exec(conn)?;
    }
    if now.contact_email == a.contact_email {
        diesel::update(row)
            .set(cases::contact_email.eq(&b.contact_email))
            .exec(conn)?;
    }
    if now.imported == a.imported {
        diesel::update(row)
            .set(cases::imported.eq(b.imported))
            .exec(conn)?;
    }
    Ok(())
}

/// Locks case rows until the transaction ends (PostgreSQL; SQLite's writer is alone),
/// in ascending order, in one statement. `FOR NO KEY UPDATE` is the lock an `UPDATE`
/// of the row takes, without writing a row version or firing the table's triggers.
pub fn lock_rows(conn: &mut DbConn, ids: &[i64]) -> QueryResult<()> {
    let DbConn::Pg(c) = conn else {
        return Ok(());
    };
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    cases::table
        .filter(cases::id.eq_any(ids))
        .order(cases::id.asc())
        .select(cases::id)
        .for_no_key_update()
        .load::<i64>(c)?;
    Ok(())
}

/// Case `id`, its row locked until the transaction ends as `lock_rows` locks it (on
/// SQLite, where the writer is alone, only read).
pub fn lock_and_find(conn: &mut DbConn, id: i64) -> QueryResult<Option<CaseRow>> {
    match conn {
        DbConn::Pg(c) => cases::table
            .find(id)
            .select(CaseRow::as_select())
            .for_no_key_update()
            .first(c)
            .optional(),
        DbConn::Sqlite(_) => super::find(conn, id),
    }
}

/// Merges case `number` into case `into` on a user's request: both must exist and be
/// cases of their own.
pub fn merge_by_number(
    conn: &mut DbConn,
    number: &str,
    into: &str,
    actor: &str,
) -> Result<String, MergeError> {
    let from = super::find_by_number(conn, number)?.ok_or(MergeError::NotFound)?;
    let target = super::find_by_number(conn, into.trim())?
        .ok_or(MergeError::Invalid("merge.unknown_target"))?;
    merge(conn, &from, &target, actor, false)?;
    Ok(target.number)
}

/// Every tie the threading rules see among stored messages (a message answering a
/// message of another case, or two cases answering one never-received ancestor),
/// joined as ingest joins them now: for databases filled before these rules. Returns
/// how many groups of cases were joined.
pub fn reanalyze_threads(conn: &mut DbConn) -> QueryResult<usize> {
    use crate::db::schema::message_refs;
    let mut joined = 0;
    let mut last = String::new();
    loop {
        // Referenced ids in pages, each with the cases of the messages that carry or
        // reference it.
        let page: Vec<String> = message_refs::table
            .filter(message_refs::ref_id.gt(&last))
            .select(message_refs::ref_id)
            .distinct()
            .order(message_refs::ref_id.asc())
            .limit(1000)
            .rows(conn)?;
        let Some(end) = page.last().cloned() else {
            break;
        };
        for id in &page {
            let mut ids: Vec<i64> = message_refs::table
                .inner_join(messages::table)
                .filter(message_refs::ref_id.eq(id))
                .select(messages::case_id)
                .distinct()
                .limit(50)
                .rows(conn)?;
            let own: Vec<i64> = messages::table
                .filter(messages::message_id.eq(id))
                .select(messages::case_id)
                .limit(5)
                .rows(conn)?;
            ids.extend(own);
            let mut distinct = Vec::new();
            for i in ids {
                if let Some(c) = surviving(conn, i)? {
                    if !distinct.contains(&c.id) {
                        distinct.push(c.id);
                    }
                }
            }
            if distinct.len() > 1 {
                crate::db::write_tx(conn, |conn| join(conn, &distinct, true, ""))?;
                joined += 1;
            }
        }
        last = end;
    }
    Ok(joined)
}
