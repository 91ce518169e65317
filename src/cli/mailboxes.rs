//! `casebook mailbox` (add, edit, list, pause, resume, remove) and `casebook fetch`: the
//! IMAP mailboxes.

use super::{fail, summary};
use crate::startup::AppState;
use clap::Subcommand;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// XOAUTH2 instead of a password (Microsoft 365, Gmail): the provider's token
/// endpoint, the client, and files holding the secret and the refresh token (read
/// once, stored encrypted like passwords).
#[derive(clap::Args, Debug, Default)]
pub struct OAuthArgs {
    /// `password` (default) or `xoauth2`.
    #[arg(long)]
    auth: Option<String>,
    /// e.g. https://login.microsoftonline.com/TENANT/oauth2/v2.0/token
    #[arg(long)]
    token_url: Option<String>,
    #[arg(long)]
    client_id: Option<String>,
    #[arg(long)]
    client_secret_file: Option<PathBuf>,
    #[arg(long)]
    refresh_token_file: Option<PathBuf>,
}

fn read_secret(p: &Option<PathBuf>) -> Result<Option<String>, String> {
    match p {
        None => Ok(None),
        Some(p) => std::fs::read_to_string(p)
            .map(|s| Some(s.trim().to_string()))
            .map_err(|e| format!("{}: {e}", p.display())),
    }
}

impl OAuthArgs {
    /// The XOAUTH2 settings given, on top of `old` (an edit keeps what is not given).
    fn input(
        &self,
        old: Option<&crate::mailboxes::MailboxRow>,
    ) -> Result<Option<crate::mailboxes::store::OAuthInput>, String> {
        let was = old.is_some_and(|r| r.is_oauth());
        let wanted = match self.auth.as_deref() {
            Some("xoauth2") => true,
            Some("password") => false,
            Some(other) => return Err(format!("--auth {other}: use password or xoauth2")),
            None => was,
        };
        if !wanted {
            return Ok(None);
        }
        Ok(Some(crate::mailboxes::store::OAuthInput {
            token_url: self
                .token_url
                .clone()
                .or_else(|| old.and_then(|r| r.oauth_token_url.clone()))
                .unwrap_or_default(),
            client_id: self
                .client_id
                .clone()
                .or_else(|| old.and_then(|r| r.oauth_client_id.clone()))
                .unwrap_or_default(),
            client_secret: read_secret(&self.client_secret_file)?,
            refresh_token: read_secret(&self.refresh_token_file)?,
        }))
    }
}

#[derive(Subcommand, Debug)]
pub enum MailboxCmd {
    /// Add a mailbox: `--url imap://USER@HOST:PORT/FOLDER` or `imaps://…`
    /// (`?tls=plain` for a loopback server without TLS).
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        url: String,
        /// File holding the password (read at each poll; never stored in the database).
        /// Not with --auth xoauth2.
        #[arg(long)]
        password_file: Option<PathBuf>,
        #[command(flatten)]
        oauth: OAuthArgs,
        /// Move processed mail to this folder (default: flag it \Seen and leave it).
        #[arg(long)]
        move_to: Option<String>,
        /// Seconds between polls.
        #[arg(long, default_value_t = crate::mailboxes::DEFAULT_POLL_SECONDS)]
        poll_seconds: i64,
        /// The mailbox only receives mail your MTA accepted from authenticated staff:
        /// staff mail read from it counts as verified (see the README).
        #[arg(long)]
        internal: bool,
        /// Save without first testing the connection, the login, the folder and the
        /// move-to folder (created there when missing).
        #[arg(long)]
        no_test: bool,
    },
    /// Change a mailbox: only what is given changes. Tested before it is saved
    /// (unless --no-test); a change of server, account or folder reads the new folder
    /// from its start (mail already here is not filed twice).
    Edit {
        #[arg(long)]
        name: String,
        /// A new name.
        #[arg(long)]
        rename: Option<String>,
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Move processed mail to this folder; "" to flag it \Seen instead.
        #[arg(long)]
        move_to: Option<String>,
        #[arg(long)]
        poll_seconds: Option<i64>,
        #[arg(long)]
        no_test: bool,
        #[command(flatten)]
        oauth: OAuthArgs,
    },
    /// List mailboxes and their health.
    List,
    /// Stop polling a mailbox (kept, with its position).
    Pause {
        #[arg(long)]
        name: String,
    },
    /// Poll a paused or backed-off mailbox again, at once.
    Resume {
        #[arg(long)]
        name: String,
    },
    /// Remove a mailbox (mail already fetched stays).
    Remove {
        #[arg(long)]
        name: String,
    },
}

pub(super) fn mailbox(state: &AppState, action: &MailboxCmd) -> ExitCode {
    use crate::mailboxes;
    let mut c = match state.pool.get() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    match action {
        MailboxCmd::Add {
            name,
            url,
            password_file,
            move_to,
            poll_seconds,
            internal,
            no_test,
            oauth,
        } => {
            let (host, port, tls, username, folder) = match mailboxes::parse_url(url) {
                Ok(p) => p,
                Err(e) => return fail(e),
            };
            let oauth = match oauth.input(None) {
                Ok(o) => o,
                Err(e) => return fail(e),
            };
            let password_file = match (password_file, &oauth) {
                (Some(f), None) => {
                    let abs = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
                    if let Err(e) = std::fs::read_to_string(&abs) {
                        return fail(format!("password file {}: {e}", abs.display()));
                    }
                    Some(abs.display().to_string())
                }
                (None, None) => return fail("--password-file is required (or --auth xoauth2)"),
                (_, Some(_)) => None,
            };
            let m = mailboxes::NewMailbox {
                name: name.clone(),
                host,
                port,
                tls,
                username,
                password: None,
                password_file,
                folder,
                move_to: move_to.clone(),
                poll_seconds: *poll_seconds,
                internal: *internal,
                oauth,
            };
            if let Err(e) = mailboxes::add(&mut c, &state.keys, &m) {
                return fail(e);
            }
            if !*no_test {
                // Saved, tested, and taken back when the test fails: nothing is held
                // locked while the server is asked.
                let tested = mailboxes::find(&mut c, name).and_then(|row| {
                    mailboxes::client::test(
                        Some(&mut c),
                        &row,
                        &state.keys,
                        state.settings.imap_timeout(),
                    )
                });
                match tested {
                    Ok(n) => eprintln!("mailbox {name}: connection, login and folders ok ({n} message(s) in the folder)"),
                    Err(e) => {
                        if let Err(r) = mailboxes::remove(&mut c, name) {
                            return fail(r);
                        }
                        eprintln!("error: mailbox {name} not added: {e}");
                        eprintln!("(fix it and add again, or add with --no-test to save it as it is)");
                        return ExitCode::from(1);
                    }
                }
            }
            eprintln!("mailbox {name} added");
            ExitCode::SUCCESS
        }
        MailboxCmd::Edit {
            name,
            rename,
            url,
            password_file,
            move_to,
            poll_seconds,
            no_test,
            oauth,
        } => {
            let row = match mailboxes::find(&mut c, name) {
                Ok(r) => r,
                Err(e) => return fail(e),
            };
            let oauth = match oauth.input(Some(&row)) {
                Ok(o) => o,
                Err(e) => return fail(e),
            };
            let mut m = mailboxes::NewMailbox {
                name: rename.clone().unwrap_or_else(|| row.name.clone()),
                host: row.host.clone(),
                port: u16::try_from(row.port).unwrap_or(993),
                tls: row.tls_mode(),
                username: row.username.clone(),
                password: None,
                password_file: None,
                folder: row.folder.clone(),
                move_to: move_to.clone().or_else(|| row.move_to.clone()),
                poll_seconds: poll_seconds.unwrap_or(row.poll_seconds),
                internal: row.internal,
                oauth,
            };
            if let Some(url) = url {
                match mailboxes::parse_url(url) {
                    Ok((host, port, tls, username, folder)) => {
                        (m.host, m.port, m.tls, m.username, m.folder) =
                            (host, port, tls, username, folder);
                    }
                    Err(e) => return fail(e),
                }
            }
            if let Some(pf) = password_file {
                let abs = std::fs::canonicalize(pf).unwrap_or_else(|_| pf.clone());
                if let Err(e) = std::fs::read_to_string(&abs) {
                    return fail(format!("password file {}: {e}", abs.display()));
                }
                m.password_file = Some(abs.display().to_string());
            }
            // Checked first, so that nothing stored goes anywhere the save would refuse.
            let next = match mailboxes::prepare_edit(&mut c, &state.keys, row.id, &m) {
                Ok(n) => n,
                Err(e) => return fail(e),
            };
            let mut granted = None;
            if !*no_test {
                match mailboxes::client::test_fresh(
                    &next,
                    &state.keys,
                    state.settings.imap_timeout(),
                ) {
                    Ok((_, g)) => granted = g,
                    Err(e) => {
                        eprintln!("error: mailbox {name} not changed: {e}");
                        eprintln!(
                            "(the old settings stay; edit with --no-test to save it as it is)"
                        );
                        return ExitCode::from(1);
                    }
                }
            }
            match mailboxes::update(&mut c, &state.keys, row.id, &m) {
                Ok(r) => {
                    if let Some(g) = granted {
                        if let Err(e) = mailboxes::oauth::keep(&mut c, &r, &state.keys, &g) {
                            return fail(e);
                        }
                    }
                    eprintln!("mailbox {} saved", r.name);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        MailboxCmd::Pause { name } => match mailboxes::set_enabled(&mut c, name, false) {
            Ok(()) => {
                eprintln!("mailbox {name} paused");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        MailboxCmd::Resume { name } => match mailboxes::set_enabled(&mut c, name, true) {
            Ok(()) => {
                eprintln!("mailbox {name} resumed");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        MailboxCmd::List => match mailboxes::list(&mut c) {
            Ok(list) => {
                for m in list {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        m.name,
                        m.url(),
                        m.move_to.as_deref().unwrap_or("(flag seen)"),
                        if m.enabled { "enabled" } else { "disabled" },
                        m.last_ok_at
                            .map(|t| format!("ok {}", crate::cases::detail::rfc3339(&t)))
                            .unwrap_or_else(|| "never ok".into()),
                        m.last_error.as_deref().unwrap_or("-"),
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        MailboxCmd::Remove { name } => match mailboxes::remove(&mut c, name) {
            Ok(()) => {
                eprintln!("mailbox {name} removed");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    }
}

/// `casebook fetch`: every enabled mailbox (or one) once; exits non-zero if any failed.
/// A mailbox another live process is polling is skipped, and said so on stderr.
pub(super) fn fetch(state: &AppState, only: Option<&str>, json: bool) -> ExitCode {
    use crate::mailboxes;
    let worker = mailboxes::worker_id("fetch");
    let claims = {
        let mut c = match state.pool.get() {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        let only_id = match only {
            Some(name) => match mailboxes::find(&mut c, name) {
                Ok(m) if !m.enabled => return fail(format!("mailbox {name} is disabled")),
                Ok(m) => Some(m.id),
                Err(e) => return fail(e),
            },
            None => None,
        };
        match mailboxes::claim(&mut c, &worker, crate::now(), false, only_id) {
            Ok(r) => r,
            Err(e) => return fail(e),
        }
    };
    for b in &claims.busy {
        eprintln!("casebook: {b}");
    }
    if only.is_some() && claims.claimed.is_empty() {
        // The one mailbox asked for was not fetched: not a success.
        return ExitCode::FAILURE;
    }
    let rows = claims.claimed;
    let ctx = mailboxes::Ctx {
        pool: &state.pool,
        store: state.store.as_ref(),
        rules: &state.rules,
        keys: &state.keys,
        timeout: state.settings.imap_timeout(),
        clock: &crate::clock::SystemClock,
    };
    let stdout = std::io::stdout();
    let mut failed = 0;
    let mut counts = std::collections::BTreeMap::<&'static str, usize>::new();
    for row in rows {
        let mut sink = |o: &crate::mail::Outcome| {
            *counts.entry(o.outcome.as_str()).or_default() += 1;
            let _ = writeln!(stdout.lock(), "{}", o.line(json));
        };
        if let Err(e) = mailboxes::poll_claimed(&ctx, &row, &mut sink) {
            eprintln!("casebook: mailbox {}: {e}", row.name);
            failed += 1;
        }
    }
    if json {
        eprintln!("{}", summary(&counts));
    } else {
        println!("{}", summary(&counts));
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
