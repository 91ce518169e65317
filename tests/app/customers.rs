//! A customer's page over HTTP: its cases, contacts, serials, codes.

use crate::helpers::{fixture, TestApp, PASSWORD};
use serde_json::json;

const SEED: &str = "CAS-06496-T2V9C6";

fn seeded() -> (TestApp, String) {
    let app = TestApp::new();
    let admin = app.seed_staff();
    app.cli_ok(
        &[
            "ingest",
            "--json",
            &fixture("seed-export.txt").display().to_string(),
        ],
        None,
    );
    (app.start(), admin)
}

#[test]
fn a_customer_page_gathers_its_cases_serials_and_codes() {
    let (app, admin) = seeded();
    let name = "中银金融科技有限公司";
    let enc: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
    let c = app.api_get(&format!("/api/customers/{enc}"), &admin);
    assert_eq!(c["name"], name, "{c}");
    assert_eq!(c["cases"][0]["number"], SEED, "{c}");
    assert!(
        c["serials"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x == "T102210000943")),
        "{c}"
    );
    assert_eq!(
        c["activation_records"],
        json!([]),
        "no record for the seed's serial"
    );
    assert_eq!(c["codes"][0][0], "0xC002001B", "{c}");
    // The seed is support's side of the thread: no customer address yet. The customer
    // writes again (on the closed case: a new, linked case of the same customer).
    let raw = crate::helpers::mail(
        &[
            ("From", "Ma Xiansheng <ma@bank.example>"),
            ("To", "support@cmgos.example"),
            ("Subject", "Re: [案例号: CAS-06496-T2V9C6] 联想OEM用户-中银金融科技有限公司用户反馈激活失败问题"),
            ("Message-ID", "<again-1@bank.example>"),
        ],
        "激活仍然失败。",
    );
    let (s, v) = app.api("POST", "/api/mail/inbound", Some(&admin), Some(&raw));
    assert_eq!(s, 200, "{v}");
    let c = app.api_get(&format!("/api/customers/{enc}"), &admin);
    assert_eq!(
        c["contacts"][0]["address"], "ma@bank.example",
        "{c} after {v}"
    );
    assert_eq!(c["contacts"][0]["name"], "Ma Xiansheng", "{c}");
    // The new case continues the closed one: the same customer's, on the same page.
    assert_eq!(c["cases"].as_array().map(Vec::len), Some(2), "{c}");
    assert_eq!(c["open"], 1, "{c}");
    let (s, _) = app.api("GET", "/api/customers/nobody", Some(&admin), None);
    assert_eq!(s, 404);
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let case = b.get(&format!("/cases/{SEED}"));
    assert!(
        case.body.contains(&format!("/customers/{enc}")),
        "the case links to its customer"
    );
    let page = b.get(&format!("/customers/{enc}"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("T102210000943") && page.body.contains("0xC002001B"));
}
