//! The `casebook` command line: global flags with env fallbacks, the subcommands,
//! and the dispatch to one file per subcommand group.

mod activation;
mod ingest;
mod mailboxes;
mod ops;
mod users;

pub use activation::ActivationCmd;
pub use mailboxes::MailboxCmd;
pub use users::{TokenCmd, UserCmd};

use crate::config::Settings;
use crate::startup::build_state;
use crate::telemetry::LogFormat;
use clap::{Args, Parser, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "casebook",
    version,
    about = "Support case tracking for teams that work over email"
)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,
    #[command(subcommand)]
    pub command: Command,
}

/// The flags every subcommand (and `casebook-bench`) takes, with env fallbacks.
#[derive(Args, Debug)]
pub struct Globals {
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
    /// Stored files (raw mail, attachments, thumbnails) in an S3-compatible object store:
    /// `s3://BUCKET[/PREFIX]?endpoint=URL&region=NAME`; credentials from
    /// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Default: the database on PostgreSQL,
    /// the data dir on SQLite.
    #[arg(long, env = "CASEBOOK_BLOB_URL", global = true, default_value = "")]
    pub blob_url: String,
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
    /// `authserv-id`s of our receiving MTAs (comma-separated): live mail from a staff
    /// address takes staff actions only when their `Authentication-Results` header
    /// says DKIM or DMARC passed for the sender's domain.
    #[arg(
        long,
        env = "CASEBOOK_TRUSTED_AUTHSERV_IDS",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_authserv_ids: Vec<String>,
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
    /// Where people reach Casebook (e.g. https://casebook.example.com), for links in mail.
    #[arg(long, env = "CASEBOOK_PUBLIC_URL", default_value = "", global = true)]
    pub public_url: String,
    /// Minutes before a first response is due that the assignee is warned (0: never).
    #[arg(
        long,
        env = "CASEBOOK_SLA_WARNING_MINUTES",
        default_value_t = 30,
        global = true
    )]
    pub sla_warning_minutes: i64,
    /// Address told about unassigned cases nobody watches (new cases, customer replies).
    #[arg(long, env = "CASEBOOK_TEAM_ADDRESS", default_value = "", global = true)]
    pub team_address: String,
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
    /// SQLite: how much of the database file each connection may memory-map, in MiB
    /// (0: read through the page cache with `pread` instead).
    #[arg(
        long,
        env = "CASEBOOK_SQLITE_MMAP_MB",
        default_value_t = 65536,
        global = true
    )]
    pub sqlite_mmap_mb: u64,
    /// Seconds an IMAP server may take to accept a connection or to answer (each read
    /// and write); past it the poll fails with a timeout and is retried with backoff.
    #[arg(
        long,
        env = "CASEBOOK_IMAP_TIMEOUT",
        default_value_t = crate::mailboxes::DEFAULT_IMAP_TIMEOUT_SECONDS,
        global = true
    )]
    pub imap_timeout: u64,
    /// Reverse proxies (IPs or CIDR blocks, comma-separated) whose X-Forwarded-For
    /// names the client for the login throttle; without it the peer address is used.
    #[arg(long, env = "CASEBOOK_TRUSTED_PROXIES", value_delimiter = ',', value_parser = crate::config::IpRange::parse, global = true)]
    pub trusted_proxies: Vec<crate::config::IpRange>,
    /// Minutes a session may stay unused before it ends (decimals allowed: 0.5 is 30
    /// seconds); 0 turns the idle timeout off (the 7-day lifetime still applies).
    #[arg(
        long,
        env = "CASEBOOK_SESSION_IDLE_MINUTES",
        default_value_t = 480.0,
        global = true
    )]
    pub session_idle_minutes: f64,
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
    /// Join the cases the threading rules tie together (a database filled by an earlier
    /// version): cases holding only mail merge into the oldest, worked ones are linked.
    /// Then re-read cases from their stored mail with who-is-who as it is now
    /// (directions, scope, escalations, closure, status, first response), keeping what
    /// people did in Casebook: one case with `--case`, else every case.
    Reanalyze {
        /// Only this case (its number, e.g. CAS-06496-T2V9C6); no thread joining.
        #[arg(long = "case", value_name = "NUMBER")]
        case: Option<String>,
    },
    /// Ingest .eml files, mbox files, thread exports or directories of them; `-` reads stdin.
    Ingest {
        /// One JSON object per offered message on stdout, nothing else.
        #[arg(long)]
        json: bool,
        /// Messages per transaction (a transaction commits once it holds this many or
        /// more; a mailbox or export file is never split): larger batches write each
        /// index page once for more messages; a failure rolls back at most one batch
        /// (a second run takes it in again).
        #[arg(long, default_value_t = ingest::BATCH, value_parser = clap::value_parser!(u32).range(1..))]
        batch: u32,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Build the search index again from the database (SQLite; stop the server
    /// first: it holds the index while it runs). The index is derived data: a missing
    /// one is built by the server on its own, in the background.
    Reindex,
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
    /// Queue the weekly report mails that are due (the server does this every five
    /// minutes); `--at` judges "due" at another moment (e.g. next Monday, to check).
    ReportMail {
        /// The moment to judge at (RFC 3339 or `YYYY-MM-DDTHH:MM:SS`, UTC); default now.
        #[arg(long)]
        at: Option<String>,
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

impl Cli {
    pub fn settings(&self) -> Settings {
        self.globals.settings()
    }
}

impl Globals {
    pub fn settings(&self) -> Settings {
        let mut s = Settings::for_data_dir(self.data_dir.clone());
        if let Some(url) = self
            .database_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        {
            s.database_url = url.to_string();
        }
        s.blob_url = self.blob_url.trim().to_string();
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
        s.trusted_authserv_ids = self
            .trusted_authserv_ids
            .iter()
            .map(|d| d.trim().to_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
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
        s.public_url = self.public_url.trim().trim_end_matches('/').to_string();
        s.team_address = self.team_address.trim().to_string();
        for (i, m) in self.sla_minutes.iter().take(4).enumerate() {
            s.sla_minutes[i] = *m;
        }
        s.escalation_overdue_hours = self.escalation_overdue_hours;
        s.sla_warning_minutes = self.sla_warning_minutes.max(0);
        s.notify_rnd = !self.no_rnd_notify;
        s.outbox_interval_secs = self.outbox_interval.max(1);
        crate::db::set_slow_query_ms(self.slow_query_ms);
        crate::db::set_sqlite_mmap_mb(self.sqlite_mmap_mb);
        s.imap_timeout_secs = self.imap_timeout.max(1);
        s.trusted_proxies = self.trusted_proxies.clone();
        s.session_idle_secs = if self.session_idle_minutes.is_finite() {
            (self.session_idle_minutes.max(0.0) * 60.0)
                .round()
                .min(1e12) as i64
        } else {
            0
        };
        s
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("casebook: {msg}");
    ExitCode::FAILURE
}

/// `N messages: created 3, threaded 5`: the last line of `ingest` and `fetch`.
fn summary(counts: &BTreeMap<&'static str, usize>) -> String {
    let total: usize = counts.values().sum();
    let kinds = counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{total} messages: {kinds}")
}

pub fn run(cli: Cli) -> ExitCode {
    let settings = cli.settings();
    match cli.command {
        Command::Serve {
            ref bind,
            secure_cookies,
            db_pool,
        } => ops::serve(settings, bind, secure_cookies, db_pool),
        Command::Migrate => ops::migrate(settings),
        Command::Reanalyze { case } => match build_state(settings, 1) {
            Ok(state) => ops::reanalyze(&state, case.as_deref()),
            Err(e) => fail(e),
        },
        Command::Ingest {
            json,
            batch,
            ref paths,
        } => match build_state(settings, 2) {
            Ok(state) => ingest::ingest(&state, paths, json, batch as usize),
            Err(e) => fail(e),
        },
        Command::User { ref action } => match build_state(settings, 1) {
            Ok(state) => users::user(&state, action),
            Err(e) => fail(e),
        },
        Command::Token { ref action } => match build_state(settings, 1) {
            Ok(state) => users::token(&state, action),
            Err(e) => fail(e),
        },
        Command::Mailgate {
            ref url,
            ref token_file,
        } => ingest::mailgate(url, token_file),
        Command::Mailbox { ref action } => match build_state(settings, 1) {
            Ok(state) => mailboxes::mailbox(&state, action),
            Err(e) => fail(e),
        },
        Command::Fetch { ref mailbox, json } => match build_state(settings, 3) {
            Ok(state) => mailboxes::fetch(&state, mailbox.as_deref(), json),
            Err(e) => fail(e),
        },
        Command::Activation { ref action } => match build_state(settings, 1) {
            Ok(state) => activation::run(&state, action),
            Err(e) => fail(e),
        },
        Command::ReportMail { ref at } => {
            let now = match at.as_deref().map(|a| crate::reports::parse_bound(a, false)) {
                None => crate::now(),
                Some(Ok(t)) => t,
                Some(Err(_)) => return fail("--at: not a time (e.g. 2026-12-07T08:00:00Z)"),
            };
            match build_state(settings.clone(), 1) {
                Ok(state) => match state.pool.get() {
                    Ok(mut c) => match crate::reports::views::send_due(&mut c, &settings, now) {
                        Ok(n) => {
                            println!("{n} weekly report mails queued");
                            ExitCode::SUCCESS
                        }
                        Err(e) => fail(e),
                    },
                    Err(e) => fail(e),
                },
                Err(e) => fail(e),
            }
        }
        Command::Reindex => match build_state(settings, 1) {
            Ok(state) => ops::reindex(&state),
            Err(e) => fail(e),
        },
        Command::Backup { ref dest } => ops::backup(&settings, dest),
        Command::Restore { ref src } => ops::restore(&settings, src),
    }
}
