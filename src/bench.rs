//! `casebook bench-ingest`: a generated, realistic corpus (zh and en, mixed charsets,
//! threads with In-Reply-To/References, error codes, serials, attachments) ingested
//! end to end into a fresh SQLite database, beside the ceiling of parsing alone.

use crate::config::Settings;
use base64::Engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

const ZH_LINES: &[&str] = &[
    "用户反馈激活失败，提示应用程序中发生了未经处理的异常。",
    "我们已经按照步骤收集了日志，请帮忙分析问题原因以及解决方案。",
    "离线激活也失败，提示：创建离线激活请求失败，请联系客服处理。",
    "请问这个问题有任何进展吗？用户比较着急。",
    "通过检查日志和现象判断：激活客户端调用WMI服务接口查询bios序列号失败。",
    "感谢回复，关于这个问题如果还需要收集其他的相关日志，也请告知。",
];
const EN_LINES: &[&str] = &[
    "Activation fails on several machines after the latest image was deployed.",
    "We collected the logs as requested; please find them attached to this message.",
    "The KMS host cannot be reached from the branch office network.",
    "Is there any progress on this case? The customer is waiting for an answer.",
    "According to the logs the licensing service could not read the BIOS serial number.",
    "Café déjà vu: the German and French installations show the same problem.",
];
const CODES: &[&str] = &[
    "0xC004F074",
    "0xC002001B",
    "0x8007232B",
    "0xC004C003",
    "0x80070005",
    "0x8007007B",
];
const DOMAINS: &[&str] = &[
    "bank.example",
    "insurer.example",
    "factory.example",
    "school.example",
    "city.example",
];

fn qp(s: &str) -> String {
    let mut out = String::new();
    let mut col = 0;
    for b in s.bytes() {
        let piece = if b == b'\n' {
            col = 0;
            out.push_str("\r\n");
            continue;
        } else if (33..=126).contains(&b) && b != b'=' || b == b' ' {
            (b as char).to_string()
        } else {
            format!("={b:02X}")
        };
        if col + piece.len() > 72 {
            out.push_str("=\r\n");
            col = 0;
        }
        col += piece.len();
        out.push_str(&piece);
    }
    out
}

fn b64_lines(bytes: &[u8]) -> String {
    let enc = base64::engine::general_purpose::STANDARD.encode(bytes);
    enc.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// `n` messages in `threads` threads, in arrival order.
pub fn generate(n: usize, threads: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let threads = threads.max(1);
    let per = n.div_ceil(threads);
    let mut out = Vec::with_capacity(n);
    for round in 0..per {
        for t in 0..threads {
            if out.len() >= n {
                break;
            }
            let zh = t % 2 == 0;
            let domain = DOMAINS[t % DOMAINS.len()];
            let from = if round % 2 == 0 {
                format!("Customer {t} <c{t}@{domain}>")
            } else {
                "Support <support@cmgos.example>".to_string()
            };
            let subject = if zh {
                format!("激活失败问题 {t}")
            } else {
                format!("Activation problem {t}")
            };
            let subject = if round == 0 {
                subject
            } else if zh {
                format!("回复: {subject}")
            } else {
                format!("Re: {subject}")
            };
            let mut body = String::new();
            for _ in 0..rng.gen_range(8..40) {
                let lines = if zh { ZH_LINES } else { EN_LINES };
                body.push_str(lines[rng.gen_range(0..lines.len())]);
                body.push('\n');
            }
            if rng.gen_bool(0.5) {
                body.push_str(&format!(
                    "错误代码 {} serial number T1022{:08}\n",
                    CODES[t % CODES.len()],
                    t
                ));
            }
            let mut h = format!(
                "From: {from}\r\nTo: support@cmgos.example\r\nMessage-ID: <t{t}.m{round}@{domain}>\r\nDate: Mon, 01 Jul 2024 {:02}:{:02}:00 +0800\r\nMIME-Version: 1.0\r\n",
                round % 24,
                t % 60
            );
            if round > 0 {
                let refs = (0..round)
                    .map(|r| format!("<t{t}.m{r}@{domain}>"))
                    .collect::<Vec<_>>()
                    .join(" ");
                h.push_str(&format!(
                    "In-Reply-To: <t{t}.m{}@{domain}>\r\nReferences: {refs}\r\n",
                    round - 1
                ));
            }
            let enc_subject = format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(subject.as_bytes())
            );
            h.push_str(&format!("Subject: {enc_subject}\r\n"));
            let (ctype, cte, payload) = match (zh, rng.gen_range(0..4)) {
                (true, 0 | 1) => (
                    "text/plain; charset=gb2312",
                    "base64",
                    b64_lines(&encoding_rs::GB18030.encode(&body).0),
                ),
                (true, _) => (
                    "text/plain; charset=utf-8",
                    "base64",
                    b64_lines(body.as_bytes()),
                ),
                (false, 0) => (
                    "text/plain; charset=iso-8859-1",
                    "quoted-printable",
                    qp(&String::from_utf8_lossy(
                        &encoding_rs::WINDOWS_1252.encode(&body).0,
                    )),
                ),
                (false, 1) => ("text/plain; charset=utf-8", "quoted-printable", qp(&body)),
                (false, _) => (
                    "text/plain; charset=utf-8",
                    "8bit",
                    body.replace('\n', "\r\n"),
                ),
            };
            let attach = rng.gen_bool(0.1);
            if attach {
                let log = format!(
                    "2024-07-01 10:00:00 activation error {}\n",
                    CODES[t % CODES.len()]
                )
                .repeat(20);
                h.push_str("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n");
                h.push_str(&format!("--b1\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{payload}\r\n"));
                h.push_str(&format!(
                    "--b1\r\nContent-Type: text/plain; name=\"activation.log\"\r\nContent-Disposition: attachment; filename=\"activation.log\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
                    b64_lines(log.as_bytes())
                ));
            } else {
                h.push_str(&format!("Content-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{payload}\r\n"));
            }
            out.push(h.into_bytes());
        }
    }
    out
}

pub struct BenchResult {
    pub messages: usize,
    pub bytes: usize,
    pub parse_secs: f64,
    pub ingest_secs: f64,
    /// Search indexing of the same messages, done after ingest (as the server's indexer does).
    pub index_secs: f64,
    pub outcomes: std::collections::BTreeMap<&'static str, usize>,
}

/// With `keep`, the database stays in `DATA_DIR/bench-data` for `scripts/bench` to serve.
pub fn run(
    base: &Settings,
    messages: usize,
    threads: usize,
    batch: usize,
    keep: bool,
) -> Result<BenchResult, String> {
    let corpus = generate(messages, threads, 42);
    let bytes = corpus.iter().map(Vec::len).sum();
    let t0 = Instant::now();
    let mut parsed = 0usize;
    for m in &corpus {
        if crate::mail::parse::parse_message(m).is_ok() {
            parsed += 1;
        }
    }
    let parse_secs = t0.elapsed().as_secs_f64();
    if parsed != corpus.len() {
        return Err(format!(
            "only {parsed} of {} generated messages parse",
            corpus.len()
        ));
    }
    let dir = if keep {
        base.data_dir.join("bench-data")
    } else {
        base.data_dir.join(format!("bench-{}", std::process::id()))
    };
    let _ = std::fs::remove_dir_all(&dir);
    let mut settings = Settings::for_data_dir(dir.clone());
    settings.token_prefix = base.token_prefix.clone();
    settings.token_prefixes = base.token_prefixes.clone();
    let state = crate::startup::build_state(settings, 2).map_err(|e| e.to_string())?;
    let store = crate::storage::DirStore::new(state.settings.blob_dir())
        .map_err(|e| e.to_string())?
        .with_deferred_sync();
    let mut conn = state.pool.get().map_err(|e| e.to_string())?;
    let staff = crate::mail::Staff::load(&mut conn).map_err(|e| e.to_string())?;
    let mut outcomes = std::collections::BTreeMap::new();
    let t1 = Instant::now();
    for chunk in corpus.chunks(batch.max(1)) {
        crate::db::begin_batch(&mut conn).map_err(|e| e.to_string())?;
        for (i, m) in chunk.iter().enumerate() {
            let out = crate::mail::ingest_input_with(
                &mut conn,
                &store,
                &state.rules,
                &staff,
                m,
                &format!("bench#{i}"),
            )
            .map_err(|e| e.to_string())?;
            for o in out {
                *outcomes.entry(o.outcome.as_str()).or_insert(0) += 1;
            }
        }
        store.sync_all().map_err(|e| e.to_string())?;
        crate::db::end_batch(&mut conn, true).map_err(|e| e.to_string())?;
    }
    let ingest_secs = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    crate::search::catch_up_all(&mut conn).map_err(|e| e.to_string())?;
    let index_secs = t2.elapsed().as_secs_f64();
    drop(conn);
    drop(state);
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(BenchResult {
        messages: corpus.len(),
        bytes,
        parse_secs,
        ingest_secs,
        index_secs,
        outcomes,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_corpus_parses_and_threads() {
        let c = super::generate(40, 4, 1);
        assert_eq!(c.len(), 40);
        for m in &c {
            let p = crate::mail::parse::parse_message(m).expect("parses");
            assert!(!p.body_text.is_empty());
        }
        let zh = crate::mail::parse::parse_message(&c[0]).expect("parse");
        assert!(zh.subject.contains("激活失败"), "{}", zh.subject);
    }
}
