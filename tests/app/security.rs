//! Hostile input over HTTP: script in mail and file names, oversized bodies, traversal,
//! SQL metacharacters.

use crate::helpers::{TestApp, PASSWORD};

#[test]
fn scripts_in_mail_subjects_bodies_and_file_names_stay_inert() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let raw = "From: \"<b>Evil</b>\" <evil@x.example>\r\nSubject: <script>alert(1)</script> help\r\nMessage-ID: <xss@x.example>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<p>Hi</p><img src=x onerror=\"alert(2)\"><script>steal()</script><a href=\"javascript:alert(3)\">x</a>\r\n\
--b\r\nContent-Type: text/plain; name=\"<svg onload=alert(4)>.txt\"\r\nContent-Disposition: attachment; filename=\"<svg onload=alert(4)>.txt\"\r\n\r\nlog\r\n--b--\r\n";
    let (s, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&token),
        Some(raw.as_bytes()),
    );
    assert_eq!(s, 200, "{v}");
    let number = v["case_number"].as_str().expect("number").to_string();
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    for path in [
        format!("/cases/{number}"),
        "/cases".to_string(),
        "/cases?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_string(),
    ] {
        let page = b.get(&path);
        assert_eq!(page.status, 200, "{path}");
        for bad in [
            "<script>alert(1)",
            "<script>steal",
            "onerror=\"alert",
            "<svg onload",
            "<b>Evil</b>",
            "href=\"javascript:",
        ] {
            assert!(!page.body.contains(bad), "{path} contains {bad}");
        }
        let csp = page.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
    }
    let page = b.get(&format!("/cases/{number}"));
    assert!(
        page.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "the subject shown as text: {}",
        page.body
    );
}

#[test]
fn oversized_messages_and_uploads_are_refused() {
    let app = TestApp::with_args(&["--max-message-mb", "1"]);
    let token = app.seed_staff();
    let app = app.start();
    let mut big = b"From: a@b.example\r\nSubject: big\r\n\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    let (s, _) = app.api("POST", "/api/mail/inbound", Some(&token), Some(&big));
    assert_eq!(s, 413);
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let csrf = b.csrf("/ingest");
    let r = b.post_multipart(
        "/ingest",
        &[("csrf_token", &csrf)],
        &[("files", "big.eml", &big)],
    );
    assert_eq!(r.status, 413);
    assert_eq!(
        app.api_get("/api/cases", &token)["total"],
        0,
        "nothing half-ingested"
    );
}

#[test]
fn downloads_cannot_escape_their_case_or_the_store() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let with_att = "From: a@b.example\r\nSubject: one\r\nMessage-ID: <a1@b.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"../../../../etc/passwd\"\r\n\r\nsecret\r\n--b--\r\n";
    let (_, one) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&token),
        Some(with_att.as_bytes()),
    );
    let (_, two) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&token),
        Some(b"From: c@d.example\r\nSubject: two\r\nMessage-ID: <c1@d.example>\r\n\r\nhello\r\n"),
    );
    let case_one = app.api_get(
        &format!("/api/cases/{}", one["case_number"].as_str().expect("n")),
        &token,
    );
    assert_eq!(
        case_one["attachments"][0]["filename"], "passwd",
        "directories stripped from file names"
    );
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let page = b.get(&format!(
        "/cases/{}",
        one["case_number"].as_str().expect("n")
    ));
    let id = regex::Regex::new(r#"/attachments/(\d+)""#)
        .expect("re")
        .captures(&page.body)
        .expect("link")[1]
        .to_string();
    let ok = b.get(&format!(
        "/cases/{}/attachments/{id}",
        one["case_number"].as_str().expect("n")
    ));
    assert_eq!(ok.status, 200);
    assert!(ok
        .header("content-disposition")
        .is_some_and(|v| v.starts_with("attachment")));
    assert_eq!(ok.header("content-type"), Some("application/octet-stream"));
    // The same attachment id through another case: not found.
    assert_eq!(
        b.get(&format!(
            "/cases/{}/attachments/{id}",
            two["case_number"].as_str().expect("n")
        ))
        .status,
        404
    );
    // Sent as written (an HTTP client would resolve the dots before sending): only the
    // two named static files exist, so anything else under /static is not found.
    for path in [
        "/static/..%2FCargo.toml",
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/..%5CCargo.toml",
        "/static/app.css%00.js",
        "/static/../../../../etc/passwd",
    ] {
        assert_eq!(app.raw_get(path), 404, "{path}");
    }
    assert_eq!(app.raw_get("/static/app.css"), 200, "the file itself");
}

#[test]
fn sql_metacharacters_in_every_filter_are_just_text() {
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
    let nasty = [
        "'; DROP TABLE cases; --",
        "\" OR \"1\"=\"1",
        "%",
        "_",
        "\\",
        "' UNION SELECT password_hash FROM users --",
    ];
    for n in nasty {
        let enc: String = n.bytes().map(|b| format!("%{b:02X}")).collect();
        for field in ["q", "customer", "oem"] {
            let (s, v) = app.api(
                "GET",
                &format!("/api/cases?{field}={enc}"),
                Some(&token),
                None,
            );
            assert_eq!(s, 200, "{field}={n}: {v}");
            // Matched literally: no case holds any of these (the seed's subject shows
            // without its `% … %` markers), so a wildcard would be the only way to a hit.
            assert_eq!(v["total"].as_i64(), Some(0), "{field}={n}");
        }
        let (s, _) = app.api("GET", &format!("/api/cases?code={enc}"), Some(&token), None);
        assert_eq!(s, 400, "not an error code");
    }
    assert_eq!(
        app.api_get("/api/cases", &token)["total"],
        1,
        "the table is still there"
    );
    let hits = app.api_get("/api/cases?customer=%E4%B8%AD%E9%93%B6", &token);
    assert_eq!(hits["total"], 1, "a real customer filter still works");
}

/// Security issue 14, finding 3: secrets in a subject and a body, and in what staff
/// type into scope, escalation and closure, show nowhere: not on the queue, the case
/// page, `/api/cases/{n}` or in search results.
#[test]
fn secrets_in_subjects_bodies_and_staff_text_stay_masked() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let secrets = [
        "Subj3ctPw",
        "VK7JG-NPHTM",
        "Bodyp4ss",
        "ma 018",
        "hunter2",
        "Sup3rQuery",
        "dXNlcjpwYXNzd29yZA",
        "eyJhbGciOiJIUzI1NiJ9",
        "Kouling9",
        "userma",
        "Paren77",
        "ScopeSecret1",
        "HelpSecret2",
        "CloseSecret3",
        "vk7jgnphtm",
    ];
    let body = "zebrafish activation fails\n\
密码 Bodyp4ss\n\
Password: \"ma 018\"\n\
clickpassword: hunter2\n\
portal https://portal.example.com/login?user=ma&pass=Sup3rQuery\n\
Authorization: Basic dXNlcjpwYXNzd29yZA==\n\
token Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln\n\
口令是 Kouling9\n\
用户名 userma\n\
密码（Paren77）\n\
key vk7jgnphtmc97jm9mpgt3v66t\n\
please reset your password via the portal, error 0xC004F074";
    let raw = crate::helpers::mail(
        &[
            ("From", "Ma <ma@bank.example>"),
            ("To", "support@cmgos.example"),
            (
                "Subject",
                "zebrafish: my password: Subj3ctPw key VK7JG-NPHTM-C97JM-9MPGT-3V66T",
            ),
            ("Message-ID", "<secret-1@bank.example>"),
            ("Date", "Mon, 03 Jun 2024 10:00:00 +0800"),
        ],
        body,
    );
    let (s, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&token),
        Some(raw.as_slice()),
    );
    assert_eq!(s, 200, "{v}");
    let number = v["case_number"].as_str().expect("number").to_string();

    // What staff type is masked when stored, like notes.
    let support = app.token("wangbb@cmgos.example");
    for (path, body) in [
        (
            "scope",
            serde_json::json!({"problem_definition": "activation, 密码是ScopeSecret1", "problem_scope": "password: ScopeSecret1", "send": false}),
        ),
        (
            "escalations",
            serde_json::json!({"question": "the user's password is HelpSecret2", "help_needed": "pwd: HelpSecret2"}),
        ),
        (
            "closure",
            serde_json::json!({"problem_definition": "activation", "resolution": "reset, new password CloseSecret3", "root_cause": "密码：CloseSecret3", "send": false}),
        ),
    ] {
        let (s, v) = app.api(
            "POST",
            &format!("/api/cases/{number}/{path}"),
            Some(&support),
            Some(body.to_string().as_bytes()),
        );
        assert!(s < 300, "{path}: {s} {v}");
    }

    let api = app
        .api_get(&format!("/api/cases/{number}"), &token)
        .to_string();
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let queue = b.get("/cases");
    let page = b.get(&format!("/cases/{number}"));
    assert_eq!((queue.status, page.status), (200, 200));
    assert!(
        page.body.contains("zebrafish") && page.body.contains("0xC004F074"),
        "the rest stays readable"
    );
    assert!(
        page.body.contains("reset your password via the portal"),
        "prose about passwords stays"
    );
    assert!(api.contains("3V66T"), "a key's last group stays: {api}");
    // Search: the index holds the masked texts (the indexer may run in the background).
    let mut search = String::new();
    for _ in 0..50 {
        search = app.api_get("/api/search?q=zebrafish", &token).to_string();
        if search.contains(&number) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(search.contains(&number), "{search}");
    let by_secret = app.api_get("/api/search?q=Subj3ctPw", &token).to_string();
    for (what, text) in [
        ("queue", &queue.body),
        ("case page", &page.body),
        ("API", &api),
        ("search", &search),
        ("search for the secret", &by_secret),
    ] {
        for secret in secrets {
            assert!(
                !text.to_lowercase().contains(&secret.to_lowercase()),
                "{what} shows {secret}:\n{text}"
            );
        }
    }
}

/// A status and headers of a form POST sent with an `Origin` header of our choosing.
fn post_with_origin(
    b: &crate::helpers::Browser,
    path: &str,
    origin: &str,
    fields: &[(&str, &str)],
) -> u16 {
    match b
        .agent
        .post(&format!("{}{path}", b.base))
        .set("Origin", origin)
        .send_form(fields)
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("POST {path}: {e}"),
    }
}

/// Issue 14, finding 7: `POST /lang` goes back only to a path on this site.
#[test]
fn the_language_switch_redirects_only_to_paths_on_this_site() {
    let app = TestApp::new();
    app.seed_staff();
    let app = app.start();
    let b = app.browser();
    let csrf = b.csrf("/login");
    for back in [
        "/\\evil.example",
        "//evil.example",
        "/%5Cevil.example",
        "/%5cevil.example",
        "/%2F%2Fevil.example",
        "/\t/evil.example",
        "https://evil.example/",
        "\\\\evil.example",
    ] {
        let r = b.post(
            "/lang",
            &[("lang", "en"), ("back", back), ("csrf_token", &csrf)],
        );
        assert_eq!(r.status, 303, "{back:?}");
        assert_eq!(r.location.as_deref(), Some("/"), "{back:?}");
    }
    let r = b.post(
        "/lang",
        &[
            ("lang", "en"),
            ("back", "/search?q=a%20b"),
            ("csrf_token", &csrf),
        ],
    );
    assert_eq!(r.location.as_deref(), Some("/search?q=a%20b"));
}

/// Issue 14, finding 7: nothing signed-in is cached; the stylesheet is.
#[test]
fn case_pages_attachments_and_the_api_are_not_cached() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let raw = "From: a@b.example\r\nSubject: cache\r\nMessage-ID: <cache@b.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"note.txt\"\r\n\r\nsecret\r\n--b--\r\n";
    let (_, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&token),
        Some(raw.as_bytes()),
    );
    let number = v["case_number"].as_str().expect("number").to_string();
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let page = b.get(&format!("/cases/{number}"));
    assert_eq!(page.status, 200);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let id = regex::Regex::new(r#"/attachments/(\d+)""#)
        .expect("re")
        .captures(&page.body)
        .expect("link")[1]
        .to_string();
    let att = b.get(&format!("/cases/{number}/attachments/{id}"));
    assert_eq!(att.status, 200);
    assert_eq!(att.header("cache-control"), Some("no-store"));
    for path in ["/cases", "/search?q=x", "/login"] {
        assert_eq!(
            b.get(path).header("cache-control"),
            Some("no-store"),
            "{path}"
        );
    }
    let api = ureq::get(&app.url("/api/cases"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("api");
    assert_eq!(api.header("cache-control"), Some("no-store"));
    let css = b.get("/static/app.css");
    assert_eq!(css.status, 200);
    let cc = css.header("cache-control").unwrap_or("");
    assert!(!cc.contains("no-store") && cc.contains("public"), "{cc}");
}

/// Issue 14, finding 7: a right-to-left override in an attachment name cannot make
/// `invoice<U+202E>fdp.exe` read as `invoiceexe.pdf`, on the page or in the download.
#[test]
fn bidi_controls_leave_attachment_names() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let raw = "From: a@b.example\r\nSubject: bidi\r\nMessage-ID: <bidi@b.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=UTF-8''invoice%E2%80%AEfdp.exe\r\n\r\nMZ\r\n--b--\r\n";
    let (s, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&token),
        Some(raw.as_bytes()),
    );
    assert_eq!(s, 200, "{v}");
    let number = v["case_number"].as_str().expect("number").to_string();
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let page = b.get(&format!("/cases/{number}"));
    assert_eq!(page.status, 200);
    assert!(!page.body.contains('\u{202E}'), "U+202E on the case page");
    assert!(page.body.contains("invoicefdp.exe"), "{}", page.body);
    let id = regex::Regex::new(r#"/attachments/(\d+)""#)
        .expect("re")
        .captures(&page.body)
        .expect("link")[1]
        .to_string();
    let att = b.get(&format!("/cases/{number}/attachments/{id}"));
    assert_eq!(att.status, 200);
    let cd = att.header("content-disposition").unwrap_or("").to_string();
    assert!(cd.starts_with("attachment"), "{cd}");
    assert!(
        !cd.contains('\u{202E}') && !cd.to_ascii_uppercase().contains("%E2%80%AE"),
        "{cd}"
    );
    let api = app.api_get(&format!("/api/cases/{number}"), &token);
    assert_eq!(api["attachments"][0]["filename"], "invoicefdp.exe", "{api}");
}

/// Issue 14, finding 7: a 200 KB subject is cut for display (queue, case, API); the
/// raw mail keeps all of it.
#[test]
fn a_huge_subject_is_capped_for_display_and_kept_raw() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let subject = format!("Huge {}", "x".repeat(200 * 1024));
    let raw = format!(
        "From: a@b.example\r\nSubject: {subject}\r\nMessage-ID: <huge@b.example>\r\n\r\nbody\r\n"
    );
    let (s, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&token),
        Some(raw.as_bytes()),
    );
    assert_eq!(s, 200, "{v}");
    let number = v["case_number"].as_str().expect("number").to_string();
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    let shown = case["subject"].as_str().expect("subject");
    assert!(shown.starts_with("Huge xxx"), "{shown:.40}");
    assert!(shown.chars().count() <= 1001, "{}", shown.chars().count());
    let msg_subject = case["messages"][0]["subject"].as_str().unwrap_or("");
    assert!(msg_subject.chars().count() <= 1001, "{}", msg_subject.len());
    let b = app.browser();
    b.login("admin@casebook.example", PASSWORD);
    let queue = b.get("/cases");
    assert_eq!(queue.status, 200);
    assert!(
        queue.body.len() < 100 * 1024,
        "queue is {} bytes",
        queue.body.len()
    );
    // The raw mail (the only one in this fresh store), for the admin, has all of it.
    let r = b.get("/admin/raw/1");
    assert_eq!(r.status, 200);
    assert!(r.body.contains(&subject), "the raw mail keeps the subject");
}

/// Issue 14, finding 7: one reply goes to at most 50 addresses.
#[test]
fn a_reply_to_sixty_addresses_is_refused() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let (_, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&token),
        Some(
            b"From: c@d.example\r\nSubject: many\r\nMessage-ID: <many@d.example>\r\n\r\nhello\r\n",
        ),
    );
    let number = v["case_number"].as_str().expect("number").to_string();
    let many: Vec<String> = (0..60).map(|i| format!("r{i}@d.example")).collect();
    let body = serde_json::json!({"body": "hi all", "to": many.join(", ")}).to_string();
    let (s, v) = app.api(
        "POST",
        &format!("/api/cases/{number}/replies"),
        Some(&token),
        Some(body.as_bytes()),
    );
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["key"], "workflow.too_many_recipients", "{v}");
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    assert_eq!(case["outbox"].as_array().map(Vec::len), Some(0), "{case}");
    // The page form says so too.
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let csrf = b.csrf(&format!("/cases/{number}"));
    let r = b.post(
        &format!("/cases/{number}/reply"),
        &[
            ("body", "hi all"),
            ("to", &many.join(", ")),
            ("csrf_token", &csrf),
        ],
    );
    assert_eq!(r.status, 400);
    assert!(r.body.contains("50"), "{}", r.body);
    // Fifty is fine.
    let body = serde_json::json!({"body": "hi", "to": many[..50].join(", ")}).to_string();
    let (s, v) = app.api(
        "POST",
        &format!("/api/cases/{number}/replies"),
        Some(&token),
        Some(body.as_bytes()),
    );
    assert!(s < 300, "{s} {v}");
}

/// Issue 14, finding 7: a form posted from another site is refused even with a valid
/// token (the `Origin` must be ours when the browser sends one); the CSRF seed is new
/// after login.
#[test]
fn cross_origin_posts_are_refused_and_the_csrf_seed_rotates_at_login() {
    let app = TestApp::new();
    app.seed_staff();
    let app = app.start();
    let b = app.browser();
    b.csrf("/login");
    let before = b.cookie("cb_csrf").expect("csrf cookie before login");
    let r = b.login("wangbb@cmgos.example", PASSWORD);
    assert_eq!(r.status, 303);
    let after = b.cookie("cb_csrf").expect("csrf cookie after login");
    assert_ne!(before, after, "the CSRF seed changes at login");
    let csrf = b.csrf("/cases");
    for origin in [
        "https://evil.example",
        "null",
        "http://127.0.0.1.evil.example",
    ] {
        let s = post_with_origin(
            &b,
            "/lang",
            origin,
            &[("lang", "en"), ("back", "/cases"), ("csrf_token", &csrf)],
        );
        assert_eq!(s, 403, "{origin}");
    }
    let own = app.base.clone();
    let s = post_with_origin(
        &b,
        "/lang",
        &own,
        &[("lang", "en"), ("back", "/cases"), ("csrf_token", &csrf)],
    );
    assert_eq!(s, 303, "our own origin");
    // Without Origin (an older browser): the token decides, as before.
    let r = b.post(
        "/lang",
        &[("lang", "zh"), ("back", "/cases"), ("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 303);
}

/// POSTs a form with exactly these cookies (no cookie store), for mixing the cookies
/// and tokens of different sessions.
fn post_with_cookies(app: &TestApp, path: &str, cookies: &str, fields: &[(&str, &str)]) -> u16 {
    match ureq::AgentBuilder::new()
        .redirects(0)
        .build()
        .post(&app.url(path))
        .set("Cookie", cookies)
        .send_form(fields)
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("POST {path}: {e}"),
    }
}

/// Issue 14, finding 7: the CSRF token is bound to the session. A token from an
/// anonymous page is refused after login even with the same CSRF cookie, and a token
/// from user A's session is refused in user B's session; anonymous forms still work.
#[test]
fn csrf_tokens_are_bound_to_the_session() {
    let app = TestApp::new();
    app.seed_staff();
    let app = app.start();
    let lang = |token: &str| {
        vec![
            ("lang".to_string(), "en".to_string()),
            ("back".to_string(), "/cases".to_string()),
            ("csrf_token".to_string(), token.to_string()),
        ]
    };
    let post = |cookies: &str, token: &str| {
        let f = lang(token);
        let fields: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        post_with_cookies(&app, "/lang", cookies, &fields)
    };

    // Anonymous: the login page's token works for an anonymous form.
    let a = app.browser();
    let anon_token = a.csrf("/login");
    let anon_seed = a.cookie("cb_csrf").expect("seed");
    assert_eq!(post(&format!("cb_csrf={anon_seed}"), &anon_token), 303);
    assert_eq!(a.login("wangbb@cmgos.example", PASSWORD).status, 303);
    let a_session = a.cookie("cb_session").expect("session");
    let a_seed = a.cookie("cb_csrf").expect("seed after login");
    let a_token = a.csrf("/cases");
    assert_eq!(
        post(
            &format!("cb_csrf={a_seed}; cb_session={a_session}"),
            &a_token
        ),
        303,
        "A's own token in A's session"
    );
    // The anonymous token with the anonymous seed, now in a signed-in session.
    assert_eq!(
        post(
            &format!("cb_csrf={anon_seed}; cb_session={a_session}"),
            &anon_token
        ),
        403,
        "a token from before login"
    );

    // User B: A's seed and token in B's session are refused.
    let b = app.browser();
    assert_eq!(b.login("admin@casebook.example", PASSWORD).status, 303);
    let b_session = b.cookie("cb_session").expect("session B");
    assert_eq!(
        post(
            &format!("cb_csrf={a_seed}; cb_session={b_session}"),
            &a_token
        ),
        403,
        "A's token in B's session"
    );
    // And A's token without any session (a signed-out browser) is refused too.
    assert_eq!(post(&format!("cb_csrf={a_seed}"), &a_token), 403);
    // The login form itself keeps working for a fresh browser.
    let c = app.browser();
    assert_eq!(c.login("liuyu@cmgos.example", PASSWORD).status, 303);
}

/// Issue 14, finding 7: a session unused longer than `--session-idle-minutes` ends; a
/// session in use is renewed (its cookie carries the last-seen time) and stays.
#[test]
fn idle_sessions_end() {
    use std::time::Duration;
    // 0.1 minutes: six seconds.
    let app = TestApp::with_args(&["--session-idle-minutes", "0.1"]);
    app.seed_staff();
    let app = app.start();
    let b = app.browser();
    assert_eq!(b.login("wangbb@cmgos.example", PASSWORD).status, 303);
    let first = b.cookie("cb_session").expect("session");
    assert_eq!(b.get("/cases").status, 200);
    // In use every two seconds for eight seconds: longer than the limit, never idle.
    for _ in 0..4 {
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(b.get("/cases").status, 200, "a session in use stays");
    }
    assert_ne!(
        b.cookie("cb_session").expect("session"),
        first,
        "the cookie was renewed"
    );
    // Unused for longer than the limit: signed out.
    std::thread::sleep(Duration::from_millis(7500));
    let r = b.get("/cases");
    assert_eq!(r.status, 303);
    assert_eq!(r.location.as_deref(), Some("/login"));
}

/// The options of the `<select id="assignee">` on a page.
fn assignee_options(body: &str) -> String {
    let start = body
        .find(r#"<select id="assignee""#)
        .expect("assignee select");
    let end = body[start..].find("</select>").expect("end of select") + start;
    body[start..end].to_string()
}

/// Issue 14, finding 7: the case page offers only assignable users (support and admin);
/// the queue's assignee filter lists them and anyone else still holding cases, never R&D
/// or managers who hold none.
#[test]
fn assignee_lists_show_only_who_can_hold_cases() {
    let app = TestApp::new();
    let token = app.seed_staff();
    app.add_user("boss@cmgos.example", "Boss", "manager", &[]);
    let app = app.start();
    let raw = crate::helpers::mail(
        &[
            ("From", "Customer <c@customer.example>"),
            ("To", "support@cmgos.example"),
            ("Subject", "Activation fails"),
            ("Message-ID", "<assignees@customer.example>"),
        ],
        "Hello",
    );
    let (s, v) = app.api("POST", "/api/mail/inbound", Some(&token), Some(&raw));
    assert_eq!(s, 200, "{v}");
    let number = v["case_number"].as_str().expect("number").to_string();
    let b = app.browser();
    assert_eq!(b.login("wangbb@cmgos.example", PASSWORD).status, 303);
    let case = assignee_options(&b.get(&format!("/cases/{number}")).body);
    let queue = assignee_options(&b.get("/cases").body);
    for list in [&case, &queue] {
        assert!(
            list.contains("Wang Binbin") && list.contains("Admin"),
            "{list}"
        );
        assert!(!list.contains("Liu Yu") && !list.contains("Boss"), "{list}");
    }
}

/// Issue 14, finding 7 (decided): managers may write internal notes (oversight comments,
/// never mailed), as the README's roles table says; they cannot reply or change a case.
#[test]
fn managers_write_internal_notes_but_do_not_work_cases() {
    let app = TestApp::new();
    let token = app.seed_staff();
    app.add_user("boss@cmgos.example", "Boss", "manager", &[]);
    let app = app.start();
    let raw = crate::helpers::mail(
        &[
            ("From", "Customer <c@customer.example>"),
            ("To", "support@cmgos.example"),
            ("Subject", "Activation fails"),
            ("Message-ID", "<manager-note@customer.example>"),
        ],
        "Hello",
    );
    let (s, v) = app.api("POST", "/api/mail/inbound", Some(&token), Some(&raw));
    assert_eq!(s, 200, "{v}");
    let number = v["case_number"].as_str().expect("number").to_string();
    let boss = app.token("boss@cmgos.example");
    let (s, v) = app.api(
        "POST",
        &format!("/api/cases/{number}/notes"),
        Some(&boss),
        Some(br#"{"body_text": "please prioritise"}"#),
    );
    assert!(s < 300, "{s} {v}");
    let (s, _) = app.api(
        "POST",
        &format!("/api/cases/{number}/replies"),
        Some(&boss),
        Some(br#"{"body_text": "hi"}"#),
    );
    assert_eq!(s, 403);
    let (s, _) = app.api(
        "POST",
        &format!("/api/cases/{number}/status"),
        Some(&boss),
        Some(br#"{"status": "closed"}"#),
    );
    assert_eq!(s, 403);
}
