//! What a message does to its case: the status it moves to, first-contact times,
//! scope definitions, closure summaries and R&D escalations.

use super::Direction;
use crate::cases::{CaseRow, Status};
use crate::db::schema::{cases as cases_t, closures, escalation_entries, escalations, scopes};
use crate::db::DbConn;
use crate::db::Direct;
use crate::mail::{extract, ParsedMail};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use regex::Regex;

#[derive(Insertable)]
#[diesel(table_name = closures)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct NewClosure<'a> {
    case_id: i64,
    problem_definition: &'a str,
    resolution: &'a str,
    root_cause: Option<&'a str>,
    customer_agreed: bool,
    author: &'a str,
    message_row_id: i64,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = scopes)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct NewScope<'a> {
    case_id: i64,
    problem_definition: &'a str,
    problem_scope: &'a str,
    log_instructions: Option<&'a str>,
    author: &'a str,
    message_row_id: i64,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = escalations)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct NewEscalation<'a> {
    case_id: i64,
    status: &'a str,
    question: &'a str,
    serial_number: Option<&'a str>,
    opened_by: &'a str,
    message_row_id: Option<i64>,
    opened_at: NaiveDateTime,
    last_activity_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = escalation_entries)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct NewEntry<'a> {
    escalation_id: i64,
    kind: &'a str,
    author_name: &'a str,
    body_text: &'a str,
    message_row_id: i64,
    created_at: NaiveDateTime,
}

/// What a message's masked body says that its events need, read without the database
/// (for a new message on the thread that prepares it, beside the writer).
pub(crate) struct Body {
    /// The text above any folded history.
    main_text: String,
    closure: Option<extract::Closure>,
    /// A scope definition (read only when the body is no closure summary).
    scope: Option<extract::Scope>,
}

impl Body {
    pub(crate) fn read(body_masked: &str) -> Self {
        let closure = extract::extract_closure(body_masked);
        Body {
            main_text: extract::split_folded(body_masked).0,
            scope: closure
                .is_none()
                .then(|| extract::extract_scope(body_masked))
                .flatten(),
            closure,
        }
    }
}

/// How a message is applied: as it arrives, or again when its case is re-analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Apply {
    /// As it arrives: status changes audited.
    Arriving,
    /// Re-analysis (nothing audited). `anchored`: the message opened an escalation that
    /// people worked on in Casebook and that was kept; it opens or follows up nothing.
    Replay { anchored: bool },
}

/// Applies message row `row_id` (sent `at` by `author`, direction `dir`) to `case`.
#[allow(clippy::too_many_arguments)]
pub(super) fn apply_events(
    conn: &mut DbConn,
    serial_re: &Regex,
    case: &CaseRow,
    row_id: i64,
    dir: Direction,
    pm: &ParsedMail,
    body: &Body,
    author: &str,
    at: NaiveDateTime,
    mode: Apply,
) -> QueryResult<()> {
    let mut status = Status::parse(&case.status).unwrap_or(Status::New);
    let before = status;
    let mut first_customer_at = case.first_customer_at;
    let mut first_response_at = case.first_response_at;
    let mut closed_at = case.closed_at;
    let main_text = &body.main_text;
    let replay_at = matches!(mode, Apply::Replay { .. }).then_some(at);
    match dir {
        Direction::Customer if !pm.is_auto_reply => {
            if case.imported {
                // History by its own clock, whatever order it was filed in.
                first_customer_at = Some(first_customer_at.map_or(at, |c| c.min(at)));
            } else {
                first_customer_at.get_or_insert(at);
            }
            if case.contact_email.is_none() && !pm.from_address.is_empty() {
                diesel::update(cases_t::table.find(case.id))
                    .set(cases_t::contact_email.eq(&pm.from_address))
                    .exec(conn)?;
            }
            if matches!(
                status,
                Status::New | Status::WaitingCustomer | Status::Resolved | Status::Closed
            ) {
                status = Status::Open;
                closed_at = None;
            }
        }
        Direction::Customer => {}
        Direction::Support => {
            if first_response_at.is_none() && first_customer_at.is_none_or(|c| c <= at) {
                first_response_at = Some(at);
            }
            if let Some(cl) = &body.closure {
                diesel::insert_into(closures::table)
                    .values(NewClosure {
                        case_id: case.id,
                        problem_definition: &cl.problem_definition,
                        resolution: &cl.resolution,
                        root_cause: cl.root_cause.as_deref(),
                        customer_agreed: true,
                        author,
                        message_row_id: row_id,
                        created_at: at,
                    })
                    .exec(conn)?;
                // Not the escalations opened later in Casebook (a replay at `t`).
                crate::db::cached_sql(
                    "UPDATE escalations SET status = 'closed', closed_at = $1 \
                     WHERE case_id = $2 AND status <> 'closed' AND ($3 IS NULL OR opened_at <= $4)",
                )
                .bind::<Timestamp, _>(at)
                .bind::<BigInt, _>(case.id)
                .bind::<Nullable<Timestamp>, _>(replay_at)
                .bind::<Nullable<Timestamp>, _>(replay_at)
                .exec(conn)?;
                status = Status::Closed;
                closed_at = Some(at);
            } else {
                if let Some(sc) = &body.scope {
                    diesel::insert_into(scopes::table)
                        .values(NewScope {
                            case_id: case.id,
                            problem_definition: &sc.problem_definition,
                            problem_scope: &sc.problem_scope,
                            log_instructions: sc.log_instructions.as_deref(),
                            author,
                            message_row_id: row_id,
                            created_at: at,
                        })
                        .exec(conn)?;
                }
                if matches!(status, Status::New | Status::Open) {
                    status = Status::WaitingCustomer;
                }
            }
        }
        Direction::ToRnd if mode == (Apply::Replay { anchored: true }) => {
            if status != Status::Closed {
                status = Status::Escalated;
            }
        }
        Direction::ToRnd => {
            let open = open_escalation(conn, case.id, replay_at)?;
            match open {
                Some(esc) => {
                    add_entry(conn, esc, "followup", author, main_text, row_id, at)?;
                    set_escalation_status(conn, esc, "open")?;
                }
                None => {
                    let serial = extract::serial_numbers(&pm.body_text, serial_re)
                        .into_iter()
                        .next();
                    diesel::insert_into(escalations::table)
                        .values(NewEscalation {
                            case_id: case.id,
                            status: "open",
                            question: main_text,
                            serial_number: serial.as_deref(),
                            opened_by: author,
                            message_row_id: Some(row_id),
                            opened_at: at,
                            last_activity_at: Some(at),
                        })
                        .exec(conn)?;
                }
            }
            if status != Status::Closed {
                status = Status::Escalated;
            }
        }
        Direction::FromRnd => {
            let open = open_escalation(conn, case.id, replay_at)?;
            let esc = match open {
                Some(e) => e,
                None => diesel::insert_into(escalations::table)
                    .values(NewEscalation {
                        case_id: case.id,
                        status: "open",
                        question: "",
                        serial_number: None,
                        opened_by: author,
                        message_row_id: None,
                        opened_at: at,
                        last_activity_at: None,
                    })
                    .returning(escalations::id)
                    .row(conn)?,
            };
            add_entry(conn, esc, "answer", author, main_text, row_id, at)?;
            set_escalation_status(conn, esc, "answered")?;
            crate::db::cached_sql(
                "UPDATE escalations SET first_answered_at = $1 \
                 WHERE id = $2 AND first_answered_at IS NULL",
            )
            .bind::<Timestamp, _>(at)
            .bind::<BigInt, _>(esc)
            .exec(conn)?;
            if status != Status::Closed {
                status = Status::Escalated;
            }
        }
    }
    let updated_at = if at > case.updated_at {
        at
    } else {
        case.updated_at
    };
    // Once per message: prepared once per connection (it carries the triggers of
    // `cases`), where the DSL's UPDATE would be prepared every time.
    crate::db::cached_sql(
        "UPDATE cases SET status = $1, first_customer_at = $2, first_response_at = $3, \
         closed_at = $4, updated_at = $5 WHERE id = $6",
    )
    // Its triggers make it a statement SQLite would journal (see `or_fail`).
    .or_fail()
    .bind::<Text, _>(status.as_str())
    .bind::<Nullable<Timestamp>, _>(first_customer_at)
    .bind::<Nullable<Timestamp>, _>(first_response_at)
    .bind::<Nullable<Timestamp>, _>(closed_at)
    .bind::<Timestamp, _>(updated_at)
    .bind::<BigInt, _>(case.id)
    .exec(conn)?;
    if mode == Apply::Arriving && status != before {
        crate::cases::audit(
            conn,
            Some(case.id),
            author,
            "status.changed",
            &format!("{} → {}", before.as_str(), status.as_str()),
        )?;
    }
    Ok(())
}

fn add_entry(
    conn: &mut DbConn,
    esc: i64,
    kind: &str,
    author: &str,
    body: &str,
    row_id: i64,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(escalation_entries::table)
        .values(NewEntry {
            escalation_id: esc,
            kind,
            author_name: author,
            body_text: body,
            message_row_id: row_id,
            created_at: at,
        })
        .exec(conn)?;
    Ok(())
}

/// The case's newest escalation that is not closed (in a re-analysis: opened by `by`,
/// so that mail is not attached to an escalation opened later in Casebook; live mail
/// answers whatever is open, whatever the sender's clock says).
fn open_escalation(
    conn: &mut DbConn,
    case_id: i64,
    by: Option<NaiveDateTime>,
) -> QueryResult<Option<i64>> {
    let open = escalations::table
        .filter(escalations::case_id.eq(case_id))
        .filter(escalations::status.ne("closed"));
    match by {
        Some(t) => open
            .filter(escalations::opened_at.le(t))
            .order(escalations::id.desc())
            .select(escalations::id)
            .first_row(conn)
            .optional(),
        None => open
            .order(escalations::id.desc())
            .select(escalations::id)
            .first_row(conn)
            .optional(),
    }
}

/// An escalation's status; once per R&D message, so prepared once per connection (the
/// DSL's UPDATE is prepared at every run, with the table's triggers).
fn set_escalation_status(conn: &mut DbConn, esc: i64, status: &str) -> QueryResult<()> {
    crate::db::cached_sql("UPDATE escalations SET status = $1 WHERE id = $2")
        .bind::<Text, _>(status)
        .bind::<BigInt, _>(esc)
        .exec(conn)
        .map(|_| ())
}
