//! Mailboxes against a real IMAP server: Debian's dovecot on loopback, started here
//! with a throwaway config, user and Maildir.

use crate::helpers::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DOVECOT: &str = "/usr/sbin/dovecot";
const USER: &str = "support";
const IMAP_PASSWORD: &str = "imap-Secret-7";

/// None (skip) without dovecot, except under CI=true where that fails.
fn dovecot_available() -> bool {
    let ok = Path::new(DOVECOT).exists();
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "dovecot is required under CI=true (apt-get install dovecot-imapd)"
        );
        eprintln!("SKIP: dovecot is not installed (scripts/test installs dovecot-imapd)");
    }
    ok
}

fn id_of(args: &[&str]) -> String {
    let out = Command::new("id").args(args).output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Dovecot {
    port: u16,
    /// Implicit TLS (self-signed certificate), when started with TLS.
    tls_port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Dovecot {
    fn new() -> Dovecot {
        Self::with_tls(false)
    }

    /// With `tls`, a self-signed certificate for STARTTLS and IMAPS, and no plain login.
    fn with_tls(tls: bool) -> Dovecot {
        let dir = tempfile::tempdir().expect("dovecot dir");
        let d = dir.path();
        let root = id_of(&["-u"]) == "0";
        // As root, dovecot drops to its own users; the mail belongs to `dovecot`.
        let (internal, login, mail_user) = if root {
            (
                "dovecot".to_string(),
                "dovenull".to_string(),
                "dovecot".to_string(),
            )
        } else {
            let me = id_of(&["-un"]);
            (me.clone(), me.clone(), me)
        };
        let uid = id_of(&["-u", &mail_user]);
        let gid = id_of(&["-g", &mail_user]);
        std::fs::create_dir_all(d.join("mail")).expect("mail dir");
        std::fs::create_dir_all(d.join("run")).expect("run dir");
        if root {
            Command::new("chmod")
                .args(["755", &d.display().to_string()])
                .status()
                .expect("chmod");
            Command::new("chown")
                .args([
                    &format!("{uid}:{gid}"),
                    &d.join("mail").display().to_string(),
                ])
                .status()
                .expect("chown");
        }
        std::fs::write(
            d.join("passwd"),
            format!(
                "{USER}:{{PLAIN}}{IMAP_PASSWORD}:{uid}:{gid}::{}::\n",
                d.join("mail").join(USER).display()
            ),
        )
        .expect("passwd");
        let port = SmtpSink::free_port();
        let tls_port = if tls { SmtpSink::free_port() } else { 0 };
        let p = |s: &str| d.join(s).display().to_string();
        let ssl = if tls {
            let ok = Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ])
                .args(["-subj", "/CN=localhost", "-keyout"])
                .arg(d.join("key.pem"))
                .arg("-out")
                .arg(d.join("cert.pem"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "openssl req (self-signed certificate)");
            format!(
                "ssl = required\nssl_cert = <{}\nssl_key = <{}\n",
                p("cert.pem"),
                p("key.pem")
            )
        } else {
            "ssl = no\n".to_string()
        };
        let conf = format!(
            r#"protocols = imap
listen = 127.0.0.1
base_dir = {run}
state_dir = {run}
log_path = {log}
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{mail}/%u
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {passwd}
}}
namespace inbox {{
  inbox = yes
  mailbox Processed {{
    auto = create
  }}
}}
"#,
            run = p("run"),
            log = p("dovecot.log"),
            mail = p("mail"),
            passwd = p("passwd"),
            internal_group = id_of(&["-gn", &internal]),
        );
        std::fs::write(d.join("dovecot.conf"), conf).expect("conf");
        let mut dv = Dovecot {
            port,
            tls_port,
            dir,
            child: None,
        };
        dv.start();
        dv
    }

    fn start(&mut self) {
        use std::os::unix::process::CommandExt;
        let child = Command::new(DOVECOT)
            .process_group(0)
            .args(["-F", "-c"])
            .arg(self.dir.path().join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dovecot");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "dovecot did not start: {}",
                std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL to dovecot and every process it started (its own process group), as
    /// in a crash; waits until the port is free again.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", c.id())])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    fn maildir(&self, folder: &str) -> PathBuf {
        let base = self.dir.path().join("mail").join(USER);
        if folder == "INBOX" {
            base
        } else {
            base.join(format!(".{folder}"))
        }
    }

    /// Delivers a message as an MTA would: a file in the Maildir's `new/`.
    fn deliver(&self, n: usize, raw: &[u8]) {
        let dir = self.maildir("INBOX");
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).expect("maildir");
        }
        let name = format!(
            "{}.M{n}P{}.casebook-test",
            1_700_000_000 + n,
            std::process::id()
        );
        std::fs::write(dir.join("tmp").join(&name), raw).expect("write tmp");
        std::fs::rename(dir.join("tmp").join(&name), dir.join("new").join(&name)).expect("deliver");
        if id_of(&["-u"]) == "0" {
            Command::new("chown")
                .args([
                    "-R",
                    "dovecot:dovecot",
                    &self.dir.path().join("mail").display().to_string(),
                ])
                .status()
                .expect("chown");
        }
    }

    /// Messages in a folder (both `new/` and `cur/`).
    fn count(&self, folder: &str) -> usize {
        ["new", "cur"]
            .iter()
            .map(|s| {
                std::fs::read_dir(self.maildir(folder).join(s))
                    .map(|d| d.count())
                    .unwrap_or(0)
            })
            .sum()
    }

    fn url(&self) -> String {
        format!("imap://{USER}@127.0.0.1:{}/INBOX", self.port)
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.kill();
    }
}

fn customer_mail(i: usize) -> Vec<u8> {
    mail(
        &[
            ("From", &format!("Customer {i} <customer{i}@example.org>")),
            ("To", "support@casebook.example"),
            ("Subject", &format!("激活失败 0xC004F074 number {i}")),
            ("Message-ID", &format!("<imap-test-{i}@example.org>")),
            ("Date", "Tue, 24 Nov 2026 09:00:00 +0800"),
        ],
        &format!("您好，第 {i} 台机器激活失败，错误代码 0xC004F074。"),
    )
}

fn password_file(app: &TestApp, pw: &str) -> String {
    let f = app.dir.path().join("imap-password");
    std::fs::write(&f, format!("{pw}\n")).expect("password file");
    f.display().to_string()
}

fn fetch_json(app: &TestApp) -> Vec<serde_json::Value> {
    app.cli_ok(&["fetch", "--json"], None)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn fetch_json_when_ready(app: &TestApp) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    loop {
        let out = app.cli(&["fetch", "--json"], None);
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            got.push(serde_json::from_str(l).expect("one JSON object per line"));
        }
        if out.status.success() {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "fetch kept failing: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn outcomes(lines: &[serde_json::Value], kind: &str) -> usize {
    lines.iter().filter(|o| o["outcome"] == kind).count()
}

#[test]
fn mail_in_the_inbox_becomes_cases_once_and_is_moved() {
    if !dovecot_available() {
        return;
    }
    let dv = Dovecot::new();
    let app = TestApp::new().start();
    let token = app.seed_staff();
    let pwf = password_file(&app, IMAP_PASSWORD);
    app.cli_ok(
        &[
            "mailbox",
            "add",
            "--name",
            "support",
            "--url",
            &dv.url(),
            "--password-file",
            &pwf,
            "--move-to",
            "Processed",
        ],
        None,
    );
    let listed = app.cli_ok(&["mailbox", "list"], None);
    assert!(
        listed.contains("support") && listed.contains("Processed"),
        "{listed}"
    );
    assert!(!listed.contains(IMAP_PASSWORD), "password never shown");

    for i in 1..=3 {
        dv.deliver(i, &customer_mail(i));
    }
    let first = fetch_json(&app);
    assert_eq!(first.len(), 3, "{first:?}");
    assert_eq!(outcomes(&first, "created"), 3, "{first:?}");
    for o in &first {
        assert!(
            o["case_number"].is_string() && o["message_id"].is_string(),
            "{o}"
        );
        assert!(
            o["source"]
                .as_str()
                .unwrap_or("")
                .starts_with("imap:support/INBOX"),
            "{o}"
        );
    }
    assert_eq!(dv.count("INBOX"), 0, "processed mail left the inbox");
    assert_eq!(dv.count("Processed"), 3, "and was moved to Processed");

    // Nothing new: nothing printed, nothing doubled.
    assert!(fetch_json(&app).is_empty());
    let cases = app.api_get("/api/cases", &token);
    assert_eq!(cases["total"], 3, "{cases}");

    // A reply threads into its case.
    let reply = mail(
        &[
            ("From", "Customer 1 <customer1@example.org>"),
            ("To", "support@casebook.example"),
            ("Subject", "Re: 激活失败 0xC004F074 number 1"),
            ("Message-ID", "<imap-test-reply-1@example.org>"),
            ("In-Reply-To", "<imap-test-1@example.org>"),
        ],
        "还是不行。",
    );
    dv.deliver(10, &reply);
    let again = fetch_json(&app);
    assert_eq!(outcomes(&again, "threaded"), 1, "{again:?}");
    assert_eq!(again[0]["case_number"], first[0]["case_number"]);

    app.cli_ok(&["mailbox", "remove", "--name", "support"], None);
    assert!(!app.cli_ok(&["mailbox", "list"], None).contains("support"));
}

#[test]
fn a_crash_between_commit_and_flag_gives_a_duplicate_and_a_new_uidvalidity_doubles_nothing() {
    if !dovecot_available() {
        return;
    }
    let mut dv = Dovecot::new();
    let app = TestApp::new();
    app.seed_staff();
    let pwf = password_file(&app, IMAP_PASSWORD);
    app.cli_ok(
        &[
            "mailbox",
            "add",
            "--name",
            "support",
            "--url",
            &dv.url(),
            "--password-file",
            &pwf,
        ],
        None,
    );
    // The message was committed locally but the server never heard back.
    dv.deliver(1, &customer_mail(1));
    let src = app.dir.path().join("one.eml");
    std::fs::write(&src, customer_mail(1)).expect("eml");
    app.cli_ok(&["ingest", &src.display().to_string()], None);
    let out = fetch_json(&app);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["outcome"], "duplicate");
    // Without --move-to it stays, flagged \Seen (Maildir: in cur/ with S).
    assert_eq!(dv.count("INBOX"), 1);
    let flagged = std::fs::read_dir(dv.maildir("INBOX").join("cur"))
        .expect("cur")
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains(":2,S"));
    assert!(flagged, "flagged \\Seen");
    assert!(fetch_json(&app).is_empty(), "not fetched again");

    // The server renumbers the folder (new UIDVALIDITY): read again, nothing doubled.
    dv.kill();
    let inbox = dv.maildir("INBOX");
    let uidlist = inbox.join("dovecot-uidlist");
    let text = std::fs::read_to_string(&uidlist).expect("dovecot-uidlist");
    let (head, rest) = text.split_once('\n').expect("uidlist header");
    let renumbered: Vec<String> = head
        .split(' ')
        .map(
            |f| match f.strip_prefix('V').and_then(|v| v.parse::<u64>().ok()) {
                Some(v) => format!("V{}", v + 1000),
                None => f.to_string(),
            },
        )
        .collect();
    std::fs::write(&uidlist, format!("{}\n{rest}", renumbered.join(" "))).expect("uidlist");
    for e in std::fs::read_dir(&inbox).expect("maildir").flatten() {
        if e.file_name().to_string_lossy().starts_with("dovecot.index") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    dv.start();
    let again = fetch_json(&app);
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["outcome"], "duplicate", "{again:?}");
    assert!(fetch_json(&app).is_empty());
}

#[test]
fn killing_the_imap_server_mid_fetch_loses_and_doubles_nothing() {
    if !dovecot_available() {
        return;
    }
    let mut dv = Dovecot::new();
    let mut app = TestApp::new();
    app.seed_staff();
    let pwf = password_file(&app, IMAP_PASSWORD);
    app.cli_ok(
        &[
            "mailbox",
            "add",
            "--name",
            "support",
            "--url",
            &dv.url(),
            "--password-file",
            &pwf,
            "--move-to",
            "Processed",
        ],
        None,
    );
    const N: usize = 40;
    for i in 1..=N {
        dv.deliver(i, &customer_mail(i));
    }
    // Start a fetch and kill the server under it once the first message is in.
    let mut args = app.global_args();
    args.extend(["fetch".to_string(), "--json".to_string()]);
    let mut child = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fetch");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let mut seen: Vec<serde_json::Value> = Vec::new();
    if let Some(Ok(l)) = lines.next() {
        seen.push(serde_json::from_str(&l).expect("json line"));
    }
    dv.kill();
    // The rest of the output is read on a thread; a fetch left hanging on a dead
    // connection is killed after a grace period (a crash of the client, just as good).
    let reader = std::thread::spawn(move || {
        lines
            .map_while(Result::ok)
            .map(|l| serde_json::from_str::<serde_json::Value>(&l).expect("json line"))
            .collect::<Vec<_>>()
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(st) = child.try_wait().expect("fetch status") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().expect("fetch status");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    seen.extend(reader.join().expect("reader"));
    eprintln!("before the kill: {} messages, exit {status}", seen.len());
    assert!(seen.len() < N, "the kill came mid-fetch");
    assert!(!status.success(), "a fetch cut short exits non-zero");

    // While the server is down: a clear error, non-zero exit, nothing lost.
    let down = app.cli(&["fetch", "--json"], None);
    assert!(!down.status.success());
    let err = String::from_utf8_lossy(&down.stderr);
    assert!(
        err.contains("mailbox support") && err.contains("cannot connect"),
        "{err}"
    );

    dv.start();
    // A freshly started dovecot may refuse logins for a moment under load: retry the
    // first fetch; a failed attempt ingests nothing it does not report.
    seen.extend(fetch_json_when_ready(&app));
    seen.extend(fetch_json(&app));
    // The message in flight was committed but not moved: it comes back as a duplicate.
    assert!(outcomes(&seen, "duplicate") <= 1, "{seen:?}");
    let mut ids: Vec<&str> = seen
        .iter()
        .filter_map(|o| o["message_id"].as_str())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "every message came through: {seen:?}");
    assert_eq!(
        outcomes(&seen, "created"),
        N,
        "each became one case: {seen:?}"
    );
    assert_eq!(dv.count("INBOX"), 0);
    assert_eq!(dv.count("Processed"), N);
    let list = app.cli_ok(&["mailbox", "list"], None);
    assert!(list.contains("ok "), "health recorded: {list}");
    app.spawn();
    let token = app.token("admin@casebook.example");
    assert_eq!(
        app.api_get("/api/cases", &token)["total"],
        N,
        "one case per message"
    );
}

#[test]
fn a_wrong_password_is_a_clear_error_in_the_cli_and_on_the_admin_page() {
    if !dovecot_available() {
        return;
    }
    let dv = Dovecot::new();
    let mut app = TestApp::new();
    app.seed_staff();
    let pwf = password_file(&app, "not-the-password");
    app.cli_ok(
        &[
            "mailbox",
            "add",
            "--name",
            "wrong",
            "--url",
            &dv.url(),
            "--password-file",
            &pwf,
        ],
        None,
    );
    let out = app.cli(&["fetch", "--mailbox", "wrong"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("login refused") && err.contains("password"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-password"),
        "never prints the password"
    );

    app.spawn();
    let b = app.browser();
    b.login("admin@casebook.example", PASSWORD);
    let page = b.get("/admin/mailboxes");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("login refused"), "{}", page.body);
    assert!(!page.body.contains("not-the-password"));

    // Add a mailbox in the browser (password never rendered back), test it.
    let csrf = b.csrf("/admin/mailboxes");
    let port = dv.port.to_string();
    let added = b.post(
        "/admin/mailboxes",
        &[
            ("csrf_token", &csrf),
            ("name", "web"),
            ("host", "127.0.0.1"),
            ("port", &port),
            ("tls", "plain"),
            ("username", USER),
            ("password", IMAP_PASSWORD),
            ("folder", "INBOX"),
            ("move_to", "Processed"),
            ("poll_seconds", "1"),
        ],
    );
    assert_eq!(added.status, 303, "{}", added.body);
    let listed = b.get("/admin/mailboxes?done=mailbox_added");
    assert!(listed.body.contains("127.0.0.1"), "{}", listed.body);
    assert!(
        !listed.body.contains(IMAP_PASSWORD),
        "password never shown back"
    );
    // A plain connection to a non-loopback host is refused.
    let refused = b.post(
        "/admin/mailboxes",
        &[
            ("csrf_token", &csrf),
            ("name", "remote"),
            ("host", "imap.example.com"),
            ("port", "143"),
            ("tls", "plain"),
            ("username", USER),
            ("password", "x"),
        ],
    );
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("loopback"));

    // The server polls the browser-configured mailbox by itself.
    dv.deliver(1, &customer_mail(1));
    let deadline = Instant::now() + Duration::from_secs(20);
    while dv.count("Processed") < 1 {
        assert!(
            Instant::now() < deadline,
            "poller did not fetch: {}",
            app.server_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let page = b.get("/admin/mailboxes");
    let ids = page
        .body
        .match_indices("/admin/mailboxes/")
        .filter_map(|(i, _)| {
            let rest = &page.body[i + "/admin/mailboxes/".len()..];
            rest.split('/').next().map(str::to_string)
        })
        .collect::<Vec<_>>();
    assert!(!ids.is_empty());
    // "Test connection" on the wrong one names the cause.
    let mut texts = Vec::new();
    for id in ids.iter().take(4) {
        let t = b.post(
            &format!("/admin/mailboxes/{id}/test"),
            &[("csrf_token", &csrf)],
        );
        assert_eq!(t.status, 200);
        texts.push(t.body);
    }
    assert!(texts.iter().any(|t| t.contains("login refused")));
    assert!(texts
        .iter()
        .any(|t| t.contains("Connection works") || t.contains("连接成功")));
    // Without the token the form is refused.
    let no_csrf = b.post("/admin/mailboxes/1/remove", &[("csrf_token", "x")]);
    assert_eq!(no_csrf.status, 403);
}

#[test]
fn tls_is_real_an_untrusted_certificate_is_refused_with_a_clear_error() {
    if !dovecot_available() {
        return;
    }
    let dv = Dovecot::with_tls(true);
    let app = TestApp::new();
    app.seed_staff();
    let pwf = password_file(&app, IMAP_PASSWORD);
    let imaps = format!("imaps://{USER}@127.0.0.1:{}/INBOX", dv.tls_port);
    let starttls = format!("imap://{USER}@127.0.0.1:{}/INBOX?tls=starttls", dv.port);
    for (name, url) in [("implicit", &imaps), ("starttls", &starttls)] {
        app.cli_ok(
            &[
                "mailbox",
                "add",
                "--name",
                name,
                "--url",
                url,
                "--password-file",
                &pwf,
            ],
            None,
        );
        let out = app.cli(&["fetch", "--mailbox", name], None);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        eprintln!("{name}: {err}");
        assert!(
            err.contains("TLS with 127.0.0.1") && err.to_lowercase().contains("certificate"),
            "{name}: {err}"
        );
    }
    let list = app.cli_ok(&["mailbox", "list"], None);
    assert!(
        list.contains("TLS with 127.0.0.1"),
        "last error kept: {list}"
    );
}
