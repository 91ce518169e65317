//! Log bundles in the browser: upload to a case (several files), list a bundle's
//! entries with findings, view a text entry.

use super::auth::html;
use super::AppError;
use super::CurrentUser;
use super::HasRole;
use super::{check_csrf, run, see_other, Page, State};
use actix_multipart::Multipart;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::roles::{ESCALATION_PARTIES as UPLOADERS, STAFF as READERS};

pub async fn upload(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
    body: Multipart,
) -> Result<HttpResponse, AppError> {
    let u = user.require(UPLOADERS)?.clone();
    let up = super::upload::read(body, st.settings.max_message_bytes).await?;
    let token = up.csrf_token;
    let files: Vec<crate::bundles::UploadedFile> = up
        .files
        .into_iter()
        .filter(|f| f.field == "files")
        .map(|f| crate::bundles::UploadedFile {
            filename: f.filename,
            content_type: f.content_type,
            data: f.data,
        })
        .collect();
    check_csrf(&req, &st, &token)?;
    let number = path.into_inner();
    store_files(&st, u, &number, files).await?;
    Ok(see_other(&format!(
        "/cases/{}?done=uploaded#h-bundles",
        super::cases::url_escape(&number)
    )))
}

async fn store_files(
    st: &State,
    u: crate::auth::User,
    number: &str,
    files: Vec<crate::bundles::UploadedFile>,
) -> Result<(), AppError> {
    if files.is_empty() {
        return Err(AppError::bad_request("ingest.no_files"));
    }
    let store = st.store.clone();
    let rules = st.rules.clone();
    let n = number.to_string();
    run(st, move |c, _| {
        crate::bundles::upload(c, store.as_ref(), &rules.serial, &n, &u, &files)
    })
    .await?;
    Ok(())
}

/// `POST /api/cases/{number}/attachments`, multipart with one or more `files` parts.
pub async fn upload_json(
    st: State,
    user: super::ApiUser,
    path: web::Path<String>,
    body: Multipart,
) -> Result<HttpResponse, AppError> {
    let u = user.require(UPLOADERS)?.clone();
    let up = super::upload::read(body, st.settings.max_message_bytes).await?;
    let files: Vec<crate::bundles::UploadedFile> = up
        .files
        .into_iter()
        .filter(|f| f.field == "files")
        .map(|f| crate::bundles::UploadedFile {
            filename: f.filename,
            content_type: f.content_type,
            data: f.data,
        })
        .collect();
    let count = files.len();
    let number = path.into_inner();
    store_files(&st, u, &number, files).await?;
    Ok(HttpResponse::Created()
        .json(serde_json::json!({ "ok": true, "number": number, "files": count })))
}

#[derive(Template)]
#[template(path = "bundles/show.html")]
struct BundlePage {
    page: Page,
    number: String,
    id: i64,
    filename: String,
    status: String,
    note: String,
    entries: Vec<crate::bundles::stored::EntryRow>,
    findings: Vec<crate::bundles::stored::FindingRow>,
}

pub async fn show(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, AppError> {
    user.require(READERS)?;
    let (number, id) = path.into_inner();
    let n = number.clone();
    let (att, entries, findings) =
        run(&st, move |c, _| crate::bundles::stored::listing(c, &n, id)).await?;
    let page = Page::new(&req, &st, Some(user.0));
    html(&BundlePage {
        page,
        number,
        id,
        filename: att.filename,
        status: att.status.unwrap_or_default(),
        note: att.note.unwrap_or_default(),
        entries,
        findings,
    })
}

#[derive(Deserialize)]
pub struct ViewQuery {
    #[serde(default)]
    path: String,
    /// The page of the entry, from 1.
    #[serde(default)]
    page: Option<u64>,
}

#[derive(Template)]
#[template(path = "bundles/view.html")]
struct ViewPage {
    page: Page,
    number: String,
    id: i64,
    filename: String,
    path: String,
    text: String,
    /// This page (from 1), the first line's number, whether a next page exists.
    current: u64,
    first_line: usize,
    more: bool,
}

impl ViewPage {
    fn page_url(&self, k: u64) -> String {
        format!(
            "/cases/{}/attachments/{}/view?path={}&page={k}",
            super::cases::url_escape(&self.number),
            self.id,
            super::cases::url_escape(&self.path)
        )
    }

    fn prev_url(&self) -> String {
        self.page_url(self.current.saturating_sub(1).max(1))
    }

    fn next_url(&self) -> String {
        self.page_url(self.current + 1)
    }
}

/// Bytes of an entry per viewer page: the server holds one page (plus a line) per
/// request, whatever the entry's size.
pub const VIEW_PAGE_BYTES: u64 = 256 * 1024;

pub async fn view(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
    q: web::Query<ViewQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(READERS)?;
    let (number, id) = path.into_inner();
    let q = q.into_inner();
    let entry = q.path;
    let current = q.page.unwrap_or(1).max(1);
    let store = st.store.clone();
    let (n, e) = (number.clone(), entry.clone());
    let (filename, p) = run(&st, move |c, _| {
        crate::bundles::stored::read_page(
            c,
            store.as_ref(),
            &n,
            id,
            &e,
            current - 1,
            VIEW_PAGE_BYTES,
        )
    })
    .await?;
    if current > 1 && p.text.is_empty() {
        return Err(AppError::NotFound);
    }
    let text = crate::mail::extract::mask_secrets(&p.text);
    let page = Page::new(&req, &st, Some(user.0));
    html(&ViewPage {
        page,
        number,
        id,
        filename,
        path: entry,
        text,
        current,
        first_line: p.first_line,
        more: p.more,
    })
}
