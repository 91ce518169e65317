//! Activation records: the admin's CSV upload and the platform's JSON push.

use super::auth::html;
use super::AppError;
use super::HasRole;
use super::{check_csrf, run, Page, State};
use super::{ApiUser, CurrentUser};
use crate::activation::{self, ImportReport, RecordInput};
use actix_multipart::Multipart;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "admin/activation.html")]
struct UploadPage {
    page: Page,
    report: Option<ImportReport>,
    error: Option<String>,
    columns: Vec<(&'static str, String)>,
}

fn columns() -> Vec<(&'static str, String)> {
    activation::COLUMNS
        .iter()
        .map(|(f, names)| (*f, names.join(", ")))
        .collect()
}

pub async fn form(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    user.require(super::roles::ADMIN)?;
    html(&UploadPage {
        page: Page::new(&req, &st, Some(user.0)),
        report: None,
        error: None,
        columns: columns(),
    })
}

pub async fn upload(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    body: Multipart,
) -> Result<HttpResponse, AppError> {
    user.require(super::roles::ADMIN)?;
    let up = super::upload::read(body, st.settings.max_message_bytes).await?;
    let token = up.csrf_token;
    let file = up
        .files
        .into_iter()
        .find(|f| f.field == "file")
        .map(|f| (f.filename, f.data));
    check_csrf(&req, &st, &token)?;
    let page = Page::new(&req, &st, Some(user.0.clone()));
    let Some((name, data)) = file else {
        let error = Some(page.t("ingest.no_files").to_string());
        return html(&UploadPage {
            page,
            report: None,
            error,
            columns: columns(),
        });
    };
    let actor = user.0.email.clone();
    let result = run(
        &st,
        move |c, _| -> Result<Result<ImportReport, String>, AppError> {
            let r = activation::import_csv(c, &data, &format!("upload:{name}"), |_, _| {});
            if let Ok(rep) = &r {
                crate::cases::audit(
                    c,
                    None,
                    &actor,
                    "activation.imported",
                    &format!(
                        "{} imported, {} duplicates, {} refused",
                        rep.imported,
                        rep.duplicates,
                        rep.errors.len()
                    ),
                )?;
            }
            Ok(r)
        },
    )
    .await?;
    match result {
        Ok(report) => html(&UploadPage {
            page,
            report: Some(report),
            error: None,
            columns: columns(),
        }),
        Err(e) => html(&UploadPage {
            page,
            report: None,
            error: Some(e),
            columns: columns(),
        }),
    }
}

/// `POST /api/activation-records`: one record or an array.
pub async fn push(
    st: State,
    user: ApiUser,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, AppError> {
    user.require(super::roles::ADMIN)?;
    let items: Vec<serde_json::Value> = match body.into_inner() {
        serde_json::Value::Array(a) => a,
        obj @ serde_json::Value::Object(_) => vec![obj],
        _ => return Err(AppError::bad_request("activation.expected_records")),
    };
    let mut good = Vec::new();
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match serde_json::from_value::<RecordInput>(item)
            .map_err(|e| e.to_string())
            .and_then(|r| activation::validate(&r))
        {
            Ok(r) => good.push(r),
            Err(e) => errors.push(serde_json::json!({"index": i, "error": e})),
        }
    }
    let (imported, duplicates) = run(&st, move |c, _| -> Result<(usize, usize), AppError> {
        Ok(crate::db::write_tx(c, |c| {
            activation::insert_all(c, &good, "api")
        })?)
    })
    .await?;
    let status = if errors.is_empty() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(HttpResponse::build(status).json(
        serde_json::json!({"imported": imported, "duplicates": duplicates, "errors": errors}),
    ))
}
