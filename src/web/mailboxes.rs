//! Administration of the IMAP mailboxes Casebook polls: health, add, test, remove.
//! Passwords are write-only: never rendered back.

use super::auth::html;
use super::CurrentUser;
use super::HasRole;
use super::{check_csrf, see_other, Page, State};
use super::{run, AppError};
use crate::i18n::Msg;
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
    /// Save without testing the connection first.
    #[serde(default, deserialize_with = "super::forms::checkbox")]
    no_test: bool,
    #[serde(default)]
    csrf_token: String,
}

pub async fn add(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    form: web::Form<AddForm>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
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
    let keys = st.keys.clone();
    let no_test = f.no_test;
    let result = run(
        &st,
        move |c, settings| -> Result<Result<(), Msg>, AppError> {
            let (Some(port), Some(poll_seconds)) = (port, poll) else {
                return Ok(Err(Msg::new("mailboxes.error.numbers")));
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
                internal: false,
            };
            match mailboxes::add(c, &keys, &m) {
                Ok(_) => {
                    if !no_test {
                        // Tested before it is kept: connection, login, folder, move-to
                        // folder (created when missing).
                        let tested = mailboxes::find(c, &m.name).and_then(|row| {
                            mailboxes::client::test(&row, &keys, settings.imap_timeout())
                        });
                        if let Err(e) = tested {
                            mailboxes::remove(c, &m.name)?;
                            return match AppError::from(e) {
                                AppError::BadRequest(msg) => Ok(Err(msg)),
                                other => Err(other),
                            };
                        }
                    }
                    crate::cases::audit(c, None, &actor, "mailbox.added", &m.name)?;
                    Ok(Ok(()))
                }
                Err(e) => match AppError::from(e) {
                    AppError::BadRequest(msg) => Ok(Err(msg)),
                    other => Err(other),
                },
            }
        },
    )
    .await?;
    match result {
        Ok(()) => Ok(see_other("/admin/mailboxes?done=mailbox_added")),
        Err(msg) => {
            let rows = run(&st, |c, _| load(c)).await?;
            let page = Page::new(&req, &st, Some(user.0));
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
    }
}

/// Mailbox name, result of the test (messages in the folder, or the error), the list.
type TestResult = (String, Result<u32, String>, Vec<MailboxView>);

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

fn find_id(c: &mut crate::db::DbConn, id: i64) -> diesel::QueryResult<MailboxRow> {
    use crate::db::schema::mailboxes as t;
    use diesel::prelude::*;
    t::table.find(id).select(MailboxRow::as_select()).first(c)
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
        let row = find_id(c, id)?;
        let r = client::test(&row, &keys, s.imap_timeout()).map_err(|e| e.to_string());
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

pub async fn remove(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    let id = path.into_inner();
    let actor = user.0.email.clone();
    run(&st, move |c, _| -> Result<(), AppError> {
        let row = find_id(c, id)?;
        mailboxes::remove_id(c, id)?;
        crate::cases::audit(c, None, &actor, "mailbox.removed", &row.name)?;
        Ok(())
    })
    .await?;
    Ok(see_other("/admin/mailboxes?done=mailbox_removed"))
}
