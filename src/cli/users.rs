//! `casebook user` (add, passwd, list) and `casebook token` (create, list, revoke):
//! staff accounts and their API tokens.

use super::fail;
use crate::auth::users::{self, Role};
use crate::startup::AppState;
use clap::Subcommand;
use std::io::BufRead;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Create a user; the password is read from stdin (one line).
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: Role,
        /// A name the user signs with (repeatable), e.g. --alias Joy.
        #[arg(long = "alias")]
        aliases: Vec<String>,
    },
    /// Set a new password (read from stdin, one line); ends the user's sessions and
    /// revokes their API tokens.
    Passwd {
        #[arg(long)]
        email: String,
    },
    /// List users.
    List,
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Print a new bearer token for the JSON API, alone on stdout.
    Create {
        #[arg(long)]
        email: String,
        /// `full`: what the user's role allows; `inbound`: only POST /api/mail/inbound
        /// (for the MTA pipe / `casebook mailgate`); `inbound-internal`: the same, for a
        /// pipe that carries only mail from your authenticated staff (it counts as verified).
        #[arg(long, value_enum, default_value = "full")]
        scope: crate::auth::tokens::Scope,
        /// The token stops working after this many days (default: no expiry).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=crate::auth::tokens::MAX_EXPIRY_DAYS))]
        expires_days: Option<i64>,
    },
    /// List tokens (never the tokens themselves): id, owner, scope, created, last used, expiry.
    List {
        /// Only this user's tokens.
        #[arg(long)]
        email: Option<String>,
    },
    /// Revoke a token by the id `token list` shows.
    Revoke { id: i64 },
}

fn read_password() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("reading password from stdin: {e}"))?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    if pw.is_empty() {
        return Err("no password on stdin (give it as one line)".into());
    }
    Ok(pw)
}

/// `casebook user …`.
pub(super) fn user(state: &AppState, action: &UserCmd) -> ExitCode {
    let mut c = match state.pool.get() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    match action {
        UserCmd::Add {
            email,
            name,
            role,
            aliases,
        } => {
            let pw = match read_password() {
                Ok(p) => p,
                Err(e) => return fail(e),
            };
            match users::create(&mut c, email, name, *role, aliases, &pw) {
                Ok(u) => {
                    eprintln!("created {} ({}, {})", u.email, u.name, u.role);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        UserCmd::Passwd { email } => {
            let pw = match read_password() {
                Ok(p) => p,
                Err(e) => return fail(e),
            };
            match users::find_by_email(&mut c, email) {
                Ok(Some(u)) => match users::set_password(&mut c, u.id, &pw) {
                    Ok(()) => {
                        eprintln!(
                            "password changed for {}; their API tokens are revoked",
                            u.email
                        );
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(e),
                },
                Ok(None) => fail(format!("no user {email}")),
                Err(e) => fail(e),
            }
        }
        UserCmd::List => match users::list(&mut c) {
            Ok(list) => {
                for u in list {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        u.email,
                        u.name,
                        u.role,
                        u.aliases,
                        if u.disabled { "disabled" } else { "active" }
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    }
}

/// `casebook token create|list|revoke`.
pub(super) fn token(state: &AppState, action: &TokenCmd) -> ExitCode {
    use crate::auth::tokens;
    let mut c = match state.pool.get() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let now = crate::now();
    match action {
        TokenCmd::Create {
            email,
            scope,
            expires_days,
        } => match users::find_by_email(&mut c, email) {
            Ok(Some(u)) if !u.disabled => {
                match tokens::create(&mut c, u.id, *scope, *expires_days, now) {
                    Ok(t) => {
                        let _ = crate::cases::audit(
                            &mut c,
                            None,
                            "cli",
                            "token.created",
                            &format!("{} ({})", u.email, scope.as_str()),
                        );
                        println!("{t}");
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(e),
                }
            }
            Ok(Some(_)) => fail(format!("user {email} is disabled")),
            Ok(None) => fail(format!("no user {email}")),
            Err(e) => fail(e),
        },
        TokenCmd::List { email } => match tokens::list(&mut c, email.as_deref()) {
            Ok(list) => {
                let when = |t: Option<chrono::NaiveDateTime>, none: &str| {
                    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| none.to_string())
                };
                for t in list {
                    println!(
                        "{}\t{}\t{}\tcreated {}\tlast used {}\texpires {}{}",
                        t.id,
                        t.email,
                        t.scope.as_str(),
                        t.created_at.format("%Y-%m-%d %H:%M"),
                        when(t.last_used_at, "never"),
                        when(t.expires_at, "never"),
                        if t.is_expired(now) { " (expired)" } else { "" },
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        TokenCmd::Revoke { id } => match tokens::revoke(&mut c, *id) {
            Ok(true) => {
                let _ = crate::cases::audit(
                    &mut c,
                    None,
                    "cli",
                    "token.revoked",
                    &format!("token {id}"),
                );
                eprintln!("token {id} revoked");
                ExitCode::SUCCESS
            }
            Ok(false) => fail(format!("no token {id}")),
            Err(e) => fail(e),
        },
    }
}
