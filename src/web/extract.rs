//! Request extractors: the signed-in user of a page, or the token's user under /api.

use super::{run, AppError, State};
use crate::auth::users::{self, Role, User};
use crate::auth::{session, tokens};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use std::future::Future;
use std::pin::Pin;

/// The user signed in through the session cookie.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

/// The user behind the `Authorization: Bearer` token.
#[derive(Debug, Clone)]
pub struct ApiUser(pub User);

pub trait HasRole {
    fn user(&self) -> &User;
    fn require(&self, roles: &[Role]) -> Result<&User, AppError> {
        let u = self.user();
        if roles.contains(&u.role()) {
            Ok(u)
        } else {
            Err(AppError::Forbidden)
        }
    }
}

impl HasRole for CurrentUser {
    fn user(&self) -> &User {
        &self.0
    }
}

impl HasRole for ApiUser {
    fn user(&self) -> &User {
        &self.0
    }
}

fn state(req: &HttpRequest) -> Result<State, AppError> {
    req.app_data::<State>()
        .cloned()
        .ok_or_else(|| AppError::internal("application state missing"))
}

pub async fn session_user(req: &HttpRequest) -> Result<Option<User>, AppError> {
    if let Some(u) = req.extensions().get::<CurrentUser>() {
        return Ok(Some(u.0.clone()));
    }
    let st = state(req)?;
    let Some(cookie) = req.cookie(session::COOKIE) else {
        return Ok(None);
    };
    let now = chrono::Utc::now().timestamp();
    let idle = st.settings.session_idle_secs;
    let Some(sess) = session::decode(&st.keys, cookie.value(), now, idle) else {
        return Ok(None);
    };
    let renewed = session::needs_touch(&sess, now, idle);
    // Every page asks this first: one primary-key read, in place.
    let user = super::read(&st, move |c, _| {
        Ok::<_, AppError>(
            users::find(c, sess.user_id)?.filter(|u| !u.disabled && u.session_epoch == sess.epoch),
        )
    })
    .await?;
    if let Some(u) = &user {
        req.extensions_mut().insert(CurrentUser(u.clone()));
        if let Some(r) = renewed {
            req.extensions_mut()
                .insert(super::cookies::SessionRenewal(session::encode(
                    &st.keys, &r,
                )));
        }
    }
    Ok(user)
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            session_user(&req)
                .await?
                .map(CurrentUser)
                .ok_or(AppError::Unauthorized)
        })
    }
}

/// The user and scope behind the request's bearer token (401 without a live one).
async fn bearer(req: &HttpRequest) -> Result<(User, tokens::Scope), AppError> {
    let st = state(req)?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let Some(token) = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
    else {
        return Err(AppError::Unauthorized);
    };
    let now = crate::now();
    let found = super::read(&st, move |c, _| tokens::lookup(c, &token, now))
        .await?
        .ok_or(AppError::Unauthorized)?;
    if let Some(id) = found.touch {
        // Best effort, on the pool (a write): a busy database must not refuse the
        // request.
        if let Err(e) = run(&st, move |c, _| tokens::touch(c, id, now)).await {
            tracing::debug!(error = %e, "token last-used time not recorded");
        }
    }
    Ok((found.user, found.scope))
}

/// A full-scope token only: a narrower token is refused (403) everywhere `ApiUser`
/// is asked for.
impl FromRequest for ApiUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match bearer(&req).await? {
                (u, tokens::Scope::Full) => Ok(ApiUser(u)),
                (_, _) => Err(AppError::Forbidden),
            }
        })
    }
}

/// The caller of `POST /api/mail/inbound`: an admin's full token or any enabled
/// user's inbound-scoped token (the MTA pipe needs no admin powers).
#[derive(Debug, Clone)]
pub struct InboundCaller {
    pub user: User,
    /// The token is for an internal path (`inbound-internal`): staff mail on it is
    /// from a verified identity.
    pub internal: bool,
}

impl FromRequest for InboundCaller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match bearer(&req).await? {
                (user, tokens::Scope::Inbound) => Ok(InboundCaller {
                    user,
                    internal: false,
                }),
                (user, tokens::Scope::InboundInternal) => Ok(InboundCaller {
                    user,
                    internal: true,
                }),
                (u, tokens::Scope::Full) => {
                    ApiUser(u.clone()).require(super::roles::ADMIN)?;
                    Ok(InboundCaller {
                        user: u,
                        internal: false,
                    })
                }
            }
        })
    }
}
