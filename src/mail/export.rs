//! The thread export format: a `邮件主题：` line, then `====第N封邮件====` blocks with
//! `发件人：`, `发送时间：` and `邮件内容:`. Messages carry no Message-ID; each gets a
//! stable id derived from the thread, its position, sender and time.

use super::ParsedMail;
use chrono::{DateTime, NaiveDateTime};
use regex::Regex;
use std::sync::OnceLock;

pub fn looks_like_export(text: &str) -> bool {
    let head: String = text.chars().take(4000).collect();
    head.trim_start_matches('\u{FEFF}')
        .trim_start()
        .starts_with("邮件主题")
        || block_re().is_match(&head)
}

fn block_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    super::extract::re(&R, r"(?m)^\s*=+\s*第\s*(\d+)\s*封邮件\s*=+\s*$")
}

fn field<'a>(line: &'a str, names: &[&str]) -> Option<&'a str> {
    let t = line.trim_start();
    for n in names {
        if let Some(rest) = t.strip_prefix(n) {
            let rest = rest.trim_start();
            if let Some(v) = rest.strip_prefix([':', '：']) {
                return Some(v.trim());
            }
        }
    }
    None
}

pub fn parse_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    for f in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y/%m/%d %H:%M:%S%.f%:z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, f) {
            return Some(d.naive_utc());
        }
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.naive_utc());
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Some(d);
        }
    }
    None
}

/// One export file into messages in their order. `Err` is the quarantine reason.
pub fn parse_export(text: &str) -> Result<Vec<ParsedMail>, String> {
    let text = text.trim_start_matches('\u{FEFF}');
    let subject = text
        .lines()
        .find_map(|l| field(l, &["邮件主题", "郵件主題"]))
        .unwrap_or("")
        .to_string();
    let starts: Vec<(usize, usize, usize)> = block_re()
        .captures_iter(text)
        .filter_map(|c| {
            let m = c.get(0)?;
            Some((m.start(), m.end(), c[1].parse().ok()?))
        })
        .collect();
    if starts.is_empty() {
        return Err("export file has no ====第N封邮件==== blocks".into());
    }
    let thread_key = super::extract::find_case_tag(&subject)
        .unwrap_or_else(|| crate::storage::sha256_hex(subject.as_bytes())[..16].to_string());
    let mut out = Vec::new();
    for (i, (_, body_start, pos)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map(|s| s.0).unwrap_or(text.len());
        let block = &text[*body_start..end];
        let mut from_name = String::new();
        let mut to = Vec::new();
        let mut sent = None;
        let mut sent_raw = String::new();
        let mut body_lines = Vec::new();
        let mut in_body = false;
        for line in block.lines() {
            if in_body {
                body_lines.push(line);
                continue;
            }
            if let Some(v) = field(line, &["发件人", "發件人"]) {
                from_name = v.to_string();
            } else if let Some(v) = field(line, &["收件人", "抄送"]) {
                to.extend(
                    v.split([';', ',', '；', '，'])
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty()),
                );
            } else if let Some(v) = field(line, &["发送时间", "發送時間"]) {
                sent_raw = v.to_string();
                sent = parse_time(v);
            } else if let Some(v) = field(line, &["邮件内容", "郵件內容"]) {
                in_body = true;
                if !v.is_empty() {
                    body_lines.push(v);
                }
            }
        }
        let body = body_lines
            .join("\n")
            .trim_matches('\n')
            .trim_end()
            .to_string();
        let (from_name, from_address) = split_sender(&from_name);
        let id_seed = format!("{thread_key}|{pos}|{from_name}|{sent_raw}");
        let message_id = format!(
            "export.{}@casebook.invalid",
            &crate::storage::sha256_hex(id_seed.as_bytes())[..32]
        );
        out.push(ParsedMail {
            auth_results: Vec::new(),
            message_id: Some(message_id),
            in_reply_to: Vec::new(),
            references: Vec::new(),
            thread_key: None,
            subject: subject.clone(),
            from_name,
            from_address,
            to,
            sent_at: sent,
            body_text: body,
            body_html: None,
            is_auto_reply: false,
            is_own_loop: false,
            attachments: Vec::new(),
        });
    }
    Ok(out)
}

/// `Wang Binbin`, `Wang Binbin <wangbb@x.com>` or `wangbb@x.com`.
fn split_sender(s: &str) -> (String, String) {
    let s = s.trim();
    if let (Some(a), Some(b)) = (s.find('<'), s.rfind('>')) {
        if a < b {
            return (
                s[..a].trim().trim_matches('"').to_string(),
                s[a + 1..b].trim().to_lowercase(),
            );
        }
    }
    if s.contains('@') && !s.contains(' ') {
        return (String::new(), s.to_lowercase());
    }
    (s.to_string(), String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_blocks_with_stable_ids() {
        let t = "邮件主题：回复: [案例号: CAS-06496-T2V9C6 ] x\n\n====第1封邮件====\n\n发件人：Wang Binbin\n发送时间：2022-06-24 17:39:09.342000+00:00\n邮件内容:\n你好\n第二行\n\n====第2封邮件====\n\n发件人：Liu Yu <liuyu@x.com>\n发送时间：2022-06-28 11:16:17.176000+00:00\n邮件内容:\nHi\n";
        assert!(looks_like_export(t));
        let m = parse_export(t).expect("parses");
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].from_name, "Wang Binbin");
        assert_eq!(m[0].body_text, "你好\n第二行");
        assert_eq!(
            m[0].sent_at.map(|d| d.to_string()).as_deref(),
            Some("2022-06-24 17:39:09.342")
        );
        assert_eq!(m[1].from_address, "liuyu@x.com");
        assert_eq!(
            parse_export(t).expect("again")[0].message_id,
            m[0].message_id
        );
        assert_ne!(m[0].message_id, m[1].message_id);
    }
}
