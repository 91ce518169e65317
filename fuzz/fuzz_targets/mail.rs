//! The mail pipeline without a database: what `mail::ingest` runs on every offered
//! input (export / mbox / single message detection, parsing) and on every parsed
//! message (threading keys, subject, greeting, masking, scope and closure, facts,
//! attachments: bundle inspection and text decoding).

#![no_main]

use casebook::bundles;
use casebook::config::Settings;
use casebook::mail::{export, extract, mbox, parse, ParsedMail, Rules};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn rules() -> &'static Rules {
    static R: OnceLock<Rules> = OnceLock::new();
    R.get_or_init(|| {
        // The default prefixes: `display_subject` compiles one pattern per prefix
        // per call, the bulk of this target's time.
        let mut s = Settings::for_data_dir("/nonexistent".into());
        s.staff_domains = vec!["example.com".into()];
        Rules::from_settings(&s).expect("default rules")
    })
}

/// Same dispatch as `ingest_input_with`.
fn parse_input(raw: &[u8]) -> Vec<ParsedMail> {
    let head = String::from_utf8_lossy(&raw[..raw.len().min(4096)]);
    if export::looks_like_export(&head) {
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t.to_string(),
            Err(_) => encoding_rs::GB18030.decode(raw).0.into_owned(),
        };
        return export::parse_export(&text).unwrap_or_default();
    }
    if mbox::looks_like_mbox(raw) {
        return mbox::split(raw)
            .iter()
            .filter_map(|m| parse::parse_message(m).ok())
            .collect();
    }
    parse::parse_message(raw).into_iter().collect()
}

/// What `ingest_parsed`, `find_case`, `create_case`, `record_facts`, `apply_events`
/// and `bundles::record` compute from a parsed message.
fn digest(rules: &Rules, pm: &ParsedMail) {
    let _ = extract::normalize_subject(&pm.subject);
    let _ = extract::greeting(&pm.body_text);
    for id in pm.in_reply_to.iter().chain(pm.references.iter()) {
        let id = id.trim().trim_start_matches('<').trim_end_matches('>');
        let _ = extract::plausible_message_id(id);
    }
    let _ = extract::find_case_tag(&pm.subject);
    let _ = extract::find_case_tag(&pm.body_text);
    let _ = extract::find_tokens_re(&pm.subject, &rules.token_re);
    let _ = extract::find_tokens_re(&pm.body_text, &rules.token_re);
    let _ = extract::customer_oem_from_subject(&pm.subject);
    let _ = extract::display_subject(&pm.subject, &rules.token_prefixes);
    let masked = extract::mask_secrets(&pm.body_text);
    let _ = extract::split_folded(&masked);
    let _ = extract::extract_closure(&masked);
    let _ = extract::extract_scope(&masked);
    let mut texts = vec![pm.subject.clone(), pm.body_text.clone()];
    for a in &pm.attachments {
        assert!(
            !a.filename.is_empty() && !a.filename.contains(['/', '\\']),
            "unsafe attachment name {:?}",
            a.filename
        );
        let limits = bundles::Limits::default();
        if bundles::is_zip(&a.filename, &a.content_type, &a.bytes) {
            let _ = bundles::inspect(&a.bytes, &limits, &rules.serial);
        } else if bundles::is_text_name(&a.filename) || a.content_type.starts_with("text/") {
            let mut findings = Vec::new();
            let text = bundles::decode_text(&a.bytes);
            bundles::scan_text(
                &a.filename,
                &text,
                &rules.serial,
                &mut findings,
                limits.max_findings,
            );
        }
        let texty = a.content_type.starts_with("text/")
            || [".log", ".txt", ".csv", ".xml", ".ini"]
                .iter()
                .any(|e| a.filename.to_lowercase().ends_with(e));
        if texty {
            texts.push(match std::str::from_utf8(&a.bytes) {
                Ok(t) => t.to_string(),
                Err(_) => encoding_rs::GB18030.decode(&a.bytes).0.into_owned(),
            });
        }
    }
    for t in &texts {
        let _ = extract::error_codes(t);
        let _ = extract::serial_numbers(t, &rules.serial);
        let _ = extract::product_keys(t);
    }
}

fuzz_target!(|data: &[u8]| {
    let rules = rules();
    for pm in parse_input(data) {
        digest(rules, &pm);
    }
});
