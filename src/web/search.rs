//! `GET /search` (the page) and `GET /api/search` (JSON): one box over every case.

use super::auth::html;
use super::AppError;
use super::{ApiUser, CurrentUser};
use super::{HasRole, STAFF};
use super::{Page, State};
use crate::cases::Status;
use crate::search::{self, Hit, SearchQuery};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

/// Query string of both the page and the API.
#[derive(Debug, Deserialize, Default)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    code: String,
    limit: Option<usize>,
}

/// Longest query accepted, in characters.
const MAX_QUERY_CHARS: usize = 500;

impl SearchParams {
    fn to_query(&self, default_limit: usize) -> Result<SearchQuery, AppError> {
        let status = self.status.trim();
        if !(status.is_empty() || status == "active" || Status::parse(status).is_some()) {
            return Err(AppError::bad_request("queue.bad_status"));
        }
        if self.q.chars().count() > MAX_QUERY_CHARS {
            return Err(AppError::bad_request("search.too_long"));
        }
        let bound = |s: &str, end: bool| -> Result<_, AppError> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            crate::reports::parse_bound(s, end)
                .map(Some)
                .map_err(|_| AppError::bad_request("search.bad_date"))
        };
        Ok(SearchQuery {
            q: self.q.clone(),
            status: status.to_string(),
            customer: self.customer.trim().to_string(),
            from: bound(&self.from, false)?,
            to: bound(&self.to, true)?,
            code: self.code.trim().to_string(),
            limit: self.limit.unwrap_or(default_limit).clamp(1, 200),
        })
    }
}

async fn find(st: &crate::startup::AppState, q: SearchQuery) -> Result<Vec<Hit>, AppError> {
    let started = std::time::Instant::now();
    let hits = super::run(st, move |c, _| search::search(c, &q)).await?;
    tracing::debug!(
        hits = hits.len(),
        ms = started.elapsed().as_millis() as u64,
        "search"
    );
    Ok(hits)
}

pub struct ResultRow {
    pub number: String,
    pub subject: String,
    pub status: String,
    pub status_label: String,
    pub customer: String,
    pub updated: String,
    /// Escaped HTML with `<mark>` around the matches (see `search::snippet`).
    pub snippet: String,
    pub place: &'static str,
}

#[derive(Template)]
#[template(path = "search/results.html")]
struct ResultsPage {
    page: Page,
    p: SearchParams,
    rows: Vec<ResultRow>,
    searched: bool,
    statuses: Vec<&'static str>,
}

#[tracing::instrument(skip_all)]
pub async fn page(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let p = params.into_inner();
    let q = p.to_query(50)?;
    let searched = !search::parse_terms(&q.q).is_empty();
    let hits = if searched {
        find(&st, q).await?
    } else {
        Vec::new()
    };
    let page = Page::new(&req, &st, Some(user.0));
    let rows = hits
        .into_iter()
        .map(|h| ResultRow {
            status_label: page.t2("status", &h.status).to_string(),
            status: h.status,
            customer: h.customer.unwrap_or_default(),
            updated: h.updated_at.format("%Y-%m-%d %H:%M").to_string(),
            number: h.case_number,
            subject: h.subject,
            snippet: h.snippet,
            place: h.where_.as_str(),
        })
        .collect();
    let mut statuses = vec!["", "active"];
    statuses.extend(Status::ALL.iter().map(|s| s.as_str()));
    html(&ResultsPage {
        page,
        p,
        rows,
        searched,
        statuses,
    })
}

pub async fn api(
    st: State,
    user: ApiUser,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let q = params.into_inner().to_query(50)?;
    let hits = find(&st, q).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "results": hits })))
}
