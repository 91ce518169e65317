//! The IMAP side (the sync `imap` crate, TLS by rustls), run on blocking threads.
//!
//! We open the socket ourselves (connect timeout, read and write timeouts) and hand
//! the `imap` crate a finished stream: plain TCP, TLS, or TCP upgraded by STARTTLS.
//! A server that accepts and then says nothing ends in a timeout error, never a hang.

use super::poller::{set_position, Ctx};
use super::{MailboxError, MailboxRow, TlsMode};
use crate::auth::Keys;
use crate::db::Direct;
use crate::mail::Outcome;
use rustls_connector::rustls;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub type Session = imap::Session<imap::Connection>;

/// Where an IMAP error happened, to name the server and the timeout.
struct Peer<'a> {
    addr: &'a str,
    timeout: Duration,
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

impl Peer<'_> {
    fn timed_out(&self, step: &'static str) -> MailboxError {
        MailboxError::Timeout(self.addr.to_string(), self.timeout.as_secs(), step)
    }

    fn io(&self, step: &'static str, e: std::io::Error) -> MailboxError {
        if is_timeout(&e) {
            self.timed_out(step)
        } else {
            MailboxError::Connect(self.addr.to_string(), e.to_string())
        }
    }

    fn imap(&self, step: &'static str, e: imap::Error) -> MailboxError {
        match e {
            imap::Error::Io(io) if is_timeout(&io) => self.timed_out(step),
            imap::Error::ConnectionLost => {
                MailboxError::Imap(format!("connection to {} lost ({step})", self.addr))
            }
            other => MailboxError::Imap(other.to_string()),
        }
    }
}

/// TCP with a connect timeout (each address in turn) and read/write timeouts.
fn open_tcp(host: &str, port: u16, peer: &Peer<'_>) -> Result<TcpStream, MailboxError> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| MailboxError::Connect(peer.addr.to_string(), e.to_string()))?;
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, peer.timeout) {
            Ok(tcp) => {
                tcp.set_read_timeout(Some(peer.timeout))
                    .and_then(|()| tcp.set_write_timeout(Some(peer.timeout)))
                    .map_err(|e| peer.io("setting up the socket", e))?;
                return Ok(tcp);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => peer.io("connecting", e),
        None => MailboxError::Connect(peer.addr.to_string(), "no address found".into()),
    })
}

/// The system's trusted roots (as the `imap` crate's own connector uses), built once.
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let certs =
                rustls_connector::rustls_native_certs::load_native_certs().unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot load the system's trusted certificates");
                    Vec::new()
                });
            let (_added, ignored) = roots.add_parsable_certificates(certs);
            if ignored > 0 {
                tracing::debug!(ignored, "some system certificates could not be parsed");
            }
            Arc::new(
                rustls::ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            )
        })
        .clone()
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS handshake over `tcp`, bounded by the socket timeouts; the certificate must
/// be trusted and name `host`.
fn tls(host: &str, mut tcp: TcpStream, peer: &Peer<'_>) -> Result<TlsStream, MailboxError> {
    let tls_err = |m: String| MailboxError::Tls(peer.addr.to_string(), m);
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| tls_err(format!("{host} is not a valid server name: {e}")))?;
    let mut conn =
        rustls::ClientConnection::new(tls_config(), name).map_err(|e| tls_err(e.to_string()))?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut tcp) {
            if is_timeout(&e) {
                return Err(peer.timed_out("in the TLS handshake"));
            }
            let hint = match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(rustls::Error::InvalidCertificate(c)) => match c {
                    rustls::CertificateError::NotValidForName => {
                        format!(" (the certificate does not name {host})")
                    }
                    rustls::CertificateError::Expired => " (the certificate has expired)".into(),
                    _ => " (the server's certificate is not trusted here: self-signed, or from \
                          an authority this system does not trust)"
                        .into(),
                },
                _ => String::new(),
            };
            return Err(tls_err(format!("{e}{hint}")));
        }
    }
    Ok(rustls::StreamOwned::new(conn, tcp))
}

/// The socket under a stream.
trait Sock {
    fn tcp(&self) -> &TcpStream;
}

impl Sock for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Sock for TlsStream {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
}

/// A stream whose read timeout is never lifted. IDLE sets its own longer wait and
/// afterwards asks for none at all, which here means the usual bound again: a server
/// that dies while we are idle cannot hang the mailbox's thread.
struct Bounded<S> {
    s: S,
    floor: Duration,
}

impl<S> Bounded<S> {
    fn new(s: S, floor: Duration) -> Self {
        Bounded { s, floor }
    }
}

impl<S: std::io::Read> std::io::Read for Bounded<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.s.read(buf)
    }
}

impl<S: std::io::Write> std::io::Write for Bounded<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.s.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.s.flush()
    }
}

impl<S: Sock> imap::extensions::idle::SetReadTimeout for Bounded<S> {
    fn set_read_timeout(&mut self, t: Option<Duration>) -> imap::Result<()> {
        self.s
            .tcp()
            .set_read_timeout(Some(t.unwrap_or(self.floor)))
            .map_err(imap::Error::Io)
    }
}

/// One line from the server, unbuffered (so nothing is read past it before TLS).
fn read_line(tcp: &mut TcpStream) -> std::io::Result<String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while line.len() < 8192 {
        match tcp.read(&mut b) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ))
            }
            Ok(_) if b[0] == b'\n' => break,
            Ok(_) => line.push(b[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&line)
        .trim_end_matches('\r')
        .to_string())
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

/// The greeting must be `* OK`; `* BYE` (shutting down, too many connections) is a
/// refusal, named as such.
fn check_greeting(line: &str, peer: &Peer<'_>) -> Result<(), MailboxError> {
    if line
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("* OK"))
    {
        Ok(())
    } else {
        Err(MailboxError::Connect(
            peer.addr.to_string(),
            format!("the server did not greet with OK: {}", short(line)),
        ))
    }
}

/// Greeting and STARTTLS in the clear, before the TLS handshake.
fn starttls(tcp: &mut TcpStream, peer: &Peer<'_>) -> Result<(), MailboxError> {
    let greeting = read_line(tcp).map_err(|e| peer.io("waiting for the greeting", e))?;
    check_greeting(&greeting, peer)?;
    tcp.write_all(b"cb0 STARTTLS\r\n")
        .and_then(|()| tcp.flush())
        .map_err(|e| peer.io("sending STARTTLS", e))?;
    for _ in 0..100 {
        let line = read_line(tcp).map_err(|e| peer.io("waiting for the STARTTLS answer", e))?;
        if let Some(rest) = line.strip_prefix("cb0 ") {
            if rest.get(..2).is_some_and(|s| s.eq_ignore_ascii_case("OK")) {
                return Ok(());
            }
            return Err(MailboxError::Tls(
                peer.addr.to_string(),
                format!("the server does not offer STARTTLS ({})", short(rest)),
            ));
        }
    }
    Err(MailboxError::Tls(
        peer.addr.to_string(),
        "no answer to STARTTLS".into(),
    ))
}

/// Connects, logs in; errors say which step failed. Every socket operation is bounded
/// by `timeout`.
pub fn connect(
    row: &MailboxRow,
    password: &str,
    timeout: Duration,
) -> Result<Session, MailboxError> {
    let addr = format!("{}:{}", row.host, row.port);
    let peer = Peer {
        addr: &addr,
        timeout,
    };
    let port = u16::try_from(row.port)
        .map_err(|_| MailboxError::Invalid(format!("bad port {}", row.port)))?;
    let mode = row.tls_mode();
    if mode == TlsMode::Plain && !super::is_loopback(&row.host) {
        return Err(MailboxError::Invalid(format!(
            "plain IMAP without TLS is only allowed for loopback hosts, not {}",
            row.host
        )));
    }
    let host = row.host.trim_start_matches('[').trim_end_matches(']');
    let mut tcp = open_tcp(host, port, &peer)?;
    let stream: imap::Connection = match mode {
        TlsMode::Imaps => Box::new(Bounded::new(tls(host, tcp, &peer)?, timeout)),
        TlsMode::StartTls => {
            starttls(&mut tcp, &peer)?;
            Box::new(Bounded::new(tls(host, tcp, &peer)?, timeout))
        }
        TlsMode::Plain => Box::new(Bounded::new(tcp, timeout)),
    };
    let mut client = imap::Client::new(stream);
    if mode == TlsMode::StartTls {
        // Read in the clear before the upgrade; no second greeting comes.
        client.greeting_read = true;
    } else {
        let greeting = client
            .read_greeting()
            .map_err(|e| peer.imap("waiting for the greeting", e))?;
        check_greeting(&String::from_utf8_lossy(&greeting), &peer)?;
    }
    if row.is_oauth() {
        let auth = super::oauth::XOAuth2 {
            user: &row.username,
            token: password,
        };
        return client
            .authenticate("XOAUTH2", &auth)
            .map_err(|(e, _)| match e {
                imap::Error::No(no) => {
                    MailboxError::Auth(row.username.clone(), format!("XOAUTH2: {}", no.information))
                }
                imap::Error::Bad(bad) => MailboxError::Auth(
                    row.username.clone(),
                    format!("XOAUTH2: {}", bad.information),
                ),
                other => peer.imap("logging in with XOAUTH2", other),
            });
    }
    client
        .login(&row.username, password)
        .map_err(|(e, _)| match e {
            imap::Error::No(no) => MailboxError::Auth(row.username.clone(), no.information),
            imap::Error::Bad(bad) => MailboxError::Auth(row.username.clone(), bad.information),
            other => peer.imap("logging in", other),
        })
}

/// A folder name as the server spells it: the `/` of our configuration becomes the
/// server's hierarchy separator (`.` on many servers), and a name that is not plain
/// ASCII is written in IMAP's modified UTF-7 ("已处理" is "&XfJZBHQG-").
fn wire_name(name: &str, delimiter: Option<&str>) -> String {
    let name = match delimiter {
        Some(d) if d != "/" && !d.is_empty() => name.replace('/', d),
        _ => name.to_string(),
    };
    if name.is_ascii() && !name.contains('&') {
        name
    } else {
        utf7_imap::encode_utf7_imap(name)
    }
}

/// The server's hierarchy separator (`LIST "" ""`, else that of INBOX or of any
/// top-level folder), when it says.
fn delimiter(session: &mut Session) -> Option<String> {
    for pattern in ["", "INBOX", "%"] {
        let Ok(names) = session.list(Some(""), Some(pattern)) else {
            continue;
        };
        if let Some(d) = names.iter().find_map(|n| n.delimiter().map(str::to_string)) {
            return Some(d);
        }
    }
    None
}

/// The configured folder and move-to folder, as this server spells them.
fn folders(session: &mut Session, row: &MailboxRow) -> (String, Option<String>) {
    let needs = |n: &str| n.contains('/') || !n.is_ascii() || n.contains('&');
    let any = needs(&row.folder) || row.move_to.as_deref().is_some_and(needs);
    let d = if any { delimiter(session) } else { None };
    (
        wire_name(&row.folder, d.as_deref()),
        row.move_to.as_deref().map(|m| wire_name(m, d.as_deref())),
    )
}

fn select(
    session: &mut Session,
    folder: &str,
    peer: &Peer<'_>,
) -> Result<imap::types::Mailbox, MailboxError> {
    session.select(folder).map_err(|e| match e {
        imap::Error::No(no) => MailboxError::Folder(folder.to_string(), no.information),
        other => peer.imap("opening the folder", other),
    })
}

/// Makes sure the move-to folder `dest` exists, creating it when the server has none
/// of that name (so a missing folder never leaves mail stuck in the inbox). Returns
/// whether it was created.
fn ensure_folder(session: &mut Session, dest: &str, peer: &Peer<'_>) -> Result<bool, MailboxError> {
    let found = session
        .list(Some(""), Some(dest))
        .map_err(|e| peer.imap("listing the move-to folder", e))?;
    if !found.is_empty() {
        return Ok(false);
    }
    session.create(dest).map_err(|e| match e {
        imap::Error::No(no) => MailboxError::Folder(
            dest.to_string(),
            format!(
                "it does not exist and could not be created: {}",
                no.information
            ),
        ),
        other => peer.imap("creating the move-to folder", other),
    })?;
    tracing::info!(folder = dest, "created the missing move-to folder");
    Ok(true)
}

/// What logs in: the password, or (XOAUTH2) a live access token.
fn secret_of(
    conn: Option<&mut crate::db::DbConn>,
    row: &MailboxRow,
    keys: &Keys,
    timeout: Duration,
) -> Result<String, MailboxError> {
    if row.is_oauth() {
        super::oauth::access_token(conn, row, keys, timeout, crate::now())
    } else {
        row.password(keys)
    }
}

/// "Test connection": login, open the folder and the move-to folder (created when
/// missing).
/// With `conn`, an XOAUTH2 token asked for here is kept on the row (a provider that
/// rotates refresh tokens may not take the old one again).
pub fn test(
    conn: Option<&mut crate::db::DbConn>,
    row: &MailboxRow,
    keys: &Keys,
    timeout: Duration,
) -> Result<u32, MailboxError> {
    let pw = secret_of(conn, row, keys, timeout)?;
    test_with(row, &pw, timeout)
}

/// As `test`, for settings not saved yet (an edit): nothing is written, and a token
/// asked for is handed back to be kept with the settings once they are saved.
pub fn test_fresh(
    row: &MailboxRow,
    keys: &Keys,
    timeout: Duration,
) -> Result<(u32, Option<super::oauth::Granted>), MailboxError> {
    if row.is_oauth() {
        let g = super::oauth::refresh(row, keys, timeout, crate::now())?;
        let n = test_with(row, &g.access_token, timeout)?;
        Ok((n, Some(g)))
    } else {
        Ok((test_with(row, &row.password(keys)?, timeout)?, None))
    }
}

fn test_with(row: &MailboxRow, pw: &str, timeout: Duration) -> Result<u32, MailboxError> {
    let addr = format!("{}:{}", row.host, row.port);
    let peer = Peer {
        addr: &addr,
        timeout,
    };
    let mut s = connect(row, pw, timeout)?;
    let (folder, move_to) = folders(&mut s, row);
    if let Some(dest) = move_to.as_deref() {
        ensure_folder(&mut s, dest, &peer)?;
        s.examine(dest).map_err(|e| match e {
            imap::Error::No(no) => MailboxError::Folder(dest.to_string(), no.information),
            other => peer.imap("opening the move-to folder", other),
        })?;
    }
    let mb = select(&mut s, &folder, &peer)?;
    let _ = s.logout();
    Ok(mb.exists)
}

/// Fetches every message above `last_uid`, ingests each, and only after its local
/// commit moves (or flags) it on the server and records the UID. Stops when `lost`
/// says the claim went to another poller.
pub fn fetch_new(
    ctx: &Ctx<'_>,
    row: &MailboxRow,
    lost: &AtomicBool,
    sink: &mut dyn FnMut(&Outcome),
) -> Result<usize, MailboxError> {
    fetch_and_idle(ctx, row, lost, sink, None).map(|(n, _)| n)
}

/// What IDLE waits between checks that the mailbox is still ours, enabled and
/// unchanged (a pause or an edit takes effect within this).
const IDLE_CHUNK: Duration = Duration::from_secs(20);

/// As `fetch_new`; then, when `idle` is given and the server offers IDLE, waits on
/// the same connection for new mail and fetches it as it comes, for up to `idle`
/// (which stays under the 29 minutes after which servers may drop an idle client).
/// Returns the messages taken and whether IDLE was used.
pub fn fetch_and_idle(
    ctx: &Ctx<'_>,
    row: &MailboxRow,
    lost: &AtomicBool,
    sink: &mut dyn FnMut(&Outcome),
    idle: Option<Duration>,
) -> Result<(usize, bool), MailboxError> {
    let addr = format!("{}:{}", row.host, row.port);
    let peer = Peer {
        addr: &addr,
        timeout: ctx.timeout,
    };
    let mut conn = ctx
        .pool
        .get()
        .map_err(|e| MailboxError::Pool(e.to_string()))?;
    let pw = secret_of(Some(&mut conn), row, ctx.keys, ctx.timeout)?;
    let mut s = connect(row, &pw, ctx.timeout)?;
    let (folder, move_to) = folders(&mut s, row);
    let mb = select(&mut s, &folder, &peer)?;
    let uidvalidity = mb.uid_validity.map(i64::from);
    let mut last_uid = row.last_uid;
    if uidvalidity != row.uidvalidity {
        if row.uidvalidity.is_some() {
            tracing::warn!(
                old = ?row.uidvalidity,
                new = ?uidvalidity,
                "UIDVALIDITY changed: reading the folder again (known messages come out as duplicates)"
            );
        }
        last_uid = 0;
        set_position(&mut conn, row, uidvalidity, 0)?;
    }
    let mut state = Batch {
        uidvalidity,
        last_uid,
        can_move: s.capabilities().map(|c| c.has_str("MOVE")).unwrap_or(false),
        folder_ready: false,
        found: 0,
    };
    let mut n = if mb.exists == 0 {
        0
    } else {
        fetch_batch(
            ctx,
            row,
            lost,
            sink,
            &mut s,
            &mut conn,
            &peer,
            move_to.as_deref(),
            &mut state,
        )?
    };
    let can_idle = s.capabilities().map(|c| c.has_str("IDLE")).unwrap_or(false);
    let Some(total) = idle.filter(|_| can_idle) else {
        let _ = s.logout();
        return Ok((n, false));
    };
    // No database connection is held while waiting: one per check and per fetch.
    drop(conn);
    let pooled = || {
        ctx.pool
            .get()
            .map_err(|e| MailboxError::Pool(e.to_string()))
    };
    let started = std::time::Instant::now();
    // Checked (and its health marked connected) before the first wait, then once per
    // wait, after it and before anything is fetched: a pause or an edit during a wait
    // or a fetch is seen there.
    if !still_current(&mut *pooled()?, row)? {
        let _ = s.logout();
        return Ok((n, true));
    }
    // Whether the last look took mail: then the folder is searched again before any
    // wait. A message that arrives while one is fetched or moved is announced
    // (`* N EXISTS`) in the answer to that FETCH or MOVE, and the `imap` crate drops
    // the untagged lines of some answers (MOVE's, STORE's); the server does not
    // announce it again in IDLE, so only a search that finds nothing may lead to one.
    let mut took = state.found > 0;
    loop {
        let chunk = IDLE_CHUNK.min(total.saturating_sub(started.elapsed()));
        if chunk.is_zero() || lost.load(Ordering::SeqCst) {
            break;
        }
        // New mail the server announced in its answer to an earlier command that the
        // crate keeps (the last, empty, SEARCH) is not announced again in IDLE either:
        // fetch it now instead of waiting a whole chunk for it.
        let announced = s
            .take_all_unsolicited()
            .any(|r| matches!(r, imap::types::UnsolicitedResponse::Exists(_)));
        // The `imap` crate panics (`unreachable!`) when a server answers IDLE with
        // anything but a continuation: that is this poll's error, not its thread's end.
        let waited = if announced || took {
            Ok(Ok(()))
        } else {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut h = s.idle();
                h.timeout(chunk).keepalive(false);
                h.wait_while(|r| !matches!(r, imap::types::UnsolicitedResponse::Exists(_)))
                    .map(|_| ())
            }))
        };
        match waited {
            Ok(r) => {
                r.map_err(|e| peer.imap("waiting for new mail (IDLE)", e))?;
            }
            Err(_) => {
                return Err(MailboxError::Imap(format!(
                    "{addr}: the server answered IDLE with something other than a continuation; will retry"
                )))
            }
        }
        if lost.load(Ordering::SeqCst) || !still_current(&mut *pooled()?, row)? {
            break; // paused or edited meanwhile: its mail waits for the new settings
        }
        // After every wait, not only when the server said EXISTS: an announcement that
        // came during a fetch or with the answer to DONE is not seen by the wait, and
        // a UID SEARCH above the position is cheap.
        let got = fetch_batch(
            ctx,
            row,
            lost,
            sink,
            &mut s,
            &mut *pooled()?,
            &peer,
            move_to.as_deref(),
            &mut state,
        )?;
        n += got;
        took = state.found > 0;
    }
    let _ = s.logout();
    Ok((n, true))
}

/// Whether the mailbox is still enabled and configured as `row` was when its poll
/// began (a pause or an edit ends an IDLE wait).
/// While waiting, the mailbox's health says it is connected.
fn still_current(conn: &mut crate::db::DbConn, row: &MailboxRow) -> Result<bool, MailboxError> {
    let now = super::find_id(conn, row.id)?;
    if now.claimed_by != row.claimed_by {
        return Ok(false);
    }
    {
        use crate::db::schema::mailboxes as m;
        use diesel::prelude::*;
        diesel::update(m::table.find(row.id))
            .set(m::last_ok_at.eq(Some(crate::now())))
            .exec(conn)?;
    }
    Ok(now.enabled
        && now.host == row.host
        && now.port == row.port
        && now.username == row.username
        && now.folder == row.folder
        && now.move_to == row.move_to
        && now.password_enc == row.password_enc
        && now.password_file == row.password_file)
}

/// Where a poll has got to in its folder.
struct Batch {
    uidvalidity: Option<i64>,
    last_uid: i64,
    can_move: bool,
    folder_ready: bool,
    /// New messages the last search found (taken or not: one expunged meanwhile
    /// gives no outcome, but its MOVE may still have hidden an arrival).
    found: usize,
}

/// Takes every message above the position, one at a time (see `fetch_new`).
#[allow(clippy::too_many_arguments)]
fn fetch_batch(
    ctx: &Ctx<'_>,
    row: &MailboxRow,
    lost: &AtomicBool,
    sink: &mut dyn FnMut(&Outcome),
    s: &mut Session,
    conn: &mut crate::db::DbConn,
    peer: &Peer<'_>,
    move_to: Option<&str>,
    state: &mut Batch,
) -> Result<usize, MailboxError> {
    let (uidvalidity, last_uid, can_move) = (state.uidvalidity, state.last_uid, state.can_move);
    let mut uids: Vec<u32> = s
        .uid_search(format!("UID {}:*", last_uid + 1))
        .map_err(|e| peer.imap("searching new mail", e))?
        .into_iter()
        .filter(|u| i64::from(*u) > last_uid)
        .collect();
    uids.sort_unstable();
    state.found = uids.len();
    if let (Some(dest), false, false) = (move_to, uids.is_empty(), state.folder_ready) {
        ensure_folder(s, dest, peer)?;
        state.folder_ready = true;
    }
    let mut n = 0;
    for uid in uids {
        if lost.load(Ordering::SeqCst) {
            return Err(super::poller::lost(conn, row));
        }
        let fetches = s
            .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
            .map_err(|e| peer.imap("fetching a message", e))?;
        let Some(raw) = fetches
            .iter()
            .find(|f| f.uid == Some(uid))
            .and_then(|f| f.body())
        else {
            // Expunged meanwhile by another client: nothing to take.
            continue;
        };
        let kind = if row.internal {
            "imap-internal"
        } else {
            "imap"
        };
        let source = format!("{kind}:{}/{};uid={uid}", row.name, row.folder);
        let outcomes = crate::mail::ingest_input(conn, ctx.store, ctx.rules, raw, &source)?;
        // Reported once committed: every line printed is durable.
        for o in &outcomes {
            sink(o);
        }
        n += outcomes.len();
        // Committed locally: now, and only now, take it off the server's new mail.
        let uid_s = uid.to_string();
        let moved = match move_to {
            Some(dest) if can_move => s.uid_mv(&uid_s, dest),
            Some(dest) => s
                .uid_copy(&uid_s, dest)
                .and_then(|()| s.uid_store(&uid_s, "+FLAGS.SILENT (\\Deleted)").map(drop))
                .and_then(|()| s.expunge().map(drop)),
            None => s.uid_store(&uid_s, "+FLAGS.SILENT (\\Seen)").map(drop),
        };
        state.last_uid = state.last_uid.max(i64::from(uid));
        match moved {
            Ok(()) => set_position(conn, row, uidvalidity, i64::from(uid))?,
            // The server refuses (a folder it will not take): the message is Casebook's
            // already, so the position moves past it and the mail behind it is not held
            // up; the refusal is the mailbox's error to see.
            Err(e @ (imap::Error::No(_) | imap::Error::Bad(_))) => {
                set_position(conn, row, uidvalidity, i64::from(uid))?;
                return Err(peer.imap("moving a fetched message", e));
            }
            // Cut off: fetched again next time, a duplicate, and moved then.
            Err(e) => return Err(peer.imap("moving a fetched message", e)),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod folder_tests {
    use super::wire_name;

    #[test]
    fn folder_names_as_the_server_spells_them() {
        assert_eq!(wire_name("Processed", Some("/")), "Processed");
        assert_eq!(wire_name("Archive/2023", Some(".")), "Archive.2023");
        assert_eq!(wire_name("已处理", Some(".")), "&XfJZBHQG-");
        assert_eq!(wire_name("Q&A", None), "Q&-A");
    }
}
