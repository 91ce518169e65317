//! The log-bundle inspector: a zip (maybe nested, maybe hostile) read in memory,
//! entries listed, text decoded and scanned; single entries read back as the case
//! page's entry view does.

#![no_main]

use casebook::bundles::{self, Limits};
use libfuzzer_sys::fuzz_target;
use regex::Regex;
use std::sync::OnceLock;

fn serial() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(casebook::config::DEFAULT_SERIAL_PATTERN).expect("pattern"))
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    match bundles::inspect(data, &limits, serial()) {
        Ok(inspection) => {
            for e in inspection.entries.iter().take(8) {
                let _ = bundles::read_entry(data, &e.path, &limits);
            }
        }
        Err(refusal) => {
            let _ = refusal.to_string();
        }
    }
    // A plain .log/.txt attachment goes through the same decoder and scanner.
    let text = bundles::decode_text(data);
    let mut findings = Vec::new();
    bundles::scan_text(
        "fuzz.log",
        &text,
        serial(),
        &mut findings,
        limits.max_findings,
    );
});
