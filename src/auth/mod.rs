//! Accounts, roles, passwords, sessions, CSRF, login throttling and API tokens.

pub mod csrf;
pub mod password;
pub mod session;
pub mod throttle;
pub mod tokens;
pub mod users;

pub use users::{Role, User};

use crate::db::Direct;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Server secrets kept in the database, so every `casebook serve` on the same
/// database signs and checks cookies alike.
#[derive(Clone)]
pub struct Keys {
    secret: Vec<u8>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    pub fn from_secret(secret: Vec<u8>) -> Self {
        Keys { secret }
    }

    pub fn sign(&self, purpose: &str, data: &str) -> String {
        let mut mac = hmac_with(&self.secret);
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(data.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub fn verify(&self, purpose: &str, data: &str, sig: &str) -> bool {
        let Ok(raw) = hex::decode(sig) else {
            return false;
        };
        let mut mac = hmac_with(&self.secret);
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(data.as_bytes());
        mac.verify_slice(&raw).is_ok()
    }
}

/// Loads the server secret, creating it on first start (safe when two servers race).
pub fn load_keys(conn: &mut crate::db::DbConn) -> Result<Keys, diesel::result::Error> {
    use crate::db::schema::app_settings::dsl as s;
    use diesel::prelude::*;
    let existing: Option<String> = s::app_settings
        .filter(s::key.eq("session_secret"))
        .select(s::value)
        .first_row(conn)
        .optional()?;
    let hexed = match existing {
        Some(v) => v,
        None => {
            let fresh = random_hex(32);
            let inserted = diesel::insert_into(s::app_settings)
                .values((s::key.eq("session_secret"), s::value.eq(&fresh)))
                .exec(conn);
            match inserted {
                Ok(_) => fresh,
                Err(_) => s::app_settings
                    .filter(s::key.eq("session_secret"))
                    .select(s::value)
                    .first_row(conn)?,
            }
        }
    };
    Ok(Keys::from_secret(
        hex::decode(&hexed).unwrap_or_else(|_| hexed.into_bytes()),
    ))
}

/// HMAC-SHA256 accepts a key of any length, so building one cannot fail.
#[allow(clippy::expect_used)]
fn hmac_with(secret: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length")
}

pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}
