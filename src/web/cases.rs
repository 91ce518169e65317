//! The queue and the case page.

use super::auth::html;
use super::{state, Page};
use crate::auth::extract::{HasRole, STAFF};
use crate::auth::CurrentUser;
use crate::cases::detail::{self, CaseDetail};
use crate::cases::{self as cases_mod, CaseRow, ListFilter, Status};
use crate::db::schema::attachments;
use crate::error::AppError;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    q: String,
    status: Option<String>,
    #[serde(default)]
    page: Option<i64>,
}

pub struct QueueRow {
    pub number: String,
    pub subject: String,
    pub customer: String,
    pub status: String,
    pub age: String,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "cases/queue.html")]
struct QueuePage {
    page: Page,
    rows: Vec<QueueRow>,
    total: i64,
    q: String,
    status: String,
    statuses: Vec<&'static str>,
    page_no: i64,
    prev_link: Option<String>,
    next_link: Option<String>,
}

pub const PER_PAGE: i64 = 50;

/// "3d 4h", "5h 10m", "12m": short ages for the queue.
pub fn age(from: chrono::NaiveDateTime, now: chrono::NaiveDateTime) -> String {
    let mins = (now - from).num_minutes().max(0);
    let (d, h, m) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else {
        format!("{m}m")
    }
}

fn status_is_valid(s: &str) -> bool {
    s.is_empty() || s == "active" || Status::parse(s).is_some()
}

pub async fn queue(
    req: HttpRequest,
    user: CurrentUser,
    q: web::Query<QueueQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let st = state(&req)?;
    let q = q.into_inner();
    let status = q.status.clone().unwrap_or_else(|| "active".into());
    if !status_is_valid(&status) {
        return Err(AppError::BadRequest("queue.bad_status".into()));
    }
    let filter = ListFilter {
        q: Some(q.q.clone()),
        status: Some(status.clone()),
        page: q.page.unwrap_or(1),
        per_page: PER_PAGE,
    };
    let pool = st.pool.clone();
    let f2 = filter.clone();
    let (rows, total) = web::block(move || -> Result<(Vec<CaseRow>, i64), AppError> {
        Ok(cases_mod::list(&mut *pool.get()?, &f2)?)
    })
    .await??;
    let now = crate::now();
    let page = Page::new(&req, &st, Some(user.0));
    let rows = rows
        .into_iter()
        .map(|c| QueueRow {
            status: page.t(&format!("status.{}", c.status)).to_string(),
            age: age(c.created_at, now),
            updated: c.updated_at.format("%Y-%m-%d %H:%M").to_string(),
            customer: c.customer.unwrap_or_default(),
            number: c.number,
            subject: c.subject,
        })
        .collect();
    let page_no = filter.page.max(1);
    let link = |p: i64| {
        let qs =
            serde_urlencoded_pairs(&[("q", &q.q), ("status", &status), ("page", &p.to_string())]);
        format!("/cases?{qs}")
    };
    let prev_link = (page_no > 1).then(|| link(page_no - 1));
    let next_link = (page_no * PER_PAGE < total).then(|| link(page_no + 1));
    let mut statuses = vec!["active", ""];
    statuses.extend(Status::ALL.iter().map(|s| s.as_str()));
    html(&QueuePage {
        page,
        rows,
        total,
        q: q.q,
        status,
        statuses,
        page_no,
        prev_link,
        next_link,
    })
}

fn serde_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", k, url_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Template)]
#[template(path = "cases/show.html")]
struct CasePage {
    page: Page,
    case: CaseDetail,
    status_label: String,
    open_for: String,
}

pub async fn load_case(
    st: &crate::startup::AppState,
    number: String,
) -> Result<CaseDetail, AppError> {
    let pool = st.pool.clone();
    web::block(move || -> Result<CaseDetail, AppError> {
        let mut c = pool.get()?;
        let case = cases_mod::find_by_number(&mut c, &number)?.ok_or(AppError::NotFound)?;
        Ok(detail::load(&mut c, case)?)
    })
    .await?
}

pub async fn show(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let st = state(&req)?;
    let case = load_case(&st, path.into_inner()).await?;
    let page = Page::new(&req, &st, Some(user.0));
    let status_label = page.t(&format!("status.{}", case.status)).to_string();
    let open_for = chrono::NaiveDateTime::parse_from_str(&case.created_at, "%Y-%m-%dT%H:%M:%SZ")
        .map(|c| {
            let end = case
                .closed_at
                .as_deref()
                .and_then(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%SZ").ok())
                .unwrap_or_else(crate::now);
            age(c, end)
        })
        .unwrap_or_default();
    html(&CasePage {
        page,
        case,
        status_label,
        open_for,
    })
}

pub async fn attachment(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let st = state(&req)?;
    let (number, id) = path.into_inner();
    let pool = st.pool.clone();
    let (filename, sha) = web::block(move || -> Result<(String, String), AppError> {
        let mut c = pool.get()?;
        let case = cases_mod::find_by_number(&mut c, &number)?.ok_or(AppError::NotFound)?;
        Ok(attachments::table
            .filter(attachments::id.eq(id))
            .filter(attachments::case_id.eq(case.id))
            .select((attachments::filename, attachments::sha256))
            .first(&mut c)?)
    })
    .await??;
    let store = st.store.clone();
    let bytes = web::block(move || crate::storage::BlobStore::get(store.as_ref(), &sha))
        .await?
        .map_err(AppError::internal)?;
    Ok(download(bytes, &filename))
}

/// A download that a browser never renders inline.
pub fn download(bytes: Vec<u8>, filename: &str) -> HttpResponse {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
                url_escape(filename)
            ),
        ))
        .body(bytes)
}
