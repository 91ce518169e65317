//! Typed settings built from the command line (flags with env fallbacks).

use std::path::PathBuf;

#[derive(Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: String,
    /// `s3://BUCKET[/PREFIX]?endpoint=…&region=…`: stored files in an object store;
    /// empty: in the database on PostgreSQL, in the data dir on SQLite.
    pub blob_url: String,
    pub secure_cookies: bool,
    /// Prefix of the tracking token we issue (`CMIT` gives `CMIT:0001234`).
    pub token_prefix: String,
    /// Prefixes recognised in incoming mail (always includes `token_prefix`).
    pub token_prefixes: Vec<String>,
    /// Regular expression for product serial numbers.
    pub serial_pattern: String,
    /// Mail domains whose senders are staff even without a user account.
    pub staff_domains: Vec<String>,
    /// `authserv-id`s of the receiving MTAs whose `Authentication-Results` we believe.
    pub trusted_authserv_ids: Vec<String>,
    /// A reply to a case closed longer ago than this opens a new, linked case.
    pub reopen_window_days: i64,
    /// Largest accepted raw message or upload, in bytes.
    pub max_message_bytes: usize,
    /// `smtp://host:port`, `smtps://user:pass@host`, `smtp://host?tls=required`; None: mail goes to files.
    pub smtp_url: Option<String>,
    /// Sender of outgoing mail, e.g. `Support <support@example.com>`.
    pub mail_from: String,
    /// Where people reach Casebook (`https://casebook.example.com`), for links in
    /// mail; empty: links are paths only.
    pub public_url: String,
    /// Where notifications of unassigned cases nobody watches go; empty: nowhere.
    pub team_address: String,
    /// First-response SLA in minutes per priority: low, normal, high, urgent.
    pub sla_minutes: [i64; 4],
    /// An escalation waiting on R&D longer than this is flagged.
    pub escalation_overdue_hours: i64,
    /// The assignee is warned this many minutes before a first response is due
    /// (0: never).
    pub sla_warning_minutes: i64,
    /// Send R&D a mail notice when an escalation opens or gets a follow-up.
    pub notify_rnd: bool,
    /// Seconds between outbox runs.
    pub outbox_interval_secs: u64,
    /// Connect, read and write timeout for IMAP servers, in seconds.
    pub imap_timeout_secs: u64,
    /// Reverse proxies whose `X-Forwarded-For` is believed (for the login throttle's
    /// client address); empty: the peer address is the client.
    pub trusted_proxies: Vec<IpRange>,
    /// A session unused this many seconds ends (the cookie carries its last-seen
    /// time); 0: no idle timeout, only the 7-day lifetime.
    pub session_idle_secs: i64,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The database URL may carry a password: never print it.
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field(
                "database",
                &if crate::db::is_postgres_url(&self.database_url) {
                    "postgres"
                } else {
                    "sqlite"
                },
            )
            .field("token_prefix", &self.token_prefix)
            .finish_non_exhaustive()
    }
}

impl Settings {
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        let db = data_dir.join("casebook.sqlite3");
        Settings {
            database_url: db.to_string_lossy().into_owned(),
            data_dir,
            blob_url: String::new(),
            secure_cookies: false,
            token_prefix: "CMIT".into(),
            token_prefixes: vec!["CMIT".into()],
            serial_pattern: DEFAULT_SERIAL_PATTERN.into(),
            staff_domains: Vec::new(),
            trusted_authserv_ids: Vec::new(),
            reopen_window_days: 30,
            max_message_bytes: 50 * 1024 * 1024,
            smtp_url: None,
            mail_from: "Casebook <casebook@localhost>".into(),
            public_url: String::new(),
            team_address: String::new(),
            sla_minutes: [24 * 60, 8 * 60, 2 * 60, 30],
            escalation_overdue_hours: 48,
            sla_warning_minutes: 30,
            notify_rnd: true,
            outbox_interval_secs: 2,
            imap_timeout_secs: crate::mailboxes::DEFAULT_IMAP_TIMEOUT_SECONDS,
            trusted_proxies: Vec::new(),
            session_idle_secs: 480 * 60,
        }
    }

    pub fn blob_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }

    /// Where outgoing mail is written when no SMTP server is configured.
    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("outgoing-mail")
    }

    pub fn imap_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.imap_timeout_secs.max(1))
    }
}

/// The seed's serial `T102210000943`: one letter and twelve digits.
/// ASCII word boundaries, so a serial right after Chinese text (激活码T1022…) still matches.
pub const DEFAULT_SERIAL_PATTERN: &str = r"(?-u:\b)[A-Z][0-9]{12}(?-u:\b)";

/// One address or a CIDR block (`10.0.0.0/8`, `::1`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn parse(s: &str) -> Result<IpRange, String> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: std::net::IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("not an IP address or CIDR block: {s:?}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("bad prefix length in {s:?}"))?,
            None => max,
        };
        Ok(IpRange { addr, prefix })
    }

    /// Parses a comma-separated list; empty items are skipped.
    pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Vec<IpRange>, String> {
        items
            .iter()
            .flat_map(|i| i.as_ref().split(','))
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(IpRange::parse)
            .collect()
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        // An IPv4 peer may arrive as an IPv4-mapped IPv6 address.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod ip_range_tests {
    use super::IpRange;

    #[test]
    fn ranges_parse_and_match() {
        let r = IpRange::parse_list(&["127.0.0.1, 10.0.0.0/8", "fd00::/8"]).expect("parse");
        assert_eq!(r.len(), 3);
        let has = |s: &str| r.iter().any(|x| x.contains(s.parse().expect("ip")));
        assert!(has("127.0.0.1") && has("10.2.3.4") && has("fd12::1") && has("::ffff:10.0.0.1"));
        assert!(!has("127.0.0.2") && !has("11.0.0.1") && !has("fe80::1"));
        assert!(IpRange::parse("0.0.0.0/0")
            .expect("all")
            .contains("8.8.8.8".parse().expect("ip")));
        for bad in ["", "10.0.0.0/33", "example.com", "1.2.3.4/x"] {
            assert!(IpRange::parse(bad).is_err(), "{bad}");
        }
    }
}
