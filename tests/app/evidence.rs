//! Evidence on a case: activation records, decoded codes with R&D notes, similar cases.

use crate::helpers::{fixture, mail, TestApp, PASSWORD};
use serde_json::json;

fn seed_app() -> (TestApp, String) {
    let app = TestApp::new();
    let token = app.seed_staff();
    app.cli_ok(
        &["ingest", &fixture("seed-export.txt").display().to_string()],
        None,
    );
    (app, token)
}

#[test]
fn no_activation_record_then_csv_import_links_it() {
    let (app, token) = seed_app();
    let app = app.start();
    let k = app.api_get("/api/cases/CAS-06496-T2V9C6", &token);
    assert_eq!(k["activation_records"], json!([]));
    assert_eq!(k["activation_missing"], json!(["T102210000943"]));
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    let page = b.get("/cases/CAS-06496-T2V9C6");
    assert!(
        page.body.contains("激活平台中没有此序列号的激活记录")
            && page.body.contains("T102210000943"),
        "no-record notice"
    );

    let csv = "serial_number,product_key,machine_serial,oem,customer,product,activated_at,method,result,error_code\n\
               T102210000943,VK7JG-NPHTM-C97JM-9MPGT-3V66T,PF2ABC12,联想,中银金融科技有限公司,Pro,2022-06-20 10:00:00,online,failure,0xC002001B\n\
               ,KEY,,,,,,,,\n\
               T999999999999,,,,,,not-a-date,online,success,\n\
               T888888888888,,,,,,2022-01-01,fax,success,\n\
               T777777777777,,,,,,2022-01-01T08:00:00Z,kms,success,\n";
    let path = app.dir.path().join("records.csv");
    std::fs::write(&path, format!("\u{FEFF}{csv}")).expect("write csv");
    let out = app.cli_ok(
        &[
            "activation",
            "import",
            "--json",
            path.to_str().expect("path"),
        ],
        None,
    );
    let r: serde_json::Value = serde_json::from_str(out.trim()).expect("json report");
    assert_eq!(r["rows"], 5);
    assert_eq!(r["imported"], 2);
    let lines: Vec<i64> = r["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e[0].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(
        lines,
        vec![3, 4, 5],
        "bad rows reported with their line numbers: {r}"
    );
    // Idempotent.
    let again: serde_json::Value = serde_json::from_str(
        app.cli_ok(
            &[
                "activation",
                "import",
                "--json",
                path.to_str().expect("path"),
            ],
            None,
        )
        .trim(),
    )
    .expect("json");
    assert_eq!(again["imported"], 0);
    assert_eq!(again["duplicates"], 2);
    let k = app.api_get("/api/cases/CAS-06496-T2V9C6", &token);
    let recs = k["activation_records"].as_array().expect("records");
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["product_key"], "*****-*****-*****-*****-3V66T");
    assert_eq!(recs[0]["method"], "online");
    assert_eq!(recs[0]["error_code"], "0xC002001B");
    assert_eq!(recs[0]["activated_at"], "2022-06-20T10:00:00Z");
    assert_eq!(k["activation_missing"], json!([]));
    assert!(
        !serde_json::to_string(&k).expect("json").contains("VK7JG"),
        "product key masked"
    );
}

#[test]
fn platform_push_links_on_the_next_mail() {
    let app = TestApp::new();
    let token = app.seed_staff();
    let app = app.start();
    let rnd = app.token("liuyu@cmgos.example");
    let rec = json!({"serial_number": "T555555555555", "product_key": "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE", "oem": "Dell",
        "activated_at": "2024-07-01T09:00:00+08:00", "method": "phone", "result": "success"});
    let (s, _) = app.api(
        "POST",
        "/api/activation-records",
        Some(&rnd),
        Some(rec.to_string().as_bytes()),
    );
    assert_eq!(s, 403, "only admins push records");
    let (s, v) = app.api(
        "POST",
        "/api/activation-records",
        Some(&token),
        Some(rec.to_string().as_bytes()),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["imported"], 1);
    let batch = json!([rec, {"serial_number": "", "method": "online"}, {"serial_number": "T444444444444", "method": "kms"}]);
    let (s, v) = app.api(
        "POST",
        "/api/activation-records",
        Some(&token),
        Some(batch.to_string().as_bytes()),
    );
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["imported"], 1);
    assert_eq!(v["duplicates"], 1);
    assert_eq!(v["errors"][0]["index"], 1);
    // A customer mail naming the serial links the record.
    let (s, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&token),
        Some(&mail(
            &[
                ("From", "it@corp.example"),
                ("Subject", "激活问题"),
                ("Message-ID", "<p1@corp.example>"),
            ],
            "序列号：T555555555555，激活失败",
        )),
    );
    assert_eq!(s, 200);
    let case = app.api_get(
        &format!("/api/cases/{}", v["case_number"].as_str().expect("number")),
        &token,
    );
    assert_eq!(
        case["activation_records"][0]["serial_number"],
        "T555555555555"
    );
    assert_eq!(
        case["activation_records"][0]["product_key"],
        "*****-*****-*****-*****-EEEEE"
    );
}

#[test]
fn rnd_note_on_a_code_and_similar_cases() {
    let (app, token) = seed_app();
    let app = app.start();
    let rnd = app.browser();
    rnd.login("liuyu@cmgos.example", PASSWORD);
    let csrf = rnd.csrf("/errors/0xC002001B");
    let note = "在激活客户端中表示 WMI 查询 BIOS 序列号失败（系统环境损坏）";
    let r = rnd.post(
        "/errors/0xC002001B/note",
        &[("note", note), ("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 303);
    let support = app.browser();
    support.login("wangbb@cmgos.example", PASSWORD);
    let csrf = support.csrf("/errors/0xC002001B");
    assert_eq!(
        support
            .post(
                "/errors/0xC002001B/note",
                &[("note", "x"), ("csrf_token", &csrf)]
            )
            .status,
        403,
        "support cannot edit R&D notes"
    );
    let k = app.api_get("/api/cases/CAS-06496-T2V9C6", &token);
    assert_eq!(k["error_codes"][0]["note"], note);
    assert!(support
        .get("/cases/CAS-06496-T2V9C6")
        .body
        .contains("WMI 查询 BIOS"));
    // A new case with the same code lists the seed (closed) as similar, with how it was resolved.
    let (_, v) = app.api(
        "POST",
        "/api/mail/inbound",
        Some(&token),
        Some(&mail(
            &[
                ("From", "x@y.example"),
                ("Subject", "激活报错"),
                ("Message-ID", "<s1@y.example>"),
            ],
            "异常来自 HRESULT:0xC002001B",
        )),
    );
    let case = app.api_get(
        &format!("/api/cases/{}", v["case_number"].as_str().expect("number")),
        &token,
    );
    assert_eq!(case["similar_cases"][0]["number"], "CAS-06496-T2V9C6");
    assert!(case["similar_cases"][0]["resolution"]
        .as_str()
        .unwrap_or("")
        .contains("重新安装"));
}

#[test]
fn admin_uploads_activation_csv_in_the_browser() {
    let app = TestApp::new();
    app.seed_staff();
    let app = app.start();
    let b = app.browser();
    b.login("admin@casebook.example", PASSWORD);
    let csrf = b.csrf("/admin/activation");
    // GBK-encoded, as Excel writes it on a Chinese Windows.
    let csv = "序列号,激活方式,结果,客户\nT123123123123,在线,成功,中银金融科技有限公司\n";
    let (gbk, _, _) = encoding_rs::GB18030.encode(csv);
    let r = b.post_multipart(
        "/admin/activation",
        &[("csrf_token", &csrf)],
        &[("file", "records.csv", &gbk)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("1 行: 1 已导入") || r.body.contains("1 rows: 1 imported"),
        "{}",
        r.body
    );
    let support = app.browser();
    support.login("wangbb@cmgos.example", PASSWORD);
    assert_eq!(support.get("/admin/activation").status, 403);
}
