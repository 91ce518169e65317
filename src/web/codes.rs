//! Error-code pages: the decoding and every case that carried the code.

use super::auth::html;
use super::{see_other, state, Page};
use crate::auth::extract::{HasRole, STAFF};
use crate::auth::CurrentUser;
use crate::codes::Decoded;
use crate::db::schema::{case_codes, cases, closures};
use crate::error::AppError;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct LookupQuery {
    #[serde(default)]
    code: String,
}

pub struct CodeCase {
    pub number: String,
    pub subject: String,
    pub status: String,
    pub resolution: Option<String>,
}

#[derive(Template)]
#[template(path = "codes/show.html")]
struct CodePage {
    page: Page,
    d: Decoded,
    cases: Vec<CodeCase>,
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
    user: CurrentUser,
    q: web::Query<LookupQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let st = state(&req)?;
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
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let st = state(&req)?;
    let d = crate::codes::lookup(&path).ok_or(AppError::NotFound)?;
    let code = d.code.clone();
    let pool = st.pool.clone();
    let list = web::block(move || -> Result<Vec<CodeCase>, AppError> {
        let mut c = pool.get()?;
        let rows: Vec<(i64, String, String, String)> = case_codes::table
            .inner_join(cases::table.on(cases::id.eq(case_codes::case_id)))
            .filter(case_codes::code.eq(&code))
            .order(cases::updated_at.desc())
            .limit(100)
            .select((cases::id, cases::number, cases::subject, cases::status))
            .load(&mut c)?;
        let mut out = Vec::new();
        for (id, number, subject, status) in rows {
            let resolution = closures::table
                .filter(closures::case_id.eq(id))
                .order(closures::id.desc())
                .select(closures::resolution)
                .first::<String>(&mut c)
                .optional()?;
            out.push(CodeCase {
                number,
                subject,
                status,
                resolution,
            });
        }
        Ok(out)
    })
    .await??;
    let page = Page::new(&req, &st, Some(user.0));
    html(&CodePage {
        page,
        d,
        cases: list,
    })
}
