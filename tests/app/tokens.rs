//! API tokens: list, revoke, expiry, the inbound scope, revocation on a new password
//! and on disable, the admin page.

use crate::helpers::{TestApp, PASSWORD};

fn app() -> (TestApp, String) {
    let app = TestApp::new();
    let admin = app.seed_staff();
    (app.start(), admin)
}

fn status(app: &TestApp, method: &str, path: &str, token: &str, body: Option<&[u8]>) -> u16 {
    app.api(method, path, Some(token), body).0
}

/// The id `token list` shows on the line of the only token of `email`.
fn token_ids(app: &TestApp, email: &str) -> Vec<String> {
    app.cli_ok(&["token", "list", "--email", email], None)
        .lines()
        .map(|l| l.split('\t').next().expect("id").to_string())
        .collect()
}

fn user_id(admin: &crate::helpers::Browser, name: &str) -> String {
    let users = admin.get("/admin/users").body;
    regex::Regex::new(&format!(r#"/admin/users/(\d+)">{name}"#))
        .expect("re")
        .captures(&users)
        .expect("user link")[1]
        .to_string()
}

const MAIL: &[u8] =
    b"From: customer@example.org\r\nSubject: printer down\r\nMessage-ID: <t1@example.org>\r\n\r\nhelp\r\n";

#[test]
fn tokens_are_listed_and_revoked_on_the_command_line() {
    let (app, admin) = app();
    let t1 = app.token("wangbb@cmgos.example");
    let t2 = app.token("wangbb@cmgos.example");
    let rnd = app.token("liuyu@cmgos.example");
    assert_eq!(status(&app, "GET", "/api/me", &t1, None), 200);
    let all = app.cli_ok(&["token", "list"], None);
    assert_eq!(all.lines().count(), 4, "{all}");
    for t in [&t1, &t2, &rnd, &admin] {
        assert!(!all.contains(t.as_str()), "the list never shows a token");
    }
    let mine = app.cli_ok(&["token", "list", "--email", "wangbb@cmgos.example"], None);
    assert_eq!(mine.lines().count(), 2, "{mine}");
    assert!(mine
        .lines()
        .all(|l| l.contains("wangbb@cmgos.example") && l.contains("\tfull\t")));
    // The used token shows when it was used; the other was never used.
    assert_eq!(mine.matches("last used never").count(), 1, "{mine}");
    assert!(mine.contains("expires never"));
    // Newest first: t2 then t1.
    let ids = token_ids(&app, "wangbb@cmgos.example");
    let out = app.cli(&["token", "revoke", &ids[1]], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status(&app, "GET", "/api/me", &t1, None), 401, "revoked");
    assert_eq!(
        status(&app, "GET", "/api/me", &t2, None),
        200,
        "the other stays"
    );
    assert_eq!(status(&app, "GET", "/api/me", &rnd, None), 200);
    assert_eq!(
        token_ids(&app, "wangbb@cmgos.example"),
        vec![ids[0].clone()]
    );
    let out = app.cli(&["token", "revoke", &ids[1]], None);
    assert!(!out.status.success(), "no such token any more");
    let out = app.cli(&["token", "revoke", "999999"], None);
    assert!(!out.status.success());
}

#[test]
fn tokens_expire() {
    use casebook::db::schema::api_tokens;
    use diesel::prelude::*;
    let (app, _) = app();
    let t = app
        .cli_ok(
            &[
                "token",
                "create",
                "--email",
                "wangbb@cmgos.example",
                "--expires-days",
                "30",
            ],
            None,
        )
        .trim()
        .to_string();
    assert_eq!(status(&app, "GET", "/api/me", &t, None), 200);
    let listed = app.cli_ok(&["token", "list", "--email", "wangbb@cmgos.example"], None);
    let expected = (chrono::Utc::now().naive_utc() + chrono::Duration::days(30))
        .format("expires %Y-%m-%d")
        .to_string();
    assert!(listed.contains(&expected), "{listed} / {expected}");
    // Bad expiries are refused.
    for bad in ["0", "-3", "x"] {
        let out = app.cli(
            &[
                "token",
                "create",
                "--email",
                "wangbb@cmgos.example",
                "--expires-days",
                bad,
            ],
            None,
        );
        assert!(!out.status.success(), "--expires-days {bad}");
    }
    // Time passes: the expiry is moved into the past in the database.
    let url = app.database_url.clone().unwrap_or_else(|| {
        app.data_dir()
            .join("casebook.sqlite3")
            .display()
            .to_string()
    });
    let mut c = casebook::db::establish(&url).expect("db");
    let past = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1);
    diesel::update(api_tokens::table.filter(api_tokens::expires_at.is_not_null()))
        .set(api_tokens::expires_at.eq(Some(past)))
        .execute(&mut c)
        .expect("update");
    assert_eq!(status(&app, "GET", "/api/me", &t, None), 401, "expired");
    let listed = app.cli_ok(&["token", "list", "--email", "wangbb@cmgos.example"], None);
    assert!(listed.contains("(expired)"), "{listed}");
}

#[test]
fn an_inbound_token_posts_mail_and_nothing_else() {
    let (app, admin) = app();
    let inbound = app
        .cli_ok(
            &[
                "token",
                "create",
                "--email",
                "wangbb@cmgos.example",
                "--scope",
                "inbound",
            ],
            None,
        )
        .trim()
        .to_string();
    let (s, v) = app.api("POST", "/api/mail/inbound", Some(&inbound), Some(MAIL));
    assert_eq!(s, 200, "{v}");
    let number = v["case_number"].as_str().expect("case").to_string();
    // Everywhere else: 403, even where the owner's role would be allowed.
    for (method, path, body) in [
        ("GET", "/api/me".to_string(), None),
        ("GET", "/api/cases".to_string(), None),
        ("GET", format!("/api/cases/{number}"), None),
        ("GET", "/api/search?q=printer".to_string(), None),
        (
            "POST",
            format!("/api/cases/{number}/notes"),
            Some(&br#"{"body":"x"}"#[..]),
        ),
        (
            "POST",
            format!("/api/cases/{number}/replies"),
            Some(&br#"{"body":"x"}"#[..]),
        ),
        (
            "POST",
            "/api/activation-records".to_string(),
            Some(&b"[]"[..]),
        ),
    ] {
        let (s, v) = app.api(method, &path, Some(&inbound), body);
        assert_eq!(s, 403, "{method} {path}: {v}");
    }
    let notes = app.api_get(&format!("/api/cases/{number}"), &admin);
    assert!(!notes.to_string().contains("\"x\""), "nothing written");
    // A full token of a non-admin is still refused on inbound; an admin's works.
    let support = app.token("wangbb@cmgos.example");
    assert_eq!(
        status(&app, "POST", "/api/mail/inbound", &support, Some(MAIL)),
        403
    );
    assert_eq!(
        status(&app, "POST", "/api/mail/inbound", &admin, Some(MAIL)),
        200
    );
    // The MTA pipe: casebook mailgate with the inbound token.
    let file = app.dir.path().join("inbound.token");
    std::fs::write(&file, &inbound).expect("token file");
    let out = app.cli(
        &[
            "mailgate",
            "--url",
            &app.url("/api/mail/inbound"),
            "--token-file",
            file.to_str().expect("path"),
        ],
        Some(b"From: other@example.org\r\nSubject: second\r\nMessage-ID: <t2@example.org>\r\n\r\nhi\r\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.api_get("/api/cases", &admin)["total"], 2);
    let listed = app.cli_ok(&["token", "list", "--email", "wangbb@cmgos.example"], None);
    assert!(listed.contains("\tinbound\t"), "{listed}");
    let out = app.cli(
        &[
            "token",
            "create",
            "--email",
            "wangbb@cmgos.example",
            "--scope",
            "root",
        ],
        None,
    );
    assert!(!out.status.success());
}

#[test]
fn a_new_password_or_disabling_revokes_the_tokens() {
    let (app, admin_token) = app();
    let support = app.token("wangbb@cmgos.example");
    let rnd = app.token("liuyu@cmgos.example");
    // The admin resets Wang's password in the browser.
    let admin = app.browser();
    assert_eq!(admin.login("admin@casebook.example", PASSWORD).status, 303);
    let id = user_id(&admin, "Wang Binbin");
    let csrf = admin.csrf(&format!("/admin/users/{id}"));
    let r = admin.post(
        &format!("/admin/users/{id}/password"),
        &[("password", "New-Password-1"), ("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(status(&app, "GET", "/api/me", &support, None), 401);
    assert_eq!(
        status(&app, "GET", "/api/me", &rnd, None),
        200,
        "others keep theirs"
    );
    assert!(token_ids(&app, "wangbb@cmgos.example").is_empty());
    // `user passwd` on the command line.
    let out = app.cli(
        &["user", "passwd", "--email", "liuyu@cmgos.example"],
        Some(b"Another-Password-2\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status(&app, "GET", "/api/me", &rnd, None), 401);
    // Disabling revokes; enabling again does not bring the token back.
    let support = app.token("wangbb@cmgos.example");
    assert_eq!(status(&app, "GET", "/api/me", &support, None), 200);
    for disabled in ["true", "false"] {
        let r = admin.post(
            &format!("/admin/users/{id}/disabled"),
            &[("disabled", disabled), ("csrf_token", &csrf)],
        );
        assert_eq!(r.status, 303);
    }
    assert_eq!(status(&app, "GET", "/api/me", &support, None), 401);
    assert_eq!(status(&app, "GET", "/api/me", &admin_token, None), 200);
    // Logging out of the browser ends the session, not the API tokens (they are not sessions).
    let csrf = admin.csrf("/cases");
    assert_eq!(admin.post("/logout", &[("csrf_token", &csrf)]).status, 303);
    assert_eq!(status(&app, "GET", "/api/me", &admin_token, None), 200);
}

#[test]
fn the_admin_page_lists_and_revokes_tokens() {
    let (app, admin_token) = app();
    let support = app.token("wangbb@cmgos.example");
    let _inbound = app.cli_ok(
        &[
            "token",
            "create",
            "--email",
            "liuyu@cmgos.example",
            "--scope",
            "inbound",
            "--expires-days",
            "7",
        ],
        None,
    );
    let admin = app.browser();
    admin.login("admin@casebook.example", PASSWORD);
    let page = admin.get("/admin/tokens");
    assert_eq!(page.status, 200);
    for s in ["Wang Binbin", "Liu Yu", "Admin", "wangbb@cmgos.example"] {
        assert!(page.body.contains(s), "{s}: {}", page.body);
    }
    assert!(!page.body.contains(&support) && !page.body.contains(&admin_token));
    assert_eq!(
        page.body.matches("action=\"/admin/tokens/revoke\"").count(),
        3
    );
    assert!(admin
        .get("/admin/users")
        .body
        .contains("href=\"/admin/tokens\""));
    let id = token_ids(&app, "wangbb@cmgos.example")[0].clone();
    // Without the CSRF token: refused, nothing revoked.
    let r = admin.post(
        "/admin/tokens/revoke",
        &[("id", &id), ("csrf_token", "deadbeef")],
    );
    assert_eq!(r.status, 403);
    assert_eq!(status(&app, "GET", "/api/me", &support, None), 200);
    // Another role: refused.
    let rnd = app.browser();
    rnd.login("liuyu@cmgos.example", PASSWORD);
    assert_eq!(rnd.get("/admin/tokens").status, 403);
    let csrf = rnd.csrf("/cases");
    let r = rnd.post(
        "/admin/tokens/revoke",
        &[("id", &id), ("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 403);
    assert_eq!(status(&app, "GET", "/api/me", &support, None), 200);
    // The admin revokes it.
    let csrf = admin.csrf("/admin/tokens");
    let r = admin.post(
        "/admin/tokens/revoke",
        &[("id", &id), ("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location.as_deref(),
        Some("/admin/tokens?done=token_revoked")
    );
    assert_eq!(status(&app, "GET", "/api/me", &support, None), 401);
    let page = admin.get("/admin/tokens?done=token_revoked");
    assert_eq!(
        page.body.matches("action=\"/admin/tokens/revoke\"").count(),
        2
    );
    let r = admin.post(
        "/admin/tokens/revoke",
        &[("id", &id), ("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 404, "already revoked");
    let r = admin.post("/admin/tokens/revoke", &[("csrf_token", &csrf)]);
    assert_eq!(r.status, 400, "no id");
}
