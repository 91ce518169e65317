//! Notifications in the browser and the API: the list ("what's new for me"), marking
//! read, each user's settings, and watching cases.

use super::auth::html;
use super::forms::{checkbox, PageForm};
use super::{run, see_other, ApiUser, AppError, CurrentUser, HasRole, Page, State, STAFF};
use crate::notify::{self, Prefs, View};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

/// How many notifications the list shows.
const SHOWN: i64 = 100;

#[derive(Template)]
#[template(path = "notifications/index.html")]
struct ListPage {
    page: Page,
    items: Vec<View>,
}

#[derive(Template)]
#[template(path = "notifications/settings.html")]
struct SettingsPage {
    page: Page,
    p: Prefs,
    signature: String,
}

/// `GET /notifications`: the newest first, unread marked.
pub async fn list(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let uid = user.0.id;
    let (items, unread) = run(&st, move |c, _| {
        Ok::<_, AppError>((notify::list(c, uid, SHOWN)?, notify::unread(c, uid)?))
    })
    .await?;
    let mut page = Page::new(&req, &st, Some(user.0));
    page.unread = Some(unread);
    html(&ListPage { page, items })
}

/// `GET /notifications/{id}/open`: marks it read and goes to its case.
pub async fn open(
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let (uid, id) = (user.0.id, path.into_inner());
    let number = run(&st, move |c, _| {
        notify::open(c, uid, id, crate::now()).map_err(AppError::from)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(see_other(&format!(
        "/cases/{}",
        super::cases::url_escape(&number)
    )))
}

#[derive(Debug, Deserialize, Default)]
pub struct ReadFields {
    /// Only this case's (its number); empty: all.
    #[serde(default)]
    case: String,
}

async fn mark(st: &crate::startup::AppState, uid: i64, f: ReadFields) -> Result<usize, AppError> {
    run(st, move |c, _| {
        let case_id = match f.case.trim() {
            "" => None,
            n => Some(
                crate::cases::find_by_number(c, n)?
                    .ok_or(AppError::NotFound)?
                    .id,
            ),
        };
        Ok::<_, AppError>(notify::mark_read(c, uid, case_id, crate::now())?)
    })
    .await
}

/// `POST /notifications/read`: all read (or one case's).
pub async fn read(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    form: web::Form<PageForm<ReadFields>>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    super::check_csrf(&req, &st, &form.csrf_token)?;
    mark(&st, user.0.id, form.into_inner().fields).await?;
    Ok(see_other("/notifications"))
}

/// `GET /notifications/settings`.
pub async fn settings_page(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let uid = user.0.id;
    let (p, signature) = run(&st, move |c, _| -> Result<_, AppError> {
        Ok((
            notify::prefs(c, uid)?,
            crate::people::signature::of(c, uid)?.unwrap_or_default(),
        ))
    })
    .await?;
    let page = Page::new(&req, &st, Some(user.0));
    html(&SettingsPage { page, p, signature })
}

#[derive(Debug, Deserialize, Default)]
pub struct SignatureFields {
    #[serde(default)]
    signature: String,
}

async fn save_signature(st: &State, uid: i64, text: String) -> Result<Option<String>, AppError> {
    run(st, move |c, _| -> Result<_, AppError> {
        Ok(crate::people::signature::save(c, uid, &text, crate::now())?)
    })
    .await
}

/// `POST /me/signature`: the signature under the mail one sends (blank: the default,
/// one's name and the organisation).
pub async fn signature_page(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    form: web::Form<PageForm<SignatureFields>>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    super::check_csrf(&req, &st, &form.csrf_token)?;
    save_signature(&st, user.0.id, form.into_inner().fields.signature).await?;
    Ok(see_other("/notifications/settings?done=saved#signature"))
}

/// `GET /api/me/signature`: `{"signature": text or null}`.
pub async fn signature_json(st: State, user: ApiUser) -> Result<HttpResponse, AppError> {
    let uid = user.require(STAFF)?.id;
    let s = run(&st, move |c, _| -> Result<_, AppError> {
        Ok(crate::people::signature::of(c, uid)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "signature": s })))
}

/// `POST /api/me/signature` `{"signature"}` → what was kept (null: the default).
pub async fn save_signature_json(
    st: State,
    user: ApiUser,
    j: web::Json<SignatureFields>,
) -> Result<HttpResponse, AppError> {
    let uid = user.require(STAFF)?.id;
    let s = save_signature(&st, uid, j.into_inner().signature).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "signature": s })))
}

/// The settings as a form or JSON sends them.
#[derive(Debug, Deserialize)]
pub struct PrefFields {
    #[serde(default)]
    language: String,
    #[serde(default, deserialize_with = "checkbox")]
    customer_reply: bool,
    #[serde(default, deserialize_with = "checkbox")]
    rnd_answer: bool,
    #[serde(default, deserialize_with = "checkbox")]
    mention: bool,
    #[serde(default, deserialize_with = "checkbox")]
    sla_warning: bool,
    #[serde(default, deserialize_with = "checkbox")]
    escalation_overdue: bool,
    #[serde(default)]
    digest_minutes: Option<serde_json::Value>,
}

impl PrefFields {
    fn prefs(&self) -> Result<Prefs, AppError> {
        let digest = match &self.digest_minutes {
            None | Some(serde_json::Value::Null) => 0,
            Some(serde_json::Value::Number(n)) => n.as_i64().unwrap_or(-1),
            Some(serde_json::Value::String(s)) if s.trim().is_empty() => 0,
            Some(serde_json::Value::String(s)) => s.trim().parse().unwrap_or(-1),
            Some(_) => -1,
        };
        if !(0..=notify::MAX_DIGEST_MINUTES).contains(&digest) {
            return Err(AppError::BadRequest(
                crate::i18n::Msg::new("notify.bad_digest").with("max", notify::MAX_DIGEST_MINUTES),
            ));
        }
        Ok(Prefs {
            language: self.language.clone(),
            customer_reply: self.customer_reply,
            rnd_answer: self.rnd_answer,
            mention: self.mention,
            sla_warning: self.sla_warning,
            escalation_overdue: self.escalation_overdue,
            digest_minutes: digest,
        })
    }
}

/// `POST /notifications/settings`.
pub async fn save_settings(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    form: web::Form<PageForm<PrefFields>>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    super::check_csrf(&req, &st, &form.csrf_token)?;
    let p = form.fields.prefs()?;
    let uid = user.0.id;
    run(&st, move |c, _| {
        notify::save_prefs(c, uid, &p).map_err(AppError::from)
    })
    .await?;
    Ok(see_other("/notifications/settings?done=saved"))
}

#[derive(Debug, Deserialize, Default)]
pub struct WatchFields {
    #[serde(default, deserialize_with = "checkbox")]
    watch: bool,
}

async fn set_watch(
    st: &crate::startup::AppState,
    uid: i64,
    number: String,
    watch: bool,
) -> Result<(), AppError> {
    run(st, move |c, _| {
        let case = crate::cases::find_by_number(c, &number)?.ok_or(AppError::NotFound)?;
        if watch {
            notify::watch(c, case.id, uid, crate::now())?;
        } else {
            notify::unwatch(c, case.id, uid)?;
        }
        Ok::<_, AppError>(())
    })
    .await
}

/// `POST /cases/{number}/watch` (`watch=on` to watch, without to stop).
pub async fn watch(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<PageForm<WatchFields>>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    super::check_csrf(&req, &st, &form.csrf_token)?;
    let number = path.into_inner();
    set_watch(&st, user.0.id, number.clone(), form.fields.watch).await?;
    Ok(see_other(&format!(
        "/cases/{}",
        super::cases::url_escape(&number)
    )))
}

/// `GET /notifications/unread`: `{"unread": N}` (at most 100) for the badge of pages
/// that did not count it themselves.
pub async fn unread_count(st: State, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let uid = user.require(STAFF)?.id;
    let n = run(&st, move |c, _| Ok::<_, AppError>(notify::unread(c, uid)?)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "unread": n })))
}

/// `GET /api/notifications`: `{"unread", "notifications": [...]}`.
pub async fn list_json(st: State, user: ApiUser) -> Result<HttpResponse, AppError> {
    let uid = user.require(STAFF)?.id;
    let (items, unread) = run(&st, move |c, _| {
        Ok::<_, AppError>((notify::list(c, uid, SHOWN)?, notify::unread(c, uid)?))
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "unread": unread, "notifications": items })))
}

/// `POST /api/notifications/read {"case"?}`.
pub async fn read_json(
    st: State,
    user: ApiUser,
    j: web::Json<ReadFields>,
) -> Result<HttpResponse, AppError> {
    let uid = user.require(STAFF)?.id;
    let n = mark(&st, uid, j.into_inner()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "marked": n })))
}

/// `GET /api/me/notifications`: the caller's settings.
pub async fn settings_json(st: State, user: ApiUser) -> Result<HttpResponse, AppError> {
    let uid = user.require(STAFF)?.id;
    let p = run(&st, move |c, _| {
        notify::prefs(c, uid).map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(p))
}

/// `POST /api/me/notifications {"language", "customer_reply", "rnd_answer", "mention",
/// "digest_minutes"}`.
pub async fn save_settings_json(
    st: State,
    user: ApiUser,
    j: web::Json<PrefFields>,
) -> Result<HttpResponse, AppError> {
    let uid = user.require(STAFF)?.id;
    let p = j.prefs()?;
    let saved = run(&st, move |c, _| {
        notify::save_prefs(c, uid, &p).map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(saved))
}

/// `POST /api/cases/{number}/watchers {"watch": true|false}`.
pub async fn watch_json(
    st: State,
    user: ApiUser,
    path: web::Path<String>,
    j: web::Json<WatchFields>,
) -> Result<HttpResponse, AppError> {
    let uid = user.require(STAFF)?.id;
    let watch = j.watch;
    set_watch(&st, uid, path.into_inner(), watch).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true, "watching": watch })))
}
