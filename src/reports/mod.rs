//! Managers' figures, computed from recorded events (case, first-response, closing
//! and escalation times taken from the mail itself), so imported history counts
//! right. The database selects the rows of the period (only the needed columns);
//! counts, percentiles and buckets are computed here.

pub mod chart;
pub mod csv_export;

use crate::db::schema::{case_codes, cases, escalations};
use crate::db::DbConn;
use crate::i18n::Msg;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Longest period a report may cover.
pub const MAX_DAYS: i64 = 3700;
/// Rows in the "top" tables.
pub const TOP: usize = 10;

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
        customer: Option<&str>,
        oem: Option<&str>,
        code: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<ReportQuery, Msg> {
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
        Ok(ReportQuery {
            from,
            to,
            customer: nonempty(customer).unwrap_or("").to_string(),
            oem: nonempty(oem).unwrap_or("").to_string(),
            code: crate::search::normalize_code(code).unwrap_or_else(|| code.to_string()),
        })
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
}

#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    /// Catalog key suffix: `report.age.{bucket}`.
    pub bucket: &'static str,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Backlog {
    /// When the backlog is counted: the end of the period, or now if that is earlier.
    pub at: NaiveDateTime,
    pub open: i64,
    pub by_age: Vec<Bucket>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Escalations {
    /// Escalations opened in the period.
    pub count: i64,
    /// Cases opened in the period that were escalated.
    pub cases_escalated: i64,
    /// `cases_escalated / cases_opened`.
    pub rate: Option<f64>,
    pub answer_hours_median: Option<f64>,
    pub answer_hours_p90: Option<f64>,
    /// Escalations opened in the period still without an answer at its end.
    pub unanswered: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CodeCount {
    pub code: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerCount {
    pub customer: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub cases_opened: i64,
    pub cases_closed: i64,
    /// Cases opened in the period that continue a closed one.
    pub cases_reopened: i64,
    pub reopen_rate: Option<f64>,
    pub first_response_minutes: Spread,
    pub resolution_hours: Spread,
    pub escalations: Escalations,
    pub backlog: Backlog,
    pub weekly: Vec<Week>,
    pub top_error_codes: Vec<CodeCount>,
    pub top_customers: Vec<CustomerCount>,
    /// Per engineer (assignee), most open first; the unassigned last.
    pub engineers: Vec<EngineerLoad>,
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
}

/// The columns a report needs from an escalation.
#[derive(Debug, Clone, Queryable)]
pub struct EscalationTimes {
    pub case_id: i64,
    pub opened_at: NaiveDateTime,
    pub first_answered_at: Option<NaiveDateTime>,
}

/// Cases alive at some time in the period (opened before its end, not closed before
/// its start), with the filters applied.
fn load_cases(conn: &mut DbConn, q: &ReportQuery) -> QueryResult<Vec<CaseTimes>> {
    let mut query = cases::table
        .filter(cases::merged_into.is_null())
        .filter(cases::created_at.lt(q.to))
        .filter(cases::closed_at.is_null().or(cases::closed_at.ge(q.from)))
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
    query
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
        ))
        .load(conn)
}

/// Escalations opened since the start of the period (later ones still tell whether a
/// case of the period was escalated).
fn load_escalations(conn: &mut DbConn, q: &ReportQuery) -> QueryResult<Vec<EscalationTimes>> {
    escalations::table
        .filter(escalations::opened_at.ge(q.from))
        .select((
            escalations::case_id,
            escalations::opened_at,
            escalations::first_answered_at,
        ))
        .load(conn)
}

/// Error codes of the cases opened in the period.
fn load_codes(conn: &mut DbConn, q: &ReportQuery) -> QueryResult<Vec<(i64, String)>> {
    case_codes::table
        .filter(
            case_codes::case_id.eq_any(
                cases::table
                    .filter(cases::created_at.ge(q.from))
                    .filter(cases::created_at.lt(q.to))
                    .filter(cases::merged_into.is_null())
                    .select(cases::id),
            ),
        )
        .select((case_codes::case_id, case_codes::code))
        .load(conn)
}

/// Loads the period's rows and computes every figure.
/// The first and the last moment a case was opened (two index lookups), to say where
/// the data is when a period holds none of it.
pub fn data_range(conn: &mut DbConn) -> QueryResult<Option<(NaiveDateTime, NaiveDateTime)>> {
    let first: Option<NaiveDateTime> = cases::table
        .select(diesel::dsl::min(cases::created_at))
        .first(conn)?;
    let last: Option<NaiveDateTime> = cases::table
        .select(diesel::dsl::max(cases::created_at))
        .first(conn)?;
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

pub fn build(conn: &mut DbConn, q: &ReportQuery) -> QueryResult<Report> {
    let rows = load_cases(conn, q)?;
    let escs = load_escalations(conn, q)?;
    let codes = load_codes(conn, q)?;
    let mut r = compute(q, &rows, &escs, &codes, crate::now());
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

/// Backlog age buckets: upper bounds in days and their catalog key suffixes.
const AGE_BUCKETS: [(i64, &str); 5] = [
    (1, "lt1d"),
    (3, "d1_3"),
    (7, "d3_7"),
    (30, "d7_30"),
    (i64::MAX, "gt30d"),
];

/// Every figure from the selected rows; pure, so tests can feed it rows.
pub fn compute(
    q: &ReportQuery,
    rows: &[CaseTimes],
    escs: &[EscalationTimes],
    codes: &[(i64, String)],
    now: NaiveDateTime,
) -> Report {
    let opened: Vec<&CaseTimes> = rows.iter().filter(|c| in_period(q, c.created_at)).collect();
    let opened_ids: HashSet<i64> = opened.iter().map(|c| c.id).collect();
    let row_ids: HashSet<i64> = rows.iter().map(|c| c.id).collect();
    let closed: Vec<&CaseTimes> = rows
        .iter()
        .filter(|c| c.closed_at.is_some_and(|t| in_period(q, t)))
        .collect();

    // First response: from the customer's first message (or the case's start when
    // support wrote first) to support's first answer, for cases opened in the period.
    let first_response = spread(
        opened
            .iter()
            .filter_map(|c| {
                let answered = c.first_response_at?;
                let start = c.first_customer_at.unwrap_or(c.created_at);
                Some(((answered - start).num_seconds().max(0) as f64) / 60.0)
            })
            .collect(),
    );
    let resolution = spread(
        closed
            .iter()
            .filter_map(|c| Some(hours(c.closed_at? - c.created_at).max(0.0)))
            .collect(),
    );

    // Escalations of the filtered cases.
    let escs: Vec<&EscalationTimes> = escs
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
        .count() as i64;

    // Weekly series, Monday to Sunday.
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

    // Backlog at the end of the period (or now), by age.
    let at = q.to.min(now);
    let mut by_age: Vec<Bucket> = AGE_BUCKETS
        .iter()
        .map(|(_, k)| Bucket {
            bucket: k,
            count: 0,
        })
        .collect();
    let mut open = 0;
    for c in rows {
        if c.created_at < at && c.closed_at.is_none_or(|t| t >= at) {
            open += 1;
            let days = (at - c.created_at).num_seconds() / 86400;
            if let Some(i) = AGE_BUCKETS.iter().position(|(max, _)| days < *max) {
                by_age[i].count += 1;
            }
        }
    }

    let mut code_counts: HashMap<&str, i64> = HashMap::new();
    let mut seen: HashSet<(i64, &str)> = HashSet::new();
    for (case_id, code) in codes {
        if opened_ids.contains(case_id) && seen.insert((*case_id, code.as_str())) {
            *code_counts.entry(code.as_str()).or_default() += 1;
        }
    }
    let mut top_error_codes: Vec<CodeCount> = code_counts
        .into_iter()
        .map(|(code, count)| CodeCount {
            code: code.to_string(),
            count,
        })
        .collect();
    top_error_codes.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
    top_error_codes.truncate(TOP);

    let mut customer_counts: HashMap<&str, i64> = HashMap::new();
    for c in &opened {
        if let Some(name) = c.customer.as_deref().filter(|n| !n.is_empty()) {
            *customer_counts.entry(name).or_default() += 1;
        }
    }
    let mut top_customers: Vec<CustomerCount> = customer_counts
        .into_iter()
        .map(|(customer, count)| CustomerCount {
            customer: customer.to_string(),
            count,
        })
        .collect();
    top_customers.sort_by(|a, b| b.count.cmp(&a.count).then(a.customer.cmp(&b.customer)));
    top_customers.truncate(TOP);

    // Per engineer: open at the end (and waiting on the customer), closed in the
    // period, median first response of what they got in the period.
    let mut per: HashMap<Option<i64>, (i64, i64, i64, Vec<f64>)> = HashMap::new();
    for c in rows {
        let e = per.entry(c.assignee_id).or_default();
        if c.created_at < at && c.closed_at.is_none_or(|t| t >= at) {
            e.0 += 1;
            if c.status == "waiting_customer" {
                e.1 += 1;
            }
        }
        if c.closed_at.is_some_and(|t| in_period(q, t)) {
            e.2 += 1;
        }
        if in_period(q, c.created_at) {
            if let Some(answered) = c.first_response_at {
                let start = c.first_customer_at.unwrap_or(c.created_at);
                e.3.push(((answered - start).num_seconds().max(0) as f64) / 60.0);
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
        resolution_hours: resolution,
        escalations: Escalations {
            count: in_range.len() as i64,
            cases_escalated: escalated.len() as i64,
            rate: ratio(escalated.len() as i64, cases_opened),
            answer_hours_median: answer.median,
            answer_hours_p90: answer.p90,
            unanswered,
        },
        backlog: Backlog { at, open, by_age },
        weekly,
        top_error_codes,
        top_customers,
        engineers,
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
            None,
            None,
            None,
            crate::now()
        )
        .is_err());
    }

    #[test]
    fn the_seed_figures() {
        let q = ReportQuery::new(
            Some("2022-06-01"),
            Some("2022-08-31"),
            None,
            None,
            None,
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
        }];
        let escs = vec![EscalationTimes {
            case_id: 1,
            opened_at: t("2022-06-24 17:53:09"),
            first_answered_at: Some(t("2022-06-28 11:16:17")),
        }];
        let codes = vec![(1, "0xC002001B".to_string())];
        let r = compute(&q, &rows, &escs, &codes, t("2026-01-01 00:00:00"));
        assert_eq!((r.cases_opened, r.cases_closed), (1, 1));
        assert_eq!(r.first_response_minutes.median, Some(0.0));
        assert_eq!(r.escalations.count, 1);
        assert_eq!(r.escalations.answer_hours_median, Some(89.39));
        assert_eq!(r.escalations.rate, Some(1.0));
        assert_eq!(r.resolution_hours.median, Some(1103.75));
        assert_eq!(r.top_error_codes[0].code, "0xC002001B");
        assert_eq!(r.backlog.open, 0);
        let opened: i64 = r.weekly.iter().map(|w| w.opened).sum();
        assert_eq!(opened, 1);
        let w = r.weekly.iter().find(|w| w.opened == 1).expect("week");
        assert_eq!(w.week, NaiveDate::from_ymd_opt(2022, 6, 20).expect("date"));
        // Still open at the end of June: in the backlog, 6 days old.
        let q = ReportQuery::new(
            Some("2022-06-01"),
            Some("2022-06-30"),
            None,
            None,
            None,
            crate::now(),
        )
        .expect("query");
        let r = compute(&q, &rows, &escs, &codes, t("2026-01-01 00:00:00"));
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
