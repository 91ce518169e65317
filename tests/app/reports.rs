//! Reports over HTTP: the seed counted right in every figure, CSV, roles.

use crate::helpers::{fixture, TestApp, PASSWORD};
use serde_json::Value;

fn seeded() -> (TestApp, String) {
    let app = TestApp::new();
    app.seed_staff();
    app.add_user("boss@cmgos.example", "Boss", "manager", &[]);
    let token = app.token("boss@cmgos.example");
    app.cli_ok(
        &[
            "ingest",
            "--json",
            &fixture("seed-export.txt").display().to_string(),
        ],
        None,
    );
    (app.start(), token)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn the_seed_in_every_figure() {
    let (app, token) = seeded();
    let r = app.api_get("/api/reports/summary?from=2022-06-01&to=2022-08-31", &token);
    assert_eq!(r["cases_opened"], 1, "{r}");
    assert_eq!(r["cases_closed"], 1, "{r}");
    assert_eq!(f(&r["first_response_minutes"]["median"]), 0.0, "{r}");
    assert_eq!(f(&r["first_response_minutes"]["p90"]), 0.0, "{r}");
    // 2022-06-24 17:39:09 → 2022-08-09 17:24:21
    assert!(
        (f(&r["resolution_hours"]["median"]) - 1103.75).abs() < 0.01,
        "{r}"
    );
    assert!(
        (f(&r["resolution_hours"]["p90"]) - 1103.75).abs() < 0.01,
        "{r}"
    );
    // 2022-06-24 17:53:09 → 2022-06-28 11:16:17
    assert_eq!(r["escalations"]["count"], 1, "{r}");
    assert!(
        (f(&r["escalations"]["answer_hours_median"]) - 89.39).abs() < 0.01,
        "{r}"
    );
    assert_eq!(f(&r["escalations"]["rate"]), 1.0, "{r}");
    let top = &r["top_error_codes"];
    assert_eq!(top.as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(
        (&top[0]["code"], &top[0]["count"], &top[0]["previous"]),
        (
            &serde_json::json!("0xC002001B"),
            &serde_json::json!(1),
            &serde_json::json!(0)
        ),
        "{r}"
    );
    assert_eq!(r["top_customers"][0]["customer"], "中银金融科技有限公司");
    assert_eq!(r["backlog"]["open"], 0);
    let weeks = r["weekly"].as_array().expect("weekly");
    let opened: Vec<&str> = weeks
        .iter()
        .filter(|w| w["opened"] == 1)
        .filter_map(|w| w["week"].as_str())
        .collect();
    let closed: Vec<&str> = weeks
        .iter()
        .filter(|w| w["closed"] == 1)
        .filter_map(|w| w["week"].as_str())
        .collect();
    assert_eq!((opened, closed), (vec!["2022-06-20"], vec!["2022-08-08"]));

    // RFC 3339 bounds: after the case opened but before the escalation.
    let r = app.api_get(
        "/api/reports/summary?from=2022-06-24T17:50:00Z&to=2022-06-25T08:00:00%2B08:00",
        &token,
    );
    assert_eq!(
        (
            r["cases_opened"].as_i64(),
            r["escalations"]["count"].as_i64()
        ),
        (Some(0), Some(1)),
        "{r}"
    );
    assert_eq!(r["backlog"]["open"], 1, "{r}");
    // July: nothing opened or closed, the case still open (and 7–30 days old at the end).
    let r = app.api_get("/api/reports/summary?from=2022-07-01&to=2022-07-31", &token);
    assert_eq!(
        (r["cases_opened"].as_i64(), r["cases_closed"].as_i64()),
        (Some(0), Some(0)),
        "{r}"
    );
    assert_eq!(r["backlog"]["open"], 1);
    assert_eq!(r["backlog"]["by_age"][4]["count"], 1, "{r}");
    // Filters.
    let base = "/api/reports/summary?from=2022-06-01&to=2022-08-31";
    assert_eq!(
        app.api_get(&format!("{base}&code=0xc002001b"), &token)["cases_opened"],
        1
    );
    assert_eq!(
        app.api_get(&format!("{base}&code=0x80070005"), &token)["cases_opened"],
        0
    );
    assert_eq!(
        app.api_get(&format!("{base}&oem=%E8%81%94%E6%83%B3"), &token)["cases_opened"],
        1
    );
    assert_eq!(
        app.api_get(&format!("{base}&customer=nobody"), &token)["cases_opened"],
        0
    );
    let (s, _) = app.api("GET", "/api/reports/summary?from=June", Some(&token), None);
    assert_eq!(s, 400);
    let (s, _) = app.api(
        "GET",
        "/api/reports/summary?from=2022-08-01&to=2022-07-01",
        Some(&token),
        None,
    );
    assert_eq!(s, 400);
}

#[test]
fn the_page_chart_and_csv() {
    let (app, _token) = seeded();
    let b = app.browser();
    b.login("boss@cmgos.example", PASSWORD);
    let page = b.get("/reports?from=2022-06-01&to=2022-08-31");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<svg") && page.body.contains("<polyline"),
        "inline SVG chart"
    );
    assert!(page.body.contains("0xC002001B") && page.body.contains("中银金融科技有限公司"));
    assert!(page.body.contains("89.39"), "answer time on the page");
    let link = regex::Regex::new(
        r#"href="/reports/customers\.csv\?from=2022-06-01&(amp;|#38;)to=2022-08-31""#,
    )
    .expect("re");
    assert!(
        link.is_match(&page.body),
        "CSV link keeps the period: {}",
        page.body
    );
    assert_eq!(b.get("/reports").status, 200, "default period");

    let csv = b.get("/reports/customers.csv?from=2022-06-01&to=2022-08-31");
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("Content-Type"), Some("text/csv; charset=utf-8"));
    assert!(csv
        .header("Content-Disposition")
        .unwrap_or("")
        .starts_with("attachment"));
    assert!(
        csv.body.starts_with('\u{FEFF}'),
        "BOM first: {:?}",
        &csv.body[..10.min(csv.body.len())]
    );
    let lines: Vec<&str> = csv.body.trim_start_matches('\u{FEFF}').lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1], "中银金融科技有限公司,1,0");
    let codes = b.get("/reports/codes.csv?from=2022-06-01&to=2022-08-31");
    assert!(codes.body.contains("0xC002001B,1,0"), "{}", codes.body);
    let summary = b.get("/reports/summary.csv?from=2022-06-01&to=2022-08-31");
    assert!(
        summary.body.contains("89.39") && summary.body.contains("1103.75"),
        "{}",
        summary.body
    );
    let weekly = b.get("/reports/weekly.csv?from=2022-06-01&to=2022-08-31");
    assert!(
        weekly.body.contains("2022-06-20,1,0,1") && weekly.body.contains("2022-08-08,0,1,0"),
        "{}",
        weekly.body
    );
    assert_eq!(b.get("/reports/nothing.csv").status, 404);
}

#[test]
fn only_managers_and_admins() {
    let (app, manager_token) = seeded();
    let rnd = app.token("liuyu@cmgos.example");
    let support = app.token("wangbb@cmgos.example");
    let admin = app.token("admin@casebook.example");
    for (t, want) in [
        (&rnd, 403),
        (&support, 403),
        (&admin, 200),
        (&manager_token, 200),
    ] {
        let (s, v) = app.api("GET", "/api/reports/summary", Some(t), None);
        assert_eq!(s, want, "{v}");
    }
    let (s, _) = app.api("GET", "/api/reports/summary", None, None);
    assert_eq!(s, 401);
    for email in ["liuyu@cmgos.example", "wangbb@cmgos.example"] {
        let b = app.browser();
        b.login(email, PASSWORD);
        assert_eq!(b.get("/reports").status, 403, "{email}");
        assert_eq!(b.get("/reports/customers.csv").status, 403, "{email}");
        assert!(
            !b.get("/cases").body.contains(r#"href="/reports""#),
            "no nav link for {email}"
        );
    }
    let b = app.browser();
    b.login("boss@cmgos.example", PASSWORD);
    assert!(b.get("/cases").body.contains(r#"href="/reports""#));
}

/// Security issue 14, finding 2: a customer name that is a spreadsheet formula reaches
/// the CSV as text (`'=…`), with the BOM kept and the value still readable.
#[test]
fn csv_cells_from_mail_cannot_be_formulas() {
    let app = TestApp::new();
    let admin = app.seed_staff();
    app.add_user("boss@cmgos.example", "Boss", "manager", &[]);
    let app = app.start();
    let hyperlink = r#"=HYPERLINK("http://evil","x")"#;
    let calc = "=cmd|'/C calc'!A0";
    for raw in [
        crate::helpers::mail(
            &[
                ("From", "Ma <ma@bank.example>"),
                ("To", "support@cmgos.example"),
                ("Subject", &format!("% {hyperlink}用户反馈激活失败 %")),
                ("Message-ID", "<csv-1@bank.example>"),
                ("Date", "Mon, 03 Jun 2024 10:00:00 +0800"),
            ],
            "激活失败",
        ),
        crate::helpers::mail(
            &[
                ("From", &format!("\"{calc}\" <calc@qq.com>")),
                ("To", "support@cmgos.example"),
                ("Subject", "activation fails"),
                ("Message-ID", "<csv-2@qq.com>"),
                ("Date", "Tue, 04 Jun 2024 10:00:00 +0800"),
            ],
            "help",
        ),
    ] {
        let (s, v) = app.api("POST", "/api/mail/inbound", Some(&admin), Some(&raw));
        assert_eq!(s, 200, "{v}");
    }
    let token = app.token("boss@cmgos.example");
    let r = app.api_get("/api/reports/summary?from=2024-06-01&to=2024-06-30", &token);
    let customers: Vec<&str> = r["top_customers"]
        .as_array()
        .expect("customers")
        .iter()
        .filter_map(|c| c["customer"].as_str())
        .collect();
    assert!(
        customers.contains(&hyperlink) && customers.contains(&calc),
        "the JSON keeps the names as they are: {r}"
    );

    let b = app.browser();
    b.login("boss@cmgos.example", PASSWORD);
    let csv = b.get("/reports/customers.csv?from=2024-06-01&to=2024-06-30");
    assert_eq!(csv.status, 200);
    assert!(csv.body.starts_with('\u{FEFF}'), "BOM first");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(csv.body.trim_start_matches('\u{FEFF}').as_bytes());
    let cells: Vec<(String, String)> = reader
        .records()
        .map(|r| {
            let r = r.expect("a CSV record");
            (r[0].to_string(), r[1].to_string())
        })
        .collect();
    assert_eq!(cells.len(), 2, "{}", csv.body);
    for (name, count) in &cells {
        assert!(
            !name.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "a live formula in the CSV: {name:?}\n{}",
            csv.body
        );
        assert_eq!(count, "1", "counts stay numbers");
    }
    let names: Vec<&str> = cells.iter().map(|c| c.0.as_str()).collect();
    assert!(
        names.contains(&format!("'{hyperlink}").as_str())
            && names.contains(&format!("'{calc}").as_str()),
        "readable after the quote: {names:?}"
    );
}

#[test]
fn an_empty_period_says_where_the_imported_history_is_and_presets_reach_it() {
    let (app, token) = seeded();
    let b = app.browser();
    b.login("boss@cmgos.example", PASSWORD);
    // The default period (the last year) holds nothing of the 2022 history: say where
    // the data is, with a link to it.
    let page = b.get("/reports");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("2022-06 — 2022-06"), "{}", page.body);
    let link =
        regex::Regex::new(r#"href="(/reports\?from=2022-06-24(?:&amp;|&#38;|&)to=2022-06-24)""#)
            .expect("re");
    let href = link
        .captures(&page.body)
        .map(|c| c[1].replace("&amp;", "&").replace("&#38;", "&"))
        .unwrap_or_else(|| panic!("no link to the data: {}", page.body));
    let there = b.get(&href);
    assert_eq!(there.status, 200);
    assert!(
        !there.body.contains("2022-06 — 2022-06"),
        "no hint where there is data"
    );
    // Presets: all time finds the seed, last year and this week do not; the JSON twin
    // says where the data is whatever the period.
    let all = app.api_get("/api/reports/summary?preset=all", &token);
    assert_eq!(all["cases_opened"], 1, "{all}");
    assert_eq!(all["data_from"], "2022-06-24", "{all}");
    for p in ["week", "30d", "quarter", "year", "last_year"] {
        let r = app.api_get(&format!("/api/reports/summary?preset={p}"), &token);
        assert_eq!(r["cases_opened"], 0, "{p}: {r}");
        assert_eq!(r["data_to"], "2022-06-24", "{p}: {r}");
    }
    let (s, v) = app.api(
        "GET",
        "/api/reports/summary?preset=someday",
        Some(&token),
        None,
    );
    assert_eq!(s, 400, "{v}");
    let page = b.get("/reports?preset=all");
    assert!(
        page.body.contains(r#"aria-current="page""#),
        "the chosen preset is marked"
    );
}

#[test]
fn workload_per_engineer_links_to_the_cases_behind_it() {
    let (app, token) = seeded();
    let admin = app.token("admin@casebook.example");
    let (s, v) = app.api(
        "POST",
        "/api/cases/CAS-06496-T2V9C6/assign",
        Some(&admin),
        Some(br#"{"assignee":"wangbb@cmgos.example"}"#),
    );
    assert_eq!(s, 200, "{v}");
    let r = app.api_get("/api/reports/summary?from=2022-06-01&to=2022-08-31", &token);
    let engineers = r["engineers"].as_array().expect("engineers");
    assert_eq!(engineers.len(), 1, "{r}");
    let wang = &engineers[0];
    assert_eq!(wang["engineer"], "Wang Binbin", "{wang}");
    assert_eq!(
        (wang["open"].clone(), wang["closed"].clone()),
        (0.into(), 1.into()),
        "{wang}"
    );
    assert_eq!(f(&wang["first_response_median"]), 0.0, "{wang}");
    let id = wang["id"].as_i64().expect("id");
    let b = app.browser();
    b.login("boss@cmgos.example", PASSWORD);
    let page = b.get("/reports?from=2022-06-01&to=2022-08-31");
    assert!(page.body.contains("Wang Binbin"), "{}", page.body);
    let closed_url = wang["closed_url"].as_str().expect("closed_url");
    assert!(
        closed_url.contains(&format!("assignee={id}")),
        "{closed_url}"
    );
    assert!(
        page.body.contains(&closed_url.replace('&', "&amp;"))
            || page.body.contains(&closed_url.replace('&', "&#38;")),
        "the figure links to its cases"
    );
    let qs = closed_url.trim_start_matches("/cases?");
    let queue = app.api_get(&format!("/api/cases?{qs}"), &token);
    assert_eq!(queue["total"], 1, "{queue}");
    // The same queue page in the browser says it is narrowed and can be widened.
    let narrowed = b.get(closed_url);
    assert_eq!(narrowed.status, 200);
    assert!(
        narrowed.body.contains("CAS-06496-T2V9C6"),
        "{}",
        narrowed.body
    );
    assert!(
        narrowed.body.contains("class=\"notice narrowed\""),
        "{}",
        narrowed.body
    );
    let csv = b.get("/reports/engineers.csv?from=2022-06-01&to=2022-08-31");
    assert_eq!(csv.status, 200);
    assert!(csv.body.contains("Wang Binbin"), "{}", csv.body);
}

/// A year of the bench generator's mail (`casebook-bench --export`), ingested as
/// history, with its activation records; the app started, and a manager's token.
pub fn a_year() -> (TestApp, String, std::path::PathBuf) {
    let app = TestApp::new();
    app.add_user("support@cmgos.example", "Wang Binbin", "support", &[]);
    app.add_user("dev@cmgos.example", "Liu Yu", "rnd", &[]);
    app.add_user("boss@cmgos.example", "Boss", "manager", &[]);
    let token = app.token("boss@cmgos.example");
    let dir = app.data_dir().join("year");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_casebook-bench"))
        .args(["--data-dir", &app.data_dir().display().to_string()])
        .args(["--export", &dir.display().to_string()])
        .args(["--messages", "2400", "--threads", "300"])
        .output()
        .expect("casebook-bench runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = dir.join("activation.csv");
    let moved = app.data_dir().join("activation.csv");
    std::fs::rename(&csv, &moved).expect("move csv");
    app.cli_ok(&["ingest", &dir.display().to_string()], None);
    app.cli_ok(
        &["activation", "import", &moved.display().to_string()],
        None,
    );
    (app.start(), token, dir)
}

/// Every count in a report and the URL of the cases behind it.
fn counted_links(r: &Value) -> Vec<(String, i64, String)> {
    let mut out = Vec::new();
    let mut add = |what: String, count: &Value, url: &Value| {
        let (Some(n), Some(u)) = (count.as_i64(), url.as_str()) else {
            panic!("{what}: {count} {url}");
        };
        out.push((what, n, u.to_string()));
    };
    let l = &r["links"];
    add("opened".into(), &r["cases_opened"], &l["opened"]);
    add("closed".into(), &r["cases_closed"], &l["closed"]);
    add("reopened".into(), &r["cases_reopened"], &l["reopened"]);
    add("backlog".into(), &r["backlog"]["open"], &l["backlog"]);
    add(
        "escalated".into(),
        &r["escalations"]["cases_escalated"],
        &l["escalated"],
    );
    add(
        "unanswered".into(),
        &r["escalations"]["unanswered"],
        &l["unanswered"],
    );
    add(
        "open escalations".into(),
        &r["escalations"]["open_now"]["open"],
        &l["open_escalations"],
    );
    let rows = |v: &Value| v.as_array().cloned().unwrap_or_default();
    for b in rows(&r["backlog"]["by_age"]) {
        add(format!("backlog {}", b["bucket"]), &b["count"], &b["url"]);
    }
    for b in rows(&r["escalations"]["open_now"]["by_age"]) {
        add(
            format!("escalation {}", b["bucket"]),
            &b["count"],
            &b["url"],
        );
    }
    for w in rows(&r["weekly"]) {
        add(
            format!("opened {}", w["week"]),
            &w["opened"],
            &w["opened_url"],
        );
        add(
            format!("closed {}", w["week"]),
            &w["closed"],
            &w["closed_url"],
        );
    }
    for s in rows(&r["sla"]) {
        for k in ["opened", "met", "late", "breached"] {
            add(
                format!("sla {} {k}", s["priority"]),
                &s[k],
                &s[format!("{k}_url").as_str()],
            );
        }
    }
    for t in [
        "top_error_codes",
        "top_customers",
        "top_oems",
        "top_products",
    ] {
        for row in rows(&r[t]) {
            add(format!("{t} {row}"), &row["count"], &row["url"]);
        }
    }
    for e in rows(&r["engineers"]) {
        for k in ["open", "waiting", "closed"] {
            add(
                format!("engineer {} {k}", e["engineer"]),
                &e[k],
                &e[format!("{k}_url").as_str()],
            );
        }
    }
    out
}

/// Asserts that each linked queue holds exactly the figure's cases; returns how many
/// links had a non-zero count.
fn queues_match(app: &TestApp, token: &str, r: &Value) -> usize {
    let mut nonzero = 0;
    for (what, n, url) in counted_links(r) {
        let qs = url.strip_prefix("/cases?").expect("a queue link");
        let q = app.api_get(&format!("/api/cases?{qs}&per_page=1"), token);
        assert_eq!(q["total"].as_i64(), Some(n), "{what}: {url} gave {q}");
        if n > 0 {
            nonzero += 1;
        }
    }
    nonzero
}

#[test]
fn every_figure_links_to_a_queue_of_exactly_its_cases() {
    let (app, token, _) = a_year();
    let r = app.api_get("/api/reports/summary?from=2024-01-01&to=2024-12-31", &token);
    // Recount from the generator's own rules (corpus.rs): 300 threads, every one a case
    // opened in 2024; four of five closed; three of ten escalated.
    assert_eq!(r["cases_opened"], 300, "{r}");
    assert_eq!(r["escalations"]["cases_escalated"], 90, "{r}");
    assert!(r["cases_closed"].as_i64() >= Some(200), "{r}");
    let weekly: i64 = r["weekly"]
        .as_array()
        .expect("weeks")
        .iter()
        .filter_map(|w| w["opened"].as_i64())
        .sum();
    assert_eq!(weekly, 300);
    for t in [
        "top_error_codes",
        "top_customers",
        "top_oems",
        "top_products",
    ] {
        assert!(
            r[t].as_array().is_some_and(|v| !v.is_empty()),
            "{t} empty: {r}"
        );
    }
    assert_eq!(r["previous"]["cases_opened"], 0, "2023 held nothing: {r}");
    let nonzero = queues_match(&app, &token, &r);
    assert!(nonzero >= 30, "too few figures with cases: {nonzero}");

    // The same with filters: they carry into every link.
    let code = r["top_error_codes"][0]["code"]
        .as_str()
        .expect("code")
        .to_string();
    let product = r["top_products"][0]["name"]
        .as_str()
        .expect("product")
        .to_string();
    for filter in [
        format!("code={code}"),
        "priority=normal".to_string(),
        format!("product={}", product.replace(' ', "%20")),
        "engineer=none".to_string(),
    ] {
        let f = app.api_get(
            &format!("/api/reports/summary?from=2024-01-01&to=2024-12-31&{filter}"),
            &token,
        );
        let opened = f["cases_opened"].as_i64().expect("opened");
        assert!(opened > 0 && opened <= 300, "{filter}: {f}");
        assert!(queues_match(&app, &token, &f) > 5, "{filter}");
    }
    // Half a year: the previous period is the half before, counted the same way.
    let h = app.api_get("/api/reports/summary?from=2024-07-01&to=2024-12-31", &token);
    let p = app.api_get("/api/reports/summary?from=2024-01-01&to=2024-06-30", &token);
    assert_eq!(h["previous"]["cases_opened"], p["cases_opened"], "{h}");
    assert_eq!(h["previous"]["cases_closed"], p["cases_closed"], "{h}");
}

#[test]
fn a_case_report_on_one_page() {
    let (app, token) = seeded();
    let r = app.api_get("/api/cases/CAS-06496-T2V9C6/report", &token);
    let kinds: Vec<&str> = r["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for k in ["opened", "scope", "escalated", "rnd_answered", "closure"] {
        assert!(kinds.contains(&k), "{k} missing: {kinds:?} {r}");
    }
    assert_eq!(kinds.first(), Some(&"opened"), "{kinds:?}");
    // In time order, each duration from the opening.
    let times: Vec<&str> = r["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["at"].as_str())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    // Escalated 2022-06-24 17:53:09, answered 2022-06-28 11:16:17: 3d 17h later.
    let answered = r["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "rnd_answered")
        .expect("answer");
    assert_eq!(answered["since_previous"], "3d 17h", "{answered}");
    assert_eq!(r["codes"][0]["code"], "0xC002001B", "{r}");
    assert!(
        !r["codes"][0]["description"]
            .as_str()
            .unwrap_or("")
            .is_empty(),
        "decoded: {r}"
    );
    let serial = r["serials"]
        .as_array()
        .expect("serials")
        .iter()
        .find(|s| s["serial"] == "T102210000943")
        .expect("the seed's serial");
    assert_eq!(
        serial["records"],
        serde_json::json!([]),
        "no activation record"
    );
    assert!(r["closure"]["resolution"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));

    let b = app.browser();
    b.login("boss@cmgos.example", PASSWORD);
    let page = b.get("/cases/CAS-06496-T2V9C6/report");
    assert_eq!(page.status, 200, "{}", page.body);
    for needle in [
        "T102210000943",
        "0xC002001B",
        "中银金融科技有限公司",
        "data-event=\"rnd_answered\"",
        "data-print",
    ] {
        assert!(page.body.contains(needle), "{needle}: {}", page.body);
    }
    let case_page = b.get("/cases/CAS-06496-T2V9C6");
    assert!(case_page.body.contains("/cases/CAS-06496-T2V9C6/report"));
    assert_eq!(b.get("/cases/CAS-00000-NOSUCH/report").status, 404);
}

#[test]
fn a_saved_view_comes_by_mail_on_monday_in_its_language() {
    use crate::helpers::{csrf_in, header_of, SmtpSink};
    if !SmtpSink::available() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "aiosmtpd is required under CI=true"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let sink = SmtpSink::new(dir.path().to_path_buf());
    let app = TestApp::with_args(&[
        "--smtp-url",
        &format!("smtp://127.0.0.1:{}", sink.port),
        "--mail-from",
        "CMGOS Support <support@cmgos.example>",
        "--outbox-interval",
        "1",
        "--public-url",
        "https://casebook.test/",
    ]);
    let admin = app.seed_staff();
    app.add_user("boss@cmgos.example", "Boss", "manager", &[]);
    let token = app.token("boss@cmgos.example");
    app.cli_ok(
        &[
            "ingest",
            "--json",
            &fixture("seed-export.txt").display().to_string(),
        ],
        None,
    );
    let app = app.start();

    // In Chinese from the page: the form keeps the preset, so the view keeps rolling.
    let b = app.browser();
    b.login("boss@cmgos.example", PASSWORD);
    let page = b.get("/reports?preset=all&code=0xC002001B");
    assert!(
        page.body
            .contains("name=\"query\" value=\"preset=all&amp;code=0xC002001B\"")
            || page
                .body
                .contains("name=\"query\" value=\"preset=all&#38;code=0xC002001B\""),
        "{}",
        page.body
    );
    let csrf = csrf_in(&page.body).expect("csrf");
    let r = b.post(
        "/reports/views",
        &[
            ("csrf_token", &csrf),
            ("name", "激活失败 0xC002001B"),
            ("query", "preset=all&code=0xC002001B"),
            ("weekly", "on"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let listed = b.get("/reports");
    assert!(
        listed.body.contains("激活失败 0xC002001B"),
        "{}",
        listed.body
    );
    // Without a CSRF token: refused.
    let r = b.post(
        "/reports/views",
        &[("name", "x"), ("query", "preset=all"), ("weekly", "on")],
    );
    assert_eq!(r.status, 403);

    // In English through the API (Accept-Language), then a bad one.
    let (s, v) = {
        let resp = ureq::post(&app.url("/api/reports/views"))
            .set("Authorization", &format!("Bearer {token}"))
            .set("Accept-Language", "en")
            .send_string(r#"{"name":"All activation","query":"from=2022-06-01&to=2022-08-31","weekly":true}"#);
        match resp {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap_or_default()),
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(s, 200, "{v}");
    let (s, _) = app.api(
        "POST",
        "/api/reports/views",
        Some(&token),
        Some(br#"{"name":"bad","query":"from=June","weekly":true}"#),
    );
    assert_eq!(s, 400);
    let views = app.api_get("/api/reports/views", &token);
    assert_eq!(views["views"].as_array().map(Vec::len), Some(2), "{views}");
    // Support cannot keep report views.
    let support = app.token("wangbb@cmgos.example");
    let (s, _) = app.api("GET", "/api/reports/views", Some(&support), None);
    assert_eq!(s, 403);

    // Saved on a Thursday: nothing is due before Monday 07:00 UTC.
    let now = chrono::Utc::now().naive_utc();
    // The first Monday 07:00 after now: today when run on a Monday before 07:00.
    let next_monday = {
        use chrono::Datelike;
        let mut days = (7 - i64::from(now.weekday().num_days_from_monday())) % 7;
        if days == 0 && now.time() >= chrono::NaiveTime::from_hms_opt(7, 0, 0).expect("time") {
            days = 7;
        }
        (now.date() + chrono::Duration::days(days))
            .and_hms_opt(8, 0, 0)
            .expect("time")
    };
    let sunday = (next_monday - chrono::Duration::days(1))
        .max(now)
        .format("%Y-%m-%dT%H:%M:%S");
    let monday = next_monday.format("%Y-%m-%dT%H:%M:%S");
    let out = app.cli_ok(&["report-mail", "--at", &sunday.to_string()], None);
    assert!(out.contains("0 weekly"), "{out}");
    let out = app.cli_ok(&["report-mail", "--at", &monday.to_string()], None);
    assert!(out.contains("2 weekly"), "{out}");
    let out = app.cli_ok(&["report-mail", "--at", &monday.to_string()], None);
    assert!(out.contains("0 weekly"), "sent once: {out}");

    let mails = sink.wait_for(2, 20);
    assert_eq!(mails.len(), 2, "{mails:?}");
    let read = |m: &String| {
        let msg = mail_parser::MessageParser::default()
            .parse(m.as_bytes())
            .expect("parses");
        (
            msg.subject().unwrap_or_default().to_string(),
            msg.body_text(0).unwrap_or_default().to_string(),
        )
    };
    let parsed: Vec<(String, String)> = mails.iter().map(read).collect();
    let (_, zh) = parsed
        .iter()
        .find(|(s, _)| s.starts_with("报表: 激活失败 0xC002001B"))
        .unwrap_or_else(|| panic!("the Chinese mail: {parsed:?}"));
    let (_, en) = parsed
        .iter()
        .find(|(s, _)| s == "Reports: All activation (2022-06-01 — 2022-08-31)")
        .unwrap_or_else(|| panic!("the English mail: {parsed:?}"));
    for m in &mails {
        assert_eq!(
            header_of(m, "Auto-Submitted").as_deref(),
            Some("auto-generated")
        );
        assert_eq!(header_of(m, "X-Casebook-Loop").as_deref(), Some("report"));
        assert!(header_of(m, "To").is_some_and(|t| t.contains("boss@cmgos.example")));
    }
    assert!(en.contains("Cases opened: 1 (Previous period: 0)"), "{en}");
    assert!(
        en.contains("Previous period: 2022-03-01 — 2022-05-31"),
        "{en}"
    );
    assert!(en.contains("0xC002001B: 1 (+1)"), "{en}");
    assert!(
        en.contains("https://casebook.test/reports?from=2022-06-01&to=2022-08-31"),
        "{en}"
    );
    // The Chinese view kept its preset: all the data (the seed's June–August 2022).
    assert!(zh.contains("新建案例: 1"), "{zh}");
    assert!(
        zh.contains("https://casebook.test/reports?preset=all&code=0xC002001B"),
        "{zh}"
    );
    let en_raw = mails
        .iter()
        .find(|m| m.contains("All activation"))
        .expect("raw English mail");

    // The mail posted back in is no case.
    let (s, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&admin),
        Some(en_raw.as_bytes()),
    );
    assert_eq!(s, 200, "{v}");
    assert!(v["case_number"].is_null(), "{v}");
    let all = app.api_get("/api/cases?per_page=50", &admin);
    assert_eq!(all["total"], 1, "{all}");
}
