//! Mailbox passwords at rest: encrypted with a key derived from the server secret
//! (HMAC-SHA256 in counter mode as the key stream, a random nonce, and an
//! HMAC-SHA256 tag over nonce and ciphertext). `v1:NONCE:CIPHERTEXT:TAG`, hex.

use super::MailboxError;
use crate::auth::Keys;

const STREAM: &str = "mailbox-password-stream";
const TAG: &str = "mailbox-password-tag";

fn xor_stream(keys: &Keys, nonce: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for (i, chunk) in data.chunks(32).enumerate() {
        let block = hex::decode(keys.sign(STREAM, &format!("{nonce}:{i}"))).unwrap_or_default();
        out.extend(chunk.iter().zip(block.iter()).map(|(a, b)| a ^ b));
    }
    out
}

pub fn encrypt(keys: &Keys, password: &str) -> String {
    let nonce = crate::auth::random_hex(16);
    let ct = hex::encode(xor_stream(keys, &nonce, password.as_bytes()));
    let tag = keys.sign(TAG, &format!("{nonce}:{ct}"));
    format!("v1:{nonce}:{ct}:{tag}")
}

pub fn decrypt(keys: &Keys, enc: &str) -> Result<String, MailboxError> {
    let bad = || {
        MailboxError::Password(
            "stored password cannot be decrypted (was the server secret changed?)".into(),
        )
    };
    let mut parts = enc.split(':');
    let (Some("v1"), Some(nonce), Some(ct), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad());
    };
    if !keys.verify(TAG, &format!("{nonce}:{ct}"), tag) {
        return Err(bad());
    }
    let raw = hex::decode(ct).map_err(|_| bad())?;
    String::from_utf8(xor_stream(keys, nonce, &raw)).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let k = Keys::from_secret(b"0123456789abcdef0123456789abcdef".to_vec());
        let pw = "pässwörd with a long tail that spans more than one 32-byte block";
        let enc = encrypt(&k, pw);
        assert!(!enc.contains("pässwörd"));
        assert_eq!(decrypt(&k, &enc).unwrap(), pw);
        assert_ne!(encrypt(&k, pw), enc, "fresh nonce each time");
        let other = Keys::from_secret(b"another secret".to_vec());
        assert!(decrypt(&other, &enc).is_err());
        let mut t = enc.clone();
        t.replace_range(30..31, if &enc[30..31] == "0" { "1" } else { "0" });
        assert!(decrypt(&k, &t).is_err());
    }
}
