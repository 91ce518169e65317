//! Administration of the IMAP mailboxes Casebook polls: health, add, edit, test,
//! pause, resume, remove — each page action with its JSON twin under /api.
//! Passwords are write-only: never rendered back.

use super::auth::html;
use super::HasRole;
use super::{check_csrf, see_other, Page, State};
use super::{run, AppError};
use super::{ApiUser, CurrentUser};
use crate::mailboxes::{self, client, MailboxRow, NewMailbox, TlsMode};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::roles::ADMIN;

pub struct MailboxView {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub move_to: Option<String>,
    pub poll_seconds: i64,
    pub enabled: bool,
    pub last_ok_at: Option<String>,
    pub last_error: Option<String>,
    pub next_attempt_at: String,
    pub failures: i64,
    /// `password` or `xoauth2`.
    pub auth: String,
}

impl From<MailboxRow> for MailboxView {
    fn from(m: MailboxRow) -> Self {
        let fmt = |t: &chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        MailboxView {
            id: m.id,
            url: m.url(),
            last_ok_at: m.last_ok_at.as_ref().map(fmt),
            next_attempt_at: fmt(&m.next_attempt_at),
            name: m.name,
            move_to: m.move_to,
            poll_seconds: m.poll_seconds,
            enabled: m.enabled,
            last_error: m.last_error,
            failures: m.failures,
            auth: m.auth,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/mailboxes.html")]
struct MailboxesPage {
    page: Page,
    rows: Vec<MailboxView>,
    /// Result of "test connection": (mailbox name, ok, text).
    test: Option<(String, bool, String)>,
    error: Option<String>,
}

fn load(c: &mut crate::db::DbConn) -> diesel::QueryResult<Vec<MailboxView>> {
    Ok(mailboxes::list(c)?
        .into_iter()
        .map(MailboxView::from)
        .collect())
}

fn render(page: MailboxesPage, status: StatusCode) -> Result<HttpResponse, AppError> {
    let mut resp = html(&page)?;
    *resp.status_mut() = status;
    Ok(resp)
}

pub async fn list(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let rows = run(&st, |c, _| load(c)).await?;
    render(
        MailboxesPage {
            page: Page::new(&req, &st, Some(user.0)),
            rows,
            test: None,
            error: None,
        },
        StatusCode::OK,
    )
}

/// A mailbox's settings, from the add or edit form or as JSON. On edit a blank
/// password keeps the stored one.
#[derive(Deserialize)]
pub struct MailboxFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    host: String,
    #[serde(default, deserialize_with = "super::forms::blank_number")]
    port: Option<i64>,
    #[serde(default)]
    tls: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    folder: String,
    #[serde(default)]
    move_to: String,
    #[serde(default, deserialize_with = "super::forms::blank_number")]
    poll_seconds: Option<i64>,
    /// `password` (the default) or `xoauth2`.
    #[serde(default)]
    auth: String,
    #[serde(default)]
    token_url: String,
    #[serde(default)]
    client_id: String,
    /// On an edit, blank keeps the stored one (as the refresh token).
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    refresh_token: String,
    /// Save without testing the connection first.
    #[serde(default, deserialize_with = "super::forms::checkbox")]
    no_test: bool,
    #[serde(default)]
    csrf_token: String,
}

impl MailboxFields {
    fn oauth(&self) -> Option<mailboxes::store::OAuthInput> {
        let some = |v: &str| Some(v.trim().to_string()).filter(|x| !x.is_empty());
        (self.auth.trim() == "xoauth2").then(|| mailboxes::store::OAuthInput {
            token_url: self.token_url.trim().to_string(),
            client_id: self.client_id.trim().to_string(),
            client_secret: some(&self.client_secret),
            refresh_token: some(&self.refresh_token),
        })
    }

    fn to_new(&self) -> Result<NewMailbox, AppError> {
        let tls = TlsMode::parse(&self.tls).unwrap_or(TlsMode::Imaps);
        let port = match self.port {
            None => {
                if tls == TlsMode::Imaps {
                    993
                } else {
                    143
                }
            }
            Some(p) => {
                u16::try_from(p).map_err(|_| AppError::bad_request("mailboxes.error.numbers"))?
            }
        };
        Ok(NewMailbox {
            name: self.name.trim().to_string(),
            host: self.host.trim().to_string(),
            port,
            tls,
            username: self.username.trim().to_string(),
            password: Some(self.password.clone()).filter(|p| !p.is_empty()),
            password_file: None,
            folder: match self.folder.trim() {
                "" => "INBOX".to_string(),
                x => x.to_string(),
            },
            move_to: Some(self.move_to.clone()),
            poll_seconds: self.poll_seconds.unwrap_or(mailboxes::DEFAULT_POLL_SECONDS),
            internal: false,
            oauth: self.oauth(),
        })
    }
}

/// Adds a mailbox; unless `no_test`, tested (connection, login, folder, move-to
/// folder created when missing) and taken back when the test fails.
async fn do_add(st: &State, by: &crate::auth::User, f: MailboxFields) -> Result<i64, AppError> {
    let m = f.to_new()?;
    let actor = by.email.clone();
    let keys = st.keys.clone();
    let no_test = f.no_test;
    run(st, move |c, settings| -> Result<i64, AppError> {
        let id = mailboxes::add(c, &keys, &m)?;
        if !no_test {
            let tested = mailboxes::find_id(c, id)
                .and_then(|row| client::test(Some(c), &row, &keys, settings.imap_timeout()));
            if let Err(e) = tested {
                mailboxes::remove_id(c, id)?;
                return Err(e.into());
            }
        }
        crate::cases::audit(c, None, &actor, "mailbox.added", &m.name)?;
        Ok(id)
    })
    .await
}

/// Changes a mailbox; unless `no_test`, the new settings are tested before they are
/// saved (the old ones stay when the test fails).
async fn do_edit(
    st: &State,
    by: &crate::auth::User,
    id: i64,
    f: MailboxFields,
) -> Result<(), AppError> {
    let m = f.to_new()?;
    let actor = by.email.clone();
    let keys = st.keys.clone();
    let no_test = f.no_test;
    run(st, move |c, settings| -> Result<(), AppError> {
        // Checked first, so that nothing stored goes anywhere the save would refuse.
        let next = mailboxes::prepare_edit(c, &keys, id, &m)?;
        let granted = if no_test {
            None
        } else {
            client::test_fresh(&next, &keys, settings.imap_timeout())?.1
        };
        let row = mailboxes::update(c, &keys, id, &m)?;
        if let Some(g) = granted {
            mailboxes::oauth::keep(c, &row, &keys, &g)?;
        }
        crate::cases::audit(c, None, &actor, "mailbox.edited", &row.name)?;
        Ok(())
    })
    .await
}

async fn do_set_enabled(
    st: &State,
    by: &crate::auth::User,
    id: i64,
    enabled: bool,
) -> Result<(), AppError> {
    let actor = by.email.clone();
    run(st, move |c, _| -> Result<(), AppError> {
        let row = mailboxes::find_id(c, id)?;
        mailboxes::set_enabled(c, &row.name, enabled)?;
        let what = if enabled {
            "mailbox.resumed"
        } else {
            "mailbox.paused"
        };
        crate::cases::audit(c, None, &actor, what, &row.name)?;
        Ok(())
    })
    .await
}

async fn do_remove(st: &State, by: &crate::auth::User, id: i64) -> Result<(), AppError> {
    let actor = by.email.clone();
    run(st, move |c, _| -> Result<(), AppError> {
        let row = mailboxes::find_id(c, id)?;
        mailboxes::remove_id(c, id)?;
        crate::cases::audit(c, None, &actor, "mailbox.removed", &row.name)?;
        Ok(())
    })
    .await
}

/// The list page again, with what went wrong (400).
async fn with_error(
    req: &HttpRequest,
    st: &State,
    user: CurrentUser,
    e: AppError,
) -> Result<HttpResponse, AppError> {
    let AppError::BadRequest(msg) = e else {
        return Err(e);
    };
    let rows = run(st, |c, _| load(c)).await?;
    let page = Page::new(req, st, Some(user.0));
    let error = Some(msg.render(page.lang));
    render(
        MailboxesPage {
            page,
            rows,
            test: None,
            error,
        },
        StatusCode::BAD_REQUEST,
    )
}

pub async fn add(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    form: web::Form<MailboxFields>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    match do_add(&st, &user.0, form.into_inner()).await {
        Ok(_) => Ok(see_other("/admin/mailboxes?done=mailbox_added")),
        Err(e) => with_error(&req, &st, user, e).await,
    }
}

#[derive(Template)]
#[template(path = "admin/mailbox_edit.html")]
struct EditPage {
    page: Page,
    m: MailboxView,
    host: String,
    port: i64,
    tls: String,
    username: String,
    folder: String,
    oauth: bool,
    token_url: String,
    client_id: String,
    error: Option<String>,
}

fn edit_page(page: Page, row: MailboxRow, error: Option<String>) -> EditPage {
    EditPage {
        page,
        host: row.host.clone(),
        port: row.port,
        tls: row.tls.clone(),
        username: row.username.clone(),
        folder: row.folder.clone(),
        oauth: row.is_oauth(),
        token_url: row.oauth_token_url.clone().unwrap_or_default(),
        client_id: row.oauth_client_id.clone().unwrap_or_default(),
        m: MailboxView::from(row),
        error,
    }
}

/// `GET /admin/mailboxes/{id}`: the edit form (the password is never shown).
pub async fn edit_form(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let id = path.into_inner();
    let row = run(&st, move |c, _| {
        Ok::<_, AppError>(mailboxes::find_id(c, id)?)
    })
    .await?;
    html(&edit_page(Page::new(&req, &st, Some(user.0)), row, None))
}

/// `POST /admin/mailboxes/{id}`.
pub async fn edit(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<MailboxFields>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    let id = path.into_inner();
    match do_edit(&st, &user.0, id, form.into_inner()).await {
        Ok(()) => Ok(see_other("/admin/mailboxes?done=mailbox_saved")),
        Err(AppError::BadRequest(msg)) => {
            let row = run(&st, move |c, _| {
                Ok::<_, AppError>(mailboxes::find_id(c, id)?)
            })
            .await?;
            let page = Page::new(&req, &st, Some(user.0));
            let error = Some(msg.render(page.lang));
            let mut resp = html(&edit_page(page, row, error))?;
            *resp.status_mut() = StatusCode::BAD_REQUEST;
            Ok(resp)
        }
        Err(e) => Err(e),
    }
}

/// Mailbox name, result of the test (messages in the folder, or the error), the list.
type TestResult = (String, Result<u32, String>, Vec<MailboxView>);

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

pub async fn test(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    let id = path.into_inner();
    let keys = st.keys.clone();
    let (name, result, rows) = run(&st, move |c, s| -> Result<TestResult, AppError> {
        let row = mailboxes::find_id(c, id)?;
        let r = client::test(Some(c), &row, &keys, s.imap_timeout()).map_err(|e| e.to_string());
        Ok((row.name, r, load(c)?))
    })
    .await?;
    let page = Page::new(&req, &st, Some(user.0));
    let test = match result {
        Ok(n) => (name, true, format!("{} ({n})", page.t("mailboxes.test_ok"))),
        Err(e) => (name, false, e),
    };
    render(
        MailboxesPage {
            page,
            rows,
            test: Some(test),
            error: None,
        },
        StatusCode::OK,
    )
}

pub async fn pause(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    do_set_enabled(&st, &user.0, path.into_inner(), false).await?;
    Ok(see_other("/admin/mailboxes?done=mailbox_paused"))
}

pub async fn resume(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    do_set_enabled(&st, &user.0, path.into_inner(), true).await?;
    Ok(see_other("/admin/mailboxes?done=mailbox_resumed"))
}

pub async fn remove(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    do_remove(&st, &user.0, path.into_inner()).await?;
    Ok(see_other("/admin/mailboxes?done=mailbox_removed"))
}

// ---- JSON twins ----

fn mailbox_json(m: &MailboxView) -> serde_json::Value {
    serde_json::json!({
        "id": m.id, "name": m.name, "url": m.url, "move_to": m.move_to,
        "poll_seconds": m.poll_seconds, "enabled": m.enabled, "last_ok_at": m.last_ok_at,
        "last_error": m.last_error, "next_attempt_at": m.next_attempt_at, "failures": m.failures,
        "auth": m.auth,
    })
}

/// `GET /api/mailboxes`: each mailbox and its health (never a password).
pub async fn list_json(st: State, user: ApiUser) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let rows = run(&st, |c, _| load(c)).await?;
    let rows: Vec<_> = rows.iter().map(mailbox_json).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "mailboxes": rows })))
}

/// `POST /api/mailboxes` (the add form's fields; `no_test` to skip the test).
pub async fn add_json(
    st: State,
    user: ApiUser,
    j: web::Json<MailboxFields>,
) -> Result<HttpResponse, AppError> {
    let by = user.require(ADMIN)?.clone();
    let id = do_add(&st, &by, j.into_inner()).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "ok": true, "id": id })))
}

/// `POST /api/mailboxes/{id}` (every field; a blank password keeps the stored one).
pub async fn edit_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
    j: web::Json<MailboxFields>,
) -> Result<HttpResponse, AppError> {
    let by = user.require(ADMIN)?.clone();
    do_edit(&st, &by, path.into_inner(), j.into_inner()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true })))
}

/// `POST /api/mailboxes/{id}/test`: `{"ok":true,"messages":N}` or `{"ok":false,"error":…}`.
pub async fn test_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let id = path.into_inner();
    let keys = st.keys.clone();
    let r = run(&st, move |c, s| -> Result<Result<u32, String>, AppError> {
        let row = mailboxes::find_id(c, id)?;
        Ok(client::test(Some(c), &row, &keys, s.imap_timeout()).map_err(|e| e.to_string()))
    })
    .await?;
    Ok(HttpResponse::Ok().json(match r {
        Ok(n) => serde_json::json!({ "ok": true, "messages": n }),
        Err(e) => serde_json::json!({ "ok": false, "error": e }),
    }))
}

pub async fn pause_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let by = user.require(ADMIN)?.clone();
    do_set_enabled(&st, &by, path.into_inner(), false).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true, "enabled": false })))
}

pub async fn resume_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let by = user.require(ADMIN)?.clone();
    do_set_enabled(&st, &by, path.into_inner(), true).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true, "enabled": true })))
}

pub async fn remove_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let by = user.require(ADMIN)?.clone();
    do_remove(&st, &by, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true })))
}
