//! `casebook user` (add, passwd, list) and `casebook token create`: staff accounts.

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
    /// Set a new password (read from stdin, one line); ends the user's sessions.
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
    },
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
                        eprintln!("password changed for {}", u.email);
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

/// `casebook token create`: a bearer token for the JSON API, alone on stdout.
pub(super) fn token(state: &AppState, action: &TokenCmd) -> ExitCode {
    let TokenCmd::Create { email } = action;
    let mut c = match state.pool.get() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    match users::find_by_email(&mut c, email) {
        Ok(Some(u)) if !u.disabled => match crate::auth::tokens::create(&mut c, u.id) {
            Ok(t) => {
                println!("{t}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Ok(Some(_)) => fail(format!("user {email} is disabled")),
        Ok(None) => fail(format!("no user {email}")),
        Err(e) => fail(e),
    }
}
