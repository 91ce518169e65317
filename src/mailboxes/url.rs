//! Mailbox URLs (`imap://USER@HOST:PORT/FOLDER`, `imaps://…`) and the TLS modes.

use super::MailboxError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Imaps,
    StartTls,
    Plain,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Imaps => "imaps",
            TlsMode::StartTls => "starttls",
            TlsMode::Plain => "plain",
        }
    }
    pub fn parse(s: &str) -> Option<TlsMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "imaps" | "tls" => Some(TlsMode::Imaps),
            "starttls" => Some(TlsMode::StartTls),
            "plain" | "none" => Some(TlsMode::Plain),
            _ => None,
        }
    }
}

pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `imap://USER@HOST:PORT/FOLDER` or `imaps://…`; `?tls=starttls|plain` picks
/// the mode of `imap://` (default: STARTTLS, plain on loopback hosts).
pub fn parse_url(url: &str) -> Result<(String, u16, TlsMode, String, String), MailboxError> {
    let bad = |m: &str| MailboxError::Invalid(format!("mailbox URL {url}: {m}"));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected imap://USER@HOST:PORT/FOLDER or imaps://…"))?;
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, folder) = match rest.split_once('/') {
        Some((a, f)) => (a, percent_decode(f)),
        None => (rest, String::new()),
    };
    let folder = if folder.is_empty() {
        "INBOX".to_string()
    } else {
        folder
    };
    let (user, hostport) = authority
        .rsplit_once('@')
        .ok_or_else(|| bad("the user name is missing (USER@HOST)"))?;
    if user.contains(':') {
        return Err(bad(
            "put the password in a file (--password-file), not in the URL",
        ));
    }
    let user = percent_decode(user);
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (
            h.to_string(),
            Some(p.parse::<u16>().map_err(|_| bad("bad port"))?),
        ),
        _ => (hostport.to_string(), None),
    };
    if host.is_empty() || user.is_empty() {
        return Err(bad("host and user are required"));
    }
    let tls_q = query.and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("tls="))
            .map(str::to_string)
    });
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "imaps" => TlsMode::Imaps,
        "imap" => match tls_q {
            Some(t) => TlsMode::parse(&t).ok_or_else(|| bad("tls= must be starttls or plain"))?,
            None if is_loopback(&host) => TlsMode::Plain,
            None => TlsMode::StartTls,
        },
        _ => return Err(bad("the scheme must be imap or imaps")),
    };
    let port = port.unwrap_or(if tls == TlsMode::Imaps { 993 } else { 143 });
    Ok((host, port, tls, user, folder))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let (h, p, t, u, f) =
            parse_url("imaps://support%40example.com@imap.example.com/INBOX").expect("imaps");
        assert_eq!(
            (h.as_str(), p, t, u.as_str(), f.as_str()),
            (
                "imap.example.com",
                993,
                TlsMode::Imaps,
                "support@example.com",
                "INBOX"
            )
        );
        let (_, p, t, _, f) =
            parse_url("imap://u@mail.example.com:1143/Support/客户").expect("imap");
        assert_eq!(
            (p, t, f.as_str()),
            (1143, TlsMode::StartTls, "Support/客户")
        );
        let (_, p, t, _, _) = parse_url("imap://u@127.0.0.1:1430/INBOX").expect("loopback");
        assert_eq!((p, t), (1430, TlsMode::Plain));
        let (_, _, t, _, f) = parse_url("imap://u@localhost?tls=starttls").expect("query");
        assert_eq!((t, f.as_str()), (TlsMode::StartTls, "INBOX"));
        assert!(
            parse_url("imap://u:secret@host/INBOX").is_err(),
            "no password in URLs"
        );
        assert!(parse_url("http://u@host/INBOX").is_err());
        assert!(parse_url("imap://host/INBOX").is_err());
        assert!(parse_url("imap://u@host:notaport/INBOX").is_err());
    }
}
