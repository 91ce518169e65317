//! Every URL in one place, the page context shared by templates, and the
//! middleware for security headers, CSRF seeding and HTML error pages.

pub mod activation;
pub mod admin;
pub mod auth;
pub mod bundles;
pub mod cases;
pub mod codes;
pub mod cookies;
pub mod error;
pub mod escalations;
pub mod extract;
pub mod forms;
pub mod ingest;
pub mod mailboxes;
pub mod reports;
pub mod search;
pub mod upload;
pub mod workflow;

pub use error::{AppError, AppResult};
pub use extract::{ApiUser, CurrentUser, HasRole, STAFF};

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

pub fn configure(cfg: &mut web::ServiceConfig, _secure: bool) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/static/{file}", web::get().to(static_file))
        .route("/", web::get().to(home))
        .route("/login", web::get().to(auth::login_form))
        .route("/login", web::post().to(auth::login))
        .route("/logout", web::post().to(auth::logout))
        .route("/lang", web::post().to(auth::switch_lang))
        .route("/cases", web::get().to(cases::queue))
        .route("/cases/{number}", web::get().to(cases::show))
        .route(
            "/cases/{number}/attachments/{id}",
            web::get().to(cases::attachment),
        )
        .route("/cases/{number}/reply", web::post().to(workflow::reply))
        .route("/cases/{number}/scope", web::post().to(workflow::scope))
        .route(
            "/cases/{number}/escalations",
            web::post().to(workflow::escalate),
        )
        .route("/cases/{number}/closure", web::post().to(workflow::closure))
        .route("/cases/{number}/status", web::post().to(workflow::status))
        .route("/cases/{number}/assign", web::post().to(workflow::assign))
        .route("/cases/{number}/notes", web::post().to(workflow::note))
        .route(
            "/cases/{number}/outbox/retry",
            web::post().to(workflow::retry_outbox),
        )
        .route("/escalations", web::get().to(escalations::queue))
        .route("/escalations/{id}/answer", web::post().to(workflow::answer))
        .route(
            "/escalations/{id}/followup",
            web::post().to(workflow::follow_up),
        )
        .route(
            "/escalations/{id}/close",
            web::post().to(workflow::close_escalation),
        )
        .route("/admin/activation", web::get().to(activation::form))
        .route("/admin/activation", web::post().to(activation::upload))
        .route("/errors/{code}/note", web::post().to(codes::save_note))
        .route(
            "/cases/{number}/attachments",
            web::post().to(bundles::upload),
        )
        .route(
            "/cases/{number}/attachments/{id}/bundle",
            web::get().to(bundles::show),
        )
        .route(
            "/cases/{number}/attachments/{id}/view",
            web::get().to(bundles::view),
        )
        .route("/errors", web::get().to(codes::lookup))
        .route("/errors/{code}", web::get().to(codes::show))
        .route("/search", web::get().to(search::page))
        .route("/reports", web::get().to(reports::page))
        .route("/reports/{file}", web::get().to(reports::csv))
        .route("/ingest", web::get().to(ingest::form))
        .route("/ingest", web::post().to(ingest::upload))
        .route("/admin/users", web::get().to(admin::users))
        .route("/admin/users", web::post().to(admin::add_user))
        .route("/admin/users/{id}", web::get().to(admin::edit_user))
        .route("/admin/users/{id}", web::post().to(admin::update_user))
        .route(
            "/admin/users/{id}/password",
            web::post().to(admin::reset_password),
        )
        .route(
            "/admin/users/{id}/disabled",
            web::post().to(admin::set_disabled),
        )
        .route("/admin/quarantine", web::get().to(admin::quarantine))
        .route(
            "/admin/quarantine/{id}/retry",
            web::post().to(admin::retry_quarantine),
        )
        .route(
            "/admin/quarantine/{id}/assign",
            web::post().to(admin::assign_quarantine),
        )
        .route("/admin/raw/{id}", web::get().to(admin::raw_download))
        .route("/admin/mailboxes", web::get().to(mailboxes::list))
        .route("/admin/mailboxes", web::post().to(mailboxes::add))
        .route(
            "/admin/mailboxes/{id}/test",
            web::post().to(mailboxes::test),
        )
        .route(
            "/admin/mailboxes/{id}/remove",
            web::post().to(mailboxes::remove),
        )
        .service(
            web::scope("/api")
                .app_data(
                    web::JsonConfig::default()
                        .content_type_required(false)
                        .limit(1024 * 1024)
                        .error_handler(|e, _| {
                            AppError::BadRequest(Msg::new("error.invalid_json").with("detail", e))
                                .into()
                        }),
                )
                .route("/me", web::get().to(auth::me))
                .route("/cases", web::get().to(cases::list_json))
                .route("/cases/{number}", web::get().to(cases::show_json))
                .route(
                    "/cases/{number}/replies",
                    web::post().to(workflow::reply_json),
                )
                .route(
                    "/cases/{number}/scope",
                    web::post().to(workflow::scope_json),
                )
                .route(
                    "/cases/{number}/escalations",
                    web::post().to(workflow::escalate_json),
                )
                .route(
                    "/cases/{number}/closure",
                    web::post().to(workflow::closure_json),
                )
                .route(
                    "/cases/{number}/status",
                    web::post().to(workflow::status_json),
                )
                .route("/cases/{number}/notes", web::post().to(workflow::note_json))
                .route(
                    "/cases/{number}/outbox",
                    web::get().to(workflow::outbox_json),
                )
                .route("/escalations", web::get().to(escalations::queue_json))
                .route(
                    "/escalations/{id}/answers",
                    web::post().to(workflow::answer_json),
                )
                .route(
                    "/escalations/{id}/followups",
                    web::post().to(workflow::follow_up_json),
                )
                .route("/errors/{code}", web::get().to(codes::error_code_json))
                .route("/mail/inbound", web::post().to(ingest::inbound))
                .route("/search", web::get().to(search::api))
                .route("/reports/summary", web::get().to(reports::api_summary))
                .route("/activation-records", web::post().to(activation::push))
                .default_service(web::to(not_found)),
        )
        .default_service(web::to(not_found));
}

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

    pub fn can_read_reports(&self) -> bool {
        self.has(reports::MANAGERS)
    }

    pub fn can_ingest(&self) -> bool {
        self.has(&[Role::Support, Role::Admin])
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
