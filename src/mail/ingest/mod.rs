//! The pipeline every input ends in: store raw → parse → duplicate check → thread →
//! case, message, attachments, facts and events, in one transaction per message.

mod bulk;
mod case;
mod events;
mod facts;
pub mod group;
mod infer;
pub(crate) use infer::own_text;
pub mod order;
mod pipeline;
pub mod proposal;
mod raw;
pub mod replay;
mod staff;
mod thread;
pub mod trust;

pub use bulk::{ingest_bulk, BulkError, BulkReport, Input};
pub use facts::{add_code, add_serial};
pub use pipeline::{
    ingest_input, ingest_input_with, ingest_prepared, prepare_input, PreparedInput,
};
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
        let mut staff_domains: Vec<String> = s
            .staff_domains
            .iter()
            .map(|d| d.trim().to_lowercase())
            .collect();
        // Support's own domain: the one its mail goes out from.
        if let Some(d) = own_domain(&s.mail_from) {
            if !staff_domains.contains(&d) {
                staff_domains.push(d);
            }
        }
        Ok(Rules {
            token_re: extract::token_regex(&prefixes),
            serial,
            token_prefixes: prefixes,
            issue_prefix: s.token_prefix.clone(),
            trusted_authserv_ids: s.trusted_authserv_ids.clone(),
            staff_domains,
            reopen_window: Duration::days(s.reopen_window_days),
            max_message_bytes: s.max_message_bytes,
        })
    }
}

/// Mail providers anyone can have an address at: never a staff domain by inference.
const PUBLIC_PROVIDERS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
    "mail.com",
    "qq.com",
    "foxmail.com",
    "163.com",
    "126.com",
    "yeah.net",
    "sina.com",
    "sina.cn",
    "sohu.com",
    "aliyun.com",
    "139.com",
    "189.cn",
];

/// The domain of the `--mail-from` address when it is an organisation's own (a dotted
/// domain, not a public mail provider, not a reserved test name).
fn own_domain(mail_from: &str) -> Option<String> {
    let addr = match (mail_from.rfind('<'), mail_from.rfind('>')) {
        (Some(a), Some(b)) if a < b => &mail_from[a + 1..b],
        _ => mail_from,
    };
    let (_, domain) = addr.trim().rsplit_once('@')?;
    let d = domain.trim().to_lowercase();
    let reserved = [".invalid", ".localhost", ".local", ".test"]
        .iter()
        .any(|r| d.ends_with(r));
    (d.contains('.') && !reserved && !PUBLIC_PROVIDERS.contains(&d.as_str())).then_some(d)
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

#[cfg(test)]
mod tests {
    use super::own_domain;

    #[test]
    fn mail_from_gives_support_its_domain_unless_public() {
        assert_eq!(
            own_domain("CMGOS Support <support@CMGOS.com>"),
            Some("cmgos.com".into())
        );
        assert_eq!(own_domain("support@cmgos.com"), Some("cmgos.com".into()));
        assert_eq!(own_domain("Casebook <casebook@localhost>"), None);
        assert_eq!(own_domain("Help <help@gmail.com>"), None);
        assert_eq!(own_domain("x@host.invalid"), None);
    }
}
