//! Log bundles in the browser: upload to a case (several files), list a bundle's
//! entries with findings, view a text entry.

use super::auth::html;
use super::AppError;
use super::CurrentUser;
use super::HasRole;
use super::{check_csrf, run, see_other, Page, State};
use crate::db::schema::{attachments, bundle_entries, bundle_findings};
use actix_multipart::Multipart;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel::prelude::*;
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
    if files.is_empty() {
        return Err(AppError::bad_request("ingest.no_files"));
    }
    let store = st.store.clone();
    let rules = st.rules.clone();
    let n = number.clone();
    run(&st, move |c, _| {
        crate::bundles::upload(c, store.as_ref(), &rules.serial, &n, &u, &files)
    })
    .await?;
    Ok(see_other(&format!(
        "/cases/{}?done=uploaded#h-bundles",
        super::cases::url_escape(&number)
    )))
}

pub struct EntryRow {
    pub path: String,
    pub size: i64,
    pub compressed: i64,
    pub is_text: bool,
}

pub struct FindingRow {
    pub entry: String,
    pub line: i64,
    pub kind: String,
    pub value: String,
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
    entries: Vec<EntryRow>,
    findings: Vec<FindingRow>,
}

type AttInfo = (String, String, Option<String>, Option<String>);

fn attachment_of(c: &mut crate::db::DbConn, number: &str, id: i64) -> Result<AttInfo, AppError> {
    let case = crate::cases::find_by_number(c, number)?.ok_or(AppError::NotFound)?;
    Ok(attachments::table
        .filter(attachments::id.eq(id))
        .filter(attachments::case_id.eq(case.id))
        .select((
            attachments::filename,
            attachments::sha256,
            attachments::bundle_status,
            attachments::bundle_note,
        ))
        .first(c)?)
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
    let (info, entries, findings) = run(&st, move |c, _| -> Result<_, AppError> {
        let info = attachment_of(c, &n, id)?;
        let entries: Vec<(String, i64, i64, bool)> = bundle_entries::table
            .filter(bundle_entries::attachment_id.eq(id))
            .order(bundle_entries::id.asc())
            .select((
                bundle_entries::path,
                bundle_entries::size,
                bundle_entries::compressed_size,
                bundle_entries::is_text,
            ))
            .load(c)?;
        let findings: Vec<(String, i64, String, String)> = bundle_findings::table
            .filter(bundle_findings::attachment_id.eq(id))
            .order(bundle_findings::id.asc())
            .select((
                bundle_findings::entry_path,
                bundle_findings::line,
                bundle_findings::kind,
                bundle_findings::value,
            ))
            .load(c)?;
        Ok((info, entries, findings))
    })
    .await?;
    let page = Page::new(&req, &st, Some(user.0));
    html(&BundlePage {
        page,
        number,
        id,
        filename: info.0,
        status: info.2.unwrap_or_default(),
        note: info.3.unwrap_or_default(),
        entries: entries
            .into_iter()
            .map(|(path, size, compressed, is_text)| EntryRow {
                path,
                size,
                compressed,
                is_text,
            })
            .collect(),
        findings: findings
            .into_iter()
            .map(|(entry, line, kind, value)| FindingRow {
                entry,
                line,
                kind,
                value,
            })
            .collect(),
    })
}

#[derive(Deserialize)]
pub struct ViewQuery {
    #[serde(default)]
    path: String,
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
    truncated: bool,
}

const VIEW_MAX: usize = 2 * 1024 * 1024;

pub async fn view(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
    q: web::Query<ViewQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(READERS)?;
    let (number, id) = path.into_inner();
    let entry = q.into_inner().path;
    let store = st.store.clone();
    let (n, e) = (number.clone(), entry.clone());
    let (filename, bytes) = run(&st, move |c, _| -> Result<(String, Vec<u8>), AppError> {
        let (filename, sha, status, _) = attachment_of(c, &n, id)?;
        let data =
            crate::storage::BlobStore::get(store.as_ref(), &sha).map_err(AppError::internal)?;
        if e.is_empty() || status.as_deref() == Some("text") {
            return Ok((filename, data));
        }
        if status.as_deref() != Some("ok") {
            return Err(AppError::bad_request("bundle.refused"));
        }
        let known: i64 = bundle_entries::table
            .filter(bundle_entries::attachment_id.eq(id))
            .filter(bundle_entries::path.eq(&e))
            .count()
            .get_result(c)?;
        if known == 0 {
            return Err(AppError::NotFound);
        }
        let bytes = crate::bundles::read_entry(&data, &e, &crate::bundles::Limits::default())
            .map_err(|r| {
                AppError::BadRequest(
                    crate::i18n::Msg::new("bundle.refused_because").with("reason", r),
                )
            })?;
        Ok((filename, bytes))
    })
    .await?;
    let truncated = bytes.len() > VIEW_MAX;
    let text = crate::mail::extract::mask_secrets(&crate::bundles::decode_text(
        &bytes[..bytes.len().min(VIEW_MAX)],
    ));
    let page = Page::new(&req, &st, Some(user.0));
    html(&ViewPage {
        page,
        number,
        id,
        filename,
        path: entry,
        text,
        truncated,
    })
}
