//! Uploading .eml, .mbox and thread-export files in the browser.

use super::auth::html;
use super::AppError;
use super::CurrentUser;
use super::HasRole;
use super::{check_csrf, run, Page, State};
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

use super::roles::SUPPORT as ROLES;

pub async fn form(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    user.require(ROLES)?;
    html(&UploadPage {
        page: Page::new(&req, &st, Some(user.0)),
        results: Vec::new(),
        error: None,
    })
}

pub async fn upload(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    body: Multipart,
) -> Result<HttpResponse, AppError> {
    user.require(ROLES)?;
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
    let store = st.store.clone();
    let rules = st.rules.clone();
    let actor = user.0.email.clone();
    let results = run(&st, move |c, _| -> Result<Vec<Outcome>, AppError> {
        let mut out = Vec::new();
        for (name, data) in files {
            out.extend(crate::mail::ingest_input(
                c,
                store.as_ref(),
                &rules,
                &data,
                &format!("upload:{name}"),
            )?);
        }
        crate::cases::audit(
            c,
            None,
            &actor,
            "mail.uploaded",
            &format!("{} messages", out.len()),
        )?;
        Ok(out)
    })
    .await?;
    html(&UploadPage {
        page,
        results,
        error: None,
    })
}

/// `POST /api/mail/inbound`: one raw message in the body, as an MTA pipe or
/// `casebook mailgate` posts it.
/// The caller is an admin's token or an inbound-scoped token (`InboundCaller`).
pub async fn inbound(
    st: State,
    caller: super::extract::InboundCaller,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    if body.len() > st.settings.max_message_bytes {
        return Err(AppError::TooLarge);
    }
    let source = if caller.internal {
        crate::mail::ingest::trust::INTERNAL_SOURCE
    } else {
        "inbound"
    };
    // Concurrent deliveries share one transaction (see `group`); answered after commit.
    let outcomes = match &st.inbound {
        Some(group) => group.deliver(body.to_vec(), source).await?,
        None => {
            let store = st.store.clone();
            let rules = st.rules.clone();
            super::run(&st, move |c, _| {
                crate::mail::ingest_input(c, store.as_ref(), &rules, &body, source)
            })
            .await?
        }
    };
    let first = outcomes
        .first()
        .ok_or_else(|| AppError::internal("ingest gave no outcome"))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "case_number": first.case_number,
        "message_id": first.message_id,
        "outcome": first.outcome.as_str(),
        "reason": first.reason,
        "messages": outcomes.len(),
    })))
}
