//! Stored files in an S3-compatible object store (`--blob-url s3://…`), against a real
//! S3 server on loopback: the server mode of Python's `moto` package.

use crate::helpers::{
    big_log_mail, bundle_behind_noise, files_under, second_page_reads_back, Browser, TestApp,
    PASSWORD,
};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A moto S3 server on a port the system picks; stopped when dropped.
struct Moto {
    child: Child,
    base: String,
}

impl Moto {
    /// None (skip) when moto is missing, except under CI=true where that fails.
    fn start() -> Option<Moto> {
        let ok = Command::new("python3")
            .args(["-c", "import moto.server"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "moto is required under CI=true (pip install 'moto[server]')"
            );
            eprintln!("SKIP: python3 moto is not installed (scripts/test installs it)");
            return None;
        }
        let mut child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start moto");
        let stderr = child.stderr.take().expect("moto stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // " * Running on http://127.0.0.1:PORT"
                if let Some(at) = line.find("Running on http://") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(line[at + "Running on ".len()..].trim().to_string());
                    }
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(b) => b,
            Err(e) => {
                let _ = child.kill();
                panic!("moto did not start: {e}");
            }
        };
        Some(Moto { child, base })
    }

    fn create_bucket(&self, name: &str) {
        let r = ureq::put(&format!("{}/{name}", self.base)).call();
        assert!(r.is_ok(), "create bucket: {r:?}");
    }

    /// Keys and sizes of the bucket's objects.
    fn list(&self, bucket: &str) -> Vec<(String, u64)> {
        let xml = ureq::get(&format!("{}/{bucket}?list-type=2&max-keys=1000", self.base))
            .call()
            .expect("list bucket")
            .into_string()
            .expect("listing");
        xml.split("<Contents>")
            .skip(1)
            .map(|c| {
                let field = |tag: &str| {
                    c.split(&format!("<{tag}>"))
                        .nth(1)
                        .and_then(|r| r.split(&format!("</{tag}>")).next())
                        .unwrap_or_default()
                        .to_string()
                };
                (field("Key"), field("Size").parse().unwrap_or(0))
            })
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn with_s3(app: &mut TestApp) {
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "casebook-test"),
        ("AWS_SECRET_ACCESS_KEY", "casebook-test-secret"),
    ] {
        app.envs.push((k.into(), v.into()));
    }
}

#[test]
fn stored_files_live_in_the_bucket_and_a_restored_or_second_server_reads_them() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("casebook-files");
    let blob_url = format!("s3://casebook-files/prod?endpoint={}", moto.base);
    let mut app = TestApp::with_args(&["--blob-url", &blob_url]);
    with_s3(&mut app);
    let token = app.seed_staff();
    let mut app = app.start();
    // A log over 256 KiB, so the raw message is a stored file too.
    let (raw, log) = big_log_mail("s3-1@bank.example");
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

    // In the bucket, under the prefix, named by their sha256: the raw message and the log.
    let objects = moto.list("casebook-files");
    assert!(
        objects.iter().any(|(_, size)| *size as usize == raw.len()),
        "the raw message is an object: {objects:?}"
    );
    assert!(
        objects
            .iter()
            .any(|(_, size)| (*size as usize).abs_diff(log.len()) < 64),
        "the log is an object: {objects:?}"
    );
    for (key, _) in &objects {
        let name = key.strip_prefix("prod/").unwrap_or_else(|| panic!("{key}"));
        let sha = name.rsplit('/').next().unwrap_or_default();
        assert_eq!(sha.len(), 64, "{key}");
        assert_eq!(
            name,
            format!("{}/{}/{sha}", &sha[0..2], &sha[2..4]),
            "{key}"
        );
    }
    // …and nothing in the data dir.
    let local = files_under(&app.data_dir().join("blobs"));
    assert!(local.is_empty(), "{local:?}");

    let read_back = |base: &str| {
        let b = Browser {
            agent: ureq::AgentBuilder::new().redirects(0).build(),
            base: base.to_string(),
        };
        b.login("admin@casebook.example", PASSWORD);
        let got = b.get(&format!("/cases/{number}/attachments/{att}"));
        assert_eq!(got.status, 200, "{}", got.body);
        assert_eq!(got.body.trim_end(), log.trim_end(), "the same bytes");
        b
    };
    let b = read_back(&app.base);
    // A bundle over 1 MiB is read in ranged GETs: an entry behind 1.6 MB of other
    // data pages back row for row, and the download is whole.
    let z = bundle_behind_noise();
    let csrf = b.csrf(&format!("/cases/{number}"));
    let up = b.post_multipart(
        &format!("/cases/{number}/attachments"),
        &[("csrf_token", &csrf)],
        &[("files", "large.zip", &z)],
    );
    assert_eq!(up.status, 303, "{}", up.body);
    let case = app.api_get(&format!("/api/cases/{number}"), &token);
    let large = case["attachments"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["filename"] == "large.zip"))
        .and_then(|a| a["id"].as_i64())
        .unwrap_or_else(|| panic!("{case}"));
    assert!(
        moto.list("casebook-files")
            .iter()
            .any(|(_, size)| *size as usize == z.len()),
        "the bundle is an object"
    );
    second_page_reads_back(&b, &format!("/cases/{number}/attachments/{large}"));
    assert!(
        b.get_bytes(&format!("/cases/{number}/attachments/{large}")) == z,
        "the download is the uploaded file"
    );

    if app.on_postgres() {
        // A second server on another machine (a data dir of its own) reads them too.
        let elsewhere = app.server_elsewhere(2);
        let b = read_back(&elsewhere.base);
        let r = b.get("/admin/raw/1");
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body.len(),
            raw.len(),
            "the raw message from the other machine"
        );
        assert!(files_under(&app.dir.path().join("machine2"))
            .iter()
            .all(|f| !f.contains("blobs/")));
    } else {
        // A backup holds the database; the files stay in the bucket, and a restore on
        // another data dir with the same --blob-url shows them.
        app.stop();
        let dest = app.dir.path().join("backup");
        let out = app.cli(&["backup", &dest.display().to_string()], None);
        let said = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{said}");
        assert!(said.contains("object store"), "{said}");
        assert!(files_under(&dest.join("blobs")).is_empty());
        let mut restored = TestApp::with_args(&["--blob-url", &blob_url]);
        with_s3(&mut restored);
        restored.cli_ok(&["restore", &dest.display().to_string()], None);
        let restored = restored.start();
        let b = read_back(&restored.base);
        let r = b.get("/admin/raw/1");
        assert_eq!(r.status, 200);
        assert_eq!(r.body.len(), raw.len(), "the raw message after a restore");
    }

    // A bucket that does not exist is a clear error before anything is read, and the
    // mail waits where it is.
    let file = app.dir.path().join("waiting.eml");
    std::fs::write(&file, raw.replace("s3-1@", "s3-2@")).expect("write");
    let mut wrong = TestApp::with_args(&[
        "--blob-url",
        &format!("s3://no-such-bucket?endpoint={}", moto.base),
    ]);
    with_s3(&mut wrong);
    let out = wrong.cli(&["ingest", &file.display().to_string()], None);
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("s3://no-such-bucket/ cannot be used"),
        "{said}"
    );
    assert!(
        said.contains("NoSuchBucket"),
        "the store's own reason: {said}"
    );
    assert!(!said.contains("casebook-test-secret"), "{said}");
    assert!(file.exists());
    // Credentials in the URL are refused outright.
    let mut leaky = TestApp::with_args(&[
        "--blob-url",
        &format!("s3://key:secret@casebook-files?endpoint={}", moto.base),
    ]);
    with_s3(&mut leaky);
    let out = leaky.cli(&["ingest", &file.display().to_string()], None);
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success() && said.contains("AWS_ACCESS_KEY_ID"),
        "{said}"
    );
}
