//! Search over HTTP: Chinese words, serials, error codes, every term, filters, and
//! hostile queries, on whichever engine the suite runs against.

use crate::helpers::{fixture, mail, TestApp, PASSWORD};
use serde_json::Value;

const SEED: &str = "CAS-06496-T2V9C6";

pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The seed plus decoys that each carry only part of what the seed carries.
fn app_with_cases() -> (TestApp, String, Vec<String>) {
    let app = TestApp::new();
    let token = app.seed_staff();
    app.cli_ok(
        &[
            "ingest",
            "--json",
            &fixture("seed-export.txt").display().to_string(),
        ],
        None,
    );
    let app = app.start();
    let decoys = [
        ("Printer question", "打印机无法激活省电模式，请问怎么办？"),
        (
            "Update error",
            "Windows Update fails with 0xC002001B on one PC.",
        ),
        (
            "Strange text",
            "The log shows <script>alert(1)</script> and 100% of only_disk.",
        ),
    ];
    let mut numbers = Vec::new();
    for (i, (subject, body)) in decoys.iter().enumerate() {
        let raw = mail(
            &[
                ("From", &format!("user{i}@decoy{i}.example")),
                ("To", "support@cmgos.example"),
                ("Subject", subject),
                ("Message-ID", &format!("<decoy{i}@decoy.example>")),
                ("Date", "Tue, 02 Jul 2024 09:00:00 +0800"),
            ],
            body,
        );
        let (s, v) = app.api("POST", "/api/mail/inbound", Some(&token), Some(&raw));
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["outcome"], "created", "{v}");
        numbers.push(v["case_number"].as_str().expect("number").to_string());
    }
    (app, token, numbers)
}

fn results(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let v = app.api_get(&format!("/api/search?{query}"), token);
    v["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results array: {v}"))
        .clone()
}

fn numbers(r: &[Value]) -> Vec<&str> {
    r.iter().filter_map(|h| h["case_number"].as_str()).collect()
}

#[test]
fn the_seed_comes_first_for_words_serials_and_codes() {
    let (app, token, decoys) = app_with_cases();
    for q in [
        "激活",
        "T102210000943",
        "0xc002001b",
        "0xC002001B",
        "0xC002001B 激活",
        "远程过程调用",
    ] {
        let r = results(&app, &token, &format!("q={}", enc(q)));
        assert_eq!(
            r.first().and_then(|h| h["case_number"].as_str()),
            Some(SEED),
            "{q}: {r:?}"
        );
        let first = &r[0];
        assert!(
            first["subject"].as_str().unwrap_or("").contains("激活失败"),
            "{first}"
        );
        assert!(
            ["subject", "message", "note", "closure", "bundle"]
                .contains(&first["where"].as_str().unwrap_or("")),
            "{first}"
        );
        assert!(
            first["snippet"].as_str().unwrap_or("").contains("<mark>"),
            "{q}: {first}"
        );
    }
    // The code in the other spellings people paste finds the case that carries it,
    // though its mail never writes it so (a signed HRESULT from an event log): the
    // seed and the decoy that carry it, as exact hits.
    for q in ["C002001B", "-1073610725"] {
        let r = results(&app, &token, &format!("q={}", enc(q)));
        let found = numbers(&r);
        assert!(
            found.contains(&SEED) && found.contains(&decoys[1].as_str()),
            "{q}: {r:?}"
        );
    }
    // Decoys are found by their own words, after the seed where both match.
    let r = results(&app, &token, &format!("q={}", enc("激活")));
    assert!(numbers(&r).contains(&decoys[0].as_str()), "{r:?}");
    let r = results(&app, &token, "q=0xc002001b");
    assert!(numbers(&r).contains(&decoys[1].as_str()), "{r:?}");
    // Every term must match: each decoy has only one of the two.
    let r = results(&app, &token, &format!("q={}", enc("0xC002001B 激活")));
    assert_eq!(numbers(&r), vec![SEED], "{r:?}");
    // Found in an R&D answer only.
    let r = results(&app, &token, &format!("q={}", enc("跨进程调用")));
    assert_eq!(numbers(&r), vec![SEED], "{r:?}");
    assert_eq!(r[0]["where"], "note", "{r:?}");
    assert!(r[0]["snippet"]
        .as_str()
        .unwrap_or("")
        .contains("<mark>跨进程调用</mark>"));
    // An internal note is searchable at once, as a note.
    let body = serde_json::json!({"body_text": "内部：疑似 WMI 仓库损坏"}).to_string();
    let (s, v) = app.api(
        "POST",
        &format!("/api/cases/{SEED}/notes"),
        Some(&token),
        Some(body.as_bytes()),
    );
    assert!(s < 300, "{s} {v}");
    let r = results(&app, &token, &format!("q={}", enc("仓库损坏")));
    assert_eq!(numbers(&r), vec![SEED], "{r:?}");
    assert_eq!(r[0]["where"], "note", "{r:?}");
    // Nothing matches.
    assert!(results(&app, &token, "q=zzzyyyxxx").is_empty());
    // Everything needs a token.
    let (s, _) = app.api("GET", "/api/search?q=x", None, None);
    assert_eq!(s, 401);
}

#[test]
fn text_found_in_log_bundles() {
    use std::io::Write;
    let (app, token, _) = app_with_cases();
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("CMGE_Log/act.log", zip::write::SimpleFileOptions::default())
        .expect("start");
    w.write_all(b"2022-06-27 09:00:01 start\r\n2022-06-27 09:00:02 WMI failed 0x80041003\r\n")
        .expect("write");
    let bundle = w.finish().expect("finish").into_inner();
    let csrf = b.csrf(&format!("/cases/{SEED}"));
    let up = b.post_multipart(
        &format!("/cases/{SEED}/attachments"),
        &[("csrf_token", &csrf)],
        &[("files", "CMGE_Log.zip", &bundle)],
    );
    assert_eq!(up.status, 303, "{}", up.body);
    let r = results(&app, &token, "q=0x80041003");
    assert_eq!(numbers(&r), vec![SEED], "{r:?}");
    assert_eq!(r[0]["where"], "bundle", "{r:?}");
    let snip = r[0]["snippet"].as_str().unwrap_or("");
    assert!(
        snip.contains("CMGE_Log/act.log") && snip.contains("<mark>0x80041003</mark>"),
        "{snip}"
    );
}

#[test]
fn filters_narrow_the_results() {
    let (app, token, decoys) = app_with_cases();
    let q = format!("q={}", enc("激活"));
    let closed = results(&app, &token, &format!("{q}&status=closed"));
    assert_eq!(numbers(&closed), vec![SEED]);
    let open = results(&app, &token, &format!("{q}&status=active"));
    assert_eq!(numbers(&open), vec![decoys[0].as_str()]);
    let by_customer = results(&app, &token, &format!("{q}&customer={}", enc("中银")));
    assert_eq!(numbers(&by_customer), vec![SEED]);
    let by_code = results(&app, &token, "q=0xC002001B&code=0xc002001b");
    assert_eq!(numbers(&by_code).len(), 2, "{by_code:?}");
    let by_date = results(&app, &token, &format!("{q}&from=2024-01-01"));
    assert_eq!(numbers(&by_date), vec![decoys[0].as_str()]);
    let by_date = results(&app, &token, &format!("{q}&to=2022-12-31"));
    assert_eq!(numbers(&by_date), vec![SEED]);
    let (s, _) = app.api("GET", "/api/search?q=x&status=bogus", Some(&token), None);
    assert_eq!(s, 400);
    let (s, _) = app.api("GET", "/api/search?q=x&from=yesterday", Some(&token), None);
    assert_eq!(s, 400);
}

#[test]
fn hostile_queries_are_plain_text() {
    let (app, token, decoys) = app_with_cases();
    // LIKE wildcards are not wildcards: "only_disk" is the words "only" and "disk" one
    // after the other, found where they are; "%_" has no word and finds nothing.
    let r = results(&app, &token, &format!("q={}", enc("only_disk")));
    assert_eq!(numbers(&r), vec![decoys[2].as_str()], "{r:?}");
    let r = results(&app, &token, &format!("q={}", enc("of_only")));
    assert_eq!(numbers(&r), vec![decoys[2].as_str()], "{r:?}");
    let r = results(&app, &token, &format!("q={}", enc("100% of")));
    assert_eq!(numbers(&r), vec![decoys[2].as_str()], "{r:?}");
    assert!(results(&app, &token, &format!("q={}", enc("%_"))).is_empty());
    assert!(results(&app, &token, &format!("q={}", enc("' OR 1=1 --"))).is_empty());
    assert!(results(&app, &token, &format!("q={}", enc("\"unbalanced"))).is_empty());
    assert!(results(&app, &token, &format!("q={}", enc("NEAR(a b) OR *"))).is_empty());
    let r = results(&app, &token, &format!("q={}", enc("<script>")));
    assert_eq!(numbers(&r), vec![decoys[2].as_str()], "{r:?}");
    let snip = r[0]["snippet"].as_str().unwrap_or("");
    // The word is marked, the brackets around it escaped.
    assert!(snip.contains("&lt;<mark>script</mark>&gt;"), "{snip}");
    assert!(!snip.contains("<script>"), "{snip}");

    // The page escapes the same way, and the box is in the navigation.
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let page = b.get(&format!("/search?q={}", enc("<script>")));
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(
        page.body
            .contains("&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt;"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&decoys[2]));
    assert!(
        page.body.contains(r#"value="&#60;script&#62;""#),
        "query echoed escaped"
    );
    let page = b.get(&format!("/search?q={}", enc("' OR 1=1 --")));
    assert_eq!(page.status, 200);
}

#[test]
fn the_search_page_in_both_languages() {
    let (app, _token, _) = app_with_cases();
    app.add_user("rd2@cmgos.example", "Rd Two", "rnd", &[]);
    let b = app.browser();
    b.login("rd2@cmgos.example", PASSWORD);
    let page = b.get(&format!("/search?q={}", enc("激活")));
    assert_eq!(page.status, 200);
    assert!(page.body.contains(SEED));
    assert!(page.body.contains("<mark>激活</mark>"), "{}", page.body);
    assert!(page.body.contains(r#"id="nav-search""#) && page.body.contains(r#"for="nav-search""#));
    assert!(page.body.contains("搜索所有案例"));
    let seed_at = page.body.find(SEED).expect("seed");
    let other_at = page.body.find("打印机").expect("decoy");
    assert!(seed_at < other_at, "seed first on the page");
    let csrf = b.csrf("/search");
    b.post(
        "/lang",
        &[("lang", "en"), ("back", "/search"), ("csrf_token", &csrf)],
    );
    let page = b.get("/search?q=T102210000943");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Search all cases") && page.body.contains(SEED),
        "{}",
        page.body
    );
    // Signed out: to the login page.
    let anon = app.browser();
    assert_eq!(anon.get("/search?q=x").status, 303);
}

/// `n` messages of about 6 KB each, one case each, as an mbox.
fn haystack_mbox(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let filler = "log line with nothing special in it 0123456789 ".repeat(120);
    for i in 0..n {
        out.extend_from_slice(b"From hay@hay.example Tue Jul  2 09:00:00 2024\n");
        out.extend_from_slice(&mail(
            &[
                ("From", &format!("user{i}@hay{}.example", i % 50)),
                ("To", "support@cmgos.example"),
                ("Subject", &format!("Haystack {i}")),
                ("Message-ID", &format!("<hay{i}@hay.example>")),
                ("Date", "Tue, 02 Jul 2024 09:00:00 +0800"),
            ],
            &format!("{filler} case {i}"),
        ));
        out.extend_from_slice(b"\n");
    }
    out
}

/// Finding 5 of the security issue: one user's hostile searches (every word a full
/// scan, a filter that matches nothing) cannot starve the others. At most two of a
/// user's searches run at once (the rest get 429 at once), each within its time
/// budget, and another user's queue answers meanwhile.
#[test]
fn one_users_hostile_searches_cannot_starve_the_others() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let dir = app.dir.path().join("hay.mbox");
    std::fs::write(&dir, haystack_mbox(1500)).expect("write mbox");
    app.cli_ok(&["ingest", &dir.display().to_string()], None);
    app.add_user("rd2@cmgos.example", "Rd Two", "rnd", &[]);
    let other = app.token("rd2@cmgos.example");
    let app = app.start();
    // 1,500 cases: the list counts up to its cap and says there are more.
    let listed = app.api_get("/api/cases", &token);
    assert_eq!(
        (&listed["total"], &listed["total_exact"], &listed["more"]),
        (
            &serde_json::json!(1000),
            &serde_json::json!(false),
            &serde_json::json!(true)
        ),
        "{}",
        listed["total"]
    );
    // The queue's page says so, and its pager goes on past the cap (page 21 of 50).
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let queue = b.get("/cases?status=");
    assert!(
        queue.body.contains(">(1000+)<"),
        "the queue counts up to its cap"
    );
    let page21 = b.get("/cases?status=&page=21");
    assert_eq!(page21.status, 200);
    assert!(page21.body.contains("page=22"), "a next page past the cap");
    assert!(page21.body.contains("page=20"), "and a previous one");
    let last = b.get("/cases?status=&page=30");
    assert!(!last.body.contains("page=31"), "no page after the last");
    assert_eq!(
        last.body.matches("href=\"/cases/CAS-").count(),
        50,
        "the last page holds the last 50 of 1,500"
    );

    // More than eight words: refused, not silently trimmed.
    let (s, v) = app.api(
        "GET",
        &format!("/api/search?q={}", enc("a b c d e f g h i")),
        Some(&token),
        None,
    );
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["key"], "search.too_many_terms", "{v}");
    let (s, _) = app.api(
        "GET",
        &format!("/api/search?q={}", enc("a b c d e f g h")),
        Some(&token),
        None,
    );
    assert_eq!(s, 200, "eight words are fine");

    let hostile = format!(
        "/api/search?q={}&status=closed",
        enc("qz xj vq kw jz zx qj wq")
    );
    let storm = 12;
    // Searches are fast now: a storm whose searches happen not to overlap (each done
    // before the next starts) is repeated, up to five storms, until one user has more
    // than two in flight at once.
    let mut statuses: Vec<(u16, serde_json::Value)> = Vec::new();
    for _ in 0..5 {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(storm + 1));
        statuses = std::thread::scope(|s| {
            let handles: Vec<_> = (0..storm)
                .map(|_| {
                    let barrier = barrier.clone();
                    let (app, token, hostile) = (&app, &token, &hostile);
                    s.spawn(move || {
                        barrier.wait();
                        let (status, v) = app.api("GET", hostile, Some(token), None);
                        (status, v)
                    })
                })
                .collect();
            barrier.wait();
            // Meanwhile another user's queue answers.
            std::thread::sleep(std::time::Duration::from_millis(20));
            let started = std::time::Instant::now();
            let v = app.api_get("/api/cases?limit=20", &other);
            let took = started.elapsed();
            assert_eq!(v["cases"].as_array().map(Vec::len), Some(50), "{v}");
            assert!(
                took < std::time::Duration::from_secs(2),
                "/api/cases took {took:?} during the storm"
            );
            handles
                .into_iter()
                .map(|h| h.join().expect("search thread"))
                .collect()
        });
        if statuses.iter().any(|(s, _)| *s == 429) {
            break;
        }
    }
    let refused: Vec<_> = statuses.iter().filter(|(s, _)| *s == 429).collect();
    assert!(
        !refused.is_empty(),
        "some of {storm} parallel searches by one user are refused: {statuses:?}"
    );
    for (s, v) in &statuses {
        assert!(
            *s == 200 || *s == 429 || (*s == 400 && v["key"] == "search.too_slow"),
            "{s} {v}"
        );
    }
    assert_eq!(refused[0].1["error"], "throttled", "{:?}", refused[0]);
    // Once the storm is over the same user searches again.
    let (s, v) = app.api("GET", &hostile, Some(&token), None);
    assert_eq!(s, 200, "{v}");
}

/// A search reads messages the indexer has not reached yet without indexing them
/// itself (so it never takes SQLite's write lock), and still finds them.
#[test]
fn new_messages_are_found_before_the_indexer_runs() {
    let (app, token, _) = app_with_cases();
    let raw = mail(
        &[
            ("From", "fresh@fresh.example"),
            ("To", "support@cmgos.example"),
            ("Subject", "Fresh"),
            ("Message-ID", "<fresh@fresh.example>"),
        ],
        "zebracorn appeared just now",
    );
    let (s, v) = app.api("POST", "/api/mail/inbound", Some(&token), Some(&raw));
    assert_eq!(s, 200, "{v}");
    let r = results(&app, &token, "q=zebracorn");
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["where"], "message", "{r:?}");
}

/// SQLite: waits until the search indexer has caught up with every message and every
/// changed document (the index holds everything; the database is read for nothing).
fn indexed(app: &TestApp) {
    if app.on_postgres() {
        return;
    }
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let path = app.data_dir().join("casebook.sqlite3");
    let mut conn =
        diesel::SqliteConnection::establish(&path.display().to_string()).expect("database");
    let index = casebook::search::index::for_database(&path).expect("index");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let marks = index.reload().expect("index marks");
        let left = marks.map_or(-1, |m| {
            let mut behind = |sql: String| {
                diesel::sql_query(sql)
                    .get_result::<N>(&mut conn)
                    .map(|r| r.n)
                    .unwrap_or(-1)
            };
            let messages = behind(format!(
                "SELECT COUNT(*) AS n FROM messages WHERE id > {}",
                m.messages
            ));
            let changes = behind(format!(
                "SELECT COUNT(*) AS n FROM search_changes WHERE seq > {}",
                m.changes
            ));
            let docs = if m.docs == i64::MAX { 0 } else { 1 };
            messages + changes + docs
        });
        if left == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the indexer did not catch up ({left} left)"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Two-character Chinese words (the commonest Chinese queries) are served by the index's
/// pairs of adjacent characters once the indexer has run, with the same results as before:
/// only adjacent characters match (蓝色屏幕 is not 蓝屏), and an edited scope is found by
/// its new words.
#[test]
fn two_character_words_are_found_through_their_index_and_edits_follow() {
    let (app, token, _) = app_with_cases();
    let post = |id: &str, subject: &str, body: &str| -> String {
        let raw = mail(
            &[
                ("From", &format!("user@{id}.example")),
                ("To", "support@cmgos.example"),
                ("Subject", subject),
                ("Message-ID", &format!("<{id}@{id}.example>")),
            ],
            body,
        );
        let (s, v) = app.api("POST", "/api/mail/inbound", Some(&token), Some(&raw));
        assert_eq!(s, 200, "{v}");
        v["case_number"].as_str().expect("number").to_string()
    };
    let blue = post("blue", "开机问题", "开机后蓝屏，错误代码见附件。");
    let screen = post("screen", "显示问题", "蓝色的屏幕上有一条横线。");
    let only = |q: &str| -> Vec<String> {
        numbers(&results(&app, &token, &format!("q={}", enc(q))))
            .into_iter()
            .map(String::from)
            .collect()
    };
    let before = (only("蓝屏"), only("屏幕"));
    assert_eq!(
        before.0,
        vec![blue.clone()],
        "only adjacent characters match"
    );
    assert_eq!(before.1, vec![screen.clone()]);
    indexed(&app);
    assert_eq!(
        (only("蓝屏"), only("屏幕")),
        before,
        "the same once indexed"
    );

    // A scope written, then rewritten: found by its words once indexed.
    let support = app.token("wangbb@cmgos.example");
    for (definition, word) in [
        ("网卡故障导致激活失败", "网卡"),
        ("显卡驱动导致激活失败", "显卡"),
    ] {
        let (s, v) = app.api(
            "POST",
            &format!("/api/cases/{screen}/scope"),
            Some(&support),
            Some(
                serde_json::json!({"problem_definition": definition, "problem_scope": "分析", "send": false})
                    .to_string()
                    .as_bytes(),
            ),
        );
        assert_eq!(s, 200, "{v}");
        indexed(&app);
        assert!(
            only(word).contains(&screen),
            "{word}: the scope's new words, indexed"
        );
    }
}

/// A later term is looked for only in the cases the earlier ones found; a case with a
/// long thread full of that word does not crowd the others out: a quiet case that has
/// both words is still found beside a busy one with 520 newer matching messages.
#[test]
fn a_busy_case_does_not_crowd_a_quiet_one_out_of_a_two_word_search() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let post = |id: &str, reply_to: Option<&str>, subject: &str, body: &str| -> String {
        let mut headers = vec![
            ("From", "user@busy.example".to_string()),
            ("To", "support@cmgos.example".to_string()),
            ("Subject", subject.to_string()),
            ("Message-ID", format!("<{id}@busy.example>")),
        ];
        if let Some(r) = reply_to {
            headers.push(("In-Reply-To", format!("<{r}@busy.example>")));
        }
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (s, v) = app.api(
            "POST",
            "/api/mail/inbound",
            Some(&token),
            Some(&mail(&h, body)),
        );
        assert_eq!(s, 200, "{v}");
        v["case_number"].as_str().expect("number").to_string()
    };
    let quiet = post("quiet", None, "驱动问题", "网卡驱动报错 0xC004F074。");
    let busy = post("busy", None, "激活问题", "网卡 0xC004F074");
    for i in 0..520 {
        let n = post(
            &format!("busy-{i}"),
            Some("busy"),
            "Re: 激活问题",
            "网卡还是不行",
        );
        assert_eq!(n, busy, "the replies thread into the busy case");
    }
    let r = results(&app, &token, &format!("q={}", enc("0xC004F074 网卡")));
    let found = numbers(&r);
    assert!(
        found.contains(&quiet.as_str()) && found.contains(&busy.as_str()),
        "both cases have both words: {found:?}"
    );
}

/// The shared test set for both engines: Chinese and English text, error codes in every
/// spelling, serials, threads with replies, a closed case.
fn engine_corpus() -> Vec<Vec<u8>> {
    let topics = [
        (
            "激活失败 0xC004F074",
            "客户的电脑激活失败，错误码 0xC004F074，KMS 主机无法访问。序列号 T102210000943。",
        ),
        (
            "蓝屏 after update",
            "更新以后出现蓝屏，日志已附上。The machine shows a blue screen after the update.",
        ),
        (
            "Printer not reachable",
            "The printer is not reachable from the branch office; KMS host is fine.",
        ),
        (
            "离线激活 question",
            "如何离线激活？错误 c004f074 出现在事件日志里。",
        ),
        (
            "Licensing service stops",
            "The licensing service stops with -1073418124 (0xC004F074) on boot.",
        ),
        (
            "日志 bundle",
            "请查看附件日志，激活 记录 没有找到。Serial T102210000944.",
        ),
        (
            "BIOS serial mismatch",
            "BIOS serial does not match the activation record; 序列号 不一致。",
        ),
        (
            "Deployed image fails",
            "The deployed image fails activation with 0x8007232B; DNS name does not exist.",
        ),
    ];
    let mut out = Vec::new();
    for round in 0..3 {
        for (i, (subject, body)) in topics.iter().enumerate() {
            let n = round * topics.len() + i;
            let id = format!("<eq-{n}@customer{i}.example>");
            out.push(mail(
                &[
                    ("From", &format!("user{i}@customer{i}.example")),
                    ("To", "support@cmgos.example"),
                    ("Subject", &format!("{subject} #{n}")),
                    ("Message-ID", &id),
                    (
                        "Date",
                        &format!("Tue, {:02} Jul 2024 09:{:02}:00 +0800", 1 + round, i),
                    ),
                ],
                &format!("{body} (round {round})"),
            ));
            // Every other case has an answer from support, which names more words.
            if n.is_multiple_of(2) {
                out.push(mail(
                    &[
                        ("From", "Wang Binbin <wangbb@cmgos.example>"),
                        ("To", &format!("user{i}@customer{i}.example")),
                        ("Subject", &format!("RE: {subject} #{n}")),
                        ("Message-ID", &format!("<eq-re-{n}@cmgos.example>")),
                        ("In-Reply-To", &id),
                        ("References", &id),
                        ("Date", &format!("Tue, {:02} Jul 2024 10:{:02}:00 +0800", 1 + round, i)),
                    ],
                    "您好，请提供日志和 BIOS 序列号。Please send the logs; we checked the KMS host and the DNS record.",
                ));
            }
        }
    }
    out
}

/// What a search shows, without what differs by design between two installations
/// (case numbers are random): subject, where the match was, the snippet, in order.
fn shown(app: &TestApp, token: &str, query: &str) -> Vec<(String, String, String)> {
    results(app, token, query)
        .iter()
        .map(|h| {
            (
                h["subject"].as_str().unwrap_or_default().to_string(),
                h["where"].as_str().unwrap_or_default().to_string(),
                h["snippet"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The same mail into SQLite and PostgreSQL gives the same results, in the same order,
/// with the same snippets: Chinese words of one, two and more characters, English words
/// and phrases, error codes in three spellings, serials, several terms, and filters. On
/// SQLite after its indexer has run (trigram and bigram indexes, not the LIKE beside
/// them).
#[test]
fn both_engines_find_the_same_cases_in_the_same_order() {
    let pg = TestApp::new();
    if !pg.on_postgres() {
        eprintln!(
            "SKIP: compares SQLite with PostgreSQL; runs under CASEBOOK_TEST_PG_URL (CI does)"
        );
        return;
    }
    let lite = TestApp::on_sqlite();
    let corpus = engine_corpus();
    let mut apps = Vec::new();
    for app in [lite, pg] {
        let token = app.seed_staff();
        let app = app.start();
        for raw in &corpus {
            let (s, v) = app.api("POST", "/api/mail/inbound", Some(&token), Some(raw));
            assert_eq!(s, 200, "{v}");
        }
        indexed(&app);
        apps.push((app, token));
    }
    let queries = [
        "激活",
        "蓝屏",
        "日志",
        "序",
        "离线激活",
        "激活 失败",
        "printer",
        "KMS host",
        "\"KMS host\"",
        "licensing service",
        "0xC004F074",
        "0xc004f074",
        "C004F074",
        "-1073418124",
        "T102210000943",
        "DNS 0x8007232B",
        "blue screen 日志",
        "nothing-matches-this",
    ];
    let mut compared = 0;
    for q in queries {
        for filter in ["", "&status=active", "&code=0xC004F074"] {
            let query = format!("q={}{filter}&limit=50", enc(q));
            let a = shown(&apps[0].0, &apps[0].1, &query);
            let b = shown(&apps[1].0, &apps[1].1, &query);
            assert_eq!(
                a, b,
                "SQLite (left) and PostgreSQL (right) differ for {query}"
            );
            compared += a.len();
        }
    }
    // The comparison compared something: most queries find cases.
    assert!(compared > 200, "only {compared} results compared");
    // Three of the eight topics name 激活, in each of three rounds.
    let some = shown(&apps[0].0, &apps[0].1, &format!("q={}", enc("激活")));
    assert_eq!(some.len(), 9, "{some:?}");
}

/// PostgreSQL's `casebook_tsv` (the words the database computes for rows written
/// without them: replies and notes, other texts, rows from before) gives the words
/// ingest computes (`search::words::pg_words`, `pg_words_text`), for the shared
/// corpus's mail and texts at the edges of words: letter case, CJK runs and pairs,
/// Katakana's middle dot, long runs, letters beyond ASCII, a text too long to keep its
/// words. And a word at the end of such a long message is found.
#[test]
fn the_database_and_ingest_find_the_same_words_in_a_text() {
    use diesel::{Connection, QueryableByName, RunQueryDsl};
    let app = TestApp::new();
    let Some(url) = app.pg_url_or_skip("the words are PostgreSQL's") else {
        return;
    };
    let token = app.seed_staff();
    // Starting the server applies the migrations.
    let app = app.start();
    #[derive(QueryableByName)]
    struct Words {
        #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Text>)]
        words: Vec<String>,
        #[diesel(sql_type = diesel::sql_types::Text)]
        db: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        ours: String,
    }
    let mut c = diesel::PgConnection::establish(&url).expect("pg");
    let long = format!("{} 蓝屏 needle", "激活失败 ".repeat(12_000));
    let mut texts: Vec<String> = vec![
        "Hello WORLD, 激活失败 0xC004F074 ・カタ・カナ the-end ok".into(),
        format!("{} ok {} 激活", "x".repeat(101), "y".repeat(100)),
        "Café MÜLLER straße naïve ÆSIR × ÷ — «quoted» 한국어 텍스트 𠀀𠀁".into(),
        "激 活\n激活\t激活激活 HRESULT:0xC002001B -1073418124".into(),
        String::new(),
        long.clone(),
    ];
    for raw in engine_corpus() {
        texts.push(String::from_utf8_lossy(&raw).into_owned());
    }
    let mut compared = 0;
    for text in &texts {
        let ours = casebook::search::words::pg_words_text(text);
        let row: Words = diesel::sql_query(
            "SELECT casebook_words($1) AS words, casebook_tsv($1)::text AS db, \
             array_to_tsvector(string_to_array($2, ' '))::text AS ours",
        )
        .bind::<diesel::sql_types::Text, _>(text)
        .bind::<diesel::sql_types::Text, _>(&ours)
        .get_result(&mut c)
        .expect("casebook_tsv");
        assert_eq!(
            row.db, row.ours,
            "the database (left) and ingest (right) differ for {text:?}"
        );
        let mut words = row.words;
        words.sort_unstable();
        words.dedup();
        assert_eq!(words, casebook::search::words::pg_words(text), "{text:?}");
        compared += words.len();
    }
    assert!(compared > 300, "only {compared} words compared");
    // The long text keeps `~`, and is still found by its words.
    let raw = mail(
        &[
            ("From", "someone@customer.example"),
            ("To", "support@cmgos.example"),
            ("Subject", "a very long log"),
            ("Message-ID", "<long-log@customer.example>"),
        ],
        &long,
    );
    let (s, v) = app.api("POST", "/api/mail/inbound", Some(&token), Some(&raw));
    assert_eq!(s, 200, "{v}");
    for q in ["needle", "蓝屏", "激活失败"] {
        let found = shown(&app, &token, &format!("q={}", enc(q)));
        assert_eq!(found.len(), 1, "{q}: {found:?}");
    }
    let found = shown(&app, &token, &format!("q={}", enc("haystack")));
    assert!(found.is_empty(), "{found:?}");
}
