//! Administration: users, the quarantine, raw message downloads (audited).

use super::auth::html;
use super::AppError;
use super::CurrentUser;
use super::HasRole;
use super::{check_csrf, run, see_other, Page, State};
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
    aliases: String,
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
    let f = form.into_inner();
    let role = Role::parse(&f.role).ok_or_else(|| AppError::bad_request("admin.error.role"))?;
    let actor = user.0.email.clone();
    run(&st, move |c, _| -> Result<(), AppError> {
        let u = users::create(
            c,
            &f.email,
            &f.name,
            role,
            &split_aliases(&f.aliases),
            &f.password,
        )
        .map_err(AppError::from)?;
        crate::cases::audit(
            c,
            None,
            &actor,
            "user.created",
            &format!("{} ({})", u.email, u.role),
        )?;
        Ok(())
    })
    .await?;
    Ok(see_other("/admin/users?done=user_added"))
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
    aliases: String,
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
    let f = form.into_inner();
    let role = Role::parse(&f.role).ok_or_else(|| AppError::bad_request("admin.error.role"))?;
    let actor = user.0.email.clone();
    run(&st, move |c, _| -> Result<(), AppError> {
        users::update_profile(c, id, &f.name, role, &split_aliases(&f.aliases))
            .map_err(AppError::from)?;
        crate::cases::audit(
            c,
            None,
            &actor,
            "user.updated",
            &format!("user {id}: role {}", role.as_str()),
        )?;
        Ok(())
    })
    .await?;
    Ok(see_other(&format!("/admin/users/{id}?done=saved")))
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
    let f = form.into_inner();
    let actor = user.0.email.clone();
    run(&st, move |c, _| -> Result<(), AppError> {
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
    .await?;
    Ok(see_other(&format!("/admin/users/{id}?done=password_reset")))
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
    if id == user.0.id {
        return Err(AppError::bad_request("admin.error.self_disable"));
    }
    let disabled = form.disabled == "true";
    let actor = user.0.email.clone();
    run(&st, move |c, _| -> Result<(), AppError> {
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
    .await?;
    Ok(see_other(&format!("/admin/users/{id}?done=saved")))
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
    let id = path.into_inner();
    let store = st.store.clone();
    let rules = st.rules.clone();
    let actor = user.0.email.clone();
    let (rows, results) = run(
        &st,
        move |c, _| -> Result<(Vec<QuarantineRow>, Vec<Outcome>), AppError> {
            let (raw_id, source): (i64, String) = quarantine::table
                .filter(quarantine::id.eq(id))
                .select((quarantine::raw_id, quarantine::source))
                .first(c)?;
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
        },
    )
    .await?;
    html(&QuarantinePage {
        page: Page::new(&req, &st, Some(user.0)),
        rows,
        results,
    })
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
    let id = path.into_inner();
    let number = form.case_number.trim().to_ascii_uppercase();
    let store = st.store.clone();
    let actor = user.0.clone();
    let n = number.clone();
    run(&st, move |c, _| {
        crate::mail::quarantine::assign(c, store.as_ref(), id, &n, &actor)
    })
    .await?;
    Ok(see_other(&format!(
        "/cases/{}?done=saved",
        super::cases::url_escape(&number)
    )))
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
}

/// `GET /admin/tokens`: every API token (never the token itself), with a revoke button.
pub async fn tokens(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    let rows = run(&st, |c, _| -> Result<Vec<TokenRow>, AppError> {
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
    })
    .await?;
    html(&TokensPage {
        page: Page::new(&req, &st, Some(user.0)),
        rows,
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
    let actor = user.0.email.clone();
    run(&st, move |c, _| -> Result<(), AppError> {
        if !crate::auth::tokens::revoke(c, id)? {
            return Err(AppError::NotFound);
        }
        crate::cases::audit(c, None, &actor, "token.revoked", &format!("token {id}"))?;
        Ok(())
    })
    .await?;
    Ok(see_other("/admin/tokens?done=token_revoked"))
}
