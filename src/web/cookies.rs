//! The cookies Casebook sets: the signed session, the CSRF seed and the language.

use crate::auth::{csrf, session, Keys};
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{HttpMessage, HttpRequest};

/// The browser's CSRF cookie value when the middleware has just set it for this
/// response (the request itself does not carry it yet).
#[derive(Debug, Clone)]
pub struct CsrfSeed(pub String);

fn csrf_seed(req: &HttpRequest) -> Option<String> {
    if let Some(s) = req.extensions().get::<CsrfSeed>() {
        return Some(s.0.clone());
    }
    req.cookie(csrf::COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

/// The session a CSRF token is bound to: the nonce of the session cookie the browser
/// sent (`""` when it sent none we signed).
fn csrf_binding(keys: &Keys, req: &HttpRequest) -> String {
    req.cookie(session::COOKIE)
        .and_then(|c| session::nonce(keys, c.value()))
        .unwrap_or_default()
}

/// The token this browser's forms carry (bound to its CSRF cookie and its session).
pub fn form_token(keys: &Keys, req: &HttpRequest) -> String {
    csrf_seed(req)
        .map(|s| csrf::token_for(keys, &s, &csrf_binding(keys, req)))
        .unwrap_or_default()
}

/// Whether a form's token matches the CSRF cookie and the session the browser sent.
pub fn csrf_ok(keys: &Keys, req: &HttpRequest, token: &str) -> bool {
    let binding = csrf_binding(keys, req);
    req.cookie(csrf::COOKIE)
        .is_some_and(|c| csrf::verify(keys, c.value(), &binding, token))
}

/// A session cookie re-issued with a new last-seen time during this request; the
/// middleware sets it on the response (see `web::renew_session`).
#[derive(Debug, Clone)]
pub struct SessionRenewal(pub String);

fn base(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish()
}

pub fn csrf_cookie(value: String, secure: bool) -> Cookie<'static> {
    let mut c = base(csrf::COOKIE, value, secure);
    c.set_http_only(true);
    c
}

/// A new CSRF seed (at login: whatever token was known before is no longer valid).
pub fn csrf_rotated(secure: bool) -> Cookie<'static> {
    csrf_cookie(crate::auth::random_hex(16), secure)
}

pub fn session_cookie(value: String, secure: bool) -> Cookie<'static> {
    let mut c = base(session::COOKIE, value, secure);
    c.set_http_only(true);
    c.set_max_age(CookieDuration::seconds(session::LIFETIME_SECS));
    c
}

pub fn session_removal(secure: bool) -> Cookie<'static> {
    let mut c = session_cookie(String::new(), secure);
    c.make_removal();
    c
}

pub fn lang_cookie(lang: crate::i18n::Lang, secure: bool) -> Cookie<'static> {
    let mut c = base(crate::i18n::COOKIE, lang.code().to_string(), secure);
    c.set_max_age(CookieDuration::days(365));
    c
}

/// The reader's language: the language cookie, then Accept-Language.
pub fn lang(req: &HttpRequest) -> crate::i18n::Lang {
    let accept = req
        .headers()
        .get(actix_web::http::header::ACCEPT_LANGUAGE)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    crate::i18n::negotiate(
        req.cookie(crate::i18n::COOKIE).as_ref().map(|c| c.value()),
        accept,
    )
}
