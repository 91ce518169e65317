#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up themselves
//! Deterministic mutation runs over the parsers (mail, export format, mbox, zip
//! bundles): truncated, bit-flipped, spliced and repeated inputs must never panic.
//! A bounded, always-on complement to fuzzing (see the note in BENCHMARKS/README).

// The bench's generated corpus, as seeds; its own test runs here too.
#[allow(dead_code)]
#[path = "../src/bin/casebook-bench/corpus.rs"]
mod corpus;

mod mutations {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn mutate(rng: &mut StdRng, input: &[u8]) -> Vec<u8> {
        let mut v = input.to_vec();
        match rng.gen_range(0..6) {
            0 => v.truncate(rng.gen_range(0..=v.len())),
            1 => {
                for _ in 0..rng.gen_range(1..16) {
                    if !v.is_empty() {
                        let i = rng.gen_range(0..v.len());
                        v[i] ^= 1 << rng.gen_range(0..8);
                    }
                }
            }
            2 => {
                let i = rng.gen_range(0..=v.len());
                let junk: &[u8] = [
                    &b"\r\n--b\r\n"[..],
                    b"=?gb2312?B?zqTJ0w==?=",
                    b"\x00\xff\xfe",
                    b"Content-Type: multipart/mixed; boundary=\"",
                    b"\r\n\r\n",
                    b"PK\x03\x04",
                ][rng.gen_range(0..6)];
                v.splice(i..i, junk.iter().copied());
            }
            3 => {
                if v.len() > 2 {
                    let a = rng.gen_range(0..v.len() / 2);
                    let b = rng.gen_range(a..v.len());
                    let piece = v[a..b].to_vec();
                    v.extend_from_slice(&piece);
                }
            }
            4 => v.retain(|_| rng.gen_bool(0.97)),
            _ => {
                let i = rng.gen_range(0..=v.len());
                v.truncate(i);
                v.extend(std::iter::repeat_n(b'=', rng.gen_range(0..64)));
            }
        }
        v
    }

    #[test]
    fn mail_parsers_survive_mutations() {
        let mut rng = StdRng::seed_from_u64(20261125);
        let corpus = crate::corpus::Corpus::new(30, 5, 7);
        let mut inputs: Vec<Vec<u8>> = (0..corpus.len()).map(|i| corpus.message(i)).collect();
        inputs.push(include_bytes!("fixtures/seed-export.txt").to_vec());
        let serial = regex::Regex::new(casebook::config::DEFAULT_SERIAL_PATTERN).expect("re");
        for round in 0..3000 {
            let base = &inputs[round % inputs.len()];
            let m = mutate(&mut rng, base);
            let m = if rng.gen_bool(0.3) {
                mutate(&mut rng, &m)
            } else {
                m
            };
            let _ = casebook::mail::parse::parse_message(&m);
            let text = String::from_utf8_lossy(&m);
            if casebook::mail::export::looks_like_export(&text) {
                let _ = casebook::mail::export::parse_export(&text);
            }
            let _ = casebook::mail::mbox::split(&m);
            let _ = casebook::mail::extract::mask_secrets(&text);
            let _ = casebook::mail::extract::extract_scope(&text);
            let _ = casebook::mail::extract::serial_numbers(&text, &serial);
        }
    }

    #[test]
    fn bundle_inspector_survives_mutations() {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in [
            (
                "a/log.txt",
                &b"2024-01-01 00:00:00 error 0xC004F074\nT102210000943\n"[..],
            ),
            ("b.bin", &[0u8, 1, 2, 3][..]),
        ] {
            w.start_file(name, zip::write::SimpleFileOptions::default())
                .expect("start");
            w.write_all(data).expect("write");
        }
        let zip = w.finish().expect("finish").into_inner();
        let serial = regex::Regex::new(casebook::config::DEFAULT_SERIAL_PATTERN).expect("re");
        let limits = casebook::bundles::Limits {
            max_total: 1 << 20,
            max_entry: 1 << 20,
            ..Default::default()
        };
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..3000 {
            let m = mutate(&mut rng, &zip);
            let _ = casebook::bundles::inspect(&m, &limits, &serial);
            let _ = casebook::bundles::read_entry(&m, "a/log.txt", &limits);
            let _ = casebook::bundles::decode_text(&m);
        }
    }
}
