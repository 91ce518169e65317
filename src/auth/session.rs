//! Signed session cookies: `uid.epoch.expires.nonce.seen.sig`. No server-side session
//! table, so several servers on one database agree; the per-user epoch in the
//! database ends every session of a user at once (disable, password reset, logout).
//! `seen` is the last time the session was used: a session unused longer than the
//! idle limit ends; the cookie is re-issued with a new `seen` (see `needs_touch`).

use super::Keys;

pub const COOKIE: &str = "cb_session";
pub const LIFETIME_SECS: i64 = 7 * 24 * 3600;

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub user_id: i64,
    pub epoch: i64,
    pub expires: i64,
    pub nonce: String,
    /// Last use (unix seconds), refreshed at most once per `touch_interval`.
    pub seen: i64,
}

pub fn encode(keys: &Keys, s: &Session) -> String {
    let data = format!(
        "{}.{}.{}.{}.{}",
        s.user_id, s.epoch, s.expires, s.nonce, s.seen
    );
    let sig = keys.sign("session", &data);
    format!("{data}.{sig}")
}

/// The session in a cookie value, when it is ours, not expired and (with
/// `idle_secs` > 0) used within the last `idle_secs` seconds.
pub fn decode(keys: &Keys, value: &str, now_unix: i64, idle_secs: i64) -> Option<Session> {
    let (data, sig) = value.rsplit_once('.')?;
    if !keys.verify("session", data, sig) {
        return None;
    }
    let mut parts = data.split('.');
    let s = Session {
        user_id: parts.next()?.parse().ok()?,
        epoch: parts.next()?.parse().ok()?,
        expires: parts.next()?.parse().ok()?,
        nonce: parts.next()?.to_string(),
        seen: parts.next()?.parse().ok()?,
    };
    let idle_ok = idle_secs <= 0 || now_unix - s.seen <= idle_secs;
    (s.expires > now_unix && idle_ok).then_some(s)
}

/// The nonce of a cookie we signed, expired or not: what CSRF tokens are bound to
/// (the same value when the page is rendered and when its form comes back).
pub fn nonce(keys: &Keys, value: &str) -> Option<String> {
    let (data, sig) = value.rsplit_once('.')?;
    if !keys.verify("session", data, sig) {
        return None;
    }
    data.split('.').nth(3).map(str::to_string)
}

/// How often the cookie's `seen` is refreshed: once a minute, more often for an idle
/// limit under four minutes (so a session in use never reaches its limit).
pub fn touch_interval(idle_secs: i64) -> i64 {
    if idle_secs <= 0 {
        i64::MAX
    } else {
        (idle_secs / 4).clamp(1, 60)
    }
}

/// The same session marked as used at `now_unix`, when its cookie is due for renewal.
pub fn needs_touch(s: &Session, now_unix: i64, idle_secs: i64) -> Option<Session> {
    (idle_secs > 0 && now_unix - s.seen >= touch_interval(idle_secs)).then(|| Session {
        seen: now_unix,
        ..s.clone()
    })
}

pub fn new_session(user_id: i64, epoch: i64, now_unix: i64) -> Session {
    Session {
        user_id,
        epoch,
        expires: now_unix + LIFETIME_SECS,
        nonce: super::random_hex(16),
        seen: now_unix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let keys = Keys::from_secret(b"k".to_vec());
        let s = Session {
            user_id: 7,
            epoch: 2,
            expires: 100,
            nonce: "ab".into(),
            seen: 40,
        };
        let v = encode(&keys, &s);
        assert_eq!(decode(&keys, &v, 50, 0), Some(s.clone()));
        assert_eq!(decode(&keys, &v, 150, 0), None, "expired");
        assert_eq!(
            decode(&keys, &v.replacen("7.", "1.", 1), 50, 0),
            None,
            "tampered"
        );
        assert_eq!(
            decode(&Keys::from_secret(b"other".to_vec()), &v, 50, 0),
            None
        );
        assert_eq!(decode(&keys, &v, 50, 10), Some(s.clone()), "idle 10 s");
        assert_eq!(decode(&keys, &v, 51, 10), None, "idle 11 s > 10");
        assert_eq!(
            needs_touch(&s, 45, 600),
            None,
            "renewed at most once a minute"
        );
        assert_eq!(needs_touch(&s, 100, 600).map(|t| t.seen), Some(100));
        assert_eq!(needs_touch(&s, 100, 0), None, "no idle limit");
    }
}
