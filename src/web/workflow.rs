//! The case page's actions — reply, scope, escalation, answers, closure, status,
//! notes, assignment, outbox retry — each as an HTML form handler (CSRF token, then
//! POST/redirect/GET) with its JSON twin under /api right beside it. Both take the
//! same typed input and call the same domain function.

use super::forms::{checkbox, PageForm};
use super::{check_csrf, run, see_other, ApiUser, AppError, CurrentUser, HasRole, State, STAFF};
use crate::auth::{Role, User};
use crate::cases::workflow::{self, ClosureInput, EscalationInput, ScopeInput};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::roles::{ADMIN, ESCALATION_PARTIES, RND, SUPPORT};

/// Back to the case page, with a notice and an anchor.
fn back(number: &str, done: &str, anchor: &str) -> HttpResponse {
    see_other(&format!(
        "/cases/{}?done={done}#{anchor}",
        super::cases::url_escape(number)
    ))
}

fn ok(extra: serde_json::Value) -> HttpResponse {
    let mut body = serde_json::json!({ "ok": true });
    if let (Some(b), serde_json::Value::Object(m)) = (body.as_object_mut(), extra) {
        b.extend(m);
    }
    HttpResponse::Ok().json(body)
}

/// The signed-in user, when their role may do this and the form is ours.
fn page_actor<T>(
    req: &HttpRequest,
    st: &State,
    user: &CurrentUser,
    roles: &[Role],
    form: &PageForm<T>,
) -> Result<User, AppError> {
    let u = user.require(roles)?.clone();
    check_csrf(req, st, &form.csrf_token)?;
    Ok(u)
}

fn opt(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

// ---- reply ----

#[derive(Deserialize)]
pub struct ReplyInput {
    #[serde(default, alias = "body_text")]
    body: String,
    #[serde(default)]
    to: Option<String>,
    /// Files of the case to attach. JSON: the ids; the page's form ticks `att_ID`.
    #[serde(default)]
    attachment_ids: Vec<i64>,
}

/// Most a reply may carry in files (what mail servers commonly accept, less encoding).
const REPLY_FILES_MAX: u64 = 20 * 1024 * 1024;

/// Most files one reply may name.
const REPLY_FILES_MAX_COUNT: usize = 100;

async fn do_reply(st: &State, u: User, number: String, i: ReplyInput) -> Result<(), AppError> {
    if i.attachment_ids.len() > REPLY_FILES_MAX_COUNT {
        return Err(AppError::BadRequest(
            crate::i18n::Msg::new("reply.files_too_many").with("max", REPLY_FILES_MAX_COUNT),
        ));
    }
    let store = st.store.clone();
    run(st, move |c, s| -> Result<(), AppError> {
        let files = crate::bundles::stored::files_for_mail(
            c,
            store.as_ref(),
            &number,
            &i.attachment_ids,
            REPLY_FILES_MAX,
        )?
        .map_err(|total| {
            AppError::BadRequest(
                crate::i18n::Msg::new("reply.files_too_large")
                    .with("size", total / (1024 * 1024))
                    .with("max", REPLY_FILES_MAX / (1024 * 1024)),
            )
        })?;
        workflow::reply(c, s, &u, &number, &i.body, opt(&i.to), files)?;
        // The reply is committed: a notice that outlives it for 45 s is no reason to
        // report a failure (and invite a second send).
        if let Err(e) = crate::cases::presence::clear(c, &number, u.id) {
            tracing::warn!(error = %e, "could not clear the replying notice");
        }
        Ok(())
    })
    .await
}

// ---- "a colleague is replying" ----

async fn do_replying(st: &State, u: &User, number: String) -> Result<(), AppError> {
    let uid = u.id;
    run(st, move |c, _| -> Result<(), AppError> {
        crate::cases::presence::touch(c, &number, uid, crate::now())?.ok_or(AppError::NotFound)?;
        Ok(())
    })
    .await
}

/// `POST /cases/{number}/replying`: the case page says, every few seconds while a
/// reply is being typed, that this user is replying (204).
pub async fn replying(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<PageForm<NoFields>>,
) -> Result<HttpResponse, AppError> {
    let u = page_actor(&req, &st, &user, SUPPORT, &form)?;
    do_replying(&st, &u, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/cases/{number}/replying`: the same for an integration (an editor plugin).
pub async fn replying_json(
    st: State,
    user: ApiUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(SUPPORT)?.clone();
    do_replying(&st, &u, path.into_inner()).await?;
    Ok(ok(serde_json::json!({})))
}

pub async fn reply(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<PageForm<ReplyInput>>,
) -> Result<HttpResponse, AppError> {
    let u = page_actor(&req, &st, &user, SUPPORT, &form)?;
    let number = path.into_inner();
    let form = form.into_inner();
    let ticked: Vec<i64> = form.ticked("att_").collect();
    let mut fields = form.fields;
    fields.attachment_ids.extend(ticked);
    do_reply(&st, u, number.clone(), fields).await?;
    Ok(back(&number, "reply_queued", "outbox"))
}

pub async fn reply_json(
    st: State,
    user: ApiUser,
    path: web::Path<String>,
    j: web::Json<ReplyInput>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(SUPPORT)?.clone();
    do_reply(&st, u, path.into_inner(), j.into_inner()).await?;
    Ok(ok(serde_json::json!({})))
}

// ---- scope ----

#[derive(Deserialize)]
pub struct ScopeFields {
    #[serde(default)]
    problem_definition: String,
    #[serde(default)]
    problem_scope: String,
    #[serde(default)]
    log_instructions: Option<String>,
    #[serde(default, deserialize_with = "checkbox")]
    send: bool,
    #[serde(default)]
    to: Option<String>,
}

async fn do_scope(st: &State, u: User, number: String, i: ScopeFields) -> Result<(), AppError> {
    run(st, move |c, s| {
        workflow::set_scope(
            c,
            s,
            &u,
            &number,
            &ScopeInput {
                problem_definition: &i.problem_definition,
                problem_scope: &i.problem_scope,
                log_instructions: opt(&i.log_instructions),
                send: i.send,
                to: opt(&i.to),
            },
        )
    })
    .await
}

pub async fn scope(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<PageForm<ScopeFields>>,
) -> Result<HttpResponse, AppError> {
    let u = page_actor(&req, &st, &user, SUPPORT, &form)?;
    let number = path.into_inner();
    do_scope(&st, u, number.clone(), form.into_inner().fields).await?;
    Ok(back(&number, "saved", "h-scope"))
}

pub async fn scope_json(
    st: State,
    user: ApiUser,
    path: web::Path<String>,
    j: web::Json<ScopeFields>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(SUPPORT)?.clone();
    do_scope(&st, u, path.into_inner(), j.into_inner()).await?;
    Ok(ok(serde_json::json!({})))
}

// ---- escalation ----

#[derive(Deserialize)]
pub struct EscalationFields {
    #[serde(default)]
    question: String,
    #[serde(default)]
    serial_number: Option<String>,
    #[serde(default)]
    help_needed: Option<String>,
    /// JSON: the ids; the page's form ticks `att_ID` boxes instead.
    #[serde(default)]
    attachment_ids: Vec<i64>,
}

async fn do_escalate(
    st: &State,
    u: User,
    number: String,
    i: EscalationFields,
) -> Result<i64, AppError> {
    run(st, move |c, s| {
        workflow::open_escalation(
            c,
            s,
            &u,
            &number,
            &EscalationInput {
                question: &i.question,
                serial_number: opt(&i.serial_number),
                help_needed: opt(&i.help_needed),
                attachment_ids: &i.attachment_ids,
            },
        )
    })
    .await
}

pub async fn escalate(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<PageForm<EscalationFields>>,
) -> Result<HttpResponse, AppError> {
    let u = page_actor(&req, &st, &user, SUPPORT, &form)?;
    let number = path.into_inner();
    let form = form.into_inner();
    let ticked: Vec<i64> = form.ticked("att_").collect();
    let mut fields = form.fields;
    fields.attachment_ids.extend(ticked);
    do_escalate(&st, u, number.clone(), fields).await?;
    Ok(back(&number, "escalated", "h-esc"))
}

pub async fn escalate_json(
    st: State,
    user: ApiUser,
    path: web::Path<String>,
    j: web::Json<EscalationFields>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(SUPPORT)?.clone();
    let id = do_escalate(&st, u, path.into_inner(), j.into_inner()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "id": id })))
}

// ---- R&D's answer, support's follow-up, closing an escalation ----

#[derive(Deserialize)]
pub struct AnswerInput {
    #[serde(default, alias = "body_text")]
    body: String,
    #[serde(default, deserialize_with = "checkbox")]
    needs_info: bool,
}

async fn do_answer(st: &State, u: User, id: i64, i: AnswerInput) -> Result<String, AppError> {
    run(st, move |c, _| {
        workflow::answer_escalation(c, &u, id, &i.body, i.needs_info)
    })
    .await
}

pub async fn answer(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<PageForm<AnswerInput>>,
) -> Result<HttpResponse, AppError> {
    let u = page_actor(&req, &st, &user, RND, &form)?;
    let number = do_answer(&st, u, path.into_inner(), form.into_inner().fields).await?;
    Ok(back(&number, "answered", "h-esc"))
}

pub async fn answer_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
    j: web::Json<AnswerInput>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(RND)?.clone();
    let number = do_answer(&st, u, path.into_inner(), j.into_inner()).await?;
    Ok(ok(serde_json::json!({ "case_number": number })))
}

#[derive(Deserialize)]
pub struct FollowUpInput {
    #[serde(default, alias = "body_text")]
    body: String,
}

async fn do_follow_up(st: &State, u: User, id: i64, i: FollowUpInput) -> Result<String, AppError> {
    run(st, move |c, s| workflow::follow_up(c, s, &u, id, &i.body)).await
}

pub async fn follow_up(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<PageForm<FollowUpInput>>,
) -> Result<HttpResponse, AppError> {
    let u = page_actor(&req, &st, &user, SUPPORT, &form)?;
    let number = do_follow_up(&st, u, path.into_inner(), form.into_inner().fields).await?;
    Ok(back(&number, "saved", "h-esc"))
}

pub async fn follow_up_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
    j: web::Json<FollowUpInput>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(SUPPORT)?.clone();
    let number = do_follow_up(&st, u, path.into_inner(), j.into_inner()).await?;
    Ok(ok(serde_json::json!({ "case_number": number })))
}

#[derive(Deserialize)]
pub struct NoFields {}

pub async fn close_escalation(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<PageForm<NoFields>>,
) -> Result<HttpResponse, AppError> {
    let u = page_actor(&req, &st, &user, ESCALATION_PARTIES, &form)?;
    let id = path.into_inner();
    let number = run(&st, move |c, _| workflow::close_escalation(c, &u, id)).await?;
    Ok(back(&number, "saved", "h-esc"))
}

/// `POST /api/escalations/{id}/close`.
pub async fn close_escalation_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(ESCALATION_PARTIES)?.clone();
    let id = path.into_inner();
    let number = run(&st, move |c, _| workflow::close_escalation(c, &u, id)).await?;
    Ok(ok(serde_json::json!({ "number": number })))
}

// ---- closure ----

#[derive(Deserialize)]
pub struct ClosureFields {
    #[serde(default)]
    problem_definition: String,
    #[serde(default)]
    resolution: String,
    #[serde(default)]
    root_cause: Option<String>,
    #[serde(default, deserialize_with = "checkbox")]
    customer_agreed: bool,
    #[serde(default, deserialize_with = "checkbox")]
    send: bool,
    #[serde(default)]
    to: Option<String>,
}

async fn do_close(st: &State, u: User, number: String, i: ClosureFields) -> Result<(), AppError> {
    run(st, move |c, s| {
        workflow::close_case(
            c,
            s,
            &u,
            &number,
            &ClosureInput {
                problem_definition: &i.problem_definition,
                resolution: &i.resolution,
                root_cause: opt(&i.root_cause),
                customer_agreed: i.customer_agreed,
                send: i.send,
                to: opt(&i.to),
            },
        )
    })
    .await
}

pub async fn closure(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<PageForm<ClosureFields>>,
) -> Result<HttpResponse, AppError> {
    let u = page_actor(&req, &st, &user, SUPPORT, &form)?;
    let number = path.into_inner();
    do_close(&st, u, number.clone(), form.into_inner().fields).await?;
    Ok(back(&number, "closed", "h-closure"))
}

pub async fn closure_json(
    st: State,
    user: ApiUser,
    path: web::Path<String>,
    j: web::Json<ClosureFields>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(SUPPORT)?.clone();
    do_close(&st, u, path.into_inner(), j.into_inner()).await?;
    Ok(ok(serde_json::json!({})))
}

// ---- status ----

#[derive(Deserialize)]
pub struct StatusInput {
    #[serde(default)]
    status: String,
}

async fn do_status(st: &State, u: User, number: String, i: StatusInput) -> Result<(), AppError> {
    run(st, move |c, _| {
        workflow::set_status(c, &u, &number, &i.status)
    })
    .await
}

pub async fn status(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<PageForm<StatusInput>>,
) -> Result<HttpResponse, AppError> {
    let u = page_actor(&req, &st, &user, SUPPORT, &form)?;
    let number = path.into_inner();
    do_status(&st, u, number.clone(), form.into_inner().fields).await?;
    Ok(back(&number, "saved", "main"))
}

pub async fn status_json(
    st: State,
    user: ApiUser,
    path: web::Path<String>,
    j: web::Json<StatusInput>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(SUPPORT)?.clone();
    do_status(&st, u, path.into_inner(), j.into_inner()).await?;
    Ok(ok(serde_json::json!({})))
}

// ---- assignment and priority ----

#[derive(Deserialize)]
pub struct AssignFields {
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    priority: Option<String>,
}

pub async fn assign(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<PageForm<AssignFields>>,
) -> Result<HttpResponse, AppError> {
    let u = page_actor(&req, &st, &user, SUPPORT, &form)?;
    let number = path.into_inner();
    let i = form.into_inner().fields;
    let assignee = match i.assignee.trim() {
        "" => None,
        v => Some(
            v.parse::<i64>()
                .map_err(|_| AppError::bad_request("workflow.unknown_user"))?,
        ),
    };
    let n = number.clone();
    run(&st, move |c, _| {
        workflow::assign(c, &u, &n, Some(assignee), opt(&i.priority))
    })
    .await?;
    Ok(back(&number, "saved", "main"))
}

/// `POST /api/cases/{n}/assign {"assignee": "EMAIL" | null, "priority": "low|normal|high|urgent"}`:
/// a missing field keeps what the case has; `"assignee": null` unassigns.
#[derive(Deserialize)]
pub struct AssignInput {
    #[serde(default, deserialize_with = "present")]
    assignee: Option<Option<String>>,
    #[serde(default)]
    priority: Option<String>,
}

/// A field that is there (`Some`, possibly `null`) versus one that is missing (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

pub async fn assign_json(
    st: State,
    user: ApiUser,
    path: web::Path<String>,
    j: web::Json<AssignInput>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(SUPPORT)?.clone();
    let number = path.into_inner();
    let i = j.into_inner();
    let n = number.clone();
    run(&st, move |c, _| -> Result<(), AppError> {
        let assignee = match &i.assignee {
            None => None,
            Some(None) => Some(None),
            Some(Some(email)) if email.trim().is_empty() => Some(None),
            Some(Some(email)) => {
                let user = crate::auth::users::find_by_email(c, email)?
                    .filter(|x| !x.disabled)
                    .ok_or_else(|| AppError::bad_request("workflow.unknown_user"))?;
                Some(Some(user.id))
            }
        };
        workflow::assign(c, &u, &n, assignee, i.priority.as_deref())?;
        Ok(())
    })
    .await?;
    Ok(ok(serde_json::json!({ "number": number })))
}

// ---- internal notes ----

#[derive(Deserialize)]
pub struct NoteInput {
    #[serde(default, alias = "body_text")]
    body: String,
}

/// Internal note from the page. The page's own script posts it with
/// `Accept: application/json` to add it without a reload; a plain form redirects.
pub async fn note(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<PageForm<NoteInput>>,
) -> Result<HttpResponse, AppError> {
    let u = page_actor(&req, &st, &user, STAFF, &form)?;
    let number = path.into_inner();
    let body = form.into_inner().fields.body;
    let (n, b, name) = (number.clone(), body.clone(), u.name.clone());
    run(&st, move |c, _| workflow::add_note(c, &u, &n, &b)).await?;
    let wants_json = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return Ok(ok(serde_json::json!({
            "from_name": name, "body_text": crate::mail::extract::mask_secrets(&body),
            "sent_at": crate::cases::detail::rfc3339(&crate::now()),
        })));
    }
    Ok(back(&number, "note_added", "thread-end"))
}

pub async fn note_json(
    st: State,
    user: ApiUser,
    path: web::Path<String>,
    j: web::Json<NoteInput>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(STAFF)?.clone();
    let (n, body) = (path.into_inner(), j.into_inner().body);
    let id = run(&st, move |c, _| workflow::add_note(c, &u, &n, &body)).await?;
    Ok(ok(serde_json::json!({ "id": id })))
}

// ---- proposals from unverified live mail ----

/// Applies what an unverified message proposed (closure, scope, escalation, answer),
/// as the signed-in user.
pub async fn apply_proposal(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
    form: web::Form<PageForm<NoFields>>,
) -> Result<HttpResponse, AppError> {
    let u = page_actor(&req, &st, &user, ESCALATION_PARTIES, &form)?;
    let (number, row) = path.into_inner();
    let (n, rules) = (number.clone(), st.rules.clone());
    run(&st, move |c, _| {
        crate::mail::ingest::proposal::apply_proposal(c, &rules.serial, &u, &n, row)
    })
    .await?;
    Ok(back(&number, "proposal_applied", "h-thread"))
}

/// `POST /api/cases/{number}/messages/{id}/apply`.
pub async fn apply_proposal_json(
    st: State,
    user: ApiUser,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(ESCALATION_PARTIES)?.clone();
    let (number, row) = path.into_inner();
    let (n, rules) = (number.clone(), st.rules.clone());
    run(&st, move |c, _| {
        crate::mail::ingest::proposal::apply_proposal(c, &rules.serial, &u, &n, row)
    })
    .await?;
    Ok(ok(serde_json::json!({ "number": number })))
}

// ---- outbox ----

pub async fn retry_outbox(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<PageForm<NoFields>>,
) -> Result<HttpResponse, AppError> {
    let u = page_actor(&req, &st, &user, SUPPORT, &form)?;
    let number = path.into_inner();
    let n = number.clone();
    run(&st, move |c, _| {
        crate::cases::outbox::retry_failed(c, &u, &n)
    })
    .await?;
    Ok(back(&number, "saved", "outbox"))
}

/// `POST /api/cases/{number}/outbox/retry`: failed mail of the case is sent again.
pub async fn retry_outbox_json(
    st: State,
    user: ApiUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(SUPPORT)?.clone();
    let number = path.into_inner();
    let n = number.clone();
    run(&st, move |c, _| {
        crate::cases::outbox::retry_failed(c, &u, &n)
    })
    .await?;
    Ok(ok(serde_json::json!({ "number": number })))
}

pub async fn outbox_json(
    st: State,
    user: ApiUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let n = path.into_inner();
    let list = run(&st, move |c, _| crate::cases::outbox::for_case(c, &n)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "outbox": list })))
}

// ---- merging ----

#[derive(Deserialize)]
pub struct MergeFields {
    #[serde(default)]
    into: String,
}

/// `POST /cases/{number}/merge`: this case into `into` ("possibly the same thread").
pub async fn merge(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<PageForm<MergeFields>>,
) -> Result<HttpResponse, AppError> {
    let u = page_actor(&req, &st, &user, SUPPORT, &form)?;
    let number = path.into_inner();
    let into = form.into_inner().fields.into;
    let survivor = run(&st, move |c, _| {
        crate::cases::merge::merge_by_number(c, &number, &into, &u.name)
    })
    .await?;
    Ok(back(&survivor, "merged", "h-thread"))
}

/// `POST /api/cases/{number}/merge {"into":"CAS-…"}`.
pub async fn merge_json(
    st: State,
    user: ApiUser,
    path: web::Path<String>,
    j: web::Json<MergeFields>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(SUPPORT)?.clone();
    let number = path.into_inner();
    let into = j.into_inner().into;
    let survivor = run(&st, move |c, _| {
        crate::cases::merge::merge_by_number(c, &number, &into, &u.name)
    })
    .await?;
    Ok(ok(serde_json::json!({ "merged_into": survivor })))
}

/// `POST /cases/{number}/merges/{id}/undo` (admins): the merged case is its own again.
pub async fn undo_merge(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
    form: web::Form<PageForm<NoFields>>,
) -> Result<HttpResponse, AppError> {
    let u = page_actor(&req, &st, &user, ADMIN, &form)?;
    let (number, id) = path.into_inner();
    run(&st, move |c, _| crate::cases::merge::undo(c, id, &u.name)).await?;
    Ok(back(&number, "merge_undone", "h-thread"))
}

/// `POST /api/merges/{id}/undo` (admins).
pub async fn undo_merge_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(ADMIN)?.clone();
    let id = path.into_inner();
    let number = run(&st, move |c, _| crate::cases::merge::undo(c, id, &u.name)).await?;
    Ok(ok(serde_json::json!({ "restored": number })))
}
