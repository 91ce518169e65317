//! Saved report views: a manager names a report (period preset and filters) to open
//! it again with one click, and may have it mailed every Monday morning (through the
//! outbox, in the language the view was saved in).

use super::{Params, Report};
use crate::config::Settings;
use crate::db::schema::{report_views, users};
use crate::db::DbConn;
use crate::db::Direct;
use crate::i18n::{Lang, Msg};
use chrono::{Datelike, Duration, NaiveDateTime, NaiveTime};
use diesel::prelude::*;
use serde::Serialize;

/// Views one user may keep.
pub const MAX_PER_USER: i64 = 50;
/// Longest name.
pub const MAX_NAME: usize = 100;
/// The weekly mail goes out from this hour (UTC) on Mondays.
pub const SEND_HOUR: u32 = 7;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = report_views)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ReportView {
    pub id: i64,
    #[serde(skip)]
    pub user_id: i64,
    pub name: String,
    /// The report's query string (`preset=30d&code=0xC004F074`).
    pub query: String,
    pub language: String,
    /// Mailed every Monday.
    pub weekly: bool,
    #[serde(serialize_with = "ser_opt_time")]
    pub last_sent_at: Option<NaiveDateTime>,
    #[serde(skip)]
    pub created_at: NaiveDateTime,
}

fn ser_opt_time<S: serde::Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_some(&crate::cases::detail::rfc3339(t)),
        None => s.serialize_none(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("{0:?}")]
    Invalid(Msg),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// A user's views, oldest first.
pub fn list(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<ReportView>> {
    report_views::table
        .filter(report_views::user_id.eq(user_id))
        .order(report_views::id.asc())
        .limit(MAX_PER_USER)
        .select(ReportView::as_select())
        .load(conn)
}

/// Saves a view: the name is trimmed and required, the query must be a report's.
/// The first weekly mail goes out on the Monday after (not at once).
pub fn create(
    conn: &mut DbConn,
    user_id: i64,
    name: &str,
    query: &str,
    language: Lang,
    weekly: bool,
    now: NaiveDateTime,
) -> Result<ReportView, ViewError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(ViewError::Invalid(
            Msg::new("report.view.bad_name").with("max", MAX_NAME),
        ));
    }
    let mut params = Params::parse(query).map_err(ViewError::Invalid)?;
    // The query must make a report (dates and filters valid) before it is kept
    // (`all` is judged on a one-day range: the data's own is read when it is sent).
    params
        .resolve(Some((now.date(), now.date())), now)
        .map_err(ViewError::Invalid)?;
    let query = Params::parse(query)
        .map_err(ViewError::Invalid)?
        .to_query_string();
    conn.transaction(|c| {
        let count: i64 = report_views::table
            .filter(report_views::user_id.eq(user_id))
            .count()
            .get_result(c)?;
        if count >= MAX_PER_USER {
            return Err(ViewError::Invalid(
                Msg::new("report.view.too_many").with("max", MAX_PER_USER),
            ));
        }
        let id: i64 = diesel::insert_into(report_views::table)
            .values((
                report_views::user_id.eq(user_id),
                report_views::name.eq(name),
                report_views::query.eq(&query),
                report_views::language.eq(language.code()),
                report_views::weekly.eq(weekly),
                report_views::last_sent_at.eq(Some(now)),
                report_views::created_at.eq(now),
            ))
            .returning(report_views::id)
            .get_result(c)?;
        Ok(report_views::table
            .find(id)
            .select(ReportView::as_select())
            .first(c)?)
    })
}

/// Deletes one of the user's views; false when there is no such view of theirs.
pub fn delete(conn: &mut DbConn, user_id: i64, id: i64) -> QueryResult<bool> {
    diesel::delete(
        report_views::table
            .filter(report_views::id.eq(id))
            .filter(report_views::user_id.eq(user_id)),
    )
    .exec(conn)
    .map(|n| n > 0)
}

/// Turns the weekly mail of one of the user's views on or off.
pub fn set_weekly(conn: &mut DbConn, user_id: i64, id: i64, weekly: bool) -> QueryResult<bool> {
    diesel::update(
        report_views::table
            .filter(report_views::id.eq(id))
            .filter(report_views::user_id.eq(user_id)),
    )
    .set(report_views::weekly.eq(weekly))
    .exec(conn)
    .map(|n| n > 0)
}

/// The latest Monday `SEND_HOUR`:00 at or before `now`: a weekly view not mailed
/// since then is due.
pub fn send_moment(now: NaiveDateTime) -> NaiveDateTime {
    let monday = now.date() - Duration::days(i64::from(now.weekday().num_days_from_monday()));
    let at = monday.and_time(NaiveTime::from_hms_opt(SEND_HOUR, 0, 0).unwrap_or(NaiveTime::MIN));
    if at <= now {
        at
    } else {
        at - Duration::weeks(1)
    }
}

/// What a weekly mail needs from its view and owner.
struct Due {
    view: ReportView,
    email: String,
}

/// Weekly views not mailed since the last send moment, of enabled users who may
/// still read reports.
fn due(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Vec<Due>> {
    let moment = send_moment(now);
    let rows: Vec<(ReportView, String, String)> = report_views::table
        .inner_join(users::table)
        .filter(report_views::weekly.eq(true))
        .filter(
            report_views::last_sent_at
                .is_null()
                .or(report_views::last_sent_at.lt(moment)),
        )
        .filter(users::disabled.eq(false))
        .select((ReportView::as_select(), users::email, users::role))
        .limit(1000)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, role)| {
            matches!(
                crate::auth::Role::parse(role),
                Some(crate::auth::Role::Manager | crate::auth::Role::Admin)
            )
        })
        .map(|(view, email, _)| Due { view, email })
        .collect())
}

/// Marks the view sent unless someone else did since `moment` (several servers on one
/// PostgreSQL): true when this caller is the one to send it.
fn claim(
    conn: &mut DbConn,
    id: i64,
    moment: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        report_views::table.filter(report_views::id.eq(id)).filter(
            report_views::last_sent_at
                .is_null()
                .or(report_views::last_sent_at.lt(moment)),
        ),
    )
    .set(report_views::last_sent_at.eq(Some(now)))
    .exec(conn)
    .map(|n| n == 1)
}

/// Formats a rate as a percentage.
fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", x * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
        None => "—".into(),
    }
}

/// The weekly mail's subject and plain-text body, in `lang`.
pub fn digest_text(lang: Lang, view: &ReportView, r: &Report, link: &str) -> (String, String) {
    let t = |k: &str| crate::i18n::t(lang, k).to_string();
    let day = |s: &str| s.get(..10).unwrap_or(s).to_string();
    // `to` is exclusive: the last day shown is the one before.
    let last = |to: &str| {
        chrono::NaiveDate::parse_from_str(&day(to), "%Y-%m-%d")
            .map(|d| (d - Duration::days(1)).to_string())
            .unwrap_or_else(|_| day(to))
    };
    let period = format!("{} — {}", day(&r.from), last(&r.to));
    let subject = format!("{}: {} ({period})", t("report.title"), view.name);
    let p = &r.previous;
    let mut b = String::new();
    b.push_str(&format!(
        "{}\n{}: {period} (UTC)\n",
        view.name,
        t("report.period")
    ));
    b.push_str(&format!(
        "{}: {} — {}\n\n",
        t("report.previous_period"),
        day(&p.from),
        last(&p.to)
    ));
    let rows: Vec<(&str, String, String)> = vec![
        (
            "report.opened",
            r.cases_opened.to_string(),
            p.cases_opened.to_string(),
        ),
        (
            "report.closed",
            r.cases_closed.to_string(),
            p.cases_closed.to_string(),
        ),
        ("report.reopen_rate", pct(r.reopen_rate), pct(p.reopen_rate)),
        (
            "report.first_response_median",
            num(r.first_response_minutes.median),
            num(p.first_response_median),
        ),
        ("report.sla_share", pct(r.sla_share), pct(p.sla_share)),
        (
            "report.resolution_median",
            num(r.resolution_hours.median),
            num(p.resolution_median),
        ),
        (
            "report.escalation_rate",
            pct(r.escalations.rate),
            pct(p.escalation_rate),
        ),
        (
            "report.answer_median",
            num(r.escalations.answer_hours_median),
            String::new(),
        ),
        ("report.backlog", r.backlog.open.to_string(), String::new()),
        (
            "report.open_escalations",
            r.escalations.open_now.open.to_string(),
            String::new(),
        ),
    ];
    for (k, now, before) in rows {
        if before.is_empty() {
            b.push_str(&format!("  {}: {now}\n", t(k)));
        } else {
            b.push_str(&format!(
                "  {}: {now} ({}: {before})\n",
                t(k),
                t("report.previous_period")
            ));
        }
    }
    let mut top = |title: &str, rows: Vec<(String, i64, i64)>| {
        if rows.is_empty() {
            return;
        }
        b.push_str(&format!("\n{}\n", t(title)));
        for (name, count, previous) in rows.into_iter().take(5) {
            let d = count - previous;
            let change = if d > 0 {
                format!("+{d}")
            } else {
                d.to_string()
            };
            b.push_str(&format!("  {name}: {count} ({change})\n"));
        }
    };
    top(
        "report.top_codes",
        r.top_error_codes
            .iter()
            .map(|c| (c.code.clone(), c.count, c.previous))
            .collect(),
    );
    top(
        "report.top_customers",
        r.top_customers
            .iter()
            .map(|c| (c.customer.clone(), c.count, c.previous))
            .collect(),
    );
    top(
        "report.top_oems",
        r.top_oems
            .iter()
            .map(|c| (c.name.clone(), c.count, c.previous))
            .collect(),
    );
    b.push_str(&format!("\n{}: {link}\n", t("report.view.open")));
    b.push_str(&format!("\n-- \n{}\n", t("report.view.mail_footer")));
    (subject, b)
}

/// Mails every weekly view that is due at `now`; the number queued. Each view is
/// claimed, built and queued in one transaction, so a crash sends it again rather
/// than never, and two servers never both send it.
pub fn send_due(
    conn: &mut DbConn,
    settings: &Settings,
    now: NaiveDateTime,
) -> Result<usize, ViewError> {
    let moment = send_moment(now);
    let range = super::data_range(conn)?.map(|(a, b)| (a.date(), b.date()));
    let mut queued = 0;
    for d in due(conn, now)? {
        let lang = Lang::parse(&d.view.language).unwrap_or_default();
        let sent = conn.transaction(|c| -> Result<bool, ViewError> {
            if !claim(c, d.view.id, moment, now)? {
                return Ok(false);
            }
            let mut params = Params::parse(&d.view.query).map_err(ViewError::Invalid)?;
            let q = params.resolve(range, now).map_err(ViewError::Invalid)?;
            let r = super::build(c, &q, settings.sla_minutes)?;
            let link = format!("{}/reports?{}", settings.public_url, d.view.query);
            let (subject, body) = digest_text(lang, &d.view, &r, &link);
            let composed = crate::mail::outbound::compose_notice(
                settings,
                "report",
                std::slice::from_ref(&d.email),
                &subject,
                &body,
            )
            .map_err(|e| ViewError::Invalid(Msg::new("report.view.bad_mail").with("detail", e)))?;
            // Due at once, also when `now` is a moment ahead (`casebook report-mail --at`).
            crate::mail::outbox::enqueue_notice(c, "report", &composed, now.min(crate::now()))?;
            Ok(true)
        });
        match sent {
            Ok(true) => queued += 1,
            Ok(false) => {}
            // One broken view (a filter that no longer parses, a bad address) does not
            // hold up the others; it is tried again next hour.
            Err(e) => tracing::warn!(view = d.view.id, error = %e, "weekly report not sent"),
        }
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("time")
    }

    #[test]
    fn the_send_moment_is_the_last_monday_morning() {
        // 2026-12-03 is a Thursday.
        assert_eq!(
            send_moment(t("2026-12-03 12:00:00")),
            t("2026-11-30 07:00:00")
        );
        assert_eq!(
            send_moment(t("2026-11-30 07:00:00")),
            t("2026-11-30 07:00:00")
        );
        assert_eq!(
            send_moment(t("2026-11-30 06:59:59")),
            t("2026-11-23 07:00:00")
        );
        assert_eq!(
            send_moment(t("2026-12-06 23:59:59")),
            t("2026-11-30 07:00:00")
        );
    }
}
