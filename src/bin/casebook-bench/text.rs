//! `casebook-bench --text-work`: the text work of search on the generated corpus's
//! bodies, without a database or a server — cutting a body into index tokens (what the
//! indexer does per document) and a search snippet (what a search does per hit) for the
//! word queries of `scripts/bench`. The best of five rounds, in µs per call.

use std::time::Instant;

/// The word queries of `scripts/bench` (its `search-words.txt`), split as a search
/// splits them (quoted phrases aside).
const QUERIES: [&str; 18] = [
    "激活",
    "激活 失败",
    "离线激活",
    "序列号",
    "日志",
    "WMI",
    "bios序列号",
    "解决方案",
    "activation",
    "licensing service",
    "BIOS serial",
    "KMS host",
    "branch office",
    "customer waiting",
    "deployed image",
    "0xC004F074 激活",
    "失败 0xC002001B",
    "logs attached",
];

pub struct TextWork {
    pub bodies: usize,
    pub snippets: usize,
    pub index_tokens_us: f64,
    pub snippet_us: f64,
}

pub fn run(corpus: &super::corpus::Corpus) -> TextWork {
    let bodies: Vec<String> = (0..corpus.len())
        .filter_map(|i| casebook::mail::parse::parse_message(&corpus.message(i)).ok())
        .map(|m| m.body_text)
        .collect();
    let queries: Vec<Vec<String>> = QUERIES
        .iter()
        .map(|q| q.split(' ').map(String::from).collect())
        .collect();
    // A search quotes a body that holds its terms: those pairs only.
    let pairs: Vec<(&str, &[String])> = queries
        .iter()
        .flat_map(|q| {
            bodies
                .iter()
                .filter(|b| q.iter().any(|t| casebook::search::words::contains(b, t)))
                .map(move |b| (b.as_str(), q.as_slice()))
        })
        .collect();
    let best = |f: &dyn Fn() -> usize, calls: usize| {
        let mut best = f64::MAX;
        let mut check = 0;
        for _ in 0..5 {
            let t = Instant::now();
            check += f();
            best = best.min(t.elapsed().as_secs_f64() * 1e6 / calls.max(1) as f64);
        }
        std::hint::black_box(check);
        best
    };
    let index_tokens_us = best(
        &|| {
            bodies
                .iter()
                .map(|b| casebook::search::words::index_tokens(b).len())
                .sum()
        },
        bodies.len(),
    );
    let snippet_us = best(
        &|| {
            pairs
                .iter()
                .map(|(b, q)| casebook::search::snippet(b, q, 160).len())
                .sum()
        },
        pairs.len(),
    );
    TextWork {
        bodies: bodies.len(),
        snippets: pairs.len(),
        index_tokens_us,
        snippet_us,
    }
}
