//! Accounts, sessions, CSRF, roles, tokens, throttling.

use crate::helpers::{csrf_in, TestApp, PASSWORD};

fn app_with_users() -> (TestApp, String) {
    let app = TestApp::new();
    let token = app.seed_staff();
    (app.start(), token)
}

#[test]
fn healthz_and_login_page_without_auth() {
    let app = TestApp::new().start();
    let (status, body) = app.api("GET", "/healthz", None, None);
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    let b = app.browser();
    let page = b.get("/login");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"csrf_token\""));
    assert!(page.body.contains("name=\"email\"") && page.body.contains("type=\"password\""));
    assert!(page
        .header("content-security-policy")
        .is_some_and(|v| v.contains("default-src 'self'")));
    // No users yet: the page and the server log say how to create the first admin.
    assert!(page.body.contains("casebook user add"));
    assert!(
        app.server_log().contains("casebook user add"),
        "{}",
        app.server_log()
    );
}

#[test]
fn login_success_and_failure() {
    let (app, _) = app_with_users();
    let b = app.browser();
    let bad = b.login("wangbb@cmgos.example", "wrong-password");
    assert_eq!(bad.status, 401);
    // No Accept-Language and no cookie: the default language, Chinese.
    assert!(bad.body.contains("邮箱或密码不正确"), "{}", bad.body);
    assert!(
        b.cookie("cb_session").is_none(),
        "no session after a wrong password"
    );
    assert_eq!(b.get("/cases").status, 303, "still signed out");

    let ok = b.login("wangbb@cmgos.example", PASSWORD);
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(ok.location.as_deref(), Some("/cases"));
    let set_cookie = ok.header("set-cookie").unwrap_or_default().to_lowercase();
    assert!(
        set_cookie.contains("httponly") && set_cookie.contains("samesite=lax"),
        "{set_cookie}"
    );
    let queue = b.get("/cases");
    assert_eq!(queue.status, 200);
    assert!(queue.body.contains("Wang Binbin"));
}

#[test]
fn post_without_csrf_token_is_refused_and_changes_nothing() {
    let (app, token) = app_with_users();
    let b = app.browser();
    b.login("admin@casebook.example", PASSWORD);
    // Login form without the token.
    let other = app.browser();
    let _ = other.get("/login");
    let r = other.post(
        "/login",
        &[("email", "admin@casebook.example"), ("password", PASSWORD)],
    );
    assert_eq!(r.status, 403);
    assert!(other.cookie("cb_session").is_none());
    // Admin form without / with a wrong token: no user created.
    for tok in ["", "deadbeef"] {
        let r = b.post(
            "/admin/users",
            &[
                ("email", "mallory@x.example"),
                ("name", "M"),
                ("role", "admin"),
                ("password", "Sup3r-secret"),
                ("csrf_token", tok),
            ],
        );
        assert_eq!(r.status, 403, "token {tok:?}");
    }
    let users = app.cli_ok(&["user", "list"], None);
    assert!(!users.contains("mallory"), "{users}");
    // With the token it works.
    let csrf = b.csrf("/admin/users");
    let r = b.post(
        "/admin/users",
        &[
            ("email", "new@x.example"),
            ("name", "New"),
            ("role", "support"),
            ("aliases", "Nu, N2"),
            ("password", "Sup3r-secret"),
            ("csrf_token", &csrf),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(app
        .cli_ok(&["user", "list"], None)
        .contains("new@x.example"));
    let _ = token;
}

#[test]
fn roles_are_enforced_on_the_server() {
    let (app, _) = app_with_users();
    let rnd = app.browser();
    assert_eq!(rnd.login("liuyu@cmgos.example", PASSWORD).status, 303);
    for path in [
        "/admin/users",
        "/admin/quarantine",
        "/admin/raw/1",
        "/ingest",
    ] {
        assert_eq!(rnd.get(path).status, 403, "{path}");
    }
    let csrf = rnd.csrf("/cases");
    let r = rnd.post(
        "/admin/users",
        &[
            ("email", "x@x.example"),
            ("name", "X"),
            ("role", "admin"),
            ("password", "Sup3r-secret"),
            ("csrf_token", &csrf),
        ],
    );
    assert_eq!(r.status, 403);
    assert!(!app.cli_ok(&["user", "list"], None).contains("x@x.example"));
    assert_eq!(rnd.get("/cases").status, 200, "R&D reads cases");
    // Signed out: pages redirect to the login form.
    let anon = app.browser();
    let r = anon.get("/admin/users");
    assert_eq!(r.status, 303);
    assert_eq!(r.location.as_deref(), Some("/login"));
}

#[test]
fn api_tokens() {
    let (app, admin_token) = app_with_users();
    let (s, v) = app.api("GET", "/api/me", None, None);
    assert_eq!(s, 401);
    assert_eq!(v["error"], "unauthorized");
    let (s, _) = app.api("GET", "/api/me", Some("cb_not-a-token"), None);
    assert_eq!(s, 401);
    let me = app.api_get("/api/me", &admin_token);
    assert_eq!(me["email"], "admin@casebook.example");
    assert_eq!(me["role"], "admin");
    let rnd_token = app.token("liuyu@cmgos.example");
    let me = app.api_get("/api/me", &rnd_token);
    assert_eq!(me["name"], "Liu Yu");
    // Wrong role: 403 with a JSON error, and nothing ingested.
    let (s, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&rnd_token),
        Some(b"From: a@b.c\r\nSubject: x\r\n\r\nhi\r\n"),
    );
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["error"], "forbidden");
    let list = app.api_get("/api/cases", &admin_token);
    assert_eq!(list["total"], 0);
    let (s, v) = app.api("GET", "/api/nothing-here", Some(&admin_token), None);
    assert_eq!(s, 404);
    assert_eq!(v["error"], "not_found");
}

#[test]
fn logout_and_disable_end_sessions_and_tokens() {
    let (app, _) = app_with_users();
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let first_cookie = b.cookie("cb_session").expect("session cookie");
    let csrf = b.csrf("/cases");
    let r = b.post("/logout", &[("csrf_token", &csrf)]);
    assert_eq!(r.status, 303);
    assert_eq!(b.get("/cases").status, 303);
    // The old cookie value no longer works either (replayed by another client).
    let replay = app.browser();
    let r = replay
        .agent
        .get(&app.url("/cases"))
        .set("Cookie", &format!("cb_session={first_cookie}"))
        .call();
    assert!(
        matches!(r, Ok(ref resp) if resp.status() == 303),
        "replayed cookie refused"
    );
    // Each login issues a new session value (no fixation).
    b.login("wangbb@cmgos.example", PASSWORD);
    let second = b.cookie("cb_session").expect("new session");
    assert_ne!(first_cookie, second);

    // An admin disables the user: the session and the token stop at once.
    let support_token = app.token("wangbb@cmgos.example");
    assert_eq!(app.api("GET", "/api/me", Some(&support_token), None).0, 200);
    let admin = app.browser();
    admin.login("admin@casebook.example", PASSWORD);
    let users = admin.get("/admin/users").body;
    let id = regex::Regex::new(r#"/admin/users/(\d+)">Wang Binbin"#)
        .expect("re")
        .captures(&users)
        .expect("user link")[1]
        .to_string();
    let csrf = admin.csrf(&format!("/admin/users/{id}"));
    let r = admin.post(
        &format!("/admin/users/{id}/disabled"),
        &[("disabled", "true"), ("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 303);
    assert_eq!(b.get("/cases").status, 303, "disabled user's session ended");
    assert_eq!(
        app.api("GET", "/api/me", Some(&support_token), None).0,
        401,
        "disabled user's token refused"
    );
    assert_eq!(
        app.browser().login("wangbb@cmgos.example", PASSWORD).status,
        401
    );
}

#[test]
fn login_is_throttled_per_account() {
    let (app, _) = app_with_users();
    let b = app.browser();
    for _ in 0..5 {
        assert_eq!(b.login("wangbb@cmgos.example", "nope-nope").status, 401);
    }
    let r = b.login("wangbb@cmgos.example", PASSWORD);
    assert_eq!(
        r.status, 429,
        "the right password is refused while throttled"
    );
    assert!(b.cookie("cb_session").is_none());
    // Another account from the same address is not locked by it.
    assert_eq!(
        app.browser().login("liuyu@cmgos.example", PASSWORD).status,
        303
    );
}

#[test]
fn admin_manages_users_in_the_browser() {
    let (app, _) = app_with_users();
    let admin = app.browser();
    admin.login("admin@casebook.example", PASSWORD);
    let users = admin.get("/admin/users").body;
    let id = regex::Regex::new(r#"/admin/users/(\d+)">Liu Yu"#)
        .expect("re")
        .captures(&users)
        .expect("user link")[1]
        .to_string();
    let path = format!("/admin/users/{id}");
    let csrf = admin.csrf(&path);
    let r = admin.post(
        &path,
        &[
            ("name", "Liu Yu"),
            ("role", "support"),
            ("aliases", "Joy, Yu"),
            ("csrf_token", &csrf),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let list = app.cli_ok(&["user", "list"], None);
    assert!(
        list.lines()
            .any(|l| l.contains("liuyu@") && l.contains("support") && l.contains("Joy, Yu")),
        "{list}"
    );
    let r = admin.post(
        &format!("{path}/password"),
        &[("password", "short"), ("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 400);
    let r = admin.post(
        &format!("{path}/password"),
        &[("password", "New-Password-1"), ("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 303);
    assert_eq!(
        app.browser().login("liuyu@cmgos.example", PASSWORD).status,
        401
    );
    assert_eq!(
        app.browser()
            .login("liuyu@cmgos.example", "New-Password-1")
            .status,
        303
    );
}

#[test]
fn language_follows_accept_language_and_the_switch() {
    let app = TestApp::new().start();
    let en = ureq::get(&app.url("/login"))
        .set("Accept-Language", "en-US,en;q=0.9")
        .call()
        .expect("get")
        .into_string()
        .expect("body");
    assert!(en.contains("Sign in") && en.contains("lang=\"en\""));
    let zh = ureq::get(&app.url("/login"))
        .set("Accept-Language", "zh-CN,zh;q=0.9")
        .call()
        .expect("get")
        .into_string()
        .expect("body");
    assert!(zh.contains("登录"));
    let b = app.browser();
    let page = b.get("/login");
    let csrf = csrf_in(&page.body).expect("csrf");
    let r = b.post(
        "/lang",
        &[("lang", "en"), ("back", "/login"), ("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 303);
    assert!(b.get("/login").body.contains("Sign in"));
}

/// A login through a reverse proxy that says the client is `forwarded_for` (sent as
/// `X-Forwarded-For`; believed only when the server trusts 127.0.0.1).
fn login_via(
    b: &crate::helpers::Browser,
    csrf: &str,
    email: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> u16 {
    let mut req = b.agent.post(&format!("{}/login", b.base));
    if let Some(f) = forwarded_for {
        req = req.set("X-Forwarded-For", f);
    }
    match req.send_form(&[
        ("email", email),
        ("password", password),
        ("csrf_token", csrf),
    ]) {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("login: {e}"),
    }
}

fn proxied_app() -> TestApp {
    let app = TestApp::with_args(&["--trusted-proxies", "127.0.0.1"]);
    app.seed_staff();
    app.start()
}

#[test]
fn wrong_passwords_from_one_client_do_not_lock_the_account_for_another() {
    let app = proxied_app();
    let b = app.browser();
    let csrf = b.csrf("/login");
    let attacker = Some("203.0.113.7");
    for _ in 0..5 {
        assert_eq!(
            login_via(&b, &csrf, "wangbb@cmgos.example", "nope-nope", attacker),
            401
        );
    }
    assert_eq!(
        login_via(&b, &csrf, "wangbb@cmgos.example", PASSWORD, attacker),
        429,
        "the attacker's client is throttled, even with the right password"
    );
    // Writing another address on the left of the header does not escape the counter:
    // the proxy's right-most entry is the client.
    assert_eq!(
        login_via(
            &b,
            &csrf,
            "wangbb@cmgos.example",
            "nope-nope",
            Some("198.51.100.9, 203.0.113.7")
        ),
        429
    );
    // The owner, from elsewhere, signs in.
    let owner = app.browser();
    let csrf = owner.csrf("/login");
    assert_eq!(
        login_via(
            &owner,
            &csrf,
            "wangbb@cmgos.example",
            PASSWORD,
            Some("198.51.100.9")
        ),
        303
    );
    assert!(owner.cookie("cb_session").is_some());
}

#[test]
fn forwarded_for_is_ignored_without_trusted_proxies() {
    let (app, _) = app_with_users();
    let b = app.browser();
    let csrf = b.csrf("/login");
    for i in 0..5 {
        let spoofed = format!("192.0.2.{i}");
        assert_eq!(
            login_via(
                &b,
                &csrf,
                "wangbb@cmgos.example",
                "nope-nope",
                Some(&spoofed)
            ),
            401
        );
    }
    assert_eq!(
        login_via(
            &b,
            &csrf,
            "wangbb@cmgos.example",
            PASSWORD,
            Some("198.51.100.9")
        ),
        429,
        "every attempt came from the peer 127.0.0.1"
    );
}

#[test]
fn parallel_wrong_passwords_check_at_most_the_limit() {
    let app = proxied_app();
    let b = app.browser();
    let csrf = b.csrf("/login");
    let threads: Vec<_> = (0..40)
        .map(|_| {
            let agent = b.agent.clone();
            let base = b.base.clone();
            let csrf = csrf.clone();
            std::thread::spawn(move || {
                let b = crate::helpers::Browser { agent, base };
                login_via(
                    &b,
                    &csrf,
                    "wangbb@cmgos.example",
                    "nope-nope",
                    Some("203.0.113.7"),
                )
            })
        })
        .collect();
    let answers: Vec<u16> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    let checked = answers.iter().filter(|s| **s == 401).count();
    let throttled = answers.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (checked, throttled),
        (5, 35),
        "only the limit reaches the password check: {answers:?}"
    );
    let owner = app.browser();
    let csrf = owner.csrf("/login");
    assert_eq!(
        login_via(
            &owner,
            &csrf,
            "wangbb@cmgos.example",
            PASSWORD,
            Some("198.51.100.9")
        ),
        303
    );
}

#[test]
fn one_client_is_limited_across_accounts() {
    let app = proxied_app();
    let b = app.browser();
    let csrf = b.csrf("/login");
    let sprayer = Some("203.0.113.50");
    for i in 0..30 {
        let email = format!("nobody{}@x.example", i / 5);
        assert_eq!(
            login_via(&b, &csrf, &email, "nope-nope", sprayer),
            401,
            "attempt {i}"
        );
    }
    assert_eq!(
        login_via(&b, &csrf, "liuyu@cmgos.example", "nope-nope", sprayer),
        429
    );
    assert_eq!(
        login_via(
            &b,
            &csrf,
            "liuyu@cmgos.example",
            PASSWORD,
            Some("198.51.100.9")
        ),
        303
    );
}
