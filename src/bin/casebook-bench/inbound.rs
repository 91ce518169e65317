//! Live delivery under concurrency: the generated corpus posted to a running server's
//! `POST /api/mail/inbound` by `clients` connections at once (HTTP/1.1 keep-alive,
//! each message exactly once), as an MTA pipe or `casebook mailgate` would.
//! The rate counts only answered deliveries: each answer comes after its commit.

use crate::corpus::Corpus;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct InboundResult {
    pub messages: usize,
    pub secs: f64,
    /// Answers by HTTP status.
    pub statuses: std::collections::BTreeMap<u16, usize>,
    /// Per-delivery latency, sorted (milliseconds).
    pub latencies_ms: Vec<f64>,
}

/// One keep-alive connection to `addr` (host:port).
struct Conn {
    stream: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: &str) -> std::io::Result<Conn> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Conn {
            stream: BufReader::new(s),
        })
    }

    /// Posts `body`; the response status.
    fn post(&mut self, host: &str, token: &str, body: &[u8]) -> std::io::Result<u16> {
        let head = format!(
            "POST /api/mail/inbound HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: message/rfc822\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let w = self.stream.get_mut();
        w.write_all(head.as_bytes())?;
        w.write_all(body)?;
        let mut line = String::new();
        self.stream.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            self.stream.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut sink = vec![0u8; length];
        self.stream.read_exact(&mut sink)?;
        Ok(status)
    }
}

/// Posts `messages` generated messages in `threads` threads with `clients` connections.
pub fn run(
    addr: &str,
    token: &str,
    clients: usize,
    messages: usize,
    threads: usize,
) -> Result<InboundResult, String> {
    // Message-IDs of their own, so that a run into a database that already holds the
    // bench's (or an earlier run's) mail files new messages, not duplicates.
    let tag = format!(
        ".live{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    );
    let corpus = Arc::new(Corpus::new(messages, threads, 7).tagged(&tag));
    // Generated beforehand, so that generating does not count.
    let bodies: Arc<Vec<Vec<u8>>> =
        Arc::new((0..corpus.len()).map(|i| corpus.message(i)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let out = Arc::new(Mutex::new((std::collections::BTreeMap::new(), Vec::new())));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let (bodies, next, out) = (bodies.clone(), next.clone(), out.clone());
            let (addr, token) = (addr.to_string(), token.to_string());
            std::thread::spawn(move || -> Result<(), String> {
                let mut conn = Conn::open(&addr).map_err(|e| format!("connect {addr}: {e}"))?;
                let mut statuses = std::collections::BTreeMap::new();
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let t = Instant::now();
                    let status = conn
                        .post(&addr, &token, body)
                        .map_err(|e| format!("message {i}: {e}"))?;
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    *statuses.entry(status).or_insert(0usize) += 1;
                }
                let mut o = out.lock().map_err(|_| "poisoned")?;
                for (k, v) in statuses {
                    *o.0.entry(k).or_insert(0) += v;
                }
                o.1.extend(lat);
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "a client panicked".to_string())??;
    }
    let secs = t0.elapsed().as_secs_f64();
    let (statuses, mut latencies_ms) = std::mem::take(&mut *out.lock().map_err(|_| "poisoned")?);
    latencies_ms.sort_by(f64::total_cmp);
    Ok(InboundResult {
        messages: bodies.len(),
        secs,
        statuses,
        latencies_ms,
    })
}
