//! Nothing lost: backups under load, SIGKILL during bulk ingest, roles on every route.

use crate::helpers::{csrf_in, mail, TestApp, BIN, PASSWORD};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn msg(i: usize) -> Vec<u8> {
    let thread = i / 3;
    let mut h = vec![
        ("From".to_string(), format!("c{thread}@load.example")),
        ("Subject".to_string(), format!("load test {thread}")),
        ("Message-ID".to_string(), format!("<m{i}@load.example>")),
    ];
    if !i.is_multiple_of(3) {
        h.push((
            "In-Reply-To".to_string(),
            format!("<m{}@load.example>", i - 1),
        ));
    }
    let hs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    mail(&hs, &format!("message {i} error 0xC004F074"))
}

#[test]
fn backup_under_load_restores_every_case_and_file() {
    if std::env::var("CASEBOOK_TEST_PG_URL").is_ok() {
        eprintln!("SKIP: casebook backup covers SQLite; PostgreSQL uses pg_dump");
        return;
    }
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = Arc::new(app.start());
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (app, token, stop) = (app.clone(), token.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let (s, _) = app.api("POST", "/api/mail/inbound", Some(&token), Some(&msg(i)));
                assert_eq!(s, 200);
                i += 1;
            }
            i
        })
    };
    std::thread::sleep(Duration::from_millis(800));
    let dest = app.dir.path().join("backup");
    let out = app.cli(&["backup", dest.to_str().expect("path")], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().expect("writer");
    assert!(
        written > 5,
        "the server took writes during the backup ({written})"
    );
    // Restore into a fresh data dir and serve from it.
    let restored = TestApp::new();
    let out = restored.cli(&["restore", dest.to_str().expect("path")], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored = restored.start();
    let list = restored.api_get("/api/cases?per_page=200", &token);
    let total = list["total"].as_i64().unwrap_or(0);
    assert!(total > 0, "cases in the backup");
    for c in list["cases"].as_array().expect("cases") {
        let k = restored.api_get(
            &format!("/api/cases/{}", c["number"].as_str().expect("number")),
            &token,
        );
        assert!(
            !k["messages"].as_array().expect("messages").is_empty(),
            "no half-made case"
        );
    }
    // Every raw message of the backup is readable (admin download).
    let b = restored.browser();
    b.login("admin@casebook.example", PASSWORD);
    assert_eq!(b.get("/admin/raw/1").status, 200);
}

#[test]
fn sigkill_during_bulk_ingest_leaves_no_half_case_and_rerun_completes() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let dir = app.dir.path().join("bulk");
    std::fs::create_dir_all(&dir).expect("dir");
    let n = 3000;
    for i in 0..n {
        std::fs::write(dir.join(format!("{i:05}.eml")), msg(i)).expect("write");
    }
    let mut args = app.global_args();
    args.extend([
        "ingest".to_string(),
        "--json".to_string(),
        "--batch".to_string(),
        "1000".to_string(),
        dir.display().to_string(),
    ]);
    let mut child = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ingest");
    // Kill once the first batch is committed (lines are printed only after commit).
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = std::io::BufReader::new(stdout);
    let mut first = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    std::io::BufRead::read_line(&mut reader, &mut first).expect("read");
    assert!(
        !first.is_empty() && Instant::now() < deadline,
        "ingest printed nothing"
    );
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let app = app.start();
    let list = app.api_get("/api/cases?per_page=200", &token);
    let cases_after_kill = list["total"].as_i64().unwrap_or(0);
    assert!(
        cases_after_kill < (n / 3) as i64,
        "killed before the end ({cases_after_kill})"
    );
    for c in list["cases"].as_array().expect("cases") {
        let k = app.api_get(
            &format!("/api/cases/{}", c["number"].as_str().expect("number")),
            &token,
        );
        assert!(
            !k["messages"].as_array().expect("messages").is_empty(),
            "no half-made case"
        );
    }
    // Re-running completes the rest; what was committed is skipped as duplicates.
    let out = app.cli_ok(&["ingest", "--json", &dir.display().to_string()], None);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), n);
    // What was reported before the kill was committed: it is a duplicate now. (The
    // first commit holds a whole batch on SQLite; on PostgreSQL each of the two
    // writers also commits whenever its inputs run short, so it may hold fewer.)
    let first: serde_json::Value = serde_json::from_str(&first).expect("json");
    let again = lines
        .iter()
        .find(|l| l["source"] == first["source"])
        .expect("the first message again");
    assert_eq!(again["outcome"], "duplicate", "{again}");
    let dups = lines.iter().filter(|l| l["outcome"] == "duplicate").count();
    assert!(dups >= 1, "the committed batch is recognised ({dups})");
    if !app.on_postgres() {
        assert!(dups >= 1000, "the committed batch is recognised ({dups})");
    }
    assert_eq!(app.api_get("/api/cases", &token)["total"], (n / 3) as i64);
}

/// Every route of the route table (`casebook::web::routes`), pages and API, with
/// every role and without one: a role the table allows gets an answer (a page, a
/// redirect or a validation answer), never a refusal or a 5xx; any other role gets
/// exactly 403 (with a valid CSRF token, so the refusal is the role check's); no
/// sign-in gets the login page (pages) or 401 (API).
#[test]
fn role_checks_on_every_route() {
    use casebook::auth::Role;
    use casebook::web::routes::{self, Access};
    let app = TestApp::new();
    let token = app.seed_staff();
    app.add_user("boss@cmgos.example", "Boss", "manager", &[]);
    app.cli_ok(
        &[
            "ingest",
            &crate::helpers::fixture("seed-export.txt")
                .display()
                .to_string(),
        ],
        None,
    );
    let tokens = [
        (Role::Support, app.token("wangbb@cmgos.example")),
        (Role::Rnd, app.token("liuyu@cmgos.example")),
        (Role::Manager, app.token("boss@cmgos.example")),
        (Role::Admin, token.clone()),
    ];
    let app = app.start();
    let esc = app.api_get("/api/cases/CAS-06496-T2V9C6", &token)["escalations"][0]["id"]
        .as_i64()
        .expect("escalation");
    let fill = |path: &str| -> String {
        let id = if path.starts_with("/escalations/") || path.starts_with("/api/escalations/") {
            esc.to_string()
        } else if path.starts_with("/api/tokens/") {
            // Not a token in use here: revoking it would end the walk's own access.
            "999".to_string()
        } else {
            "1".to_string()
        };
        path.replace("{number}", "CAS-06496-T2V9C6")
            .replace("{code}", "0xC002001B")
            .replace(
                "{file}",
                if path.starts_with("/static") {
                    "app.css"
                } else {
                    "weekly.csv"
                },
            )
            .replace("{id}", &id)
    };
    // Sign-in and session routes change the session under test: checked elsewhere.
    let skip = ["/login", "/logout", "/lang"];
    let routes: Vec<_> = routes::all().filter(|r| !skip.contains(&r.path)).collect();
    assert!(
        routes.len() > 60,
        "the table lists every route ({})",
        routes.len()
    );
    let logins = [
        (Role::Support, "wangbb@cmgos.example"),
        (Role::Rnd, "liuyu@cmgos.example"),
        (Role::Manager, "boss@cmgos.example"),
        (Role::Admin, "admin@casebook.example"),
    ];
    let answered = |status: u16| matches!(status, 200 | 201 | 204 | 303 | 400 | 404 | 413 | 422);
    let mut checked = 0;
    for (role, email) in logins {
        let b = app.browser();
        assert_eq!(b.login(email, PASSWORD).status, 303, "{role:?} logs in");
        let csrf = csrf_in(&b.get("/cases").body).expect("csrf");
        let bearer = &tokens.iter().find(|(r, _)| *r == role).expect("token").1;
        for r in &routes {
            let path = fill(r.path);
            let status = match (r.is_api(), r.method) {
                // The event stream never ends: its answer's head says enough.
                (false, "get") if path == "/events" => b.status_only(&path),
                (false, "get") => b.get(&path).status,
                (false, _) => b.post(&path, &[("csrf_token", &csrf)]).status,
                (true, "get") => app.api("GET", &path, Some(bearer), None).0,
                (true, _) => app.api("POST", &path, Some(bearer), Some(b"{}")).0,
            };
            checked += 1;
            assert!(
                status < 500,
                "{role:?} {} {path} answered {status}",
                r.method
            );
            if r.allows(Some(role)) {
                assert!(
                    answered(status),
                    "{role:?} {} {path} answered {status}",
                    r.method
                );
            } else {
                assert_eq!(
                    status, 403,
                    "{role:?} {} {path} answered {status}",
                    r.method
                );
            }
        }
    }
    // Without a sign-in.
    let anon = app.browser();
    let csrf = csrf_in(&anon.get("/login").body).expect("csrf");
    for r in &routes {
        let path = fill(r.path);
        let status = match (r.is_api(), r.method) {
            (false, "get") if path == "/events" => anon.status_only(&path),
            (false, "get") => anon.get(&path).status,
            (false, _) => anon.post(&path, &[("csrf_token", &csrf)]).status,
            (true, "get") => app.api("GET", &path, None, None).0,
            (true, _) => app.api("POST", &path, None, Some(b"{}")).0,
        };
        checked += 1;
        assert!(
            status < 500,
            "anonymous {} {path} answered {status}",
            r.method
        );
        match (r.access, r.is_api()) {
            (Access::Public, _) => {
                assert!(answered(status), "anonymous {} {path}: {status}", r.method)
            }
            (Access::Roles(_), true) => assert_eq!(status, 401, "anonymous {} {path}", r.method),
            (Access::Roles(_), false) => assert_eq!(status, 303, "anonymous {} {path}", r.method),
        }
    }
    assert!(checked > 300, "{checked} requests");
    // The case is untouched by the refused attempts.
    assert_eq!(
        app.api_get("/api/cases/CAS-06496-T2V9C6", &token)["status"],
        "closed"
    );
}

/// Live deliveries are group-committed (one writer, one transaction per group): a
/// SIGKILL of the server in the middle of sixteen concurrent clients loses no message
/// that was answered, and the MTA's retry of everything files each message once.
#[test]
fn sigkill_during_concurrent_live_delivery_loses_no_acknowledged_message() {
    use std::sync::Mutex;
    let mut app = TestApp::new();
    let token = app.seed_staff();
    app.spawn();
    let n = 900;
    let queue: Arc<Mutex<Vec<usize>>> = Arc::new(Mutex::new((0..n).rev().collect()));
    let acked: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (queue, acked, token, base) = (
                queue.clone(),
                acked.clone(),
                token.clone(),
                app.base.clone(),
            );
            std::thread::spawn(move || loop {
                let Some(i) = queue.lock().expect("queue").pop() else {
                    break;
                };
                let resp = ureq::post(&format!("{base}/api/mail/inbound"))
                    .timeout(Duration::from_secs(30))
                    .set("Authorization", &format!("Bearer {token}"))
                    .send_bytes(&msg(i));
                match resp {
                    Ok(r) => {
                        let v: serde_json::Value = r.into_json().expect("json");
                        let number = v["case_number"].as_str().expect("case").to_string();
                        acked.lock().expect("acked").push((i, number));
                    }
                    // The server was killed: what was not answered is the MTA's to retry.
                    Err(_) => break,
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.lock().expect("acked").len() < 150 {
        assert!(Instant::now() < deadline, "deliveries too slow");
        std::thread::sleep(Duration::from_millis(5));
    }
    app.stop(); // SIGKILL
    for c in clients {
        c.join().expect("client");
    }
    let acked = acked.lock().expect("acked").clone();
    assert!(
        acked.len() < n,
        "killed before the end ({} answered)",
        acked.len()
    );
    app.spawn();
    for (i, number) in &acked {
        // A thread's replies may have arrived first and been merged since: follow it.
        let mut case = app.api_get(&format!("/api/cases/{number}?thread=all"), &token);
        while let Some(to) = case["merged_into"].as_str().map(str::to_string) {
            case = app.api_get(&format!("/api/cases/{to}?thread=all"), &token);
        }
        let ids: Vec<&str> = case["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter_map(|m| m["message_id"].as_str())
            .collect();
        assert!(
            ids.iter()
                .any(|m| m.contains(&format!("m{i}@load.example"))),
            "message {i} was answered ({number}) but is not in its case: {ids:?}"
        );
    }
    // The MTA retries everything: each message is filed once, every thread one case.
    let mut duplicates = 0;
    for i in 0..n {
        let (status, v) = app.api("POST", "/api/mail/inbound", Some(&token), Some(&msg(i)));
        assert_eq!(status, 200, "retry of message {i}: {v}");
        if v["outcome"] == "duplicate" {
            duplicates += 1;
        }
    }
    assert!(
        duplicates >= acked.len(),
        "{duplicates} duplicates for {} answered",
        acked.len()
    );
    let total = app.api_get("/api/cases?per_page=1", &token)["total"]
        .as_i64()
        .expect("total");
    assert_eq!(total as usize, n / 3, "every thread is one case");
}

/// PostgreSQL closed the server's connections (a restart, a failover, an administrator's
/// `pg_terminate_backend`): each dead connection fails one query, is found dead when it
/// comes back to the pool and is replaced, and the server serves again without a
/// restart. Connections whose queries succeed are not asked whether they live.
#[test]
fn connections_the_database_closed_are_replaced() {
    use diesel::prelude::*;
    let mut t = TestApp::new();
    let Some(url) = t.database_url.clone() else {
        eprintln!("SKIP: SQLite's connections are files, which no server closes");
        return;
    };
    t.spawn();
    let token = t.seed_staff();
    // Several connections open at once, so that the pool holds more than one.
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                for _ in 0..5 {
                    t.api_get("/api/cases", &token);
                }
            });
        }
    });
    let mut admin = diesel::PgConnection::establish(&url).expect("connect");
    #[derive(diesel::QueryableByName)]
    struct Closed {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let closed: Closed = diesel::sql_query(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .get_result(&mut admin)
    .expect("terminate");
    assert!(closed.n >= 2, "the server held {} connections", closed.n);
    let mut failed = 0;
    let mut in_a_row = 0;
    for _ in 0..100 {
        let (status, _) = t.api("GET", "/api/cases", Some(&token), None);
        if status == 200 {
            in_a_row += 1;
            if in_a_row == 20 {
                break;
            }
        } else {
            failed += 1;
            in_a_row = 0;
        }
    }
    assert_eq!(
        in_a_row,
        20,
        "still failing after {failed} failed requests:\n{}",
        t.server_log()
    );
    assert!(
        failed <= closed.n,
        "{failed} requests failed for {} closed connections",
        closed.n
    );
}
