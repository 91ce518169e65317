//! Mail in: raw bytes stored first, then parsed (RFC 5322, mbox, the thread export
//! format), threaded into a case or quarantined with a reason.

pub mod export;
pub mod extract;
pub mod html;
pub mod ingest;
pub mod mbox;
pub mod outbound;
pub mod outbox;
pub mod parse;
pub mod quarantine;

pub use ingest::{ingest_bulk, ingest_input, ingest_input_with, Outcome, Rules, Staff};

use chrono::NaiveDateTime;

/// One message as Casebook understands it, whatever format it came in.
#[derive(Debug, Clone)]
pub struct ParsedMail {
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Outlook conversation id (first 22 bytes of Thread-Index, hex).
    pub thread_key: Option<String>,
    pub subject: String,
    pub from_name: String,
    pub from_address: String,
    pub to: Vec<String>,
    /// UTC: the Date header, else the oldest `Received:` time; None without either.
    pub sent_at: Option<NaiveDateTime>,
    pub body_text: String,
    /// The message's own HTML part, raw (cleaned with `html::sanitize` when stored).
    pub body_html: Option<String>,
    pub is_auto_reply: bool,
    /// Carries our own `X-Casebook-Loop` header: our outgoing mail came back.
    pub is_own_loop: bool,
    pub attachments: Vec<parse::ParsedAttachment>,
    /// The `Authentication-Results` headers, as written (checked in `mail::ingest::trust`).
    pub auth_results: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("invalid rule: {0}")]
    Rule(String),
}
