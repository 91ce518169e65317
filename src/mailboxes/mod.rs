//! Mailboxes: IMAP accounts Casebook polls itself, so customer mail arrives without
//! an MTA. Each message goes through `crate::mail::ingest_input` (raw stored first,
//! idempotent) and is moved or flagged on the server only after the local commit: a
//! crash between the two gives a `duplicate` on the next run, never a loss.

pub mod client;
pub mod secret;

use crate::auth::Keys;
use crate::db::schema::mailboxes;
use crate::db::DbConn;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

/// A claim not renewed for this long is taken to belong to a crashed poller. A running
/// poll renews its claim every [`HEARTBEAT_SECONDS`]; a holder on this host that is
/// no longer alive loses its claim at once (see [`claim`]).
pub const LEASE_SECONDS: i64 = 60;
pub const HEARTBEAT_SECONDS: u64 = 15;
pub const DEFAULT_POLL_SECONDS: i64 = 60;
/// Socket read/write (and connect) timeout for IMAP servers.
pub const DEFAULT_IMAP_TIMEOUT_SECONDS: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("{0}")]
    Invalid(String),
    #[error("no mailbox named {0}")]
    NotFound(String),
    #[error("a mailbox named {0} already exists")]
    Exists(String),
    #[error("cannot connect to {0}: {1}")]
    Connect(String, String),
    #[error("no answer from {0} within {1} s (timed out {2}); will retry")]
    Timeout(String, u64, &'static str),
    #[error("TLS with {0} failed: {1}")]
    Tls(String, String),
    #[error("login refused for {0}: {1} (check the user name and password)")]
    Auth(String, String),
    #[error("folder {0} cannot be opened: {1} (does it exist?)")]
    Folder(String, String),
    #[error("IMAP: {0}")]
    Imap(String),
    #[error("password: {0}")]
    Password(String),
    #[error("mailbox {0} was taken over by {1} (this poll's claim lapsed); stopped")]
    ClaimLost(String, String),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("database pool: {0}")]
    Pool(String),
    #[error(transparent)]
    Ingest(#[from] crate::mail::IngestError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Imaps,
    StartTls,
    Plain,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Imaps => "imaps",
            TlsMode::StartTls => "starttls",
            TlsMode::Plain => "plain",
        }
    }
    pub fn parse(s: &str) -> Option<TlsMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "imaps" | "tls" => Some(TlsMode::Imaps),
            "starttls" => Some(TlsMode::StartTls),
            "plain" | "none" => Some(TlsMode::Plain),
            _ => None,
        }
    }
}

pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

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
}

impl MailboxRow {
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
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `imap://USER@HOST:PORT/FOLDER` or `imaps://…`; `?tls=starttls|plain` picks
/// the mode of `imap://` (default: STARTTLS, plain on loopback hosts).
pub fn parse_url(url: &str) -> Result<(String, u16, TlsMode, String, String), MailboxError> {
    let bad = |m: &str| MailboxError::Invalid(format!("mailbox URL {url}: {m}"));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected imap://USER@HOST:PORT/FOLDER or imaps://…"))?;
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, folder) = match rest.split_once('/') {
        Some((a, f)) => (a, percent_decode(f)),
        None => (rest, String::new()),
    };
    let folder = if folder.is_empty() {
        "INBOX".to_string()
    } else {
        folder
    };
    let (user, hostport) = authority
        .rsplit_once('@')
        .ok_or_else(|| bad("the user name is missing (USER@HOST)"))?;
    if user.contains(':') {
        return Err(bad(
            "put the password in a file (--password-file), not in the URL",
        ));
    }
    let user = percent_decode(user);
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (
            h.to_string(),
            Some(p.parse::<u16>().map_err(|_| bad("bad port"))?),
        ),
        _ => (hostport.to_string(), None),
    };
    if host.is_empty() || user.is_empty() {
        return Err(bad("host and user are required"));
    }
    let tls_q = query.and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("tls="))
            .map(str::to_string)
    });
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "imaps" => TlsMode::Imaps,
        "imap" => match tls_q {
            Some(t) => TlsMode::parse(&t).ok_or_else(|| bad("tls= must be starttls or plain"))?,
            None if is_loopback(&host) => TlsMode::Plain,
            None => TlsMode::StartTls,
        },
        _ => return Err(bad("the scheme must be imap or imaps")),
    };
    let port = port.unwrap_or(if tls == TlsMode::Imaps { 993 } else { 143 });
    Ok((host, port, tls, user, folder))
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
    if m.password.as_deref().is_none_or(str::is_empty)
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

pub fn add(conn: &mut DbConn, keys: &Keys, m: &NewMailbox) -> Result<i64, MailboxError> {
    validate(m)?;
    let name = m.name.trim();
    let exists: Option<i64> = mailboxes::table
        .filter(mailboxes::name.eq(name))
        .select(mailboxes::id)
        .first(conn)
        .optional()?;
    if exists.is_some() {
        return Err(MailboxError::Exists(name.to_string()));
    }
    let enc = m
        .password
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(|p| secret::encrypt(keys, p));
    let now = crate::now();
    Ok(diesel::insert_into(mailboxes::table)
        .values((
            mailboxes::name.eq(name),
            mailboxes::host.eq(m.host.trim()),
            mailboxes::port.eq(m.port as i64),
            mailboxes::tls.eq(m.tls.as_str()),
            mailboxes::username.eq(m.username.trim()),
            mailboxes::password_enc.eq(enc),
            mailboxes::password_file.eq(m.password_file.as_deref().filter(|f| !f.is_empty())),
            mailboxes::folder.eq(m.folder.trim()),
            mailboxes::move_to.eq(m
                .move_to
                .as_deref()
                .map(str::trim)
                .filter(|f| !f.is_empty())),
            mailboxes::poll_seconds.eq(m.poll_seconds),
            mailboxes::enabled.eq(true),
            mailboxes::last_uid.eq(0i64),
            mailboxes::next_attempt_at.eq(now),
            mailboxes::failures.eq(0i64),
            mailboxes::created_at.eq(now),
        ))
        .returning(mailboxes::id)
        .get_result(conn)?)
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
    let n = diesel::delete(mailboxes::table.filter(mailboxes::name.eq(name))).execute(conn)?;
    if n == 0 {
        return Err(MailboxError::NotFound(name.to_string()));
    }
    Ok(())
}

pub fn remove_id(conn: &mut DbConn, id: i64) -> Result<(), MailboxError> {
    diesel::delete(mailboxes::table.find(id)).execute(conn)?;
    Ok(())
}

/// A claim holder: `KIND:HOST:PID:RANDOM`, e.g. `fetch:mail1:4711:9f3a0c1e`.
pub fn worker_id(kind: &str) -> String {
    format!(
        "{kind}:{}:{}:{}",
        this_host(),
        std::process::id(),
        crate::auth::random_hex(4)
    )
}

fn this_host() -> String {
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty() && !h.contains(':'))
        .unwrap_or_else(|| "unknown-host".into())
}

/// Who holds a claim, parsed from `claimed_by` (see [`worker_id`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub kind: String,
    pub host: String,
    pub pid: Option<u32>,
}

impl Holder {
    pub fn parse(claimed_by: &str) -> Holder {
        let mut parts = claimed_by.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(kind), Some(host), Some(pid), Some(_)) => Holder {
                kind: kind.to_string(),
                host: host.to_string(),
                pid: pid.parse().ok(),
            },
            // Written by an older version ("fetch-PID-RANDOM", "PID-RANDOM").
            _ => Holder {
                kind: claimed_by.to_string(),
                host: String::new(),
                pid: None,
            },
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind.as_str() {
            "fetch" => "casebook fetch",
            "serve" => "casebook serve",
            other => other,
        };
        match self.pid {
            Some(pid) => write!(f, "{kind} (pid {pid} on {})", self.host),
            None => write!(f, "{kind}"),
        }
    }
}

/// Is this process alive? None when it cannot be told (no `/proc`).
fn process_alive(pid: u32) -> Option<bool> {
    if !std::path::Path::new("/proc/self/stat").exists() {
        return None;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `PID (COMM) STATE …`; COMM may hold spaces and parentheses. A zombie is dead.
        Ok(stat) => Some(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_none_or(|state| state != "Z" && state != "X"),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(false),
        Err(_) => None,
    }
}

/// A claim whose holder ran on this host and is no longer alive.
fn holder_is_gone(claimed_by: &str) -> bool {
    let h = Holder::parse(claimed_by);
    match h.pid {
        Some(pid) if h.host == this_host() => {
            pid != std::process::id() && process_alive(pid) == Some(false)
        }
        _ => false,
    }
}

/// A mailbox that another live process is polling.
#[derive(Debug, Clone)]
pub struct Busy {
    pub name: String,
    pub holder: Holder,
    /// Seconds since the holder last renewed its claim.
    pub renewed_secs_ago: i64,
    /// Seconds until the claim lapses unless renewed.
    pub expires_in_secs: i64,
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "mailbox {} skipped: {} is polling it (claim renewed {} s ago, lapses in {} s unless renewed)",
            self.name, self.holder, self.renewed_secs_ago, self.expires_in_secs
        )
    }
}

/// What [`claim`] got: the mailboxes now ours, and those another process holds.
#[derive(Debug, Default)]
pub struct Claims {
    pub claimed: Vec<MailboxRow>,
    pub busy: Vec<Busy>,
}

/// Claims mailboxes for `worker` so two pollers never read one mailbox at once.
/// `due_only`: only those whose next attempt has come (the server); else any
/// enabled mailbox (`casebook fetch`). `only`: one id. A claim is free when it was
/// never taken, has not been renewed for [`LEASE_SECONDS`], or its holder ran on this
/// host and is gone (killed); each is taken by compare-and-set on the old claim, so
/// of two pollers racing for it exactly one wins.
pub fn claim(
    conn: &mut DbConn,
    worker: &str,
    now: NaiveDateTime,
    due_only: bool,
    only: Option<i64>,
) -> QueryResult<Claims> {
    let stale = now - Duration::seconds(LEASE_SECONDS);
    let mut q = mailboxes::table
        .filter(mailboxes::enabled.eq(true))
        .select((
            mailboxes::id,
            mailboxes::name,
            mailboxes::claimed_by,
            mailboxes::claimed_at,
        ))
        .into_boxed();
    if due_only {
        q = q.filter(mailboxes::next_attempt_at.le(now));
    }
    if let Some(id) = only {
        q = q.filter(mailboxes::id.eq(id));
    }
    let candidates: Vec<(i64, String, Option<String>, Option<NaiveDateTime>)> =
        q.order(mailboxes::id.asc()).load(conn)?;
    let mut ids = Vec::new();
    let mut out = Claims::default();
    for (id, name, by, at) in candidates {
        let free = match (&by, at) {
            (None, _) | (_, None) => true,
            (Some(_), Some(at)) if at < stale => true,
            (Some(b), Some(_)) => holder_is_gone(b),
        };
        if free {
            let mut upd = diesel::update(mailboxes::table)
                .filter(mailboxes::id.eq(id))
                .into_boxed();
            upd = match &by {
                Some(b) => upd.filter(mailboxes::claimed_by.eq(b.clone())),
                None => upd.filter(mailboxes::claimed_by.is_null()),
            };
            upd = match at {
                Some(t) => upd.filter(mailboxes::claimed_at.eq(t)),
                None => upd.filter(mailboxes::claimed_at.is_null()),
            };
            let n = upd
                .set((
                    mailboxes::claimed_by.eq(worker),
                    mailboxes::claimed_at.eq(now),
                ))
                .execute(conn)?;
            if n == 1 {
                if let Some(b) = by.as_deref() {
                    tracing::warn!(mailbox = %name, previous = %Holder::parse(b),
                        "took over the claim of a poller that is gone");
                }
                ids.push(id);
                continue;
            }
            // Someone else was quicker: read who holds it now.
            let (by2, at2): (Option<String>, Option<NaiveDateTime>) = mailboxes::table
                .find(id)
                .select((mailboxes::claimed_by, mailboxes::claimed_at))
                .first(conn)?;
            out.busy.push(busy(name, by2.as_deref(), at2, now));
        } else {
            out.busy.push(busy(name, by.as_deref(), at, now));
        }
    }
    out.claimed = mailboxes::table
        .filter(mailboxes::id.eq_any(&ids))
        .order(mailboxes::id.asc())
        .select(MailboxRow::as_select())
        .load(conn)?;
    Ok(out)
}

fn busy(name: String, by: Option<&str>, at: Option<NaiveDateTime>, now: NaiveDateTime) -> Busy {
    let at = at.unwrap_or(now);
    Busy {
        name,
        holder: Holder::parse(by.unwrap_or("another poller")),
        renewed_secs_ago: (now - at).num_seconds().max(0),
        expires_in_secs: (at + Duration::seconds(LEASE_SECONDS) - now)
            .num_seconds()
            .max(0),
    }
}

/// Renews `worker`'s claim on a mailbox (the heartbeat of a running poll). False when
/// the claim is no longer `worker`'s: it lapsed and another poller took it over.
pub fn renew(conn: &mut DbConn, id: i64, worker: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let n = diesel::update(
        mailboxes::table
            .filter(mailboxes::id.eq(id))
            .filter(mailboxes::claimed_by.eq(worker)),
    )
    .set(mailboxes::claimed_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

/// Backoff after `failures` failed polls: poll interval ×2 each, capped at one hour.
pub fn backoff(poll_seconds: i64, failures: i64) -> Duration {
    let secs = poll_seconds
        .max(1)
        .saturating_mul(1i64 << failures.clamp(0, 12));
    Duration::seconds(secs.min(3600))
}

/// Records the result of a poll and releases the claim; does nothing when the claim
/// was lost meanwhile (the new holder records its own result). Returns whether it
/// was recorded.
pub fn finish(
    conn: &mut DbConn,
    row: &MailboxRow,
    result: Result<(), &str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let release = (
        mailboxes::claimed_by.eq(None::<String>),
        mailboxes::claimed_at.eq(None::<NaiveDateTime>),
    );
    let mut target = diesel::update(mailboxes::table)
        .filter(mailboxes::id.eq(row.id))
        .into_boxed();
    if let Some(w) = row.claimed_by.as_deref() {
        target = target.filter(mailboxes::claimed_by.eq(w.to_string()));
    }
    let n = match result {
        Ok(()) => target
            .set((
                mailboxes::last_error.eq(None::<String>),
                mailboxes::last_ok_at.eq(Some(now)),
                mailboxes::failures.eq(0i64),
                mailboxes::next_attempt_at.eq(now + Duration::seconds(row.poll_seconds.max(1))),
                release,
            ))
            .execute(conn)?,
        Err(e) => {
            let failures = row.failures + 1;
            target
                .set((
                    mailboxes::last_error.eq(Some(e.chars().take(500).collect::<String>())),
                    mailboxes::failures.eq(failures),
                    mailboxes::next_attempt_at.eq(now + backoff(row.poll_seconds, failures)),
                    release,
                ))
                .execute(conn)?
        }
    };
    Ok(n == 1)
}

/// Records how far the folder has been read, only while the claim is still ours.
pub(crate) fn set_position(
    conn: &mut DbConn,
    row: &MailboxRow,
    uidvalidity: Option<i64>,
    last_uid: i64,
) -> Result<(), MailboxError> {
    let mut target = diesel::update(mailboxes::table)
        .filter(mailboxes::id.eq(row.id))
        .into_boxed();
    if let Some(w) = row.claimed_by.as_deref() {
        target = target.filter(mailboxes::claimed_by.eq(w.to_string()));
    }
    let n = target
        .set((
            mailboxes::uidvalidity.eq(uidvalidity),
            mailboxes::last_uid.eq(last_uid),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(lost(conn, row));
    }
    Ok(())
}

/// The error for a claim that is no longer ours, naming the new holder.
pub(crate) fn lost(conn: &mut DbConn, row: &MailboxRow) -> MailboxError {
    let by: Option<String> = mailboxes::table
        .find(row.id)
        .select(mailboxes::claimed_by)
        .first(conn)
        .optional()
        .ok()
        .flatten()
        .flatten();
    MailboxError::ClaimLost(
        row.name.clone(),
        by.map(|b| Holder::parse(&b).to_string())
            .unwrap_or_else(|| "nobody (the claim was released)".into()),
    )
}

/// The background poller beside the server: claims due mailboxes and polls each on
/// its own blocking thread, so a slow or hanging server delays no other mailbox.
pub fn spawn_poller(state: actix_web::web::Data<crate::startup::AppState>) {
    let worker = worker_id("serve");
    actix_web::rt::spawn(async move {
        tracing::info!("mailbox poller started");
        loop {
            let st = state.clone();
            let w = worker.clone();
            let claimed =
                actix_web::web::block(move || -> Result<Vec<MailboxRow>, MailboxError> {
                    let mut c = st
                        .pool
                        .get()
                        .map_err(|e| MailboxError::Pool(e.to_string()))?;
                    Ok(claim(&mut c, &w, crate::now(), true, None)?.claimed)
                })
                .await;
            match claimed {
                Ok(Ok(rows)) => {
                    for row in rows {
                        let st = state.clone();
                        actix_web::rt::spawn(async move {
                            let _ = actix_web::web::block(move || {
                                let ctx = client::Ctx {
                                    pool: &st.pool,
                                    store: st.store.as_ref(),
                                    rules: &st.rules,
                                    keys: &st.keys,
                                    timeout: st.settings.imap_timeout(),
                                };
                                let _ = client::poll_claimed(&ctx, &row, &mut |_| {});
                            })
                            .await;
                        });
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "mailbox poller: cannot claim"),
                Err(e) => tracing::warn!(error = %e, "mailbox poller: cannot claim"),
            }
            actix_web::rt::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let (h, p, t, u, f) =
            parse_url("imaps://support%40example.com@imap.example.com/INBOX").expect("imaps");
        assert_eq!(
            (h.as_str(), p, t, u.as_str(), f.as_str()),
            (
                "imap.example.com",
                993,
                TlsMode::Imaps,
                "support@example.com",
                "INBOX"
            )
        );
        let (_, p, t, _, f) =
            parse_url("imap://u@mail.example.com:1143/Support/客户").expect("imap");
        assert_eq!(
            (p, t, f.as_str()),
            (1143, TlsMode::StartTls, "Support/客户")
        );
        let (_, p, t, _, _) = parse_url("imap://u@127.0.0.1:1430/INBOX").expect("loopback");
        assert_eq!((p, t), (1430, TlsMode::Plain));
        let (_, _, t, _, f) = parse_url("imap://u@localhost?tls=starttls").expect("query");
        assert_eq!((t, f.as_str()), (TlsMode::StartTls, "INBOX"));
        assert!(
            parse_url("imap://u:secret@host/INBOX").is_err(),
            "no password in URLs"
        );
        assert!(parse_url("http://u@host/INBOX").is_err());
        assert!(parse_url("imap://host/INBOX").is_err());
        assert!(parse_url("imap://u@host:notaport/INBOX").is_err());
    }

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
        };
        assert!(validate(&m).is_err());
        m.host = "::1".into();
        assert!(validate(&m).is_ok());
        m.password = None;
        assert!(validate(&m).is_err(), "a password is required");
    }

    #[test]
    fn claim_holders_on_this_host_that_are_gone_lose_their_claim() {
        let me = worker_id("fetch");
        let h = Holder::parse(&me);
        assert_eq!(
            (h.kind.as_str(), h.pid),
            ("fetch", Some(std::process::id()))
        );
        assert_eq!(h.host, this_host());
        assert!(h.to_string().starts_with("casebook fetch (pid "), "{h}");
        assert!(!holder_is_gone(&me), "this process is alive");
        // A child that has exited and been reaped: its pid is free.
        let mut child = std::process::Command::new("true").spawn().expect("true");
        let pid = child.id();
        child.wait().expect("wait");
        let dead = format!("fetch:{}:{pid}:00000000", this_host());
        if process_alive(pid).is_some() {
            assert!(holder_is_gone(&dead), "{dead}");
        }
        // Elsewhere, or written by an older version: only the lease tells.
        assert!(!holder_is_gone(&format!(
            "fetch:elsewhere.example:{pid}:00000000"
        )));
        assert!(!holder_is_gone(&format!("fetch-{pid}-abcd")));
        assert_eq!(Holder::parse("fetch-1-abcd").pid, None);
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(60, 1), Duration::seconds(120));
        assert_eq!(backoff(60, 3), Duration::seconds(480));
        assert_eq!(backoff(60, 40), Duration::seconds(3600));
    }
}
