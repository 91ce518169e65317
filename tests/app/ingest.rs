//! Mail ingestion: the seed, threading rules, duplicates, quarantine, inputs.

use crate::helpers::{assert_time, fixture, mail, TestApp, PASSWORD};
use serde_json::Value;

fn seed_path() -> String {
    fixture("seed-export.txt").display().to_string()
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

fn inbound(app: &TestApp, token: &str, raw: &[u8]) -> Value {
    let (s, v) = app.api("POST", "/api/mail/inbound", Some(token), Some(raw));
    assert_eq!(s, 200, "{v}");
    v
}

#[test]
fn the_seed_becomes_one_case() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let out = app.cli_ok(&["ingest", "--json", &seed_path()], None);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 10, "{out}");
    assert_eq!(lines[0]["outcome"], "created");
    assert!(
        lines[1..].iter().all(|l| l["outcome"] == "threaded"),
        "{out}"
    );
    assert!(lines.iter().all(|l| l["case_number"] == "CAS-06496-T2V9C6"));
    let app = app.start();
    let k = app.api_get("/api/cases/CAS-06496-T2V9C6", &token);
    let msgs = k["messages"].as_array().expect("messages");
    assert_eq!(msgs.len(), 10);
    assert_eq!(msgs[0]["from_name"], "Wang Binbin");
    assert_eq!(msgs[0]["from_address"], "wangbb@cmgos.example");
    assert!(msgs[0]["sent_at"]
        .as_str()
        .unwrap_or("")
        .starts_with("2022-06-24T17:39:09"));
    assert_eq!(msgs[3]["from_name"], "Liu Yu");
    assert_eq!(msgs[3]["direction"], "from_rnd");
    assert_eq!(msgs[1]["direction"], "to_rnd");
    assert_eq!(msgs[0]["direction"], "support");
    assert_eq!(k["customer"], "中银金融科技有限公司");
    assert_eq!(k["oem"], "联想");
    assert_eq!(k["tracking_token"], "CMIT:0001135");
    assert_eq!(k["status"], "closed");
    let codes: Vec<&str> = k["error_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .filter_map(|c| c["code"].as_str())
        .collect();
    assert_eq!(codes, vec!["0xC002001B"]);
    assert_eq!(k["error_codes"][0]["name"], "RPC_NT_CALL_FAILED");
    assert_eq!(k["serial_numbers"], serde_json::json!(["T102210000943"]));
    assert!(k["scope"]["problem_definition"]
        .as_str()
        .unwrap_or("")
        .contains("激活失败"));
    assert_eq!(k["scope"]["problem_scope"], "协助用户分析上述问题。");
    let esc = k["escalations"].as_array().expect("escalations");
    assert_eq!(esc.len(), 1);
    assert!(esc[0]["question"]
        .as_str()
        .unwrap_or("")
        .contains("T102210000943"));
    let answers = esc[0]["answers"].as_array().expect("answers");
    assert_eq!(answers.len(), 3);
    assert!(answers.iter().all(|a| a["from_name"] == "Liu Yu"));
    assert!(k["closure"]["resolution"]
        .as_str()
        .unwrap_or("")
        .contains("重新安装"));
    assert_eq!(k["first_response_at"], "2022-06-24T17:39:09Z");
    let text = serde_json::to_string(&k).expect("json");
    assert!(
        !text.contains("ma123") && !text.contains("userma"),
        "secrets masked in the API"
    );

    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let page = b.get("/cases/CAS-06496-T2V9C6");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("0xC002001B") && page.body.contains("RPC_NT_CALL_FAILED"));
    assert!(page.body.contains("T102210000943") && page.body.contains("重新安装"));
    assert!(!page.body.contains("ma123"), "secrets masked on the page");

    // A second import changes nothing.
    let again = json_lines(&app.cli_ok(&["ingest", "--json", &seed_path()], None));
    assert!(
        again.iter().all(|l| l["outcome"] == "duplicate"),
        "{again:?}"
    );
    let k2 = app.api_get("/api/cases/CAS-06496-T2V9C6", &token);
    assert_eq!(k2["messages"].as_array().map(Vec::len), Some(10));
    assert_eq!(
        k2["escalations"][0]["answers"].as_array().map(Vec::len),
        Some(3)
    );
    let list = app.api_get("/api/cases", &token);
    assert_eq!(list["total"], 1);
    assert_eq!(list["cases"][0]["number"], "CAS-06496-T2V9C6");
}

#[test]
fn threading_rules() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let first = inbound(
        &app,
        &token,
        &mail(
            &[
                ("From", "Ma <ma@bank.example>"),
                ("To", "support@cmgos.example"),
                ("Subject", "Activation fails with 0xC004F074"),
                ("Message-ID", "<m1@bank.example>"),
                ("Date", "Mon, 01 Jul 2024 09:00:00 +0800"),
            ],
            "Our KMS activation fails: error 0xC004F074. Serial number: T123456789012",
        ),
    );
    assert_eq!(first["outcome"], "created");
    let number = first["case_number"].as_str().expect("number").to_string();
    assert!(
        regex::Regex::new(r"^CAS-\d{5}-[2-9A-HJKMNP-Z]{6}$")
            .expect("re")
            .is_match(&number),
        "{number}"
    );
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    let tracking = case["tracking_token"].as_str().expect("token").to_string();
    assert!(tracking.starts_with("CMIT:"));
    assert_eq!(case["customer"], "bank.example");
    assert_eq!(case["messages"][0]["direction"], "customer");

    let threaded = |headers: &[(&str, &str)], body: &str| -> Value {
        inbound(&app, &token, &mail(headers, body))
    };
    // References name an ancestor while the middle message is missing; no tag in the subject.
    let r = threaded(
        &[
            ("From", "ma@bank.example"),
            ("Subject", "another subject"),
            ("Message-ID", "<m3@bank.example>"),
            ("In-Reply-To", "<m2-missing@bank.example>"),
            ("References", "<m1@bank.example> <m2-missing@bank.example>"),
        ],
        "any news?",
    );
    assert_eq!(
        (r["outcome"].as_str(), r["case_number"].as_str()),
        (Some("threaded"), Some(number.as_str()))
    );
    // A bogus id like <yes> must not glue unrelated mail together.
    let a = threaded(
        &[
            ("From", "x@other.example"),
            ("Subject", "first unrelated"),
            ("Message-ID", "<u1@other.example>"),
            ("In-Reply-To", "<yes>"),
        ],
        "a",
    );
    let b = threaded(
        &[
            ("From", "y@third.example"),
            ("Subject", "second unrelated"),
            ("Message-ID", "<u2@third.example>"),
            ("In-Reply-To", "<yes>"),
        ],
        "b",
    );
    assert_eq!(a["outcome"], "created");
    assert_eq!(b["outcome"], "created");
    assert_ne!(a["case_number"], b["case_number"]);
    // The case tag with a full-width colon and a thin space, behind 回复：
    let r = threaded(
        &[
            ("From", "ma@bank.example"),
            (
                "Subject",
                &format!("回复：[案例号：\u{2009}{number} ] 更新"),
            ),
            ("Message-ID", "<m4@bank.example>"),
        ],
        "更新",
    );
    assert_eq!(r["case_number"].as_str(), Some(number.as_str()));
    // The tracking token alone.
    let r = threaded(
        &[
            ("From", "ma@bank.example"),
            ("Subject", &format!("Question {tracking}")),
            ("Message-ID", "<m5@bank.example>"),
        ],
        "q",
    );
    assert_eq!(r["case_number"].as_str(), Some(number.as_str()));
    // In-Reply-To loops terminate.
    let l1 = threaded(
        &[
            ("From", "z@loop.example"),
            ("Subject", "loop"),
            ("Message-ID", "<l1@loop.example>"),
            ("In-Reply-To", "<l2@loop.example>"),
        ],
        "l1",
    );
    let l2 = threaded(
        &[
            ("From", "z@loop.example"),
            ("Subject", "loop"),
            ("Message-ID", "<l2@loop.example>"),
            ("In-Reply-To", "<l1@loop.example>"),
        ],
        "l2",
    );
    assert_eq!(l1["case_number"], l2["case_number"]);
    // Outlook Thread-Index: same conversation (first 22 bytes), one more reply block.
    let conv = "AdQ4RwABAgMEBQYHCAkKCwwNDg8QEQ==";
    let t1 = threaded(
        &[
            ("From", "o@outlook.example"),
            ("Subject", "outlook thread"),
            ("Message-ID", "<t1@outlook.example>"),
            ("Thread-Index", conv),
        ],
        "t1",
    );
    let t2 = threaded(
        &[
            ("From", "o@outlook.example"),
            ("Subject", "RE: other words"),
            ("Message-ID", "<t2@outlook.example>"),
            ("Thread-Index", "AdQ4RwABAgMEBQYHCAkKCwwNDg8QEQAAGis8"),
        ],
        "t2",
    );
    assert_eq!(t1["outcome"], "created");
    assert_eq!(t2["case_number"], t1["case_number"]);

    // Same Message-ID and content, other transport headers: duplicate.
    let dup = threaded(
        &[
            ("Received", "from mx2 by mx3"),
            ("From", "Ma <ma@bank.example>"),
            ("To", "support@cmgos.example"),
            ("Subject", "Activation fails with 0xC004F074"),
            ("Message-ID", "<m1@bank.example>"),
            ("Date", "Mon, 01 Jul 2024 09:00:00 +0800"),
        ],
        "Our KMS activation fails: error 0xC004F074. Serial number: T123456789012",
    );
    assert_eq!(dup["outcome"], "duplicate");
    // A different message reusing the Message-ID is kept.
    let reuse = threaded(
        &[
            ("From", "ma@bank.example"),
            ("Subject", "Activation fails with 0xC004F074"),
            ("Message-ID", "<m1@bank.example>"),
        ],
        "something else entirely",
    );
    assert!(
        reuse["outcome"] == "threaded" || reuse["outcome"] == "created",
        "{reuse}"
    );
    let reuse_here = usize::from(reuse["case_number"].as_str() == Some(number.as_str()));
    // An auto-reply is threaded but flagged.
    let auto = threaded(
        &[
            ("From", "ma@bank.example"),
            ("Subject", "自动回复: 休假中"),
            ("Message-ID", "<oof@bank.example>"),
            ("In-Reply-To", "<m1@bank.example>"),
            ("Auto-Submitted", "auto-replied"),
        ],
        "我在休假",
    );
    assert_eq!(auto["case_number"].as_str(), Some(number.as_str()));
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    let msgs = case["messages"].as_array().expect("messages");
    assert_eq!(
        msgs.len(),
        5 + reuse_here,
        "{}",
        serde_json::to_string_pretty(&case["messages"]).unwrap_or_default()
    );
    assert_eq!(
        msgs.iter().filter(|m| m["is_auto_reply"] == true).count(),
        1
    );
    assert!(case["error_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .any(|c| c["code"] == "0xC004F074" && c["name"] == "SL_E_VL_BINDING_SERVICE_UNAVAILABLE"));
    assert!(case["serial_numbers"]
        .as_array()
        .expect("serials")
        .iter()
        .any(|s| s == "T123456789012"));
}

#[test]
fn customer_reply_reopens_unless_auto_or_too_late() {
    let app = TestApp::with_args(&["--trusted-authserv-ids", "mx.cmgos.example"]);
    let token = app.seed_staff();
    app.cli_ok(&["ingest", &seed_path()], None);
    let app = app.start();
    let tag = "回复: [案例号: CAS-06496-T2V9C6 ] 激活";
    let auto = inbound(
        &app,
        &token,
        &mail(
            &[
                ("From", "ma@bank.example"),
                ("Subject", &format!("自动回复: {tag}")),
                ("Message-ID", "<a1@bank.example>"),
                ("Date", "Wed, 10 Aug 2022 10:00:00 +0000"),
                ("Auto-Submitted", "auto-replied"),
            ],
            "out of office",
        ),
    );
    assert_eq!(auto["case_number"], "CAS-06496-T2V9C6");
    assert_eq!(
        app.api_get("/api/cases/CAS-06496-T2V9C6", &token)["status"],
        "closed",
        "an auto-reply does not reopen"
    );
    let r = inbound(
        &app,
        &token,
        &mail(
            &[
                ("From", "ma@bank.example"),
                ("Subject", tag),
                ("Message-ID", "<r1@bank.example>"),
                ("Date", "Thu, 18 Aug 2022 10:00:00 +0000"),
            ],
            "问题又出现了",
        ),
    );
    assert_eq!(r["outcome"], "threaded");
    assert_eq!(
        app.api_get("/api/cases/CAS-06496-T2V9C6", &token)["status"],
        "open",
        "a customer reply reopens"
    );
    // Close it again by mail, then answer a year later: a new, linked case.
    inbound(
        &app,
        &token,
        &mail(
            &[
                ("From", "Wang Binbin <wangbb@cmgos.example>"),
                (
                    "Authentication-Results",
                    "mx.cmgos.example; dkim=pass header.d=cmgos.example",
                ),
                ("Subject", tag),
                ("Message-ID", "<c2@cmgos.example>"),
                ("Date", "Fri, 19 Aug 2022 10:00:00 +0000"),
            ],
            "马先生，您好：\n案例总结：\n问题定义：\n激活失败\n问题进展：\n已解决",
        ),
    );
    assert_eq!(
        app.api_get("/api/cases/CAS-06496-T2V9C6", &token)["status"],
        "closed"
    );
    let late = inbound(
        &app,
        &token,
        &mail(
            &[
                ("From", "ma@bank.example"),
                ("Subject", tag),
                ("Message-ID", "<late@bank.example>"),
                ("Date", "Mon, 04 Sep 2023 10:00:00 +0000"),
            ],
            "again",
        ),
    );
    assert_eq!(late["outcome"], "created");
    assert_ne!(late["case_number"], "CAS-06496-T2V9C6");
}

#[test]
fn bad_input_is_quarantined_never_lost() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let garbage: &[u8] = b"\x00\x01\x02 this is not mail at all";
    let r = inbound(&app, &token, garbage);
    assert_eq!(r["outcome"], "quarantined");
    assert!(r["reason"].as_str().is_some_and(|s| !s.is_empty()));
    let empty = inbound(&app, &token, b"   \r\n");
    assert_eq!(empty["outcome"], "quarantined");
    let b = app.browser();
    b.login("admin@casebook.example", PASSWORD);
    let page = b.get("/admin/quarantine");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("(2)"), "{}", page.body);
    // The raw bytes are kept and downloadable by admins (audited).
    let id = regex::Regex::new(r#"/admin/raw/(\d+)"#)
        .expect("re")
        .captures(&page.body)
        .expect("raw link")[1]
        .to_string();
    let raw = b.get(&format!("/admin/raw/{id}"));
    assert_eq!(raw.status, 200);
    assert!(raw
        .header("content-disposition")
        .is_some_and(|v| v.starts_with("attachment")));
    // Retry keeps it quarantined (still not mail) without losing it.
    let qid = regex::Regex::new(r#"/admin/quarantine/(\d+)/retry"#)
        .expect("re")
        .captures(&page.body)
        .expect("retry")[1]
        .to_string();
    let csrf = b.csrf("/admin/quarantine");
    let retried = b.post(
        &format!("/admin/quarantine/{qid}/retry"),
        &[("csrf_token", &csrf)],
    );
    assert_eq!(retried.status, 200);
    assert!(b.get("/admin/quarantine").body.contains("(2)"));
    // Filing it into a case by hand resolves it; the raw bytes come along as an attachment.
    let case = inbound(
        &app,
        &token,
        &mail(
            &[
                ("From", "a@b.example"),
                ("Subject", "real"),
                ("Message-ID", "<real@b.example>"),
            ],
            "x",
        ),
    );
    let number = case["case_number"].as_str().expect("number");
    let page = b.get("/admin/quarantine");
    let qid = regex::Regex::new(r#"/admin/quarantine/(\d+)/assign"#)
        .expect("re")
        .captures(&page.body)
        .expect("assign")[1]
        .to_string();
    let csrf = b.csrf("/admin/quarantine");
    let r = b.post(
        &format!("/admin/quarantine/{qid}/assign"),
        &[("case_number", "CAS-00000-NOPE22"), ("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 400, "unknown case refused");
    let r = b.post(
        &format!("/admin/quarantine/{qid}/assign"),
        &[("case_number", number), ("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 303);
    assert!(b.get("/admin/quarantine").body.contains("(1)"));
    let k = app.api_get(&format!("/api/cases/{number}"), &token);
    assert!(k["attachments"]
        .as_array()
        .expect("atts")
        .iter()
        .any(|a| a["content_type"] == "message/rfc822"));
}

#[test]
fn charsets_and_secrets() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    // GB2312 label on GBK/GB18030 bytes: 镕 (0xE946) is not in GB2312.
    let (subject, _, _) = encoding_rs::GB18030.encode("激活失败 朱镕基");
    let (body, _, _) = encoding_rs::GB18030
        .encode("错误代码 0xC004F074，密码：hunter22，产品密钥 VK7JG-NPHTM-C97JM-9MPGT-3V66T");
    let mut raw = b"From: =?gb2312?B?".to_vec();
    raw.extend_from_slice(base64(&encoding_rs::GB18030.encode("张三").0).as_bytes());
    raw.extend_from_slice(b"?= <zs@corp.example>\r\nSubject: =?gb2312?B?");
    raw.extend_from_slice(base64(&subject).as_bytes());
    raw.extend_from_slice(b"?=\r\nMessage-ID: <gb@corp.example>\r\nContent-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    raw.extend_from_slice(base64(&body).as_bytes());
    raw.extend_from_slice(b"\r\n");
    let r = inbound(&app, &token, &raw);
    assert_eq!(r["outcome"], "created");
    let case = app.api_get(
        &format!("/api/cases/{}", r["case_number"].as_str().expect("number")),
        &token,
    );
    assert_eq!(case["subject"], "激活失败 朱镕基");
    assert_eq!(case["messages"][0]["from_name"], "张三");
    let text = serde_json::to_string(&case).expect("json");
    assert!(text.contains("0xC004F074"));
    assert!(
        !text.contains("hunter22") && !text.contains("VK7JG"),
        "{text}"
    );
    assert!(text.contains("3V66T"));
}

fn base64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn upload_form_and_error_code_pages() {
    let app = TestApp::new();
    app.seed_staff();
    let app = app.start();
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let csrf = b.csrf("/ingest");
    let seed = std::fs::read(seed_path()).expect("seed");
    let no_token = b.post_multipart("/ingest", &[], &[("files", "seed.txt", &seed)]);
    assert_eq!(no_token.status, 403);
    let r = b.post_multipart(
        "/ingest",
        &[("csrf_token", &csrf)],
        &[("files", "seed.txt", &seed)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("CAS-06496-T2V9C6"));
    let queue = b.get("/cases?status=");
    assert!(queue.body.contains("CAS-06496-T2V9C6"));
    let page = b.get("/errors/0xc002001b");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("RPC_NT_CALL_FAILED") && page.body.contains("FACILITY_RPC_RUNTIME"));
    assert!(
        page.body.contains("CAS-06496-T2V9C6") && page.body.contains("重新安装"),
        "earlier cases and how they were resolved"
    );
    let lookup = b.get("/errors?code=HRESULT%3A0xC002001B");
    assert_eq!(lookup.status, 303);
    assert_eq!(lookup.location.as_deref(), Some("/errors/0xC002001B"));
    let token = app.token("wangbb@cmgos.example");
    let d = app.api_get("/api/errors/c004f074", &token);
    assert_eq!(d["code"], "0xC004F074");
    assert_eq!(d["kind"], "hresult");
    assert_eq!(d["facility"], "FACILITY_ITF");
    assert_eq!(d["severity"], "error");
    let (s, _) = app.api("GET", "/api/errors/not-a-code", Some(&token), None);
    assert_eq!(s, 400);
}

#[test]
fn mbox_directories_stdin_and_the_mailgate() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let dir = app.dir.path().join("mail");
    std::fs::create_dir_all(dir.join("sub")).expect("dir");
    let m1 = mail(
        &[
            ("From", "a@one.example"),
            ("Subject", "one"),
            ("Message-ID", "<1@one.example>"),
        ],
        "From the start\nbody",
    );
    let m2 = mail(
        &[
            ("From", "a@one.example"),
            ("Subject", "Re: one"),
            ("Message-ID", "<2@one.example>"),
            ("In-Reply-To", "<1@one.example>"),
        ],
        "two",
    );
    let mut mbox = b"From a@one.example Mon Jul  1 00:00:00 2024\n".to_vec();
    mbox.extend_from_slice(&m1);
    mbox.extend_from_slice(b"\nFrom a@one.example Mon Jul  1 00:00:01 2024\n");
    mbox.extend_from_slice(&m2);
    std::fs::write(dir.join("sub/box.mbox"), &mbox).expect("write");
    std::fs::write(
        dir.join("single.eml"),
        mail(
            &[("From", "b@two.example"), ("Subject", "two")],
            "no message id",
        ),
    )
    .expect("write");
    let out = json_lines(&app.cli_ok(&["ingest", "--json", &dir.display().to_string()], None));
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(out.iter().any(|o| o["source"]
        .as_str()
        .is_some_and(|s| s.ends_with("box.mbox#2"))
        && o["outcome"] == "threaded"));
    // Same bytes without a Message-ID: a duplicate.
    let again = json_lines(&app.cli_ok(
        &["ingest", "--json", "-"],
        Some(&mail(
            &[("From", "b@two.example"), ("Subject", "two")],
            "no message id",
        )),
    ));
    assert_eq!(again[0]["outcome"], "duplicate");

    let token_file = app.dir.path().join("token");
    std::fs::write(&token_file, &token).expect("token file");
    let mut app = app.start();
    let url = app.url("/api/mail/inbound");
    let args = [
        "mailgate",
        "--url",
        url.as_str(),
        "--token-file",
        token_file.to_str().expect("path"),
    ];
    let ok = app.cli(
        &args,
        Some(&mail(
            &[
                ("From", "c@three.example"),
                ("Subject", "via MTA"),
                ("Message-ID", "<mta@three.example>"),
            ],
            "hello",
        )),
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let list = app.api_get("/api/cases?q=via%20MTA", &token);
    assert_eq!(list["total"], 1);
    app.stop();
    let down = app.cli(
        &args,
        Some(b"From: d@four.example\r\nSubject: x\r\n\r\nx\r\n"),
    );
    assert_eq!(
        down.status.code(),
        Some(75),
        "EX_TEMPFAIL when the server is down"
    );
}

/// SQLite: `casebook ingest` leaves every message it imports in the search index (not
/// only in the database, where search would have to read them one by one), and a
/// second import adds to it; every message is found through the index by a code, a
/// two-character Chinese word and a serial; nothing is left pending.
#[test]
fn a_large_import_on_sqlite_leaves_every_message_in_the_search_index() {
    use casebook::search::index::Src;
    use diesel::{Connection, QueryableByName, RunQueryDsl};
    let app = TestApp::new();
    if app.on_postgres() {
        eprintln!("SKIP: SQLite only (PostgreSQL indexes in the database)");
        return;
    }
    app.seed_staff();
    for run in 0..2 {
        let dir = app.dir.path().join(format!("history{run}"));
        std::fs::create_dir_all(&dir).expect("dir");
        for i in 0..1000 {
            let n = run * 1000 + i;
            let raw = mail(
                &[
                    ("From", &format!("user{}@customer{}.example", n % 50, n % 7)),
                    ("To", "support@cmgos.example"),
                    ("Subject", &format!("激活失败 {} fails 0xC004F074", n / 4)),
                    ("Message-ID", &format!("<seg-{n}@customer.example>")),
                    ("Date", "Tue, 02 Jul 2024 03:00:00 +0000"),
                ],
                &format!("serial T1022100{n:05}, error 0xC004F074 激活失败"),
            );
            std::fs::write(dir.join(format!("{i:04}.eml")), raw).expect("write");
        }
        app.cli_ok(&["ingest", &dir.display().to_string()], None);
    }
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let path = app.data_dir().join("casebook.sqlite3");
    let mut c = diesel::SqliteConnection::establish(&path.display().to_string()).expect("db");
    let count = |c: &mut diesel::SqliteConnection, sql: &str| {
        diesel::sql_query(sql).get_result::<N>(c).expect(sql).n
    };
    let messages = count(&mut c, "SELECT COUNT(*) AS n FROM messages");
    let newest = count(&mut c, "SELECT MAX(id) AS n FROM messages");
    assert_eq!(messages, 2000);
    assert_eq!(count(&mut c, "SELECT COUNT(*) AS n FROM search_changes"), 0);
    let index = casebook::search::index::for_database(&path).expect("index");
    let marks = index
        .reload()
        .expect("marks")
        .expect("the index has committed");
    assert_eq!(marks.messages, newest, "every message indexed");
    assert_eq!(marks.docs, i64::MAX, "every document indexed");
    let snap = index.snapshot();
    for term in ["0xC004F074", "激活", "激活失败"] {
        let (keys, more) = index
            .newest(&snap, term, Src::Message, 5000, 0)
            .expect("search the index");
        assert!(!more);
        assert_eq!(keys.len(), 2000, "{term}: every message through the index");
    }
    let (keys, _) = index
        .newest(&snap, "T102210001234", Src::Message, 10, 0)
        .expect("search the index");
    assert_eq!(keys.len(), 1, "one message has that serial");
    let (keys, _) = index
        .newest(&snap, "fails", Src::Doc, 5000, 0)
        .expect("search the index");
    assert!(keys.len() >= 500, "the cases' subjects: {}", keys.len());
}

/// After a large import on PostgreSQL the planner's statistics are current: without
/// them it joined the "similar closed cases" panel from the wrong side (9–20 ms a page
/// instead of 0.15 ms) until autovacuum came round.
#[test]
fn a_large_import_on_postgresql_leaves_the_planner_statistics_current() {
    use diesel::{Connection, QueryableByName, RunQueryDsl};
    let app = TestApp::new();
    let Some(url) = app.pg_url_or_skip("SQLite keeps no planner statistics") else {
        return;
    };
    app.seed_staff();
    let dir = app.dir.path().join("history");
    std::fs::create_dir_all(&dir).expect("dir");
    for i in 0..1000 {
        let raw = mail(
            &[
                ("From", &format!("user{}@customer{}.example", i % 50, i % 7)),
                ("To", "support@cmgos.example"),
                ("Subject", &format!("activation {} fails 0xC004F074", i / 4)),
                ("Message-ID", &format!("<import-{i}@customer.example>")),
                ("Date", "Tue, 02 Jul 2024 03:00:00 +0000"),
            ],
            &format!("serial T1022100{i:05}, error 0xC004F074"),
        );
        std::fs::write(dir.join(format!("{i:04}.eml")), raw).expect("write");
    }
    app.cli_ok(&["ingest", &dir.display().to_string()], None);
    #[derive(QueryableByName)]
    struct Analyzed {
        #[diesel(sql_type = diesel::sql_types::Text)]
        relname: String,
    }
    let mut c = diesel::PgConnection::establish(&url).expect("pg");
    // The statistics views are written when a backend flushes its counters (at latest
    // when the import's connections close): a few seconds at most.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let done = loop {
        let mut done: Vec<String> = diesel::sql_query(
            "SELECT relname::text AS relname FROM pg_stat_user_tables \
             WHERE last_analyze IS NOT NULL AND relname IN ('cases', 'messages', 'case_codes', 'case_serials')",
        )
        .load::<Analyzed>(&mut c)
        .expect("stats")
        .into_iter()
        .map(|r| r.relname)
        .collect();
        done.sort();
        if done.len() == 4 || std::time::Instant::now() > deadline {
            break done;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(
        done,
        vec!["case_codes", "case_serials", "cases", "messages"],
        "ANALYZE ran after the import"
    );
}

/// Two messages that name one case only by its tag or tracking token in the subject
/// (no References between them: a customer's new mail about a case the import has not
/// reached yet) are one case however the import's writers (several on PostgreSQL)
/// meet them: the second waits for the first and joins its case, instead of making a
/// second case with the same number or token.
#[test]
fn messages_naming_one_case_by_tag_or_token_make_one_case_in_a_parallel_import() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let dir = app.dir.path().join("history");
    std::fs::create_dir_all(&dir).expect("dir");
    let pairs = 300;
    for i in 0..pairs {
        const SUFFIX: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
        let tag = format!(
            "[案例号: CAS-{:05}-ZZ{}{}{}{} ]",
            i,
            SUFFIX[i % 31] as char,
            SUFFIX[(i / 31) % 31] as char,
            SUFFIX[(i * 7) % 31] as char,
            SUFFIX[(i * 13) % 31] as char
        );
        let name = if i % 2 == 0 {
            tag
        } else {
            format!("CMIT:8{i:06}")
        };
        for (part, hour) in [("a", "03"), ("b", "05")] {
            let raw = mail(
                &[
                    ("From", &format!("user{i}@customer{}.example", i % 9)),
                    ("To", "support@cmgos.example"),
                    ("Subject", &format!("printer {i} offline, {part} {name}")),
                    (
                        "Message-ID",
                        &format!("<named-{part}-{i}@customer.example>"),
                    ),
                    ("Date", &format!("Tue, 02 Jul 2024 {hour}:00:00 +0000")),
                ],
                &format!("printer {i} does not print ({part})"),
            );
            std::fs::write(dir.join(format!("{part}{i:04}.eml")), raw).expect("write");
        }
    }
    app.cli_ok(&["ingest", &dir.display().to_string()], None);
    let app = app.start();
    let all = app.api_get("/api/cases?per_page=1", &token);
    assert_eq!(all["total"], pairs, "one case per pair: {all}");
    for i in [0, 1, pairs - 2, pairs - 1] {
        let found = app.api_get(
            &format!("/api/cases?q=printer%20{i}%20offline&per_page=5"),
            &token,
        );
        assert_eq!(found["total"], 1, "pair {i}: {found}");
        let number = found["cases"][0]["number"].as_str().expect("number");
        let case = app.api_get(&format!("/api/cases/{number}"), &token);
        assert_eq!(
            case["messages"].as_array().map(Vec::len),
            Some(2),
            "pair {i}: {case}"
        );
    }
}

/// History keeps its own clock when a message lacks a Date header: it takes its oldest
/// `Received:` time, and one without either follows what its case holds; none of it
/// takes the day of the import.
#[test]
fn imported_mail_without_a_date_keeps_its_own_time() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let dir = app.dir.path().join("history");
    std::fs::create_dir_all(&dir).expect("dir");
    let root = mail(
        &[
            ("From", "Ma Ming <ma@customer.example>"),
            ("To", "support@cmgos.example"),
            ("Subject", "activation fails 0xC004F074"),
            ("Message-ID", "<root@customer.example>"),
            ("Date", "Mon, 04 Mar 2019 09:00:00 +0800"),
        ],
        "activation fails",
    );
    let received = mail(
        &[
            (
                "Received",
                "from mx.cmgos.example by mail.customer.example; Tue, 05 Mar 2019 10:30:00 +0800",
            ),
            (
                "Received",
                "from wang-pc by mx.cmgos.example; Tue, 05 Mar 2019 10:00:00 +0800",
            ),
            ("From", "Wang Binbin <wangbb@cmgos.example>"),
            ("To", "Ma Ming <ma@customer.example>"),
            ("Subject", "Re: activation fails 0xC004F074"),
            ("Message-ID", "<answer@cmgos.example>"),
            ("In-Reply-To", "<root@customer.example>"),
        ],
        "please send the logs",
    );
    let bare = mail(
        &[
            ("From", "Ma Ming <ma@customer.example>"),
            ("To", "support@cmgos.example"),
            ("Subject", "Re: activation fails 0xC004F074"),
            ("Message-ID", "<logs@customer.example>"),
            ("In-Reply-To", "<answer@cmgos.example>"),
        ],
        "logs attached",
    );
    std::fs::write(dir.join("1.eml"), root).expect("write");
    std::fs::write(dir.join("2.eml"), received).expect("write");
    std::fs::write(dir.join("3.eml"), bare).expect("write");
    app.cli_ok(&["ingest", &dir.display().to_string()], None);
    let app = app.start();
    let case = app.only_case("per_page=5", &token);
    let sent: Vec<&str> = case["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["sent_at"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(sent.len(), 3, "{case}");
    assert!(sent[0].starts_with("2019-03-04T01:00:00"), "{sent:?}");
    assert!(
        sent[1].starts_with("2019-03-05T02:00:00"),
        "the oldest hop: {sent:?}"
    );
    assert!(
        sent[2].starts_with("2019-03-05T02:00:00"),
        "after its case: {sent:?}"
    );
    assert_time(&case, "first_response_at", "2019-03-05T02:00:00");
    assert_time(&case, "updated_at", "2019-");
}

/// An import killed after it committed a message out of its case's time order leaves
/// the case marked: the next run (here the same import again, which finds the message
/// already filed) re-reads it, so the case's times are its thread's own.
#[test]
fn a_killed_import_leaves_its_out_of_order_cases_to_the_next_run() {
    use std::io::BufRead;
    let app = TestApp::new();
    let token = app.seed_staff();
    let dir = app.dir.path().join("history");
    std::fs::create_dir_all(&dir).expect("dir");
    let answer = dir.join("answer.eml");
    let question = dir.join("question.eml");
    std::fs::write(
        &answer,
        mail(
            &[
                ("From", "Wang Binbin <wangbb@cmgos.example>"),
                ("To", "Ma Ming <ma@customer.example>"),
                ("Subject", "Re: printer not reachable"),
                ("Message-ID", "<answer@cmgos.example>"),
                ("In-Reply-To", "<question@customer.example>"),
                ("Date", "Tue, 02 Jul 2024 11:00:00 +0800"),
            ],
            "please send the logs",
        ),
    )
    .expect("write");
    std::fs::write(
        &question,
        mail(
            &[
                ("From", "Ma Ming <ma@customer.example>"),
                ("To", "support@cmgos.example"),
                ("Subject", "printer not reachable"),
                ("Message-ID", "<question@customer.example>"),
                ("Date", "Tue, 02 Jul 2024 09:00:00 +0800"),
            ],
            "the printer is not reachable",
        ),
    )
    .expect("write");
    // Unrelated later mail: with it the question fills the reader's first hand-over
    // to its writer (16 inputs; PostgreSQL's two writers each get about half) before
    // the reader reaches stdin.
    let later = dir.join("later");
    std::fs::create_dir_all(&later).expect("dir");
    for i in 0..100 {
        let raw = mail(
            &[
                ("From", &format!("user{i}@other.example")),
                ("To", "support@cmgos.example"),
                ("Subject", &format!("question {i}")),
                ("Message-ID", &format!("<later-{i}@other.example>")),
                ("Date", "Wed, 03 Jul 2024 09:00:00 +0800"),
            ],
            "another question",
        );
        std::fs::write(later.join(format!("{i:02}.eml")), raw).expect("write");
    }
    // The answer first, in a run of its own; then the question, older than the case
    // it joins, in a run that then waits for stdin until it is killed.
    app.cli_ok(&["ingest", &answer.display().to_string()], None);
    let mut child = std::process::Command::new(crate::helpers::BIN)
        .args(app.global_args())
        .args([
            "ingest",
            "--batch",
            "1",
            &question.display().to_string(),
            &later.display().to_string(),
            "-",
        ])
        .envs(app.envs.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run casebook");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    // Outcomes are reported once committed, in any writer's order.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("the question is committed and reported");
        if line.contains("question.eml") {
            break;
        }
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let again = app.cli_ok(&["ingest", &question.display().to_string()], None);
    assert!(again.contains("duplicate"), "{again}");
    let app = app.start();
    let case = app.only_case("q=printer&per_page=5", &token);
    assert_time(&case, "created_at", "2024-07-02T01:00:00");
    assert_time(&case, "first_response_at", "2024-07-02T03:00:00");
}
