//! Raw RFC 5322 bytes into the fields Casebook keeps, with mail-parser.

use super::ParsedMail;
use chrono::{DateTime, NaiveDateTime};
use mail_parser::{HeaderValue, MessageParser, MimeHeaders};

#[derive(Debug, Clone)]
pub struct ParsedAttachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub is_tnef: bool,
    /// The part's Content-ID, without angle brackets, lower case (inline images are
    /// named by it in the HTML part: `cid:…`).
    pub content_id: Option<String>,
}

fn id_list(h: &HeaderValue) -> Vec<String> {
    match h {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|s| s.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn header_text(msg: &mail_parser::Message, name: &str) -> Option<String> {
    msg.header_raw(name).map(|v| v.trim().to_string())
}

/// Outlook's Thread-Index: base64 of a 22-byte header plus 5 bytes per reply. The
/// first 22 bytes name the conversation.
pub fn thread_key(thread_index: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(thread_index.trim().as_bytes())
        .ok()?;
    (bytes.len() >= 22).then(|| hex::encode(&bytes[..22]))
}

pub fn is_auto_reply_headers(msg: &mail_parser::Message) -> bool {
    let auto_submitted = header_text(msg, "Auto-Submitted").map(|v| v.to_ascii_lowercase());
    if auto_submitted
        .as_deref()
        .is_some_and(|v| !v.starts_with("no"))
    {
        return true;
    }
    if msg.header_raw("X-Autoreply").is_some()
        || msg.header_raw("X-Autorespond").is_some()
        || msg.header_raw("X-Auto-Response-Suppress").is_some()
    {
        return true;
    }
    let precedence = header_text(msg, "Precedence")
        .map(|v| v.to_ascii_lowercase())
        .unwrap_or_default();
    matches!(precedence.as_str(), "bulk" | "auto_reply" | "junk" | "list")
}

/// Parses one message; `Err` carries the quarantine reason.
pub fn parse_message(raw: &[u8]) -> Result<ParsedMail, String> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err("empty message".into());
    }
    // mail-parser has debug assertions that hostile MIME structure can trip (found by
    // fuzzing); release builds recover. A panic there quarantines the message.
    let msg = std::panic::catch_unwind(|| MessageParser::default().parse(raw))
        .map_err(|_| "MIME structure the mail parser cannot follow".to_string())?
        .ok_or_else(|| "not a mail message: no header could be read".to_string())?;
    let from = msg.from().and_then(|a| a.first());
    let from_name = from.and_then(|a| a.name()).unwrap_or("").trim().to_string();
    let from_address = from
        .and_then(|a| a.address())
        .unwrap_or("")
        .trim()
        .to_lowercase();
    let subject = cap_subject(msg.subject().unwrap_or("").trim());
    let message_id = msg
        .message_id()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if from_address.is_empty() && from_name.is_empty() && subject.is_empty() && message_id.is_none()
    {
        return Err("no sender, subject or Message-ID: not a mail message".into());
    }
    let mut to = Vec::new();
    for list in [msg.to(), msg.cc()].into_iter().flatten() {
        for a in list.iter() {
            if let Some(addr) = a.address() {
                to.push(addr.trim().to_lowercase());
            }
        }
    }
    let sent_at = sent_time(&msg);
    let mut body = String::new();
    for i in 0..msg.text_body_count() {
        if let Some(t) = msg.body_text(i) {
            if !body.is_empty() {
                body.push_str("\n\n");
            }
            body.push_str(&t);
        }
    }
    if body.trim().is_empty() {
        if let Some(h) = msg.body_text(0) {
            body = h.into_owned();
        }
    }
    // The HTML part, when the message has one of its own (not text mail-parser turned
    // into HTML); cleaned later, with the attachments' hashes (`mail::html`).
    let body_html: Option<String> = {
        let parts: Vec<String> = msg
            .html_bodies()
            .filter(|p| p.is_text_html())
            .filter_map(|p| p.text_contents().map(str::to_string))
            .collect();
        let joined = parts.join("\n<hr>\n");
        (!joined.trim().is_empty() && joined.len() <= super::html::MAX_HTML_BYTES).then_some(joined)
    };
    let mut attachments = Vec::new();
    for (i, part) in msg.attachments().enumerate() {
        let content_type = part
            .content_type()
            .map(|c| match c.subtype() {
                Some(s) => format!("{}/{}", c.ctype(), s),
                None => c.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into())
            .to_ascii_lowercase();
        let filename = part
            .attachment_name()
            .map(sanitize_filename)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("attachment-{}", i + 1));
        let is_tnef =
            content_type == "application/ms-tnef" || filename.eq_ignore_ascii_case("winmail.dat");
        attachments.push(ParsedAttachment {
            filename,
            content_type,
            bytes: part.contents().to_vec(),
            is_tnef,
            content_id: part
                .content_id()
                .map(|c| c.trim().trim_matches(['<', '>']).to_ascii_lowercase())
                .filter(|c| !c.is_empty()),
        });
    }
    let subject_auto = super::extract::auto_reply_subject(&subject);
    let auth_results = msg
        .header_values("Authentication-Results")
        .filter_map(|v| v.as_text().map(str::to_string))
        .collect();
    Ok(ParsedMail {
        auth_results,
        in_reply_to: id_list(msg.in_reply_to()),
        references: id_list(msg.references()),
        thread_key: msg.header_raw("Thread-Index").and_then(thread_key),
        is_auto_reply: is_auto_reply_headers(&msg) || subject_auto,
        is_own_loop: msg.header_raw("X-Casebook-Loop").is_some(),
        message_id,
        subject,
        from_name,
        from_address,
        to,
        sent_at,
        body_text: body,
        body_html,
        attachments,
    })
}

/// Longest subject kept for display (case, message, queue, search), in characters; the
/// raw mail keeps the whole header.
pub const MAX_SUBJECT_CHARS: usize = 1000;

/// The subject as stored for display: at most `MAX_SUBJECT_CHARS`, with `…` when cut.
pub fn cap_subject(subject: &str) -> String {
    match subject.char_indices().nth(MAX_SUBJECT_CHARS) {
        Some((at, _)) => format!("{}…", subject[..at].trim_end()),
        None => subject.to_string(),
    }
}

/// Invisible formatting characters that change how the text around them reads:
/// bidirectional overrides and isolates (U+202E makes `exe.txt` read `txt.exe`),
/// zero-width characters, the soft hyphen, the BOM.
pub fn is_format_control(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}')
}

/// A file name safe to show and to offer for download: no directories, no controls,
/// no bidirectional or zero-width formatting characters.
pub fn sanitize_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_format_control(*c))
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    cleaned.chars().take(200).collect()
}

/// When `msg` was sent, in UTC: its Date header; without a valid one, the oldest hop's
/// `Received:` time (the first server it passed, the nearest to its sending). Exports
/// and saved drafts often lack the header, and imported history keeps its own time.
pub(crate) fn sent_time(msg: &mail_parser::Message<'_>) -> Option<NaiveDateTime> {
    let utc = |d: &mail_parser::DateTime| {
        d.is_valid()
            .then(|| DateTime::from_timestamp(d.to_timestamp(), 0))
            .flatten()
            .map(|d| d.naive_utc())
    };
    msg.date().and_then(utc).or_else(|| {
        msg.received_all()
            .filter_map(|r| r.date.as_ref().and_then(utc))
            .last()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gb2312_label_decodes_as_gb18030() {
        // "镕" (U+9555) is outside GB2312 but in GBK/GB18030: 0xE946.
        let mut raw =
            b"From: a@b.cn\r\nSubject: t\r\nContent-Type: text/plain; charset=gb2312\r\n\r\n"
                .to_vec();
        raw.extend_from_slice(&[0xE9, 0x46, b'\r', b'\n']);
        let m = parse_message(&raw).expect("parses");
        assert!(m.body_text.contains('\u{9555}'), "{:?}", m.body_text);
    }

    #[test]
    fn headers_and_auto_reply() {
        let raw = b"From: \"Ma\" <MA@Example.com>\r\nTo: s@x.com\r\nSubject: =?UTF-8?B?5rWL6K+V?=\r\nMessage-ID: <a@b>\r\nIn-Reply-To: <p@q>\r\nReferences: <r@s> <p@q>\r\nAuto-Submitted: auto-replied\r\nDate: Fri, 24 Jun 2022 17:39:09 +0000\r\n\r\nbody\r\n";
        let m = parse_message(raw).expect("parses");
        assert_eq!(m.subject, "测试");
        assert_eq!(m.from_address, "ma@example.com");
        assert_eq!(m.message_id.as_deref(), Some("a@b"));
        assert_eq!(m.references, vec!["r@s", "p@q"]);
        assert!(m.is_auto_reply);
        assert_eq!(
            m.sent_at.map(|d| d.to_string()).as_deref(),
            Some("2022-06-24 17:39:09")
        );
        assert!(parse_message(b"").is_err());
    }

    #[test]
    fn mime_structure_that_trips_the_parser_is_quarantined() {
        // Found by `cargo fuzz` (target mail_ingest): a message/rfc822 part inside a
        // broken multipart trips mail-parser's "Invalid part ID" debug assertion.
        let raw = include_bytes!("../../tests/fixtures/fuzz-mime-part-id.eml");
        let _ = parse_message(raw);
    }

    #[test]
    fn filenames_lose_bidi_controls_and_subjects_are_capped() {
        assert_eq!(
            sanitize_filename("invoice\u{202E}fdp.exe"),
            "invoicefdp.exe"
        );
        assert_eq!(
            sanitize_filename("a\u{200B}b\u{2066}c\u{2069}\u{FEFF}.txt"),
            "abc.txt"
        );
        assert_eq!(sanitize_filename("报告.txt"), "报告.txt");
        let long = "主".repeat(5000);
        let capped = cap_subject(&long);
        assert_eq!(capped.chars().count(), MAX_SUBJECT_CHARS + 1);
        assert!(capped.ends_with('…'));
        assert_eq!(cap_subject("short"), "short");
    }

    #[test]
    fn filenames_lose_paths() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_filename("C:\\x\\y.txt"), "y.txt");
    }
}
