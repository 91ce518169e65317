//! Every URL in one place, the page context shared by templates, and the
//! middleware for security headers, CSRF seeding and HTML error pages.

pub mod activation;
pub mod admin;
pub mod auth;
pub mod bundles;
pub mod canned;
pub mod cases;
pub mod codes;
pub mod cookies;
pub mod customers;
pub mod error;
pub mod escalations;
pub mod extract;
pub mod forms;
pub mod ingest;
pub mod live;
pub mod mailboxes;
pub mod notifications;
pub mod people;
pub mod reports;
pub mod roles;
pub mod routes;
pub mod search;
pub mod upload;
pub mod workflow;

pub use error::{AppError, AppResult};
pub use extract::{ApiUser, CurrentUser, HasRole};
pub use roles::STAFF;

use crate::auth::users::User;
use crate::auth::Role;
use crate::i18n::{self, Lang, Msg};
use crate::startup::AppState;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{DefaultHeaders, ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use askama::Template;
use std::borrow::Cow;

pub use routes::configure;

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

async fn home(req: HttpRequest) -> Result<HttpResponse, AppError> {
    let target = if extract::session_user(&req).await?.is_some() {
        "/cases"
    } else {
        "/login"
    };
    Ok(see_other(target))
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

const APP_CSS: &str = include_str!("../../static/app.css");
const APP_JS: &str = include_str!("../../static/app.js");

async fn static_file(path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (body, ctype) = match path.as_str() {
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        _ => return Err(AppError::NotFound),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, ctype))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body))
}

/// Shared by every page: language, signed-in user, the CSRF token for forms.
pub struct Page {
    pub lang: Lang,
    pub user: Option<User>,
    pub csrf: String,
    pub path: String,
    pub notice: Option<String>,
    /// Unread notifications, when the handler counted them (the badge); other pages
    /// fill the badge from `/notifications/unread` in the browser.
    pub unread: Option<i64>,
}

impl Page {
    pub fn new(req: &HttpRequest, st: &AppState, user: Option<User>) -> Page {
        let notice =
            web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
                .ok()
                .and_then(|q| q.get("done").cloned())
                .filter(|k| i18n::has_key(&format!("done.{k}")))
                .map(|k| format!("done.{k}"));
        Page {
            lang: cookies::lang(req),
            user,
            csrf: cookies::form_token(&st.keys, req),
            path: req.path().to_string(),
            notice,
            unread: None,
        }
    }

    pub fn t(&self, key: &str) -> Cow<'static, str> {
        i18n::t(self.lang, key)
    }

    /// A key made of a group and a value, e.g. `t2("status", "closed")`.
    pub fn t2(&self, group: &str, key: &str) -> Cow<'static, str> {
        i18n::t(self.lang, &format!("{group}.{key}"))
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }

    pub fn other_lang_code(&self) -> &'static str {
        self.lang.other().code()
    }

    fn has(&self, roles: &[Role]) -> bool {
        self.user
            .as_ref()
            .is_some_and(|u| roles.contains(&u.role()))
    }

    pub fn is_admin(&self) -> bool {
        self.has(&[Role::Admin])
    }

    pub fn can_see_people(&self) -> bool {
        self.has(roles::PEOPLE)
    }

    pub fn can_read_reports(&self) -> bool {
        self.has(roles::MANAGERS)
    }

    pub fn can_ingest(&self) -> bool {
        self.has(roles::SUPPORT)
    }

    pub fn user_name(&self) -> &str {
        self.user.as_ref().map(|u| u.name.as_str()).unwrap_or("")
    }

    pub fn role_label(&self) -> Cow<'static, str> {
        match self.user.as_ref().map(|u| u.role()) {
            Some(r) => i18n::t(self.lang, &format!("role.{}", r.as_str())),
            None => Cow::Borrowed(""),
        }
    }

    pub fn nav_class(&self, prefix: &str) -> &'static str {
        if self.path.starts_with(prefix) {
            "active"
        } else {
            ""
        }
    }
}

/// The application state, as handlers extract it.
pub type State = web::Data<AppState>;

/// Runs blocking database work on a pooled connection, off the async workers: the
/// one way a handler reaches the domain. Any domain error maps to `AppError`.
pub async fn run<T, E, F>(st: &AppState, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    E: Into<AppError> + Send + 'static,
    F: FnOnce(&mut crate::db::DbConn, &crate::config::Settings) -> Result<T, E> + Send + 'static,
{
    let pool = st.pool.clone();
    let settings = st.settings.clone();
    web::block(move || -> Result<T, AppError> {
        let mut c = pool.get()?;
        f(&mut c, &settings).map_err(Into::into)
    })
    .await?
}

/// A bounded read (index ranges under small limits: the session behind a request, a
/// case page) run where it is asked for. On SQLite it runs in place on this worker,
/// on the worker's own read connection (`db::reader`): no trip through the blocking
/// pool and back, and each worker serves its connections' reads in turn, so a page's
/// wait is the queue ahead of it and not the operating system's choice among a dozen
/// threads (BENCHMARKS.md, session 30: the case page's p99 at 64 connections). It
/// must stay a few hundred microseconds: the worker serves nothing else meanwhile.
/// On PostgreSQL, where each query waits on the network, it is `run`.
pub async fn read<T, E, F>(st: &AppState, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    E: Into<AppError> + Send + 'static,
    F: FnOnce(&mut crate::db::DbConn, &crate::config::Settings) -> Result<T, E> + Send + 'static,
{
    let url = &st.settings.database_url;
    if crate::db::is_postgres_url(url) {
        return run(st, f).await;
    }
    crate::db::reader::with_reader(url, |c| f(c, &st.settings))?.map_err(Into::into)
}

/// Checks the form's CSRF token against the browser's cookie.
pub fn check_csrf(req: &HttpRequest, st: &AppState, token: &str) -> Result<(), AppError> {
    if cookies::csrf_ok(&st.keys, req, token) {
        Ok(())
    } else {
        Err(AppError::Csrf)
    }
}

/// Seeds the CSRF cookie for a browser that has none yet; the value is visible to
/// this request's handlers through the request extensions.
pub fn csrf_seed_for(req: &ServiceRequest) -> Option<String> {
    if req
        .cookie(crate::auth::csrf::COOKIE)
        .is_some_and(|c| !c.value().is_empty())
    {
        return None;
    }
    let s = crate::auth::random_hex(16);
    req.extensions_mut().insert(cookies::CsrfSeed(s.clone()));
    Some(s)
}

/// Whether a state-changing request comes from another site: its `Origin` header, when
/// present, must name this server (the `Host` it was sent to, or the forwarded host
/// behind a proxy). `Origin: null` (a sandboxed or privacy-stripped context) counts as
/// foreign. Requests without `Origin` (API clients, the MTA pipe, old browsers) are
/// judged by the CSRF token and the bearer token as before.
pub fn foreign_origin(req: &ServiceRequest) -> bool {
    use actix_web::http::Method;
    if matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return false;
    }
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return false;
    };
    let Some(host) = origin.to_str().ok().and_then(origin_host) else {
        return true;
    };
    let ours = req.connection_info().host().to_ascii_lowercase();
    without_default_port(&host) != without_default_port(&ours)
}

/// `https://Example.com:8443` → `example.com:8443`; None when not a scheme://host origin.
fn origin_host(origin: &str) -> Option<String> {
    let (scheme, rest) = origin.trim().split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return None;
    }
    Some(rest.to_ascii_lowercase())
}

fn without_default_port(host: &str) -> &str {
    host.strip_suffix(":80")
        .or_else(|| host.strip_suffix(":443"))
        .unwrap_or(host)
}

/// The inner request guard (see `startup::serve`): refuses a state-changing request
/// from a foreign `Origin` with 403 (rendered as the CSRF refusal page).
#[allow(clippy::type_complexity)]
pub fn same_origin<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> std::pin::Pin<
    Box<
        dyn std::future::Future<
            Output = Result<ServiceResponse<actix_web::body::EitherBody<B>>, actix_web::Error>,
        >,
    >,
>
where
    S: actix_web::dev::Service<
        ServiceRequest,
        Response = ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    S::Future: 'static,
    B: 'static,
{
    if foreign_origin(&req) {
        tracing::warn!(path = %req.path(), "cross-origin request refused");
        let res = req.error_response(AppError::Csrf).map_into_right_body();
        return Box::pin(std::future::ready(Ok(res)));
    }
    let fut = srv.call(req);
    Box::pin(async move { fut.await.map(ServiceResponse::map_into_left_body) })
}

/// `Cache-Control: no-store` on every answer that does not set its own (pages, case
/// data, attachments, the API, errors): nothing signed-in stays in a shared or
/// browser cache. `/static` sets its own (public).
pub fn no_store<B>(res: &mut ServiceResponse<B>) {
    if res.request().path().starts_with("/static/") {
        return;
    }
    let headers = res.response_mut().headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
}

/// Sets the session cookie renewed during the request (a new last-seen time, for the
/// idle timeout), unless the handler set or removed the session cookie itself.
pub fn renew_session<B>(res: &mut ServiceResponse<B>, secure: bool) {
    let Some(value) = res
        .request()
        .extensions()
        .get::<cookies::SessionRenewal>()
        .map(|r| r.0.clone())
    else {
        return;
    };
    if res
        .response()
        .cookies()
        .any(|c| c.name() == crate::auth::session::COOKIE)
    {
        return;
    }
    let _ = res
        .response_mut()
        .add_cookie(&cookies::session_cookie(value, secure));
}

pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "same-origin"))
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    page: Page,
    title: String,
    detail: String,
}

pub fn error_pages<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(render_error)
}

fn render_error<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let path = res.request().path().to_string();
    let status = res.status();
    if path.starts_with("/api/")
        || path == "/api"
        || path == "/healthz"
        || !(status.is_client_error() || status.is_server_error())
    {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let own_page = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if own_page {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let req = res.request().clone();
    let message = res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
        .map(AppError::message);
    let new = if status == StatusCode::UNAUTHORIZED {
        see_other("/login")
    } else {
        let Some(st) = req.app_data::<State>().cloned() else {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        };
        let user = req.extensions().get::<CurrentUser>().map(|u| u.0.clone());
        let page = Page::new(&req, &st, user);
        let key = format!("error.{}", status.as_u16());
        let title = if i18n::has_key(&key) {
            page.t(&key).to_string()
        } else {
            page.t("error.generic").to_string()
        };
        let detail = match message {
            Some(m) if status == StatusCode::BAD_REQUEST || m.key == "error.csrf" => {
                m.render(page.lang)
            }
            _ => String::new(),
        };
        let body = ErrorPage {
            page,
            title,
            detail,
        }
        .render()
        .unwrap_or_else(|_| status.to_string());
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body)
    };
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body(),
    ))
}
