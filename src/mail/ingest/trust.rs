//! The trust boundary. History imported by an admin (`casebook ingest`, the upload
//! page) is read as written, names included. Live mail (the inbound API and its
//! mailgate, IMAP mailboxes) takes a staff action only from a verified staff identity:
//! the address (never the display name) of an enabled account whose role may do it,
//! on a message the receiving MTA authenticated for the sender's domain or that
//! answers a notice we sent to that very address. Anything else is shown as written,
//! and what Casebook recognised in it is offered to staff as a proposal.

use crate::db::schema::outbox;
use crate::db::DbConn;
use crate::db::Direct;
use crate::mail::ParsedMail;
use diesel::prelude::*;

/// The source of mail posted on an internal path (an `inbound-internal` token).
pub const INTERNAL_SOURCE: &str = "inbound:internal";

/// Whether `source` is a path configured as internal: staff mail on it is verified.
pub fn internal_path(source: &str) -> bool {
    source == INTERNAL_SOURCE
        || source.starts_with("inbound:internal#")
        || source.starts_with("imap-internal:")
}

/// How a message reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// History an admin imported: read as written.
    Import,
    /// Live delivery: anyone can write anything in a From header.
    Live,
}

impl Arrival {
    /// Live sources are the inbound API (and `casebook mailgate`, which posts to it)
    /// and IMAP mailboxes; everything else is an import.
    pub fn of_source(source: &str) -> Arrival {
        if source == "inbound"
            || source.starts_with("inbound#")
            || source.starts_with("inbound:")
            || source.starts_with("imap:")
            || source.starts_with("imap-internal:")
        {
            Arrival::Live
        } else {
            Arrival::Import
        }
    }
}

/// Whether one of our receiving MTAs (`trusted` authserv-ids) says DKIM or DMARC
/// passed for the domain of the sender's address.
pub fn mta_authenticated(trusted: &[String], pm: &ParsedMail) -> bool {
    let Some((_, domain)) = pm.from_address.rsplit_once('@') else {
        return false;
    };
    let domain = domain.trim().to_ascii_lowercase();
    pm.auth_results.iter().any(|h| {
        let mut parts = h.split(';');
        let authserv = parts
            .next()
            .and_then(|a| a.split_whitespace().next())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !trusted.contains(&authserv) {
            return false;
        }
        parts.any(|res| {
            let res = res.trim().to_ascii_lowercase();
            let words: Vec<&str> = res.split_whitespace().collect();
            let passed = |method: &str, prop: &str| {
                words.first() == Some(&format!("{method}=pass").as_str())
                    && words
                        .iter()
                        .any(|w| w.trim_end_matches(',') == format!("{prop}={domain}"))
            };
            passed("dkim", "header.d") || passed("dmarc", "header.from")
        })
    })
}

/// Whether `pm` answers a notice we sent to its sender: it references one of our own
/// Message-IDs (random, seen only by the recipients) whose recipients include the
/// sender's address.
pub fn answers_our_notice(conn: &mut DbConn, pm: &ParsedMail, ids: &[&str]) -> QueryResult<bool> {
    let sender = pm.from_address.trim().to_ascii_lowercase();
    if sender.is_empty() {
        return Ok(false);
    }
    for id in ids.iter().take(20) {
        let to: Option<String> = outbox::table
            .filter(outbox::message_id.eq(*id))
            .select(outbox::envelope_to)
            .first_row(conn)
            .optional()?;
        if to.is_some_and(|t| t.split(',').any(|a| a.trim().eq_ignore_ascii_case(&sender))) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(from: &str, results: &[&str]) -> ParsedMail {
        ParsedMail {
            message_id: None,
            in_reply_to: vec![],
            references: vec![],
            thread_key: None,
            subject: String::new(),
            from_name: String::new(),
            from_address: from.into(),
            to: vec![],
            sent_at: None,
            body_text: String::new(),
            body_html: None,
            is_auto_reply: false,
            is_own_loop: false,
            attachments: vec![],
            auth_results: results.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn only_a_trusted_mta_vouching_for_the_senders_domain_counts() {
        let trusted = vec!["mx.cmgos.example".to_string()];
        let ok = "mx.cmgos.example; dkim=pass header.d=cmgos.example header.s=s1; spf=pass";
        assert!(mta_authenticated(
            &trusted,
            &mail("wangbb@cmgos.example", &[ok])
        ));
        let dmarc = "mx.cmgos.example 1; dmarc=pass (p=reject) header.from=cmgos.example";
        assert!(mta_authenticated(
            &trusted,
            &mail("wangbb@cmgos.example", &[dmarc])
        ));
        // Another domain's signature, a failed check, an untrusted server, nothing.
        let other = "mx.cmgos.example; dkim=pass header.d=evil.example";
        assert!(!mta_authenticated(
            &trusted,
            &mail("wangbb@cmgos.example", &[other])
        ));
        let failed = "mx.cmgos.example; dkim=fail header.d=cmgos.example";
        assert!(!mta_authenticated(
            &trusted,
            &mail("wangbb@cmgos.example", &[failed])
        ));
        let forged = "mx.evil.example; dkim=pass header.d=cmgos.example";
        assert!(!mta_authenticated(
            &trusted,
            &mail("wangbb@cmgos.example", &[forged])
        ));
        assert!(!mta_authenticated(
            &trusted,
            &mail("wangbb@cmgos.example", &[])
        ));
        assert!(!mta_authenticated(
            &[],
            &mail("wangbb@cmgos.example", &[ok])
        ));
    }

    #[test]
    fn live_sources() {
        assert_eq!(Arrival::of_source("inbound"), Arrival::Live);
        assert_eq!(Arrival::of_source(INTERNAL_SOURCE), Arrival::Live);
        assert!(internal_path(INTERNAL_SOURCE) && !internal_path("inbound"));
        assert!(internal_path("imap-internal:staff/INBOX;uid=1"));
        assert!(!internal_path("imap:support/INBOX;uid=1"));
        assert_eq!(
            Arrival::of_source("imap:support/INBOX;uid=3"),
            Arrival::Live
        );
        assert_eq!(Arrival::of_source("/tmp/seed.txt"), Arrival::Import);
        assert_eq!(Arrival::of_source("upload:seed.txt#2"), Arrival::Import);
    }
}
