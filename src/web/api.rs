//! The JSON API under /api (Authorization: Bearer TOKEN).

use super::state;
use crate::auth::extract::{HasRole, STAFF};
use crate::auth::{ApiUser, Role};
use crate::cases::detail::rfc3339;
use crate::cases::{self, ListFilter};
use crate::error::AppError;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

pub async fn me(user: ApiUser) -> HttpResponse {
    let u = user.0;
    HttpResponse::Ok().json(serde_json::json!({
        "email": u.email, "name": u.name, "role": u.role, "aliases": u.alias_list(),
    }))
}

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

#[derive(Serialize)]
struct CaseSummary {
    number: String,
    subject: String,
    status: String,
    priority: String,
    customer: Option<String>,
    oem: Option<String>,
    tracking_token: String,
    created_at: String,
    updated_at: String,
}

pub async fn list_cases(
    req: HttpRequest,
    user: ApiUser,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let st = state(&req)?;
    let q = q.into_inner();
    if let Some(s) = q.status.as_deref().filter(|s| !s.is_empty()) {
        if s != "active" && cases::Status::parse(s).is_none() {
            return Err(AppError::BadRequest(format!("unknown status {s:?}")));
        }
    }
    let filter = ListFilter {
        q: q.q,
        status: q.status,
        page: q.page.unwrap_or(1),
        per_page: q.per_page.unwrap_or(50),
    };
    let pool = st.pool.clone();
    let (rows, total) =
        web::block(move || -> Result<_, AppError> { Ok(cases::list(&mut *pool.get()?, &filter)?) })
            .await??;
    let cases: Vec<CaseSummary> = rows
        .into_iter()
        .map(|c| CaseSummary {
            created_at: rfc3339(&c.created_at),
            updated_at: rfc3339(&c.updated_at),
            number: c.number,
            subject: c.subject,
            status: c.status,
            priority: c.priority,
            customer: c.customer,
            oem: c.oem,
            tracking_token: c.tracking_token,
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "cases": cases, "total": total })))
}

pub async fn case(
    req: HttpRequest,
    user: ApiUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let st = state(&req)?;
    let detail = super::cases::load_case(&st, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(detail))
}

pub async fn error_code(user: ApiUser, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let d = crate::codes::lookup(&path)
        .ok_or_else(|| AppError::BadRequest(format!("not an error code: {:?}", path.as_str())))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "code": d.code, "kind": d.kind, "name": d.name, "aliases": d.aliases, "description": d.description,
        "plain": d.plain, "facility": d.facility, "facility_number": d.facility_number, "severity": d.severity,
        "customer": d.customer, "code_field": d.code_field, "known": d.known, "related": d.related,
    })))
}

/// One raw message in the body, as an MTA pipe or `casebook mailgate` posts it.
pub async fn inbound(
    req: HttpRequest,
    user: ApiUser,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    user.require(&[Role::Admin])?;
    let st = state(&req)?;
    if body.len() > st.settings.max_message_bytes {
        return Err(AppError::TooLarge);
    }
    let pool = st.pool.clone();
    let store = st.store.clone();
    let rules = st.rules.clone();
    let outcomes = web::block(move || -> Result<_, AppError> {
        let mut c = pool.get()?;
        Ok(crate::mail::ingest_input(
            &mut c,
            store.as_ref(),
            &rules,
            &body,
            "inbound",
        )?)
    })
    .await??;
    let first = outcomes
        .first()
        .ok_or_else(|| AppError::internal("no outcome"))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "case_number": first.case_number,
        "message_id": first.message_id,
        "outcome": first.outcome.as_str(),
        "reason": first.reason,
        "messages": outcomes.len(),
    })))
}
