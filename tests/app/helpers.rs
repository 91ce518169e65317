//! TestApp: the real `casebook` binary on a port the system picks, with a fresh data dir
//! (and a fresh PostgreSQL database when CASEBOOK_TEST_PG_URL is set), spoken to over HTTP.

use diesel::{Connection, RunQueryDsl};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "Correct-Horse-9";
pub const BIN: &str = env!("CARGO_BIN_EXE_casebook");

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The team's shared folder: `$CASEBOOK_SHARED_DIR`, `../shared` beside the checkout,
/// or the workplace's `/work/shared`; None when absent (tests skip then, but fail under CI=true).
pub fn shared_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("CASEBOOK_SHARED_DIR").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")),
        Some(PathBuf::from("/work/shared")),
    ];
    if let Some(p) = candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("corpus").is_dir())
    {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("../shared is missing: required under CI=true");
    }
    eprintln!("SKIP: ../shared is not present beside the checkout");
    None
}

/// A port that was free a moment ago. Only for servers that must be told their port
/// before they exist (dovecot, whose config has no "any port"): another process could
/// take it in between. Everything that can bind port 0 and report its port does so
/// instead; a port a server takes late is held meanwhile (the outbox test's "down"
/// mail server), or another test's sink could be given it and receive foreign mail.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// What `serve` prints on stdout once bound: `Casebook listening on http://ADDR`.
const LISTENING: &str = "listening on http://";

/// Reads the server's stdout until its "listening on" line and returns the base URL;
/// every line (that one included) goes on to `log`, in a thread that drains stdout for
/// the server's lifetime. An error when the line does not come within `timeout` or
/// stdout closes first (the server exited).
fn listening_address(
    stdout: std::process::ChildStdout,
    mut log: std::fs::File,
    timeout: Duration,
) -> Result<String, String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(log, "{line}");
            if let Some(at) = line.find(LISTENING) {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(format!("http://{}", line[at + LISTENING.len()..].trim()));
                }
            }
        }
    });
    match rx.recv_timeout(timeout) {
        Ok(base) => Ok(base),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "no \"{LISTENING}\" line on stdout within {} s",
            timeout.as_secs()
        )),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            Err(format!("stdout closed before a \"{LISTENING}\" line"))
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub dir: tempfile::TempDir,
    pub database_url: Option<String>,
    child: Option<Child>,
    pg: Option<(String, String)>,
    extra: Vec<String>,
    /// Environment variables for every process of this app (servers and CLI).
    pub envs: Vec<(String, String)>,
}

impl TestApp {
    /// A fresh data dir (and database), not yet serving.
    pub fn new() -> TestApp {
        Self::with_args(&[])
    }

    /// A fresh app on SQLite whatever the suite runs against (to compare the engines).
    pub fn on_sqlite() -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        TestApp {
            base: String::new(),
            dir,
            database_url: None,
            child: None,
            pg: None,
            extra: Vec::new(),
            envs: Vec::new(),
        }
    }

    pub fn with_args(extra: &[&str]) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut pg = None;
        let mut database_url = None;
        if let Ok(admin) = std::env::var("CASEBOOK_TEST_PG_URL") {
            let name = format!("cb_test_{}_{}", std::process::id(), rand::random::<u32>());
            let mut c =
                diesel::PgConnection::establish(&admin).expect("connect to the test PostgreSQL");
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut c)
                .expect("create database");
            let url = match admin.rsplit_once('/') {
                Some((head, _)) => format!("{head}/{name}"),
                None => panic!("bad CASEBOOK_TEST_PG_URL"),
            };
            database_url = Some(url);
            pg = Some((admin, name));
        }
        TestApp {
            base: String::new(),
            dir,
            database_url,
            child: None,
            pg,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            envs: Vec::new(),
        }
    }

    /// Starts `casebook serve` and waits for /healthz.
    pub fn start(mut self) -> TestApp {
        self.spawn();
        self
    }

    /// Starts `casebook serve --bind 127.0.0.1:0`: the system picks a free port and the
    /// server prints the address it bound on stdout, which is read here (no port is
    /// chosen, closed and re-bound, so no other process can take it in between).
    pub fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("log file");
        let mut child = Command::new(BIN)
            .args(self.global_args())
            .args(["serve", "--bind", "127.0.0.1:0"])
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(log.try_clone().expect("log"))
            .env(
                "RUST_LOG",
                std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .spawn()
            .expect("start casebook serve");
        let stdout = child.stdout.take().expect("server stdout");
        self.child = Some(child);
        self.base = match listening_address(stdout, log, Duration::from_secs(30)) {
            Ok(base) => base,
            Err(why) => {
                let exited = self
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten())
                    .map(|s| format!(" (exited: {s})"))
                    .unwrap_or_default();
                self.stop();
                panic!("server did not start{exited}: {why}\n{}", self.server_log());
            }
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while ureq::get(&format!("{}/healthz", self.base))
            .timeout(Duration::from_secs(1))
            .call()
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "server at {} did not answer /healthz: {}",
                self.base,
                self.server_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether this app runs on PostgreSQL (`CASEBOOK_TEST_PG_URL`).
    pub fn on_postgres(&self) -> bool {
        self.database_url.is_some()
    }

    /// The PostgreSQL database's URL; None, after saying why the test is skipped, on
    /// SQLite (`why`: what makes the test PostgreSQL's only).
    pub fn pg_url_or_skip(&self, why: &str) -> Option<String> {
        if self.database_url.is_none() {
            eprintln!(
                "SKIP: PostgreSQL only ({why}); this runs under CASEBOOK_TEST_PG_URL (CI does)"
            );
        }
        self.database_url.clone()
    }

    /// A second `casebook serve` on this app's data dir and database (two servers on one
    /// PostgreSQL, or two processes on one SQLite file); stopped when dropped.
    pub fn another_server(&self, n: u32) -> Server {
        self.server_with(n, self.global_args())
    }

    /// Another server on the same database but a data dir of its own, as on another
    /// machine.
    pub fn server_elsewhere(&self, n: u32) -> Server {
        let mut args = self.global_args();
        let other = self.dir.path().join(format!("machine{n}"));
        std::fs::create_dir_all(&other).expect("other data dir");
        args[1] = other.display().to_string();
        self.server_with(n, args)
    }

    fn server_with(&self, n: u32, args: Vec<String>) -> Server {
        let log = std::fs::File::create(self.dir.path().join(format!("server{n}.log")))
            .expect("log file");
        let mut child = Command::new(BIN)
            .args(args)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(log.try_clone().expect("log"))
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("start casebook serve");
        let stdout = child.stdout.take().expect("server stdout");
        let base = match listening_address(stdout, log, Duration::from_secs(30)) {
            Ok(b) => b,
            Err(why) => {
                let _ = child.kill();
                panic!("second server did not start: {why}");
            }
        };
        Server { child, base }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn global_args(&self) -> Vec<String> {
        let mut a = vec![
            "--data-dir".to_string(),
            self.data_dir().display().to_string(),
        ];
        if let Some(u) = &self.database_url {
            a.push("--database-url".into());
            a.push(u.clone());
        }
        a.extend(self.extra.iter().cloned());
        a
    }

    /// Runs the CLI against this app's data dir and database.
    pub fn cli(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut child = Command::new(BIN)
            .args(self.global_args())
            .args(args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run casebook");
        {
            let mut input = child.stdin.take().expect("stdin");
            if let Some(data) = stdin {
                input.write_all(data).expect("write stdin");
            }
        }
        child.wait_with_output().expect("wait")
    }

    pub fn cli_ok(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.cli(args, stdin);
        assert!(
            out.status.success(),
            "casebook {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn add_user(&self, email: &str, name: &str, role: &str, aliases: &[&str]) {
        let mut args = vec![
            "user", "add", "--email", email, "--name", name, "--role", role,
        ];
        for a in aliases {
            args.push("--alias");
            args.push(a);
        }
        self.cli_ok(&args, Some(format!("{PASSWORD}\n").as_bytes()));
    }

    pub fn token(&self, email: &str) -> String {
        self.cli_ok(&["token", "create", "--email", email], None)
            .trim()
            .to_string()
    }

    /// The seed's staff plus an admin; returns the admin's API token.
    pub fn seed_staff(&self) -> String {
        self.add_user("admin@casebook.example", "Admin", "admin", &[]);
        self.add_user("wangbb@cmgos.example", "Wang Binbin", "support", &[]);
        self.add_user("liuyu@cmgos.example", "Liu Yu", "rnd", &["Joy"]);
        self.token("admin@casebook.example")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> (u16, serde_json::Value) {
        let mut req = ureq::request(method, &self.url(path)).timeout(Duration::from_secs(60));
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        let res = match body {
            Some(b) => req.send_bytes(b),
            None => req.call(),
        };
        let resp = match res {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = resp.status();
        let text = resp.into_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    pub fn api_get(&self, path: &str, token: &str) -> serde_json::Value {
        let (status, v) = self.api("GET", path, Some(token), None);
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    /// The one case the queue lists for `query` (`/api/cases?{query}`, asserted to be
    /// one), as `GET /api/cases/{n}` shows it.
    pub fn only_case(&self, query: &str, token: &str) -> serde_json::Value {
        let listed = self.api_get(&format!("/api/cases?{query}"), token);
        assert_eq!(listed["total"], 1, "{listed}");
        let number = listed["cases"][0]["number"].as_str().expect("number");
        self.api_get(&format!("/api/cases/{number}"), token)
    }

    /// The status of a GET sent exactly as written: no client-side resolution of `..`
    /// or percent-escapes, as an attacker's raw request would be.
    pub fn raw_get(&self, path: &str) -> u16 {
        use std::io::Read;
        let host = self.base.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(host).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let head = String::from_utf8_lossy(&answer);
        head.split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("GET {path}: no status line in {head:?}"))
    }

    pub fn browser(&self) -> Browser {
        Browser {
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(60))
                .build(),
            base: self.base.clone(),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
        if let Some((admin, name)) = self.pg.take() {
            if let Ok(mut c) = diesel::PgConnection::establish(&admin) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c);
            }
        }
    }
}

/// Another server process on a test app's storage.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Page {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A cookie-keeping client that does not follow redirects, like a browser's view of one hop.
pub struct Browser {
    pub agent: ureq::Agent,
    pub base: String,
}

fn to_page(res: Result<ureq::Response, ureq::Error>) -> Page {
    let resp = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = resp.status();
    let location = resp.header("Location").map(str::to_string);
    let headers = resp
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = resp.header(&n).unwrap_or("").to_string();
            (n, v)
        })
        .collect();
    let body = resp.into_string().unwrap_or_default();
    Page {
        status,
        body,
        location,
        headers,
    }
}

impl Browser {
    pub fn get(&self, path: &str) -> Page {
        to_page(self.agent.get(&format!("{}{}", self.base, path)).call())
    }

    /// The body of a GET that answers 200, as bytes (a download).
    pub fn get_bytes(&self, path: &str) -> Vec<u8> {
        use std::io::Read;
        let resp = self
            .agent
            .get(&format!("{}{}", self.base, path))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let mut out = Vec::new();
        resp.into_reader()
            .take(64 * 1024 * 1024)
            .read_to_end(&mut out)
            .expect("body");
        out
    }

    /// The status of a GET whose body never ends (an event stream): the answer's head
    /// only, then the connection is dropped.
    pub fn status_only(&self, path: &str) -> u16 {
        match self.agent.get(&format!("{}{}", self.base, path)).call() {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(s, _)) => s,
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        to_page(
            self.agent
                .post(&format!("{}{}", self.base, path))
                .send_form(fields),
        )
    }

    /// The CSRF token of the forms on a page.
    pub fn csrf(&self, path: &str) -> String {
        let page = self.get(path);
        csrf_in(&page.body).unwrap_or_else(|| panic!("no csrf_token on {path}: {}", page.body))
    }

    pub fn login(&self, email: &str, password: &str) -> Page {
        let token = self.csrf("/login");
        self.post(
            "/login",
            &[
                ("email", email),
                ("password", password),
                ("csrf_token", &token),
            ],
        )
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.agent
            .cookie_store()
            .get("127.0.0.1", "/", name)
            .map(|c| c.value().to_string())
    }
}

pub fn csrf_in(html: &str) -> Option<String> {
    let re = regex::Regex::new(r#"name="csrf_token" value="([0-9a-f]+)""#).ok()?;
    re.captures(html).map(|c| c[1].to_string())
}

impl Browser {
    /// A multipart/form-data POST, as a browser's file upload sends it.
    pub fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Page {
        let boundary = format!("----casebook{}", rand::random::<u64>());
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        for (field, filename, data) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        to_page(
            self.agent
                .post(&format!("{}{}", self.base, path))
                .set(
                    "Content-Type",
                    &format!("multipart/form-data; boundary={boundary}"),
                )
                .send_bytes(&body),
        )
    }
}

/// A small RFC 5322 message for threading tests.
/// Asserts that `case[field]` is a time that starts with `prefix` (UTC, RFC 3339).
pub fn assert_time(case: &serde_json::Value, field: &str, prefix: &str) {
    assert!(
        case[field].as_str().is_some_and(|t| t.starts_with(prefix)),
        "{field}: {}",
        case[field]
    );
}

pub fn mail(headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut s = String::new();
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("Content-Type"))
    {
        s.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n");
    }
    s.push_str("\r\n");
    s.push_str(body);
    s.push_str("\r\n");
    s.into_bytes()
}

/// A real SMTP server (Python's aiosmtpd) on loopback that keeps every message as a file.
pub struct SmtpSink {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl SmtpSink {
    /// None (skip) when aiosmtpd is missing, except under CI=true where that fails.
    pub fn available() -> bool {
        let ok = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "aiosmtpd is required under CI=true (pip install aiosmtpd)"
            );
            eprintln!("SKIP: python3 aiosmtpd is not installed (scripts/test installs it)");
        }
        ok
    }

    /// A sink on a given port (0: the system picks one, read back into `port`).
    pub fn on_port(port: u16, dir: PathBuf) -> SmtpSink {
        let mut s = SmtpSink {
            port,
            dir,
            child: None,
        };
        s.start();
        s
    }

    /// A sink on a port the system picks.
    pub fn new(dir: PathBuf) -> SmtpSink {
        Self::on_port(0, dir)
    }

    /// A port for a sink started later (a mail server that is down, then comes up).
    pub fn free_port() -> u16 {
        free_port()
    }

    pub fn start(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(self.port.to_string())
            .arg(&self.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("sink stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("sink ready line");
        self.child = Some(child);
        // "ready PORT": the port it listens on (the one asked for, or the system's pick).
        match line.trim().strip_prefix("ready ").map(str::parse::<u16>) {
            Some(Ok(port)) if self.port == 0 || self.port == port => self.port = port,
            _ => {
                self.stop();
                panic!(
                    "SMTP sink did not start (asked for port {}): {line:?}",
                    self.port
                );
            }
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    // Only finished messages: the sink writes `.NAME.eml.part` and renames
                    // it to `NAME.eml` once complete.
                    .filter(|p| {
                        p.extension().is_some_and(|x| x == "eml")
                            && !p
                                .file_name()
                                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                    })
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }

    /// The messages received once one of them satisfies `pred`, or all of them after
    /// `secs` seconds. Other mail (a notification to an engineer) may come first.
    pub fn wait_for_one(&self, secs: u64, pred: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let m = self.messages();
            if m.iter().any(|x| pred(x)) || Instant::now() > deadline {
                return m;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_for(&self, n: usize, secs: u64) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let m = self.messages();
            if m.len() >= n || Instant::now() > deadline {
                return m;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The value of a header in a raw message (unfolded).
pub fn header_of(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or(raw);
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded
        .lines()
        .find(|l| {
            l.len() > name.len()
                && l[..name.len()].eq_ignore_ascii_case(name)
                && l.as_bytes()[name.len()] == b':'
        })
        .map(|l| l[name.len() + 1..].trim().to_string())
}

/// Every file under `dir`, recursively (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

/// A customer's mail with a text log over 256 KiB attached, so that the raw message is
/// a stored file too: (raw message, the log's text).
pub fn big_log_mail(message_id: &str) -> (String, String) {
    let log: String = (0..12_000)
        .map(|i| format!("{i:06} slmgr /ato 0xC004F074 T1022100{i:05}\n"))
        .collect();
    let raw = format!(
        "From: ma@bank.example\r\nTo: support@cmgos.example\r\nSubject: big log\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee the log\r\n--b\r\nContent-Type: text/plain; name=\"big.log\"\r\nContent-Disposition: attachment; filename=\"big.log\"\r\n\r\n{log}\r\n--b--\r\n"
    );
    assert!(raw.len() > 256 * 1024);
    (raw, log)
}

/// A zip over 1.5 MB whose `logs/app.log` (20,000 numbered rows, `row 000001 …`) sits
/// behind 1.6 MB of incompressible bytes: a store that reads large files in ranges
/// must seek to reach it. Returns the zip.
pub fn bundle_behind_noise() -> Vec<u8> {
    use std::io::Write;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let noise: Vec<u8> = (0..1_600_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let log: String = (1..=20_000)
        .map(|i| format!("row {i:06} 2022-06-24 ok\n"))
        .collect();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in [("noise.bin", &noise[..]), ("logs/app.log", log.as_bytes())] {
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(data).expect("write");
    }
    let z = w.finish().expect("finish").into_inner();
    assert!(z.len() > 1_500_000, "{}", z.len());
    z
}

/// Checks, through `b`, that the second 256 KiB page of `logs/app.log` in the
/// attachment at `att` (a `bundle_behind_noise` upload) holds exactly the rows after
/// the first page's, up to the last.
pub fn second_page_reads_back(b: &Browser, att: &str) {
    let url = |k: u64| format!("{att}/view?path=logs%2Fapp.log&page={k}");
    let first = b.get(&url(1));
    assert_eq!(first.status, 200, "{}", first.body);
    let rows = first.body.matches("<li><code>row ").count();
    assert!(rows > 10_000, "{rows}");
    let second = b.get(&url(2));
    assert_eq!(second.status, 200, "{}", second.body);
    assert!(second
        .body
        .contains(&format!("<ol class=\"logview\" start=\"{}\">", rows + 1)));
    assert!(second.body.contains(&format!(
        "<li><code>row {:06} 2022-06-24 ok</code></li>",
        rows + 1
    )));
    assert!(second
        .body
        .contains("<li><code>row 020000 2022-06-24 ok</code></li>"));
    assert_eq!(
        second.body.matches("<li><code>row ").count(),
        20_000 - rows,
        "every row after the first page"
    );
}
