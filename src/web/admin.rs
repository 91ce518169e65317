//! Administration: users, the quarantine, raw message downloads (audited).

use super::auth::html;
use super::AppError;
use super::HasRole;
use super::{check_csrf, run, see_other, Page, State};
use super::{ApiUser, CurrentUser};
use crate::auth::users::{self, split_aliases, User};
use crate::auth::Role;
use crate::db::schema::{quarantine, raw_messages};
use crate::mail::Outcome;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Deserialize;

use super::roles::ADMIN;

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    page: Page,
    users: Vec<User>,
    roles: Vec<&'static str>,
}

pub async fn users(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let list = run(&st, move |c, _| -> Result<Vec<User>, AppError> {
        Ok(users::list(c)?)
    })
    .await?;
    let page = Page::new(&req, &st, Some(user.0));
    html(&UsersPage {
        page,
        users: list,
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
    })
}

#[derive(Deserialize)]
pub struct AddUser {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    aliases: Aliases,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn add_user(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    form: web::Form<AddUser>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    do_add_user(&st, &user.0, form.into_inner()).await?;
    Ok(see_other("/admin/users?done=user_added"))
}

async fn do_add_user(st: &State, by: &User, f: AddUser) -> Result<User, AppError> {
    let role = Role::parse(&f.role).ok_or_else(|| AppError::bad_request("admin.error.role"))?;
    let actor = by.email.clone();
    run(st, move |c, _| -> Result<User, AppError> {
        let aliases = f.aliases.list();
        let u = users::create(c, &f.email, &f.name, role, &aliases, &f.password)
            .map_err(AppError::from)?;
        crate::cases::audit(
            c,
            None,
            &actor,
            "user.created",
            &format!("{} ({})", u.email, u.role),
        )?;
        Ok(u)
    })
    .await
}

/// `POST /api/users` `{"email","name","role","aliases":[…],"password"}`.
pub async fn add_user_json(
    st: State,
    user: ApiUser,
    j: web::Json<AddUser>,
) -> Result<HttpResponse, AppError> {
    let by = user.require(ADMIN)?.clone();
    let u = do_add_user(&st, &by, j.into_inner()).await?;
    Ok(HttpResponse::Created().json(user_json(&u)))
}

fn user_json(u: &User) -> serde_json::Value {
    serde_json::json!({
        "id": u.id, "email": u.email, "name": u.name, "role": u.role,
        "aliases": u.alias_list(), "disabled": u.disabled,
        "created_at": crate::cases::detail::rfc3339(&u.created_at),
    })
}

/// `GET /api/users`.
pub async fn users_json(st: State, user: ApiUser) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let list = run(&st, |c, _| -> Result<Vec<User>, AppError> {
        Ok(users::list(c)?)
    })
    .await?;
    let list: Vec<_> = list.iter().map(user_json).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "users": list })))
}

/// Aliases as the form's text ("a@x, b@y") or the API's list.
#[derive(Deserialize, Default)]
#[serde(untagged)]
pub enum Aliases {
    #[default]
    None,
    Text(String),
    List(Vec<String>),
}

impl Aliases {
    fn list(&self) -> Vec<String> {
        match self {
            Aliases::None => Vec::new(),
            Aliases::Text(s) => split_aliases(s),
            Aliases::List(v) => split_aliases(&v.join(",")),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/user_edit.html")]
struct EditPage {
    page: Page,
    target: User,
    roles: Vec<&'static str>,
}

pub async fn edit_user(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let id = path.into_inner();
    let target = run(&st, move |c, _| -> Result<User, AppError> {
        users::find(c, id)?.ok_or(AppError::NotFound)
    })
    .await?;
    let page = Page::new(&req, &st, Some(user.0));
    html(&EditPage {
        page,
        target,
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
    })
}

#[derive(Deserialize)]
pub struct UpdateUser {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    aliases: Aliases,
    #[serde(default)]
    csrf_token: String,
}

pub async fn update_user(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<UpdateUser>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    let id = path.into_inner();
    do_update_user(&st, &user.0, id, form.into_inner()).await?;
    Ok(see_other(&format!("/admin/users/{id}?done=saved")))
}

async fn do_update_user(st: &State, by: &User, id: i64, f: UpdateUser) -> Result<User, AppError> {
    let role = Role::parse(&f.role).ok_or_else(|| AppError::bad_request("admin.error.role"))?;
    let actor = by.email.clone();
    run(st, move |c, _| -> Result<User, AppError> {
        users::update_profile(c, id, &f.name, role, &f.aliases.list()).map_err(AppError::from)?;
        crate::cases::audit(
            c,
            None,
            &actor,
            "user.updated",
            &format!("user {id}: role {}", role.as_str()),
        )?;
        users::find(c, id)?.ok_or(AppError::NotFound)
    })
    .await
}

/// `POST /api/users/{id}` `{"name","role","aliases":[…]}`.
pub async fn update_user_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
    j: web::Json<UpdateUser>,
) -> Result<HttpResponse, AppError> {
    let by = user.require(ADMIN)?.clone();
    let u = do_update_user(&st, &by, path.into_inner(), j.into_inner()).await?;
    Ok(HttpResponse::Ok().json(user_json(&u)))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn reset_password(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    let id = path.into_inner();
    do_reset_password(&st, &user.0, id, form.into_inner()).await?;
    Ok(see_other(&format!("/admin/users/{id}?done=password_reset")))
}

/// `POST /api/users/{id}/password` `{"password"}`.
pub async fn reset_password_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
    j: web::Json<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let by = user.require(ADMIN)?.clone();
    do_reset_password(&st, &by, path.into_inner(), j.into_inner()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true })))
}

async fn do_reset_password(
    st: &State,
    by: &User,
    id: i64,
    f: PasswordForm,
) -> Result<(), AppError> {
    let actor = by.email.clone();
    run(st, move |c, _| -> Result<(), AppError> {
        users::set_password(c, id, &f.password).map_err(AppError::from)?;
        crate::cases::audit(
            c,
            None,
            &actor,
            "user.password_reset",
            &format!("user {id}"),
        )?;
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
pub struct DisableForm {
    #[serde(default)]
    disabled: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn set_disabled(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<DisableForm>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    let id = path.into_inner();
    do_set_disabled(&st, &user.0, id, form.disabled == "true").await?;
    Ok(see_other(&format!("/admin/users/{id}?done=saved")))
}

#[derive(Deserialize)]
pub struct DisableJson {
    /// Optional here so that the role is checked before the body is judged.
    #[serde(default)]
    disabled: Option<bool>,
}

/// `POST /api/users/{id}/disabled` `{"disabled":true|false}`.
pub async fn set_disabled_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
    j: web::Json<DisableJson>,
) -> Result<HttpResponse, AppError> {
    let by = user.require(ADMIN)?.clone();
    let disabled = j
        .disabled
        .ok_or_else(|| AppError::bad_request("admin.error.disabled"))?;
    do_set_disabled(&st, &by, path.into_inner(), disabled).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true })))
}

async fn do_set_disabled(st: &State, by: &User, id: i64, disabled: bool) -> Result<(), AppError> {
    if id == by.id {
        return Err(AppError::bad_request("admin.error.self_disable"));
    }
    let actor = by.email.clone();
    run(st, move |c, _| -> Result<(), AppError> {
        users::set_disabled(c, id, disabled).map_err(AppError::from)?;
        crate::cases::audit(
            c,
            None,
            &actor,
            if disabled {
                "user.disabled"
            } else {
                "user.enabled"
            },
            &format!("user {id}"),
        )?;
        Ok(())
    })
    .await
}

pub struct QuarantineRow {
    pub id: i64,
    pub raw_id: i64,
    pub source: String,
    pub reason: String,
    pub created_at: String,
    pub size: i64,
}

#[derive(Template)]
#[template(path = "admin/quarantine.html")]
struct QuarantinePage {
    page: Page,
    rows: Vec<QuarantineRow>,
    results: Vec<Outcome>,
}

fn quarantine_rows(c: &mut crate::db::DbConn) -> Result<Vec<QuarantineRow>, AppError> {
    let rows: Vec<(i64, i64, String, String, NaiveDateTime, i64)> = quarantine::table
        .inner_join(raw_messages::table)
        .filter(quarantine::resolved_at.is_null())
        .order(quarantine::id.desc())
        .limit(500)
        .select((
            quarantine::id,
            quarantine::raw_id,
            quarantine::source,
            quarantine::reason,
            quarantine::created_at,
            raw_messages::size,
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(id, raw_id, source, reason, t, size)| QuarantineRow {
            id,
            raw_id,
            source,
            reason,
            created_at: t.format("%Y-%m-%d %H:%M").to_string(),
            size,
        })
        .collect())
}

pub async fn quarantine(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let rows = run(&st, |c, _| quarantine_rows(c)).await?;
    html(&QuarantinePage {
        page: Page::new(&req, &st, Some(user.0)),
        rows,
        results: Vec::new(),
    })
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

/// Runs a quarantined message through the pipeline again (after a rule or parser change).
pub async fn retry_quarantine(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    let (rows, results) = do_retry(&st, &user.0, path.into_inner()).await?;
    html(&QuarantinePage {
        page: Page::new(&req, &st, Some(user.0)),
        rows,
        results,
    })
}

type Retried = (Vec<QuarantineRow>, Vec<Outcome>);

async fn do_retry(st: &State, by: &User, id: i64) -> Result<Retried, AppError> {
    let store = st.store.clone();
    let rules = st.rules.clone();
    let actor = by.email.clone();
    run(st, move |c, _| -> Result<Retried, AppError> {
        let (raw_id, source): (i64, String) = quarantine::table
            .filter(quarantine::id.eq(id))
            .select((quarantine::raw_id, quarantine::source))
            .first(c)
            .optional()?
            .ok_or(AppError::NotFound)?;
        let raw = crate::mail::ingest::load_raw(c, store.as_ref(), raw_id)?;
        // Resolve first, so that a message still not understood gets a fresh row with today's reason.
        diesel::update(quarantine::table.find(id))
            .set((
                quarantine::resolved_at.eq(crate::now()),
                quarantine::resolution.eq(format!("retried by {actor}")),
            ))
            .execute(c)?;
        let out = crate::mail::ingest_input(c, store.as_ref(), &rules, &raw, &source)?;
        crate::cases::audit(
            c,
            None,
            &actor,
            "quarantine.retried",
            &format!("quarantine {id}"),
        )?;
        Ok((quarantine_rows(c)?, out))
    })
    .await
}

fn quarantine_json(r: &QuarantineRow) -> serde_json::Value {
    serde_json::json!({
        "id": r.id, "raw_id": r.raw_id, "source": r.source, "reason": r.reason,
        "created_at": r.created_at, "size": r.size,
    })
}

/// `GET /api/quarantine`: what could not be filed, newest first.
pub async fn quarantine_json_list(st: State, user: ApiUser) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let rows = run(&st, |c, _| quarantine_rows(c)).await?;
    let rows: Vec<_> = rows.iter().map(quarantine_json).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "quarantine": rows })))
}

/// `POST /api/quarantine/{id}/retry`: the outcomes of running it through again.
pub async fn retry_quarantine_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let by = user.require(ADMIN)?.clone();
    let (rows, results) = do_retry(&st, &by, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "results": results,
        "quarantine": rows.iter().map(quarantine_json).collect::<Vec<_>>(),
    })))
}

pub async fn raw_download(
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let id = path.into_inner();
    let store = st.store.clone();
    let actor = user.0.email.clone();
    let bytes = run(&st, move |c, _| -> Result<Vec<u8>, AppError> {
        let raw = crate::mail::ingest::load_raw(c, store.as_ref(), id)?;
        crate::cases::audit(
            c,
            None,
            &actor,
            "raw.downloaded",
            &format!("raw message {id}"),
        )?;
        Ok(raw)
    })
    .await?;
    Ok(super::cases::download(bytes, &format!("message-{id}.eml")))
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    case_number: String,
    #[serde(default)]
    csrf_token: String,
}

/// Files a quarantined message into a case by hand: the raw bytes become an attachment
/// of an internal entry on that case, and the quarantine row is resolved.
pub async fn assign_quarantine(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<AssignForm>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    let number = do_assign(&st, &user.0, path.into_inner(), &form.case_number).await?;
    Ok(see_other(&format!(
        "/cases/{}?done=saved",
        super::cases::url_escape(&number)
    )))
}

async fn do_assign(st: &State, by: &User, id: i64, number: &str) -> Result<String, AppError> {
    let number = number.trim().to_ascii_uppercase();
    let store = st.store.clone();
    let actor = by.clone();
    let n = number.clone();
    run(st, move |c, _| {
        crate::mail::quarantine::assign(c, store.as_ref(), id, &n, &actor)
    })
    .await?;
    Ok(number)
}

/// `POST /api/quarantine/{id}/assign` `{"case_number":"CAS-…"}`.
pub async fn assign_quarantine_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
    j: web::Json<AssignForm>,
) -> Result<HttpResponse, AppError> {
    let by = user.require(ADMIN)?.clone();
    let number = do_assign(&st, &by, path.into_inner(), &j.case_number).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true, "number": number })))
}

pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub owner: String,
    pub email: String,
    pub scope: &'static str,
    pub created_at: String,
    pub last_used_at: String,
    pub expires_at: String,
    pub expired: bool,
}

#[derive(Template)]
#[template(path = "admin/tokens.html")]
struct TokensPage {
    page: Page,
    rows: Vec<TokenRow>,
    /// A token just created, shown this once.
    created: Option<String>,
}

/// `GET /admin/tokens`: every API token (never the token itself), with a revoke button.
pub async fn tokens(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let rows = run(&st, |c, _| token_rows(c)).await?;
    html(&TokensPage {
        page: Page::new(&req, &st, Some(user.0)),
        rows,
        created: None,
    })
}

#[derive(Deserialize)]
pub struct RevokeTokenForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    csrf_token: String,
}

/// `POST /admin/tokens/revoke` with the token's `id` in the form.
pub async fn revoke_token(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    form: web::Form<RevokeTokenForm>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    let id: i64 = form
        .id
        .trim()
        .parse()
        .map_err(|_| AppError::bad_request("admin.tokens.error.id"))?;
    do_revoke(&st, &user.0, id).await?;
    Ok(see_other("/admin/tokens?done=token_revoked"))
}

fn token_rows(c: &mut crate::db::DbConn) -> Result<Vec<TokenRow>, AppError> {
    let now = crate::now();
    let when = |t: Option<NaiveDateTime>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    Ok(crate::auth::tokens::list(c, None)?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            user_id: t.user_id,
            expired: t.is_expired(now),
            owner: t.name,
            email: t.email,
            scope: t.scope.as_str(),
            created_at: t.created_at.format("%Y-%m-%d %H:%M").to_string(),
            last_used_at: when(t.last_used_at),
            expires_at: when(t.expires_at),
        })
        .collect())
}

/// `GET /api/tokens`: every API token (never the token itself).
pub async fn tokens_json(st: State, user: ApiUser) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let rows = run(&st, |c, _| token_rows(c)).await?;
    let rows: Vec<_> = rows
        .iter()
        .map(|t| {
            serde_json::json!({
                "id": t.id, "user_id": t.user_id, "owner": t.owner, "email": t.email,
                "scope": t.scope, "created_at": t.created_at, "last_used_at": t.last_used_at,
                "expires_at": t.expires_at, "expired": t.expired,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "tokens": rows })))
}

#[derive(Deserialize)]
pub struct NewToken {
    #[serde(default)]
    email: String,
    #[serde(default)]
    scope: String,
    /// Days until it expires; empty or absent: never.
    #[serde(default, deserialize_with = "super::forms::blank_number")]
    expires_days: Option<i64>,
    #[serde(default)]
    csrf_token: String,
}

/// Creates a token for an enabled user; the token itself is shown this once.
async fn do_create_token(st: &State, by: &User, f: NewToken) -> Result<(i64, String), AppError> {
    let actor = by.email.clone();
    let scope = match f.scope.trim() {
        "" => crate::auth::tokens::Scope::Full,
        s @ ("full" | "inbound" | "inbound-internal") => crate::auth::tokens::Scope::parse(s),
        _ => return Err(AppError::bad_request("admin.tokens.error.scope")),
    };
    if f.expires_days
        .is_some_and(|d| !(1..=crate::auth::tokens::MAX_EXPIRY_DAYS).contains(&d))
    {
        return Err(AppError::bad_request("admin.tokens.error.days"));
    }
    run(st, move |c, _| -> Result<(i64, String), AppError> {
        let owner = users::find_by_email(c, f.email.trim())?
            .filter(|u| !u.disabled)
            .ok_or_else(|| AppError::bad_request("workflow.unknown_user"))?;
        let (id, token) =
            crate::auth::tokens::create_with_id(c, owner.id, scope, f.expires_days, crate::now())?;
        crate::cases::audit(
            c,
            None,
            &actor,
            "token.created",
            &format!("token {id} for {} ({})", owner.email, scope.as_str()),
        )?;
        Ok((id, token))
    })
    .await
}

/// `POST /admin/tokens`: a new token, shown once on the page.
pub async fn create_token(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    form: web::Form<NewToken>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    check_csrf(&req, &st, &form.csrf_token)?;
    let (_, token) = do_create_token(&st, &user.0, form.into_inner()).await?;
    let rows = run(&st, |c, _| token_rows(c)).await?;
    html(&TokensPage {
        page: Page::new(&req, &st, Some(user.0)),
        rows,
        created: Some(token),
    })
}

/// `POST /api/tokens` `{"email","scope":"full|inbound|inbound-internal","expires_days"}`.
pub async fn create_token_json(
    st: State,
    user: ApiUser,
    j: web::Json<NewToken>,
) -> Result<HttpResponse, AppError> {
    let by = user.require(ADMIN)?.clone();
    let (id, token) = do_create_token(&st, &by, j.into_inner()).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "id": id, "token": token })))
}

async fn do_revoke(st: &State, by: &User, id: i64) -> Result<(), AppError> {
    let actor = by.email.clone();
    run(st, move |c, _| -> Result<(), AppError> {
        if !crate::auth::tokens::revoke(c, id)? {
            return Err(AppError::NotFound);
        }
        crate::cases::audit(c, None, &actor, "token.revoked", &format!("token {id}"))?;
        Ok(())
    })
    .await
}

/// `POST /api/tokens/{id}/revoke`.
pub async fn revoke_token_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let by = user.require(ADMIN)?.clone();
    do_revoke(&st, &by, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true })))
}
