//! Notifications over HTTP with a real SMTP server on loopback: who is told what, never
//! for one's own action, settings honoured, and a notice posted back is no case.

use crate::helpers::{mail, SmtpSink, TestApp};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn app_with_smtp(sink: &SmtpSink) -> (TestApp, String) {
    let app = TestApp::with_args(&[
        "--smtp-url",
        &format!("smtp://127.0.0.1:{}", sink.port),
        "--mail-from",
        "CMGOS Support <support@cmgos.example>",
        "--outbox-interval",
        "1",
        "--team-address",
        "team@cmgos.example",
        "--public-url",
        "https://casebook.test",
    ]);
    let admin = app.seed_staff();
    (app.start(), admin)
}

fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (s, v) = app.api("POST", path, Some(token), Some(body.to_string().as_bytes()));
    assert_eq!(s, 200, "POST {path}: {v}");
    v
}

fn inbound(app: &TestApp, admin: &str, raw: &[u8]) -> Value {
    let (s, v) = app.api("POST", "/api/mail/inbound", Some(admin), Some(raw));
    assert_eq!(s, 200, "{v}");
    v
}

/// (subject, text, raw) of each mail the sink got, decoded.
fn read(mails: &[String]) -> Vec<(String, String, String)> {
    mails
        .iter()
        .map(|m| {
            let msg = mail_parser::MessageParser::default()
                .parse(m.as_bytes())
                .expect("parses");
            let to = msg
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_string();
            (
                format!("{to} | {}", msg.subject().unwrap_or_default()),
                msg.body_text(0).unwrap_or_default().to_string(),
                m.clone(),
            )
        })
        .collect()
}

/// Waits until the sink holds `n` mails, then a moment more to see that no further one
/// comes.
fn exactly(sink: &SmtpSink, n: usize) -> Vec<(String, String, String)> {
    let got = sink.wait_for(n, 20);
    std::thread::sleep(Duration::from_secs(3));
    let all = sink.messages();
    assert_eq!(
        all.len(),
        n,
        "{:#?}",
        read(&all).iter().map(|m| &m.0).collect::<Vec<_>>()
    );
    let _ = got;
    read(&all)
}

fn unread(app: &TestApp, token: &str) -> Value {
    app.api_get("/api/notifications", token)
}

#[test]
fn the_assignee_hears_of_each_customer_reply_once_and_never_of_their_own() {
    if !SmtpSink::available() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "aiosmtpd is required under CI=true"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let sink = SmtpSink::new(dir.path().to_path_buf());
    let (app, admin) = app_with_smtp(&sink);
    let wang = app.token("wangbb@cmgos.example");
    let liu = app.token("liuyu@cmgos.example");

    // A new case nobody has: the team address is told.
    let v = inbound(
        &app,
        &admin,
        &mail(
            &[
                ("From", "Ma Xiansheng <ma@bank.example>"),
                ("To", "support@cmgos.example"),
                ("Subject", "激活失败 0xC004F074"),
                ("Message-ID", "<n-1@bank.example>"),
            ],
            "您好，激活失败，错误代码 0xC004F074。",
        ),
    );
    let number = v["case_number"].as_str().expect("case").to_string();
    let mails = exactly(&sink, 1);
    assert!(
        mails[0].0.starts_with("team@cmgos.example | 新案例: "),
        "{:?}",
        mails[0].0
    );
    assert!(mails[0].1.contains("> 您好，激活失败"), "{}", mails[0].1);
    assert!(mails[0]
        .1
        .contains(&format!("https://casebook.test/cases/{number}")));

    // Assigned to Wang; the customer replies: Wang alone hears of it, quoted.
    post(
        &app,
        &admin,
        &format!("/api/cases/{number}/assign"),
        json!({"assignee": "wangbb@cmgos.example"}),
    );
    let t0 = Instant::now();
    inbound(
        &app,
        &admin,
        &mail(
            &[
                ("From", "Ma Xiansheng <ma@bank.example>"),
                ("To", "support@cmgos.example"),
                ("Subject", "Re: 激活失败 0xC004F074"),
                ("Message-ID", "<n-2@bank.example>"),
                ("In-Reply-To", "<n-1@bank.example>"),
                ("References", "<n-1@bank.example>"),
            ],
            "日志已附上，密码 password: hunter2 请查收。",
        ),
    );
    let mails = exactly(&sink, 2);
    let delay = t0.elapsed();
    let to_wang: Vec<_> = mails
        .iter()
        .filter(|m| m.0.starts_with("wangbb@cmgos.example | "))
        .collect();
    assert_eq!(to_wang.len(), 1, "{mails:?}");
    let (subject, text, raw) = to_wang[0];
    assert!(
        subject.contains(&format!("客户回复: {number}")),
        "{subject}"
    );
    assert!(text.contains("> 日志已附上"), "{text}");
    assert!(!text.contains("hunter2"), "secrets masked: {text}");
    assert_eq!(
        crate::helpers::header_of(raw, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    eprintln!("customer reply to notification in the sink: {delay:?}");
    let n = unread(&app, &wang);
    assert_eq!(n["unread"], 1, "{n}");
    assert_eq!(n["notifications"][0]["kind"], "customer_reply", "{n}");
    assert_eq!(n["notifications"][0]["case_number"], number.as_str(), "{n}");

    // Wang's own reply tells nobody (Wang is the actor, nobody else is on the case).
    post(
        &app,
        &wang,
        &format!("/api/cases/{number}/replies"),
        json!({"body_text": "收到，我们正在分析日志。"}),
    );
    // Wang mentions Liu in a note: Liu is told, and watches the case from now on.
    post(
        &app,
        &wang,
        &format!("/api/cases/{number}/notes"),
        json!({"body_text": "@liuyu 请看一下这个激活日志"}),
    );
    // The reply goes to the customer (a case mail), the mention to Liu.
    let mails = exactly(&sink, 4);
    assert!(
        mails
            .iter()
            .any(|m| m.0.starts_with("liuyu@cmgos.example | 有人提到了您")),
        "{:?}",
        mails.iter().map(|m| &m.0).collect::<Vec<_>>()
    );
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.0.starts_with("wangbb@cmgos.example"))
            .count(),
        1,
        "nothing new for Wang"
    );
    let case = app.api_get(&format!("/api/cases/{number}"), &admin);
    assert_eq!(case["status"], "waiting_customer", "{case}");

    // Liu reads in English and wants a digest; Wang turns customer replies off.
    let p = post(
        &app,
        &liu,
        "/api/me/notifications",
        json!({"language": "en", "customer_reply": true, "rnd_answer": true, "mention": true, "digest_minutes": 1440}),
    );
    assert_eq!(p["digest_minutes"], 1440, "{p}");
    post(
        &app,
        &wang,
        "/api/me/notifications",
        json!({"language": "zh-CN", "customer_reply": false, "rnd_answer": true, "mention": true, "digest_minutes": 0}),
    );
    let (s, _) = app.api(
        "POST",
        "/api/me/notifications",
        Some(&wang),
        Some(br#"{"digest_minutes": 99999}"#),
    );
    assert_eq!(s, 400);
    inbound(
        &app,
        &admin,
        &mail(
            &[
                ("From", "Ma Xiansheng <ma@bank.example>"),
                ("To", "support@cmgos.example"),
                ("Subject", "Re: 激活失败 0xC004F074"),
                ("Message-ID", "<n-3@bank.example>"),
                ("In-Reply-To", "<n-2@bank.example>"),
            ],
            "还是不行。",
        ),
    );
    // No mail: Wang turned it off, Liu's digest waits a day. Both lists have it.
    let mails = exactly(&sink, 4);
    assert_eq!(unread(&app, &wang)["unread"], 2);
    let liu_list = unread(&app, &liu);
    let kinds: Vec<&str> = liu_list["notifications"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|n| n["kind"].as_str())
        .collect();
    assert_eq!(kinds, vec!["customer_reply", "mention"], "{liu_list}");
    let marked = post(&app, &liu, "/api/notifications/read", json!({}));
    assert_eq!(marked["marked"], 2);
    assert_eq!(unread(&app, &liu)["unread"], 0);

    // A notice posted back into the inbound path is no case and no message.
    let notice = mails
        .iter()
        .find(|m| m.0.starts_with("liuyu@"))
        .expect("Liu's notice");
    let v = inbound(&app, &admin, notice.2.as_bytes());
    assert!(v["case_number"].is_null(), "{v}");
    let all = app.api_get("/api/cases?per_page=10", &admin);
    assert_eq!(all["total"], 1, "{all}");
    let case = app.api_get(&format!("/api/cases/{number}"), &admin);
    assert_eq!(
        case["messages"].as_array().map(Vec::len),
        Some(5),
        "three from the customer, one reply, one note: {case}"
    );
}

#[test]
fn r_and_d_answers_tell_the_assignee_and_watchers_in_the_browser_too() {
    let app = TestApp::new();
    let admin = app.seed_staff();
    let app = app.start();
    let wang = app.token("wangbb@cmgos.example");
    let liu = app.token("liuyu@cmgos.example");
    let v = inbound(
        &app,
        &admin,
        &mail(
            &[
                ("From", "Ma Xiansheng <ma@bank.example>"),
                ("To", "support@cmgos.example"),
                ("Subject", "activation fails"),
                ("Message-ID", "<r-1@bank.example>"),
            ],
            "Activation fails with 0xC004F074.",
        ),
    );
    let number = v["case_number"].as_str().expect("case").to_string();
    post(
        &app,
        &admin,
        &format!("/api/cases/{number}/assign"),
        json!({"assignee": "wangbb@cmgos.example"}),
    );
    let esc = post(
        &app,
        &wang,
        &format!("/api/cases/{number}/escalations"),
        json!({"question": "Hi Dev, what does 0xC004F074 mean here?"}),
    );
    let id = esc["id"].as_i64().expect("id");
    post(
        &app,
        &liu,
        &format!("/api/escalations/{id}/answers"),
        json!({"body_text": "The KMS host cannot be reached."}),
    );
    let n = unread(&app, &wang);
    assert_eq!(n["unread"], 1, "{n}");
    assert_eq!(n["notifications"][0]["kind"], "rnd_answer", "{n}");
    assert_eq!(n["notifications"][0]["actor"], "Liu Yu", "{n}");
    // Liu answered: Liu is not told of it.
    assert_eq!(unread(&app, &liu)["unread"], 0);

    // The browser: the badge on the queue, the list, opening marks read.
    let b = app.browser();
    b.login("wangbb@cmgos.example", crate::helpers::PASSWORD);
    let queue = b.get("/cases");
    assert!(
        queue.body.contains("class=\"badge count\""),
        "{}",
        queue.body
    );
    let list = b.get("/notifications");
    assert!(
        list.body.contains("研发答复") && list.body.contains(&number),
        "{}",
        list.body
    );
    let nid = n["notifications"][0]["id"].as_i64().expect("id");
    let opened = b.get(&format!("/notifications/{nid}/open"));
    assert_eq!(opened.status, 303);
    assert_eq!(
        opened.header("Location"),
        Some(format!("/cases/{number}").as_str())
    );
    assert_eq!(unread(&app, &wang)["unread"], 0);
    // Someone else's notification is not yours to open.
    let b2 = app.browser();
    b2.login("liuyu@cmgos.example", crate::helpers::PASSWORD);
    assert_eq!(b2.get(&format!("/notifications/{nid}/open")).status, 404);

    // Watching from the case page: Liu watches, the customer writes, Liu is told.
    let page = b2.get(&format!("/cases/{number}"));
    let csrf = crate::helpers::csrf_in(&page.body).expect("csrf");
    let r = b2.post(
        &format!("/cases/{number}/watch"),
        &[("csrf_token", &csrf), ("watch", "on")],
    );
    assert_eq!(r.status, 303);
    assert!(b2.get(&format!("/cases/{number}")).body.contains("Liu Yu"));
    inbound(
        &app,
        &admin,
        &mail(
            &[
                ("From", "Ma Xiansheng <ma@bank.example>"),
                ("To", "support@cmgos.example"),
                ("Subject", "Re: activation fails"),
                ("Message-ID", "<r-2@bank.example>"),
                ("In-Reply-To", "<r-1@bank.example>"),
            ],
            "Any news?",
        ),
    );
    assert_eq!(unread(&app, &liu)["unread"], 1);
    assert_eq!(unread(&app, &wang)["unread"], 1);
    // And stops watching through the API.
    post(
        &app,
        &liu,
        &format!("/api/cases/{number}/watchers"),
        json!({"watch": false}),
    );
    inbound(
        &app,
        &admin,
        &mail(
            &[
                ("From", "Ma Xiansheng <ma@bank.example>"),
                ("To", "support@cmgos.example"),
                ("Subject", "Re: activation fails"),
                ("Message-ID", "<r-3@bank.example>"),
                ("In-Reply-To", "<r-2@bank.example>"),
            ],
            "Hello?",
        ),
    );
    assert_eq!(unread(&app, &liu)["unread"], 1);
    assert_eq!(unread(&app, &wang)["unread"], 2);
}

/// Waits until the user's list holds a notification of `kind` (the worker's pace).
fn wait_kind(app: &TestApp, token: &str, kind: &str, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let n = unread(app, token);
        let found = n["notifications"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["kind"] == kind));
        if found || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn time_alone_warns_of_a_first_response_due_and_an_escalation_overdue_once() {
    let app = TestApp::with_args(&["--escalation-overdue-hours", "0", "--outbox-interval", "1"]);
    let admin = app.seed_staff();
    let app = app.start();
    let wang = app.token("wangbb@cmgos.example");
    // Written 7 h 45 min ago: a normal case's 8-hour first response is due in 15 min.
    let sent = (chrono::Utc::now() - chrono::Duration::minutes(465)).to_rfc2822();
    let v = inbound(
        &app,
        &admin,
        &mail(
            &[
                ("From", "Ma Xiansheng <ma@bank.example>"),
                ("To", "support@cmgos.example"),
                ("Subject", "activation still fails"),
                ("Message-ID", "<s-1@bank.example>"),
                ("Date", &sent),
            ],
            "Please help.",
        ),
    );
    let number = v["case_number"].as_str().expect("case").to_string();
    post(
        &app,
        &admin,
        &format!("/api/cases/{number}/assign"),
        json!({"assignee": "wangbb@cmgos.example"}),
    );
    let n = wait_kind(&app, &wang, "sla_warning", 15);
    let warned: Vec<&Value> = n["notifications"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|x| x["kind"] == "sla_warning")
        .collect();
    assert_eq!(warned.len(), 1, "{n}");
    assert_eq!(warned[0]["actor"], "Casebook");
    // Escalated: with a zero-hour limit it is overdue at once, and told once.
    post(
        &app,
        &wang,
        &format!("/api/cases/{number}/escalations"),
        json!({"question": "Hi Dev, please look."}),
    );
    let n = wait_kind(&app, &wang, "escalation_overdue", 15);
    std::thread::sleep(Duration::from_secs(3));
    let n2 = unread(&app, &wang);
    let count = |v: &Value, k: &str| {
        v["notifications"]
            .as_array()
            .map(|a| a.iter().filter(|x| x["kind"] == k).count())
            .unwrap_or(0)
    };
    assert_eq!(count(&n, "escalation_overdue"), 1, "{n}");
    assert_eq!(count(&n2, "escalation_overdue"), 1, "told once: {n2}");
    assert_eq!(count(&n2, "sla_warning"), 1, "told once: {n2}");
    // The answer ends the wait: nothing more is told of it.
    post(
        &app,
        &wang,
        &format!("/api/cases/{number}/replies"),
        json!({"body_text": "We are on it."}),
    );
}

/// A digest every minute: two customer replies within it come as one mail once the
/// minute has passed, and not before; notifications held for a digest do not stand in
/// front of another user's mail.
#[test]
fn a_digest_comes_once_its_period_has_passed_with_everything_in_it() {
    if !SmtpSink::available() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "aiosmtpd is required under CI=true"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let sink = SmtpSink::new(dir.path().to_path_buf());
    let (app, admin) = app_with_smtp(&sink);
    let wang = app.token("wangbb@cmgos.example");
    let v = inbound(
        &app,
        &admin,
        &mail(
            &[
                ("From", "Ma Xiansheng <ma@bank.example>"),
                ("To", "support@cmgos.example"),
                ("Subject", "激活失败"),
                ("Message-ID", "<dg-1@bank.example>"),
            ],
            "激活失败 0xC004F074。",
        ),
    );
    let number = v["case_number"].as_str().expect("case").to_string();
    // The new case went to the team address.
    let _ = exactly(&sink, 1);
    post(
        &app,
        &wang,
        &format!("/api/cases/{number}/assign"),
        json!({"assignee": "wangbb@cmgos.example"}),
    );
    post(
        &app,
        &wang,
        "/api/me/notifications",
        json!({"language": "en", "customer_reply": true, "rnd_answer": true, "mention": true, "digest_minutes": 1}),
    );
    let started = Instant::now();
    for (i, text) in ["日志在附件里。", "还有截图。"].iter().enumerate() {
        inbound(
            &app,
            &admin,
            &mail(
                &[
                    ("From", "Ma Xiansheng <ma@bank.example>"),
                    ("To", "support@cmgos.example"),
                    ("Subject", "Re: 激活失败"),
                    ("Message-ID", &format!("<dg-r{i}@bank.example>")),
                    ("In-Reply-To", "<dg-1@bank.example>"),
                ],
                text,
            ),
        );
    }
    // Meanwhile another case for the team is mailed at once: the held digest is not
    // in its way.
    inbound(
        &app,
        &admin,
        &mail(
            &[
                ("From", "Li <li@hospital.example>"),
                ("To", "support@cmgos.example"),
                ("Subject", "打印机"),
                ("Message-ID", "<dg-2@hospital.example>"),
            ],
            "打印机不能用。",
        ),
    );
    let mails = sink.wait_for(2, 20);
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "the team's mail came at once"
    );
    assert_eq!(
        mails.len(),
        2,
        "no digest before its minute: {:?}",
        read(&mails).iter().map(|m| &m.0).collect::<Vec<_>>()
    );
    let all = sink.wait_for(3, 120);
    let got = read(&all);
    let digests: Vec<_> = got
        .iter()
        .filter(|m| m.0.starts_with("wangbb@cmgos.example"))
        .collect();
    assert_eq!(
        digests.len(),
        1,
        "{:?}",
        got.iter().map(|m| &m.0).collect::<Vec<_>>()
    );
    assert!(
        started.elapsed() >= Duration::from_secs(55),
        "not before the minute: {:?}",
        started.elapsed()
    );
    let d = digests[0];
    assert!(d.0.contains("(2)"), "two in one digest: {}", d.0);
    assert!(
        d.1.contains("日志在附件里") && d.1.contains("还有截图"),
        "{}",
        d.1
    );
    assert!(d.2.contains("Auto-Submitted: auto-generated"), "{}", d.2);
    // Nothing more comes.
    let _ = exactly(&sink, 3);
}
