//! HTML mail made safe to show on the case page.
//!
//! At arrival the HTML part is cleaned once with ammonia to a small allow-list (text
//! formatting, tables, lists, links, images): no script, no event handler, no form, no
//! style, no frame, no relative URL (nothing may point into Casebook itself). Links keep
//! http, https and mailto and open with `rel="noopener noreferrer"`. Images keep only
//! `cid:` sources that name a part of the same message; those become
//! `casebook-blob:SHA256` placeholders, which the case page turns into the attachment's
//! inline URL ([`link_inline`]). Every other image source (remote, `data:`) is dropped
//! and counted, so the page can say how many remote images it blocked: the browser
//! makes no request outside Casebook.
//!
//! The plain text stays the source for extraction, search and previews; the HTML's own
//! text (tables of serials the text part lacks) is scanned too ([`text_of`]).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// The scheme of an inline image's placeholder in stored HTML.
const BLOB_SCHEME: &str = "casebook-blob";

/// Cleaned HTML and how many image sources were dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeHtml {
    pub html: String,
    /// Remote (or `data:`) images removed.
    pub blocked_images: i64,
}

/// Where the quoted history of a reply starts in its HTML, as the common clients mark
/// it (Gmail, Apple Mail and Thunderbird, Outlook desktop and web, Foxmail, QQ Mail,
/// NetEase): the page folds what follows, as it folds quoted plain text.
const QUOTE_MARKERS: &[&str] = &[
    "class=\"gmail_quote",
    "<blockquote type=\"cite",
    "id=\"divrplyfwdmsg",
    "id=\"appendonsend",
    "id=\"mail-editor-reference-message-container",
    "-----original message-----",
    "-----原始邮件-----",
    "原始邮件&nbsp;",
    "id=\"reply-content",
    "class=\"reference-mail",
];

/// `html` split at the start of its quoted history: (what the sender wrote, the quote).
pub fn split_quoted(html: &str) -> (&str, Option<&str>) {
    let lower = html.to_ascii_lowercase();
    let Some(at) = QUOTE_MARKERS
        .iter()
        .filter_map(|m| lower.find(&m.to_lowercase()))
        .min()
    else {
        return (html, None);
    };
    // A marker inside a tag, or in the text of an element: the quote starts at that
    // tag, or at the element that holds the text.
    let start = match html[..at].rfind('<') {
        Some(lt) if !html[lt..at].contains('>') => lt,
        _ => html[..at]
            .rmatch_indices('<')
            .map(|(i, _)| i)
            .find(|&i| !html[i + 1..].starts_with('/'))
            .unwrap_or(at),
    };
    if html[..start].trim().is_empty() {
        return (html, None);
    }
    (&html[..start], Some(&html[start..]))
}

/// Longest HTML part cleaned and kept, in bytes (larger ones show as plain text).
pub const MAX_HTML_BYTES: usize = 2 * 1024 * 1024;

const TAGS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "center",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "font",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "tt",
    "u",
    "ul",
];

/// `html` cleaned for the case page; `cids` maps the message's Content-IDs (without
/// angle brackets, lower case) to the SHA-256 of their part.
pub fn sanitize(html: &str, cids: &HashMap<String, String>) -> SafeHtml {
    let blocked = Arc::new(AtomicI64::new(0));
    let counted = blocked.clone();
    let cids = Arc::new(cids.clone());
    let tags: HashSet<&str> = TAGS.iter().copied().collect();
    let mut attrs: HashMap<&str, HashSet<&str>> = HashMap::new();
    attrs.insert("a", ["href", "title"].into_iter().collect());
    attrs.insert(
        "img",
        ["src", "alt", "title", "width", "height"]
            .into_iter()
            .collect(),
    );
    attrs.insert(
        "td",
        ["colspan", "rowspan", "align", "valign"]
            .into_iter()
            .collect(),
    );
    attrs.insert(
        "th",
        ["colspan", "rowspan", "align", "valign"]
            .into_iter()
            .collect(),
    );
    attrs.insert("font", ["color"].into_iter().collect());
    attrs.insert("ol", ["start"].into_iter().collect());
    // `cid` and `data` pass ammonia's scheme check only to reach the filter above,
    // which keeps known `cid:` images and drops (and counts) every other image.
    let schemes: HashSet<&str> = ["http", "https", "mailto", "cid", "data"]
        .into_iter()
        .collect();
    let mut builder = ammonia::Builder::default();
    builder
        .tags(tags)
        .tag_attributes(attrs)
        .generic_attributes(HashSet::new())
        .url_schemes(schemes)
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank")
        .clean_content_tags(
            ["script", "style", "title", "head", "template"]
                .into_iter()
                .collect(),
        )
        // Runs after ammonia's own checks (allowed tags, attributes and URL schemes).
        .attribute_filter(move |element, attribute, value| {
            let lower = value.trim().to_ascii_lowercase();
            match (element, attribute) {
                ("img", "src") => {
                    if !lower.starts_with("cid:") {
                        // Remote or `data:`: never loaded, counted for the page.
                        counted.fetch_add(1, Ordering::Relaxed);
                        return None;
                    }
                    let key = lower[4..].trim_matches(['<', '>']).to_string();
                    cids.get(&key)
                        .map(|sha| Cow::Owned(format!("{BLOB_SCHEME}:{sha}")))
                }
                (_, "href") => ["http:", "https:", "mailto:"]
                    .iter()
                    .any(|s| lower.starts_with(s))
                    .then_some(Cow::Borrowed(value)),
                _ => Some(Cow::Borrowed(value)),
            }
        });
    let cleaned = builder.clean(html).to_string();
    SafeHtml {
        html: cleaned,
        blocked_images: blocked.load(Ordering::Relaxed),
    }
}

/// Stored HTML with each inline image's placeholder replaced by `url(sha256)`; an image
/// whose part is not found keeps its placeholder, which no browser loads.
pub fn link_inline(html: &str, url: impl Fn(&str) -> Option<String>) -> String {
    let marker = format!("src=\"{BLOB_SCHEME}:");
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(&marker) {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let tail = &after[marker.len()..];
        let end = tail.find('"').unwrap_or(tail.len());
        let sha = &tail[..end];
        match url(sha) {
            Some(u) => {
                out.push_str("src=\"");
                out.push_str(&askama_escape(&u));
            }
            None => {
                out.push_str(&marker);
                out.push_str(sha);
            }
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn askama_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

/// The text of an HTML part, for extraction (serials and codes in tables).
pub fn text_of(html: &str) -> String {
    mail_parser::decoders::html::html_to_text(html)
}

/// The image types the inline route serves, by their first bytes (never SVG or HTML).
pub fn raster_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"BM") {
        Some("image/bmp")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cids() -> HashMap<String, String> {
        [("shot1@example".to_string(), "ab".repeat(32))]
            .into_iter()
            .collect()
    }

    #[test]
    fn scripts_handlers_forms_and_remote_loads_are_removed() {
        let dirty = r#"<html><head><style>body{background:url(http://x.example/a.png)}</style>
            <script>alert(1)</script></head><body onload="alert(2)">
            <p style="color:red" onclick="alert(3)">Hello <b>world</b></p>
            <img src="http://tracker.example/pixel.gif" onerror="alert(4)">
            <img src="data:image/png;base64,AAAA">
            <img src="cid:shot1@example" alt="screenshot">
            <a href="javascript:alert(5)">bad</a> <a href="https://ok.example/">ok</a>
            <form action="http://evil.example"><input name="p"></form>
            <iframe src="http://evil.example"></iframe>
            <a href="/admin/users">inside</a>
            <table><tr><td>序列号</td><td>T102210000999</td></tr></table></body></html>"#;
        let s = sanitize(dirty, &cids());
        for bad in [
            "script",
            "alert",
            "onload",
            "onclick",
            "onerror",
            "style",
            "tracker.example",
            "data:",
            "javascript",
            "form",
            "input",
            "iframe",
            "evil.example",
            "/admin",
        ] {
            assert!(!s.html.contains(bad), "{bad} survived: {}", s.html);
        }
        assert_eq!(s.blocked_images, 2, "{}", s.html);
        assert!(s
            .html
            .contains(&format!("src=\"casebook-blob:{}\"", "ab".repeat(32))));
        assert!(s.html.contains("rel=\"noopener noreferrer\""), "{}", s.html);
        assert!(s.html.contains("https://ok.example/"));
        assert!(s.html.contains("<td>T102210000999</td>"));
        assert!(text_of(dirty).contains("T102210000999"));
    }

    #[test]
    fn inline_images_link_to_their_attachment_and_unknown_ones_stay_inert() {
        let s = sanitize(
            r#"<img src="cid:shot1@example"><img src="cid:other@x">"#,
            &cids(),
        );
        assert_eq!(s.blocked_images, 0);
        let linked = link_inline(&s.html, |sha| {
            (sha == "ab".repeat(32)).then(|| "/cases/CAS-1/attachments/7/inline".to_string())
        });
        assert!(
            linked.contains(r#"src="/cases/CAS-1/attachments/7/inline""#),
            "{linked}"
        );
        assert!(!linked.contains("cid:"), "{linked}");
    }

    #[test]
    fn quoted_history_is_split_where_clients_mark_it() {
        let gmail = r#"<div>Thanks, it works.</div><div class="gmail_quote"><div>On Mon wrote:</div><blockquote>old</blockquote></div>"#;
        let (main, quote) = split_quoted(gmail);
        assert_eq!(main, "<div>Thanks, it works.</div>");
        assert!(quote.is_some_and(|q| q.starts_with("<div class=\"gmail_quote")));
        let outlook = r#"<p>见附件</p><hr><div id="divRplyFwdMsg" dir="ltr"><b>From:</b> x</div>"#;
        assert_eq!(split_quoted(outlook).0, "<p>见附件</p><hr>");
        let foxmail =
            "<div>好的</div><div>------------------&nbsp;原始邮件&nbsp;------------------</div>";
        assert_eq!(split_quoted(foxmail).0, "<div>好的</div>");
        assert_eq!(split_quoted("<p>no quote</p>"), ("<p>no quote</p>", None));
        // A message that is all quote keeps it as its body.
        assert_eq!(
            split_quoted("<blockquote type=\"cite\">x</blockquote>").1,
            None
        );
    }

    #[test]
    fn raster_types_by_their_bytes() {
        assert_eq!(raster_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(raster_type(b"<svg xmlns="), None);
        assert_eq!(raster_type(b"<html>"), None);
    }
}
