//! CSRF: a random `cb_csrf` cookie per browser; every form carries the HMAC of it.
//! A cross-site page can neither read the cookie nor compute the token. The cookie
//! itself is set and read in `web::cookies`.

use super::Keys;

pub const COOKIE: &str = "cb_csrf";
pub const FIELD: &str = "csrf_token";

/// The form token for a browser's CSRF cookie value.
pub fn token_for(keys: &Keys, seed: &str) -> String {
    keys.sign("csrf", seed)
}

/// Whether `token` was made by us for the cookie value `seed`.
pub fn verify(keys: &Keys, seed: &str, token: &str) -> bool {
    !seed.is_empty() && !token.is_empty() && keys.verify("csrf", seed, token)
}
