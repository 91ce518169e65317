//! Outgoing mail: our own Message-ID, the thread's In-Reply-To and References, the
//! case tag first in the subject, loop-protection headers; SMTP or files.

use crate::config::Settings;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, Mailboxes};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("no recipient")]
    NoRecipient,
    #[error("building the message: {0}")]
    Build(String),
    #[error("mail transport: {0}")]
    Transport(String),
}

/// One mail to compose.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub case_number: String,
    pub tracking_token: String,
    pub language: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// Automatic notices carry `Auto-Submitted: auto-generated`.
    pub automatic: bool,
    /// Also an HTML part (multipart/alternative) made from the text, as mail clients
    /// expect of a person's mail.
    pub html: bool,
    /// Files sent with it.
    pub files: Vec<OutFile>,
}

/// A file attached to an outgoing mail.
#[derive(Debug, Clone)]
pub struct OutFile {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The HTML twin of a plain-text mail: the text escaped (it can carry no markup),
/// paragraphs at blank lines, line breaks kept, quoted lines (`>`) as a quote, and the
/// signature (after a `-- ` line) in grey.
pub fn text_to_html(text: &str) -> String {
    // The signature follows the last line that is "--" (or the standard "-- ").
    let cut = ["\n-- \n", "\n--\n"]
        .iter()
        .filter_map(|d| text.rfind(d).map(|i| (i, d.len())))
        .max();
    let (body, sig) = match cut {
        Some((i, n)) => (&text[..i], Some(&text[i + n..])),
        None => (text, None),
    };
    let mut html = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>\
         <body style=\"font-family:-apple-system,'Segoe UI','Microsoft YaHei',sans-serif;font-size:14px;line-height:1.5\">",
    );
    for para in body.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let lines: Vec<&str> = para.lines().collect();
        if lines.iter().all(|l| l.starts_with('>')) {
            let inner: Vec<String> = lines
                .iter()
                .map(|l| escape_html(l.trim_start_matches('>').trim_start()))
                .collect();
            html.push_str(&format!(
                "<blockquote style=\"margin:0 0 0 .8em;padding-left:.8em;border-left:3px solid #ccc;color:#555\">{}</blockquote>",
                inner.join("<br>")
            ));
        } else {
            let inner: Vec<String> = lines.iter().map(|l| escape_html(l)).collect();
            html.push_str(&format!("<p>{}</p>", inner.join("<br>")));
        }
    }
    if let Some(sig) = sig {
        let inner: Vec<String> = sig.lines().map(escape_html).collect();
        html.push_str(&format!(
            "<p style=\"color:#666;border-top:1px solid #ddd;padding-top:.5em\">{}</p>",
            inner.join("<br>")
        ));
    }
    html.push_str("</body></html>");
    html
}

/// The body of `o`: plain text alone, or text and HTML as alternatives, with its files.
fn body_of(b: lettre::message::MessageBuilder, o: &Outgoing) -> Result<Message, OutboundError> {
    use lettre::message::{header::ContentType, Attachment, MultiPart, SinglePart};
    let built = if !o.html && o.files.is_empty() {
        b.header(ContentType::TEXT_PLAIN).body(o.body.clone())
    } else {
        let text = if o.html {
            MultiPart::alternative_plain_html(o.body.clone(), text_to_html(&o.body))
        } else {
            MultiPart::mixed().singlepart(SinglePart::plain(o.body.clone()))
        };
        if o.files.is_empty() {
            b.multipart(text)
        } else {
            let mut all = MultiPart::mixed().multipart(text);
            for f in &o.files {
                let ct = ContentType::parse(&f.content_type)
                    .or_else(|_| ContentType::parse("application/octet-stream"))
                    .map_err(|e| OutboundError::Build(e.to_string()))?;
                all = all.singlepart(Attachment::new(f.filename.clone()).body(f.bytes.clone(), ct));
            }
            b.multipart(all)
        }
    };
    built.map_err(|e| OutboundError::Build(e.to_string()))
}

#[derive(Debug, Clone)]
pub struct Composed {
    pub message_id: String,
    pub envelope_from: String,
    pub envelope_to: Vec<String>,
    pub subject: String,
    pub raw: String,
}

/// `[案例号: CAS-…] subject CMIT:…`: the tag first, so a client that truncates long
/// subjects cannot cut it off.
pub fn tagged_subject(language: &str, number: &str, subject: &str, token: &str) -> String {
    let clean = super::extract::display_subject(
        subject,
        &[token.split(':').next().unwrap_or("CMIT").to_string()],
    );
    let tag = if language.starts_with("zh") {
        format!("[案例号: {number}]")
    } else {
        format!("[Case: {number}]")
    };
    format!("{tag} {clean} {token}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn domain_of(from: &Mailbox) -> String {
    from.email.domain().to_string()
}

pub fn url_with_password(url: &str, password: &str) -> String {
    // smtp://user@host → smtp://user:password@host (password URL-encoded).
    let enc: String = password
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((user, host)) if !user.contains(':') => format!("{scheme}://{user}:{enc}@{host}"),
            _ => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[derive(Clone)]
struct RawHeader(&'static str, String);

pub fn compose(settings: &Settings, o: &Outgoing) -> Result<Composed, OutboundError> {
    let from: Mailbox = settings
        .mail_from
        .parse()
        .map_err(|_| OutboundError::Address(settings.mail_from.clone()))?;
    let mut to = Mailboxes::new();
    let mut envelope_to = Vec::new();
    for addr in &o.to {
        let mb: Mailbox = addr
            .trim()
            .parse()
            .map_err(|_| OutboundError::Address(addr.clone()))?;
        envelope_to.push(mb.email.to_string());
        to.push(mb);
    }
    if envelope_to.is_empty() {
        return Err(OutboundError::NoRecipient);
    }
    let id = format!(
        "case-{}.{}@{}",
        o.case_number.to_ascii_lowercase(),
        crate::auth::random_hex(8),
        domain_of(&from)
    );
    let subject = tagged_subject(&o.language, &o.case_number, &o.subject, &o.tracking_token);
    let mut b = Message::builder()
        .from(from.clone())
        .mailbox(lettre::message::header::To::from(to))
        .subject(subject.clone())
        .message_id(Some(format!("<{id}>")));
    if let Some(parent) = &o.in_reply_to {
        b = b.in_reply_to(format!("<{parent}>"));
    }
    if !o.references.is_empty() {
        b = b.references(
            o.references
                .iter()
                .map(|r| format!("<{r}>"))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    let mut headers = vec![
        RawHeader("X-Casebook-Loop", o.case_number.clone()),
        RawHeader("X-Casebook-Token", o.tracking_token.clone()),
    ];
    if o.automatic {
        headers.push(RawHeader("Auto-Submitted", "auto-generated".into()));
        headers.push(RawHeader("X-Auto-Response-Suppress", "All".into()));
    }
    let mut msg = body_of(b, o)?;
    for h in headers {
        msg.headers_mut()
            .insert_raw(HeaderValue::new(HeaderName::new_from_ascii_str(h.0), h.1));
    }
    let raw =
        String::from_utf8(msg.formatted()).map_err(|e| OutboundError::Build(e.to_string()))?;
    Ok(Composed {
        message_id: id,
        envelope_from: from.email.to_string(),
        envelope_to,
        subject,
        raw,
    })
}

/// A notice of no case (the weekly report): our own Message-ID, `Auto-Submitted:
/// auto-generated` and our loop header, so that it never comes back as a case.
pub fn compose_notice(
    settings: &Settings,
    kind: &str,
    to: &[String],
    subject: &str,
    body: &str,
) -> Result<Composed, OutboundError> {
    let from: Mailbox = settings
        .mail_from
        .parse()
        .map_err(|_| OutboundError::Address(settings.mail_from.clone()))?;
    let mut mailboxes = Mailboxes::new();
    let mut envelope_to = Vec::new();
    for addr in to {
        let mb: Mailbox = addr
            .trim()
            .parse()
            .map_err(|_| OutboundError::Address(addr.clone()))?;
        envelope_to.push(mb.email.to_string());
        mailboxes.push(mb);
    }
    if envelope_to.is_empty() {
        return Err(OutboundError::NoRecipient);
    }
    let id = format!("{kind}.{}@{}", crate::auth::random_hex(8), domain_of(&from));
    let mut msg = Message::builder()
        .from(from.clone())
        .mailbox(lettre::message::header::To::from(mailboxes))
        .subject(subject)
        .message_id(Some(format!("<{id}>")))
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(body.to_string())
        .map_err(|e| OutboundError::Build(e.to_string()))?;
    for h in [
        RawHeader("X-Casebook-Loop", kind.to_string()),
        RawHeader("Auto-Submitted", "auto-generated".into()),
        RawHeader("X-Auto-Response-Suppress", "All".into()),
    ] {
        msg.headers_mut()
            .insert_raw(HeaderValue::new(HeaderName::new_from_ascii_str(h.0), h.1));
    }
    let raw =
        String::from_utf8(msg.formatted()).map_err(|e| OutboundError::Build(e.to_string()))?;
    Ok(Composed {
        message_id: id,
        envelope_from: from.email.to_string(),
        envelope_to,
        subject: subject.to_string(),
        raw,
    })
}

/// Where mail goes: an SMTP server, or files under the data dir (development).
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>),
}

impl Transport {
    pub fn from_settings(s: &Settings) -> Result<Transport, OutboundError> {
        match &s.smtp_url {
            Some(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map(|b| {
                    Transport::Smtp(b.timeout(Some(std::time::Duration::from_secs(30))).build())
                })
                .map_err(|e| OutboundError::Transport(format!("SMTP URL: {e}"))),
            None => {
                std::fs::create_dir_all(s.mail_dir())
                    .map_err(|e| OutboundError::Transport(e.to_string()))?;
                Ok(Transport::File(AsyncFileTransport::new(s.mail_dir())))
            }
        }
    }

    pub fn describe(s: &Settings) -> String {
        match &s.smtp_url {
            Some(url) => {
                // Never show credentials.
                let host = url
                    .split_once("://")
                    .map(|(_, r)| r.rsplit('@').next().unwrap_or(r))
                    .unwrap_or(url);
                format!("SMTP {host}")
            }
            None => format!("files in {}", s.mail_dir().display()),
        }
    }

    pub async fn send_raw(
        &self,
        from: &str,
        to: &[String],
        raw: &[u8],
    ) -> Result<(), OutboundError> {
        let from = from
            .parse()
            .map_err(|_| OutboundError::Address(from.into()))?;
        let to = to
            .iter()
            .map(|t| t.parse().map_err(|_| OutboundError::Address(t.clone())))
            .collect::<Result<Vec<lettre::Address>, _>>()?;
        let envelope = lettre::address::Envelope::new(Some(from), to)
            .map_err(|e| OutboundError::Build(e.to_string()))?;
        match self {
            Transport::Smtp(t) => t
                .send_raw(&envelope, raw)
                .await
                .map(drop)
                .map_err(|e| OutboundError::Transport(e.to_string())),
            Transport::File(t) => t
                .send_raw(&envelope, raw)
                .await
                .map(drop)
                .map_err(|e| OutboundError::Transport(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composes_threaded_mail() {
        let mut s = Settings::for_data_dir("/tmp/x".into());
        s.mail_from = "Support <support@cmgos.example>".into();
        let o = Outgoing {
            case_number: "CAS-06496-T2V9C6".into(),
            tracking_token: "CMIT:0001135".into(),
            language: "zh-CN".into(),
            to: vec!["马先生 <ma@bank.example>".into()],
            subject: "回复: 激活失败".into(),
            body: "您好".into(),
            in_reply_to: Some("m1@bank.example".into()),
            references: vec!["m0@bank.example".into(), "m1@bank.example".into()],
            automatic: false,
            html: false,
            files: Vec::new(),
        };
        let c = compose(&s, &o).expect("compose");
        assert!(c.message_id.ends_with("@cmgos.example"));
        assert_eq!(
            c.subject,
            "[案例号: CAS-06496-T2V9C6] 激活失败 CMIT:0001135"
        );
        assert!(c.raw.contains("In-Reply-To: <m1@bank.example>"));
        assert!(c
            .raw
            .contains("References: <m0@bank.example> <m1@bank.example>"));
        assert!(c.raw.contains("X-Casebook-Loop: CAS-06496-T2V9C6"));
        assert!(!c.raw.contains("Auto-Submitted"));
        assert_eq!(c.envelope_to, vec!["ma@bank.example"]);
        assert_eq!(
            url_with_password("smtp://u@h:25", "p@ss"),
            "smtp://u:p%40ss@h:25"
        );
    }
}
