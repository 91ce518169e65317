//! Managers' figures, computed from recorded events (case, first-response, closing
//! and escalation times taken from the mail itself), so imported history counts
//! right. The database selects the rows of the period (only the needed columns);
//! counts, percentiles and buckets are computed here.

pub mod case;
pub mod chart;
pub mod csv_export;
pub mod drill;
pub mod views;

use crate::db::schema::{case_codes, cases, escalations};
use crate::db::DbConn;
use crate::db::Direct;
use crate::i18n::Msg;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Longest period a report may cover.
pub const MAX_DAYS: i64 = 3700;
/// Rows in the "top" tables.
pub const TOP: usize = 10;

/// What a report asks for, as the page's form and a saved view's query string say it.
#[derive(Debug, Clone, Default, serde::Deserialize, Serialize)]
pub struct Params {
    /// `week`, `30d`, `quarter`, `year`, `last_year`, `all` (wins over from/to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The assignee: a user id or `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engineer: Option<String>,
}

impl Params {
    /// Reads a query string (`preset=30d&code=0xC004F074`).
    pub fn parse(qs: &str) -> Result<Params, Msg> {
        serde_urlencoded::from_str(qs.trim_start_matches('?'))
            .map_err(|e| Msg::new("reports.error.query").with("detail", e))
    }

    /// The non-empty parameters as a query string (a preset stays a preset, so a saved
    /// "last 30 days" keeps rolling).
    pub fn to_query_string(&self) -> String {
        let mut p = self.clone();
        for v in [
            &mut p.preset,
            &mut p.from,
            &mut p.to,
            &mut p.customer,
            &mut p.oem,
            &mut p.code,
            &mut p.priority,
            &mut p.product,
            &mut p.engineer,
        ] {
            if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                *v = None;
            }
        }
        if p.preset.is_some() {
            p.from = None;
            p.to = None;
        }
        serde_urlencoded::to_string(&p).unwrap_or_default()
    }

    /// The period and filters: a preset's days as of `now` (`all` from the data's
    /// range), else the bounds given (default: the 52 weeks up to `now`).
    pub fn resolve(
        &mut self,
        range: Option<(NaiveDate, NaiveDate)>,
        now: NaiveDateTime,
    ) -> Result<ReportQuery, Msg> {
        if let Some(name) = self
            .preset
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let (from, last) =
                preset(name, now.date(), range).ok_or_else(|| Msg::new("reports.error.preset"))?;
            self.from = Some(from.format("%Y-%m-%d").to_string());
            self.to = Some(last.format("%Y-%m-%d").to_string());
        }
        ReportQuery::new(
            self.from.as_deref(),
            self.to.as_deref(),
            Filters {
                customer: self.customer.as_deref(),
                oem: self.oem.as_deref(),
                code: self.code.as_deref(),
                priority: self.priority.as_deref(),
                product: self.product.as_deref(),
                engineer: self.engineer.as_deref(),
            },
            now,
        )
    }
}

/// A period (`to` exclusive) and filters.
#[derive(Debug, Clone)]
pub struct ReportQuery {
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    /// Part of the customer's name.
    pub customer: String,
    /// Part of the OEM's name.
    pub oem: String,
    /// An error code the case carries.
    pub code: String,
    /// The case's priority (`low`…`urgent`), empty for all.
    pub priority: String,
    /// Part of a product name of the case's activation records.
    pub product: String,
    /// The assignee: a user id, `none` for the unassigned, empty for all.
    pub engineer: String,
}

/// The filters of a report, as asked for.
#[derive(Debug, Clone, Default)]
pub struct Filters<'a> {
    pub customer: Option<&'a str>,
    pub oem: Option<&'a str>,
    pub code: Option<&'a str>,
    pub priority: Option<&'a str>,
    pub product: Option<&'a str>,
    pub engineer: Option<&'a str>,
}

fn nonempty(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// Parses a bound: `YYYY-MM-DD` (a whole day: the end bound then means the end of that
/// day) or RFC 3339 (`2022-06-24T00:00:00Z`, `…+08:00`), converted to UTC.
pub fn parse_bound(s: &str, end: bool) -> Result<NaiveDateTime, Msg> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let day = if end { d.succ_opt().unwrap_or(d) } else { d };
        return day
            .and_hms_opt(0, 0, 0)
            .ok_or_else(|| Msg::new("reports.error.not_a_date").with("value", s));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.naive_utc());
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S") {
        return Ok(t);
    }
    Err(Msg::new("reports.error.not_a_date").with("value", s))
}

impl ReportQuery {
    /// From optional request values; the default period is the 52 weeks up to `now`.
    pub fn new(
        from: Option<&str>,
        to: Option<&str>,
        filters: Filters,
        now: NaiveDateTime,
    ) -> Result<ReportQuery, Msg> {
        let Filters {
            customer,
            oem,
            code,
            priority,
            product,
            engineer,
        } = filters;
        let to = match nonempty(to) {
            Some(t) => parse_bound(t, true)?,
            None => now
                .date()
                .succ_opt()
                .unwrap_or(now.date())
                .and_time(chrono::NaiveTime::MIN),
        };
        let from = match nonempty(from) {
            Some(f) => parse_bound(f, false)?,
            None => to - Duration::weeks(52),
        };
        if from >= to {
            return Err(Msg::new("reports.error.order"));
        }
        if (to - from).num_days() > MAX_DAYS {
            return Err(Msg::new("reports.error.too_long").with("days", MAX_DAYS));
        }
        let code = nonempty(code).unwrap_or("");
        let priority = nonempty(priority).unwrap_or("");
        if !priority.is_empty() && crate::cases::Priority::parse(priority).is_none() {
            return Err(Msg::new("queue.bad_priority"));
        }
        let engineer = nonempty(engineer).unwrap_or("");
        if !engineer.is_empty() && engineer != "none" && engineer.parse::<i64>().is_err() {
            return Err(Msg::new("queue.bad_assignee"));
        }
        Ok(ReportQuery {
            from,
            to,
            customer: nonempty(customer).unwrap_or("").to_string(),
            oem: nonempty(oem).unwrap_or("").to_string(),
            code: crate::search::normalize_code(code).unwrap_or_else(|| code.to_string()),
            priority: priority.to_string(),
            product: nonempty(product).unwrap_or("").to_string(),
            engineer: engineer.to_string(),
        })
    }

    /// The period of the same length just before this one, with the same filters.
    pub fn previous(&self) -> ReportQuery {
        let len = self.to - self.from;
        ReportQuery {
            from: self.from - len,
            to: self.from,
            ..self.clone()
        }
    }

    /// The last day in the period, for date inputs (`to` is exclusive).
    pub fn last_day(&self) -> NaiveDate {
        (self.to - Duration::seconds(1)).date()
    }
}

/// Median and 90th percentile of a sample.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Spread {
    pub count: usize,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

/// Median (mean of the two middle values for an even count) and p90 (nearest rank).
pub fn spread(mut v: Vec<f64>) -> Spread {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return Spread::default();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let rank = ((0.9 * n as f64).ceil() as usize).clamp(1, n);
    Spread {
        count: n,
        median: Some(round2(median)),
        p90: Some(round2(v[rank - 1])),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Debug, Clone, Serialize)]
pub struct Week {
    /// Monday of the week.
    pub week: NaiveDate,
    pub opened: i64,
    pub closed: i64,
    /// Open at the end of the week (or now, for the current week).
    pub backlog: i64,
    /// The queue of the cases opened / closed that week (see [`drill`]).
    pub opened_url: String,
    pub closed_url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    /// Catalog key suffix: `report.age.{bucket}`.
    pub bucket: &'static str,
    pub count: i64,
    /// Ages in days: more than `min_days`, at most `max_days` (None: no limit).
    pub min_days: i64,
    pub max_days: Option<i64>,
    /// The queue of these cases.
    pub url: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Backlog {
    /// When the backlog is counted: the end of the period, or now if that is earlier.
    pub at: NaiveDateTime,
    pub open: i64,
    pub by_age: Vec<Bucket>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Escalations {
    /// Escalations opened in the period.
    pub count: i64,
    /// Cases opened in the period that were escalated.
    pub cases_escalated: i64,
    /// `cases_escalated / cases_opened`.
    pub rate: Option<f64>,
    pub answer_hours_median: Option<f64>,
    pub answer_hours_p90: Option<f64>,
    /// Cases with an escalation opened in the period and not answered by its end.
    pub unanswered: i64,
    /// Cases with an escalation open now and opened before the period's end, by the
    /// age of that escalation at the period's end.
    pub open_now: Backlog,
}

/// First response against the target of each priority, for the cases opened in the
/// period (see `cases::narrow::SlaOutcome`).
#[derive(Debug, Clone, Serialize)]
pub struct SlaRow {
    pub priority: &'static str,
    pub target_minutes: i64,
    pub opened: i64,
    pub met: i64,
    pub late: i64,
    /// Live cases not answered and past the target now.
    pub breached: i64,
    /// `met / (met + late + breached)`.
    pub share: Option<f64>,
    /// Median first response of the priority's cases, in minutes.
    pub first_response_median: Option<f64>,
    pub opened_url: String,
    pub met_url: String,
    pub late_url: String,
    pub breached_url: String,
}

/// The headline figures of the previous period of the same length.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Previous {
    pub from: String,
    pub to: String,
    pub cases_opened: i64,
    pub cases_closed: i64,
    pub reopen_rate: Option<f64>,
    pub first_response_median: Option<f64>,
    pub resolution_median: Option<f64>,
    pub escalation_rate: Option<f64>,
    pub sla_share: Option<f64>,
}

/// A name (customer, OEM, product) and its cases opened in the period and before.
#[derive(Debug, Clone, Serialize)]
pub struct NameCount {
    pub name: String,
    pub count: i64,
    pub previous: i64,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CodeCount {
    pub code: String,
    pub count: i64,
    /// Cases opened with it in the previous period.
    pub previous: i64,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerCount {
    pub customer: String,
    pub count: i64,
    pub previous: i64,
    pub url: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub cases_opened: i64,
    pub cases_closed: i64,
    /// Cases opened in the period that continue a closed one.
    pub cases_reopened: i64,
    pub reopen_rate: Option<f64>,
    pub first_response_minutes: Spread,
    /// First response within the target, all priorities.
    pub sla_share: Option<f64>,
    pub sla: Vec<SlaRow>,
    pub resolution_hours: Spread,
    pub escalations: Escalations,
    pub backlog: Backlog,
    pub weekly: Vec<Week>,
    pub top_error_codes: Vec<CodeCount>,
    pub top_customers: Vec<CustomerCount>,
    pub top_oems: Vec<NameCount>,
    pub top_products: Vec<NameCount>,
    /// The same headline figures for the period before.
    pub previous: Previous,
    /// Per engineer (assignee), most open first; the unassigned last.
    pub engineers: Vec<EngineerLoad>,
    /// The queues behind the headline counts.
    pub links: drill::Links,
}

/// The columns a report needs from a case.
#[derive(Debug, Clone, Queryable)]
pub struct CaseTimes {
    pub id: i64,
    pub customer: Option<String>,
    pub parent_case_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub first_customer_at: Option<NaiveDateTime>,
    pub first_response_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub assignee_id: Option<i64>,
    pub status: String,
    pub oem: Option<String>,
    pub priority: String,
    pub imported: bool,
}

/// One engineer's workload in the period (`id` None: nobody's).
#[derive(Debug, Clone, Serialize)]
pub struct EngineerLoad {
    pub id: Option<i64>,
    pub engineer: String,
    /// Open at the end of the period.
    pub open: i64,
    /// Of those, waiting on the customer now.
    pub waiting: i64,
    pub closed: i64,
    /// Median first response (minutes) of the cases opened in the period.
    pub first_response_median: Option<f64>,
    pub open_url: String,
    pub waiting_url: String,
    pub closed_url: String,
}

/// The columns a report needs from an escalation.
#[derive(Debug, Clone, Queryable)]
pub struct EscalationTimes {
    pub case_id: i64,
    pub opened_at: NaiveDateTime,
    pub first_answered_at: Option<NaiveDateTime>,
}

/// Everything a report is computed from (see [`load`]).
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// Cases alive in the period or the one before, filtered.
    pub cases: Vec<CaseTimes>,
    /// Escalations opened since the start of the previous period.
    pub escalations: Vec<EscalationTimes>,
    /// (case id, code) of the cases opened in either period.
    pub codes: Vec<(i64, String)>,
    /// (case id, product) of the cases opened in either period.
    pub products: Vec<(i64, String)>,
    /// (case id, opened at) of the escalations open now, of filtered cases.
    pub open_escalations: Vec<(i64, NaiveDateTime)>,
}

/// The filtered cases (merged ones left out), whatever their times.
fn filtered<'a>(q: &ReportQuery, pg: bool) -> crate::cases::narrow::Boxed<'a> {
    use crate::cases::narrow::{self, Narrow};
    let mut query = cases::table
        .filter(cases::merged_into.is_null())
        .into_boxed();
    if !q.customer.is_empty() {
        query = query.filter(
            cases::customer
                .like(format!("%{}%", crate::cases::escape_like(&q.customer)))
                .escape('\\'),
        );
    }
    if !q.oem.is_empty() {
        query = query.filter(
            cases::oem
                .like(format!("%{}%", crate::cases::escape_like(&q.oem)))
                .escape('\\'),
        );
    }
    if !q.code.is_empty() {
        query = query.filter(
            cases::id.eq_any(
                case_codes::table
                    .filter(case_codes::code.eq(q.code.clone()))
                    .select(case_codes::case_id),
            ),
        );
    }
    if let Ok(id) = q.engineer.parse::<i64>() {
        query = query.filter(cases::assignee_id.eq(id));
    }
    let n = Narrow {
        priority: crate::cases::Priority::parse(&q.priority),
        product: Some(q.product.clone()).filter(|p| !p.is_empty()),
        unassigned: q.engineer == "none",
        ..Narrow::default()
    };
    narrow::apply(query, &n, pg)
}

/// Cases alive at some time in the period or the one before (opened before the end,
/// not closed before the start of the previous period), with the filters applied.
fn load_cases(conn: &mut DbConn, q: &ReportQuery, pg: bool) -> QueryResult<Vec<CaseTimes>> {
    let from = q.previous().from;
    filtered(q, pg)
        .filter(cases::created_at.lt(q.to))
        .filter(cases::closed_at.is_null().or(cases::closed_at.ge(from)))
        .select((
            cases::id,
            cases::customer,
            cases::parent_case_id,
            cases::created_at,
            cases::first_customer_at,
            cases::first_response_at,
            cases::closed_at,
            cases::assignee_id,
            cases::status,
            cases::oem,
            cases::priority,
            cases::imported,
        ))
        .load(conn)
}

/// Escalations opened since the start of the previous period (later ones still tell
/// whether a case of the period was escalated).
fn load_escalations(conn: &mut DbConn, q: &ReportQuery) -> QueryResult<Vec<EscalationTimes>> {
    escalations::table
        .filter(escalations::opened_at.ge(q.previous().from))
        .select((
            escalations::case_id,
            escalations::opened_at,
            escalations::first_answered_at,
        ))
        .rows(conn)
}

/// Error codes of the cases opened in the period or the one before.
fn load_codes(conn: &mut DbConn, q: &ReportQuery) -> QueryResult<Vec<(i64, String)>> {
    case_codes::table
        .filter(
            case_codes::case_id.eq_any(
                cases::table
                    .filter(cases::created_at.ge(q.previous().from))
                    .filter(cases::created_at.lt(q.to))
                    .filter(cases::merged_into.is_null())
                    .select(cases::id),
            ),
        )
        .select((case_codes::case_id, case_codes::code))
        .rows(conn)
}

/// Products of the cases opened in the period or the one before: the product of each
/// activation record of a serial (or machine serial) the case carries.
fn load_products(conn: &mut DbConn, q: &ReportQuery) -> QueryResult<Vec<(i64, String)>> {
    use crate::db::schema::{activation_records as ar, case_serials};
    let opened = || {
        cases::table
            .filter(cases::created_at.ge(q.previous().from))
            .filter(cases::created_at.lt(q.to))
            .filter(cases::merged_into.is_null())
            .select(cases::id)
    };
    let serials: Vec<(i64, String)> = case_serials::table
        .filter(case_serials::case_id.eq_any(opened()))
        .select((case_serials::case_id, case_serials::serial))
        .rows(conn)?;
    if serials.is_empty() {
        return Ok(Vec::new());
    }
    let of_cases = || {
        case_serials::table
            .filter(case_serials::case_id.eq_any(opened()))
            .select(case_serials::serial)
    };
    let records: Vec<(String, Option<String>, Option<String>)> = ar::table
        .filter(ar::product.is_not_null())
        .filter(
            ar::serial_number
                .eq_any(of_cases())
                .or(ar::machine_serial.eq_any(of_cases().select(case_serials::serial.nullable()))),
        )
        .select((ar::serial_number, ar::machine_serial, ar::product))
        .rows(conn)?;
    let mut by_serial: HashMap<&str, Vec<&str>> = HashMap::new();
    for (serial, machine, product) in &records {
        let Some(p) = product.as_deref().filter(|p| !p.is_empty()) else {
            continue;
        };
        by_serial.entry(serial.as_str()).or_default().push(p);
        if let Some(m) = machine.as_deref() {
            by_serial.entry(m).or_default().push(p);
        }
    }
    let mut seen: HashSet<(i64, &str)> = HashSet::new();
    let mut out = Vec::new();
    for (case_id, serial) in &serials {
        for p in by_serial.get(serial.as_str()).into_iter().flatten() {
            if seen.insert((*case_id, p)) {
                out.push((*case_id, (*p).to_string()));
            }
        }
    }
    Ok(out)
}

/// Escalations open now (not closed) of the filtered cases: (case id, opened at).
fn load_open_escalations(
    conn: &mut DbConn,
    q: &ReportQuery,
    pg: bool,
) -> QueryResult<Vec<(i64, NaiveDateTime)>> {
    let open = || {
        escalations::table
            .filter(escalations::status.ne(crate::cases::EscalationStatus::Closed.as_str()))
    };
    let ids: HashSet<i64> = filtered(q, pg)
        .filter(cases::id.eq_any(open().select(escalations::case_id)))
        .select(cases::id)
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    Ok(open()
        .select((escalations::case_id, escalations::opened_at))
        .rows::<(i64, NaiveDateTime)>(conn)?
        .into_iter()
        .filter(|(id, _)| ids.contains(id))
        .collect())
}

/// Every row a report needs, in one read transaction's worth of queries.
pub fn load(conn: &mut DbConn, q: &ReportQuery) -> QueryResult<Rows> {
    let pg = matches!(conn, DbConn::Pg(_));
    Ok(Rows {
        cases: load_cases(conn, q, pg)?,
        escalations: load_escalations(conn, q)?,
        codes: load_codes(conn, q)?,
        products: load_products(conn, q)?,
        open_escalations: load_open_escalations(conn, q, pg)?,
    })
}

/// The first and the last moment a case was opened (two index lookups), to say where
/// the data is when a period holds none of it.
pub fn data_range(conn: &mut DbConn) -> QueryResult<Option<(NaiveDateTime, NaiveDateTime)>> {
    let first: Option<NaiveDateTime> = cases::table
        .select(diesel::dsl::min(cases::created_at))
        .first_row(conn)?;
    let last: Option<NaiveDateTime> = cases::table
        .select(diesel::dsl::max(cases::created_at))
        .first_row(conn)?;
    Ok(first.zip(last))
}

/// A named period: its first and last day (both inclusive), as of `today`; `all` needs
/// the data's range (and is cut to the newest `MAX_DAYS`). `None`: not a preset.
pub fn preset(
    name: &str,
    today: NaiveDate,
    range: Option<(NaiveDate, NaiveDate)>,
) -> Option<(NaiveDate, NaiveDate)> {
    let year_start = |y: i32| NaiveDate::from_ymd_opt(y, 1, 1);
    match name {
        "week" => {
            let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
            Some((monday, today))
        }
        "30d" => Some((today - Duration::days(29), today)),
        "quarter" => {
            let m = (today.month0() / 3) * 3 + 1;
            Some((NaiveDate::from_ymd_opt(today.year(), m, 1)?, today))
        }
        "year" => Some((year_start(today.year())?, today)),
        "last_year" => Some((
            year_start(today.year() - 1)?,
            year_start(today.year())? - Duration::days(1),
        )),
        "all" => {
            let (first, last) = range?;
            let first = first.max(last - Duration::days(MAX_DAYS - 1));
            Some((first, last))
        }
        _ => None,
    }
}

pub fn build(conn: &mut DbConn, q: &ReportQuery, sla_minutes: [i64; 4]) -> QueryResult<Report> {
    let rows = load(conn, q)?;
    // Whole seconds, so the moments in the links name exactly what was counted.
    let now = chrono::SubsecRound::trunc_subsecs(crate::now(), 0);
    let mut r = compute(q, &rows, now, sla_minutes);
    drill::annotate(q, &mut r);
    let names: HashMap<i64, String> = crate::auth::users::list(conn)?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    for e in &mut r.engineers {
        if let Some(n) = e.id.and_then(|id| names.get(&id)) {
            e.engineer = n.clone();
        }
    }
    Ok(r)
}

fn in_period(q: &ReportQuery, t: NaiveDateTime) -> bool {
    t >= q.from && t < q.to
}

fn hours(d: Duration) -> f64 {
    d.num_seconds() as f64 / 3600.0
}

fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| (a as f64 / b as f64 * 10000.0).round() / 10000.0)
}

/// Age buckets: upper bounds in days and their catalog key suffixes. An age falls in
/// the first bucket whose bound it does not exceed (so a bucket is the creation times
/// `[at - max, at - min)`, the queue's own half-open ranges).
const AGE_BUCKETS: [(i64, &str); 5] = [
    (1, "lt1d"),
    (3, "d1_3"),
    (7, "d3_7"),
    (30, "d7_30"),
    (i64::MAX, "gt30d"),
];

/// Counts by age at `at` of the given start times.
fn by_age(at: NaiveDateTime, starts: impl Iterator<Item = NaiveDateTime>) -> Backlog {
    let mut buckets: Vec<Bucket> = AGE_BUCKETS
        .iter()
        .enumerate()
        .map(|(i, (max, k))| Bucket {
            bucket: k,
            count: 0,
            min_days: if i == 0 { 0 } else { AGE_BUCKETS[i - 1].0 },
            max_days: (*max != i64::MAX).then_some(*max),
            url: String::new(),
        })
        .collect();
    let mut open = 0;
    for start in starts {
        open += 1;
        let secs = (at - start).num_seconds();
        if let Some(i) = AGE_BUCKETS
            .iter()
            .position(|(max, _)| secs <= max.saturating_mul(86400))
        {
            buckets[i].count += 1;
        }
    }
    Backlog {
        at,
        open,
        by_age: buckets,
    }
}

fn first_response_minutes(c: &CaseTimes) -> Option<f64> {
    let answered = c.first_response_at?;
    let start = c.first_customer_at.unwrap_or(c.created_at);
    Some(((answered - start).num_seconds().max(0) as f64) / 60.0)
}

fn open_at(c: &CaseTimes, at: NaiveDateTime) -> bool {
    c.created_at < at && c.closed_at.is_none_or(|t| t >= at)
}

/// Cases opened in the period per name (each case counted once per name).
fn count_names<'a>(
    opened: &HashSet<i64>,
    pairs: impl Iterator<Item = (i64, &'a str)>,
) -> HashMap<&'a str, i64> {
    let mut counts: HashMap<&str, i64> = HashMap::new();
    let mut seen: HashSet<(i64, &str)> = HashSet::new();
    for (case_id, name) in pairs {
        if !name.is_empty() && opened.contains(&case_id) && seen.insert((case_id, name)) {
            *counts.entry(name).or_default() += 1;
        }
    }
    counts
}

/// The top names of the period with their counts in the previous one.
fn top(now: &HashMap<&str, i64>, before: &HashMap<&str, i64>) -> Vec<NameCount> {
    let mut v: Vec<NameCount> = now
        .iter()
        .map(|(name, count)| NameCount {
            name: name.to_string(),
            count: *count,
            previous: before.get(name).copied().unwrap_or(0),
            url: String::new(),
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    v.truncate(TOP);
    v
}

/// Every figure from the selected rows; pure, so tests can feed it rows.
pub fn compute(q: &ReportQuery, rows: &Rows, now: NaiveDateTime, sla_minutes: [i64; 4]) -> Report {
    let mut r = period(q, rows, now, sla_minutes);
    let pq = q.previous();
    let p = period(&pq, rows, now, sla_minutes);
    r.previous = Previous {
        from: crate::cases::detail::rfc3339(&pq.from),
        to: crate::cases::detail::rfc3339(&pq.to),
        cases_opened: p.cases_opened,
        cases_closed: p.cases_closed,
        reopen_rate: p.reopen_rate,
        first_response_median: p.first_response_minutes.median,
        resolution_median: p.resolution_hours.median,
        escalation_rate: p.escalations.rate,
        sla_share: p.sla_share,
    };

    let opened_in = |q: &ReportQuery| -> HashSet<i64> {
        rows.cases
            .iter()
            .filter(|c| in_period(q, c.created_at))
            .map(|c| c.id)
            .collect()
    };
    let (now_ids, prev_ids) = (opened_in(q), opened_in(&pq));
    let names = |ids: &HashSet<i64>, f: fn(&CaseTimes) -> Option<&str>| {
        count_names(
            ids,
            rows.cases.iter().filter_map(|c| f(c).map(|n| (c.id, n))),
        )
    };
    let codes = |ids| count_names(ids, rows.codes.iter().map(|(id, c)| (*id, c.as_str())));
    r.top_error_codes = top(&codes(&now_ids), &codes(&prev_ids))
        .into_iter()
        .map(|n| CodeCount {
            code: n.name,
            count: n.count,
            previous: n.previous,
            url: n.url,
        })
        .collect();
    fn customer(c: &CaseTimes) -> Option<&str> {
        c.customer.as_deref()
    }
    r.top_customers = top(&names(&now_ids, customer), &names(&prev_ids, customer))
        .into_iter()
        .map(|n| CustomerCount {
            customer: n.name,
            count: n.count,
            previous: n.previous,
            url: n.url,
        })
        .collect();
    fn oem(c: &CaseTimes) -> Option<&str> {
        c.oem.as_deref()
    }
    r.top_oems = top(&names(&now_ids, oem), &names(&prev_ids, oem));
    let products = |ids| count_names(ids, rows.products.iter().map(|(id, p)| (*id, p.as_str())));
    r.top_products = top(&products(&now_ids), &products(&prev_ids));
    r
}

/// The figures of one period (tops and the previous period are left empty).
fn period(q: &ReportQuery, rows: &Rows, now: NaiveDateTime, sla_minutes: [i64; 4]) -> Report {
    // The cases alive in this period (rows also hold the previous period's).
    let alive: Vec<&CaseTimes> = rows
        .cases
        .iter()
        .filter(|c| c.created_at < q.to && c.closed_at.is_none_or(|t| t >= q.from))
        .collect();
    let opened: Vec<&CaseTimes> = alive
        .iter()
        .copied()
        .filter(|c| in_period(q, c.created_at))
        .collect();
    let opened_ids: HashSet<i64> = opened.iter().map(|c| c.id).collect();
    let row_ids: HashSet<i64> = alive.iter().map(|c| c.id).collect();
    let closed: Vec<&CaseTimes> = alive
        .iter()
        .copied()
        .filter(|c| c.closed_at.is_some_and(|t| in_period(q, t)))
        .collect();

    // First response: from the customer's first message (or the case's start when
    // support wrote first) to support's first answer, for cases opened in the period.
    let first_response = spread(
        opened
            .iter()
            .filter_map(|c| first_response_minutes(c))
            .collect(),
    );
    let resolution = spread(
        closed
            .iter()
            .filter_map(|c| Some(hours(c.closed_at? - c.created_at).max(0.0)))
            .collect(),
    );

    // First response against the target, per priority.
    let mut sla: Vec<SlaRow> = crate::cases::Priority::ALL
        .iter()
        .zip(sla_minutes)
        .map(|(p, target)| SlaRow {
            priority: p.as_str(),
            target_minutes: target,
            opened: 0,
            met: 0,
            late: 0,
            breached: 0,
            share: None,
            first_response_median: None,
            opened_url: String::new(),
            met_url: String::new(),
            late_url: String::new(),
            breached_url: String::new(),
        })
        .collect();
    for c in &opened {
        let Some(row) = sla.iter_mut().find(|r| r.priority == c.priority) else {
            continue;
        };
        row.opened += 1;
        use crate::cases::narrow::SlaOutcome;
        match SlaOutcome::of(
            c.imported,
            c.first_customer_at,
            c.first_response_at,
            row.target_minutes,
            now,
        ) {
            Some(SlaOutcome::Met) => row.met += 1,
            Some(SlaOutcome::Late) => row.late += 1,
            Some(SlaOutcome::Breached) => row.breached += 1,
            None => {}
        }
    }
    for row in &mut sla {
        row.share = ratio(row.met, row.met + row.late + row.breached);
        row.first_response_median = spread(
            opened
                .iter()
                .filter(|c| c.priority == row.priority)
                .filter_map(|c| first_response_minutes(c))
                .collect(),
        )
        .median;
    }
    let (met, judged) = sla.iter().fold((0, 0), |(m, j), r| {
        (m + r.met, j + r.met + r.late + r.breached)
    });

    // Escalations of the filtered cases.
    let escs: Vec<&EscalationTimes> = rows
        .escalations
        .iter()
        .filter(|e| row_ids.contains(&e.case_id))
        .collect();
    let in_range: Vec<&&EscalationTimes> =
        escs.iter().filter(|e| in_period(q, e.opened_at)).collect();
    let answer = spread(
        in_range
            .iter()
            .filter_map(|e| Some(hours(e.first_answered_at? - e.opened_at).max(0.0)))
            .collect(),
    );
    let escalated: HashSet<i64> = escs
        .iter()
        .filter(|e| opened_ids.contains(&e.case_id))
        .map(|e| e.case_id)
        .collect();
    let unanswered = in_range
        .iter()
        .filter(|e| e.first_answered_at.is_none_or(|t| t >= q.to))
        .map(|e| e.case_id)
        .collect::<HashSet<i64>>()
        .len() as i64;
    // Escalations open now that were opened before the period's end (or now), aged at
    // that moment like the backlog (so history is judged by its own clock): each case
    // once per bucket.
    let at = q.to.min(now);
    let open_escs: Vec<&(i64, NaiveDateTime)> = rows
        .open_escalations
        .iter()
        .filter(|(_, opened)| *opened < at)
        .collect();
    let open_now = {
        let mut seen = HashSet::new();
        let mut b = by_age(
            at,
            open_escs
                .iter()
                .filter(|(id, opened)| {
                    let secs = (at - *opened).num_seconds();
                    let bucket = AGE_BUCKETS
                        .iter()
                        .position(|(max, _)| secs <= max.saturating_mul(86400));
                    seen.insert((*id, bucket))
                })
                .map(|(_, opened)| *opened),
        );
        b.open = open_escs
            .iter()
            .map(|(id, _)| *id)
            .collect::<HashSet<_>>()
            .len() as i64;
        b
    };

    // Weekly series, Monday to Sunday, with the backlog at each week's end.
    let first_monday = {
        let d = q.from.date();
        d - Duration::days(d.weekday().num_days_from_monday() as i64)
    };
    let last = (q.to - Duration::seconds(1)).date();
    let n_weeks = ((last - first_monday).num_days() / 7 + 1).max(1) as usize;
    let mut weekly: Vec<Week> = (0..n_weeks)
        .map(|i| Week {
            week: first_monday + Duration::weeks(i as i64),
            opened: 0,
            closed: 0,
            backlog: 0,
            opened_url: String::new(),
            closed_url: String::new(),
        })
        .collect();
    let week_of = |t: NaiveDateTime| -> Option<usize> {
        let i = (t.date() - first_monday).num_days() / 7;
        usize::try_from(i).ok().filter(|i| *i < n_weeks)
    };
    for c in &opened {
        if let Some(w) = week_of(c.created_at).and_then(|i| weekly.get_mut(i)) {
            w.opened += 1;
        }
    }
    for c in &closed {
        if let Some(w) = c
            .closed_at
            .and_then(week_of)
            .and_then(|i| weekly.get_mut(i))
        {
            w.closed += 1;
        }
    }
    // Backlog at each week's end: a sweep over openings and closings.
    {
        let mut events: Vec<(NaiveDateTime, i64)> = Vec::with_capacity(alive.len() * 2);
        for c in &alive {
            events.push((c.created_at, 1));
            if let Some(t) = c.closed_at {
                events.push((t, -1));
            }
        }
        events.sort_unstable();
        let (mut i, mut open) = (0, 0i64);
        for w in &mut weekly {
            let end = (w.week + Duration::weeks(1))
                .and_time(chrono::NaiveTime::MIN)
                .min(q.to)
                .min(now);
            while i < events.len() && events[i].0 < end {
                open += events[i].1;
                i += 1;
            }
            w.backlog = open;
        }
    }

    // Backlog at the end of the period (or now), by age.
    let backlog = by_age(
        at,
        alive
            .iter()
            .filter(|c| open_at(c, at))
            .map(|c| c.created_at),
    );

    // Per engineer: open at the end (and waiting on the customer), closed in the
    // period, median first response of what they got in the period.
    let mut per: HashMap<Option<i64>, (i64, i64, i64, Vec<f64>)> = HashMap::new();
    for c in &alive {
        let e = per.entry(c.assignee_id).or_default();
        if open_at(c, at) {
            e.0 += 1;
            if c.status == "waiting_customer" {
                e.1 += 1;
            }
        }
        if c.closed_at.is_some_and(|t| in_period(q, t)) {
            e.2 += 1;
        }
        if in_period(q, c.created_at) {
            if let Some(m) = first_response_minutes(c) {
                e.3.push(m);
            }
        }
    }
    let mut engineers: Vec<EngineerLoad> = per
        .into_iter()
        .filter(|(_, (open, _, closed, fr))| *open > 0 || *closed > 0 || !fr.is_empty())
        .map(|(id, (open, waiting, closed, fr))| EngineerLoad {
            id,
            engineer: id.map(|i| format!("#{i}")).unwrap_or_default(),
            open,
            waiting,
            closed,
            first_response_median: spread(fr).median,
            open_url: String::new(),
            waiting_url: String::new(),
            closed_url: String::new(),
        })
        .collect();
    engineers.sort_by(|a, b| {
        a.id.is_none()
            .cmp(&b.id.is_none())
            .then(b.open.cmp(&a.open))
            .then(a.id.cmp(&b.id))
    });

    let cases_opened = opened.len() as i64;
    let cases_reopened = opened.iter().filter(|c| c.parent_case_id.is_some()).count() as i64;
    Report {
        from: crate::cases::detail::rfc3339(&q.from),
        to: crate::cases::detail::rfc3339(&q.to),
        cases_opened,
        cases_closed: closed.len() as i64,
        cases_reopened,
        reopen_rate: ratio(cases_reopened, cases_opened),
        first_response_minutes: first_response,
        sla_share: ratio(met, judged),
        sla,
        resolution_hours: resolution,
        escalations: Escalations {
            count: in_range.len() as i64,
            cases_escalated: escalated.len() as i64,
            rate: ratio(escalated.len() as i64, cases_opened),
            answer_hours_median: answer.median,
            answer_hours_p90: answer.p90,
            unanswered,
            open_now,
        },
        backlog,
        weekly,
        top_error_codes: Vec::new(),
        top_customers: Vec::new(),
        top_oems: Vec::new(),
        top_products: Vec::new(),
        previous: Previous {
            from: String::new(),
            to: String::new(),
            cases_opened: 0,
            cases_closed: 0,
            reopen_rate: None,
            first_response_median: None,
            resolution_median: None,
            escalation_rate: None,
            sla_share: None,
        },
        engineers,
        links: drill::Links::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("time")
    }

    #[test]
    fn percentiles() {
        assert_eq!(spread(vec![]), Spread::default());
        let s = spread(vec![5.0, 1.0, 3.0]);
        assert_eq!((s.median, s.p90, s.count), (Some(3.0), Some(5.0), 3));
        let s = spread((1..=10).map(f64::from).collect());
        assert_eq!((s.median, s.p90), (Some(5.5), Some(9.0)));
    }

    #[test]
    fn bounds() {
        assert_eq!(
            parse_bound("2022-06-24", false),
            Ok(t("2022-06-24 00:00:00"))
        );
        assert_eq!(
            parse_bound("2022-06-24", true),
            Ok(t("2022-06-25 00:00:00"))
        );
        assert_eq!(
            parse_bound("2022-06-24T08:00:00+08:00", false),
            Ok(t("2022-06-24 00:00:00"))
        );
        assert!(parse_bound("24/06/2022", false).is_err());
        assert!(ReportQuery::new(
            Some("2022-07-01"),
            Some("2022-06-01"),
            Filters::default(),
            crate::now()
        )
        .is_err());
    }

    #[test]
    fn the_seed_figures() {
        let q = ReportQuery::new(
            Some("2022-06-01"),
            Some("2022-08-31"),
            Filters::default(),
            crate::now(),
        )
        .expect("query");
        let rows = vec![CaseTimes {
            id: 1,
            customer: Some("中银金融科技有限公司".into()),
            parent_case_id: None,
            created_at: t("2022-06-24 17:39:09"),
            first_customer_at: None,
            first_response_at: Some(t("2022-06-24 17:39:09")),
            closed_at: Some(t("2022-08-09 17:24:21")),
            assignee_id: Some(7),
            status: "closed".into(),
            oem: Some("OEM-A".into()),
            priority: "normal".into(),
            imported: true,
        }];
        let escs = vec![EscalationTimes {
            case_id: 1,
            opened_at: t("2022-06-24 17:53:09"),
            first_answered_at: Some(t("2022-06-28 11:16:17")),
        }];
        let codes = vec![(1, "0xC002001B".to_string())];
        let rows = Rows {
            cases: rows,
            escalations: escs,
            codes,
            products: vec![(1, "Windows 10 IoT".to_string())],
            open_escalations: vec![],
        };
        let sla = [1440, 480, 120, 30];
        let r = compute(&q, &rows, t("2026-01-01 00:00:00"), sla);
        assert_eq!((r.cases_opened, r.cases_closed), (1, 1));
        assert_eq!(r.first_response_minutes.median, Some(0.0));
        assert_eq!(r.escalations.count, 1);
        assert_eq!(r.escalations.answer_hours_median, Some(89.39));
        assert_eq!(r.escalations.rate, Some(1.0));
        assert_eq!(r.resolution_hours.median, Some(1103.75));
        assert_eq!(r.top_error_codes[0].code, "0xC002001B");
        assert_eq!(r.top_oems[0].name, "OEM-A");
        assert_eq!(r.top_products[0].name, "Windows 10 IoT");
        // Support wrote first: the first response met its target.
        assert_eq!((r.sla[1].opened, r.sla[1].met), (1, 1));
        assert_eq!(r.sla_share, Some(1.0));
        // The period before (March–May) had nothing.
        assert_eq!(r.previous.cases_opened, 0);
        assert_eq!(r.top_error_codes[0].previous, 0);
        assert_eq!(r.backlog.open, 0);
        let opened: i64 = r.weekly.iter().map(|w| w.opened).sum();
        assert_eq!(opened, 1);
        let w = r.weekly.iter().find(|w| w.opened == 1).expect("week");
        assert_eq!(w.week, NaiveDate::from_ymd_opt(2022, 6, 20).expect("date"));
        // Still open at the end of June: in the backlog, 6 days old.
        let q = ReportQuery::new(
            Some("2022-06-01"),
            Some("2022-06-30"),
            Filters::default(),
            crate::now(),
        )
        .expect("query");
        let r = compute(&q, &rows, t("2026-01-01 00:00:00"), sla);
        assert_eq!(r.backlog.open, 1);
        assert_eq!(r.backlog.by_age[2].count, 1);
        assert_eq!(r.cases_closed, 0);
    }
}

#[cfg(test)]
mod preset_tests {
    use super::*;

    #[test]
    fn presets_name_their_days() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).expect("date");
        let today = d(2026, 12, 3); // a Thursday
        assert_eq!(preset("week", today, None), Some((d(2026, 11, 30), today)));
        assert_eq!(preset("30d", today, None), Some((d(2026, 11, 4), today)));
        assert_eq!(
            preset("quarter", today, None),
            Some((d(2026, 10, 1), today))
        );
        assert_eq!(preset("year", today, None), Some((d(2026, 1, 1), today)));
        assert_eq!(
            preset("last_year", today, None),
            Some((d(2025, 1, 1), d(2025, 12, 31)))
        );
        assert_eq!(preset("all", today, None), None);
        assert_eq!(
            preset("all", today, Some((d(2022, 6, 24), d(2024, 5, 2)))),
            Some((d(2022, 6, 24), d(2024, 5, 2)))
        );
        assert_eq!(preset("someday", today, None), None);
    }
}
