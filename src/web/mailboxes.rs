//! Administration of the IMAP mailboxes Casebook polls: health, add, test, remove.
//! Passwords are write-only: never rendered back.

use super::auth::html;
use super::{check_csrf, see_other, state, Page};
use crate::auth::extract::HasRole;
use crate::auth::{CurrentUser, Role};
use crate::error::AppError;
use crate::mailboxes::{self, client, MailboxRow, NewMailbox, TlsMode};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

const ADMIN: &[Role] = &[Role::Admin];

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

fn load(st: &crate::startup::AppState) -> Result<Vec<MailboxView>, AppError> {
    let mut c = st.pool.get()?;
    Ok(mailboxes::list(&mut c)?
        .into_iter()
        .map(MailboxView::from)
        .collect())
}

fn render(page: MailboxesPage, status: StatusCode) -> Result<HttpResponse, AppError> {
    let mut resp = html(&page)?;
    *resp.status_mut() = status;
    Ok(resp)
}

pub async fn list(req: HttpRequest, user: CurrentUser) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let st = state(&req)?;
    let s2 = st.clone();
    let rows = web::block(move || load(&s2)).await??;
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

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: String,
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
    #[serde(default)]
    poll_seconds: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn add(
    req: HttpRequest,
    user: CurrentUser,
    form: web::Form<AddForm>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let st = state(&req)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    let f = form.into_inner();
    let tls = TlsMode::parse(&f.tls).unwrap_or(TlsMode::Imaps);
    let port = match f.port.trim() {
        "" => Some(if tls == TlsMode::Imaps { 993 } else { 143 }),
        p => p.parse::<u16>().ok(),
    };
    let poll = match f.poll_seconds.trim() {
        "" => Some(mailboxes::DEFAULT_POLL_SECONDS),
        p => p.parse::<i64>().ok(),
    };
    let actor = user.0.email.clone();
    let s2 = st.clone();
    let result = web::block(move || -> Result<Result<(), String>, AppError> {
        let (Some(port), Some(poll_seconds)) = (port, poll) else {
            return Ok(Err("port and poll interval must be numbers".into()));
        };
        let m = NewMailbox {
            name: f.name.trim().to_string(),
            host: f.host.trim().to_string(),
            port,
            tls,
            username: f.username.trim().to_string(),
            password: Some(f.password),
            password_file: None,
            folder: match f.folder.trim() {
                "" => "INBOX".to_string(),
                x => x.to_string(),
            },
            move_to: Some(f.move_to),
            poll_seconds,
        };
        let mut c = s2.pool.get()?;
        match mailboxes::add(&mut c, &s2.keys, &m) {
            Ok(_) => {
                crate::cases::audit(&mut c, None, &actor, "mailbox.added", &m.name)?;
                Ok(Ok(()))
            }
            Err(mailboxes::MailboxError::Db(d)) => Err(d.into()),
            Err(e) => Ok(Err(e.to_string())),
        }
    })
    .await??;
    match result {
        Ok(()) => Ok(see_other("/admin/mailboxes?done=mailbox_added")),
        Err(msg) => {
            let s3 = st.clone();
            let rows = web::block(move || load(&s3)).await??;
            render(
                MailboxesPage {
                    page: Page::new(&req, &st, Some(user.0)),
                    rows,
                    test: None,
                    error: Some(msg),
                },
                StatusCode::BAD_REQUEST,
            )
        }
    }
}

/// Mailbox name, result of the test (messages in the folder, or the error), the list.
type TestResult = (String, Result<u32, String>, Vec<MailboxView>);

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

fn find_id(st: &crate::startup::AppState, id: i64) -> Result<MailboxRow, AppError> {
    use crate::db::schema::mailboxes as t;
    use diesel::prelude::*;
    let mut c = st.pool.get()?;
    Ok(t::table
        .find(id)
        .select(MailboxRow::as_select())
        .first(&mut c)?)
}

pub async fn test(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let st = state(&req)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    let id = path.into_inner();
    let s2 = st.clone();
    let (name, result, rows) = web::block(move || -> Result<TestResult, AppError> {
        let row = find_id(&s2, id)?;
        let timeout = s2.settings.imap_timeout();
        let r = client::test(&row, &s2.keys, timeout).map_err(|e| e.to_string());
        Ok((row.name, r, load(&s2)?))
    })
    .await??;
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

pub async fn remove(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let st = state(&req)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    let id = path.into_inner();
    let actor = user.0.email.clone();
    let s2 = st.clone();
    web::block(move || -> Result<(), AppError> {
        let row = find_id(&s2, id)?;
        let mut c = s2.pool.get()?;
        mailboxes::remove_id(&mut c, id)?;
        crate::cases::audit(&mut c, None, &actor, "mailbox.removed", &row.name)?;
        Ok(())
    })
    .await??;
    Ok(see_other("/admin/mailboxes?done=mailbox_removed"))
}
