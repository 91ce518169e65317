//! CSRF: a random `cb_csrf` cookie per browser; every form carries the HMAC of it.
//! A cross-site page can neither read the cookie nor compute the token.

use super::Keys;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpMessage, HttpRequest};

pub const COOKIE: &str = "cb_csrf";
pub const FIELD: &str = "csrf_token";

/// The browser's CSRF cookie value: from the request, or the fresh one the
/// middleware set for this response.
#[derive(Debug, Clone)]
pub struct CsrfSeed(pub String);

pub fn seed(req: &HttpRequest) -> Option<String> {
    if let Some(s) = req.extensions().get::<CsrfSeed>() {
        return Some(s.0.clone());
    }
    req.cookie(COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

pub fn token_for(keys: &Keys, seed: &str) -> String {
    keys.sign("csrf", seed)
}

pub fn form_token(keys: &Keys, req: &HttpRequest) -> String {
    seed(req).map(|s| token_for(keys, &s)).unwrap_or_default()
}

pub fn verify(keys: &Keys, req: &HttpRequest, token: &str) -> bool {
    match req.cookie(COOKIE) {
        Some(c) if !c.value().is_empty() && !token.is_empty() => {
            keys.verify("csrf", c.value(), token)
        }
        _ => false,
    }
}

pub fn cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish()
}
