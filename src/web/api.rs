//! The JSON API under /api (Authorization: Bearer TOKEN).

use super::state;
use super::workflow::{RND, SUPPORT};
use crate::auth::extract::{HasRole, STAFF};
use crate::auth::{ApiUser, Role};
use crate::cases;
use crate::cases::detail::rfc3339;
use crate::cases::workflow::{self, ClosureInput, EscalationInput, ScopeInput};
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
    q: web::Query<super::cases::QueueQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let st = state(&req)?;
    let mut q = q.into_inner();
    // The API lists every status unless asked.
    if q.status.is_none() {
        q.status = Some(String::new());
    }
    let per_page: Option<i64> =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .ok()
            .and_then(|m| m.get("per_page").and_then(|v| v.parse().ok()));
    let mut filter = super::cases::filter_from(&q, user.0.id, &st.settings)?;
    filter.per_page = per_page.unwrap_or(50);
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

async fn run<T: Send + 'static>(
    req: &HttpRequest,
    f: impl FnOnce(
            &mut crate::db::DbConn,
            &crate::config::Settings,
        ) -> Result<T, workflow::WorkflowError>
        + Send
        + 'static,
) -> Result<T, AppError> {
    super::run(&state(req)?, f).await
}

#[derive(Deserialize)]
pub struct BodyJson {
    #[serde(default)]
    body_text: String,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    needs_info: bool,
}

pub async fn reply(
    req: HttpRequest,
    user: ApiUser,
    path: web::Path<String>,
    j: web::Json<BodyJson>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(SUPPORT)?.clone();
    let n = path.into_inner();
    let j = j.into_inner();
    run(&req, move |c, s| {
        workflow::reply(c, s, &u, &n, &j.body_text, j.to.as_deref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"ok": true})))
}

#[derive(Deserialize)]
pub struct ScopeJson {
    #[serde(default)]
    problem_definition: String,
    #[serde(default)]
    problem_scope: String,
    log_instructions: Option<String>,
    #[serde(default)]
    send: bool,
    to: Option<String>,
}

pub async fn scope(
    req: HttpRequest,
    user: ApiUser,
    path: web::Path<String>,
    j: web::Json<ScopeJson>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(SUPPORT)?.clone();
    let n = path.into_inner();
    let j = j.into_inner();
    run(&req, move |c, s| {
        workflow::set_scope(
            c,
            s,
            &u,
            &n,
            &ScopeInput {
                problem_definition: &j.problem_definition,
                problem_scope: &j.problem_scope,
                log_instructions: j.log_instructions.as_deref(),
                send: j.send,
                to: j.to.as_deref(),
            },
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"ok": true})))
}

#[derive(Deserialize)]
pub struct EscalationJson {
    #[serde(default)]
    question: String,
    serial_number: Option<String>,
    help_needed: Option<String>,
    #[serde(default)]
    attachment_ids: Vec<i64>,
}

pub async fn escalate(
    req: HttpRequest,
    user: ApiUser,
    path: web::Path<String>,
    j: web::Json<EscalationJson>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(SUPPORT)?.clone();
    let n = path.into_inner();
    let j = j.into_inner();
    let id = run(&req, move |c, s| {
        workflow::open_escalation(
            c,
            s,
            &u,
            &n,
            &EscalationInput {
                question: &j.question,
                serial_number: j.serial_number.as_deref(),
                help_needed: j.help_needed.as_deref(),
                attachment_ids: &j.attachment_ids,
            },
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"id": id})))
}

pub async fn answer(
    req: HttpRequest,
    user: ApiUser,
    path: web::Path<i64>,
    j: web::Json<BodyJson>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(RND)?.clone();
    let id = path.into_inner();
    let j = j.into_inner();
    let number = run(&req, move |c, _| {
        workflow::answer_escalation(c, &u, id, &j.body_text, j.needs_info)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"ok": true, "case_number": number})))
}

pub async fn follow_up(
    req: HttpRequest,
    user: ApiUser,
    path: web::Path<i64>,
    j: web::Json<BodyJson>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(SUPPORT)?.clone();
    let id = path.into_inner();
    let j = j.into_inner();
    let number = run(&req, move |c, s| {
        workflow::follow_up(c, s, &u, id, &j.body_text)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"ok": true, "case_number": number})))
}

#[derive(Deserialize)]
pub struct ClosureJson {
    #[serde(default)]
    problem_definition: String,
    #[serde(default)]
    resolution: String,
    root_cause: Option<String>,
    #[serde(default)]
    customer_agreed: bool,
    #[serde(default)]
    send: bool,
    to: Option<String>,
}

pub async fn closure(
    req: HttpRequest,
    user: ApiUser,
    path: web::Path<String>,
    j: web::Json<ClosureJson>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(SUPPORT)?.clone();
    let n = path.into_inner();
    let j = j.into_inner();
    run(&req, move |c, s| {
        workflow::close_case(
            c,
            s,
            &u,
            &n,
            &ClosureInput {
                problem_definition: &j.problem_definition,
                resolution: &j.resolution,
                root_cause: j.root_cause.as_deref(),
                customer_agreed: j.customer_agreed,
                send: j.send,
                to: j.to.as_deref(),
            },
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"ok": true})))
}

#[derive(Deserialize)]
pub struct StatusJson {
    #[serde(default)]
    status: String,
}

pub async fn status(
    req: HttpRequest,
    user: ApiUser,
    path: web::Path<String>,
    j: web::Json<StatusJson>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(SUPPORT)?.clone();
    let n = path.into_inner();
    let to = j.into_inner().status;
    run(&req, move |c, _| workflow::set_status(c, &u, &n, &to)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"ok": true})))
}

pub async fn note(
    req: HttpRequest,
    user: ApiUser,
    path: web::Path<String>,
    j: web::Json<BodyJson>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(STAFF)?.clone();
    let n = path.into_inner();
    let j = j.into_inner();
    let id = run(&req, move |c, _| {
        workflow::add_note(c, &u, &n, &j.body_text)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"ok": true, "id": id})))
}

pub async fn outbox(
    req: HttpRequest,
    user: ApiUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let n = path.into_inner();
    let list = run(&req, move |c, _| {
        let case = crate::cases::find_by_number(c, &n)?.ok_or(workflow::WorkflowError::NotFound)?;
        Ok(crate::mail::outbox::for_case(c, case.id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"outbox": list})))
}

pub async fn escalation_queue(req: HttpRequest, user: ApiUser) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let st = state(&req)?;
    let hours = st.settings.escalation_overdue_hours;
    let list = run(&req, move |c, _| {
        Ok(super::escalations::load(c, &["open", "needs_info"], hours)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"escalations": list})))
}
