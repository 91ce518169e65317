//! `GET /reports` (tables and a chart), `GET /reports/{table}.csv` and
//! `GET /api/reports/summary`: managers and admins only.

use super::auth::html;
use super::AppError;
use super::HasRole;
use super::{ApiUser, CurrentUser};
use super::{Page, State};
use crate::reports::{self, chart, csv_export, Report, ReportQuery};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

/// Who may read the figures.
use super::roles::MANAGERS;

#[derive(Debug, Deserialize, Default, Clone)]
pub struct ReportParams {
    /// `week`, `30d`, `quarter`, `year`, `last_year`, `all` (wins over from/to).
    preset: Option<String>,
    from: Option<String>,
    to: Option<String>,
    customer: Option<String>,
    oem: Option<String>,
    code: Option<String>,
}

impl ReportParams {
    fn to_query(&self) -> Result<ReportQuery, AppError> {
        ReportQuery::new(
            self.from.as_deref(),
            self.to.as_deref(),
            self.customer.as_deref(),
            self.oem.as_deref(),
            self.code.as_deref(),
            crate::now(),
        )
        .map_err(AppError::BadRequest)
    }

    /// The same filters as a query string, for the CSV links.
    fn query_string(&self, q: &ReportQuery) -> String {
        let pairs = [
            ("from", q.from.format("%Y-%m-%d").to_string()),
            ("to", q.last_day().format("%Y-%m-%d").to_string()),
            ("customer", q.customer.clone()),
            ("oem", q.oem.clone()),
            ("code", q.code.clone()),
        ];
        pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", super::cases::url_escape(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// A report and what was asked for, with the period a preset named made explicit.
struct Built {
    r: Report,
    q: ReportQuery,
    p: ReportParams,
    /// The first and last day a case was opened on, when there is any case.
    range: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
}

/// Resolves a preset (its days as of today, `all` from the data's range), then builds
/// the report: one trip to the database.
async fn build(st: &crate::startup::AppState, mut p: ReportParams) -> Result<Built, AppError> {
    super::run(st, move |c, _| -> Result<Built, AppError> {
        let range = reports::data_range(c)?.map(|(a, b)| (a.date(), b.date()));
        if let Some(name) = p.preset.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            let (from, last) = reports::preset(name, crate::now().date(), range)
                .ok_or_else(|| AppError::bad_request("reports.error.preset"))?;
            p.from = Some(from.format("%Y-%m-%d").to_string());
            p.to = Some(last.format("%Y-%m-%d").to_string());
        }
        let q = p.to_query()?;
        let r = reports::build(c, &q)?;
        Ok(Built { r, q, p, range })
    })
    .await
}

fn fmt(v: Option<f64>) -> String {
    match v {
        Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
        None => "—".into(),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", x * 100.0))
        .unwrap_or_else(|| "—".into())
}

/// A label and its value, for the summary table.
pub struct Figure {
    pub key: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "reports/index.html")]
struct ReportsPage {
    page: Page,
    r: Report,
    figures: Vec<Figure>,
    chart_svg: String,
    from: String,
    to: String,
    customer: String,
    oem: String,
    code: String,
    qs: String,
    preset: String,
    /// The period holds no case but the database does: where the data is, and the
    /// link to it.
    data_hint: Option<(String, String, String)>,
}

fn figures(r: &Report) -> Vec<Figure> {
    let f = |key, value| Figure { key, value };
    vec![
        f("report.opened", r.cases_opened.to_string()),
        f("report.closed", r.cases_closed.to_string()),
        f(
            "report.reopened",
            format!("{} ({})", r.cases_reopened, pct(r.reopen_rate)),
        ),
        f(
            "report.first_response_median",
            fmt(r.first_response_minutes.median),
        ),
        f(
            "report.first_response_p90",
            fmt(r.first_response_minutes.p90),
        ),
        f("report.resolution_median", fmt(r.resolution_hours.median)),
        f("report.resolution_p90", fmt(r.resolution_hours.p90)),
        f("report.escalations", r.escalations.count.to_string()),
        f("report.escalation_rate", pct(r.escalations.rate)),
        f(
            "report.answer_median",
            fmt(r.escalations.answer_hours_median),
        ),
        f("report.answer_p90", fmt(r.escalations.answer_hours_p90)),
        f("report.unanswered", r.escalations.unanswered.to_string()),
        f("report.backlog", r.backlog.open.to_string()),
    ]
}

#[tracing::instrument(skip_all)]
pub async fn page(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    let Built { r, q, p, range } = build(&st, params.into_inner()).await?;
    let qs = p.query_string(&q);
    let (from, to) = (
        q.from.format("%Y-%m-%d").to_string(),
        q.last_day().format("%Y-%m-%d").to_string(),
    );
    let (customer, oem, code) = (q.customer.clone(), q.oem.clone(), q.code.clone());
    let preset = p.preset.clone().unwrap_or_default();
    let data_hint = match range {
        Some((first, last)) if r.cases_opened == 0 && r.cases_closed == 0 => {
            let start = first.max(last - chrono::Duration::days(reports::MAX_DAYS - 1));
            Some((
                first.format("%Y-%m").to_string(),
                last.format("%Y-%m").to_string(),
                format!(
                    "/reports?from={}&to={}",
                    start.format("%Y-%m-%d"),
                    last.format("%Y-%m-%d")
                ),
            ))
        }
        _ => None,
    };
    let page = Page::new(&req, &st, Some(user.0));
    let chart_svg = chart::weekly_svg(
        &r.weekly,
        &chart::WeeklyLabels {
            opened: &page.t("report.opened"),
            closed: &page.t("report.closed"),
            cases: &page.t("report.col.cases"),
        },
    )
    .map_err(AppError::internal)?;
    html(&ReportsPage {
        page,
        figures: figures(&r),
        r,
        chart_svg,
        from,
        to,
        customer,
        oem,
        code,
        qs,
        preset,
        data_hint,
    })
}

pub async fn csv(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    let name = path
        .into_inner()
        .strip_suffix(".csv")
        .map(str::to_string)
        .ok_or(AppError::NotFound)?;
    if !csv_export::TABLES.contains(&name.as_str()) {
        return Err(AppError::NotFound);
    }
    let Built { r, q, .. } = build(&st, params.into_inner()).await?;
    let file = format!(
        "casebook-{name}-{}-{}.csv",
        q.from.format("%Y%m%d"),
        q.last_day().format("%Y%m%d")
    );
    let lang = super::cookies::lang(&req);
    let tr = |k: &str| crate::i18n::t(lang, k).to_string();
    let bytes = csv_export::table(&r, &name, &tr)
        .ok_or(AppError::NotFound)?
        .map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ))
        .body(bytes))
}

pub async fn api_summary(
    st: State,
    user: ApiUser,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    let Built { r, range, .. } = build(&st, params.into_inner()).await?;
    let mut v = serde_json::to_value(&r).map_err(AppError::internal)?;
    if let Some(o) = v.as_object_mut() {
        // Where the data is, whatever the period (a client can offer it when empty).
        o.insert("data_from".into(), range.map(|r| r.0.to_string()).into());
        o.insert("data_to".into(), range.map(|r| r.1.to_string()).into());
    }
    Ok(HttpResponse::Ok().json(v))
}
