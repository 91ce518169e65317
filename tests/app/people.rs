//! Who is who, from the thread itself: a fresh install (only an admin, who never wrote
//! in the thread) imports history and gets support, R&D and the customer right.

use crate::helpers::{fixture, TestApp};
use serde_json::Value;

/// A fresh install: one admin, the export ingested from the command line.
fn fresh_import(export: &str, number: &str) -> (TestApp, String, Value) {
    let app = TestApp::new();
    app.add_user("admin@casebook.example", "Admin", "admin", &[]);
    let token = app.token("admin@casebook.example");
    app.cli_ok(&["ingest", &fixture(export).display().to_string()], None);
    let app = app.start();
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    (app, token, case)
}

fn directions(case: &Value) -> Vec<(String, String)> {
    case["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            (
                m["from_name"].as_str().unwrap_or_default().to_string(),
                m["direction"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn answers_by(case: &Value, name: &str) -> usize {
    case["escalations"]
        .as_array()
        .expect("escalations")
        .iter()
        .flat_map(|e| e["answers"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["from_name"] == name)
        .count()
}

#[test]
fn the_seed_on_a_fresh_install_reads_support_rnd_scope_escalation_and_closure() {
    let (app, token, case) = fresh_import("seed-export.txt", "CAS-06496-T2V9C6");
    let dirs = directions(&case);
    assert_eq!(dirs.len(), 10);
    assert_eq!(
        dirs[0],
        ("Wang Binbin".into(), "support".into()),
        "{dirs:?}"
    );
    // "Hi Dev" opens the escalation; Liu Yu answers as R&D, three times.
    assert_eq!(dirs[1], ("Wang Binbin".into(), "to_rnd".into()), "{dirs:?}");
    assert!(
        dirs.iter()
            .filter(|(n, _)| n == "Liu Yu")
            .all(|(_, d)| d == "from_rnd"),
        "{dirs:?}"
    );
    // "Hi Joy": Joy signs Liu Yu's answers, so these are follow-ups to R&D.
    assert_eq!(dirs[4], ("Wang Binbin".into(), "to_rnd".into()), "{dirs:?}");
    assert!(!dirs.iter().any(|(_, d)| d == "customer"), "{dirs:?}");
    assert_eq!(answers_by(&case, "Liu Yu"), 3);
    assert!(case["scope"]["problem_definition"]
        .as_str()
        .is_some_and(|d| d.contains("激活")));
    assert!(case["closure"]["resolution"]
        .as_str()
        .is_some_and(|r| r.contains("重新安装")));
    assert_eq!(case["status"], "closed");
    // Closed at the closure summary's own time; first response is Wang's scope mail.
    assert!(
        case["closed_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2022-08-09T17:24:21")),
        "{}",
        case["closed_at"]
    );
    assert!(
        case["first_response_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2022-06-24T17:39:09")),
        "{}",
        case["first_response_at"]
    );
    // Who was worked out, with the evidence and the names they go by.
    let people = app.api_get("/api/people", &token);
    let find = |name: &str| {
        people["people"]
            .as_array()
            .and_then(|l| l.iter().find(|p| p["name"] == name).cloned())
            .unwrap_or_else(|| panic!("{name} in {people}"))
    };
    let wang = find("Wang Binbin");
    assert_eq!(wang["side"], "support");
    assert_eq!(wang["evidence"], "scope");
    assert_eq!(wang["case_number"], "CAS-06496-T2V9C6");
    let liu = find("Liu Yu");
    assert_eq!(liu["side"], "rnd");
    let names = liu["names"].to_string();
    assert!(
        names.contains("joy") && names.contains("liuyu@cmgos.com"),
        "{names}"
    );
    // An admin has the last word: Liu Yu was support after all.
    let id = liu["id"].as_i64().expect("id");
    let (s, v) = app.api(
        "POST",
        &format!("/api/people/{id}"),
        Some(&token),
        Some(br#"{"side":"support"}"#),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        app.api_get("/api/people", &token)["people"]
            .as_array()
            .and_then(|l| l.iter().find(|p| p["id"] == id).cloned())
            .map(|p| (p["side"].clone(), p["evidence"].clone())),
        Some((serde_json::json!("support"), serde_json::json!("admin")))
    );
    let page = app.browser();
    page.login("admin@casebook.example", crate::helpers::PASSWORD);
    let html = page.get("/people");
    assert_eq!(html.status, 200);
    assert!(html.body.contains("Wang Binbin") && html.body.contains("CAS-06496-T2V9C6"));
}

#[test]
fn a_second_export_and_a_customer_who_quotes_the_scope_stays_a_customer() {
    let (app, token, case) = fresh_import("second-export.txt", "CAS-07001-K3M9QP");
    let dirs = directions(&case);
    let want = [
        ("Zhou Min", "support"),
        // Quotes the whole scope mail (hotline included) under "-----Original Message-----".
        ("John Smith", "customer"),
        ("Zhou Min", "to_rnd"),
        // Answers the escalation request; nobody told Casebook who Chen Hao is.
        ("Chen Hao", "from_rnd"),
        // "Hi Hao": Hao signs Chen Hao's answers.
        ("Zhou Min", "to_rnd"),
        ("Chen Hao", "from_rnd"),
        ("Zhou Min", "support"),
    ];
    let got: Vec<(&str, &str)> = dirs.iter().map(|(n, d)| (n.as_str(), d.as_str())).collect();
    assert_eq!(got, want);
    assert_eq!(answers_by(&case, "Chen Hao"), 2);
    let scope = &case["scope"];
    assert_eq!(scope["author"], "Zhou Min");
    assert_eq!(
        scope["versions"], 1,
        "the customer's quote is not a second scope"
    );
    assert_eq!(case["status"], "closed");
    assert!(
        case["closed_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2023-03-08T02:20:00")),
        "{}",
        case["closed_at"]
    );
    // The thread's own first response: Zhou Min's scope mail.
    assert!(
        case["first_response_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2023-03-01T01:10:00")),
        "{}",
        case["first_response_at"]
    );
    // A live customer mail from someone the history shows as support does not act as
    // support: inference structures imported history only.
    let live = crate::helpers::mail(
        &[
            ("From", "Zhou Min <zhou.min@freemail.example>"),
            ("To", "support@cmgos.example"),
            ("Subject", "Re: [Case: CAS-07001-K3M9QP] reopen"),
            ("Message-ID", "<live-1@freemail.example>"),
            ("Date", "Mon, 01 Jul 2024 09:00:00 +0800"),
        ],
        "Hi Dev,\nplease look again.\n",
    );
    let inbound = app.token("admin@casebook.example");
    let _ = token;
    let (s, v) = app.api("POST", "/api/mail/inbound", Some(&inbound), Some(&live));
    assert_eq!(s, 200, "{v}");
    // (The history case was closed long ago: the mail opens a follow-up case.)
    let number = v["case_number"].as_str().expect("case number");
    let case = app.api_get(&format!("/api/cases/{number}"), &inbound);
    assert_eq!(
        directions(&case),
        [("Zhou Min".to_string(), "customer".to_string())]
    );
    assert_eq!(case["escalations"].as_array().map(Vec::len), Some(0));
    // What it would do, coming from whom history shows as support, is offered to staff.
    assert_eq!(case["messages"][0]["proposal"], "escalation", "{case}");
}

/// Imported history keeps its own clock: an unanswered thread from 2023 is not overdue
/// today, its age is its own, and the queue tells it apart from live work until live
/// mail arrives on it.
#[test]
fn imported_history_is_judged_by_its_own_times() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let old = crate::helpers::mail(
        &[
            ("From", "Old Customer <old@customer.example>"),
            ("To", "support@cmgos.example"),
            ("Subject", "activation fails since the upgrade"),
            ("Message-ID", "<history-1@customer.example>"),
            ("Date", "Mon, 06 Mar 2023 09:00:00 +0800"),
        ],
        "activation fails with 0xC004F074\n",
    );
    let eml = app.dir.path().join("history-1.eml");
    std::fs::write(&eml, &old).expect("write");
    app.cli_ok(&["ingest", &eml.display().to_string()], None);
    let app = app.start();
    let listed = app.api_get("/api/cases?per_page=10", &token);
    let number = listed["cases"][0]["number"]
        .as_str()
        .expect("number")
        .to_string();
    assert_eq!(listed["cases"][0]["imported"], true);
    // Not in "first response overdue", shown as history with no overdue SLA.
    let breached = app.api_get("/api/cases?breached=1", &token);
    assert_eq!(breached["total"], 0, "{breached}");
    let history = app.api_get("/api/cases?origin=history", &token);
    assert_eq!(history["total"], 1);
    let b = app.browser();
    b.login("admin@casebook.example", crate::helpers::PASSWORD);
    let page = b.get(&format!("/cases/{number}"));
    assert!(
        page.body.contains("No response in history") || page.body.contains("历史记录中无响应"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Overdue by") && !page.body.contains("已超时"));
    // Live mail from the customer: live work from now on, due from now (not overdue).
    let live = crate::helpers::mail(
        &[
            ("From", "Old Customer <old@customer.example>"),
            ("To", "support@cmgos.example"),
            ("Subject", "Re: activation fails since the upgrade"),
            ("Message-ID", "<live-2@customer.example>"),
            ("In-Reply-To", "<history-1@customer.example>"),
            ("Date", &chrono::Utc::now().to_rfc2822()),
        ],
        "still failing\n",
    );
    let (s, v) = app.api("POST", "/api/mail/inbound", Some(&token), Some(&live));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["case_number"], number.as_str());
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    assert_eq!(case["imported"], false);
    assert_eq!(app.api_get("/api/cases?origin=live", &token)["total"], 1);
    assert_eq!(app.api_get("/api/cases?breached=1", &token)["total"], 0);
    let page = b.get(&format!("/cases/{number}"));
    assert!(
        page.body.contains("Due in") || page.body.contains("剩余"),
        "{}",
        page.body
    );
}

/// Waits until re-analysis job `job` is done and returns it.
fn wait_job(app: &TestApp, token: &str, job: &Value) -> Value {
    let id = job.as_i64().expect("job id");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let j = app.api_get(&format!("/api/reanalysis/{id}"), token);
        if j["state"] == "done" {
            return j;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "re-analysis job {id} not done: {j}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn post_ok(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (s, v) = app.api("POST", path, Some(token), Some(body.to_string().as_bytes()));
    assert_eq!(s, 200, "POST {path}: {v}");
    v
}

/// The sender `key` as `GET /api/people` lists them.
fn sender(app: &TestApp, token: &str, q: &str, key: &str) -> Value {
    let v = app.api_get(&format!("/api/people?q={q}"), token);
    v["senders"]
        .as_array()
        .expect("senders")
        .iter()
        .find(|s| s["key"] == key)
        .cloned()
        .unwrap_or_else(|| panic!("no sender {key} in {v}"))
}

const QUIET_EXPORT: &str = "邮件主题：[Case: CAS-07101-R4N8WD] 激活失败 CMIT:0002101

====第1封邮件====

发件人：Ma Ming
发送时间：2023-05-04 09:00:00+08:00
邮件内容:
您好，我们的电脑激活失败，错误 0xC004F074。
马明

====第2封邮件====

发件人：Gao Lei
发送时间：2023-05-04 10:30:00+08:00
邮件内容:
马先生您好，请您把激活日志发给我们。
高磊

====第3封邮件====

发件人：Ma Ming
发送时间：2023-05-05 08:00:00+08:00
邮件内容:
日志见附件。
马明

====第4封邮件====

发件人：Gao Lei
发送时间：2023-05-05 11:00:00+08:00
邮件内容:
收到，我们正在分析，请稍候。
高磊
";

fn eml(from: &str, to: &str, mid: &str, irt: Option<&str>, date: &str, body: &str) -> String {
    let refs = irt
        .map(|r| format!("In-Reply-To: <{r}>\r\nReferences: <{r}>\r\n"))
        .unwrap_or_default();
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Activation fails on the lab machines\r\n\
         Message-ID: <{mid}>\r\n{refs}Date: {date}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

#[test]
fn who_is_who_changes_re_read_the_cases_from_their_mail_and_keep_what_people_did() {
    let app = TestApp::new();
    app.add_user("admin@casebook.example", "Admin", "admin", &[]);
    app.add_user("zhang.wei@rnd.example.net", "Zhang Wei", "rnd", &[]);
    let token = app.token("admin@casebook.example");
    let dir = app.data_dir().join("history");
    std::fs::create_dir_all(&dir).expect("dir");
    // 1. An export whose support engineer never shows a side (no scope, no signature).
    std::fs::write(dir.join("quiet.txt"), QUIET_EXPORT).expect("write");
    // 2. Mail from a support domain nobody configured, and 3. from an R&D engineer's
    // private address.
    let lab = [
        eml(
            "Wu Fang <wu.fang@lab-customer.example.org>",
            "help@acme-support.example.com",
            "lab-1@lab-customer.example.org",
            None,
            "Mon, 08 May 2023 09:00:00 +0800",
            "Our lab machines do not activate.",
        ),
        eml(
            "Li Na <li.na@acme-support.example.com>",
            "wu.fang@lab-customer.example.org",
            "lab-2@acme-support.example.com",
            Some("lab-1@lab-customer.example.org"),
            "Mon, 08 May 2023 10:00:00 +0800",
            "Could you send the activation log, please?",
        ),
        eml(
            "Wu Fang <wu.fang@lab-customer.example.org>",
            "li.na@acme-support.example.com",
            "lab-3@lab-customer.example.org",
            Some("lab-2@acme-support.example.com"),
            "Tue, 09 May 2023 09:00:00 +0800",
            "Here it is.",
        ),
        eml(
            "Wei <zw1987@home-mail.example.org>",
            "li.na@acme-support.example.com",
            "lab-4@home-mail.example.org",
            Some("lab-3@lab-customer.example.org"),
            "Tue, 09 May 2023 15:00:00 +0800",
            "The log shows a blocked KMS port; open 1688.",
        ),
    ];
    for (i, m) in lab.iter().enumerate() {
        std::fs::write(dir.join(format!("lab-{i}.eml")), m).expect("write");
    }
    app.cli_ok(&["ingest", &dir.display().to_string()], None);
    let app = app.start();

    let quiet = "/api/cases/CAS-07101-R4N8WD";
    let case = app.api_get(quiet, &token);
    assert!(
        directions(&case).iter().all(|(_, d)| d == "customer"),
        "nothing shows Gao Lei's side yet: {:?}",
        directions(&case)
    );
    assert_eq!(case["first_response_at"], Value::Null, "{case}");
    // What people did in Casebook before the change.
    post_ok(
        &app,
        &token,
        &format!("{quiet}/notes"),
        serde_json::json!({"body_text": "客户是老客户，优先处理"}),
    );
    let all = app.api_get("/api/cases", &token);
    let lab_case = all["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| {
            c["subject"]
                .as_str()
                .is_some_and(|s| s.contains("lab machines"))
        })
        .and_then(|c| c["number"].as_str())
        .expect("the lab case")
        .to_string();
    let lab_path = format!("/api/cases/{lab_case}");
    let before = app.api_get(&lab_path, &token);
    assert_eq!(
        directions(&before)
            .iter()
            .filter(|(_, d)| d == "customer")
            .count(),
        4,
        "{:?}",
        directions(&before)
    );

    // Every sender is listed with their cases and messages, once counted.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let gao = loop {
        let v = app.api_get("/api/people?q=gao", &token);
        if let Some(s) = v["senders"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["key"] == "name:gao lei").cloned())
        {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "senders not counted: {v}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(gao["messages"], 2, "{gao}");
    assert_eq!(gao["cases"], 1, "{gao}");
    assert_eq!(gao["side"], "customer", "{gao}");

    // Support and managers may look, only admins decide.
    app.add_user("wangbb@cmgos.example", "Wang Binbin", "support", &[]);
    let support = app.token("wangbb@cmgos.example");
    let (s, _) = app.api(
        "POST",
        "/api/senders",
        Some(&support),
        Some(br#"{"key":"name:gao lei","side":"support"}"#),
    );
    assert_eq!(s, 403);

    // The admin says Gao Lei is support: the case is re-read from its mail.
    let v = post_ok(
        &app,
        &token,
        "/api/senders",
        serde_json::json!({"key": "name:gao lei", "side": "support"}),
    );
    let job = wait_job(&app, &token, &v["job"]);
    assert_eq!(job["total"], 1, "{job}");
    assert_eq!(job["changed"], 1, "{job}");
    let case = app.api_get(quiet, &token);
    let dirs = directions(&case);
    assert_eq!(
        dirs.iter()
            .filter(|(n, d)| n == "Gao Lei" && d == "support")
            .count(),
        2,
        "{dirs:?}"
    );
    assert!(
        dirs.iter()
            .filter(|(n, _)| n == "Ma Ming")
            .all(|(_, d)| d == "customer"),
        "{dirs:?}"
    );
    assert!(
        case["first_response_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2023-05-04T02:30")),
        "first response is Gao Lei's first mail: {}",
        case["first_response_at"]
    );
    assert_eq!(case["status"], "waiting_customer", "{}", case["status"]);
    // The note is still there.
    assert!(
        case["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .any(|m| m["body_text"]
                .as_str()
                .is_some_and(|b| b.contains("优先处理"))),
        "{case}"
    );
    assert_eq!(
        sender(&app, &token, "gao", "name:gao lei")["side"],
        "support"
    );

    // A staff domain marked on /people: Li Na's mail is support's.
    let v = post_ok(
        &app,
        &token,
        "/api/staff-domains",
        serde_json::json!({"domain": "acme-support.example.com"}),
    );
    wait_job(&app, &token, &v["job"]);
    // An R&D engineer's private address linked to their account: an R&D answer.
    let v = post_ok(
        &app,
        &token,
        "/api/senders",
        serde_json::json!({"key": "addr:zw1987@home-mail.example.org", "account": "zhang.wei@rnd.example.net"}),
    );
    wait_job(&app, &token, &v["job"]);
    let after = app.api_get(&lab_path, &token);
    let dirs = directions(&after);
    assert!(
        dirs.contains(&("Li Na".into(), "support".into())),
        "{dirs:?}"
    );
    assert!(
        dirs.contains(&("Wei".into(), "from_rnd".into())),
        "{dirs:?}"
    );
    assert!(
        dirs.iter()
            .filter(|(n, _)| n == "Wu Fang")
            .all(|(_, d)| d == "customer"),
        "{dirs:?}"
    );
    assert!(
        after["first_response_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2023-05-08T02:00")),
        "{after}"
    );
    let li = sender(&app, &token, "li.na", "addr:li.na@acme-support.example.com");
    assert_eq!(li["decided_by"], "domain", "{li}");
    let zw = sender(&app, &token, "zw1987", "addr:zw1987@home-mail.example.org");
    assert_eq!(zw["account"], "zhang.wei@rnd.example.net", "{zw}");

    // And back: Gao Lei is a customer after all; the CLI re-reads one case the same way.
    let people = app.api_get("/api/people", &token);
    let gao_id = people["people"]
        .as_array()
        .expect("people")
        .iter()
        .find(|p| p["name"] == "Gao Lei")
        .and_then(|p| p["id"].as_i64())
        .expect("Gao Lei is a person now");
    let v = post_ok(
        &app,
        &token,
        &format!("/api/people/{gao_id}"),
        serde_json::json!({"side": "customer"}),
    );
    wait_job(&app, &token, &v["job"]);
    let case = app.api_get(quiet, &token);
    assert!(
        directions(&case)
            .iter()
            .all(|(_, d)| d == "customer" || d == "internal"),
        "{:?}",
        directions(&case)
    );
    assert_eq!(case["first_response_at"], Value::Null, "{case}");
    let out = app.cli_ok(&["reanalyze", "--case", "CAS-07101-R4N8WD"], None);
    assert!(out.contains("0 message(s) changed direction"), "{out}");

    // The page: every sender, the staff domains, the jobs; its forms need the CSRF token.
    let b = app.browser();
    b.login("admin@casebook.example", crate::helpers::PASSWORD);
    let html = b.get("/people");
    assert_eq!(html.status, 200);
    for text in [
        "Gao Lei",
        "wu.fang@lab-customer.example.org",
        "acme-support.example.com",
        "<progress",
    ] {
        assert!(html.body.contains(text), "{text} not on /people");
    }
    let refused = b.post("/people/domains", &[("domain", "other.example.org")]);
    assert!(
        refused.status == 403 || refused.status == 400,
        "{}",
        refused.status
    );
    let csrf = b.csrf("/people");
    let done = b.post(
        "/people/domains",
        &[("domain", "other.example.org"), ("csrf_token", &csrf)],
    );
    assert!(done.status < 400, "{}", done.status);
    assert!(app.api_get("/api/people", &token)["domains"]
        .as_array()
        .is_some_and(|d| d.iter().any(|x| x == "other.example.org")));
}

#[test]
fn a_sender_recognised_late_in_an_import_is_staff_in_their_earlier_threads_too() {
    let app = TestApp::new();
    app.add_user("admin@casebook.example", "Admin", "admin", &[]);
    let token = app.token("admin@casebook.example");
    let dir = app.data_dir().join("history");
    std::fs::create_dir_all(&dir).expect("dir");
    // January: Sun Li answers plainly. February: Sun Li writes a scope definition.
    std::fs::write(
        dir.join("a.txt"),
        "邮件主题：[Case: CAS-07201-A2B3C4] 蓝屏 CMIT:0002201\n\n====第1封邮件====\n\n发件人：Qian Jun\n发送时间：2023-01-09 09:00:00+08:00\n邮件内容:\n电脑蓝屏，错误 0x0000007B。\n钱军\n\n====第2封邮件====\n\n发件人：Sun Li\n发送时间：2023-01-09 11:00:00+08:00\n邮件内容:\n钱先生您好，请把 minidump 文件发给我们。\n孙丽\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("b.txt"),
        "邮件主题：[Case: CAS-07202-D5E6F7] 激活失败 CMIT:0002202\n\n====第1封邮件====\n\n发件人：Zhao Yan\n发送时间：2023-02-13 09:00:00+08:00\n邮件内容:\n激活失败，错误 0xC004F074。\n\n====第2封邮件====\n\n发件人：Sun Li\n发送时间：2023-02-13 10:00:00+08:00\n邮件内容:\n赵女士您好：\n问题定义：\n激活客户端报错 0xC004F074。\n问题范围：\n财务部的 10 台电脑。\n孙丽\n",
    )
    .expect("write");
    let out = app.cli(&["ingest", &dir.display().to_string()], None);
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("re-read 1 case(s)"), "{err}");
    let app = app.start();
    let case = app.api_get("/api/cases/CAS-07201-A2B3C4", &token);
    assert_eq!(
        directions(&case),
        [
            ("Qian Jun".to_string(), "customer".to_string()),
            ("Sun Li".to_string(), "support".to_string())
        ]
    );
    assert!(
        case["first_response_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2023-01-09T03:00")),
        "{case}"
    );
}

#[test]
fn re_reading_a_case_keeps_an_escalation_people_answered_in_casebook() {
    let app = TestApp::new();
    app.add_user("admin@casebook.example", "Admin", "admin", &[]);
    app.add_user("chen.hao@rnd.example.net", "Chen Hao", "rnd", &[]);
    let token = app.token("admin@casebook.example");
    let rnd = app.token("chen.hao@rnd.example.net");
    let path = app.data_dir().join("esc.txt");
    std::fs::write(
        &path,
        "邮件主题：[Case: CAS-07301-H8J9K2] 激活失败 CMIT:0002301\n\n====第1封邮件====\n\n发件人：He Ping\n发送时间：2023-06-01 09:00:00+08:00\n邮件内容:\n激活失败，错误 0xC004C003。\n\n====第2封邮件====\n\n发件人：Sun Li\n发送时间：2023-06-01 11:00:00+08:00\n邮件内容:\nHi Dev,\n请帮忙查一下这台机器的激活记录。\n孙丽\n",
    )
    .expect("write");
    app.cli_ok(&["ingest", &path.display().to_string()], None);
    let app = app.start();
    let number = "CAS-07301-H8J9K2";
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    let escs = case["escalations"].as_array().expect("escalations").clone();
    assert_eq!(escs.len(), 1, "{case}");
    let id = escs[0]["id"].as_i64().expect("id");
    // R&D answers in Casebook.
    post_ok(
        &app,
        &rnd,
        &format!("/api/escalations/{id}/answers"),
        serde_json::json!({"body_text": "该序列号没有激活记录，请客户重新安装。"}),
    );
    let out = app.cli_ok(&["reanalyze", "--case", number], None);
    assert!(out.contains(number), "{out}");
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    let escs = case["escalations"].as_array().expect("escalations");
    assert_eq!(escs.len(), 1, "one escalation, the same: {case}");
    assert_eq!(escs[0]["id"].as_i64(), Some(id));
    assert_eq!(escs[0]["status"], "answered", "{}", escs[0]);
    assert_eq!(escs[0]["answers"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        escs[0]["followups"].as_array().map(Vec::len),
        Some(0),
        "{}",
        escs[0]
    );
    assert_eq!(
        directions(&case)[1],
        ("Sun Li".to_string(), "to_rnd".to_string())
    );
}
