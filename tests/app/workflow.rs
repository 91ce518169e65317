//! Case work: replies through a real SMTP server, the outbox, escalations, closure.

use crate::helpers::{header_of, mail, SmtpSink, TestApp, PASSWORD};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn app_with_smtp(sink_port: u16) -> (TestApp, String) {
    let url = format!("smtp://127.0.0.1:{sink_port}");
    let app = TestApp::with_args(&[
        "--smtp-url",
        &url,
        "--mail-from",
        "CMGOS Support <support@cmgos.example>",
        "--outbox-interval",
        "1",
    ]);
    let token = app.seed_staff();
    (app.start(), token)
}

fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (s, v) = app.api("POST", path, Some(token), Some(body.to_string().as_bytes()));
    assert_eq!(s, 200, "POST {path}: {v}");
    v
}

fn inbound(app: &TestApp, token: &str, raw: &[u8]) -> Value {
    post_raw(app, token, raw)
}

fn post_raw(app: &TestApp, token: &str, raw: &[u8]) -> Value {
    let (s, v) = app.api("POST", "/api/mail/inbound", Some(token), Some(raw));
    assert_eq!(s, 200, "{v}");
    v
}

fn wait_outbox(
    app: &TestApp,
    token: &str,
    number: &str,
    pred: impl Fn(&[Value]) -> bool,
    secs: u64,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = app.api_get(&format!("/api/cases/{number}/outbox"), token);
        let list = v["outbox"].as_array().cloned().unwrap_or_default();
        if pred(&list) || Instant::now() > deadline {
            return list;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn customer_case(app: &TestApp, token: &str) -> String {
    let r = inbound(
        app,
        token,
        &mail(
            &[
                ("From", "Ma Xiansheng <ma@bank.example>"),
                ("To", "support@cmgos.example"),
                ("Subject", "激活失败 0xC004F074"),
                ("Message-ID", "<cust-1@bank.example>"),
            ],
            "您好，激活失败，错误代码 0xC004F074。",
        ),
    );
    r["case_number"].as_str().expect("case").to_string()
}

#[test]
fn reply_goes_out_threaded_and_the_answer_threads_back() {
    if !SmtpSink::available() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let sink = SmtpSink::new(dir.path().to_path_buf());
    let (app, token) = app_with_smtp(sink.port);
    let support = app.token("wangbb@cmgos.example");
    let number = customer_case(&app, &token);
    post(
        &app,
        &support,
        &format!("/api/cases/{number}/replies"),
        json!({"body_text": "请提供日志。"}),
    );
    let list = wait_outbox(
        &app,
        &token,
        &number,
        |l| l.iter().all(|o| o["state"] == "sent") && !l.is_empty(),
        30,
    );
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["state"], "sent", "{list:?}");
    assert_eq!(list[0]["to"], json!(["ma@bank.example"]));
    let msgs = sink.wait_for(1, 10);
    assert_eq!(msgs.len(), 1);
    let raw = &msgs[0];
    let subject = header_of(raw, "Subject").expect("subject");
    let decoded = decode_subject(&subject);
    assert!(
        decoded.starts_with(&format!("[案例号: {number}]")),
        "tag first: {decoded}"
    );
    assert!(decoded.contains("CMIT:"), "{decoded}");
    assert_eq!(
        header_of(raw, "In-Reply-To").as_deref(),
        Some("<cust-1@bank.example>")
    );
    assert!(header_of(raw, "References").is_some_and(|r| r.contains("<cust-1@bank.example>")));
    let our_id = header_of(raw, "Message-ID").expect("message id");
    assert_eq!(
        our_id,
        format!("<{}>", list[0]["message_id"].as_str().unwrap_or(""))
    );
    assert_eq!(
        header_of(raw, "X-Casebook-Loop").as_deref(),
        Some(number.as_str())
    );
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    assert_eq!(case["status"], "waiting_customer");
    assert!(case["first_response_at"].is_string());
    // The customer answers from a client that drops our tag: In-Reply-To is enough.
    let back = inbound(
        &app,
        &token,
        &mail(
            &[
                ("From", "ma@bank.example"),
                ("Subject", "Re: 日志"),
                ("Message-ID", "<cust-2@bank.example>"),
                ("In-Reply-To", &our_id),
            ],
            "日志见附件",
        ),
    );
    assert_eq!(back["case_number"].as_str(), Some(number.as_str()));
    assert_eq!(
        app.api_get(&format!("/api/cases/{number}"), &token)["status"],
        "open"
    );
}

/// RFC 2047 encoded words (UTF-8, B or Q) in a header.
fn decode_subject(s: &str) -> String {
    let raw = format!("Subject: {s}\r\n\r\n");
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_default()
}

#[test]
fn outbox_keeps_mail_while_smtp_is_down_and_delivers_once() {
    if !SmtpSink::available() {
        return;
    }
    // The mail server is "down": its port is held by a listener that closes every
    // connection at once. A port merely left free could be given to another test's
    // sink meanwhile, which would then receive this test's mail.
    let down = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = down.local_addr().expect("addr").port();
    down.set_nonblocking(true).expect("nonblocking");
    let closing = Arc::new(AtomicBool::new(true));
    let holder = {
        let closing = closing.clone();
        std::thread::spawn(move || {
            while closing.load(Ordering::Relaxed) {
                match down.accept() {
                    Ok((conn, _)) => drop(conn),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })
    };
    let (app, token) = app_with_smtp(port);
    let number = customer_case(&app, &token);
    post(
        &app,
        &token,
        &format!("/api/cases/{number}/replies"),
        json!({"body_text": "first answer"}),
    );
    let list = wait_outbox(
        &app,
        &token,
        &number,
        |l| {
            l.first()
                .is_some_and(|o| o["attempts"].as_i64().unwrap_or(0) >= 1)
        },
        30,
    );
    assert_eq!(
        list[0]["state"], "queued",
        "kept while the server is down: {list:?}"
    );
    assert!(list[0]["last_error"].is_string());
    // The server comes up on that port.
    closing.store(false, Ordering::Relaxed);
    holder.join().expect("holder");
    let dir = tempfile::tempdir().expect("dir");
    let sink = SmtpSink::on_port(port, dir.path().to_path_buf());
    let list = wait_outbox(
        &app,
        &token,
        &number,
        |l| l.first().is_some_and(|o| o["state"] == "sent"),
        60,
    );
    assert_eq!(list[0]["state"], "sent", "{list:?}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sink.messages().len(), 1, "delivered exactly once");
}

#[test]
fn escalation_answered_in_the_browser_and_by_mail() {
    if !SmtpSink::available() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let sink = SmtpSink::new(dir.path().to_path_buf());
    let (app, token) = app_with_smtp(sink.port);
    let number = customer_case(&app, &token);
    let support = app.browser();
    support.login("wangbb@cmgos.example", PASSWORD);
    let csrf = support.csrf(&format!("/cases/{number}"));
    let r = support.post(
        &format!("/cases/{number}/escalations"),
        &[
            ("question", "在线激活失败 0xC004F074，请确认原因"),
            ("serial_number", "T102210000943"),
            ("help_needed", "原因和解决方案"),
            ("csrf_token", &csrf),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    assert_eq!(case["status"], "escalated");
    let esc_id = case["escalations"][0]["id"]
        .as_i64()
        .expect("escalation id");
    // R&D got a notice by mail, marked automatic; the customer got nothing.
    let msgs = sink.wait_for(1, 20);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(
        header_of(&msgs[0], "To").is_some_and(|t| t.contains("liuyu@cmgos.example")),
        "{msgs:?}"
    );
    assert_eq!(
        header_of(&msgs[0], "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    let notice_id = header_of(&msgs[0], "Message-ID").expect("notice id");
    // The R&D queue lists it; R&D answers in the browser.
    let rnd = app.browser();
    rnd.login("liuyu@cmgos.example", PASSWORD);
    let q = rnd.get("/escalations");
    assert!(q.body.contains(&number), "R&D queue lists the escalation");
    let csrf = rnd.csrf(&format!("/cases/{number}"));
    let r = rnd.post(
        &format!("/escalations/{esc_id}/answer"),
        &[("body", "WMI 查询 BIOS 序列号失败"), ("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 303);
    // Support follows up; R&D answers by replying to the notice mail.
    let csrf = support.csrf(&format!("/cases/{number}"));
    assert_eq!(
        support
            .post(
                &format!("/escalations/{esc_id}/followup"),
                &[("body", "需要什么日志？"), ("csrf_token", &csrf)]
            )
            .status,
        303
    );
    let by_mail = inbound(
        &app,
        &token,
        &mail(
            &[
                ("From", "Liu Yu <liuyu@cmgos.example>"),
                ("Subject", "Re: notice"),
                ("Message-ID", "<rnd-1@cmgos.example>"),
                ("In-Reply-To", &notice_id),
            ],
            "请收集 CMGE_Log。\nSincerely,\nJoy",
        ),
    );
    assert_eq!(by_mail["case_number"].as_str(), Some(number.as_str()));
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    let esc = &case["escalations"][0];
    let answers: Vec<&str> = esc["answers"]
        .as_array()
        .expect("answers")
        .iter()
        .filter_map(|a| a["body_text"].as_str())
        .collect();
    assert_eq!(answers.len(), 2, "{esc}");
    assert!(answers[1].contains("CMGE_Log"));
    assert_eq!(esc["followups"].as_array().map(Vec::len), Some(1));
    // Nothing internal reached the customer.
    std::thread::sleep(Duration::from_secs(2));
    for m in sink.messages() {
        assert!(
            !header_of(&m, "To")
                .unwrap_or_default()
                .contains("bank.example"),
            "internal mail went to the customer: {m}"
        );
    }
}

#[test]
fn scope_closure_and_roles() {
    if !SmtpSink::available() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let sink = SmtpSink::new(dir.path().to_path_buf());
    let (app, token) = app_with_smtp(sink.port);
    let number = customer_case(&app, &token);
    let support = app.token("wangbb@cmgos.example");
    let rnd = app.token("liuyu@cmgos.example");
    let scope = json!({"problem_definition": "用户反馈激活失败。", "problem_scope": "协助用户分析上述问题。", "send": true});
    post(&app, &support, &format!("/api/cases/{number}/scope"), scope);
    post(
        &app,
        &support,
        &format!("/api/cases/{number}/scope"),
        json!({"problem_definition": "激活失败（修订）", "problem_scope": "分析", "send": false}),
    );
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    assert_eq!(case["scope"]["problem_definition"], "激活失败（修订）");
    assert_eq!(case["scope"]["versions"], 2, "editing keeps history");
    let is_scope = |m: &str| {
        m.contains("问题范围") || decode_body(m).contains("如果您对以上的问题范围界定有任何异议")
    };
    let msgs = sink.wait_for_one(20, is_scope);
    if !msgs.iter().any(|m| is_scope(m)) {
        let case = app.api_get(&format!("/api/cases/{number}"), &token);
        panic!(
            "no scope mail; {} other messages received; the case's outbox: {}\n{}",
            msgs.len(),
            case["outbox"],
            app.server_log()
        );
    }
    // R&D may not close a case, reply to customers or change the status.
    let closure = json!({"problem_definition": "激活失败", "resolution": "用户已将系统重新安装，激活成功。", "root_cause": "系统损坏", "customer_agreed": true, "send": true});
    for (path, body) in [
        (format!("/api/cases/{number}/closure"), closure.clone()),
        (
            format!("/api/cases/{number}/replies"),
            json!({"body_text": "x"}),
        ),
        (
            format!("/api/cases/{number}/status"),
            json!({"status": "resolved"}),
        ),
    ] {
        let (s, v) = app.api("POST", &path, Some(&rnd), Some(body.to_string().as_bytes()));
        assert_eq!(s, 403, "{path}: {v}");
    }
    let b = app.browser();
    b.login("liuyu@cmgos.example", PASSWORD);
    let csrf = b.csrf(&format!("/cases/{number}"));
    let r = b.post(
        &format!("/cases/{number}/closure"),
        &[
            ("problem_definition", "x"),
            ("resolution", "y"),
            ("csrf_token", &csrf),
        ],
    );
    assert_eq!(r.status, 403);
    assert_ne!(
        app.api_get(&format!("/api/cases/{number}"), &token)["status"],
        "closed"
    );
    // Support closes with a summary; the closure mail goes out.
    post(
        &app,
        &support,
        &format!("/api/cases/{number}/closure"),
        closure,
    );
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    assert_eq!(case["status"], "closed");
    assert!(case["closure"]["resolution"]
        .as_str()
        .unwrap_or("")
        .contains("重新安装"));
    // The closure mail, whatever else went out meanwhile (a staff notification may
    // come between the scope mail and it).
    let deadline = Instant::now() + Duration::from_secs(20);
    let closure_mail = loop {
        let msgs = sink.messages();
        if let Some(m) = msgs.iter().find(|m| decode_body(m).contains("案例总结")) {
            break Some(m.clone());
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        closure_mail.is_some(),
        "no closure mail among {} sent",
        sink.messages().len()
    );
    // Invalid transitions are refused with a message; a closed case reopens.
    let (s, v) = app.api(
        "POST",
        &format!("/api/cases/{number}/status"),
        Some(&support),
        Some(json!({"status": "escalated"}).to_string().as_bytes()),
    );
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"], "bad_request");
    post(
        &app,
        &support,
        &format!("/api/cases/{number}/status"),
        json!({"status": "open"}),
    );
    assert_eq!(
        app.api_get(&format!("/api/cases/{number}"), &token)["status"],
        "open"
    );
    // Internal notes stay internal.
    post(
        &app,
        &rnd,
        &format!("/api/cases/{number}/notes"),
        json!({"body_text": "内部：疑似 WMI 损坏"}),
    );
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    assert!(case["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .any(|m| m["direction"] == "internal"));
    assert_eq!(sink.messages().len(), 2, "a note sends nothing");
}

fn decode_body(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.body_text(0).map(|b| b.into_owned()))
        .unwrap_or_default()
}

#[test]
fn queue_filters_and_sla() {
    let app = TestApp::with_args(&["--sla-minutes", "1,1,1,1"]);
    let token = app.seed_staff();
    let app = app.start();
    let old = post_raw(
        &app,
        &token,
        &mail(
            &[
                ("From", "a@old.example"),
                ("Subject", "old problem"),
                ("Message-ID", "<old@old.example>"),
                ("Date", "Mon, 01 Jan 2024 09:00:00 +0000"),
            ],
            "help",
        ),
    );
    let number = old["case_number"].as_str().expect("number").to_string();
    let list = app.api_get("/api/cases?breached=1&status=active", &token);
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["cases"][0]["number"].as_str(), Some(number.as_str()));
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let q = b.get("/cases?breached=1");
    assert!(q.body.contains(&number));
    assert!(
        q.body.contains("已超时") || q.body.contains("Overdue"),
        "SLA clock shown"
    );
    // Assign to me, then "my cases".
    let page = b.get(&format!("/cases/{number}"));
    let me = regex::Regex::new(r#"<option value="(\d+)"[^>]*>Wang Binbin</option>"#)
        .expect("re")
        .captures(&page.body)
        .expect("me")[1]
        .to_string();
    let csrf = b.csrf(&format!("/cases/{number}"));
    assert_eq!(
        b.post(
            &format!("/cases/{number}/assign"),
            &[
                ("assignee", &me),
                ("priority", "high"),
                ("csrf_token", &csrf)
            ]
        )
        .status,
        303
    );
    let mine = b.get("/cases?assignee=me");
    assert!(mine.body.contains(&number));
    let none = app.api_get("/api/cases?assignee=me&q=nothing-like-this", &token);
    assert_eq!(none["total"], 0);
    let (s, _) = app.api("GET", "/api/cases?status=bogus", Some(&token), None);
    assert_eq!(s, 400);
    let (s, _) = app.api(
        "GET",
        "/api/cases?q=%27%20OR%201%3D1%20--&customer=%25_",
        Some(&token),
        None,
    );
    assert_eq!(s, 200);
}

#[test]
fn assignment_and_priority_through_the_api() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let number = customer_case(&app, &token);
    let support = app.token("wangbb@cmgos.example");
    let rnd = app.token("liuyu@cmgos.example");
    let path = format!("/api/cases/{number}/assign");
    let case = |app: &TestApp| app.api_get(&format!("/api/cases/{number}"), &token);
    // Assign by address with a priority.
    post(
        &app,
        &support,
        &path,
        json!({"assignee": "WangBB@cmgos.example", "priority": "high"}),
    );
    let c = case(&app);
    assert_eq!(c["assignee"], "Wang Binbin", "{c}");
    assert_eq!(c["priority"], "high");
    // A missing field keeps what the case has.
    post(&app, &support, &path, json!({"priority": "urgent"}));
    let c = case(&app);
    assert_eq!(
        (c["assignee"].clone(), c["priority"].clone()),
        (json!("Wang Binbin"), json!("urgent"))
    );
    post(
        &app,
        &support,
        &path,
        json!({"assignee": "admin@casebook.example"}),
    );
    let c = case(&app);
    assert_eq!(
        (c["assignee"].clone(), c["priority"].clone()),
        (json!("Admin"), json!("urgent"))
    );
    // null unassigns.
    post(&app, &support, &path, json!({"assignee": null}));
    assert_eq!(case(&app)["assignee"], Value::Null);
    // Unknown people and priorities are clear errors; R&D and outsiders may not assign.
    for (body, want) in [
        (json!({"assignee": "nobody@cmgos.example"}), 400),
        (json!({"priority": "someday"}), 400),
    ] {
        let (s, v) = app.api(
            "POST",
            &path,
            Some(&support),
            Some(body.to_string().as_bytes()),
        );
        assert_eq!(s, want, "{body}: {v}");
        assert!(v["error"].is_string() || v["message"].is_string(), "{v}");
    }
    let (s, _) = app.api("POST", &path, Some(&rnd), Some(br#"{"priority":"low"}"#));
    assert_eq!(s, 403);
    let (s, _) = app.api("POST", &path, None, Some(br#"{"priority":"low"}"#));
    assert_eq!(s, 401);
    assert_eq!(case(&app)["priority"], "urgent");
}
