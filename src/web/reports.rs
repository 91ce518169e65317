//! `GET /reports` (tables and a chart), `GET /reports/{table}.csv` and
//! `GET /api/reports/summary`: managers and admins only.

use super::auth::html;
use super::AppError;
use super::HasRole;
use super::{ApiUser, CurrentUser};
use super::{Page, State};
use crate::reports::{self, csv_export, Report, ReportQuery};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// Who may read the figures.
use super::roles::MANAGERS;

pub use reports::Params as ReportParams;

/// The report links' query string of a resolved query.
trait QueryString {
    fn query_string(&self, q: &ReportQuery) -> String;
}

impl QueryString for ReportParams {
    /// The same filters as a query string, for the CSV links.
    fn query_string(&self, q: &ReportQuery) -> String {
        let pairs = [
            ("from", q.from.format("%Y-%m-%d").to_string()),
            ("to", q.last_day().format("%Y-%m-%d").to_string()),
            ("customer", q.customer.clone()),
            ("oem", q.oem.clone()),
            ("code", q.code.clone()),
            ("priority", q.priority.clone()),
            ("product", q.product.clone()),
            ("engineer", q.engineer.clone()),
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
    /// Who can be chosen as the engineer.
    staff: Vec<(i64, String)>,
}

/// Resolves a preset (its days as of today, `all` from the data's range), then builds
/// the report: one trip to the database.
async fn build(st: &crate::startup::AppState, mut p: ReportParams) -> Result<Built, AppError> {
    let sla = st.settings.sla_minutes;
    let names = st.staff_names.clone();
    super::run(st, move |c, _| -> Result<Built, AppError> {
        let range = reports::data_range(c)?.map(|(a, b)| (a.date(), b.date()));
        let q = p
            .resolve(range, crate::now())
            .map_err(AppError::BadRequest)?;
        let r = reports::build(c, &q, sla)?;
        let staff = names.filter_assignees(c)?;
        Ok(Built {
            r,
            q,
            p,
            range,
            staff,
        })
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

/// A label, its value this period and the period before, and the cases behind it.
pub struct Figure {
    pub key: &'static str,
    pub value: String,
    pub previous: String,
    pub link: Option<String>,
}

/// A change against the previous period: "+3", "−2", "0"; empty when there was none.
fn change(now: i64, before: i64) -> String {
    match now - before {
        0 => "±0".into(),
        d if d > 0 => format!("+{d}"),
        d => format!("−{}", -d),
    }
}

#[derive(Template)]
#[template(path = "reports/index.html")]
struct ReportsPage {
    page: Page,
    r: Report,
    figures: Vec<Figure>,
    weekly_svg: String,
    sla_svg: String,
    from: String,
    to: String,
    prev_from: String,
    prev_to: String,
    customer: String,
    oem: String,
    code: String,
    priority: String,
    product: String,
    engineer: String,
    staff: Vec<(i64, String)>,
    qs: String,
    preset: String,
    /// The caller's saved views, and this report's query to save as one.
    views: Vec<reports::views::ReportView>,
    save_query: String,
    /// The period holds no case but the database does: where the data is, and the
    /// link to it.
    data_hint: Option<(String, String, String)>,
}

impl ReportsPage {
    fn change(&self, now: &i64, before: &i64) -> String {
        change(*now, *before)
    }

    fn engineer_selected(&self, id: &i64) -> bool {
        self.engineer == id.to_string()
    }
}

fn figures(r: &Report) -> Vec<Figure> {
    let p = &r.previous;
    let f = |key, value: String, previous: String, link: &str| Figure {
        key,
        value,
        previous,
        link: Some(link.to_string()).filter(|l| !l.is_empty()),
    };
    let none = String::new;
    vec![
        f(
            "report.opened",
            r.cases_opened.to_string(),
            p.cases_opened.to_string(),
            &r.links.opened,
        ),
        f(
            "report.closed",
            r.cases_closed.to_string(),
            p.cases_closed.to_string(),
            &r.links.closed,
        ),
        f(
            "report.reopened",
            r.cases_reopened.to_string(),
            none(),
            &r.links.reopened,
        ),
        f(
            "report.reopen_rate",
            pct(r.reopen_rate),
            pct(p.reopen_rate),
            "",
        ),
        f(
            "report.first_response_median",
            fmt(r.first_response_minutes.median),
            fmt(p.first_response_median),
            "",
        ),
        f(
            "report.first_response_p90",
            fmt(r.first_response_minutes.p90),
            none(),
            "",
        ),
        f("report.sla_share", pct(r.sla_share), pct(p.sla_share), ""),
        f(
            "report.resolution_median",
            fmt(r.resolution_hours.median),
            fmt(p.resolution_median),
            "",
        ),
        f(
            "report.resolution_p90",
            fmt(r.resolution_hours.p90),
            none(),
            "",
        ),
        f(
            "report.escalations",
            r.escalations.count.to_string(),
            none(),
            "",
        ),
        f(
            "report.escalated_cases",
            r.escalations.cases_escalated.to_string(),
            none(),
            &r.links.escalated,
        ),
        f(
            "report.escalation_rate",
            pct(r.escalations.rate),
            pct(p.escalation_rate),
            "",
        ),
        f(
            "report.answer_median",
            fmt(r.escalations.answer_hours_median),
            none(),
            "",
        ),
        f(
            "report.answer_p90",
            fmt(r.escalations.answer_hours_p90),
            none(),
            "",
        ),
        f(
            "report.unanswered",
            r.escalations.unanswered.to_string(),
            none(),
            &r.links.unanswered,
        ),
        f(
            "report.backlog",
            r.backlog.open.to_string(),
            none(),
            &r.links.backlog,
        ),
        f(
            "report.open_escalations",
            r.escalations.open_now.open.to_string(),
            none(),
            &r.links.open_escalations,
        ),
    ]
}

/// The weekly chart (opened, closed, backlog) and the first-response bars.
fn charts(page: &Page, r: &Report) -> (String, String) {
    use reports::chart::{self, Bar, Series, STYLES};
    let labels: Vec<String> = r
        .weekly
        .iter()
        .map(|w| w.week.format("%Y-%m-%d").to_string())
        .collect();
    let (opened, closed, backlog) = (
        page.t("report.opened"),
        page.t("report.closed"),
        page.t("report.backlog"),
    );
    let weekly = chart::lines(
        &page.t("report.weekly"),
        &labels,
        &[
            Series {
                label: &opened,
                values: r.weekly.iter().map(|w| w.opened).collect(),
                links: r.weekly.iter().map(|w| w.opened_url.clone()).collect(),
                style: STYLES[0],
            },
            Series {
                label: &closed,
                values: r.weekly.iter().map(|w| w.closed).collect(),
                links: r.weekly.iter().map(|w| w.closed_url.clone()).collect(),
                style: STYLES[1],
            },
            Series {
                label: &backlog,
                values: r.weekly.iter().map(|w| w.backlog).collect(),
                links: Vec::new(),
                style: STYLES[2],
            },
        ],
        &page.t("report.col.cases"),
    );
    let names: Vec<String> = r
        .sla
        .iter()
        .map(|s| page.t2("priority", s.priority).to_string())
        .collect();
    let bars: Vec<Bar> = r
        .sla
        .iter()
        .zip(&names)
        .map(|(s, name)| Bar {
            label: name,
            share: s.share,
            tip: format!(
                "{name}: {} {} / {} {} / {} {}",
                s.met,
                page.t("report.col.met"),
                s.late,
                page.t("report.col.late"),
                s.breached,
                page.t("report.col.breached")
            ),
            link: s.met_url.clone(),
        })
        .collect();
    let sla = chart::shares(&page.t("report.sla_title"), &bars);
    (weekly, sla)
}

#[tracing::instrument(skip_all)]
pub async fn page(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    let Built {
        r,
        q,
        p,
        range,
        staff,
    } = build(&st, params.into_inner()).await?;
    let qs = p.query_string(&q);
    let save_query = if p.preset.as_deref().is_some_and(|s| !s.trim().is_empty()) {
        p.to_query_string()
    } else {
        qs.clone()
    };
    let uid = user.0.id;
    let views = super::run(&st, move |c, _| {
        reports::views::list(c, uid).map_err(AppError::from)
    })
    .await?;
    let day = |t: &chrono::NaiveDateTime| t.format("%Y-%m-%d").to_string();
    let prev = q.previous();
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
    let (weekly_svg, sla_svg) = charts(&page, &r);
    html(&ReportsPage {
        page,
        figures: figures(&r),
        r,
        weekly_svg,
        sla_svg,
        from: day(&q.from),
        to: q.last_day().format("%Y-%m-%d").to_string(),
        prev_from: day(&prev.from),
        prev_to: prev.last_day().format("%Y-%m-%d").to_string(),
        customer: q.customer,
        oem: q.oem,
        code: q.code,
        priority: q.priority,
        product: q.product,
        engineer: q.engineer,
        staff,
        qs,
        preset,
        views,
        save_query,
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

#[derive(Template)]
#[template(path = "cases/report.html")]
struct CaseReportPage {
    page: Page,
    r: reports::case::CaseReport,
}

/// The case report's data: the case page's, without the thread's bodies.
async fn case_report(
    st: &crate::startup::AppState,
    number: String,
) -> Result<reports::case::CaseReport, AppError> {
    let detail = super::run(st, move |c, _| {
        crate::cases::detail::load_by_number(c, &number, crate::cases::detail::ThreadWindow::Recent)
    })
    .await?;
    Ok(reports::case::build(detail, crate::now()))
}

/// `GET /cases/{number}/report`: one printable page about one case.
pub async fn case_page(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(super::STAFF)?;
    let r = case_report(&st, path.into_inner()).await?;
    let page = Page::new(&req, &st, Some(user.0));
    html(&CaseReportPage { page, r })
}

/// `GET /api/cases/{number}/report`: the same as JSON.
pub async fn case_json(
    st: State,
    user: ApiUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(super::STAFF)?;
    let r = case_report(&st, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(r))
}

/// A view to save: its name, the report's query string, and the Monday mail.
#[derive(Debug, serde::Deserialize)]
pub struct ViewFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    query: String,
    #[serde(default, deserialize_with = "super::forms::checkbox")]
    weekly: bool,
}

/// The Monday mail on or off.
#[derive(Debug, serde::Deserialize)]
pub struct WeeklyFields {
    #[serde(default, deserialize_with = "super::forms::checkbox")]
    weekly: bool,
}

async fn save_view(
    st: &crate::startup::AppState,
    user_id: i64,
    lang: crate::i18n::Lang,
    f: ViewFields,
) -> Result<reports::views::ReportView, AppError> {
    super::run(st, move |c, _| {
        reports::views::create(c, user_id, &f.name, &f.query, lang, f.weekly, crate::now())
            .map_err(AppError::from)
    })
    .await
}

/// `POST /reports/views`: saves the report as a named view.
pub async fn create_view(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    form: web::Form<super::forms::PageForm<ViewFields>>,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    super::check_csrf(&req, &st, &form.csrf_token)?;
    let lang = super::cookies::lang(&req);
    let v = save_view(&st, user.0.id, lang, form.into_inner().fields).await?;
    Ok(super::see_other(&format!("/reports?{}", v.query)))
}

/// `POST /reports/views/{id}/delete`.
pub async fn delete_view(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<super::forms::PageForm<WeeklyFields>>,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    super::check_csrf(&req, &st, &form.csrf_token)?;
    let (uid, id) = (user.0.id, path.into_inner());
    let found = super::run(&st, move |c, _| {
        reports::views::delete(c, uid, id).map_err(AppError::from)
    })
    .await?;
    if !found {
        return Err(AppError::NotFound);
    }
    Ok(super::see_other("/reports"))
}

/// `POST /reports/views/{id}/weekly`: the Monday mail on (`weekly=on`) or off.
pub async fn weekly_view(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<super::forms::PageForm<WeeklyFields>>,
) -> Result<HttpResponse, AppError> {
    user.require(MANAGERS)?;
    super::check_csrf(&req, &st, &form.csrf_token)?;
    let (uid, id, weekly) = (user.0.id, path.into_inner(), form.fields.weekly);
    let found = super::run(&st, move |c, _| {
        reports::views::set_weekly(c, uid, id, weekly).map_err(AppError::from)
    })
    .await?;
    if !found {
        return Err(AppError::NotFound);
    }
    Ok(super::see_other("/reports"))
}

/// `GET /api/reports/views`: the caller's saved views.
pub async fn views_json(st: State, user: ApiUser) -> Result<HttpResponse, AppError> {
    let uid = user.require(MANAGERS)?.id;
    let views = super::run(&st, move |c, _| {
        reports::views::list(c, uid).map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "views": views })))
}

/// `POST /api/reports/views {"name", "query", "weekly", "language"?}`.
pub async fn create_view_json(
    req: HttpRequest,
    st: State,
    user: ApiUser,
    j: web::Json<ViewFields>,
) -> Result<HttpResponse, AppError> {
    let uid = user.require(MANAGERS)?.id;
    let lang = super::cookies::lang(&req);
    let v = save_view(&st, uid, lang, j.into_inner()).await?;
    Ok(HttpResponse::Ok().json(v))
}

/// `POST /api/reports/views/{id}/delete`.
pub async fn delete_view_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (uid, id) = (user.require(MANAGERS)?.id, path.into_inner());
    let found = super::run(&st, move |c, _| {
        reports::views::delete(c, uid, id).map_err(AppError::from)
    })
    .await?;
    if !found {
        return Err(AppError::NotFound);
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true })))
}

/// `POST /api/reports/views/{id}/weekly {"weekly": true|false}`.
pub async fn weekly_view_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
    j: web::Json<WeeklyFields>,
) -> Result<HttpResponse, AppError> {
    let (uid, id, weekly) = (user.require(MANAGERS)?.id, path.into_inner(), j.weekly);
    let found = super::run(&st, move |c, _| {
        reports::views::set_weekly(c, uid, id, weekly).map_err(AppError::from)
    })
    .await?;
    if !found {
        return Err(AppError::NotFound);
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true, "weekly": weekly })))
}
