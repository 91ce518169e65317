//! The `casebook` command line: global flags with env fallbacks, and subcommands.

use crate::auth::users::{self, Role};
use crate::config::Settings;
use crate::startup::{build_state, AppState};
use crate::telemetry::LogFormat;
use clap::{Parser, Subcommand};
use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "casebook",
    version,
    about = "Support case tracking for teams that work over email"
)]
pub struct Cli {
    /// Holds the SQLite file and stored files (raw mail, attachments).
    #[arg(
        long,
        env = "CASEBOOK_DATA_DIR",
        default_value = "./casebook-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Database URL; default is the SQLite file in the data dir. `postgres://…` selects PostgreSQL.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Log format on stderr.
    #[arg(
        long,
        env = "CASEBOOK_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// Prefix of the tracking token Casebook issues (CMIT gives CMIT:0001234).
    #[arg(
        long,
        env = "CASEBOOK_TOKEN_PREFIX",
        default_value = "CMIT",
        global = true
    )]
    pub token_prefix: String,
    /// Further tracking-token prefixes to recognise in incoming mail (comma-separated).
    #[arg(
        long,
        env = "CASEBOOK_TOKEN_PREFIXES",
        value_delimiter = ',',
        global = true
    )]
    pub token_prefixes: Vec<String>,
    /// Regular expression for product serial numbers.
    #[arg(long, env = "CASEBOOK_SERIAL_PATTERN", default_value = crate::config::DEFAULT_SERIAL_PATTERN, global = true)]
    pub serial_pattern: String,
    /// Mail domains whose senders are staff even without an account (comma-separated).
    #[arg(
        long,
        env = "CASEBOOK_STAFF_DOMAINS",
        value_delimiter = ',',
        global = true
    )]
    pub staff_domains: Vec<String>,
    /// A reply to a case closed longer ago than this many days opens a new, linked case.
    #[arg(
        long,
        env = "CASEBOOK_REOPEN_WINDOW_DAYS",
        default_value_t = 30,
        global = true
    )]
    pub reopen_window_days: i64,
    /// Largest accepted message or upload, in MiB.
    #[arg(
        long,
        env = "CASEBOOK_MAX_MESSAGE_MB",
        default_value_t = 50,
        global = true
    )]
    pub max_message_mb: usize,
    /// Outgoing mail server: smtp://host:port, smtps://user:pass@host:465, smtp://host:587?tls=required.
    /// Without it, outgoing mail is written to files under the data dir.
    #[arg(long, env = "CASEBOOK_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// File holding the SMTP password (instead of putting it in the URL).
    #[arg(long, env = "CASEBOOK_SMTP_PASSWORD_FILE", global = true)]
    pub smtp_password_file: Option<PathBuf>,
    /// Sender of outgoing mail.
    #[arg(
        long,
        env = "CASEBOOK_MAIL_FROM",
        default_value = "Casebook <casebook@localhost>",
        global = true
    )]
    pub mail_from: String,
    /// First-response SLA in minutes for priorities low,normal,high,urgent.
    #[arg(long, env = "CASEBOOK_SLA_MINUTES", value_delimiter = ',', default_values_t = [1440i64, 480, 120, 30], global = true)]
    pub sla_minutes: Vec<i64>,
    /// Hours after which an escalation waiting on R&D is flagged.
    #[arg(
        long,
        env = "CASEBOOK_ESCALATION_OVERDUE_HOURS",
        default_value_t = 48,
        global = true
    )]
    pub escalation_overdue_hours: i64,
    /// Do not mail R&D when an escalation opens or gets a follow-up.
    #[arg(long, env = "CASEBOOK_NO_RND_NOTIFY", global = true)]
    pub no_rnd_notify: bool,
    /// Seconds between outbox runs.
    #[arg(
        long,
        env = "CASEBOOK_OUTBOX_INTERVAL",
        default_value_t = 2,
        global = true
    )]
    pub outbox_interval: u64,
    /// Log database queries slower than this many milliseconds (SQL text, never values); 0 logs every query.
    #[arg(
        long,
        env = "CASEBOOK_SLOW_QUERY_MS",
        default_value_t = 250,
        global = true
    )]
    pub slow_query_ms: u64,
    /// Seconds an IMAP server may take to accept a connection or to answer (each read
    /// and write); past it the poll fails with a timeout and is retried with backoff.
    #[arg(
        long,
        env = "CASEBOOK_IMAP_TIMEOUT",
        default_value_t = crate::mailboxes::DEFAULT_IMAP_TIMEOUT_SECONDS,
        global = true
    )]
    pub imap_timeout: u64,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server.
    Serve {
        #[arg(long, env = "CASEBOOK_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        /// Mark cookies Secure (serve behind HTTPS).
        #[arg(long, env = "CASEBOOK_SECURE_COOKIES")]
        secure_cookies: bool,
        /// Database connections in the pool.
        #[arg(long, env = "CASEBOOK_DB_POOL", default_value_t = 8)]
        db_pool: u32,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Ingest .eml files, mbox files, thread exports or directories of them; `-` reads stdin.
    Ingest {
        /// One JSON object per offered message on stdout, nothing else.
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Manage staff accounts.
    User {
        #[command(subcommand)]
        action: UserCmd,
    },
    /// Consistent copy of the database and stored files while the server runs (SQLite).
    Backup {
        /// Destination directory (created; must be empty).
        dest: PathBuf,
    },
    /// Restore a backup made by `casebook backup` into an empty data dir.
    Restore {
        /// The backup directory.
        src: PathBuf,
    },
    /// Activation records from the activation platform.
    Activation {
        #[command(subcommand)]
        action: ActivationCmd,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenCmd,
    },
    /// Measure ingestion: a generated corpus into a fresh SQLite database (see BENCHMARKS.md).
    BenchIngest {
        #[arg(long, default_value_t = 50_000)]
        messages: usize,
        #[arg(long, default_value_t = 5_000)]
        threads: usize,
        /// Messages per transaction.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Keep the database in DATA_DIR/bench-data (for scripts/bench).
        #[arg(long)]
        keep: bool,
    },
    /// IMAP mailboxes Casebook polls itself.
    Mailbox {
        #[command(subcommand)]
        action: MailboxCmd,
    },
    /// Fetch new mail from the mailboxes once (for cron); the server polls by itself.
    Fetch {
        /// Only this mailbox.
        #[arg(long)]
        mailbox: Option<String>,
        /// One JSON object per message on stdout (as `casebook ingest --json`), nothing else.
        #[arg(long)]
        json: bool,
    },
    /// Read one message on stdin and post it to a Casebook server (for an MTA pipe).
    Mailgate {
        /// e.g. http://127.0.0.1:8080/api/mail/inbound
        #[arg(long, env = "CASEBOOK_INBOUND_URL")]
        url: String,
        /// File holding the bearer token.
        #[arg(long, env = "CASEBOOK_TOKEN_FILE")]
        token_file: PathBuf,
    },
}

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
pub enum ActivationCmd {
    /// Import a CSV export (column mapping in the README); bad rows are reported with
    /// their line numbers, good rows imported; a re-import adds nothing.
    Import {
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
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
        #[arg(long)]
        password_file: PathBuf,
        /// Move processed mail to this folder (default: flag it \Seen and leave it).
        #[arg(long)]
        move_to: Option<String>,
        /// Seconds between polls.
        #[arg(long, default_value_t = crate::mailboxes::DEFAULT_POLL_SECONDS)]
        poll_seconds: i64,
    },
    /// List mailboxes and their health.
    List,
    /// Remove a mailbox (mail already fetched stays).
    Remove {
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Print a new bearer token for the JSON API, alone on stdout.
    Create {
        #[arg(long)]
        email: String,
    },
}

impl Cli {
    pub fn settings(&self) -> Settings {
        let mut s = Settings::for_data_dir(self.data_dir.clone());
        if let Some(url) = self
            .database_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        {
            s.database_url = url.to_string();
        }
        s.token_prefix = self.token_prefix.trim().to_ascii_uppercase();
        s.token_prefixes = std::iter::once(s.token_prefix.clone())
            .chain(
                self.token_prefixes
                    .iter()
                    .map(|p| p.trim().to_ascii_uppercase()),
            )
            .filter(|p| !p.is_empty())
            .collect();
        s.token_prefixes.dedup();
        s.serial_pattern = self.serial_pattern.clone();
        s.staff_domains = self
            .staff_domains
            .iter()
            .map(|d| d.trim().to_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        s.reopen_window_days = self.reopen_window_days;
        s.max_message_bytes = self.max_message_mb.saturating_mul(1024 * 1024);
        s.smtp_url = self.smtp_url.clone().filter(|u| !u.trim().is_empty());
        if let (Some(url), Some(file)) = (&s.smtp_url, &self.smtp_password_file) {
            if let Ok(pw) = std::fs::read_to_string(file) {
                s.smtp_url = Some(crate::mail::outbound::url_with_password(url, pw.trim()));
            }
        }
        s.mail_from = self.mail_from.clone();
        for (i, m) in self.sla_minutes.iter().take(4).enumerate() {
            s.sla_minutes[i] = *m;
        }
        s.escalation_overdue_hours = self.escalation_overdue_hours;
        s.notify_rnd = !self.no_rnd_notify;
        s.outbox_interval_secs = self.outbox_interval.max(1);
        crate::db::set_slow_query_ms(self.slow_query_ms);
        s.imap_timeout_secs = self.imap_timeout.max(1);
        s
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("casebook: {msg}");
    ExitCode::FAILURE
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

pub fn run(cli: Cli) -> ExitCode {
    let settings = cli.settings();
    match cli.command {
        Command::Serve {
            ref bind,
            secure_cookies,
            db_pool,
        } => {
            let mut settings = settings;
            settings.secure_cookies = secure_cookies;
            crate::startup::limit_malloc_arenas();
            let state = match build_state(settings, db_pool) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            if let Ok(mut c) = state.pool.get() {
                if users::count(&mut c).unwrap_or(1) == 0 {
                    eprintln!(
                        "No users yet. Create the first admin with: casebook user add --email you@example.com --name \"Your Name\" --role admin   (password on stdin)"
                    );
                }
            }
            let bind = bind.clone();
            match actix_web::rt::System::new().block_on(crate::startup::serve(state, &bind)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(format!("server: {e}")),
            }
        }
        Command::Migrate => match build_state(settings, 1) {
            Ok(_) => {
                eprintln!("migrations applied");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::Ingest { json, ref paths } => match build_state(settings, 2) {
            Ok(state) => ingest(&state, paths, json),
            Err(e) => fail(e),
        },
        Command::User { ref action } => {
            let state = match build_state(settings, 1) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
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
        Command::Token {
            action: TokenCmd::Create { ref email },
        } => {
            let state = match build_state(settings, 1) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
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
        Command::Mailgate {
            ref url,
            ref token_file,
        } => mailgate(url, token_file),
        Command::Mailbox { ref action } => match build_state(settings, 1) {
            Ok(state) => mailbox_cmd(&state, action),
            Err(e) => fail(e),
        },
        Command::Fetch { ref mailbox, json } => match build_state(settings, 3) {
            Ok(state) => fetch(&state, mailbox.as_deref(), json),
            Err(e) => fail(e),
        },
        Command::Activation {
            action: ActivationCmd::Import { ref file, json },
        } => {
            let state = match build_state(settings, 1) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            activation_import(&state, file, json)
        }
        Command::Backup { ref dest } => match crate::backup::backup(&settings, dest) {
            Ok(r) => {
                eprintln!(
                    "backup written to {}: database {} bytes, {} stored files",
                    dest.display(),
                    r.0,
                    r.1
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::Restore { ref src } => match crate::backup::restore(&settings, src) {
            Ok(n) => {
                eprintln!(
                    "restored into {} ({n} stored files)",
                    settings.data_dir.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::BenchIngest {
            messages,
            threads,
            batch,
            keep,
        } => match crate::bench::run(&settings, messages, threads, batch, keep) {
            Ok(r) => {
                let parse_rate = r.parse_messages as f64 / r.parse_secs;
                let ingest_rate = r.messages as f64 / r.ingest_secs;
                println!("messages            {} in {} cases", r.messages, r.threads);
                println!("corpus              {:.1} MiB", r.bytes as f64 / 1048576.0);
                println!("activation records  {}", r.activation_records);
                println!(
                    "parse only          {:.2} s   {:.0} msg/s  (mail-parser ceiling, {} messages)",
                    r.parse_secs, parse_rate, r.parse_messages
                );
                println!("ingest end to end   {:.2} s   {:.0} msg/s  (stored raw, parsed, threaded, committed to SQLite)", r.ingest_secs, ingest_rate);
                println!("ratio to ceiling    {:.2}", ingest_rate / parse_rate);
                println!(
                    "search indexing    {:.2} s   {:.0} msg/s  (after ingest, as the server's background indexer does)",
                    r.index_secs,
                    r.messages as f64 / r.index_secs
                );
                println!("outcomes            {:?}", r.outcomes);
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    }
}

fn collect_files(path: &std::path::Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            collect_files(&e, out)?;
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

fn ingest(state: &AppState, paths: &[PathBuf], json: bool) -> ExitCode {
    let mut files = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            files.push(p.clone());
            continue;
        }
        if let Err(e) = collect_files(p, &mut files) {
            return fail(format!("{}: {e}", p.display()));
        }
    }
    let mut conn = match state.pool.get() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Err(e) = crate::db::tune_for_bulk(&mut conn) {
        return fail(e);
    }
    // Bulk mode: many messages per transaction, stored files flushed once per batch.
    let store = match crate::storage::DirStore::new(state.settings.blob_dir()) {
        Ok(s) => s.with_deferred_sync(),
        Err(e) => return fail(e),
    };
    let staff = match crate::mail::Staff::load(&mut conn) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    const BATCH: usize = 1000;
    let mut counts = std::collections::BTreeMap::<&'static str, usize>::new();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut pending: Vec<crate::mail::Outcome> = Vec::new();
    let mut flush = |conn: &mut crate::db::DbConn,
                     pending: &mut Vec<crate::mail::Outcome>,
                     out: &mut std::io::StdoutLock,
                     reopen: bool|
     -> Result<(), String> {
        store.sync_all().map_err(|e| e.to_string())?;
        crate::db::end_batch(conn, true).map_err(|e| e.to_string())?;
        // Printed only once committed: every line printed is durable.
        for o in pending.drain(..) {
            *counts.entry(o.outcome.as_str()).or_default() += 1;
            let line = if json {
                serde_json::to_string(&o).unwrap_or_default()
            } else {
                format!(
                    "{:<11} {:<18} {}{}",
                    o.outcome.as_str(),
                    o.case_number.as_deref().unwrap_or("-"),
                    o.source,
                    o.reason
                        .as_deref()
                        .map(|r| format!("  ({r})"))
                        .unwrap_or_default()
                )
            };
            writeln!(out, "{line}").map_err(|e| e.to_string())?;
        }
        if reopen {
            crate::db::begin_batch(conn).map_err(|e| e.to_string())?;
        }
        Ok(())
    };
    if let Err(e) = crate::db::begin_batch(&mut conn) {
        return fail(e);
    }
    for f in files {
        let (raw, source) = if f.as_os_str() == "-" {
            let mut buf = Vec::new();
            if let Err(e) = std::io::stdin().read_to_end(&mut buf) {
                return fail(format!("stdin: {e}"));
            }
            (buf, "stdin".to_string())
        } else {
            match std::fs::read(&f) {
                Ok(b) => (b, f.display().to_string()),
                Err(e) => {
                    eprintln!("casebook: skipping {}: {e}", f.display());
                    continue;
                }
            }
        };
        match crate::mail::ingest_input_with(&mut conn, &store, &state.rules, &staff, &raw, &source)
        {
            Ok(o) => pending.extend(o),
            Err(e) => {
                let _ = crate::db::end_batch(&mut conn, false);
                return fail(format!("{source}: {e}"));
            }
        }
        if pending.len() >= BATCH {
            if let Err(e) = flush(&mut conn, &mut pending, &mut out, true) {
                return fail(e);
            }
        }
    }
    if let Err(e) = flush(&mut conn, &mut pending, &mut out, false) {
        return fail(e);
    }
    if let Err(e) = crate::search::catch_up_all(&mut conn) {
        return fail(format!("search index: {e}"));
    }
    let total: usize = counts.values().sum();
    let summary = counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    if json {
        eprintln!("{total} messages: {summary}");
    } else {
        let _ = writeln!(out, "{total} messages: {summary}");
    }
    ExitCode::SUCCESS
}

/// sysexits: 0 delivered, 65 EX_DATAERR (refused for good), 75 EX_TEMPFAIL (retry later), 77 EX_NOPERM.
fn mailgate(url: &str, token_file: &std::path::Path) -> ExitCode {
    const EX_DATAERR: u8 = 65;
    const EX_NOINPUT: u8 = 66;
    const EX_TEMPFAIL: u8 = 75;
    const EX_NOPERM: u8 = 77;
    const EX_CONFIG: u8 = 78;
    let token = match std::fs::read_to_string(token_file) {
        Ok(t) => t.trim().to_string(),
        Err(e) => {
            eprintln!(
                "casebook mailgate: token file {}: {e}",
                token_file.display()
            );
            return ExitCode::from(EX_CONFIG);
        }
    };
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut raw) {
        eprintln!("casebook mailgate: stdin: {e}");
        return ExitCode::from(EX_NOINPUT);
    }
    let agent = ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(120))
        .build();
    match agent
        .post(url)
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", "message/rfc822")
        .send_bytes(&raw)
    {
        Ok(resp) => {
            let body = resp.into_string().unwrap_or_default();
            eprintln!("casebook mailgate: {body}");
            ExitCode::SUCCESS
        }
        Err(ureq::Error::Status(code, resp)) => {
            let body = resp.into_string().unwrap_or_default();
            eprintln!("casebook mailgate: HTTP {code}: {body}");
            match code {
                401 | 403 => ExitCode::from(EX_NOPERM),
                400 | 413 => ExitCode::from(EX_DATAERR),
                _ => ExitCode::from(EX_TEMPFAIL),
            }
        }
        Err(e) => {
            eprintln!("casebook mailgate: {e} (will be retried by the MTA)");
            ExitCode::from(EX_TEMPFAIL)
        }
    }
}

fn activation_import(state: &AppState, file: &std::path::Path, json: bool) -> ExitCode {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => return fail(format!("{}: {e}", file.display())),
    };
    let mut conn = match state.pool.get() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {bar:40} {pos}/{len} rows {per_sec} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let source = format!("csv:{}", file.display());
    let report = crate::activation::import_csv(&mut conn, &bytes, &source, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    match report {
        Ok(r) => {
            if json {
                println!("{}", serde_json::to_string(&r).unwrap_or_default());
            } else {
                for (line, err) in &r.errors {
                    println!("line {line}: {err}");
                }
                println!(
                    "{} rows: {} imported, {} already present, {} refused",
                    r.rows,
                    r.imported,
                    r.duplicates,
                    r.errors.len()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn mailbox_cmd(state: &AppState, action: &MailboxCmd) -> ExitCode {
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
        } => {
            let (host, port, tls, username, folder) = match mailboxes::parse_url(url) {
                Ok(p) => p,
                Err(e) => return fail(e),
            };
            let abs =
                std::fs::canonicalize(password_file).unwrap_or_else(|_| password_file.clone());
            if let Err(e) = std::fs::read_to_string(&abs) {
                return fail(format!("password file {}: {e}", abs.display()));
            }
            let m = mailboxes::NewMailbox {
                name: name.clone(),
                host,
                port,
                tls,
                username,
                password: None,
                password_file: Some(abs.display().to_string()),
                folder,
                move_to: move_to.clone(),
                poll_seconds: *poll_seconds,
            };
            match mailboxes::add(&mut c, &state.keys, &m) {
                Ok(_) => {
                    eprintln!("mailbox {name} added");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
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
fn fetch(state: &AppState, only: Option<&str>, json: bool) -> ExitCode {
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
            let line = if json {
                serde_json::to_string(o).unwrap_or_default()
            } else {
                format!(
                    "{:<11} {:<18} {}{}",
                    o.outcome.as_str(),
                    o.case_number.as_deref().unwrap_or("-"),
                    o.source,
                    o.reason
                        .as_deref()
                        .map(|r| format!("  ({r})"))
                        .unwrap_or_default()
                )
            };
            let _ = writeln!(stdout.lock(), "{line}");
        };
        if let Err(e) = mailboxes::poll_claimed(&ctx, &row, &mut sink) {
            eprintln!("casebook: mailbox {}: {e}", row.name);
            failed += 1;
        }
    }
    let total: usize = counts.values().sum();
    let summary = counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    if json {
        eprintln!("{total} messages: {summary}");
    } else {
        println!("{total} messages: {summary}");
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
