//! Signed session cookies: `uid.epoch.expires.nonce.sig`. No server-side session
//! table, so several servers on one database agree; the per-user epoch in the
//! database ends every session of a user at once (disable, password reset, logout).

use super::Keys;

pub const COOKIE: &str = "cb_session";
pub const LIFETIME_SECS: i64 = 7 * 24 * 3600;

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub user_id: i64,
    pub epoch: i64,
    pub expires: i64,
    pub nonce: String,
}

pub fn encode(keys: &Keys, s: &Session) -> String {
    let data = format!("{}.{}.{}.{}", s.user_id, s.epoch, s.expires, s.nonce);
    let sig = keys.sign("session", &data);
    format!("{data}.{sig}")
}

pub fn decode(keys: &Keys, value: &str, now_unix: i64) -> Option<Session> {
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
    };
    (s.expires > now_unix).then_some(s)
}

pub fn new_session(user_id: i64, epoch: i64, now_unix: i64) -> Session {
    Session {
        user_id,
        epoch,
        expires: now_unix + LIFETIME_SECS,
        nonce: super::random_hex(16),
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
        };
        let v = encode(&keys, &s);
        assert_eq!(decode(&keys, &v, 50), Some(s));
        assert_eq!(decode(&keys, &v, 150), None, "expired");
        assert_eq!(
            decode(&keys, &v.replacen("7.", "1.", 1), 50),
            None,
            "tampered"
        );
        assert_eq!(decode(&Keys::from_secret(b"other".to_vec()), &v, 50), None);
    }
}
