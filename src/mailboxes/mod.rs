//! Mailboxes: IMAP accounts Casebook polls itself, so customer mail arrives without
//! an MTA. Each message goes through `crate::mail::ingest_input` (raw stored first,
//! idempotent) and is moved or flagged on the server only after the local commit: a
//! crash between the two gives a `duplicate` on the next run, never a loss.

pub mod claim;
pub mod client;
pub mod oauth;
pub mod poller;
pub mod secret;
pub mod store;
pub mod url;

pub use claim::{claim, renew, worker_id, Busy, Claims, Holder};
pub use poller::{backoff, finish, poll_claimed, poll_claimed_idle, Ctx, IDLE_RENEW};
pub use store::{
    add, edited, find, find_id, list, prepare_edit, remove, remove_id, set_enabled, update,
    validate, MailboxRow, NewMailbox,
};
pub use url::{is_loopback, parse_url, TlsMode};

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
