//! An outsider with only an e-mail address: whatever the From header and the body
//! claim, live mail takes no staff action unless its sender is a verified staff
//! identity (security issue 14, finding 1). What it claimed is offered to staff as a
//! proposal they can apply themselves.

use crate::helpers::{csrf_in, mail, TestApp, PASSWORD};
use serde_json::Value;

const MTA: &str = "mx.cmgos.example";

struct Setup {
    app: TestApp,
    token: String,
    number: String,
}

/// A running server whose MTA is `mx.cmgos.example`, with the seed's staff, a manager,
/// a disabled support account, and one open case opened by a customer.
fn setup() -> Setup {
    let app = TestApp::with_args(&["--trusted-authserv-ids", MTA]);
    let token = app.seed_staff();
    app.add_user("boss@cmgos.example", "Boss", "manager", &[]);
    app.add_user("gone@cmgos.example", "Gone Engineer", "support", &[]);
    let app = app.start();
    // Disable the engineer who left, as an admin does in the browser.
    let admin = app.browser();
    admin.login("admin@casebook.example", PASSWORD);
    let users = admin.get("/admin/users").body;
    let re = regex::Regex::new(r#"href="/admin/users/(\d+)">Gone Engineer<"#).expect("re");
    let id = re
        .captures(&users)
        .map(|c| c[1].to_string())
        .expect("the user's page");
    let csrf = csrf_in(&users).expect("csrf");
    let r = admin.post(
        &format!("/admin/users/{id}/disabled"),
        &[("disabled", "true"), ("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 303, "disabled");
    let v = post(
        &app,
        &token,
        &[
            ("From", "Ma <ma@bank.example>"),
            ("To", "support@cmgos.example"),
            ("Subject", "激活失败 0xC002001B"),
            ("Message-ID", "<open@bank.example>"),
        ],
        "激活失败，错误 0xC002001B",
    );
    let number = v["case_number"].as_str().expect("case").to_string();
    Setup { app, token, number }
}

fn post(app: &TestApp, token: &str, headers: &[(&str, &str)], body: &str) -> Value {
    let (s, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(token),
        Some(&mail(headers, body)),
    );
    assert_eq!(s, 200, "{v}");
    v
}

const CLOSURE: &str = "马先生，您好：\n案例总结：\n问题定义：\n激活失败\n问题进展：\n已解决";
const HI_DEV: &str = "Hi Dev,\n客户激活失败 0xC002001B，序列号 T102210000943，请帮忙看看。";

fn reply(s: &Setup, from: &str, id: &str, extra: &[(&str, &str)], body: &str) -> Value {
    let subject = format!("Re: [Case: {}] 激活失败", s.number);
    let mid = format!("<{id}>");
    let mut h: Vec<(&str, &str)> = vec![
        ("From", from),
        ("To", "support@cmgos.example"),
        ("Subject", &subject),
        ("Message-ID", &mid),
        ("In-Reply-To", "<open@bank.example>"),
    ];
    h.extend_from_slice(extra);
    post(&s.app, &s.token, &h, body)
}

fn case(s: &Setup) -> Value {
    s.app.api_get(&format!("/api/cases/{}", s.number), &s.token)
}

fn assert_untouched(s: &Setup, what: &str) {
    let c = case(s);
    assert_ne!(c["status"], "closed", "{what}: closed the case");
    assert!(c["closure"].is_null(), "{what}: recorded a closure");
    assert_eq!(
        c["escalations"].as_array().map(Vec::len),
        Some(0),
        "{what}: opened an escalation"
    );
    let outbox = s
        .app
        .api_get(&format!("/api/cases/{}/outbox", s.number), &s.token);
    assert_eq!(
        outbox["outbox"].as_array().map(Vec::len),
        Some(0),
        "{what}: sent mail"
    );
}

fn last_proposal(s: &Setup) -> Value {
    case(s)["messages"]
        .as_array()
        .and_then(|m| m.last().cloned())
        .map(|m| m["proposal"].clone())
        .unwrap_or(Value::Null)
}

/// What is tried, the From header, extra headers, the body, the proposal expected.
type Attempt<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, &'a str, &'a str);

#[test]
fn forged_staff_mail_takes_no_staff_action() {
    let s = setup();
    let auth = |d: &str| format!("{MTA}; dkim=pass header.d={d}");
    let evil = auth("evil.example");
    let untrusted = "mx.evil.example; dkim=pass header.d=cmgos.example".to_string();
    let failed = format!("{MTA}; dkim=fail header.d=cmgos.example");
    let ours = auth("cmgos.example");
    let attempts: Vec<Attempt> = vec![
        // The seed engineer's name on an outsider's address, authenticated for it.
        (
            "display name",
            "Wang Binbin <attacker@evil.example>",
            vec![("Authentication-Results", &evil)],
            CLOSURE,
            "closure",
        ),
        (
            "display name, Hi Dev",
            "Wang Binbin <attacker@evil.example>",
            vec![],
            HI_DEV,
            "escalation",
        ),
        // The real address, but nothing vouches for it.
        (
            "real address, no authentication",
            "Wang Binbin <wangbb@cmgos.example>",
            vec![],
            CLOSURE,
            "closure",
        ),
        (
            "real address, untrusted server",
            "wangbb@cmgos.example",
            vec![("Authentication-Results", &untrusted)],
            CLOSURE,
            "closure",
        ),
        (
            "real address, failed DKIM",
            "wangbb@cmgos.example",
            vec![("Authentication-Results", &failed)],
            HI_DEV,
            "escalation",
        ),
        // Authenticated, but the account may not act: disabled, or a manager.
        (
            "disabled account",
            "Gone Engineer <gone@cmgos.example>",
            vec![("Authentication-Results", &ours)],
            CLOSURE,
            "closure",
        ),
        (
            "manager",
            "Boss <boss@cmgos.example>",
            vec![("Authentication-Results", &ours)],
            CLOSURE,
            "closure",
        ),
        // R&D's name on an outsider's address.
        (
            "R&D name",
            "Liu Yu <liu@evil.example>",
            vec![],
            "这个问题已经修复，请客户重试。",
            "answer",
        ),
    ];
    for (i, (what, from, extra, body, proposal)) in attempts.into_iter().enumerate() {
        let v = reply(&s, from, &format!("forged{i}@evil.example"), &extra, body);
        assert_eq!(
            v["case_number"].as_str(),
            Some(s.number.as_str()),
            "{what}: threaded"
        );
        assert_untouched(&s, what);
        let c = case(&s);
        let last = c["messages"]
            .as_array()
            .and_then(|m| m.last().cloned())
            .expect("message");
        assert_eq!(
            last["direction"], "customer",
            "{what}: shown as from outside"
        );
        if proposal.is_empty() {
            assert!(last["proposal"].is_null(), "{what}: {}", last["proposal"]);
        } else {
            assert_eq!(last["proposal"], proposal, "{what}");
        }
        assert!(
            c["escalations"].as_array().is_some_and(|e| e
                .iter()
                .all(|x| x["answers"].as_array().is_none_or(Vec::is_empty))),
            "{what}: recorded an R&D answer"
        );
    }
    // A customer's reply still reopens; the page offers the proposal to staff.
    let b = s.app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let page = b.get(&format!("/cases/{}", s.number));
    assert!(
        page.body.contains("/apply"),
        "the case page offers the proposal"
    );
}

#[test]
fn a_verified_engineer_acts_and_staff_can_apply_a_proposal() {
    let s = setup();
    // The same closure, from the engineer's address, vouched for by our MTA: closes.
    let ours = format!("{MTA}; dkim=pass header.d=cmgos.example");
    reply(
        &s,
        "Wang Binbin <wangbb@cmgos.example>",
        "real-close@cmgos.example",
        &[("Authentication-Results", &ours)],
        CLOSURE,
    );
    assert_eq!(case(&s)["status"], "closed");
    assert_eq!(case(&s)["closure"]["author"], "Wang Binbin");

    // On another case: a forged closure becomes a proposal that support applies.
    let s = setup();
    reply(
        &s,
        "Wang Binbin <attacker@evil.example>",
        "forged@evil.example",
        &[],
        CLOSURE,
    );
    assert_eq!(last_proposal(&s), "closure");
    let row = {
        let b = s.app.browser();
        b.login("wangbb@cmgos.example", PASSWORD);
        let page = b.get(&format!("/cases/{}", s.number));
        let re = regex::Regex::new(r#"/messages/(\d+)/apply"#).expect("re");
        let row = re
            .captures(&page.body)
            .map(|c| c[1].to_string())
            .expect("apply form");
        // R&D may not apply a closure.
        let rnd = s.app.browser();
        rnd.login("liuyu@cmgos.example", PASSWORD);
        let csrf = csrf_in(&rnd.get("/cases").body).expect("csrf");
        let r = rnd.post(
            &format!("/cases/{}/messages/{row}/apply", s.number),
            &[("csrf_token", &csrf)],
        );
        assert_eq!(r.status, 403, "R&D applying a closure");
        let csrf = csrf_in(&page.body).expect("csrf");
        let r = b.post(
            &format!("/cases/{}/messages/{row}/apply", s.number),
            &[("csrf_token", &csrf)],
        );
        assert_eq!(r.status, 303);
        row
    };
    let c = case(&s);
    assert_eq!(c["status"], "closed");
    assert_eq!(
        c["closure"]["author"], "Wang Binbin",
        "applied as the signed-in engineer"
    );
    assert!(last_proposal(&s).is_null(), "the proposal is used up");
    // Applying twice finds nothing.
    let b = s.app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let csrf = csrf_in(&b.get("/cases").body).expect("csrf");
    let r = b.post(
        &format!("/cases/{}/messages/{row}/apply", s.number),
        &[("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 404);
}

#[test]
fn imported_history_is_read_by_names() {
    // `casebook ingest` is an admin importing history: names identify people there.
    let app = TestApp::new();
    let token = app.seed_staff();
    app.cli_ok(
        &[
            "ingest",
            &crate::helpers::fixture("seed-export.txt")
                .display()
                .to_string(),
        ],
        None,
    );
    let app = app.start();
    let c = app.api_get("/api/cases/CAS-06496-T2V9C6", &token);
    assert_eq!(c["status"], "closed");
    assert!(!c["closure"].is_null());
}

#[test]
fn an_internal_pipe_vouches_for_staff_mail_and_an_ordinary_one_does_not() {
    let s = setup();
    let plain = s.app.cli_ok(
        &[
            "token",
            "create",
            "--email",
            "admin@casebook.example",
            "--scope",
            "inbound",
        ],
        None,
    );
    let internal = s.app.cli_ok(
        &[
            "token",
            "create",
            "--email",
            "admin@casebook.example",
            "--scope",
            "inbound-internal",
        ],
        None,
    );
    let subject = format!("Re: [Case: {}] 激活失败", s.number);
    let send = |token: &str, id: &str| {
        let raw = mail(
            &[
                ("From", "Wang Binbin <wangbb@cmgos.example>"),
                ("Subject", &subject),
                ("Message-ID", id),
            ],
            CLOSURE,
        );
        let (st, v) = s
            .app
            .api("POST", "/api/mail/inbound", Some(token.trim()), Some(&raw));
        assert_eq!(st, 200, "{v}");
    };
    send(&plain, "<plain@cmgos.example>");
    assert_untouched(&s, "ordinary inbound token");
    assert_eq!(last_proposal(&s), "closure");
    send(&internal, "<internal@cmgos.example>");
    assert_eq!(
        case(&s)["status"],
        "closed",
        "the internal pipe vouches for its staff"
    );
    // An internal-pipe token is still only good for posting mail.
    let (st, _) = s.app.api("GET", "/api/cases", Some(internal.trim()), None);
    assert_eq!(st, 403);
}
