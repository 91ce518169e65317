//! The queue's list of cases: its filters, its orders, its pages and its count, each
//! reached through an index so that a page costs the same however many cases there are
//! and however many match (a customer with 50,000 cases, a code on every case, page
//! 2,000 of the activity order).

use super::{escape_like, narrow, CaseRow, EscalationStatus, Priority, Status};
use crate::db::schema::cases;
use crate::db::DbConn;
use crate::db::Direct;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub q: Option<String>,
    pub status: Option<String>,
    pub assignee: Option<i64>,
    pub customer: Option<String>,
    pub oem: Option<String>,
    pub code: Option<String>,
    /// Cases with an escalation not yet closed.
    pub escalated: bool,
    /// Imported history only (`Some(true)`) or live work only (`Some(false)`).
    pub imported: Option<bool>,
    /// First-response SLA breached: (now, minutes per priority low, normal, high, urgent).
    pub breached: Option<(NaiveDateTime, [i64; 4])>,
    /// `activity` (default), `age` (oldest first) or `priority`.
    pub sort: Option<String>,
    /// Times and facts a report's figure narrows to.
    pub narrow: narrow::Narrow,
    pub page: i64,
    pub per_page: i64,
    /// The page after (or before) the case at this place in the list's order, found
    /// through the order's index however deep it is; `page` then only labels it. Only
    /// the orders by activity and by age have places; `?sort=priority` pages by number.
    pub at: Option<Place>,
}

/// Which side of a [`Cursor`] a page lies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    After(Cursor),
    Before(Cursor),
}

/// A case's place in the list's order: its time in that order (the last activity, or
/// the opening for `?sort=age`) and its id. Written in links as
/// `20261207T101010.123456789_1234`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: NaiveDateTime,
    pub id: i64,
}

impl Cursor {
    const FORMAT: &'static str = "%Y%m%dT%H%M%S%.f";

    pub fn parse(s: &str) -> Option<Cursor> {
        let (at, id) = s.trim().split_once('_')?;
        Some(Cursor {
            at: NaiveDateTime::parse_from_str(at, Self::FORMAT).ok()?,
            id: id.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.at.format(Self::FORMAT), self.id)
    }
}

/// The most cases a list counts: beyond it the total is "1,000+". Counting stops here so
/// that a list's cost does not grow with the cases that match (a customer with 50,000
/// cases, a code on every case).
pub const COUNT_CAP: i64 = 1000;

/// A code carried by at least this many cases is "common": the list walks the cases in
/// its order and probes each for the code, rather than collecting every case with the
/// code and sorting them all.
pub const COMMON_CODE: i64 = 500;

/// One page of a list of cases, and how many match.
#[derive(Debug)]
pub struct ListPage {
    pub rows: Vec<CaseRow>,
    /// The cases that match, counted up to [`COUNT_CAP`].
    pub total: i64,
    /// `false` when more than [`COUNT_CAP`] match: `total` is then a lower bound.
    pub exact: bool,
    /// Another page follows this one.
    pub more: bool,
    /// A page comes before this one.
    pub earlier: bool,
    /// The places of the page's first and last case (`None` in `?sort=priority`, which
    /// pages by number, and on an empty page).
    pub first: Option<Cursor>,
    pub last: Option<Cursor>,
}

/// The most customer names the typed words of the customer filter are matched to
/// before the list falls back to matching the words case by case.
pub const CUSTOMER_NAMES: i64 = 50;

/// How the queue's customer filter (typed words, matched anywhere in the name) reaches
/// the cases.
enum CustomerMatch {
    /// No customer name holds the words: no case matches.
    Nobody,
    /// One name: a range of `cases_customer`, in the list's order.
    One(String),
    /// A few names carried by fewer than [`COMMON_CODE`] cases: collected and sorted.
    Few(Vec<String>),
    /// A few names carried by many cases: the list walks its order and checks each
    /// case's name; the count takes the names' ranges of `cases_customer`.
    Many(Vec<String>),
    /// More names than [`CUSTOMER_NAMES`]: the words matched in each case's name.
    Words(String),
}

/// The names of `customers` that hold `words`, and how the list reaches their cases.
fn customer_match(conn: &mut DbConn, words: &str) -> QueryResult<CustomerMatch> {
    use crate::db::schema::customers;
    let pattern = format!("%{}%", escape_like(words));
    let mut names: Vec<String> = customers::table
        .filter(customers::name.like(pattern.clone()).escape('\\'))
        .select(customers::name)
        .limit(CUSTOMER_NAMES + 1)
        .rows(conn)?;
    Ok(match names.len() as i64 {
        0 => CustomerMatch::Nobody,
        1 => CustomerMatch::One(names.remove(0)),
        n if n > CUSTOMER_NAMES => CustomerMatch::Words(pattern),
        _ => {
            // One probe of the names' ranges that reads at most COMMON_CODE entries.
            let nth: Vec<i64> = cases::table
                .filter(cases::customer.eq_any(&names))
                .select(cases::id)
                .offset(COMMON_CODE - 1)
                .limit(1)
                .rows(conn)?;
            if nth.is_empty() {
                CustomerMatch::Few(names)
            } else {
                CustomerMatch::Many(names)
            }
        }
    })
}

/// Whether `code` is carried by at least [`COMMON_CODE`] cases: one probe of the code's
/// index that reads at most that many entries.
fn code_is_common(conn: &mut DbConn, code: &str) -> QueryResult<bool> {
    use crate::db::schema::case_codes;
    let nth: Vec<i64> = case_codes::table
        .filter(case_codes::code.eq(code))
        .select(case_codes::id)
        .offset(COMMON_CODE - 1)
        .limit(1)
        .rows(conn)?;
    Ok(!nth.is_empty())
}

/// The queue: newest activity first, with an optional text and status filter.
///
/// Its cost stays within the page and [`COUNT_CAP`], however many cases match: the page
/// reads one row more than it shows (to know whether another follows), and the count
/// runs only when the page is full, stopping after [`COUNT_CAP`] + 1 cases.
pub fn list(conn: &mut DbConn, f: &ListFilter) -> QueryResult<ListPage> {
    let pg = matches!(conn, DbConn::Pg(_));
    let code = f
        .code
        .as_deref()
        .and_then(crate::codes::parse_code)
        .map(crate::codes::format_code);
    // Plans never depend on bound values (see `db::sqlite_global_config`), so the shape
    // of the code filter is chosen here.
    let common_code = match &code {
        Some(c) => code_is_common(conn, c)?,
        None => false,
    };
    let customer = match f
        .customer
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(words) => Some(customer_match(conn, words)?),
        None => None,
    };
    // `counting`: the same filter shaped for COUNT(*).
    let build = |counting: bool| {
        let mut q = cases::table.into_boxed();
        // Merged cases are closed, so "active" leaves them out by its index alone.
        if f.status.as_deref() != Some("active") {
            // Nearly every case is unmerged: on SQLite the unary plus keeps the planner
            // from walking `cases_merged_into` for it and sorting every case, where the
            // list's order index stops after a page. PostgreSQL knows from its
            // statistics, and would misjudge the plus as rare.
            q = if pg {
                q.filter(cases::merged_into.is_null())
            } else {
                q.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "+cases.merged_into IS NULL",
                ))
            };
        }
        if let Some(s) = f.status.as_deref().filter(|s| !s.is_empty()) {
            if s == "active" && counting {
                // Every status but closed, spelled out: a few ranges of the status
                // index, where `<> 'closed'` walks all of it.
                let open: Vec<&str> = Status::ALL
                    .into_iter()
                    .filter(|s| *s != Status::Closed)
                    .map(Status::as_str)
                    .collect();
                q = q.filter(cases::status.eq_any(open));
            } else if s == "active" {
                // The partial index of open cases, newest activity first: its condition
                // spelled as the index spells it (plans never depend on bound values,
                // see `db::sqlite_global_config`).
                q = q.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "cases.status <> 'closed'",
                ));
            } else {
                q = q.filter(cases::status.eq(s.to_string()));
            }
        }
        if let Some(a) = f.assignee {
            q = q.filter(cases::assignee_id.eq(a));
        }
        match &customer {
            None => {}
            Some(CustomerMatch::Nobody) => {
                q = q.filter(diesel::dsl::sql::<diesel::sql_types::Bool>("1 = 0"));
            }
            Some(CustomerMatch::One(name)) => q = q.filter(cases::customer.eq(name.clone())),
            Some(CustomerMatch::Few(names)) => {
                q = q.filter(cases::customer.eq_any(names.clone()));
            }
            Some(CustomerMatch::Many(names)) if !counting && !pg => {
                // The unary plus keeps SQLite walking the list's order (a page stops
                // early) rather than collecting every case of the names and sorting.
                q = q.filter(
                    diesel::dsl::sql::<diesel::sql_types::Text>("+cases.customer")
                        .eq_any(names.clone()),
                );
            }
            Some(CustomerMatch::Many(names)) => {
                q = q.filter(cases::customer.eq_any(names.clone()));
            }
            Some(CustomerMatch::Words(pattern)) => {
                q = q.filter(cases::customer.like(pattern.clone()).escape('\\'));
            }
        }
        if let Some(o) = f.oem.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            q = q.filter(
                cases::oem
                    .like(format!("%{}%", escape_like(o)))
                    .escape('\\'),
            );
        }
        if let Some(code) = &code {
            use crate::db::schema::case_codes;
            if common_code {
                // Walked in the list's order, each case probed (UNIQUE(case_id, code)):
                // the page stops after its rows, the count after its cap.
                q = q.filter(diesel::dsl::exists(
                    case_codes::table
                        .filter(case_codes::case_id.eq(cases::id))
                        .filter(case_codes::code.eq(code.clone())),
                ));
            } else {
                // Fewer than COMMON_CODE cases: collect them and sort.
                let with_code = case_codes::table
                    .filter(case_codes::code.eq(code.clone()))
                    .select(case_codes::case_id);
                q = q.filter(cases::id.eq_any(with_code));
            }
        }
        if f.escalated {
            let open = crate::db::schema::escalations::table
                .filter(
                    crate::db::schema::escalations::status.ne(EscalationStatus::Closed.as_str()),
                )
                .select(crate::db::schema::escalations::case_id);
            q = q.filter(cases::id.eq_any(open));
        }
        if let Some(imported) = f.imported {
            q = q.filter(cases::imported.eq(imported));
        }
        if let Some((now, mins)) = f.breached {
            let due = |m: i64| now - chrono::Duration::minutes(m);
            // Imported history is never overdue.
            q = q.filter(cases::imported.eq(false));
            // `mins` is in the order of `Priority::ALL`.
            let [low, normal, high, urgent] = mins;
            q = q.filter(cases::first_response_at.is_null()).filter(
                cases::priority
                    .eq(Priority::Low.as_str())
                    .and(cases::first_customer_at.lt(due(low)))
                    .or(cases::priority
                        .eq(Priority::Normal.as_str())
                        .and(cases::first_customer_at.lt(due(normal))))
                    .or(cases::priority
                        .eq(Priority::High.as_str())
                        .and(cases::first_customer_at.lt(due(high))))
                    .or(cases::priority
                        .eq(Priority::Urgent.as_str())
                        .and(cases::first_customer_at.lt(due(urgent)))),
            );
        }
        if let Some(text) = f.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let pattern = format!("%{}%", escape_like(text));
            q = q.filter(
                cases::subject
                    .like(pattern.clone())
                    .escape('\\')
                    .or(cases::number.like(pattern.clone()).escape('\\'))
                    .or(cases::customer.like(pattern.clone()).escape('\\'))
                    .or(cases::tracking_token.like(pattern).escape('\\')),
            );
        }
        narrow::apply(q, &f.narrow, pg)
    };
    let per = f.per_page.clamp(1, 200);
    let page = f.page.max(1);
    // The list's order: by the last activity (the default), by age, or by priority.
    let by_age = f.sort.as_deref() == Some("age");
    let by_priority = f.sort.as_deref() == Some("priority");
    let key = |c: &CaseRow| Cursor {
        at: if by_age { c.created_at } else { c.updated_at },
        id: c.id,
    };
    let place = f.at.filter(|_| !by_priority);
    // A page before a place is read backwards from it, and turned round.
    let backwards = matches!(place, Some(Place::Before(_)));
    let mut q = build(false);
    if let Some(Place::After(c) | Place::Before(c)) = place {
        // The cases strictly beyond the place in the direction read: a range of the
        // order's index (its time bounds the range; the id settles equal times). Read
        // forwards, the activity order goes down in time and the age order up.
        let below = by_age == backwards;
        q = match (by_age, below) {
            (false, true) => q.filter(
                cases::updated_at
                    .le(c.at)
                    .and(cases::updated_at.lt(c.at).or(cases::id.lt(c.id))),
            ),
            (false, false) => q.filter(
                cases::updated_at
                    .ge(c.at)
                    .and(cases::updated_at.gt(c.at).or(cases::id.gt(c.id))),
            ),
            (true, true) => q.filter(
                cases::created_at
                    .le(c.at)
                    .and(cases::created_at.lt(c.at).or(cases::id.lt(c.id))),
            ),
            (true, false) => q.filter(
                cases::created_at
                    .ge(c.at)
                    .and(cases::created_at.gt(c.at).or(cases::id.gt(c.id))),
            ),
        };
    }
    let ordered = match (f.sort.as_deref(), backwards) {
        (Some("age"), false) => q.order((cases::created_at.asc(), cases::id.asc())),
        (Some("age"), true) => q.order((cases::created_at.desc(), cases::id.desc())),
        // The expression of the index `cases_priority`, character for character.
        (Some("priority"), _) => q.order((
            diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END",
            )
            .asc(),
            cases::updated_at.desc(),
            cases::id.desc(),
        )),
        (_, false) => q.order((cases::updated_at.desc(), cases::id.desc())),
        (_, true) => q.order((cases::updated_at.asc(), cases::id.asc())),
    };
    // A place is found through the index; a page number skips the pages before it.
    let offset = if place.is_some() { 0 } else { (page - 1) * per };
    // One row more than the page: whether another page follows (precedes, read
    // backwards).
    let mut rows: Vec<CaseRow> = ordered
        .limit(per + 1)
        .offset(offset)
        .select(CaseRow::as_select())
        .load(conn)?;
    let beyond = rows.len() as i64 > per;
    rows.truncate(per as usize);
    if backwards {
        rows.reverse();
    }
    let (more, earlier) = match place {
        None => (beyond, page > 1),
        Some(Place::After(_)) => (beyond, true),
        // Read from a later page: that page follows.
        Some(Place::Before(_)) => (true, beyond),
    };
    let (total, exact) = if place.is_none() && !more && !(rows.is_empty() && page > 1) {
        // The last page reached by number: the cases before it and on it.
        (offset + rows.len() as i64, true)
    } else {
        // Count, up to the cap.
        let counted = build(true)
            .select(cases::id)
            .limit(COUNT_CAP + 1)
            .load::<i64>(conn)?
            .len() as i64;
        (counted.min(COUNT_CAP), counted <= COUNT_CAP)
    };
    let (first, last) = if by_priority {
        (None, None)
    } else {
        (rows.first().map(key), rows.last().map(key))
    };
    Ok(ListPage {
        rows,
        total,
        exact,
        more,
        earlier,
        first,
        last,
    })
}
