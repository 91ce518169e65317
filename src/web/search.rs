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
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

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

/// Longest query (and customer filter) accepted, in characters; each term is further
/// cut at `search::MAX_TERM_CHARS`.
const MAX_QUERY_CHARS: usize = 500;

impl SearchParams {
    fn to_query(&self, default_limit: usize) -> Result<SearchQuery, AppError> {
        let status = self.status.trim();
        if !(status.is_empty() || status == "active" || Status::parse(status).is_some()) {
            return Err(AppError::bad_request("queue.bad_status"));
        }
        if self.q.chars().count() > MAX_QUERY_CHARS
            || self.customer.chars().count() > MAX_QUERY_CHARS
            || self.code.chars().count() > MAX_QUERY_CHARS
        {
            return Err(AppError::bad_request("search.too_long"));
        }
        // Refused rather than trimmed: results for the first eight words only would
        // look like an answer to the whole query.
        if search::count_terms(&self.q) > search::MAX_TERMS {
            return Err(AppError::BadRequest(
                crate::i18n::Msg::new("search.too_many_terms")
                    .with("max", search::MAX_TERMS.to_string()),
            ));
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

/// Searches in flight at once for one user: a third is refused (429) until one ends.
pub const MAX_PER_USER: usize = 2;

/// Searches in flight in this server process, per user. The counts are per server
/// (each process of a cluster counts its own); the total is the `Gate`'s.
#[derive(Default)]
struct InFlight {
    per_user: HashMap<i64, usize>,
}

static IN_FLIGHT: LazyLock<Mutex<InFlight>> = LazyLock::new(Mutex::default);

fn in_flight() -> std::sync::MutexGuard<'static, InFlight> {
    // The counts stay consistent even if a holder panicked: each change is one step.
    IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner())
}

/// A search's place among those in flight; given back when dropped.
struct Slot {
    user: i64,
}

impl Slot {
    /// A place for `user`'s search, unless they already have `MAX_PER_USER` searches in
    /// flight (running or queued at the `Gate`).
    fn take(user: i64) -> Option<Slot> {
        let mut f = in_flight();
        let mine = f.per_user.get(&user).copied().unwrap_or(0);
        if mine >= MAX_PER_USER {
            return None;
        }
        f.per_user.insert(user, mine + 1);
        Some(Slot { user })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut f = in_flight();
        if let Some(n) = f.per_user.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                f.per_user.remove(&self.user);
            }
        }
    }
}

/// Searches run at once in this server process: as many as it has cores, plus the two
/// one user may hold (so one user's slow searches cannot take every place), and at most
/// half its database connections (so other pages always find one). More only add tail
/// latency on the same cores; the rest wait in a short queue.
struct Gate {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    waiting: std::sync::atomic::AtomicUsize,
}

/// Searches waiting for a place at most; one more is refused (429).
const QUEUE: usize = 256;
/// How long a search waits for a place before it is refused (429).
const QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn gate(st: &crate::startup::AppState) -> &'static Gate {
    static GATE: std::sync::OnceLock<Gate> = std::sync::OnceLock::new();
    GATE.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let n = (cores + MAX_PER_USER)
            .min(st.pool.max_size() as usize / 2)
            .max(1);
        Gate {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(n)),
            waiting: std::sync::atomic::AtomicUsize::new(0),
        }
    })
}

impl Gate {
    /// A place to run, after waiting in the queue; `None` when the queue is full or
    /// the wait too long.
    async fn enter(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        use std::sync::atomic::Ordering;
        if let Ok(p) = self.permits.clone().try_acquire_owned() {
            return Some(p);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= QUEUE {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let got = tokio::time::timeout(QUEUE_WAIT, self.permits.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        got.ok().and_then(Result::ok)
    }
}

async fn find(
    st: &crate::startup::AppState,
    user: i64,
    q: SearchQuery,
) -> Result<Vec<Hit>, AppError> {
    let Some(slot) = Slot::take(user) else {
        tracing::info!(user_id = user, "search refused: too many in flight");
        return Err(AppError::Throttled);
    };
    let started = std::time::Instant::now();
    let permit = gate(st).enter().await.ok_or_else(|| {
        tracing::info!(user_id = user, "search refused: the queue is full");
        AppError::Throttled
    })?;
    // The slot and the permit move into the blocking work: they are given back when
    // the database work ends, not when an impatient client hangs up.
    let hits = super::run(st, move |c, _| {
        let _slot = slot;
        let _permit = permit;
        search::search(c, &q, search::TIME_BUDGET).map_err(refusal)
    })
    .await?;
    tracing::debug!(
        hits = hits.len(),
        ms = started.elapsed().as_millis() as u64,
        "search"
    );
    Ok(hits)
}

/// A search that failed, as the reader is told.
fn refusal(e: search::SearchError) -> AppError {
    match e {
        search::SearchError::TooSlow => AppError::bad_request("search.too_slow"),
        search::SearchError::Db(d) => d.into(),
        search::SearchError::Index(i) => AppError::internal(i),
    }
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
        find(&st, user.0.id, q).await?
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
    let hits = find(&st, user.0.id, q).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "results": hits })))
}
