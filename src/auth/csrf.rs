//! CSRF: a random `cb_csrf` cookie per browser; every form carries the HMAC of it
//! and of the signed-in session's nonce (empty when anonymous). A cross-site page can
//! neither read the cookie nor compute the token, and a token learnt in another
//! session (or before login) is refused. The cookie itself is set and read in
//! `web::cookies`.

use super::Keys;

pub const COOKIE: &str = "cb_csrf";
pub const FIELD: &str = "csrf_token";

fn data(seed: &str, session: &str) -> String {
    format!("{seed}|{session}")
}

/// The form token for a browser's CSRF cookie value and its session's nonce
/// (`""` without a session).
pub fn token_for(keys: &Keys, seed: &str, session: &str) -> String {
    keys.sign("csrf", &data(seed, session))
}

/// Whether `token` was made by us for the cookie value `seed` in the session `session`.
pub fn verify(keys: &Keys, seed: &str, session: &str, token: &str) -> bool {
    !seed.is_empty() && !token.is_empty() && keys.verify("csrf", &data(seed, session), token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_to_seed_and_session() {
        let keys = Keys::from_secret(b"k".to_vec());
        let t = token_for(&keys, "seed", "nonce-a");
        assert!(verify(&keys, "seed", "nonce-a", &t));
        assert!(!verify(&keys, "seed", "nonce-b", &t), "another session");
        assert!(!verify(&keys, "seed", "", &t), "anonymous");
        assert!(!verify(&keys, "other", "nonce-a", &t), "another browser");
        let anon = token_for(&keys, "seed", "");
        assert!(verify(&keys, "seed", "", &anon));
        assert!(!verify(&keys, "seed", "nonce-a", &anon), "after login");
    }
}
