//! Every action in the API: the admin's users, tokens, mailboxes and quarantine through
//! JSON with the pages' rules, and "a colleague is replying" over HTTP.

use crate::helpers::{mail, TestApp, PASSWORD};
use serde_json::{json, Value};

fn call(app: &TestApp, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    app.api(method, path, Some(token), Some(body.to_string().as_bytes()))
}

fn ok(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (s, v) = call(app, token, "POST", path, body);
    assert!(s == 200 || s == 201, "POST {path}: {s} {v}");
    v
}

#[test]
fn users_and_tokens_are_managed_through_json_with_the_pages_rules() {
    let app = TestApp::new();
    let admin = app.seed_staff();
    let app = app.start();
    let wang = app.token("wangbb@cmgos.example");

    // Support may not manage users or tokens; admins may.
    let (s, _) = call(
        &app,
        &wang,
        "POST",
        "/api/users",
        json!({"email": "x@cmgos.example"}),
    );
    assert_eq!(s, 403);
    let (s, _) = app.api("GET", "/api/tokens", Some(&wang), None);
    assert_eq!(s, 403);

    let u = ok(
        &app,
        &admin,
        "/api/users",
        json!({"email": "Zhao@CMGOS.example", "name": "Zhao Liu", "role": "support",
               "aliases": ["zhao.liu@cmgos.example"], "password": PASSWORD}),
    );
    let id = u["id"].as_i64().expect("id");
    assert_eq!(u["email"], "zhao@cmgos.example", "{u}");
    assert_eq!(u["aliases"], json!(["zhao.liu@cmgos.example"]), "{u}");
    let (s, v) = call(
        &app,
        &admin,
        "POST",
        "/api/users",
        json!({"email": "a@b.example", "name": "A", "role": "boss", "password": PASSWORD}),
    );
    assert_eq!(s, 400, "{v}");

    let u = ok(
        &app,
        &admin,
        &format!("/api/users/{id}"),
        json!({"name": "Zhao Liu", "role": "rnd", "aliases": []}),
    );
    assert_eq!(u["role"], "rnd", "{u}");
    let list = app.api_get("/api/users", &admin);
    assert!(
        list["users"]
            .as_array()
            .expect("users")
            .iter()
            .any(|x| x["email"] == "zhao@cmgos.example" && x["role"] == "rnd"),
        "{list}"
    );
    assert!(
        !list.to_string().contains("argon2"),
        "no password hash: {list}"
    );

    // A token made through the API works, is listed without its value, and is revoked.
    let t = ok(
        &app,
        &admin,
        "/api/tokens",
        json!({"email": "zhao@cmgos.example", "scope": "full", "expires_days": 30}),
    );
    let token = t["token"].as_str().expect("token").to_string();
    let me = app.api_get("/api/me", &token);
    assert_eq!(me["email"], "zhao@cmgos.example", "{me}");
    let tokens = app.api_get("/api/tokens", &admin);
    assert!(
        !tokens.to_string().contains(&token),
        "the token itself is never listed"
    );
    let listed = tokens["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|x| x["id"] == t["id"])
        .cloned()
        .expect("listed");
    assert_eq!(listed["email"], "zhao@cmgos.example", "{listed}");
    assert!(
        !listed["expires_at"].as_str().unwrap_or_default().is_empty(),
        "{listed}"
    );
    let (s, _) = call(
        &app,
        &admin,
        "POST",
        "/api/tokens",
        json!({"email": "zhao@cmgos.example", "scope": "god"}),
    );
    assert_eq!(s, 400);
    let (s, _) = call(
        &app,
        &admin,
        "POST",
        "/api/tokens",
        json!({"email": "nobody@cmgos.example"}),
    );
    assert_eq!(s, 400);
    ok(
        &app,
        &admin,
        &format!("/api/tokens/{}/revoke", t["id"]),
        json!({}),
    );
    let (s, _) = app.api("GET", "/api/me", Some(&token), None);
    assert_eq!(s, 401, "a revoked token no longer works");
    let (s, _) = call(
        &app,
        &admin,
        "POST",
        &format!("/api/tokens/{}/revoke", t["id"]),
        json!({}),
    );
    assert_eq!(s, 404, "revoked once");

    // A new password through the API lets the user sign in with it; disabling works,
    // but not on oneself.
    ok(
        &app,
        &admin,
        &format!("/api/users/{id}/password"),
        json!({"password": "another long passphrase 7"}),
    );
    let b = app.browser();
    let p = b.login("zhao@cmgos.example", "another long passphrase 7");
    assert_eq!(p.status, 303, "{}", p.body);
    ok(
        &app,
        &admin,
        &format!("/api/users/{id}/disabled"),
        json!({"disabled": true}),
    );
    let p = app
        .browser()
        .login("zhao@cmgos.example", "another long passphrase 7");
    assert_ne!(
        p.location.as_deref(),
        Some("/cases"),
        "a disabled user cannot sign in"
    );
    let admin_id = app.api_get("/api/users", &admin)["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|x| x["email"] == "admin@casebook.example")
        .map(|x| x["id"].clone())
        .expect("admin");
    let (s, _) = call(
        &app,
        &admin,
        "POST",
        &format!("/api/users/{admin_id}/disabled"),
        json!({"disabled": true}),
    );
    assert_eq!(s, 400, "an admin cannot disable themselves");

    // The quarantine is listed and a message in it can be filed by hand.
    let (s, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&admin),
        Some(b"\x00\x01 not a mail"),
    );
    assert_eq!(s, 200, "{v}");
    let q = app.api_get("/api/quarantine", &admin);
    let qid = q["quarantine"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("quarantined: {q}"));
    let (s, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&admin),
        Some(&mail(
            &[
                ("From", "ma@bank.example"),
                ("Subject", "激活失败"),
                ("Message-ID", "<tw-1@bank.example>"),
            ],
            "0xC004F074",
        )),
    );
    assert_eq!(s, 200, "{v}");
    let number = v["case_number"].as_str().expect("case").to_string();
    let r = ok(
        &app,
        &admin,
        &format!("/api/quarantine/{qid}/assign"),
        json!({"case_number": number.to_lowercase()}),
    );
    assert_eq!(r["number"], number.as_str(), "{r}");
    let q = app.api_get("/api/quarantine", &admin);
    assert!(
        q["quarantine"]
            .as_array()
            .expect("list")
            .iter()
            .all(|x| x["id"] != qid),
        "{q}"
    );
}

#[test]
fn mailboxes_are_added_edited_paused_and_resumed_through_json() {
    let app = TestApp::new();
    let admin = app.seed_staff();
    let app = app.start();
    // Nothing listens on this port: the test before saving fails, and says why.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let fields = json!({"name": "support", "host": "127.0.0.1", "port": port, "tls": "plain",
                        "username": "support", "password": "secret-pw", "folder": "INBOX",
                        "move_to": "Processed", "poll_seconds": 3600});
    let (s, v) = call(&app, &admin, "POST", "/api/mailboxes", fields.clone());
    assert_eq!(s, 400, "{v}");
    assert!(
        v.to_string().contains("127.0.0.1"),
        "the server's address in the error: {v}"
    );
    assert_eq!(
        app.api_get("/api/mailboxes", &admin)["mailboxes"],
        json!([]),
        "not kept"
    );

    let mut no_test = fields.clone();
    no_test["no_test"] = json!(true);
    let id = ok(&app, &admin, "/api/mailboxes", no_test)["id"]
        .as_i64()
        .expect("id");
    let list = app.api_get("/api/mailboxes", &admin);
    assert_eq!(list["mailboxes"][0]["enabled"], true, "{list}");
    assert!(
        !list.to_string().contains("secret-pw"),
        "never the password"
    );

    ok(
        &app,
        &admin,
        &format!("/api/mailboxes/{id}/pause"),
        json!({}),
    );
    assert_eq!(
        app.api_get("/api/mailboxes", &admin)["mailboxes"][0]["enabled"],
        false
    );
    ok(
        &app,
        &admin,
        &format!("/api/mailboxes/{id}/resume"),
        json!({}),
    );
    assert_eq!(
        app.api_get("/api/mailboxes", &admin)["mailboxes"][0]["enabled"],
        true
    );

    // An edit that fails its test keeps the old settings; one without the test is saved
    // and keeps the password when none is given.
    let (s, v) = call(
        &app,
        &admin,
        "POST",
        &format!("/api/mailboxes/{id}"),
        json!({"name": "helpdesk", "host": "127.0.0.1", "port": port, "tls": "plain", "username": "helpdesk", "password": "other-secret", "poll_seconds": 60}),
    );
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        app.api_get("/api/mailboxes", &admin)["mailboxes"][0]["name"],
        "support"
    );
    // A stored password is never sent to another account or server: it must be given
    // again.
    let (s, v) = call(
        &app,
        &admin,
        "POST",
        &format!("/api/mailboxes/{id}"),
        json!({"name": "helpdesk", "host": "127.0.0.1", "port": port, "tls": "plain", "username": "helpdesk", "folder": "Support/新客户", "poll_seconds": 60, "no_test": true}),
    );
    assert_eq!(s, 400, "{v}");
    assert!(v.to_string().contains("password again"), "{v}");
    ok(
        &app,
        &admin,
        &format!("/api/mailboxes/{id}"),
        json!({"name": "helpdesk", "host": "127.0.0.1", "port": port, "tls": "plain", "username": "helpdesk", "password": "other-secret", "folder": "Support/新客户", "poll_seconds": 60, "no_test": true}),
    );
    let m = app.api_get("/api/mailboxes", &admin)["mailboxes"][0].clone();
    assert_eq!(m["name"], "helpdesk", "{m}");
    assert_eq!(m["poll_seconds"], 60, "{m}");
    assert!(
        m["url"]
            .as_str()
            .unwrap_or_default()
            .contains("helpdesk@127.0.0.1"),
        "{m}"
    );
    let t = ok(
        &app,
        &admin,
        &format!("/api/mailboxes/{id}/test"),
        json!({}),
    );
    assert_eq!(t["ok"], false, "{t}");
    assert!(
        !t["error"]
            .as_str()
            .unwrap_or_default()
            .contains("password: none"),
        "the password was kept: {t}"
    );
    // The command line sees the same mailbox.
    let listed = app.cli_ok(&["mailbox", "list"], None);
    assert!(listed.starts_with("helpdesk\t"), "{listed}");
    // And edits it: a failed test changes nothing, --no-test saves.
    let out = app.cli(
        &["mailbox", "edit", "--name", "helpdesk", "--rename", "desk"],
        None,
    );
    assert!(!out.status.success(), "the test before saving fails");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("old settings stay"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.cli_ok(
        &[
            "mailbox",
            "edit",
            "--name",
            "helpdesk",
            "--rename",
            "desk",
            "--move-to",
            "",
            "--poll-seconds",
            "30",
            "--no-test",
        ],
        None,
    );
    let m = app.api_get("/api/mailboxes", &admin)["mailboxes"][0].clone();
    assert_eq!(
        (
            m["name"].as_str(),
            m["poll_seconds"].as_i64(),
            m["move_to"].is_null()
        ),
        (Some("desk"), Some(30), true),
        "{m}"
    );
    ok(
        &app,
        &admin,
        &format!("/api/mailboxes/{id}/remove"),
        json!({}),
    );
    assert_eq!(
        app.api_get("/api/mailboxes", &admin)["mailboxes"],
        json!([])
    );
}

#[test]
fn a_colleague_replying_to_the_same_case_is_shown_on_its_page() {
    let app = TestApp::new();
    let admin = app.seed_staff();
    app.add_user("zhang@cmgos.example", "Zhang San", "support", &[]);
    let app = app.start();
    let (s, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&admin),
        Some(&mail(
            &[
                ("From", "ma@bank.example"),
                ("Subject", "激活失败"),
                ("Message-ID", "<pr-1@bank.example>"),
            ],
            "0xC004F074",
        )),
    );
    assert_eq!(s, 200, "{v}");
    let number = v["case_number"].as_str().expect("case").to_string();
    let path = format!("/cases/{number}");

    let wang = app.browser();
    wang.login("wangbb@cmgos.example", PASSWORD);
    let zhang = app.browser();
    zhang.login("zhang@cmgos.example", PASSWORD);
    let hidden = |body: &str| {
        let tag = notice(body);
        tag.split('>').next().unwrap_or_default().contains("hidden")
    };
    assert!(hidden(&zhang.get(&path).body), "nobody is replying yet");

    // Wang's page says he is typing (form post with the page's CSRF token).
    let csrf = wang.csrf(&path);
    let p = wang.post(&format!("{path}/replying"), &[("csrf_token", &csrf)]);
    assert_eq!(p.status, 204, "{}", p.body);
    let p = wang.post(&format!("{path}/replying"), &[("csrf_token", "forged")]);
    assert_eq!(p.status, 403, "CSRF checked");
    let seen = zhang.get(&path).body;
    assert!(
        !hidden(&seen) && notice(&seen).contains("Wang Binbin"),
        "{}",
        notice(&seen)
    );
    let own = wang.get(&path).body;
    assert!(
        hidden(&own) && !notice(&own).contains("Wang Binbin"),
        "not told about oneself: {}",
        notice(&own)
    );

    // R&D cannot reply, so cannot say so; an unknown case is 404.
    let liu = app.token("liuyu@cmgos.example");
    let (s, _) = app.api(
        "POST",
        &format!("/api/cases/{number}/replying"),
        Some(&liu),
        Some(b"{}"),
    );
    assert_eq!(s, 403);
    let (s, _) = app.api(
        "POST",
        "/api/cases/CAS-19990101-0001/replying",
        Some(&admin),
        Some(b"{}"),
    );
    assert_eq!(s, 404);

    // Once Wang's reply is sent, the notice is gone.
    let csrf = wang.csrf(&path);
    let p = wang.post(
        &format!("{path}/reply"),
        &[
            ("csrf_token", &csrf),
            ("body", "您好，请提供日志。"),
            ("to", "ma@bank.example"),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(hidden(&zhang.get(&path).body), "the reply was sent");
}

/// The "colleague is replying" notice of a case page, from its opening tag's attributes
/// to its end.
fn notice(body: &str) -> String {
    body.split(r#"id="replying""#)
        .nth(1)
        .expect("the page has the notice")
        .split("</p>")
        .next()
        .unwrap_or_default()
        .to_string()
}
