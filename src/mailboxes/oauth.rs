//! XOAUTH2 for hosted mailboxes that no longer take passwords (Microsoft 365, Gmail):
//! an access token from the provider's token endpoint (the refresh-token grant),
//! kept encrypted on the mailbox and refreshed a minute before it expires; a refresh
//! token the provider rotates is kept too.

use super::{secret, MailboxError, MailboxRow};
use crate::auth::Keys;
use crate::db::schema::mailboxes;
use crate::db::DbConn;
use crate::db::Direct;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

/// An access token this close to its expiry is refreshed first: a little more than an
/// IDLE connection lives (25 minutes), as some providers end a session whose token
/// expires.
const MARGIN_SECONDS: i64 = 26 * 60;

/// What the token endpoint gave.
#[derive(Debug, Clone)]
pub struct Granted {
    pub access_token: String,
    pub expires_at: NaiveDateTime,
    /// A new refresh token, when the provider rotates them.
    pub refresh_token: Option<String>,
}

fn decrypt(keys: &Keys, v: Option<&str>, what: &str) -> Result<String, MailboxError> {
    match v {
        Some(enc) => secret::decrypt(keys, enc),
        None => Err(MailboxError::Password(format!("no {what} configured"))),
    }
}

/// Asks the token endpoint of `row` for a fresh access token.
pub fn refresh(
    row: &MailboxRow,
    keys: &Keys,
    timeout: std::time::Duration,
    now: NaiveDateTime,
) -> Result<Granted, MailboxError> {
    let url = row
        .oauth_token_url
        .as_deref()
        .ok_or_else(|| MailboxError::Invalid("no token endpoint configured".into()))?;
    let client_id = row.oauth_client_id.clone().unwrap_or_default();
    let refresh_token = decrypt(keys, row.oauth_refresh_enc.as_deref(), "refresh token")?;
    let client_secret = match row.oauth_client_secret_enc.as_deref() {
        Some(enc) => Some(secret::decrypt(keys, enc)?),
        None => None,
    };
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", &refresh_token),
        ("client_id", &client_id),
    ];
    if let Some(s) = client_secret.as_deref() {
        form.push(("client_secret", s));
    }
    let agent = ureq::AgentBuilder::new().timeout(timeout).build();
    let refused = |detail: String| MailboxError::Auth(row.username.clone(), detail);
    let body = match agent.post(url).send_form(&form) {
        Ok(resp) => resp
            .into_string()
            .map_err(|e| MailboxError::Connect(url.to_string(), e.to_string()))?,
        Err(ureq::Error::Status(code, resp)) => {
            // The provider's own words: {"error": "invalid_client", "error_description": …}
            let text = resp.into_string().unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let error = v["error"].as_str().unwrap_or("error");
            let desc = v["error_description"].as_str().unwrap_or_default();
            let desc: String = desc.chars().take(200).collect();
            return Err(refused(format!(
                "the token endpoint refused the refresh (HTTP {code}: {error}{}{desc}); check the client id, the client secret and the refresh token",
                if desc.is_empty() { "" } else { ": " }
            )));
        }
        Err(e) => return Err(MailboxError::Connect(url.to_string(), e.to_string())),
    };
    let v: serde_json::Value = serde_json::from_str(&body)
        .map_err(|e| refused(format!("the token endpoint answered no JSON: {e}")))?;
    let access_token = v["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| refused("the token endpoint gave no access_token".into()))?
        .to_string();
    let expires_in = v["expires_in"]
        .as_i64()
        .or_else(|| v["expires_in"].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(3600);
    Ok(Granted {
        access_token,
        expires_at: now + Duration::seconds(expires_in.max(0)),
        refresh_token: v["refresh_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string),
    })
}

/// A live access token for `row`: the kept one while it has more than a minute left,
/// else a fresh one, which is kept (with a rotated refresh token) when `conn` is given.
pub fn access_token(
    conn: Option<&mut DbConn>,
    row: &MailboxRow,
    keys: &Keys,
    timeout: std::time::Duration,
    now: NaiveDateTime,
) -> Result<String, MailboxError> {
    if let (Some(enc), Some(exp)) = (row.oauth_access_enc.as_deref(), row.oauth_expires_at) {
        if exp - now > Duration::seconds(MARGIN_SECONDS) {
            return secret::decrypt(keys, enc);
        }
    }
    let g = refresh(row, keys, timeout, now)?;
    if let Some(conn) = conn {
        keep(conn, row, keys, &g)?;
    }
    Ok(g.access_token)
}

/// Keeps a granted access token (and a rotated refresh token) on mailbox `row`.
pub fn keep(
    conn: &mut DbConn,
    row: &MailboxRow,
    keys: &Keys,
    g: &Granted,
) -> Result<(), MailboxError> {
    let access = secret::encrypt(keys, &g.access_token);
    let target = diesel::update(mailboxes::table.find(row.id));
    match g.refresh_token.as_deref() {
        Some(r) => target
            .set((
                mailboxes::oauth_access_enc.eq(Some(access)),
                mailboxes::oauth_expires_at.eq(Some(g.expires_at)),
                mailboxes::oauth_refresh_enc.eq(Some(secret::encrypt(keys, r))),
            ))
            .exec(conn)?,
        None => target
            .set((
                mailboxes::oauth_access_enc.eq(Some(access)),
                mailboxes::oauth_expires_at.eq(Some(g.expires_at)),
            ))
            .exec(conn)?,
    };
    tracing::info!(mailbox = %row.name, expires_at = %g.expires_at, "XOAUTH2 access token kept");
    Ok(())
}

/// The SASL XOAUTH2 initial response.
pub struct XOAuth2<'a> {
    pub user: &'a str,
    pub token: &'a str,
}

impl imap::Authenticator for XOAuth2<'_> {
    type Response = String;
    fn process(&self, challenge: &[u8]) -> Self::Response {
        if challenge.is_empty() {
            format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token)
        } else {
            // The server's error (JSON) comes as a challenge: an empty answer ends it.
            String::new()
        }
    }
}
