//! Log bundles uploaded to a case: listed, viewable, scanned; hostile ones refused.

use crate::helpers::{fixture, Browser, TestApp, PASSWORD};
use std::io::{Cursor, Write};

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(data).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

fn seed_app() -> (TestApp, String, Browser) {
    let app = TestApp::new();
    let token = app.seed_staff();
    app.cli_ok(
        &["ingest", &fixture("seed-export.txt").display().to_string()],
        None,
    );
    let app = app.start();
    let b = app.browser();
    b.login("wangbb@cmgos.example", PASSWORD);
    (app, token, b)
}

fn upload(b: &Browser, name: &str, data: &[u8]) -> u16 {
    let csrf = b.csrf("/cases/CAS-06496-T2V9C6");
    b.post_multipart(
        "/cases/CAS-06496-T2V9C6/attachments",
        &[("csrf_token", &csrf)],
        &[("files", name, data)],
    )
    .status
}

#[test]
fn a_bundle_is_listed_viewable_and_scanned() {
    let (app, token, b) = seed_app();
    let log = "2022-06-27 09:00:01 CMGE activation start\r\n2022-06-27 09:00:02 WMI query Win32_BIOS failed 0x80041003\r\n2022-06-27 09:00:03 serial T102210000943\r\n密码：secret99\r\n";
    let inner = zip_of(&[("activation/act.log", log.as_bytes())]);
    let bundle = zip_of(&[
        ("CMGE_Log/system.txt", "错误代码 0xC004F074".as_bytes()),
        ("CMGE_Log/act.zip", &inner),
    ]);
    assert_eq!(upload(&b, "CMGE_Log.zip", &bundle), 303);
    let k = app.api_get("/api/cases/CAS-06496-T2V9C6", &token);
    let codes: Vec<(&str, &str)> = k["error_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| {
            (
                c["code"].as_str().unwrap_or(""),
                c["found_in"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        codes.iter().any(
            |(c, w)| *c == "0x80041003" && w.contains("CMGE_Log/act.zip!/activation/act.log:2")
        ),
        "{codes:?}"
    );
    assert!(codes.iter().any(|(c, _)| *c == "0xC004F074"));
    let att = k["attachments"]
        .as_array()
        .expect("attachments")
        .iter()
        .find(|a| a["filename"] == "CMGE_Log.zip")
        .cloned()
        .expect("bundle attachment");
    assert_eq!(att["bundle_status"], "ok");
    let page = b.get("/cases/CAS-06496-T2V9C6");
    let id = regex::Regex::new(r#"/attachments/(\d+)/bundle"#)
        .expect("re")
        .captures(&page.body)
        .expect("bundle link")[1]
        .to_string();
    let listing = b.get(&format!("/cases/CAS-06496-T2V9C6/attachments/{id}/bundle"));
    assert_eq!(listing.status, 200);
    assert!(
        listing
            .body
            .contains("CMGE_Log/act.zip!/activation/act.log")
            && listing.body.contains("0x80041003")
    );
    let view = b.get(&format!("/cases/CAS-06496-T2V9C6/attachments/{id}/view?path=CMGE_Log%2Fact.zip%21%2Factivation%2Fact.log"));
    assert_eq!(view.status, 200);
    assert!(view.body.contains("WMI query Win32_BIOS failed"));
    assert!(
        !view.body.contains("secret99"),
        "secrets masked in the viewer"
    );
    // A path that is not in the bundle is not served.
    assert_eq!(
        b.get(&format!(
            "/cases/CAS-06496-T2V9C6/attachments/{id}/view?path=..%2F..%2Fetc%2Fpasswd"
        ))
        .status,
        404
    );
    // The same bytes again are stored once (content-addressed) but listed as a second upload.
    assert_eq!(upload(&b, "again.zip", &bundle), 303);
}

#[test]
fn hostile_bundles_are_refused_and_nothing_else_breaks() {
    let (app, token, b) = seed_app();
    let ok = zip_of(&[("a.txt", b"hello")]);
    let mut encrypted = ok.clone();
    encrypted[6] |= 1;
    if let Some(cd) = encrypted.windows(4).position(|w| w == b"PK\x01\x02") {
        encrypted[cd + 8] |= 1;
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "bomb.zip",
            zip_of(&[("zeros.log", &vec![0u8; 40 * 1024 * 1024])]),
        ),
        ("traversal.zip", zip_of(&[("../../evil.txt", b"x")])),
        ("absolute.zip", zip_of(&[("/etc/evil.txt", b"x")])),
        ("truncated.zip", ok[..ok.len() / 2].to_vec()),
        ("encrypted.zip", encrypted),
    ];
    for (name, data) in &cases {
        assert_eq!(upload(&b, name, data), 303, "{name}");
    }
    let k = app.api_get("/api/cases/CAS-06496-T2V9C6", &token);
    for (name, _) in &cases {
        let a = k["attachments"]
            .as_array()
            .expect("attachments")
            .iter()
            .find(|a| a["filename"] == *name)
            .cloned()
            .expect("attachment kept");
        assert_eq!(a["bundle_status"], "refused", "{name}: {a}");
        assert!(
            a["bundle_note"].as_str().is_some_and(|n| !n.is_empty()),
            "{name}: a clear reason"
        );
    }
    let page = b.get("/cases/CAS-06496-T2V9C6");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("zip bomb") && page.body.contains("unsafe entry name"));
    assert_eq!(
        k["messages"].as_array().map(Vec::len),
        Some(15),
        "the thread is intact (10 mails + 5 uploads)"
    );
    // R&D may upload too.
    let rnd = app.browser();
    rnd.login("liuyu@cmgos.example", PASSWORD);
    let csrf = rnd.csrf("/cases/CAS-06496-T2V9C6");
    assert_eq!(
        rnd.post_multipart(
            "/cases/CAS-06496-T2V9C6/attachments",
            &[("csrf_token", &csrf)],
            &[("files", "x.log", b"x")]
        )
        .status,
        303
    );
}
