//! The IMAP side (the sync `imap` crate, TLS by rustls), run on blocking threads.

use super::{finish, set_position, MailboxError, MailboxRow, TlsMode};
use crate::auth::Keys;
use crate::mail::{Outcome, Rules};
use crate::storage::BlobStore;
use imap::{ClientBuilder, ConnectionMode, TlsKind};

pub type Session = imap::Session<imap::Connection>;

fn imap_err(e: imap::Error) -> MailboxError {
    MailboxError::Imap(e.to_string())
}

/// Connects, logs in; errors say which step failed.
pub fn connect(row: &MailboxRow, password: &str) -> Result<Session, MailboxError> {
    let addr = format!("{}:{}", row.host, row.port);
    let port = u16::try_from(row.port)
        .map_err(|_| MailboxError::Invalid(format!("bad port {}", row.port)))?;
    let mode = match row.tls_mode() {
        TlsMode::Imaps => ConnectionMode::Tls,
        TlsMode::StartTls => ConnectionMode::StartTls,
        TlsMode::Plain => {
            if !super::is_loopback(&row.host) {
                return Err(MailboxError::Invalid(format!(
                    "plain IMAP without TLS is only allowed for loopback hosts, not {}",
                    row.host
                )));
            }
            ConnectionMode::Plaintext
        }
    };
    let client = ClientBuilder::new(row.host.as_str(), port)
        .mode(mode)
        .tls_kind(TlsKind::Rust)
        .connect()
        .map_err(|e| match e {
            imap::Error::Io(io) => MailboxError::Connect(addr.clone(), io.to_string()),
            imap::Error::RustlsHandshake(h) => MailboxError::Tls(addr.clone(), h.to_string()),
            imap::Error::StartTlsNotAvailable => {
                MailboxError::Tls(addr.clone(), "the server does not offer STARTTLS".into())
            }
            other => MailboxError::Connect(addr.clone(), other.to_string()),
        })?;
    client
        .login(&row.username, password)
        .map_err(|(e, _)| match e {
            imap::Error::No(no) => MailboxError::Auth(row.username.clone(), no.information),
            imap::Error::Bad(bad) => MailboxError::Auth(row.username.clone(), bad.information),
            other => imap_err(other),
        })
}

fn select(session: &mut Session, folder: &str) -> Result<imap::types::Mailbox, MailboxError> {
    session.select(folder).map_err(|e| match e {
        imap::Error::No(no) => MailboxError::Folder(folder.to_string(), no.information),
        other => imap_err(other),
    })
}

/// "Test connection": login, open the folder and the move-to folder.
pub fn test(row: &MailboxRow, keys: &Keys) -> Result<u32, MailboxError> {
    let pw = row.password(keys)?;
    let mut s = connect(row, &pw)?;
    if let Some(dest) = row.move_to.as_deref() {
        s.examine(dest).map_err(|e| match e {
            imap::Error::No(no) => MailboxError::Folder(dest.to_string(), no.information),
            other => imap_err(other),
        })?;
    }
    let mb = select(&mut s, &row.folder)?;
    let _ = s.logout();
    Ok(mb.exists)
}

/// What fetching needs besides the mailbox.
pub struct Ctx<'a> {
    pub pool: &'a crate::db::Pool,
    pub store: &'a dyn BlobStore,
    pub rules: &'a Rules,
    pub keys: &'a Keys,
}

/// Fetches every message above `last_uid`, ingests each, and only after its local
/// commit moves (or flags) it on the server and records the UID.
pub fn fetch_new(
    ctx: &Ctx<'_>,
    row: &MailboxRow,
    sink: &mut dyn FnMut(&Outcome),
) -> Result<usize, MailboxError> {
    let pw = row.password(ctx.keys)?;
    let mut s = connect(row, &pw)?;
    let mb = select(&mut s, &row.folder)?;
    let mut conn = ctx
        .pool
        .get()
        .map_err(|e| MailboxError::Pool(e.to_string()))?;
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
        set_position(&mut conn, row.id, uidvalidity, 0)?;
    }
    if mb.exists == 0 {
        let _ = s.logout();
        return Ok(0);
    }
    let mut uids: Vec<u32> = s
        .uid_search(format!("UID {}:*", last_uid + 1))
        .map_err(imap_err)?
        .into_iter()
        .filter(|u| i64::from(*u) > last_uid)
        .collect();
    uids.sort_unstable();
    let can_move = s.capabilities().map(|c| c.has_str("MOVE")).unwrap_or(false);
    let mut n = 0;
    for uid in uids {
        let fetches = s
            .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
            .map_err(imap_err)?;
        let Some(raw) = fetches
            .iter()
            .find(|f| f.uid == Some(uid))
            .and_then(|f| f.body())
        else {
            // Expunged meanwhile by another client: nothing to take.
            continue;
        };
        let source = format!("imap:{}/{};uid={uid}", row.name, row.folder);
        let outcomes = crate::mail::ingest_input(&mut conn, ctx.store, ctx.rules, raw, &source)?;
        // Reported once committed: every line printed is durable.
        for o in &outcomes {
            sink(o);
        }
        n += outcomes.len();
        // Committed locally: now, and only now, take it off the server's new mail.
        let uid_s = uid.to_string();
        match row.move_to.as_deref() {
            Some(dest) if can_move => s.uid_mv(&uid_s, dest).map_err(imap_err)?,
            Some(dest) => {
                s.uid_copy(&uid_s, dest).map_err(imap_err)?;
                s.uid_store(&uid_s, "+FLAGS.SILENT (\\Deleted)")
                    .map_err(imap_err)?;
                s.expunge().map_err(imap_err)?;
            }
            None => {
                s.uid_store(&uid_s, "+FLAGS.SILENT (\\Seen)")
                    .map_err(imap_err)?;
            }
        }
        set_position(&mut conn, row.id, uidvalidity, i64::from(uid))?;
    }
    let _ = s.logout();
    Ok(n)
}

/// Polls one claimed mailbox and records its health; errors stay with the mailbox.
pub fn poll_claimed(
    ctx: &Ctx<'_>,
    row: &MailboxRow,
    sink: &mut dyn FnMut(&Outcome),
) -> Result<usize, MailboxError> {
    let span = tracing::info_span!("mailbox.poll", mailbox = %row.name, host = %row.host);
    let _g = span.enter();
    let res = fetch_new(ctx, row, sink);
    let now = crate::now();
    let mut conn = ctx
        .pool
        .get()
        .map_err(|e| MailboxError::Pool(e.to_string()))?;
    match &res {
        Ok(n) => {
            if *n > 0 {
                tracing::info!(messages = n, "mailbox fetched");
            }
            finish(&mut conn, row, Ok(()), now)?;
        }
        Err(e) => {
            tracing::warn!(error = %e, "mailbox poll failed; will retry with backoff");
            finish(&mut conn, row, Err(&e.to_string()), now)?;
        }
    }
    res
}
