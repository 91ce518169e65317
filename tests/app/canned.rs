//! Canned replies over HTTP: shared and personal, filled from the case, suggested for
//! the case's codes, on the error code's page, and who may change what.

use crate::helpers::{csrf_in, fixture, TestApp, PASSWORD};
use serde_json::{json, Value};

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

fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    app.api("POST", path, Some(token), Some(body.to_string().as_bytes()))
}

#[test]
fn a_template_is_filled_from_the_case_and_suggested_for_its_code() {
    let (app, _admin) = seeded();
    let wang = app.token("wangbb@cmgos.example");
    let liu = app.token("liuyu@cmgos.example");
    let (s, shared) = post(
        &app,
        &wang,
        "/api/canned",
        json!({
            "name": "激活记录未找到",
            "language": "zh-CN",
            "code": "c002001b",
            "shared": true,
            "body": "您好 {contact}：\n案例 {case_number}（{customer}），序列号 {serials}。\n错误：{codes}\n问题定义：{scope}\n{engineer} {unknown}"
        }),
    );
    assert_eq!(s, 200, "{shared}");
    assert_eq!(shared["code"], "0xC002001B", "normalised: {shared}");
    let (s, own) = post(
        &app,
        &wang,
        "/api/canned",
        json!({"name": "Thanks", "language": "en", "body": "Thank you, {contact}.", "shared": false}),
    );
    assert_eq!(s, 200, "{own}");

    let list = app.api_get(&format!("/api/canned?case={SEED}"), &wang);
    let items = list["canned"].as_array().expect("canned");
    assert_eq!(items.len(), 2, "{list}");
    // The one for the case's code comes first, suggested, every variable filled.
    assert_eq!(items[0]["name"], "激活记录未找到", "{list}");
    assert_eq!(items[0]["suggested"], true);
    let text = items[0]["text"].as_str().expect("text");
    for want in [
        SEED,
        "中银金融科技有限公司",
        "T102210000943",
        "0xC002001B",
        "Wang Binbin",
        "{unknown}",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    assert!(
        !text.contains("{case_number}") && !text.contains("{serials}"),
        "{text}"
    );
    assert_eq!(items[1]["suggested"], false);

    // R&D keeps its own templates but not the team's; nobody sees another's own.
    let (s, _) = post(
        &app,
        &liu,
        "/api/canned",
        json!({"name": "x", "body": "y", "shared": true}),
    );
    assert_eq!(s, 403);
    let (s, _) = post(
        &app,
        &liu,
        &format!("/api/canned/{}", shared["id"]),
        json!({"name": "mine now", "body": "z"}),
    );
    assert_eq!(s, 403);
    let (s, _) = post(
        &app,
        &liu,
        &format!("/api/canned/{}/delete", own["id"]),
        json!({}),
    );
    assert_eq!(s, 404);
    let liu_list = app.api_get("/api/canned", &liu);
    assert_eq!(
        liu_list["canned"].as_array().map(Vec::len),
        Some(1),
        "{liu_list}"
    );
    let (s, _) = post(&app, &wang, "/api/canned", json!({"name": "", "body": "x"}));
    assert_eq!(s, 400);
    let (s, _) = post(
        &app,
        &wang,
        "/api/canned",
        json!({"name": "bad code", "body": "x", "code": "not a code"}),
    );
    assert_eq!(s, 400);

    // In the browser: the picker beside the reply box holds the filled text; the error
    // code's page lists the team's template; a new one from the form.
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let page = b.get(&format!("/cases/{SEED}"));
    assert!(page.body.contains("class=\"canned-pick\""), "{}", page.body);
    assert!(
        page.body.contains("T102210000943。"),
        "filled: {}",
        page.body
    );
    let code = b.get("/errors/0xC002001B");
    assert!(code.body.contains("激活记录未找到"), "{}", code.body);
    let form = b.get("/canned?code=0xC002001B");
    assert!(form.body.contains("value=\"0xC002001B\""), "{}", form.body);
    let csrf = csrf_in(&form.body).expect("csrf");
    let r = b.post(
        "/canned",
        &[
            ("csrf_token", &csrf),
            ("name", "请提供日志"),
            ("language", "zh-CN"),
            ("code", ""),
            ("body", "请提供 {serials} 的日志。"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let mine = app.api_get("/api/canned", &wang);
    assert_eq!(mine["canned"].as_array().map(Vec::len), Some(3), "{mine}");
    let (s, _) = post(
        &app,
        &wang,
        &format!("/api/canned/{}/delete", shared["id"]),
        json!({}),
    );
    assert_eq!(s, 200);
    let code = b.get("/errors/0xC002001B");
    assert!(!code.body.contains("激活记录未找到"));
}
