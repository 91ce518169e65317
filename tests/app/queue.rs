//! The queue over HTTP past its count's cap: every case reached page by page, forwards
//! and backwards, in each order that pages by place, with many cases sharing one time.

use crate::helpers::{mail, TestApp, PASSWORD};
use std::collections::HashSet;

/// `n` single-message cases whose times come in threes (equal times are settled by the
/// case's id, so the pager must not lose or repeat any of them).
fn many_cases_mbox(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let minute = i / 3;
        let (h, m) = (9 + minute / 60, minute % 60);
        out.extend_from_slice(b"From q@queue.example Tue Jul  2 09:00:00 2024\n");
        out.extend_from_slice(&mail(
            &[
                ("From", &format!("user{i}@customer{}.example", i % 7)),
                ("To", "support@cmgos.example"),
                ("Subject", &format!("Printer {i} not reachable")),
                ("Message-ID", &format!("<queue{i}@queue.example>")),
                ("Date", &format!("Tue, 02 Jul 2024 {h:02}:{m:02}:00 +0800")),
            ],
            &format!("The printer {i} is not reachable."),
        ));
        out.extend_from_slice(b"\n");
    }
    out
}

/// The case numbers a queue page lists, in order.
fn numbers(html: &str) -> Vec<String> {
    html.split("<td><a href=\"/cases/")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect()
}

/// The pager's link that ends with `→` (next) or starts with `←` (previous).
fn pager_link(html: &str, next: bool) -> Option<String> {
    let pager = &html[html.find("class=\"pager\"").unwrap_or(0)..];
    pager.split("<a href=\"").skip(1).find_map(|s| {
        let (href, rest) = s.split_once("\">")?;
        let label = rest.split("</a>").next()?;
        let wanted = if next {
            label.ends_with('→')
        } else {
            label.starts_with('←')
        };
        wanted.then(|| href.replace("&#38;", "&").replace("&amp;", "&"))
    })
}

#[test]
fn the_queue_pages_through_every_case_by_place_past_its_count() {
    const CASES: usize = 1_130;
    let app = TestApp::new();
    let token = app.seed_staff();
    let mbox = app.dir.path().join("many.mbox");
    std::fs::write(&mbox, many_cases_mbox(CASES)).expect("write mbox");
    app.cli_ok(&["ingest", &mbox.display().to_string()], None);
    let app = app.start();
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);

    for sort in ["activity", "age"] {
        // Forwards from the first page to the last.
        let mut pages: Vec<Vec<String>> = Vec::new();
        let mut at = format!("/cases?status=&sort={sort}");
        loop {
            let page = b.get(&at);
            assert_eq!(page.status, 200, "{at}");
            if pages.is_empty() {
                assert!(
                    page.body.contains(">(1000+)<"),
                    "the count stops at its cap"
                );
            }
            let rows = numbers(&page.body);
            assert!(
                !rows.is_empty() && rows.len() <= 50,
                "{at}: {} rows",
                rows.len()
            );
            pages.push(rows);
            match pager_link(&page.body, true) {
                Some(next) => {
                    assert!(next.contains("after="), "{sort}: by place: {next}");
                    at = next;
                }
                None => break,
            }
            assert!(
                pages.len() < 40,
                "{sort}: the pager does not end: {at} {:?}",
                &pages[pages.len() - 2..]
            );
        }
        let all: Vec<&String> = pages.iter().flatten().collect();
        let unique: HashSet<&String> = all.iter().copied().collect();
        assert_eq!(all.len(), CASES, "{sort}: every case once");
        assert_eq!(unique.len(), CASES, "{sort}: no case twice");
        assert_eq!(pages.len(), CASES.div_ceil(50));

        // Backwards from the last page: the same pages.
        let mut back: Vec<Vec<String>> = vec![numbers(&b.get(&at).body)];
        while let Some(prev) = pager_link(&b.get(&at).body, false) {
            at = prev;
            back.push(numbers(&b.get(&at).body));
            assert!(
                back.len() <= pages.len(),
                "{sort}: the pager goes back too far"
            );
        }
        back.reverse();
        assert_eq!(back, pages, "{sort}: back the way it came");
    }

    // The API: `next_after` leads through every case too; a bad place is a 400.
    let mut seen = HashSet::new();
    let mut path = "/api/cases?per_page=200".to_string();
    loop {
        let v = app.api_get(&path, &token);
        for c in v["cases"].as_array().expect("cases") {
            assert!(seen.insert(c["number"].as_str().expect("number").to_string()));
        }
        match v["next_after"].as_str() {
            Some(after) => path = format!("/api/cases?per_page=200&after={after}"),
            None => {
                assert_eq!(v["more"], false);
                break;
            }
        }
    }
    assert_eq!(seen.len(), CASES);
    let (status, _) = app.api("GET", "/api/cases?after=yesterday", Some(&token), None);
    assert_eq!(status, 400);
}
