//! Re-analysis of one case from its stored mail, after who-is-who changed (an admin set
//! a person's side, linked a sender to an account, marked a staff domain).
//!
//! The mail-derived structure is rebuilt in the thread's own order: each received
//! message's direction (imported history by accounts, staff domains and what is learnt;
//! live mail keeps the direction its verified or unverified arrival gave it — live mail
//! never acts on inference), the scope definitions, closure summaries, escalations and
//! answers that came from mail, status, first contact, first response and closing time.
//! What people did in Casebook stays: replies and other mail sent from Casebook, notes,
//! scopes and closures written on the case page, escalations opened or answered there,
//! the assignee, priority, and a status someone set by hand.

use super::events::{apply_events, Apply};
use super::staff::{direction, Direction, Hint, Staff};
use super::trust::Arrival;
use super::{infer, Rules};
use crate::cases::{self, Status};
use crate::db::schema::{
    audit_events, cases as cases_t, closures, escalation_entries, escalations, import_rereads,
    messages, scopes,
};
use crate::db::DbConn;
use crate::db::Direct;
use crate::mail::{extract, ParsedMail};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// What re-analysis changed on one case.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Replayed {
    /// Received messages whose direction changed.
    pub directions: usize,
    pub status_before: String,
    pub status_after: String,
}

impl Replayed {
    pub fn changed(&self) -> bool {
        self.directions > 0 || self.status_before != self.status_after
    }
}

/// Actions in the audit by which people decided a case's status in Casebook.
const STATUS_WORK: &[&str] = &[
    "status.set",
    "case.closed",
    "proposal.applied",
    "escalation.opened",
    "escalation.closed",
    "reply.sent",
];

type MsgRow = (
    i64,
    Option<i64>,
    String,
    String,
    String,
    String,
    String,
    bool,
    String,
    String,
    NaiveDateTime,
);

fn parse_direction(s: &str) -> Option<Direction> {
    match s {
        "customer" => Some(Direction::Customer),
        "support" => Some(Direction::Support),
        "to_rnd" => Some(Direction::ToRnd),
        "from_rnd" => Some(Direction::FromRnd),
        _ => None,
    }
}

/// Re-analyses cases `ids`, each followed to the case it was merged into and read
/// once, a hundred per write transaction. Returns how many cases were re-read.
pub fn reanalyze_cases(
    conn: &mut DbConn,
    rules: &Rules,
    staff: &Staff,
    ids: &[i64],
) -> QueryResult<usize> {
    reanalyze_in_chunks(conn, rules, staff, ids, |_, _| Ok(()))
}

/// `reanalyze_cases`, with `after` run on each chunk of ids inside its transaction.
fn reanalyze_in_chunks(
    conn: &mut DbConn,
    rules: &Rules,
    staff: &Staff,
    ids: &[i64],
    mut after: impl FnMut(&mut DbConn, &[i64]) -> QueryResult<()>,
) -> QueryResult<usize> {
    let mut done = std::collections::BTreeSet::new();
    for chunk in ids.chunks(100) {
        crate::db::write_tx(conn, |c| -> QueryResult<()> {
            for id in chunk {
                let Some(case) = cases::merge::surviving(c, *id)? else {
                    continue;
                };
                if done.insert(case.id) {
                    reanalyze_case(c, rules, staff, case.id)?;
                }
            }
            after(c, chunk)
        })?;
    }
    Ok(done.len())
}

/// Marks case `case_id` as filed out of its own time order by an import, in the
/// caller's transaction (`import_rereads`): re-read by `reanalyze_marked` at the end of
/// this run, or of the next one when this one is killed.
pub fn mark_out_of_order(conn: &mut DbConn, case_id: i64) -> QueryResult<()> {
    use diesel::sql_types::{BigInt, Timestamp};
    // The newest mark's time: a run re-reading the case meanwhile keeps a mark made
    // after it read the marks (`reanalyze_marked`).
    diesel::sql_query(
        "INSERT INTO import_rereads (case_id, marked_at) VALUES ($1, $2) \
         ON CONFLICT (case_id) DO UPDATE SET marked_at = excluded.marked_at",
    )
    .bind::<BigInt, _>(case_id)
    .bind::<Timestamp, _>(crate::now())
    .execute(conn)?;
    Ok(())
}

/// Re-analyses every case an import marked (`mark_out_of_order`), each mark removed in
/// the transaction that re-read its case (a mark made since the marks were read stays).
/// Returns how many cases were re-read.
pub fn reanalyze_marked(conn: &mut DbConn, rules: &Rules) -> QueryResult<usize> {
    let read_at = crate::now();
    let ids: Vec<i64> = import_rereads::table
        .select(import_rereads::case_id)
        .order(import_rereads::case_id.asc())
        .rows(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    let staff = Staff::load_for_batch(conn)?;
    reanalyze_in_chunks(conn, rules, &staff, &ids, |c, chunk| {
        diesel::delete(
            import_rereads::table
                .filter(import_rereads::case_id.eq_any(chunk))
                .filter(import_rereads::marked_at.le(read_at)),
        )
        .exec(c)
        .map(|_| ())
    })
}

/// Re-analyses case `case_id` inside the caller's write transaction. A merged case is
/// left alone (its mail lives on the survivor).
pub fn reanalyze_case(
    conn: &mut DbConn,
    rules: &Rules,
    staff: &Staff,
    case_id: i64,
) -> QueryResult<Replayed> {
    if !crate::db::is_sqlite(conn) {
        cases::merge::lock_rows(conn, &[case_id])?;
    }
    let Some(before) = cases::find(conn, case_id)? else {
        return Ok(Replayed::default());
    };
    if before.merged_into.is_some() {
        return Ok(Replayed::default());
    }
    let mut rows: Vec<MsgRow> = messages::table
        .filter(messages::case_id.eq(case_id))
        .order(messages::id.asc())
        .select((
            messages::id,
            messages::raw_id,
            messages::from_name,
            messages::from_address,
            messages::to_addrs,
            messages::subject,
            messages::body_text,
            messages::is_auto_reply,
            messages::direction,
            messages::source,
            messages::sent_at,
        ))
        .rows(conn)?;
    // History in its own time order, whatever order it was filed in (several writers,
    // files out of order); then live mail and what was written in Casebook as it came
    // (filing order: a sender's clock does not reorder live work).
    rows.sort_by_key(|r| {
        let history = r.1.is_some() && Arrival::of_source(&r.9) == Arrival::Import;
        (!history, history.then_some(r.10), r.0)
    });
    let imported_mail = rows
        .iter()
        .any(|r| r.1.is_some() && Arrival::of_source(&r.9) == Arrival::Import);
    // The time of its first imported message (rows are sorted: history first).
    let history_began = rows
        .first()
        .filter(|r| r.1.is_some() && Arrival::of_source(&r.9) == Arrival::Import)
        .map(|r| r.10);
    let received: Vec<i64> = rows.iter().filter(|r| r.1.is_some()).map(|r| r.0).collect();
    // What came from mail goes; what people wrote in Casebook stays.
    diesel::delete(closures::table.filter(closures::message_row_id.eq_any(&received)))
        .exec(conn)?;
    diesel::delete(scopes::table.filter(scopes::message_row_id.eq_any(&received))).exec(conn)?;
    let escs: Vec<i64> = escalations::table
        .filter(escalations::case_id.eq(case_id))
        .select(escalations::id)
        .rows(conn)?;
    diesel::delete(
        escalation_entries::table
            .filter(escalation_entries::escalation_id.eq_any(&escs))
            .filter(escalation_entries::message_row_id.eq_any(&received)),
    )
    .exec(conn)?;
    // An escalation that mail opened and people then worked on in Casebook (an answer
    // or follow-up there, or closed there) is kept with its id; its opening message
    // then opens nothing again. The others are rebuilt from the mail.
    let opened_by_mail: Vec<(i64, Option<i64>)> = escalations::table
        .filter(escalations::case_id.eq(case_id))
        .filter(
            escalations::message_row_id
                .eq_any(&received)
                .or(escalations::message_row_id
                    .is_null()
                    .and(escalations::question.eq(""))
                    .and(escalations::help_needed.is_null())),
        )
        .select((escalations::id, escalations::message_row_id))
        .rows(conn)?;
    let mut anchored: Vec<i64> = Vec::new();
    for (esc, row) in opened_by_mail {
        let entries: bool = diesel::select(diesel::dsl::exists(
            escalation_entries::table.filter(escalation_entries::escalation_id.eq(esc)),
        ))
        .row(conn)?;
        let closed_here: bool = diesel::select(diesel::dsl::exists(
            audit_events::table
                .filter(audit_events::case_id.eq(case_id))
                .filter(audit_events::action.eq("escalation.closed"))
                .filter(audit_events::detail.eq(format!("escalation {esc}"))),
        ))
        .row(conn)?;
        if entries || closed_here {
            anchored.extend(row);
        } else {
            diesel::delete(escalations::table.find(esc)).exec(conn)?;
        }
    }
    diesel::update(cases_t::table.find(case_id))
        .set((
            cases_t::status.eq(Status::New.as_str()),
            cases_t::first_customer_at.eq(None::<NaiveDateTime>),
            cases_t::first_response_at.eq(None::<NaiveDateTime>),
            cases_t::closed_at.eq(None::<NaiveDateTime>),
        ))
        .exec(conn)?;
    let mut out = Replayed {
        status_before: before.status.clone(),
        ..Replayed::default()
    };
    for (id, raw_id, from_name, from_address, to, subject, body, auto, dir_was, source, at) in rows
    {
        let Some(case) = cases::find(conn, case_id)? else {
            break;
        };
        let Some(was) = parse_direction(&dir_was) else {
            continue;
        };
        if raw_id.is_none() {
            // Sent from Casebook: it stops the first-response clock and waits on the
            // customer, as when it was sent.
            if was == Direction::Support {
                sent_from_casebook(conn, &case, at)?;
            }
            continue;
        }
        let pm = ParsedMail {
            message_id: None,
            in_reply_to: Vec::new(),
            references: Vec::new(),
            thread_key: None,
            subject,
            from_name,
            from_address,
            to: to
                .split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect(),
            sent_at: Some(at),
            body_text: body,
            body_html: None,
            is_auto_reply: auto,
            is_own_loop: false,
            attachments: Vec::new(),
            auth_results: Vec::new(),
        };
        let dir = match Arrival::of_source(&source) {
            Arrival::Live => was,
            Arrival::Import => {
                let own = infer::own_text(&pm.body_text);
                let signals = infer::read(own);
                let side = infer::infer_side(conn, staff, &pm, &signals, Some(&case), at)?;
                let greets_rnd = match extract::greeting(own) {
                    extract::Greeting::Name(n) => staff.learnt_rnd_name(conn, &n)?,
                    _ => false,
                };
                direction(staff, rules, &pm, Hint { side, greets_rnd }).0
            }
        };
        if dir != was {
            out.directions += 1;
            diesel::update(messages::table.find(id))
                .set(messages::direction.eq(dir.as_str()))
                .exec(conn)?;
        }
        let author = if pm.from_name.is_empty() {
            pm.from_address.clone()
        } else {
            pm.from_name.clone()
        };
        apply_events(
            conn,
            &rules.serial,
            &case,
            id,
            dir,
            &pm,
            &super::events::Body::read(&pm.body_text),
            &author,
            at,
            Apply::Replay {
                anchored: anchored.contains(&id),
            },
        )?;
    }
    // A status people set in Casebook stands; so do the times that did not move.
    let worked: bool = diesel::select(diesel::dsl::exists(
        audit_events::table
            .filter(audit_events::case_id.eq(case_id))
            .filter(audit_events::action.eq_any(STATUS_WORK)),
    ))
    .row(conn)?;
    if worked {
        diesel::update(cases_t::table.find(case_id))
            .set((
                cases_t::status.eq(&before.status),
                cases_t::closed_at.eq(before.closed_at),
            ))
            .exec(conn)?;
    }
    if !before.imported && imported_mail {
        // History that became live work keeps the live clock it was given then.
        diesel::update(cases_t::table.find(case_id))
            .set((
                cases_t::first_customer_at.eq(before.first_customer_at),
                cases_t::first_response_at.eq(before.first_response_at),
            ))
            .exec(conn)?;
    }
    if let (true, Some(began)) = (before.imported, history_began) {
        // Imported history opened when its first message was written, whichever message
        // was filed first (a reply filed before the mail it answers made the case).
        diesel::update(
            cases_t::table
                .find(case_id)
                .filter(cases_t::created_at.gt(began)),
        )
        .set(cases_t::created_at.eq(began))
        .exec(conn)?;
    }
    diesel::update(
        cases_t::table
            .find(case_id)
            .filter(cases_t::updated_at.lt(before.updated_at)),
    )
    .set(cases_t::updated_at.eq(before.updated_at))
    .exec(conn)?;
    let after = cases::find(conn, case_id)?;
    out.status_after = after.map(|c| c.status).unwrap_or_default();
    if out.changed() {
        cases::audit(
            conn,
            Some(case_id),
            "casebook",
            "case.reanalyzed",
            &format!(
                "{} message(s) re-read; {} → {}",
                out.directions, out.status_before, out.status_after
            ),
        )?;
    }
    Ok(out)
}

/// A reply sent from Casebook at `at`, replayed: first response, waiting on the customer.
fn sent_from_casebook(
    conn: &mut DbConn,
    case: &cases::CaseRow,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let status = Status::parse(&case.status).unwrap_or(Status::New);
    let next = if matches!(status, Status::New | Status::Open) {
        Status::WaitingCustomer
    } else {
        status
    };
    let first = case.first_response_at.or(Some(at));
    diesel::update(cases_t::table.find(case.id))
        .set((
            cases_t::status.eq(next.as_str()),
            cases_t::first_response_at.eq(first),
        ))
        .exec(conn)?;
    Ok(())
}
