//! Uploading .eml, .mbox and thread-export files in the browser.

use super::auth::html;
use super::{check_csrf, state, Page};
use crate::auth::extract::HasRole;
use crate::auth::{CurrentUser, Role};
use crate::error::AppError;
use crate::mail::Outcome;
use actix_multipart::Multipart;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "ingest/upload.html")]
struct UploadPage {
    page: Page,
    results: Vec<Outcome>,
    error: Option<String>,
}

const ROLES: &[Role] = &[Role::Support, Role::Admin];

pub async fn form(req: HttpRequest, user: CurrentUser) -> Result<HttpResponse, AppError> {
    user.require(ROLES)?;
    let st = state(&req)?;
    html(&UploadPage {
        page: Page::new(&req, &st, Some(user.0)),
        results: Vec::new(),
        error: None,
    })
}

pub async fn upload(
    req: HttpRequest,
    user: CurrentUser,
    body: Multipart,
) -> Result<HttpResponse, AppError> {
    user.require(ROLES)?;
    let st = state(&req)?;
    let up = super::upload::read(body, st.settings.max_message_bytes).await?;
    let token = up.csrf_token;
    let files: Vec<(String, Vec<u8>)> = up
        .files
        .into_iter()
        .filter(|f| f.field == "files")
        .map(|f| (f.filename, f.data))
        .collect();
    check_csrf(&req, &st, &token)?;
    let page = Page::new(&req, &st, Some(user.0.clone()));
    if files.is_empty() {
        let error = Some(page.t("ingest.no_files").to_string());
        return html(&UploadPage {
            page,
            results: Vec::new(),
            error,
        });
    }
    let pool = st.pool.clone();
    let store = st.store.clone();
    let rules = st.rules.clone();
    let actor = user.0.email.clone();
    let results = web::block(move || -> Result<Vec<Outcome>, AppError> {
        let mut c = pool.get()?;
        let mut out = Vec::new();
        for (name, data) in files {
            out.extend(crate::mail::ingest_input(
                &mut c,
                store.as_ref(),
                &rules,
                &data,
                &format!("upload:{name}"),
            )?);
        }
        crate::cases::audit(
            &mut c,
            None,
            &actor,
            "mail.uploaded",
            &format!("{} messages", out.len()),
        )?;
        Ok(out)
    })
    .await??;
    html(&UploadPage {
        page,
        results,
        error: None,
    })
}
