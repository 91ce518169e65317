//! The case page's forms: reply, scope, escalation, answers, closure, status, notes,
//! assignment. Plain POST forms with CSRF tokens, then a redirect (POST/redirect/GET).

use super::{check_csrf, see_other, state};
use crate::auth::extract::{HasRole, STAFF};
use crate::auth::{CurrentUser, Role, User};
use crate::cases::workflow::{self, ClosureInput, EscalationInput, ScopeInput};
use crate::error::AppError;
use crate::startup::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use std::collections::HashMap;

pub const SUPPORT: &[Role] = &[Role::Support, Role::Admin];
pub const RND: &[Role] = &[Role::Rnd, Role::Admin];
pub const ESCALATION_PARTIES: &[Role] = &[Role::Support, Role::Rnd, Role::Admin];

fn back(number: &str, done: &str, anchor: &str) -> HttpResponse {
    see_other(&format!(
        "/cases/{}?done={done}#{anchor}",
        super::cases::url_escape(number)
    ))
}

use super::run;

fn field<'a>(form: &'a HashMap<String, String>, name: &str) -> &'a str {
    form.get(name).map(String::as_str).unwrap_or("")
}

fn checked(form: &HashMap<String, String>, name: &str) -> bool {
    matches!(field(form, name), "on" | "true" | "1")
}

fn opt(form: &HashMap<String, String>, name: &str) -> Option<String> {
    Some(field(form, name).trim().to_string()).filter(|s| !s.is_empty())
}

type Form = web::Form<HashMap<String, String>>;

fn prepare(
    req: &HttpRequest,
    user: &CurrentUser,
    roles: &[Role],
    form: &Form,
) -> Result<(web::Data<AppState>, User), AppError> {
    let u = user.require(roles)?.clone();
    let st = state(req)?;
    check_csrf(req, &st, field(form, "csrf_token"))?;
    Ok((st, u))
}

pub async fn reply(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    let (st, u) = prepare(&req, &user, SUPPORT, &form)?;
    let number = path.into_inner();
    let (n, body, to) = (
        number.clone(),
        field(&form, "body").to_string(),
        opt(&form, "to"),
    );
    run(&st, move |c, s| {
        workflow::reply(c, s, &u, &n, &body, to.as_deref())
    })
    .await?;
    Ok(back(&number, "reply_queued", "outbox"))
}

pub async fn scope(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    let (st, u) = prepare(&req, &user, SUPPORT, &form)?;
    let number = path.into_inner();
    let n = number.clone();
    let f = form.into_inner();
    run(&st, move |c, s| {
        workflow::set_scope(
            c,
            s,
            &u,
            &n,
            &ScopeInput {
                problem_definition: field(&f, "problem_definition"),
                problem_scope: field(&f, "problem_scope"),
                log_instructions: opt(&f, "log_instructions").as_deref(),
                send: checked(&f, "send"),
                to: opt(&f, "to").as_deref(),
            },
        )
    })
    .await?;
    Ok(back(&number, "saved", "h-scope"))
}

pub async fn escalate(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    let (st, u) = prepare(&req, &user, SUPPORT, &form)?;
    let number = path.into_inner();
    let n = number.clone();
    let f = form.into_inner();
    let ids: Vec<i64> = f
        .keys()
        .filter_map(|k| k.strip_prefix("att_"))
        .filter_map(|v| v.parse().ok())
        .collect();
    run(&st, move |c, s| {
        workflow::open_escalation(
            c,
            s,
            &u,
            &n,
            &EscalationInput {
                question: field(&f, "question"),
                serial_number: opt(&f, "serial_number").as_deref(),
                help_needed: opt(&f, "help_needed").as_deref(),
                attachment_ids: &ids,
            },
        )
    })
    .await?;
    Ok(back(&number, "escalated", "h-esc"))
}

pub async fn answer(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    let (st, u) = prepare(&req, &user, RND, &form)?;
    let id = path.into_inner();
    let body = field(&form, "body").to_string();
    let needs_info = checked(&form, "needs_info");
    let number = run(&st, move |c, _| {
        workflow::answer_escalation(c, &u, id, &body, needs_info)
    })
    .await?;
    Ok(back(&number, "answered", "h-esc"))
}

pub async fn follow_up(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    let (st, u) = prepare(&req, &user, SUPPORT, &form)?;
    let id = path.into_inner();
    let body = field(&form, "body").to_string();
    let number = run(&st, move |c, s| workflow::follow_up(c, s, &u, id, &body)).await?;
    Ok(back(&number, "saved", "h-esc"))
}

pub async fn close_escalation(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    let (st, u) = prepare(&req, &user, ESCALATION_PARTIES, &form)?;
    let id = path.into_inner();
    let number = run(&st, move |c, _| workflow::close_escalation(c, &u, id)).await?;
    Ok(back(&number, "saved", "h-esc"))
}

pub async fn closure(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    let (st, u) = prepare(&req, &user, SUPPORT, &form)?;
    let number = path.into_inner();
    let n = number.clone();
    let f = form.into_inner();
    run(&st, move |c, s| {
        workflow::close_case(
            c,
            s,
            &u,
            &n,
            &ClosureInput {
                problem_definition: field(&f, "problem_definition"),
                resolution: field(&f, "resolution"),
                root_cause: opt(&f, "root_cause").as_deref(),
                customer_agreed: checked(&f, "customer_agreed"),
                send: checked(&f, "send"),
                to: opt(&f, "to").as_deref(),
            },
        )
    })
    .await?;
    Ok(back(&number, "closed", "h-closure"))
}

pub async fn status(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    let (st, u) = prepare(&req, &user, SUPPORT, &form)?;
    let number = path.into_inner();
    let (n, to) = (number.clone(), field(&form, "status").to_string());
    run(&st, move |c, _| workflow::set_status(c, &u, &n, &to)).await?;
    Ok(back(&number, "saved", "main"))
}

pub async fn assign(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    let (st, u) = prepare(&req, &user, SUPPORT, &form)?;
    let number = path.into_inner();
    let n = number.clone();
    let assignee = match field(&form, "assignee") {
        "" => None,
        v => Some(
            v.parse::<i64>()
                .map_err(|_| AppError::BadRequest("workflow.unknown_user".into()))?,
        ),
    };
    let priority = opt(&form, "priority");
    run(&st, move |c, _| {
        workflow::assign(c, &u, &n, assignee, priority.as_deref())
    })
    .await?;
    Ok(back(&number, "saved", "main"))
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    csrf_token: String,
}

/// Internal note; answers JSON to the page's script (no reload), else redirects.
pub async fn note(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<NoteForm>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(STAFF)?.clone();
    let st = state(&req)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    let number = path.into_inner();
    let (n, body) = (number.clone(), form.body.clone());
    let name = u.name.clone();
    run(&st, move |c, _| workflow::add_note(c, &u, &n, &body)).await?;
    let wants_json = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return Ok(HttpResponse::Ok().json(serde_json::json!({
            "ok": true, "from_name": name, "body_text": crate::mail::extract::mask_secrets(&form.body),
            "sent_at": crate::cases::detail::rfc3339(&crate::now()),
        })));
    }
    Ok(back(&number, "note_added", "thread-end"))
}

pub async fn retry_outbox(
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, AppError> {
    let (st, u) = prepare(&req, &user, SUPPORT, &form)?;
    let number = path.into_inner();
    let n = number.clone();
    run(&st, move |c, _| {
        let case = crate::cases::find_by_number(c, &n)?.ok_or(workflow::WorkflowError::NotFound)?;
        let k = crate::mail::outbox::requeue_failed(c, case.id, crate::now())?;
        crate::cases::audit(
            c,
            Some(case.id),
            &u.name,
            "outbox.retried",
            &format!("{k} mails"),
        )?;
        Ok(())
    })
    .await?;
    Ok(back(&number, "saved", "outbox"))
}
