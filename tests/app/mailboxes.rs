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
    tls: bool,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Dovecot {
    fn new() -> Dovecot {
        Self::with_tls(false)
    }

    /// With `tls`, a self-signed certificate for STARTTLS and IMAPS, and no plain login.
    fn with_tls(tls: bool) -> Dovecot {
        Self::build(tls, None)
    }

    /// Also XOAUTH2, its tokens checked at `tokeninfo` (Dovecot's oauth2 passdb).
    fn with_oauth(tokeninfo: &str) -> Dovecot {
        Self::build(false, Some(tokeninfo.to_string()))
    }

    fn build(tls: bool, tokeninfo: Option<String>) -> Dovecot {
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
auth_mechanisms = plain login{oauth_mechs}
auth_failure_delay = 0
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{mail}/%u
# IDLE notices new files by inotify; this is the fallback where inotify is missing.
mailbox_idle_check_interval = 1 secs
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
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {passwd}
}}
{oauth}
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
            oauth_mechs = if tokeninfo.is_some() { " xoauth2 oauthbearer" } else { "" },
            oauth = match &tokeninfo {
                Some(_) => format!(
                    "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {}\n}}\n",
                    p("oauth2.conf.ext")
                ),
                None => String::new(),
            },
        );
        if let Some(url) = &tokeninfo {
            std::fs::write(
                d.join("oauth2.conf.ext"),
                format!("tokeninfo_url = {url}\nusername_attribute = username\nactive_attribute = active\nactive_value = true\n"),
            )
            .expect("oauth2 conf");
        }
        std::fs::write(d.join("dovecot.conf"), conf).expect("conf");
        let mut dv = Dovecot {
            port,
            tls_port,
            tls,
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
        // Serving, not just listening: a greeting, and (without TLS) a login that works,
        // so that no test needs to retry its first fetch.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let last = match self.probe() {
                Ok(()) => return,
                Err(e) => e,
            };
            assert!(
                Instant::now() < deadline,
                "dovecot did not start ({last}): {}",
                std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the server again after [`Dovecot::kill`] and waits until it opens both
    /// folders, not just until it greets. A server killed mid-move leaves dotlocks and
    /// half-written indexes behind; how long Dovecot takes to recover them is its own
    /// business (CI once waited more than 15 s for a SELECT), not what these tests
    /// measure. Returns how long the folders took to open.
    fn restart(&mut self) -> Duration {
        let t = Instant::now();
        self.start();
        assert!(!self.tls, "restart probes the plain port");
        let deadline = t + Duration::from_secs(180);
        loop {
            let last = match self.probe_folders() {
                Ok(()) => {
                    let took = t.elapsed();
                    eprintln!("dovecot restarted; folders open after {took:?}");
                    return took;
                }
                Err(e) => e,
            };
            assert!(
                Instant::now() < deadline,
                "dovecot restarted but did not open its folders ({last}): {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// LOGIN, then SELECT of INBOX and Processed, each answered within 10 s.
    fn probe_folders(&self) -> Result<(), String> {
        use std::io::{BufRead, Write};
        let tcp =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let mut w = tcp.try_clone().map_err(|e| e.to_string())?;
        let mut r = std::io::BufReader::new(tcp);
        let mut line = String::new();
        r.read_line(&mut line).map_err(|e| e.to_string())?;
        let commands = [
            format!("f1 LOGIN {USER} {IMAP_PASSWORD}"),
            "f2 SELECT INBOX".to_string(),
            "f3 SELECT Processed".to_string(),
        ];
        for c in &commands {
            let tag = c.split(' ').next().unwrap_or_default();
            write!(w, "{c}\r\n").map_err(|e| e.to_string())?;
            loop {
                line.clear();
                if r.read_line(&mut line).map_err(|e| format!("{tag}: {e}"))? == 0 {
                    return Err(format!("closed during {tag}"));
                }
                if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                    if !rest.starts_with("OK") {
                        return Err(format!("{tag}: {rest}"));
                    }
                    break;
                }
            }
        }
        let _ = write!(w, "f4 LOGOUT\r\n");
        Ok(())
    }

    /// One IMAP exchange on the plain port: greeting, then LOGIN and LOGOUT.
    fn probe(&self) -> Result<(), String> {
        use std::io::{BufRead, Write};
        let tcp =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        let mut w = tcp.try_clone().map_err(|e| e.to_string())?;
        let mut r = std::io::BufReader::new(tcp);
        let mut line = String::new();
        r.read_line(&mut line).map_err(|e| e.to_string())?;
        if !line.starts_with("* OK") {
            return Err(format!("greeting {line:?}"));
        }
        if self.tls {
            return Ok(());
        }
        write!(w, "p1 LOGIN {USER} {IMAP_PASSWORD}\r\n").map_err(|e| e.to_string())?;
        loop {
            line.clear();
            if r.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err("closed during LOGIN".into());
            }
            if let Some(rest) = line.strip_prefix("p1 ") {
                let _ = write!(w, "p2 LOGOUT\r\n");
                return if rest.starts_with("OK") {
                    Ok(())
                } else {
                    Err(format!("LOGIN: {rest}"))
                };
            }
        }
    }

    /// SIGKILL to dovecot and every process it started (its own process group), as
    /// in a crash; waits until the port is free again.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // Straight from here (no `kill` process to start): the signal lands at once.
            signal(-(c.id() as i32), libc::SIGKILL);
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

    /// The folder's count once it is `n`, or whatever it holds after `within`: a
    /// message is a case as soon as it is committed, and moved on the server only
    /// after that, so a test that saw the case waits a moment for the move.
    fn count_settled(&self, folder: &str, n: usize, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let now = self.count(folder);
            if now == n || Instant::now() > deadline {
                return now;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) with a pid (or -pgid) of a process this test started.
    let rc = unsafe { libc::kill(pid, sig) };
    assert!(
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH),
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

/// A finished `casebook fetch --json`.
struct Fetched {
    ok: bool,
    lines: Vec<serde_json::Value>,
    stderr: String,
    took: Duration,
}

/// A `casebook fetch --json` running in the background; its output is read on threads.
struct FetchRun {
    child: Child,
    started: Instant,
    lines: std::sync::mpsc::Receiver<serde_json::Value>,
    stdout: Option<std::thread::JoinHandle<()>>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl FetchRun {
    fn start(app: &TestApp, extra: &[&str]) -> FetchRun {
        let mut args = app.global_args();
        args.extend(["fetch", "--json"].iter().map(|s| s.to_string()));
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start casebook fetch");
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = std::thread::spawn(move || {
            for l in std::io::BufRead::lines(std::io::BufReader::new(out)).map_while(Result::ok) {
                let v = serde_json::from_str(&l).expect("one JSON object per line");
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut std::io::BufReader::new(err), &mut s);
            s
        });
        FetchRun {
            child,
            started: Instant::now(),
            lines,
            stdout: Some(stdout),
            stderr: Some(stderr),
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().expect("fetch status").is_none()
    }

    /// The next line, waiting at most `limit`.
    fn next_line(&self, limit: Duration) -> Option<serde_json::Value> {
        self.lines.recv_timeout(limit).ok()
    }

    /// Waits for the end, at most `limit`: a fetch still running then is a failure
    /// (it is killed first so the suite goes on).
    fn finish(mut self, limit: Duration) -> Fetched {
        let deadline = self.started + limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("fetch status") {
                break st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let err = self.stderr.take().map(|h| h.join().unwrap_or_default());
                panic!(
                    "casebook fetch still running after {limit:?}: {}",
                    err.unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = self.started.elapsed();
        self.collect(status.success(), took)
    }

    /// SIGKILL (a crash of the client), reaped; returns what it printed.
    fn kill(mut self) -> Fetched {
        signal(self.pid(), libc::SIGKILL);
        let _ = self.child.wait();
        let took = self.started.elapsed();
        self.collect(false, took)
    }

    fn collect(mut self, ok: bool, took: Duration) -> Fetched {
        if let Some(h) = self.stdout.take() {
            h.join().expect("stdout reader");
        }
        let lines = self.lines.try_iter().collect();
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().expect("stderr reader"))
            .unwrap_or_default();
        Fetched {
            ok,
            lines,
            stderr,
            took,
        }
    }
}

/// One `casebook fetch --json` that must end within 60 s.
fn fetch_bounded(app: &TestApp) -> Fetched {
    FetchRun::start(app, &[]).finish(Duration::from_secs(60))
}

/// One `casebook fetch --json` that must end, successfully, within 60 s.
fn fetch_json(app: &TestApp) -> Vec<serde_json::Value> {
    let f = fetch_bounded(app);
    assert!(f.ok, "casebook fetch failed: {}", f.stderr);
    f.lines
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
    // No server yet: its poller would race these fetches for the mailbox (and take the
    // mail itself when it wins, leaving the CLI fetch nothing to print).
    let mut app = TestApp::new();
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
    app.spawn();
    let cases = app.api_get("/api/cases", &token);
    assert_eq!(cases["total"], 3, "{cases}");
}

#[test]
fn a_missing_move_to_folder_is_created_even_a_chinese_one_under_another_separator() {
    if !dovecot_available() {
        return;
    }
    let dv = Dovecot::new();
    let app = TestApp::new();
    app.seed_staff();
    let pwf = password_file(&app, IMAP_PASSWORD);
    // The server has no such folder, spells hierarchy with "." and names in UTF-7.
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
            "归档/已处理",
        ],
        None,
    );
    for i in 1..=2 {
        dv.deliver(i, &customer_mail(i));
    }
    let out = fetch_json(&app);
    assert_eq!(outcomes(&out, "created"), 2, "{out:?}");
    assert_eq!(dv.count("INBOX"), 0, "nothing stuck in the inbox");
    // Dovecot's Maildir++ folder "归档.已处理" in modified UTF-7.
    assert_eq!(
        dv.count("&X1JoYw-.&XfJZBHQG-"),
        2,
        "moved to the folder it created"
    );
    // The next message goes the same way; nothing is fetched twice.
    dv.deliver(3, &customer_mail(3));
    let out = fetch_json(&app);
    assert_eq!(outcomes(&out, "created"), 1, "{out:?}");
    assert_eq!(dv.count("&X1JoYw-.&XfJZBHQG-"), 3);
    assert!(fetch_json(&app).is_empty());
    let listed = app.cli_ok(&["mailbox", "list"], None);
    assert!(
        listed.contains("ok ") && !listed.contains("never ok"),
        "{listed}"
    );
    // Paused: not polled; resumed: polled at once.
    app.cli_ok(&["mailbox", "pause", "--name", "support"], None);
    assert!(app.cli_ok(&["mailbox", "list"], None).contains("disabled"));
    dv.deliver(4, &customer_mail(4));
    assert!(
        fetch_json(&app).is_empty(),
        "a paused mailbox is not fetched"
    );
    assert_eq!(dv.count("INBOX"), 1);
    app.cli_ok(&["mailbox", "resume", "--name", "support"], None);
    let out = fetch_json(&app);
    assert_eq!(outcomes(&out, "created"), 1, "{out:?}");
    assert_eq!(dv.count("INBOX"), 0);
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
    dv.restart();
    let again = fetch_json(&app);
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["outcome"], "duplicate", "{again:?}");
    assert!(fetch_json(&app).is_empty());
}

/// A mailbox `support` on `dv`, moving processed mail to Processed, with N messages.
fn mailbox_with_mail(app: &TestApp, dv: &Dovecot, n: usize) {
    let pwf = password_file(app, IMAP_PASSWORD);
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
    for i in 1..=n {
        dv.deliver(i, &customer_mail(i));
    }
}

/// Every message came through exactly once: N distinct Message-IDs, N cases created,
/// at most one duplicate (the message in flight when something was killed: committed
/// but not moved), the inbox empty and Processed holding each message.
fn each_exactly_once(dv: &Dovecot, seen: &[serde_json::Value], n: usize) {
    let mut ids: Vec<&str> = seen
        .iter()
        .filter_map(|o| o["message_id"].as_str())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "every message came through: {seen:?}");
    assert_eq!(
        outcomes(seen, "created"),
        n,
        "each became one case: {seen:?}"
    );
    let dups = outcomes(seen, "duplicate");
    assert!(dups <= 1, "{seen:?}");
    assert_eq!(seen.len(), n + dups, "nothing else printed: {seen:?}");
    assert_eq!(dv.count("INBOX"), 0, "nothing left in the inbox");
    // A MOVE cut by the kill can leave the server's own copy behind in Processed as
    // well as in INBOX: then, and only then, the duplicate is moved a second time.
    let processed = dv.count("Processed");
    assert!(
        processed == n || (processed == n + 1 && dups == 1),
        "Processed holds {processed} for {n} messages ({dups} duplicates)"
    );
}

#[test]
fn killing_the_imap_server_mid_fetch_loses_and_doubles_nothing() {
    if !dovecot_available() {
        return;
    }
    let mut dv = Dovecot::new();
    // 15 s: a Dovecot killed mid-move may take seconds to open the folder again after
    // its restart on a loaded machine (CI once waited more than 5 s for it).
    let mut app = TestApp::with_args(&["--imap-timeout", "15"]);
    app.seed_staff();
    const N: usize = 40;
    mailbox_with_mail(&app, &dv, N);
    // Start a fetch and kill the server under it once the first message is in.
    let run = FetchRun::start(&app, &[]);
    let first = run.next_line(Duration::from_secs(60));
    assert!(first.is_some(), "the fetch took a first message");
    dv.kill();
    // The dead connection ends the fetch at once (at worst after the 15 s timeout).
    let cut = run.finish(Duration::from_secs(45));
    let mut seen: Vec<serde_json::Value> = first.into_iter().chain(cut.lines).collect();
    eprintln!(
        "before the kill: {} messages, ok {}, {:?}: {}",
        seen.len(),
        cut.ok,
        cut.took,
        cut.stderr
    );
    assert!(seen.len() < N, "the kill came mid-fetch");
    assert!(!cut.ok, "a fetch cut short exits non-zero");
    assert!(cut.stderr.contains("mailbox support"), "{}", cut.stderr);

    // While the server is down: a clear error, non-zero exit, nothing lost.
    let down = fetch_bounded(&app);
    assert!(!down.ok);
    assert!(down.lines.is_empty(), "{:?}", down.lines);
    assert!(
        down.stderr.contains("mailbox support") && down.stderr.contains("cannot connect"),
        "{}",
        down.stderr
    );

    // Back up, with both folders open again (see Dovecot::restart): one fetch takes
    // the rest, no retry.
    dv.restart();
    seen.extend(fetch_json(&app));
    assert!(fetch_json(&app).is_empty(), "nothing more to take");
    each_exactly_once(&dv, &seen, N);
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
fn a_killed_fetch_does_not_keep_its_mailbox_the_next_fetch_takes_it_over() {
    if !dovecot_available() {
        return;
    }
    let dv = Dovecot::new();
    let app = TestApp::with_args(&["--imap-timeout", "5"]);
    app.seed_staff();
    const N: usize = 40;
    mailbox_with_mail(&app, &dv, N);
    let run = FetchRun::start(&app, &[]);
    let first = run.next_line(Duration::from_secs(60));
    assert!(first.is_some(), "the fetch took a first message");
    // Frozen mid-run: alive, holding its claim.
    let mut run = run;
    signal(run.pid(), libc::SIGSTOP);
    let pid = run.pid();
    assert!(run.running(), "stopped mid-fetch, not finished");

    // Another fetch meanwhile says on stderr that it skipped the mailbox, and who has it.
    let skipped = fetch_bounded(&app);
    assert!(skipped.ok, "skipping is not a failure: {}", skipped.stderr);
    assert!(skipped.lines.is_empty(), "{:?}", skipped.lines);
    assert!(
        skipped.stderr.contains("mailbox support skipped")
            && skipped
                .stderr
                .contains(&format!("casebook fetch (pid {pid} on ")),
        "{}",
        skipped.stderr
    );
    // Asked for by name, the skip is a failure, with the same message.
    let named = FetchRun::start(&app, &["--mailbox", "support"]).finish(Duration::from_secs(60));
    assert!(!named.ok);
    assert!(
        named.stderr.contains("mailbox support skipped"),
        "{}",
        named.stderr
    );

    // kill -9: the claim stays in the database, but its holder is gone.
    let killed = run.kill();
    let mut seen: Vec<serde_json::Value> = first.into_iter().chain(killed.lines).collect();
    eprintln!("before the kill: {} messages", seen.len());
    assert!(seen.len() < N, "the kill came mid-fetch");

    // The next fetch takes the mailbox over at once (not after a lease) and finishes.
    let next = fetch_bounded(&app);
    assert!(next.ok, "{}", next.stderr);
    assert!(!next.stderr.contains("skipped"), "{}", next.stderr);
    eprintln!(
        "takeover fetch: {} lines in {:?}",
        next.lines.len(),
        next.took
    );
    seen.extend(next.lines);
    assert!(fetch_json(&app).is_empty(), "nothing more to take");
    each_exactly_once(&dv, &seen, N);
}

/// A server that accepts connections and never answers; with `greeting`, it greets
/// and then says nothing more.
fn silent_server(greeting: Option<&'static str>) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut s in l.incoming().flatten() {
            if let Some(g) = greeting {
                let _ = std::io::Write::write_all(&mut s, g.as_bytes());
            }
            held.push(s);
        }
    });
    port
}

#[test]
fn a_server_that_accepts_and_never_answers_is_a_timeout_error_not_a_hang() {
    let mut app = TestApp::with_args(&["--imap-timeout", "2"]);
    app.seed_staff();
    let pwf = password_file(&app, IMAP_PASSWORD);
    let mute = silent_server(None);
    let greets = silent_server(Some("* OK ready\r\n"));
    for (name, url) in [
        ("mute", format!("imap://{USER}@127.0.0.1:{mute}/INBOX")),
        ("greets", format!("imap://{USER}@127.0.0.1:{greets}/INBOX")),
        (
            "mute-tls",
            format!("imap://{USER}@127.0.0.1:{mute}/INBOX?tls=starttls"),
        ),
    ] {
        app.cli_ok(
            &[
                "mailbox",
                "add",
                "--name",
                name,
                "--url",
                &url,
                "--password-file",
                &pwf,
                "--no-test",
            ],
            None,
        );
    }
    // Three mailboxes, each given up after 2 s without an answer.
    let f = fetch_bounded(&app);
    eprintln!("{:?}: {}", f.took, f.stderr);
    assert!(!f.ok);
    assert!(f.took < Duration::from_secs(20), "bounded: {:?}", f.took);
    for (name, port) in [("mute", mute), ("greets", greets), ("mute-tls", mute)] {
        let line = f
            .stderr
            .lines()
            .find(|l| l.contains(&format!("mailbox {name}:")))
            .unwrap_or_default();
        assert!(
            line.contains(&format!("no answer from 127.0.0.1:{port} within 2 s")),
            "{name}: {}",
            f.stderr
        );
    }
    assert!(f.stderr.contains("timed out logging in"), "{}", f.stderr);
    assert!(
        f.stderr.contains("timed out waiting for the greeting"),
        "{}",
        f.stderr
    );
    // A second try fails the same way and counts: retried with backoff.
    let again = FetchRun::start(&app, &["--mailbox", "mute"]).finish(Duration::from_secs(20));
    assert!(!again.ok);
    let list = app.cli_ok(&["mailbox", "list"], None);
    assert!(
        list.lines().filter(|l| l.contains("timed out")).count() == 3,
        "last errors kept: {list}"
    );
    app.spawn();
    let b = app.browser();
    b.login("admin@casebook.example", PASSWORD);
    let page = b.get("/admin/mailboxes");
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(&format!("no answer from 127.0.0.1:{mute} within 2 s")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("failures in a row: 2)") || page.body.contains("连续失败: 2)"),
        "{}",
        page.body
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
    let url = dv.url();
    let add = [
        "mailbox",
        "add",
        "--name",
        "wrong",
        "--url",
        &url,
        "--password-file",
        &pwf,
    ];
    // Tested before it is saved: refused, and nothing saved.
    let out = app.cli(&add, None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not added") && err.contains("login refused"),
        "{err}"
    );
    assert!(!app.cli_ok(&["mailbox", "list"], None).contains("wrong"));
    // Saved as it is on request; then every fetch says why it fails.
    let mut saved = add.to_vec();
    saved.push("--no-test");
    app.cli_ok(&saved, None);
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
    // Tested before it is kept: a wrong password is refused on the page, nothing saved.
    let wrong = b.post(
        "/admin/mailboxes",
        &[
            ("csrf_token", &csrf),
            ("name", "web-wrong"),
            ("host", "127.0.0.1"),
            ("port", &port),
            ("tls", "plain"),
            ("username", USER),
            ("password", "still-not-it"),
            ("folder", "INBOX"),
        ],
    );
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(wrong.body.contains("login refused"), "{}", wrong.body);
    assert!(!b.get("/admin/mailboxes").body.contains("web-wrong"));
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
            rest.split(['/', '"']).next().map(str::to_string)
        })
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
        .collect::<std::collections::BTreeSet<_>>();
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
                "--no-test",
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

/// With IMAP IDLE a message appended to INBOX is a case within seconds although the
/// mailbox polls once an hour; a paused mailbox leaves new mail on the server until it
/// is resumed.
#[test]
fn with_idle_new_mail_is_a_case_within_five_seconds_and_a_pause_holds_it() {
    if !dovecot_available() {
        return;
    }
    let dv = Dovecot::new();
    let mut app = TestApp::new();
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
            "--poll-seconds",
            "3600",
        ],
        None,
    );
    app.spawn();
    let total = |app: &TestApp| {
        app.api_get("/api/cases", &token)["total"]
            .as_i64()
            .unwrap_or(-1)
    };
    // The first poll finds nothing, then waits in IDLE.
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.api_get("/api/mailboxes", &token)["mailboxes"][0]["last_ok_at"].is_null() {
        assert!(
            Instant::now() < deadline,
            "no first poll: {}",
            app.server_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    for round in 1..=2 {
        let started = Instant::now();
        dv.deliver(round, &customer_mail(round));
        while total(&app) < round as i64 {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "message {round} not a case within 5 s (polls hourly): {}",
                app.server_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "IDLE: message {round} appended to INBOX was a case after {:?}",
            started.elapsed()
        );
    }
    assert_eq!(dv.count_settled("Processed", 2, Duration::from_secs(5)), 2);

    // Paused: the next message stays on the server.
    app.cli_ok(&["mailbox", "pause", "--name", "support"], None);
    dv.deliver(3, &customer_mail(3));
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(total(&app), 2, "a paused mailbox is not fetched");
    assert_eq!(dv.count("INBOX"), 1);
    // Resumed: taken at once.
    app.cli_ok(&["mailbox", "resume", "--name", "support"], None);
    let started = Instant::now();
    while total(&app) < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not fetched after resume: {}",
            app.server_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(dv.count_settled("INBOX", 0, Duration::from_secs(5)), 0);
}

/// A provider's token endpoint and token check on loopback: `POST /token` (the
/// refresh-token grant, the client secret checked, refresh tokens rotated) and
/// `GET /tokeninfo?access_token=` for Dovecot.
struct TokenServer {
    port: u16,
    state: std::sync::Arc<std::sync::Mutex<TokenState>>,
}

#[derive(Default)]
struct TokenState {
    /// Refresh grants answered with a token.
    grants: usize,
    /// Refused refresh attempts.
    refused: usize,
    /// The refresh token that works now.
    refresh: String,
    issued: Vec<String>,
    /// Lifetime of the tokens given, seconds.
    expires_in: i64,
}

const CLIENT_SECRET: &str = "client-s3cret";

impl TokenServer {
    fn start() -> TokenServer {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let state = std::sync::Arc::new(std::sync::Mutex::new(TokenState {
            refresh: "rt-0".into(),
            expires_in: 3600,
            ..TokenState::default()
        }));
        let st = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0u8; len];
                let _ = reader.read_exact(&mut body);
                let body = String::from_utf8_lossy(&body).to_string();
                let target = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                let form: std::collections::HashMap<String, String> = body
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.replace("%2D", "-").replace("%2d", "-")))
                    .collect();
                let (status, json) = {
                    let mut s = st.lock().expect("state");
                    if target == "/token" {
                        if form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
                            || form.get("client_id").map(String::as_str) != Some("casebook")
                        {
                            s.refused += 1;
                            (401, r#"{"error":"invalid_client","error_description":"client authentication failed"}"#.to_string())
                        } else if form.get("refresh_token") != Some(&s.refresh) {
                            s.refused += 1;
                            (400, r#"{"error":"invalid_grant"}"#.to_string())
                        } else {
                            s.grants += 1;
                            let at = format!("at-{}", s.grants);
                            s.issued.push(at.clone());
                            s.refresh = format!("rt-{}", s.grants);
                            (
                                200,
                                format!(
                                    r#"{{"access_token":"{at}","token_type":"Bearer","expires_in":{},"refresh_token":"{}"}}"#,
                                    s.expires_in, s.refresh
                                ),
                            )
                        }
                    } else if let Some(tok) = target.split("access_token=").nth(1) {
                        if s.issued.iter().any(|t| t == tok) {
                            (200, format!(r#"{{"username":"{USER}","active":"true"}}"#))
                        } else {
                            (401, r#"{"error":"invalid_token"}"#.to_string())
                        }
                    } else {
                        (404, "{}".to_string())
                    }
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
                    json.len()
                );
            }
        });
        TokenServer { port, state }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// XOAUTH2 against Dovecot's oauth2 passdb: added with a refresh token, a fresh access
/// token is asked for, kept, reused while it lives and refreshed before it expires (the
/// rotated refresh token kept); a wrong client secret is a clear error on the admin
/// page and loses nothing.
#[test]
fn xoauth2_logs_in_with_a_refreshed_token_and_a_wrong_secret_is_a_clear_error() {
    if !dovecot_available() {
        return;
    }
    let tokens = TokenServer::start();
    tokens.state.lock().expect("state").expires_in = 30;
    let dv = Dovecot::with_oauth(&tokens.url("/tokeninfo?access_token="));
    let mut app = TestApp::new();
    let admin = app.seed_staff();
    let dir = app.data_dir();
    std::fs::write(dir.join("secret"), format!("{CLIENT_SECRET}\n")).expect("secret");
    std::fs::write(dir.join("refresh"), "rt-0\n").expect("refresh");
    let add = app.cli(
        &[
            "mailbox",
            "add",
            "--name",
            "m365",
            "--url",
            &dv.url(),
            "--auth",
            "xoauth2",
            "--token-url",
            &tokens.url("/token"),
            "--client-id",
            "casebook",
            "--client-secret-file",
            &dir.join("secret").display().to_string(),
            "--refresh-token-file",
            &dir.join("refresh").display().to_string(),
            "--move-to",
            "Processed",
        ],
        None,
    );
    assert!(
        add.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&add.stderr),
        std::fs::read_to_string(dv.dir.path().join("dovecot.log")).unwrap_or_default()
    );
    // The test before saving asked for a token, and kept it with the rotated refresh
    // token; that token lives 30 s, so each poll refreshes first (a minute's margin).
    assert_eq!(
        tokens.state.lock().expect("state").grants,
        1,
        "the test asked once"
    );
    for i in 1..=2 {
        dv.deliver(i, &customer_mail(i));
        assert_eq!(outcomes(&fetch_json(&app), "created"), 1);
        assert_eq!(
            tokens.state.lock().expect("state").grants,
            1 + i,
            "refreshed before use"
        );
    }
    // Tokens that live an hour are kept and reused.
    tokens.state.lock().expect("state").expires_in = 3600;
    for i in 3..=4 {
        dv.deliver(i, &customer_mail(i));
        assert_eq!(outcomes(&fetch_json(&app), "created"), 1);
    }
    assert_eq!(
        tokens.state.lock().expect("state").grants,
        4,
        "one refresh, then reused"
    );
    assert_eq!(
        tokens.state.lock().expect("state").refused,
        0,
        "each rotated refresh token was kept and used"
    );
    let listed = app.cli_ok(&["mailbox", "list"], None);
    assert!(
        !listed.contains("at-") && !listed.contains("rt-") && !listed.contains(CLIENT_SECRET),
        "{listed}"
    );

    // A wrong client secret on the admin page: a clear error, the old settings kept,
    // the mail on the server untouched.
    app.spawn();
    let id = app.api_get("/api/mailboxes", &admin)["mailboxes"][0]["id"]
        .as_i64()
        .expect("id");
    let b = app.browser();
    b.login("admin@casebook.example", PASSWORD);
    let csrf = b.csrf(&format!("/admin/mailboxes/{id}"));
    let page = b.post(
        &format!("/admin/mailboxes/{id}"),
        &[
            ("csrf_token", &csrf),
            ("name", "m365"),
            ("host", "127.0.0.1"),
            ("port", &dv.port.to_string()),
            ("tls", "plain"),
            ("username", USER),
            ("folder", "INBOX"),
            ("move_to", "Processed"),
            ("poll_seconds", "3600"),
            ("auth", "xoauth2"),
            ("token_url", &tokens.url("/token")),
            ("client_id", "casebook"),
            ("client_secret", "wrong-secret"),
        ],
    );
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains("invalid_client") && page.body.contains("client secret"),
        "the provider's words and what to check: {}",
        page.body
    );
    app.stop();
    dv.deliver(5, &customer_mail(5));
    assert_eq!(
        outcomes(&fetch_json(&app), "created"),
        1,
        "the old settings still work"
    );
}

/// An IMAP server that answers everything with OK and IDLE with a tagged OK instead of
/// a continuation (which the `imap` crate does not expect).
fn odd_idle_server() -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut w = s.try_clone().expect("clone");
                let _ = w.write_all(b"* OK odd server ready\r\n");
                let mut r = BufReader::new(s);
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 0) {
                    let mut parts = line.split_whitespace();
                    let tag = parts.next().unwrap_or("*").to_string();
                    let cmd = parts.next().unwrap_or("").to_ascii_uppercase();
                    let reply = match cmd.as_str() {
                        "CAPABILITY" => format!("* CAPABILITY IMAP4rev1 IDLE\r\n{tag} OK done\r\n"),
                        "SELECT" | "EXAMINE" => format!(
                            "* 0 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n{tag} OK [READ-WRITE] done\r\n"
                        ),
                        "LIST" => format!("* LIST () \"/\" INBOX\r\n{tag} OK done\r\n"),
                        "IDLE" => format!("{tag} OK idling is over already\r\n"),
                        "LOGOUT" => format!("* BYE\r\n{tag} OK bye\r\n"),
                        _ => format!("{tag} OK done\r\n"),
                    };
                    if w.write_all(reply.as_bytes()).is_err() {
                        break;
                    }
                    line.clear();
                }
            });
        }
    });
    port
}

/// A server that breaks the IDLE protocol is this mailbox's error, with backoff, not a
/// poll thread that dies and leaves the mailbox claimed.
#[test]
fn a_server_that_answers_idle_wrongly_is_an_error_on_its_mailbox() {
    let port = odd_idle_server();
    let mut app = TestApp::new();
    let token = app.seed_staff();
    let pwf = password_file(&app, "x");
    app.cli_ok(
        &[
            "mailbox",
            "add",
            "--name",
            "odd",
            "--url",
            &format!("imap://u@127.0.0.1:{port}/INBOX?tls=plain"),
            "--password-file",
            &pwf,
            "--poll-seconds",
            "3600",
            "--no-test",
        ],
        None,
    );
    app.spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = app.api_get("/api/mailboxes", &token)["mailboxes"][0].clone();
        if m["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("continuation"))
        {
            assert!(m["failures"].as_i64().unwrap_or_default() >= 1, "{m}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no error recorded: {m}\n{}",
            app.server_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
