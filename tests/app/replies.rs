//! Replies as people are used to: text and HTML alternatives, the engineer's own
//! signature, and files of the case attached — checked in what the SMTP server got.

use crate::helpers::{SmtpSink, TestApp};
use mail_parser::MimeHeaders;
use serde_json::json;

const LOG: &str = "2024-03-01 10:00:01 slmgr /ato failed: 0xC004F074\r\n";

fn customer_mail_with_log() -> Vec<u8> {
    format!(
        "From: Ma Xiansheng <ma@bank.example>\r\nTo: support@cmgos.example\r\nSubject: =?UTF-8?B?5r+A5rS75aSx6LSl?=\r\nMessage-ID: <rp-1@bank.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nActivation fails, log attached.\r\n--b1\r\nContent-Type: text/plain; name=\"activation.log\"\r\nContent-Disposition: attachment; filename=\"activation.log\"\r\n\r\n{LOG}--b1--\r\n"
    )
    .into_bytes()
}

#[test]
fn a_reply_has_text_and_html_the_engineers_signature_and_the_files_chosen() {
    if !SmtpSink::available() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "aiosmtpd is required under CI=true"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let sink = SmtpSink::new(dir.path().to_path_buf());
    let app = TestApp::with_args(&[
        "--smtp-url",
        &format!("smtp://127.0.0.1:{}", sink.port),
        "--mail-from",
        "CMGOS Support <support@cmgos.example>",
        "--outbox-interval",
        "1",
    ]);
    let admin = app.seed_staff();
    let app = app.start();
    let wang = app.token("wangbb@cmgos.example");
    let (s, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&admin),
        Some(&customer_mail_with_log()),
    );
    assert_eq!(s, 200, "{v}");
    let number = v["case_number"].as_str().expect("case").to_string();
    let case = app.api_get(&format!("/api/cases/{number}"), &admin);
    let log_id = case["attachments"]
        .as_array()
        .expect("attachments")
        .iter()
        .find(|a| a["filename"] == "activation.log")
        .map(|a| a["id"].as_i64().expect("id"))
        .unwrap_or_else(|| panic!("the log is on the case: {case}"));

    // Wang's own signature.
    let (s, v) = app.api(
        "POST",
        "/api/me/signature",
        Some(&wang),
        Some(
            json!({"signature": "王斌斌  \r\n技术支持部 · 400-000-0000"})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["signature"], "王斌斌\n技术支持部 · 400-000-0000", "{v}");

    // A file that is not the case's is refused, and nothing is sent.
    let (s, _) = app.api(
        "POST",
        &format!("/api/cases/{number}/replies"),
        Some(&wang),
        Some(
            json!({"body_text": "x", "attachment_ids": [log_id + 1000]})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(s, 404);

    let (s, v) = app.api(
        "POST",
        &format!("/api/cases/{number}/replies"),
        Some(&wang),
        Some(
            json!({"body_text": "您好，<b>请</b>查看附件中的日志。\n\n> Activation fails, log attached.", "attachment_ids": [log_id]})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(s, 200, "{v}");
    let mails = sink.wait_for(1, 20);
    assert_eq!(mails.len(), 1);
    let raw = &mails[0];
    let msg = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("parses");
    assert!(
        raw.contains("multipart/mixed") && raw.contains("multipart/alternative"),
        "{raw}"
    );
    let text = msg.body_text(0).expect("text part");
    assert!(
        text.contains("<b>请</b>查看附件") && text.contains("技术支持部 · 400-000-0000"),
        "{text}"
    );
    let html = msg.body_html(0).expect("an HTML part");
    assert!(
        html.contains("&lt;b&gt;请&lt;/b&gt;查看附件"),
        "the text is escaped, not markup: {html}"
    );
    assert!(!html.contains("<b>请"), "{html}");
    assert!(
        html.contains("<blockquote") && html.contains("Activation fails, log attached."),
        "quoted lines as a quote: {html}"
    );
    assert!(
        html.contains("王斌斌<br>技术支持部"),
        "the signature: {html}"
    );
    let atts: Vec<_> = msg.attachments().collect();
    assert_eq!(atts.len(), 1, "{raw}");
    assert_eq!(atts[0].attachment_name(), Some("activation.log"));
    // (The line end before a MIME boundary belongs to the boundary.)
    assert_eq!(
        atts[0].contents(),
        LOG.trim_end().as_bytes(),
        "the same bytes"
    );

    // The thread shows the file on the reply.
    let case = app.api_get(&format!("/api/cases/{number}"), &admin);
    let reply = case["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["direction"] == "support")
        .cloned()
        .unwrap_or_else(|| panic!("the reply: {case}"));
    assert!(
        reply["attachments"].to_string().contains("activation.log"),
        "{reply}"
    );

    // The reply box offers each stored file once (the copy on the reply is the same
    // file), and sends it through the page's form too.
    let b = app.browser();
    b.login("wangbb@cmgos.example", crate::helpers::PASSWORD);
    let page = b.get(&format!("/cases/{number}"));
    let offered = page
        .body
        .split("reply-files")
        .nth(1)
        .unwrap_or_default()
        .split("</details>")
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(offered.matches("activation.log").count(), 1, "{offered}");
    assert!(
        offered.contains(&format!("name=\"att_{log_id}\"")),
        "{offered}"
    );

    // Without a signature of one's own, the name and the organisation sign.
    let (s, v) = app.api(
        "POST",
        "/api/me/signature",
        Some(&wang),
        Some(br#"{"signature": "  "}"#),
    );
    assert_eq!(s, 200, "{v}");
    assert!(v["signature"].is_null(), "{v}");
    let (s, _) = app.api(
        "POST",
        &format!("/api/cases/{number}/replies"),
        Some(&wang),
        Some(json!({"body_text": "第二封。"}).to_string().as_bytes()),
    );
    assert_eq!(s, 200);
    let mails = sink.wait_for(2, 20);
    let second = mail_parser::MessageParser::default()
        .parse(mails[1].as_bytes())
        .expect("parses");
    let text = second.body_text(0).expect("text");
    assert!(
        text.contains("Wang Binbin") && text.contains("CMGOS Support"),
        "{text}"
    );
    assert_eq!(second.attachments().count(), 0);
}
