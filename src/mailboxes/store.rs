//! The configured mailboxes: the row, what an admin enters, and adding, listing,
//! finding and removing them.

use super::{is_loopback, secret, MailboxError, TlsMode};
use crate::auth::Keys;
use crate::db::schema::mailboxes;
use crate::db::DbConn;
use crate::db::Direct;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mailboxes)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct MailboxRow {
    pub id: i64,
    pub name: String,
    pub host: String,
    pub port: i64,
    pub tls: String,
    pub username: String,
    pub password_enc: Option<String>,
    pub password_file: Option<String>,
    pub folder: String,
    pub move_to: Option<String>,
    pub poll_seconds: i64,
    pub enabled: bool,
    pub uidvalidity: Option<i64>,
    pub last_uid: i64,
    pub last_error: Option<String>,
    pub last_ok_at: Option<NaiveDateTime>,
    pub next_attempt_at: NaiveDateTime,
    pub failures: i64,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    /// Receives only mail accepted from authenticated staff: staff mail is verified.
    pub internal: bool,
    /// `password` or `xoauth2`.
    pub auth: String,
    pub oauth_token_url: Option<String>,
    pub oauth_client_id: Option<String>,
    pub oauth_client_secret_enc: Option<String>,
    pub oauth_refresh_enc: Option<String>,
    pub oauth_access_enc: Option<String>,
    pub oauth_expires_at: Option<NaiveDateTime>,
}

impl MailboxRow {
    pub fn is_oauth(&self) -> bool {
        self.auth == "xoauth2"
    }

    pub fn tls_mode(&self) -> TlsMode {
        TlsMode::parse(&self.tls).unwrap_or(TlsMode::Imaps)
    }

    /// `imaps://user@host:993/INBOX`, without any password.
    pub fn url(&self) -> String {
        let scheme = match self.tls_mode() {
            TlsMode::Imaps => "imaps",
            _ => "imap",
        };
        let q = match self.tls_mode() {
            TlsMode::Plain => "?tls=plain",
            _ => "",
        };
        format!(
            "{scheme}://{}@{}:{}/{}{q}",
            self.username.replace('@', "%40"),
            self.host,
            self.port,
            self.folder
        )
    }

    /// The password: decrypted from the row, or read from its file.
    pub fn password(&self, keys: &Keys) -> Result<String, MailboxError> {
        if let Some(file) = self.password_file.as_deref().filter(|f| !f.is_empty()) {
            let s = std::fs::read_to_string(file)
                .map_err(|e| MailboxError::Password(format!("{file}: {e}")))?;
            return Ok(s.trim_end_matches(['\r', '\n']).to_string());
        }
        match self.password_enc.as_deref() {
            Some(enc) => secret::decrypt(keys, enc),
            None => Err(MailboxError::Password("none configured".into())),
        }
    }
}

/// What an admin configures.
#[derive(Debug, Clone)]
pub struct NewMailbox {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub password: Option<String>,
    pub password_file: Option<String>,
    pub folder: String,
    pub move_to: Option<String>,
    pub poll_seconds: i64,
    pub internal: bool,
    /// XOAUTH2 instead of a password.
    pub oauth: Option<OAuthInput>,
}

/// An XOAUTH2 client as an admin configures it. On an edit, a secret or a refresh
/// token left out keeps the stored one.
#[derive(Debug, Clone, Default)]
pub struct OAuthInput {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub refresh_token: Option<String>,
}

fn validate_oauth(o: &OAuthInput) -> Result<(), MailboxError> {
    let url = o.token_url.trim();
    let ok = match url.split_once("://") {
        Some(("https", rest)) => !rest.is_empty(),
        Some(("http", rest)) => {
            let host = rest.split(['/', '?']).next().unwrap_or_default();
            let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
            is_loopback(host.trim_start_matches('[').trim_end_matches(']'))
        }
        _ => false,
    };
    if !ok {
        return Err(MailboxError::Invalid(format!(
            "the token endpoint must be an https:// URL (http:// only on loopback), not {url:?}"
        )));
    }
    if o.client_id.trim().is_empty() {
        return Err(MailboxError::Invalid("a client id is required".into()));
    }
    Ok(())
}

pub fn validate(m: &NewMailbox) -> Result<(), MailboxError> {
    if m.name.trim().is_empty() || m.name.len() > 100 {
        return Err(MailboxError::Invalid("a name is required".into()));
    }
    if m.host.trim().is_empty() || m.username.trim().is_empty() || m.port == 0 {
        return Err(MailboxError::Invalid(
            "host, port and user name are required".into(),
        ));
    }
    if m.tls == TlsMode::Plain && !is_loopback(&m.host) {
        return Err(MailboxError::Invalid(format!(
            "plain IMAP without TLS is only allowed for loopback hosts, not {}",
            m.host
        )));
    }
    if let Some(o) = &m.oauth {
        validate_oauth(o)?;
    } else if m.password.as_deref().is_none_or(str::is_empty)
        && m.password_file.as_deref().is_none_or(str::is_empty)
    {
        return Err(MailboxError::Invalid(
            "a password or a password file is required".into(),
        ));
    }
    if m.folder.trim().is_empty() {
        return Err(MailboxError::Invalid("a folder is required".into()));
    }
    if m.poll_seconds < 1 {
        return Err(MailboxError::Invalid(
            "the poll interval must be at least 1 second".into(),
        ));
    }
    Ok(())
}

#[derive(Insertable)]
#[diesel(table_name = mailboxes)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
struct NewMailboxRow<'a> {
    name: &'a str,
    host: &'a str,
    port: i64,
    tls: &'a str,
    username: &'a str,
    password_enc: Option<&'a str>,
    password_file: Option<&'a str>,
    folder: &'a str,
    move_to: Option<&'a str>,
    poll_seconds: i64,
    enabled: bool,
    last_uid: i64,
    next_attempt_at: NaiveDateTime,
    failures: i64,
    created_at: NaiveDateTime,
    internal: bool,
    auth: &'a str,
    oauth_token_url: Option<&'a str>,
    oauth_client_id: Option<&'a str>,
    oauth_client_secret_enc: Option<&'a str>,
    oauth_refresh_enc: Option<&'a str>,
}

fn enc_opt(keys: &Keys, v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| secret::encrypt(keys, x))
}

/// Adds a mailbox (its password encrypted); due for a first poll at once.
pub fn add(conn: &mut DbConn, keys: &Keys, m: &NewMailbox) -> Result<i64, MailboxError> {
    validate(m)?;
    if m.oauth.as_ref().is_some_and(|o| {
        o.refresh_token
            .as_deref()
            .is_none_or(|t| t.trim().is_empty())
    }) {
        return Err(MailboxError::Invalid("a refresh token is required".into()));
    }
    let name = m.name.trim();
    let exists: Option<i64> = mailboxes::table
        .filter(mailboxes::name.eq(name))
        .select(mailboxes::id)
        .first_row(conn)
        .optional()?;
    if exists.is_some() {
        return Err(MailboxError::Exists(name.to_string()));
    }
    let enc = m
        .password
        .as_deref()
        .filter(|p| !p.is_empty() && m.oauth.is_none())
        .map(|p| secret::encrypt(keys, p));
    let o = m.oauth.clone().unwrap_or_default();
    let secret_enc = enc_opt(keys, o.client_secret.as_deref());
    let refresh_enc = enc_opt(keys, o.refresh_token.as_deref());
    let now = crate::now();
    let host = m.host.trim();
    let username = m.username.trim();
    let folder = m.folder.trim();
    Ok(diesel::insert_into(mailboxes::table)
        .values(NewMailboxRow {
            name,
            host,
            port: i64::from(m.port),
            tls: m.tls.as_str(),
            username,
            password_enc: enc.as_deref(),
            password_file: m.password_file.as_deref().filter(|f| !f.is_empty()),
            folder,
            move_to: m
                .move_to
                .as_deref()
                .map(str::trim)
                .filter(|f| !f.is_empty()),
            poll_seconds: m.poll_seconds,
            internal: m.internal,
            auth: if m.oauth.is_some() {
                "xoauth2"
            } else {
                "password"
            },
            oauth_token_url: m.oauth.as_ref().map(|o| o.token_url.trim()),
            oauth_client_id: m.oauth.as_ref().map(|o| o.client_id.trim()),
            oauth_client_secret_enc: secret_enc.as_deref(),
            oauth_refresh_enc: refresh_enc.as_deref(),
            enabled: true,
            last_uid: 0,
            next_attempt_at: now,
            failures: 0,
            created_at: now,
        })
        .returning(mailboxes::id)
        .row(conn)?)
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<MailboxRow>> {
    mailboxes::table
        .order(mailboxes::name.asc())
        .select(MailboxRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConn, name: &str) -> Result<MailboxRow, MailboxError> {
    mailboxes::table
        .filter(mailboxes::name.eq(name))
        .select(MailboxRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| MailboxError::NotFound(name.to_string()))
}

pub fn remove(conn: &mut DbConn, name: &str) -> Result<(), MailboxError> {
    let n = diesel::delete(mailboxes::table.filter(mailboxes::name.eq(name))).exec(conn)?;
    if n == 0 {
        return Err(MailboxError::NotFound(name.to_string()));
    }
    Ok(())
}

/// Pauses (`false`) or resumes (`true`) mailbox `name`; resuming polls it at once,
/// its backoff forgotten.
pub fn set_enabled(conn: &mut DbConn, name: &str, enabled: bool) -> Result<(), MailboxError> {
    let target = mailboxes::table.filter(mailboxes::name.eq(name));
    let n = if enabled {
        diesel::update(target)
            .set((
                mailboxes::enabled.eq(true),
                mailboxes::failures.eq(0i64),
                mailboxes::next_attempt_at.eq(crate::now()),
            ))
            .exec(conn)?
    } else {
        diesel::update(target)
            .set(mailboxes::enabled.eq(false))
            .exec(conn)?
    };
    if n == 0 {
        return Err(MailboxError::NotFound(name.to_string()));
    }
    Ok(())
}

/// Mailbox `id` as it would be with `m` applied, checked as a save would check it
/// (nothing written): what "test before saving" may connect with. Stored secrets are
/// not sent to a new destination: when the server or the account changes, the password
/// (or the refresh token) must be given again, and the client secret when the token
/// endpoint or the client changes.
pub fn prepare_edit(
    conn: &mut DbConn,
    keys: &Keys,
    id: i64,
    m: &NewMailbox,
) -> Result<MailboxRow, MailboxError> {
    let old = find_id(conn, id)?;
    let mut check = m.clone();
    if check.oauth.is_none()
        && check.password.as_deref().is_none_or(str::is_empty)
        && check.password_file.is_none()
    {
        check.password = Some("(kept)".into());
    }
    validate(&check)?;
    let next = edited(&old, keys, m);
    let moved = next.host != old.host
        || next.port != old.port
        || next.tls != old.tls
        || next.username != old.username;
    let given = |v: &Option<String>| v.as_deref().is_some_and(|x| !x.trim().is_empty());
    match &m.oauth {
        None => {
            if moved && !given(&m.password) && !given(&m.password_file) {
                return Err(MailboxError::Invalid(
                    "the server or the account changed: give the password again".into(),
                ));
            }
            if next.password_enc.is_none() && next.password_file.is_none() {
                return Err(MailboxError::Invalid(
                    "a password or a password file is required".into(),
                ));
            }
        }
        Some(o) => {
            let client_moved = old.oauth_token_url.as_deref() != Some(o.token_url.trim())
                || old.oauth_client_id.as_deref() != Some(o.client_id.trim());
            if (moved || client_moved || !old.is_oauth()) && !given(&o.refresh_token) {
                return Err(MailboxError::Invalid(
                    "the server, the account or the OAuth client changed: give the refresh token again".into(),
                ));
            }
            if client_moved && old.oauth_client_secret_enc.is_some() && !given(&o.client_secret) {
                return Err(MailboxError::Invalid(
                    "the token endpoint or the client changed: give the client secret again".into(),
                ));
            }
            if next.oauth_refresh_enc.is_none() {
                return Err(MailboxError::Invalid("a refresh token is required".into()));
            }
        }
    }
    let taken: Option<i64> = mailboxes::table
        .filter(mailboxes::name.eq(&next.name))
        .filter(mailboxes::id.ne(id))
        .select(mailboxes::id)
        .first_row(conn)
        .optional()?;
    if taken.is_some() {
        return Err(MailboxError::Exists(next.name));
    }
    Ok(next)
}

/// Changes mailbox `id` to `m` (checked by `prepare_edit`). A blank password keeps the
/// stored one (or its file). When the account or folder changes, its position is
/// forgotten so that the new folder is read from its start (messages already here are
/// not filed twice). Backoff is forgotten and it is polled at once.
pub fn update(
    conn: &mut DbConn,
    keys: &Keys,
    id: i64,
    m: &NewMailbox,
) -> Result<MailboxRow, MailboxError> {
    let next = prepare_edit(conn, keys, id, m)?;
    diesel::update(mailboxes::table.find(id))
        .set((
            mailboxes::name.eq(&next.name),
            mailboxes::host.eq(&next.host),
            mailboxes::port.eq(next.port),
            mailboxes::tls.eq(&next.tls),
            mailboxes::username.eq(&next.username),
            mailboxes::password_enc.eq(&next.password_enc),
            mailboxes::password_file.eq(&next.password_file),
            mailboxes::folder.eq(&next.folder),
            mailboxes::move_to.eq(&next.move_to),
            mailboxes::poll_seconds.eq(next.poll_seconds),
            mailboxes::auth.eq(&next.auth),
            mailboxes::oauth_token_url.eq(&next.oauth_token_url),
            mailboxes::oauth_client_id.eq(&next.oauth_client_id),
            mailboxes::oauth_client_secret_enc.eq(&next.oauth_client_secret_enc),
            mailboxes::oauth_refresh_enc.eq(&next.oauth_refresh_enc),
            mailboxes::oauth_access_enc.eq(&next.oauth_access_enc),
            mailboxes::oauth_expires_at.eq(next.oauth_expires_at),
            mailboxes::uidvalidity.eq(next.uidvalidity),
            mailboxes::last_uid.eq(next.last_uid),
            mailboxes::failures.eq(0i64),
            mailboxes::last_error.eq(None::<String>),
            mailboxes::next_attempt_at.eq(crate::now()),
        ))
        .exec(conn)?;
    Ok(next)
}

/// Row `old` as it would be with `m` applied (nothing written): what "test before
/// saving" connects with.
pub fn edited(old: &MailboxRow, keys: &Keys, m: &NewMailbox) -> MailboxRow {
    let mut next = old.clone();
    next.name = m.name.trim().to_string();
    next.host = m.host.trim().to_string();
    next.port = i64::from(m.port);
    next.tls = m.tls.as_str().to_string();
    next.username = m.username.trim().to_string();
    next.folder = m.folder.trim().to_string();
    next.move_to = m
        .move_to
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_string);
    next.poll_seconds = m.poll_seconds;
    if let Some(p) = m.password.as_deref().filter(|p| !p.is_empty()) {
        next.password_enc = Some(secret::encrypt(keys, p));
        next.password_file = None;
    } else if let Some(f) = m.password_file.as_deref().filter(|f| !f.is_empty()) {
        next.password_file = Some(f.to_string());
        next.password_enc = None;
    }
    match &m.oauth {
        Some(o) => {
            let changed = next.auth != "xoauth2"
                || next.oauth_token_url.as_deref() != Some(o.token_url.trim())
                || next.oauth_client_id.as_deref() != Some(o.client_id.trim());
            next.auth = "xoauth2".into();
            next.oauth_token_url = Some(o.token_url.trim().to_string());
            next.oauth_client_id = Some(o.client_id.trim().to_string());
            let new_secret = enc_opt(keys, o.client_secret.as_deref());
            let new_refresh = enc_opt(keys, o.refresh_token.as_deref());
            if changed || new_secret.is_some() || new_refresh.is_some() {
                // A token from other credentials is no proof that these work.
                next.oauth_access_enc = None;
                next.oauth_expires_at = None;
            }
            if let Some(sec) = new_secret {
                next.oauth_client_secret_enc = Some(sec);
            }
            if let Some(r) = new_refresh {
                next.oauth_refresh_enc = Some(r);
            }
            next.password_enc = None;
            next.password_file = None;
        }
        None => {
            next.auth = "password".into();
            next.oauth_token_url = None;
            next.oauth_client_id = None;
            next.oauth_client_secret_enc = None;
            next.oauth_refresh_enc = None;
            next.oauth_access_enc = None;
            next.oauth_expires_at = None;
        }
    }
    let moved = next.host != old.host
        || next.port != old.port
        || next.username != old.username
        || next.folder != old.folder;
    if moved {
        next.uidvalidity = None;
        next.last_uid = 0;
    }
    next
}

pub fn find_id(conn: &mut DbConn, id: i64) -> Result<MailboxRow, MailboxError> {
    mailboxes::table
        .find(id)
        .select(MailboxRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| MailboxError::NotFound(format!("#{id}")))
}

pub fn remove_id(conn: &mut DbConn, id: i64) -> Result<(), MailboxError> {
    diesel::delete(mailboxes::table.find(id)).exec(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_only_on_loopback() {
        let mut m = NewMailbox {
            name: "x".into(),
            host: "imap.example.com".into(),
            port: 143,
            tls: TlsMode::Plain,
            username: "u".into(),
            password: Some("p".into()),
            password_file: None,
            folder: "INBOX".into(),
            move_to: None,
            poll_seconds: 60,
            internal: false,
            oauth: None,
        };
        assert!(validate(&m).is_err());
        m.host = "::1".into();
        assert!(validate(&m).is_ok());
        m.password = None;
        assert!(validate(&m).is_err(), "a password is required");
    }
}
