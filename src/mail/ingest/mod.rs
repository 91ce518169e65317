//! The pipeline every input ends in: store raw → parse → duplicate check → thread →
//! case, message, attachments, facts and events, in one transaction per message.

mod bulk;
mod case;
mod events;
mod facts;
mod infer;
pub mod order;
mod pipeline;
pub mod proposal;
mod raw;
mod staff;
mod thread;
pub mod trust;

pub use bulk::{ingest_bulk, BulkError, BulkReport, Input};
pub use facts::{add_code, add_serial};
pub use pipeline::{ingest_input, ingest_input_with};
pub use raw::{load_raw, store_raw, INLINE_RAW_MAX};
pub use staff::{Direction, Staff};

use super::{extract, IngestError};
use crate::config::Settings;
use chrono::Duration;
use regex::Regex;
use serde::Serialize;

/// Configurable parts of threading and extraction.
#[derive(Debug, Clone)]
pub struct Rules {
    pub serial: Regex,
    pub token_re: Regex,
    pub token_prefixes: Vec<String>,
    pub issue_prefix: String,
    pub staff_domains: Vec<String>,
    pub trusted_authserv_ids: Vec<String>,
    pub reopen_window: Duration,
    pub max_message_bytes: usize,
}

impl Rules {
    pub fn from_settings(s: &Settings) -> Result<Rules, IngestError> {
        let serial = Regex::new(&s.serial_pattern)
            .map_err(|e| IngestError::Rule(format!("serial pattern: {e}")))?;
        let mut prefixes = s.token_prefixes.clone();
        if !prefixes
            .iter()
            .any(|p| p.eq_ignore_ascii_case(&s.token_prefix))
        {
            prefixes.push(s.token_prefix.clone());
        }
        Ok(Rules {
            token_re: extract::token_regex(&prefixes),
            serial,
            token_prefixes: prefixes,
            issue_prefix: s.token_prefix.clone(),
            trusted_authserv_ids: s.trusted_authserv_ids.clone(),
            staff_domains: s
                .staff_domains
                .iter()
                .map(|d| d.trim().to_lowercase())
                .collect(),
            reopen_window: Duration::days(s.reopen_window_days),
            max_message_bytes: s.max_message_bytes,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Created,
    Threaded,
    Duplicate,
    Quarantined,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Created => "created",
            Kind::Threaded => "threaded",
            Kind::Duplicate => "duplicate",
            Kind::Quarantined => "quarantined",
        }
    }
}

/// What happened to one offered message.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub source: String,
    pub outcome: Kind,
    pub case_number: Option<String>,
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Outcome {
    /// The line `casebook ingest` and `casebook fetch` print for it (`json`: one object).
    pub fn line(&self, json: bool) -> String {
        if json {
            serde_json::to_string(self).unwrap_or_default()
        } else {
            format!(
                "{:<11} {:<18} {}{}",
                self.outcome.as_str(),
                self.case_number.as_deref().unwrap_or("-"),
                self.source,
                self.reason
                    .as_deref()
                    .map(|r| format!("  ({r})"))
                    .unwrap_or_default()
            )
        }
    }
}
