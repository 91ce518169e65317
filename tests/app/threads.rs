//! A thread is one case whatever the order its messages arrive in: replies read
//! before their parent, and replies to an ancestor Casebook never received.

use crate::helpers::{mail, TestApp, PASSWORD};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Messages as (Message-ID, raw mail), and the threads as sets of Message-IDs.
type Corpus = (Vec<(String, Vec<u8>)>, Vec<BTreeSet<String>>);

/// Generated threads: (message-id, raw). Every reply carries the full References
/// chain from its root; in every third thread the root was never sent to support (a
/// "ghost"), so its replies only share the root's id.
fn corpus() -> Corpus {
    corpus_of(8)
}

fn corpus_of(n: usize) -> Corpus {
    let mut out = Vec::new();
    let mut threads = Vec::new();
    for t in 0..n {
        let ghost = t % 3 == 2;
        let root = format!("root{t}@customer{t}.example");
        let mut chain = vec![root.clone()];
        let mut members = BTreeSet::new();
        if !ghost {
            out.push((
                root.clone(),
                mail(
                    &[
                        ("From", &format!("Cust {t} <c{t}@customer{t}.example>")),
                        ("To", "support@cmgos.example"),
                        ("Subject", &format!("problem number {t}")),
                        ("Message-ID", &format!("<{root}>")),
                        ("Date", "Mon, 01 Jul 2024 09:00:00 +0800"),
                    ],
                    &format!("activation fails on machine {t}"),
                ),
            ));
            members.insert(root.clone());
        }
        for r in 0..4 {
            let id = format!("r{t}-{r}@customer{t}.example");
            let parent = chain.last().cloned().unwrap_or_default();
            let refs = chain
                .iter()
                .map(|c| format!("<{c}>"))
                .collect::<Vec<_>>()
                .join(" ");
            out.push((
                id.clone(),
                mail(
                    &[
                        ("From", &format!("Cust {t} <c{t}@customer{t}.example>")),
                        ("To", "support@cmgos.example"),
                        ("Subject", &format!("Re: problem number {t} ({r})")),
                        ("Message-ID", &format!("<{id}>")),
                        ("In-Reply-To", &format!("<{parent}>")),
                        ("References", &refs),
                        ("Date", &format!("Mon, 01 Jul 2024 1{r}:00:00 +0800")),
                    ],
                    &format!("reply {r} in thread {t}"),
                ),
            ));
            members.insert(id.clone());
            chain.push(id);
        }
        threads.push(members);
    }
    (out, threads)
}

/// A small deterministic shuffle (xorshift), so every order can be replayed.
fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut v = items.to_vec();
    let mut x = seed.max(1);
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}

#[test]
fn the_same_messages_in_any_order_make_the_same_cases() {
    let (messages, threads) = corpus();
    let mut reversed = messages.clone();
    reversed.reverse();
    let orders = [
        ("file order", messages.clone()),
        ("reversed", reversed),
        ("seed 7", shuffled(&messages, 7)),
        ("seed 1234", shuffled(&messages, 1234)),
        ("seed 99991", shuffled(&messages, 99991)),
    ];
    for (name, order) in orders {
        let app = TestApp::new();
        let token = app.seed_staff();
        let app = app.start();
        let mut case_of: BTreeMap<String, String> = BTreeMap::new();
        for (id, raw) in &order {
            let (s, v) = app.api("POST", "/api/mail/inbound", Some(&token), Some(raw));
            assert_eq!(s, 200, "{name}: {v}");
            let number = v["case_number"].as_str().expect("case number").to_string();
            case_of.insert(id.clone(), number);
        }
        // Each thread is exactly one case, and no case holds two threads.
        let mut seen = BTreeSet::new();
        for members in &threads {
            let cases: BTreeSet<&String> = members.iter().map(|m| &case_of[m]).collect();
            assert_eq!(cases.len(), 1, "{name}: a thread split into {cases:?}");
            let case = cases.into_iter().next().expect("one case").clone();
            assert!(
                seen.insert(case.clone()),
                "{name}: {case} holds two threads"
            );
            // What a message reported is what the case holds.
            let detail = app.api_get(&format!("/api/cases/{case}"), &token);
            let held = detail["messages"].as_array().map(Vec::len).unwrap_or(0);
            assert_eq!(held, members.len(), "{name}: {case}");
        }
        let total = app.api_get("/api/cases?per_page=100", &token)["total"]
            .as_i64()
            .expect("total");
        assert_eq!(total as usize, threads.len(), "{name}: cases");
    }
}

/// 16 clients deliver 60 threads (300 messages, shuffled) at once, through two server
/// processes on one database (one SQLite file, or one PostgreSQL): no thread splits.
#[test]
fn concurrent_delivery_through_two_servers_never_splits_a_thread() {
    // CASEBOOK_CONCURRENT_THREADS=400 gives the issue's 2,000 messages.
    let n = std::env::var("CASEBOOK_CONCURRENT_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let (messages, threads) = corpus_of(n);
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let twin = app.another_server(2);
    let bases = [app.base.clone(), twin.base.clone()];
    let queue = Arc::new(Mutex::new(shuffled(&messages, 4242)));
    let case_of: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let mut clients = Vec::new();
    for c in 0..16 {
        let (queue, case_of, token) = (queue.clone(), case_of.clone(), token.clone());
        let base = bases[c % 2].clone();
        clients.push(std::thread::spawn(move || loop {
            let next = queue.lock().expect("queue").pop();
            let Some((id, raw)) = next else { break };
            let resp = ureq::post(&format!("{base}/api/mail/inbound"))
                .timeout(Duration::from_secs(120))
                .set("Authorization", &format!("Bearer {token}"))
                .send_bytes(&raw);
            let v: serde_json::Value = match resp {
                Ok(r) => r.into_json().expect("json"),
                Err(e) => panic!("{id}: {e}"),
            };
            let number = v["case_number"].as_str().expect("case number").to_string();
            case_of.lock().expect("map").insert(id, number);
        }));
    }
    for c in clients {
        c.join().expect("client");
    }
    let case_of = case_of.lock().expect("map");
    assert_eq!(case_of.len(), messages.len());
    let mut split = Vec::new();
    let mut seen = BTreeSet::new();
    for members in &threads {
        let cases: BTreeSet<&String> = members.iter().map(|m| &case_of[m]).collect();
        if cases.len() > 1 {
            split.push(cases.clone());
        }
        for c in cases {
            assert!(seen.insert(c.clone()), "{c} holds two threads");
        }
    }
    assert!(split.is_empty(), "threads split: {split:?}");
    let total = app.api_get("/api/cases?per_page=1", &token)["total"]
        .as_i64()
        .expect("total");
    assert_eq!(total as usize, threads.len());
}

/// `casebook ingest` of a directory whose file order is the reverse of the thread's:
/// the thread is filed oldest first, so the case opens with its first message and its
/// times are the thread's own.
#[test]
fn bulk_import_files_each_thread_in_its_own_order() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let dir = app.dir.path().join("history");
    std::fs::create_dir_all(&dir).expect("dir");
    let root = mail(
        &[
            ("From", "Ma Ming <ma@customer.example>"),
            ("To", "support@cmgos.example"),
            ("Subject", "activation fails on the finance machines"),
            ("Message-ID", "<root@customer.example>"),
            ("Date", "Mon, 01 Jul 2024 09:00:00 +0800"),
        ],
        "activation fails with 0xC004F074\n",
    );
    let answer = mail(
        &[
            ("From", "Wang Binbin <wangbb@cmgos.example>"),
            ("To", "ma@customer.example"),
            ("Subject", "Re: activation fails on the finance machines"),
            ("Message-ID", "<answer@cmgos.example>"),
            ("In-Reply-To", "<root@customer.example>"),
            ("References", "<root@customer.example>"),
            ("Date", "Mon, 01 Jul 2024 10:00:00 +0800"),
        ],
        "Please send the logs.\n",
    );
    let again = mail(
        &[
            ("From", "Ma Ming <ma@customer.example>"),
            ("To", "support@cmgos.example"),
            (
                "Subject",
                "Re: Re: activation fails on the finance machines",
            ),
            ("Message-ID", "<again@customer.example>"),
            ("In-Reply-To", "<answer@cmgos.example>"),
            (
                "References",
                "<root@customer.example> <answer@cmgos.example>",
            ),
            ("Date", "Mon, 01 Jul 2024 11:00:00 +0800"),
        ],
        "Logs attached.\n",
    );
    // File names sort the newest first.
    for (name, raw) in [("1.eml", &again), ("2.eml", &answer), ("3.eml", &root)] {
        std::fs::write(dir.join(name), raw).expect("write");
    }
    app.cli_ok(&["ingest", &dir.display().to_string()], None);
    let app = app.start();
    let listed = app.api_get("/api/cases?per_page=5", &token);
    assert_eq!(listed["total"], 1, "{listed}");
    let number = listed["cases"][0]["number"].as_str().expect("number");
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    assert_eq!(case["subject"], "activation fails on the finance machines");
    assert!(
        case["created_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2024-07-01T01:00:00")),
        "{}",
        case["created_at"]
    );
    assert!(
        case["first_response_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2024-07-01T02:00:00")),
        "{}",
        case["first_response_at"]
    );
    // The customer wrote last: the case is open, not waiting on them.
    assert_eq!(case["status"], "open");
}

/// A chain where each reply names only its parent (In-Reply-To, no References): the
/// grandchild arrives before its parent and opens a case of its own; the parent ties
/// both cases together.
fn chain() -> [Vec<u8>; 3] {
    let m = |id: &str, parent: Option<&str>, hour: u32, body: &str| {
        let mid = format!("<{id}@customer.example>");
        let irt = parent.map(|p| format!("<{p}@customer.example>"));
        let date = format!("Tue, 02 Jul 2024 {hour:02}:00:00 +0800");
        let mut h: Vec<(&str, &str)> = vec![
            ("From", "Ma Ming <ma@customer.example>"),
            ("To", "support@cmgos.example"),
            ("Subject", "printer not reachable after activation"),
            ("Message-ID", &mid),
            ("Date", &date),
        ];
        if let Some(p) = &irt {
            h.push(("In-Reply-To", p));
        }
        mail(&h, body)
    };
    [
        m("c-root", None, 9, "the printer is not reachable"),
        m("c-r1", Some("c-root"), 10, "still not reachable"),
        m("c-r2", Some("c-r1"), 11, "any news?"),
    ]
}

fn post_mail(app: &TestApp, token: &str, raw: &[u8]) -> String {
    let (s, v) = app.api("POST", "/api/mail/inbound", Some(token), Some(raw));
    assert_eq!(s, 200, "{v}");
    v["case_number"].as_str().expect("case number").to_string()
}

#[test]
fn a_message_that_ties_two_mail_only_cases_merges_them_into_the_oldest() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let [root, r1, r2] = chain();
    let a = post_mail(&app, &token, &root);
    let b = post_mail(&app, &token, &r2);
    assert_ne!(a, b, "the grandchild cannot know its case yet");
    let joined = post_mail(&app, &token, &r1);
    assert_eq!(joined, a, "the parent joins the oldest case");
    let listed = app.api_get("/api/cases?per_page=10", &token);
    assert_eq!(listed["total"], 1, "{listed}");
    let case = app.api_get(&format!("/api/cases/{a}"), &token);
    assert_eq!(case["messages"].as_array().map(Vec::len), Some(3));
    assert_eq!(case["merges"][0]["merged_number"], b.as_str());
    assert_eq!(case["merges"][0]["automatic"], true);
    // The merged number keeps working: JSON says where it went, the page redirects.
    let gone = app.api_get(&format!("/api/cases/{b}"), &token);
    assert_eq!(gone["merged_into"], a.as_str());
    let browser = app.browser();
    browser.login("wangbb@cmgos.example", crate::helpers::PASSWORD);
    let page = browser.get(&format!("/cases/{b}"));
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some(format!("/cases/{a}").as_str())
    );
    // Search and reports count it once.
    let hits = app.api_get("/api/search?q=printer", &token);
    let numbers: Vec<&str> = hits["results"]
        .as_array()
        .map(|r| r.iter().filter_map(|h| h["case_number"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(numbers, vec![a.as_str()], "{hits}");
    // A late message to the merged number's tag still lands in the survivor.
    let tagged = mail(
        &[
            ("From", "Ma Ming <ma@customer.example>"),
            ("To", "support@cmgos.example"),
            ("Subject", &format!("Re: [Case: {b}] printer")),
            ("Message-ID", "<c-tagged@customer.example>"),
            ("Date", "Tue, 02 Jul 2024 12:00:00 +0800"),
        ],
        "and now?",
    );
    assert_eq!(post_mail(&app, &token, &tagged), a);
}

#[test]
fn worked_cases_are_linked_merged_by_hand_and_an_admin_can_undo_it() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let support = app.token("wangbb@cmgos.example");
    let [root, r1, r2] = chain();
    let a = post_mail(&app, &token, &root);
    let b = post_mail(&app, &token, &r2);
    // Support answers case B before the tie is known: B has been worked.
    let (s, v) = app.api(
        "POST",
        &format!("/api/cases/{b}/replies"),
        Some(&support),
        Some(br#"{"body_text":"We are looking into it."}"#),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(post_mail(&app, &token, &r1), a);
    // Each case's count of messages, as the case list gives it (merged cases are not
    // listed: 0 for them).
    let counts = || -> (i64, i64) {
        let list = app.api_get("/api/cases?per_page=10", &token);
        let of = |n: &str| {
            list["cases"]
                .as_array()
                .and_then(|v| v.iter().find(|c| c["number"] == n))
                .map_or(0, |c| c["message_count"].as_i64().expect("message_count"))
        };
        (of(&a), of(&b))
    };
    assert_eq!(counts(), (2, 2), "root and r1; r2 and the reply");
    // Linked both ways, nothing merged.
    assert_eq!(app.api_get("/api/cases?per_page=10", &token)["total"], 2);
    let ca = app.api_get(&format!("/api/cases/{a}"), &token);
    let cb = app.api_get(&format!("/api/cases/{b}"), &token);
    assert_eq!(ca["linked"][0], b.as_str(), "{}", ca["linked"]);
    assert_eq!(cb["linked"][0], a.as_str(), "{}", cb["linked"]);
    // R&D may not merge; support may.
    let rnd = app.token("liuyu@cmgos.example");
    let body = format!(r#"{{"into":"{a}"}}"#);
    let (s, _) = app.api(
        "POST",
        &format!("/api/cases/{b}/merge"),
        Some(&rnd),
        Some(body.as_bytes()),
    );
    assert_eq!(s, 403);
    let (s, v) = app.api(
        "POST",
        &format!("/api/cases/{b}/merge"),
        Some(&support),
        Some(body.as_bytes()),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["merged_into"], a.as_str());
    let ca = app.api_get(&format!("/api/cases/{a}"), &token);
    assert_eq!(
        ca["messages"].as_array().map(Vec::len),
        Some(4),
        "3 mails and the reply"
    );
    assert_eq!(ca["outbox"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.api_get("/api/cases?per_page=10", &token)["total"], 1);
    assert_eq!(
        counts(),
        (4, 0),
        "the merged case's messages counted in the survivor"
    );
    // Support works the survivor after the merge; undo keeps that.
    let before = ca["status"].as_str().expect("status").to_string();
    let (s, v) = app.api(
        "POST",
        &format!("/api/cases/{a}/status"),
        Some(&support),
        Some(br#"{"status":"waiting_customer"}"#),
    );
    assert_eq!(s, 200, "{v}");
    assert_ne!(before, "waiting_customer");
    // Undo (admins only): B is a case of its own again, with what it held.
    let merge_id = ca["merges"][0]["id"].as_i64().expect("merge id");
    let (s, _) = app.api(
        "POST",
        &format!("/api/merges/{merge_id}/undo"),
        Some(&support),
        None,
    );
    assert_eq!(s, 403);
    let (s, v) = app.api(
        "POST",
        &format!("/api/merges/{merge_id}/undo"),
        Some(&token),
        None,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(app.api_get("/api/cases?per_page=10", &token)["total"], 2);
    assert_eq!(counts(), (2, 2), "each case its own again");
    let cb = app.api_get(&format!("/api/cases/{b}"), &token);
    assert!(cb["merged_into"].is_null(), "{cb}");
    assert_eq!(cb["messages"].as_array().map(Vec::len), Some(2));
    assert_eq!(cb["status"], "waiting_customer");
    let ca = app.api_get(&format!("/api/cases/{a}"), &token);
    assert_eq!(ca["messages"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        ca["status"], "waiting_customer",
        "what was done since the merge stays"
    );
}

/// The ids a raw message carries and references (its own Message-ID first), read from
/// its unfolded header block; ids without `@` are ignored as Casebook ignores them.
fn header_ids(raw: &[u8]) -> (Option<String>, Vec<String>) {
    let text = String::from_utf8_lossy(raw);
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .split("\n\n")
        .next()
        .unwrap_or("")
        .replace("\r\n", "\n")
        .replace("\n ", " ")
        .replace("\n\t", " ");
    let ids_in = |v: &str| -> Vec<String> {
        v.split(['<', '>', ' ', ','])
            .map(str::trim)
            .filter(|s| s.len() > 2 && s.contains('@') && !s.starts_with('@') && !s.ends_with('@'))
            .map(str::to_string)
            .collect()
    };
    let mut own = None;
    let mut refs = Vec::new();
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "message-id" => own = ids_in(value).into_iter().next(),
            "in-reply-to" | "references" => refs.extend(ids_in(value)),
            _ => {}
        }
    }
    (own, refs)
}

/// The shared corpora (real mail by others), each delivered live in five orders: the
/// same messages make the same cases in every order, and no reference-graph thread is
/// split across cases.
#[test]
fn the_shared_corpora_make_the_same_cases_in_any_order() {
    let Some(shared) = crate::helpers::shared_dir() else {
        return;
    };
    for corpus in ["cpython-email", "mail-parser", "rt-emails", "ruby-mail"] {
        let mut files = Vec::new();
        crate::corpus::message_files(&shared.join("corpus").join(corpus), &mut files);
        let raws: Vec<Vec<u8>> = files
            .iter()
            .map(|f| std::fs::read(f).expect("read"))
            .collect();
        let idx: Vec<usize> = (0..raws.len()).collect();
        let mut rev = idx.clone();
        rev.reverse();
        let orders = [
            idx.clone(),
            rev,
            shuffled(&idx, 3),
            shuffled(&idx, 77),
            shuffled(&idx, 2024),
        ];
        let mut partitions: Vec<BTreeSet<BTreeSet<String>>> = Vec::new();
        for order in &orders {
            let app = TestApp::new();
            let token = app.seed_staff();
            let app = app.start();
            // File index -> case number, for the messages placed on a case.
            let mut case_of: BTreeMap<usize, String> = BTreeMap::new();
            for &i in order {
                let (s, v) = app.api("POST", "/api/mail/inbound", Some(&token), Some(&raws[i]));
                assert_eq!(s, 200, "{corpus} {}: {v}", files[i].display());
                if let Some(n) = v["case_number"].as_str() {
                    case_of.insert(i, n.to_string());
                }
            }
            // Cases as they stand now (merges followed).
            let mut survivor: BTreeMap<String, String> = BTreeMap::new();
            for n in case_of.values() {
                if !survivor.contains_key(n) {
                    let v = app.api_get(&format!("/api/cases/{n}"), &token);
                    let s = v["merged_into"].as_str().unwrap_or(n).to_string();
                    survivor.insert(n.clone(), s);
                }
            }
            let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (i, n) in &case_of {
                groups
                    .entry(survivor[n].clone())
                    .or_default()
                    .insert(files[*i].display().to_string());
            }
            // No reference-graph thread split: placed messages that reference each
            // other, or a common ancestor, share a case.
            // (Distinct messages that only reuse one Message-ID, as test fixtures do, are
            // not a thread: an id counts once something references it.)
            let mut by_id: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            let mut referenced: BTreeSet<String> = BTreeSet::new();
            for i in case_of.keys() {
                let (own, refs) = header_ids(&raws[*i]);
                referenced.extend(refs.iter().cloned());
                for id in own.into_iter().chain(refs) {
                    by_id.entry(id).or_default().push(*i);
                }
            }
            for (id, members) in by_id.iter().filter(|(id, _)| referenced.contains(*id)) {
                let cases: BTreeSet<&String> =
                    members.iter().map(|i| &survivor[&case_of[i]]).collect();
                assert_eq!(
                    cases.len(),
                    1,
                    "{corpus}: the thread of {id} split into {cases:?}"
                );
            }
            partitions.push(groups.into_values().collect());
        }
        for (k, p) in partitions.iter().enumerate().skip(1) {
            assert_eq!(p, &partitions[0], "{corpus}: order {k} made other cases");
        }
        eprintln!(
            "{corpus}: {} files, {} cases in each of 5 orders",
            raws.len(),
            partitions[0].len()
        );
    }
}

/// A database filled before ties were joined: one thread held apart in two cases.
/// `casebook reanalyze` joins them as ingest does now.
#[test]
fn reanalyze_joins_what_an_earlier_version_held_apart() {
    use diesel::{Connection, RunQueryDsl};
    let app = TestApp::new();
    let token = app.seed_staff();
    let dir = app.dir.path().join("chain");
    std::fs::create_dir_all(&dir).expect("dir");
    for (i, raw) in chain().iter().enumerate() {
        std::fs::write(dir.join(format!("{i}.eml")), raw).expect("write");
    }
    app.cli_ok(&["ingest", &dir.display().to_string()], None);
    // What an earlier version would have left: the grandchild in a case of its own.
    let split = [
        "INSERT INTO cases (number, subject, status, priority, tracking_token, language, \
         created_at, updated_at, imported) VALUES ('CAS-00001-SPLIT1', 'printer', 'open', \
         'normal', 'CMIT:9999999', 'en', '2024-07-02 03:00:00', '2024-07-02 03:00:00', \
         FALSE)",
        "UPDATE messages SET case_id = (SELECT id FROM cases WHERE number = 'CAS-00001-SPLIT1') \
         WHERE message_id = 'c-r2@customer.example'",
    ];
    match &app.database_url {
        Some(url) => {
            let mut c = diesel::PgConnection::establish(url).expect("pg");
            for q in split {
                diesel::sql_query(q).execute(&mut c).expect("split");
            }
        }
        None => {
            let path = app.data_dir().join("casebook.sqlite3");
            let mut c =
                diesel::SqliteConnection::establish(&path.display().to_string()).expect("sqlite");
            for q in split {
                diesel::sql_query(q).execute(&mut c).expect("split");
            }
        }
    }
    let out = app.cli_ok(&["reanalyze"], None);
    assert!(out.starts_with("1 group"), "{out}");
    let app = app.start();
    let listed = app.api_get("/api/cases?per_page=10", &token);
    assert_eq!(listed["total"], 1, "{listed}");
    let number = listed["cases"][0]["number"].as_str().expect("number");
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    assert_eq!(case["messages"].as_array().map(Vec::len), Some(3));
    let gone = app.api_get("/api/cases/CAS-00001-SPLIT1", &token);
    assert_eq!(gone["merged_into"], number);
}

/// An mbox whose messages stand newest first is filed in each thread's own order too.
#[test]
fn an_mbox_is_filed_in_each_threads_own_order() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let [root, r1, r2] = chain();
    let mut mbox = Vec::new();
    for m in [&r2, &r1, &root] {
        mbox.extend_from_slice(b"From ma@customer.example Tue Jul  2 09:00:00 2024\n");
        mbox.extend_from_slice(
            &String::from_utf8_lossy(m)
                .replace("\r\n", "\n")
                .into_bytes(),
        );
        mbox.extend_from_slice(b"\n");
    }
    let path = app.dir.path().join("newest-first.mbox");
    std::fs::write(&path, &mbox).expect("write");
    app.cli_ok(&["ingest", &path.display().to_string()], None);
    let app = app.start();
    let listed = app.api_get("/api/cases?per_page=5", &token);
    assert_eq!(listed["total"], 1, "{listed}");
    let number = listed["cases"][0]["number"].as_str().expect("number");
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    assert!(
        case["created_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2024-07-02T01:00:00")),
        "{}",
        case["created_at"]
    );
    assert!(
        case["merges"].as_array().is_some_and(Vec::is_empty),
        "filed in order, nothing to merge"
    );
}

/// Live mail from someone else cannot merge two customers' cases by naming their
/// Message-IDs: the cases are only linked. Work on a merged number is refused, and
/// cases cannot be merged both ways.
#[test]
fn an_outsiders_mail_only_links_and_a_merged_case_takes_no_work() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let support = app.token("wangbb@cmgos.example");
    let one = |id: &str, from: &str| {
        mail(
            &[
                ("From", from),
                ("To", "support@cmgos.example"),
                ("Subject", "activation fails"),
                ("Message-ID", &format!("<{id}>")),
                ("Date", "Tue, 02 Jul 2024 09:00:00 +0800"),
            ],
            "activation fails",
        )
    };
    let a = post_mail(&app, &token, &one("a@one.example", "A <a@one.example>"));
    let b = post_mail(&app, &token, &one("b@two.example", "B <b@two.example>"));
    let forged = mail(
        &[
            ("From", "Mallory <m@evil.example>"),
            ("To", "support@cmgos.example"),
            ("Subject", "Re: activation fails"),
            ("Message-ID", "<m@evil.example>"),
            ("In-Reply-To", "<a@one.example>"),
            ("References", "<a@one.example> <b@two.example>"),
            ("Date", "Tue, 02 Jul 2024 10:00:00 +0800"),
        ],
        "gotcha",
    );
    assert_eq!(post_mail(&app, &token, &forged), a);
    assert_eq!(app.api_get("/api/cases?per_page=10", &token)["total"], 2);
    let ca = app.api_get(&format!("/api/cases/{a}"), &token);
    assert_eq!(ca["linked"][0], b.as_str(), "{}", ca["linked"]);
    // Merged by hand; then the other way round is refused, and so is work on B.
    let body = format!(r#"{{"into":"{a}"}}"#);
    let (s, v) = app.api(
        "POST",
        &format!("/api/cases/{b}/merge"),
        Some(&support),
        Some(body.as_bytes()),
    );
    assert_eq!(s, 200, "{v}");
    let back = format!(r#"{{"into":"{b}"}}"#);
    let (s, _) = app.api(
        "POST",
        &format!("/api/cases/{a}/merge"),
        Some(&support),
        Some(back.as_bytes()),
    );
    assert_eq!(s, 400);
    let (s, _) = app.api(
        "POST",
        &format!("/api/cases/{b}/status"),
        Some(&support),
        Some(br#"{"status":"open"}"#),
    );
    assert_eq!(s, 400);
    assert_eq!(app.api_get("/api/cases?per_page=10", &token)["total"], 1);
}

/// On PostgreSQL every stored byte is in the database: a second server on another
/// machine (a data dir of its own) serves the attachment and the large raw message the
/// first one received.
#[test]
fn a_second_server_elsewhere_reads_every_stored_byte_on_postgresql() {
    let app = TestApp::new();
    if app
        .pg_url_or_skip("the embedded default keeps files on its one machine")
        .is_none()
    {
        return;
    }
    let token = app.seed_staff();
    let app = app.start();
    // A log bundle over 256 KiB, so the raw message is a stored file too.
    let (raw, log) = crate::helpers::big_log_mail("blob-1@bank.example");
    let (s, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&token),
        Some(raw.as_bytes()),
    );
    assert_eq!(s, 200, "{v}");
    let number = v["case_number"].as_str().expect("case").to_string();
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    let att = case["attachments"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{case}"));
    let elsewhere = app.server_elsewhere(2);
    let b = crate::helpers::Browser {
        agent: ureq::AgentBuilder::new().redirects(0).build(),
        base: elsewhere.base.clone(),
    };
    b.login("admin@casebook.example", crate::helpers::PASSWORD);
    let got = b.get(&format!("/cases/{number}/attachments/{att}"));
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(
        got.body.trim_end(),
        log.trim_end(),
        "the same bytes from the other machine"
    );
    let q = app.api_get("/api/quarantine", &token);
    assert_eq!(q["quarantine"], serde_json::json!([]), "{q}");
    // The raw message (stored as a file, not inline) too: the first one received in
    // this fresh database.
    let r = b.get("/admin/raw/1");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body.len(),
        raw.len(),
        "the raw message from the other machine"
    );
    // Nothing of it is in the second machine's data dir.
    let files = crate::helpers::files_under(&app.dir.path().join("machine2"));
    assert!(files.iter().all(|f| !f.contains("blobs/")), "{files:?}");
}

/// A bulk import whose threads cross from one writer to another (PostgreSQL files with
/// two, by each message's oldest reference): every message references two
/// never-received ancestors, its own thread's and another's, in a shuffled order, so
/// that writers meet on each other's thread locks and case rows (deadlocks the server
/// breaks, batches filed again). The cases are the groups the references tie together,
/// each one case, as one writer makes them.
#[test]
fn a_bulk_import_whose_threads_cross_writers_makes_the_cases_the_references_tie() {
    const THREADS: usize = 300;
    const DEPTH: usize = 5;
    let app = TestApp::new();
    let token = app.seed_staff();
    let dir = app.dir.path().join("crossing");
    std::fs::create_dir_all(&dir).expect("dir");
    let other = |t: usize| (t * 7 + 3) % THREADS;
    // The groups the ghosts tie together (union-find over threads).
    let mut parent: Vec<usize> = (0..THREADS).collect();
    fn root(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for t in 0..THREADS {
        let (a, b) = (root(&mut parent, t), root(&mut parent, other(t)));
        parent[a] = b;
    }
    let mut messages: Vec<(usize, Vec<u8>)> = Vec::new();
    for t in 0..THREADS {
        for k in 0..DEPTH {
            let id = format!("<t{t}m{k}@crossing.example>");
            let mut refs = vec![
                format!("<g{t}@crossing.example>"),
                format!("<g{}@crossing.example>", other(t)),
            ];
            if k > 0 {
                refs.push(format!("<t{t}m{}@crossing.example>", k - 1));
            }
            let refs = shuffled(&refs, (t * DEPTH + k + 1) as u64).join(" ");
            let subject = format!("Re: printer {t} offline after update");
            let date = format!("Mon, 01 Jul 2024 1{k}:00:00 +0800");
            let from = if k % 2 == 0 {
                "Ma Ming <ma@customer.example>"
            } else {
                "Li Lei <li@cmgos.example>"
            };
            let headers = [
                ("From", from),
                ("To", "support@cmgos.example"),
                ("Subject", subject.as_str()),
                ("Message-ID", id.as_str()),
                ("References", refs.as_str()),
                ("Date", date.as_str()),
            ];
            let group = root(&mut parent, t);
            messages.push((group, mail(&headers, &format!("Step {k} of {t}.\n"))));
        }
    }
    let groups: BTreeSet<usize> = messages.iter().map(|(g, _)| *g).collect();
    assert!(
        groups.len() > 10 && groups.len() < THREADS,
        "{}",
        groups.len()
    );
    let order = shuffled(&(0..messages.len()).collect::<Vec<_>>(), 11);
    let mut group_of_file: BTreeMap<String, usize> = BTreeMap::new();
    for (n, &i) in order.iter().enumerate() {
        let path = dir.join(format!("{n:04}.eml"));
        std::fs::write(&path, &messages[i].1).expect("write");
        group_of_file.insert(path.display().to_string(), messages[i].0);
    }
    let out = app.cli_ok(
        &[
            "ingest",
            "--json",
            "--batch",
            "1000",
            &dir.display().to_string(),
        ],
        None,
    );
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert_eq!(lines.len(), messages.len(), "{out}");
    let app = app.start();
    let mut survivor: BTreeMap<String, String> = BTreeMap::new();
    let mut cases_of_group: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for l in &lines {
        assert!(
            l["outcome"] == "created" || l["outcome"] == "threaded",
            "{l}"
        );
        let source = l["source"].as_str().expect("source");
        let n = l["case_number"].as_str().expect("case number").to_string();
        let s = survivor
            .entry(n.clone())
            .or_insert_with(|| {
                let v = app.api_get(&format!("/api/cases/{n}"), &token);
                v["merged_into"].as_str().unwrap_or(&n).to_string()
            })
            .clone();
        cases_of_group
            .entry(group_of_file[source])
            .or_default()
            .insert(s);
    }
    for (g, cases) in &cases_of_group {
        assert_eq!(cases.len(), 1, "group {g} split into {cases:?}");
    }
    let all: BTreeSet<&String> = cases_of_group.values().flatten().collect();
    assert_eq!(all.len(), groups.len(), "two groups share a case");
    let listed = app.api_get("/api/cases?per_page=1", &token);
    assert_eq!(listed["total"], groups.len(), "{listed}");
}

/// History keeps its own clock whatever order it is filed in: the same two-message
/// thread imported twice, once whole and once in two runs, the support engineer's
/// answer first (a Sent folder, then the Inbox), ends the same (status, first customer
/// mail, first response, opening time).
#[test]
fn history_filed_out_of_its_time_order_ends_as_history_filed_in_it() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let first = app.dir.path().join("sent");
    let second = app.dir.path().join("inbox");
    for d in [&first, &second] {
        std::fs::create_dir_all(d).expect("dir");
    }
    for thread in ["inorder", "reversed"] {
        let root = format!("<{thread}-1@customer.example>");
        let question = mail(
            &[
                ("From", "Ma Ming <ma@customer.example>"),
                ("To", "support@cmgos.example"),
                ("Subject", &format!("{thread}: activation fails")),
                ("Message-ID", &root),
                ("Date", "Mon, 01 Jul 2024 09:00:00 +0800"),
            ],
            "Activation fails with 0xC004F074.\n",
        );
        let answer = mail(
            &[
                ("From", "Wang Binbin <wangbb@cmgos.example>"),
                ("To", "ma@customer.example"),
                ("Subject", &format!("Re: {thread}: activation fails")),
                ("Message-ID", &format!("<{thread}-2@cmgos.example>")),
                ("In-Reply-To", &root),
                ("References", &root),
                ("Date", "Mon, 01 Jul 2024 11:00:00 +0800"),
            ],
            "Please send the activation log.\n",
        );
        let later = if thread == "inorder" { &first } else { &second };
        std::fs::write(first.join(format!("{thread}-answer.eml")), answer).expect("write");
        std::fs::write(later.join(format!("{thread}-question.eml")), question).expect("write");
    }
    let mut out = app.cli_ok(&["ingest", "--json", &first.display().to_string()], None);
    out += &app.cli_ok(&["ingest", "--json", &second.display().to_string()], None);
    let app = app.start();
    let listed = app.api_get("/api/cases?per_page=10", &token);
    assert_eq!(listed["total"], 2, "{listed}\n{out}");
    let case = |thread: &str| {
        let c = listed["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .find(|c| c["subject"].as_str().is_some_and(|s| s.starts_with(thread)))
            .unwrap_or_else(|| panic!("no case for {thread}: {listed}"));
        app.api_get(
            &format!("/api/cases/{}", c["number"].as_str().expect("number")),
            &token,
        )
    };
    let (inorder, reversed) = (case("inorder"), case("reversed"));
    assert_eq!(inorder["status"], "waiting_customer", "{inorder}");
    for field in [
        "status",
        "first_customer_at",
        "first_response_at",
        "closed_at",
        "created_at",
    ] {
        assert_eq!(inorder[field], reversed[field], "{field}: {reversed}");
    }
    assert!(
        inorder["first_response_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("2024-07-01T03:00")),
        "{inorder}"
    );
}

/// A long case's first screen shows its first message and its newest few, and reads
/// the newest audit events only; it says there are more, and brings them on request:
/// earlier messages a page at a time, the whole thread and trail at once (issue 15:
/// the first screen of a case of thousands of messages costs the same as any other's).
#[test]
fn a_long_case_shows_its_newest_messages_and_audit_events_and_the_rest_on_request() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let m = |i: u32| {
        let mid = format!("<audit-{i}@customer.example>");
        let date = format!("Mon, 2 Mar 2026 {:02}:{:02}:00 +0000", 8 + i / 60, i % 60);
        let mut h = vec![
            ("From", "Li Lei <lilei@customer.example>"),
            ("To", "support@cmgos.example"),
            ("Subject", "activation fails again"),
            ("Message-ID", &mid),
            ("Date", &date),
        ];
        let root = "<audit-0@customer.example>".to_string();
        if i > 0 {
            h.push(("In-Reply-To", &root));
        }
        mail(&h, &format!("message {i}"))
    };
    let number = post_mail(&app, &token, &m(0));
    for i in 1..=60 {
        assert_eq!(post_mail(&app, &token, &m(i)), number, "reply {i}");
    }
    let first = app.api_get(&format!("/api/cases/{number}"), &token);
    let events = |c: &serde_json::Value| c["audit"].as_array().map_or(0, Vec::len);
    assert_eq!(events(&first), 50, "the newest 50");
    assert_eq!(first["audit_more"], true);
    let whole = app.api_get(&format!("/api/cases/{number}?thread=all"), &token);
    assert!(
        events(&whole) > 61,
        "one event a message and more: {}",
        events(&whole)
    );
    assert_eq!(whole["audit_more"], false);
    assert_eq!(whole["audit"][0], first["audit"][0], "newest first in both");
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let page = b.get(&format!("/cases/{number}"));
    assert!(
        page.body.contains(&format!(
            "id=\"audit-more\" href=\"/cases/{number}?thread=all#h-audit\""
        )),
        "the page links to the rest"
    );
    assert!(page.body.contains("50+ "), "the panel says there are more");
    let page = b.get(&format!("/cases/{number}?thread=all"));
    assert!(!page.body.contains("id=\"audit-more\""));

    // The thread: the first message and the newest 20 on the first screen.
    let bodies = |c: &serde_json::Value| -> Vec<String> {
        c["messages"]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|m| m["body_text"].as_str().unwrap_or("").trim().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let want = |range: std::ops::RangeInclusive<u32>| -> Vec<String> {
        std::iter::once("message 0".to_string())
            .chain(range.map(|i| format!("message {i}")))
            .collect()
    };
    assert_eq!(bodies(&first), want(41..=60), "the first and the newest 20");
    assert_eq!(first["message_count"], 61);
    assert_eq!(bodies(&whole).len(), 61);
    let wider = app.api_get(&format!("/api/cases/{number}?newest=30"), &token);
    assert_eq!(bodies(&wider), want(31..=60), "?newest=30");
    assert_eq!(wider["message_count"], 61);
    assert_eq!(
        wider["audit"].as_array().map_or(0, Vec::len),
        50,
        "a wider window keeps the first screen's audit panel"
    );
    let page = b.get(&format!("/cases/{number}"));
    let articles = |p: &str| p.matches("<article class=\"msg").count();
    assert_eq!(articles(&page.body), 21);
    assert!(
        page.body.contains(&format!(
            "id=\"thread-earlier\" href=\"/cases/{number}?newest=60#m2\""
        )),
        "40 earlier messages a click away"
    );
    assert!(page.body.contains("(+40)"));
    assert!(page
        .body
        .contains(&format!("href=\"/cases/{number}?thread=all#h-thread\"")));
    let page = b.get(&format!("/cases/{number}?newest=60"));
    assert_eq!(articles(&page.body), 61, "every message now");
    assert!(!page.body.contains("id=\"thread-folded\""));
    let page = b.get(&format!("/cases/{number}?newest=45"));
    assert_eq!(articles(&page.body), 46);
    assert!(
        page.body.contains(&format!("{number}?newest=60#m2\"")) && page.body.contains("(+15)"),
        "the last step shows what is left"
    );
    assert_eq!(b.status_only(&format!("/cases/{number}?newest=many")), 400);
}
