//! Error-code pages: the decoding and every case that carried the code.

use super::auth::html;
use super::AppError;
use super::CurrentUser;
use super::{run, see_other, Page, State};
use super::{HasRole, STAFF};
use crate::auth::Role;
use crate::codes::CodeCase;
use crate::codes::Decoded;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct LookupQuery {
    #[serde(default)]
    code: String,
}

#[derive(Template)]
#[template(path = "codes/show.html")]
struct CodePage {
    page: Page,
    d: Decoded,
    cases: Vec<CodeCase>,
    note: Option<(String, String, String)>,
    can_edit: bool,
    /// The team's reply templates for this code.
    canned: Vec<crate::cases::canned::Canned>,
}

#[derive(Template)]
#[template(path = "codes/lookup.html")]
struct LookupPage {
    page: Page,
    query: String,
    invalid: bool,
}

pub async fn lookup(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    q: web::Query<LookupQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    if let Some(v) = crate::codes::parse_code(&q.code) {
        return Ok(see_other(&format!(
            "/errors/{}",
            crate::codes::format_code(v)
        )));
    }
    let page = Page::new(&req, &st, Some(user.0));
    html(&LookupPage {
        page,
        invalid: !q.code.trim().is_empty(),
        query: q.code.clone(),
    })
}

pub async fn show(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let d = crate::codes::lookup(&path).ok_or(AppError::NotFound)?;
    let code = d.code.clone();
    let (list, note, canned) = run(&st, move |c, _| -> Result<_, AppError> {
        let note = crate::activation::code_note(c, &code)?
            .map(|(n, by, at)| (n, by, crate::cases::detail::rfc3339(&at)));
        Ok((
            crate::codes::cases_with(c, &code)?,
            note,
            crate::cases::canned::for_code(c, &code)?,
        ))
    })
    .await?;
    let can_edit = matches!(user.0.role(), Role::Rnd | Role::Admin);
    let page = Page::new(&req, &st, Some(user.0));
    html(&CodePage {
        page,
        d,
        cases: list,
        note,
        can_edit,
        canned,
    })
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    note: String,
    #[serde(default)]
    csrf_token: String,
}

/// R&D writes what a code means in our products.
pub async fn save_note(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<NoteForm>,
) -> Result<HttpResponse, AppError> {
    user.require(super::roles::RND)?;
    super::check_csrf(&req, &st, &form.csrf_token)?;
    let code = do_save_note(&st, &user.0, &path, &form.note).await?;
    Ok(see_other(&format!("/errors/{code}?done=saved")))
}

async fn do_save_note(
    st: &State,
    u: &crate::auth::User,
    code: &str,
    note: &str,
) -> Result<String, AppError> {
    let code = crate::codes::parse_code(code)
        .map(crate::codes::format_code)
        .ok_or(AppError::NotFound)?;
    let note = note.trim().to_string();
    let by = u.name.clone();
    let c2 = code.clone();
    run(st, move |c, _| -> Result<(), AppError> {
        crate::activation::set_code_note(c, &c2, &note, &by)?;
        crate::cases::audit(c, None, &by, "code.note", &c2)?;
        Ok(())
    })
    .await?;
    Ok(code)
}

/// `POST /api/errors/{code}/note` `{"note":"…"}`: R&D's note on a code.
pub async fn save_note_json(
    st: State,
    user: super::ApiUser,
    path: web::Path<String>,
    j: web::Json<NoteForm>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(super::roles::RND)?.clone();
    let code = do_save_note(&st, &u, &path, &j.note).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true, "code": code })))
}

/// `GET /api/errors/{code}`: the decoding of one code.
pub async fn error_code_json(
    user: super::ApiUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let d = crate::codes::lookup(&path).ok_or_else(|| AppError::bad_request("codes.invalid"))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "code": d.code, "kind": d.kind, "name": d.name, "aliases": d.aliases, "description": d.description,
        "plain": d.plain, "facility": d.facility, "facility_number": d.facility_number, "severity": d.severity,
        "customer": d.customer, "code_field": d.code_field, "known": d.known, "related": d.related,
    })))
}
