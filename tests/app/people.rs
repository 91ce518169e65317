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
