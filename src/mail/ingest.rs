//! The pipeline every input ends in: store raw → parse → duplicate check → thread →
//! case, message, attachments, facts and events, in one transaction per message.

use super::extract::{self, Greeting};
use super::{export, mbox, parse, IngestError, ParsedMail};
use crate::auth::users::{Role, User};
use crate::cases::{self, CaseRow, Status};
use crate::config::Settings;
use crate::db::schema::{
    attachments, case_codes, case_serials, cases as cases_t, closures, escalation_entries,
    escalations, messages, quarantine, raw_messages, scopes,
};
use crate::db::DbConn;
use crate::storage::{sha256_hex, BlobStore};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use regex::Regex;
use serde::Serialize;

/// Configurable parts of threading and extraction.
#[derive(Debug, Clone)]
pub struct Rules {
    pub serial: Regex,
    pub token_re: Regex,
    pub token_prefixes: Vec<String>,
    pub issue_prefix: String,
    pub staff_domains: Vec<String>,
    pub reopen_window: Duration,
    pub max_message_bytes: usize,
}

impl Rules {
    pub fn from_settings(s: &Settings) -> Result<Rules, IngestError> {
        let serial = Regex::new(&s.serial_pattern)
            .map_err(|e| IngestError::Rule(format!("serial pattern: {e}")))?;
        let mut prefixes = s.token_prefixes.clone();
        if !prefixes
            .iter()
            .any(|p| p.eq_ignore_ascii_case(&s.token_prefix))
        {
            prefixes.push(s.token_prefix.clone());
        }
        Ok(Rules {
            token_re: extract::token_regex(&prefixes),
            serial,
            token_prefixes: prefixes,
            issue_prefix: s.token_prefix.clone(),
            staff_domains: s
                .staff_domains
                .iter()
                .map(|d| d.trim().to_lowercase())
                .collect(),
            reopen_window: Duration::days(s.reopen_window_days),
            max_message_bytes: s.max_message_bytes,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Created,
    Threaded,
    Duplicate,
    Quarantined,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Created => "created",
            Kind::Threaded => "threaded",
            Kind::Duplicate => "duplicate",
            Kind::Quarantined => "quarantined",
        }
    }
}

/// What happened to one offered message.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub source: String,
    pub outcome: Kind,
    pub case_number: Option<String>,
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Staff accounts, loaded once per batch, to tell who spoke.
pub struct Staff {
    users: Vec<User>,
}

impl Staff {
    pub fn load(conn: &mut DbConn) -> QueryResult<Staff> {
        Ok(Staff {
            users: crate::auth::users::list(conn)?,
        })
    }

    fn identify(&self, name: &str, address: &str) -> Option<&User> {
        if !address.is_empty() {
            if let Some(u) = self
                .users
                .iter()
                .find(|u| u.email.eq_ignore_ascii_case(address))
            {
                return Some(u);
            }
        }
        if name.trim().is_empty() {
            return None;
        }
        self.users.iter().find(|u| u.is_staff_name(name))
    }

    fn is_rnd_name(&self, name: &str) -> bool {
        self.users
            .iter()
            .any(|u| u.role() == Role::Rnd && u.is_staff_name(name))
    }

    fn is_rnd_address(&self, address: &str) -> bool {
        self.users
            .iter()
            .any(|u| u.role() == Role::Rnd && u.email.eq_ignore_ascii_case(address))
    }
}

/// Direction of a message as shown on the case and used by reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Customer,
    Support,
    ToRnd,
    FromRnd,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Customer => "customer",
            Direction::Support => "support",
            Direction::ToRnd => "to_rnd",
            Direction::FromRnd => "from_rnd",
        }
    }
}

fn direction(staff: &Staff, rules: &Rules, pm: &ParsedMail) -> (Direction, Option<User>) {
    let user = staff.identify(&pm.from_name, &pm.from_address).cloned();
    let staff_domain = pm
        .from_address
        .rsplit_once('@')
        .is_some_and(|(_, d)| rules.staff_domains.iter().any(|s| s == d));
    let is_staff = user.is_some() || staff_domain;
    if !is_staff {
        return (Direction::Customer, None);
    }
    if user.as_ref().is_some_and(|u| u.role() == Role::Rnd) {
        return (Direction::FromRnd, user);
    }
    let to_rnd = pm.to.iter().any(|a| staff.is_rnd_address(a))
        || match extract::greeting(&pm.body_text) {
            Greeting::Dev => true,
            Greeting::Name(n) => staff.is_rnd_name(&n),
            Greeting::None => false,
        };
    (
        if to_rnd {
            Direction::ToRnd
        } else {
            Direction::Support
        },
        user,
    )
}

/// Entry point for any input: detects the export format, mbox or a single message.
pub fn ingest_input(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    rules: &Rules,
    raw: &[u8],
    source: &str,
) -> Result<Vec<Outcome>, IngestError> {
    let staff = Staff::load(conn)?;
    ingest_input_with(conn, store, rules, &staff, raw, source)
}

/// As `ingest_input`, with the staff directory loaded once by the caller (bulk runs).
pub fn ingest_input_with(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    rules: &Rules,
    staff: &Staff,
    raw: &[u8],
    source: &str,
) -> Result<Vec<Outcome>, IngestError> {
    let text_head = String::from_utf8_lossy(&raw[..raw.len().min(4096)]);
    if export::looks_like_export(&text_head) {
        return ingest_export(conn, store, rules, staff, raw, source);
    }
    if mbox::looks_like_mbox(raw) {
        let mut out = Vec::new();
        for (i, m) in mbox::split(raw).into_iter().enumerate() {
            out.push(ingest_one(
                conn,
                store,
                rules,
                staff,
                &m,
                &format!("{source}#{}", i + 1),
            )?);
        }
        return Ok(out);
    }
    Ok(vec![ingest_one(conn, store, rules, staff, raw, source)?])
}

/// Raw messages up to this size live in the database row (fast for the many small
/// ones); larger ones go to the blob store. Either way they are content-addressed.
pub const INLINE_RAW_MAX: usize = 256 * 1024;

/// Stores the exact bytes (content-addressed) and their row; returns the row id.
pub fn store_raw(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    raw: &[u8],
    source: &str,
) -> Result<i64, IngestError> {
    let sha = sha256_hex(raw);
    let existing: Option<i64> = raw_messages::table
        .filter(raw_messages::sha256.eq(&sha))
        .select(raw_messages::id)
        .first(conn)
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let inline = raw.len() <= INLINE_RAW_MAX;
    if !inline {
        store.put(raw)?;
    }
    let inserted = diesel::insert_into(raw_messages::table)
        .values((
            raw_messages::sha256.eq(&sha),
            raw_messages::size.eq(raw.len() as i64),
            raw_messages::source.eq(source),
            raw_messages::received_at.eq(crate::now()),
            raw_messages::data.eq(inline.then_some(raw)),
        ))
        .returning(raw_messages::id)
        .get_result(conn);
    match inserted {
        Ok(id) => Ok(id),
        // Another writer stored the same bytes at the same moment.
        Err(_) => Ok(raw_messages::table
            .filter(raw_messages::sha256.eq(&sha))
            .select(raw_messages::id)
            .first(conn)?),
    }
}

/// The exact bytes of a stored raw message.
pub fn load_raw(conn: &mut DbConn, store: &dyn BlobStore, id: i64) -> Result<Vec<u8>, IngestError> {
    let (sha, data): (String, Option<Vec<u8>>) = raw_messages::table
        .find(id)
        .select((raw_messages::sha256, raw_messages::data))
        .first(conn)?;
    match data {
        Some(d) => Ok(d),
        None => Ok(store.get(&sha)?),
    }
}

fn quarantine_raw(
    conn: &mut DbConn,
    raw_id: i64,
    source: &str,
    reason: &str,
) -> Result<Outcome, IngestError> {
    let open: Option<i64> = quarantine::table
        .filter(quarantine::raw_id.eq(raw_id))
        .filter(quarantine::resolved_at.is_null())
        .select(quarantine::id)
        .first(conn)
        .optional()?;
    if open.is_none() {
        diesel::insert_into(quarantine::table)
            .values((
                quarantine::raw_id.eq(raw_id),
                quarantine::source.eq(source),
                quarantine::reason.eq(reason),
                quarantine::created_at.eq(crate::now()),
            ))
            .execute(conn)?;
    }
    tracing::warn!(source, reason, "message quarantined");
    Ok(Outcome {
        source: source.to_string(),
        outcome: Kind::Quarantined,
        case_number: None,
        message_id: None,
        reason: Some(reason.to_string()),
    })
}

fn ingest_one(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    rules: &Rules,
    staff: &Staff,
    raw: &[u8],
    source: &str,
) -> Result<Outcome, IngestError> {
    let span = tracing::info_span!("ingest", source, size = raw.len());
    let _g = span.enter();
    let raw_id = store_raw(conn, store, raw, source)?;
    if raw.len() > rules.max_message_bytes {
        return quarantine_raw(
            conn,
            raw_id,
            source,
            &format!("message larger than {} bytes", rules.max_message_bytes),
        );
    }
    match parse::parse_message(raw) {
        Err(reason) => quarantine_raw(conn, raw_id, source, &reason),
        Ok(mut pm) => {
            if pm.message_id.is_none() {
                pm.message_id = Some(format!("nomid.{}@casebook.invalid", &sha256_hex(raw)[..32]));
            }
            ingest_parsed(conn, store, rules, staff, raw_id, pm, source)
        }
    }
}

fn ingest_export(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    rules: &Rules,
    staff: &Staff,
    raw: &[u8],
    source: &str,
) -> Result<Vec<Outcome>, IngestError> {
    let raw_id = store_raw(conn, store, raw, source)?;
    let text = match std::str::from_utf8(raw) {
        Ok(t) => t.to_string(),
        Err(_) => encoding_rs::GB18030.decode(raw).0.into_owned(),
    };
    match export::parse_export(&text) {
        Err(reason) => Ok(vec![quarantine_raw(conn, raw_id, source, &reason)?]),
        Ok(list) => {
            let mut out = Vec::new();
            for (i, pm) in list.into_iter().enumerate() {
                out.push(ingest_parsed(
                    conn,
                    store,
                    rules,
                    staff,
                    raw_id,
                    pm,
                    &format!("{source}#{}", i + 1),
                )?);
            }
            Ok(out)
        }
    }
}

fn content_hash(pm: &ParsedMail, attachment_shas: &[String]) -> String {
    let mut s = String::new();
    s.push_str(&extract::normalize_subject(&pm.subject));
    s.push('\0');
    s.push_str(&pm.from_address);
    s.push('\0');
    s.push_str(pm.body_text.trim());
    for a in attachment_shas {
        s.push('\0');
        s.push_str(a);
    }
    sha256_hex(s.as_bytes())
}

/// The case a message belongs to, by the threading rules in order.
fn find_case(
    conn: &mut DbConn,
    rules: &Rules,
    pm: &ParsedMail,
    own_id: &str,
) -> QueryResult<Option<CaseRow>> {
    let mut ids: Vec<&str> = Vec::new();
    for id in pm.in_reply_to.iter().chain(pm.references.iter().rev()) {
        let id = id.trim().trim_start_matches('<').trim_end_matches('>');
        if extract::plausible_message_id(id) && id != own_id && !ids.contains(&id) {
            ids.push(id);
        }
    }
    for id in ids.iter().take(100) {
        let found: Option<i64> = messages::table
            .filter(messages::message_id.eq(*id))
            .select(messages::case_id)
            .first(conn)
            .optional()?;
        if let Some(case_id) = found {
            return cases::find(conn, case_id);
        }
    }
    let tag = extract::find_case_tag(&pm.subject).or_else(|| extract::find_case_tag(&pm.body_text));
    if let Some(number) = tag {
        if let Some(c) = cases::find_by_number(conn, &number)? {
            return Ok(Some(c));
        }
    }
    let mut tokens = extract::find_tokens_re(&pm.subject, &rules.token_re);
    tokens.extend(extract::find_tokens_re(&pm.body_text, &rules.token_re));
    for t in tokens {
        let found = cases_t::table
            .filter(cases_t::tracking_token.eq(&t))
            .select(CaseRow::as_select())
            .first(conn)
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    if let Some(key) = &pm.thread_key {
        let found: Option<i64> = messages::table
            .filter(messages::thread_key.eq(key))
            .select(messages::case_id)
            .first(conn)
            .optional()?;
        if let Some(case_id) = found {
            return cases::find(conn, case_id);
        }
    }
    Ok(None)
}

fn customer_from_sender(pm: &ParsedMail) -> Option<String> {
    const FREEMAIL: &[&str] = &[
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "sohu.com",
        "gmail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "foxmail.com",
        "icloud.com",
        "aliyun.com",
        "139.com",
    ];
    let (_, domain) = pm.from_address.rsplit_once('@')?;
    if FREEMAIL.contains(&domain) {
        let n = pm.from_name.trim();
        return Some(if n.is_empty() {
            pm.from_address.clone()
        } else {
            n.to_string()
        });
    }
    Some(domain.to_string())
}

fn language_of(text: &str) -> &'static str {
    if text.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c)) {
        "zh-CN"
    } else {
        "en"
    }
}

#[allow(clippy::too_many_arguments)]
fn ingest_parsed(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    rules: &Rules,
    staff: &Staff,
    raw_id: i64,
    pm: ParsedMail,
    source: &str,
) -> Result<Outcome, IngestError> {
    let mid = pm.message_id.clone().unwrap_or_default();
    // Attachments go to the blob store before the transaction; the blobs are
    // content-addressed, so a rolled-back transaction leaves only a harmless file.
    let mut att_shas = Vec::with_capacity(pm.attachments.len());
    for a in &pm.attachments {
        att_shas.push(store.put(&a.bytes)?);
    }
    let hash = content_hash(&pm, &att_shas);
    crate::db::write_tx(conn, |conn| -> Result<Outcome, IngestError> {
        let same_id: Vec<(i64, i64, String)> = messages::table
            .filter(messages::message_id.eq(&mid))
            .select((messages::id, messages::case_id, messages::content_hash))
            .load(conn)?;
        if let Some((_, case_id, _)) = same_id.iter().find(|(_, _, h)| *h == hash) {
            let number = cases::find(conn, *case_id)?.map(|c| c.number);
            return Ok(Outcome {
                source: source.into(),
                outcome: Kind::Duplicate,
                case_number: number,
                message_id: Some(mid.clone()),
                reason: None,
            });
        }
        let reuses = same_id.first().map(|r| r.0);
        let sent_at = pm.sent_at.unwrap_or_else(crate::now);
        let (dir, user) = direction(staff, rules, &pm);
        let mut found = find_case(conn, rules, &pm, &mid)?;
        let mut parent = None;
        if let Some(c) = &found {
            let stale = c.status == Status::Closed.as_str()
                && c.closed_at
                    .is_some_and(|t| t + rules.reopen_window < sent_at)
                && dir == Direction::Customer
                && !pm.is_auto_reply;
            if stale {
                parent = Some(c.id);
                found = None;
            }
        }
        if found.is_none() && pm.is_own_loop {
            return Err(IngestError::Rule("loop".into()));
        }
        let (case, created) = match found {
            Some(c) => (c, false),
            None => (create_case(conn, rules, &pm, dir, sent_at, parent)?, true),
        };
        let from_address = match (&user, pm.from_address.is_empty()) {
            (Some(u), true) => u.email.clone(),
            _ => pm.from_address.clone(),
        };
        let from_name = match (&user, pm.from_name.is_empty()) {
            (Some(u), true) => u.name.clone(),
            _ => pm.from_name.clone(),
        };
        let body_masked = extract::mask_secrets(&pm.body_text);
        let row_id: i64 = diesel::insert_into(messages::table)
            .values((
                messages::case_id.eq(case.id),
                messages::raw_id.eq(raw_id),
                messages::message_id.eq(&mid),
                messages::content_hash.eq(&hash),
                messages::reuses_id_of.eq(reuses),
                messages::in_reply_to.eq(pm.in_reply_to.first()),
                messages::refs.eq(pm.references.join(" ")),
                messages::thread_key.eq(&pm.thread_key),
                messages::from_name.eq(&from_name),
                messages::from_address.eq(&from_address),
                messages::to_addrs.eq(pm.to.join(", ")),
                messages::subject.eq(&pm.subject),
                messages::sent_at.eq(sent_at),
                messages::received_at.eq(crate::now()),
                messages::direction.eq(dir.as_str()),
                messages::is_auto_reply.eq(pm.is_auto_reply),
                messages::body_text.eq(&body_masked),
                messages::source.eq(source),
            ))
            .returning(messages::id)
            .get_result(conn)?;
        let mut scan_texts: Vec<(String, String)> = vec![
            ("subject".into(), pm.subject.clone()),
            (format!("message {mid}"), pm.body_text.clone()),
        ];
        for (a, sha) in pm.attachments.iter().zip(&att_shas) {
            let att_id: i64 = diesel::insert_into(attachments::table)
                .values((
                    attachments::message_row_id.eq(row_id),
                    attachments::case_id.eq(case.id),
                    attachments::filename.eq(&a.filename),
                    attachments::content_type.eq(&a.content_type),
                    attachments::size.eq(a.bytes.len() as i64),
                    attachments::sha256.eq(sha),
                    attachments::is_tnef.eq(a.is_tnef),
                ))
                .returning(attachments::id)
                .get_result(conn)?;
            crate::bundles::record(
                conn,
                case.id,
                att_id,
                &a.filename,
                &a.content_type,
                &a.bytes,
                &rules.serial,
            )?;
            let texty = a.content_type.starts_with("text/")
                || [".log", ".txt", ".csv", ".xml", ".ini"]
                    .iter()
                    .any(|e| a.filename.to_lowercase().ends_with(e));
            if texty && a.bytes.len() <= 4 * 1024 * 1024 {
                let t = match std::str::from_utf8(&a.bytes) {
                    Ok(t) => t.to_string(),
                    Err(_) => encoding_rs::GB18030.decode(&a.bytes).0.into_owned(),
                };
                scan_texts.push((format!("attachment {}", a.filename), t));
            }
        }
        record_facts(conn, rules, case.id, &scan_texts)?;
        apply_events(
            conn,
            &rules.serial,
            &case,
            row_id,
            dir,
            &pm,
            &body_masked,
            &from_name,
            sent_at,
        )?;
        crate::cases::audit(
            conn,
            Some(case.id),
            if from_name.is_empty() {
                &from_address
            } else {
                &from_name
            },
            if created {
                "case.created"
            } else {
                "message.added"
            },
            &format!("{} via {}", dir.as_str(), source),
        )?;
        Ok(Outcome {
            source: source.into(),
            outcome: if created {
                Kind::Created
            } else {
                Kind::Threaded
            },
            case_number: Some(case.number.clone()),
            message_id: Some(mid.clone()),
            reason: None,
        })
    })
    .or_else(|e| match e {
        IngestError::Rule(r) if r == "loop" => quarantine_raw(
            conn,
            raw_id,
            source,
            "our own outgoing mail came back (X-Casebook-Loop) and matches no case",
        ),
        other => Err(other),
    })
}

fn create_case(
    conn: &mut DbConn,
    rules: &Rules,
    pm: &ParsedMail,
    dir: Direction,
    sent_at: NaiveDateTime,
    parent: Option<i64>,
) -> Result<CaseRow, IngestError> {
    let mut number =
        extract::find_case_tag(&pm.subject).or_else(|| extract::find_case_tag(&pm.body_text));
    if let Some(n) = &number {
        if cases::find_by_number(conn, n)?.is_some() {
            number = None;
        }
    }
    let number = match number {
        Some(n) => n,
        None => cases::fresh_number(conn)?,
    };
    let mut token = None;
    for t in extract::find_tokens_re(&pm.subject, &rules.token_re) {
        let used: i64 = cases_t::table
            .filter(cases_t::tracking_token.eq(&t))
            .count()
            .get_result(conn)?;
        if used == 0 {
            token = Some(t);
            break;
        }
    }
    let token = match token {
        Some(t) => t,
        None => cases::fresh_token(conn, &rules.issue_prefix)?,
    };
    let (mut customer, oem) = extract::customer_oem_from_subject(&pm.subject);
    if customer.is_none() && dir == Direction::Customer {
        customer = customer_from_sender(pm);
    }
    let subject = extract::display_subject_re(&pm.subject, &rules.token_re);
    let subject = if subject.is_empty() {
        "(no subject)".to_string()
    } else {
        subject
    };
    let id: i64 = diesel::insert_into(cases_t::table)
        .values((
            cases_t::number.eq(&number),
            cases_t::subject.eq(&subject),
            cases_t::customer.eq(&customer),
            cases_t::oem.eq(&oem),
            cases_t::status.eq(Status::New.as_str()),
            cases_t::priority.eq("normal"),
            cases_t::tracking_token.eq(&token),
            cases_t::language.eq(language_of(&format!("{} {}", pm.subject, pm.body_text))),
            cases_t::parent_case_id.eq(parent),
            cases_t::contact_email.eq((dir == Direction::Customer && !pm.from_address.is_empty())
                .then(|| pm.from_address.clone())),
            cases_t::created_at.eq(sent_at),
            cases_t::updated_at.eq(sent_at),
        ))
        .returning(cases_t::id)
        .get_result(conn)?;
    cases::find(conn, id)?.ok_or(IngestError::Db(diesel::result::Error::NotFound))
}

fn record_facts(
    conn: &mut DbConn,
    rules: &Rules,
    case_id: i64,
    texts: &[(String, String)],
) -> QueryResult<()> {
    for (place, text) in texts {
        for code in extract::error_codes(text) {
            let exists: i64 = case_codes::table
                .filter(case_codes::case_id.eq(case_id))
                .filter(case_codes::code.eq(&code))
                .count()
                .get_result(conn)?;
            if exists == 0 {
                diesel::insert_into(case_codes::table)
                    .values((
                        case_codes::case_id.eq(case_id),
                        case_codes::code.eq(&code),
                        case_codes::found_in.eq(place),
                    ))
                    .execute(conn)?;
            }
        }
        let serials = extract::serial_numbers(text, &rules.serial)
            .into_iter()
            .map(|s| (s, "serial"));
        let keys = extract::product_keys(text)
            .into_iter()
            .map(|k| (k, "product_key"));
        for (value, kind) in serials.chain(keys) {
            let exists: i64 = case_serials::table
                .filter(case_serials::case_id.eq(case_id))
                .filter(case_serials::serial.eq(&value))
                .count()
                .get_result(conn)?;
            if exists == 0 {
                diesel::insert_into(case_serials::table)
                    .values((
                        case_serials::case_id.eq(case_id),
                        case_serials::serial.eq(&value),
                        case_serials::kind.eq(kind),
                    ))
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn apply_events(
    conn: &mut DbConn,
    serial_re: &Regex,
    case: &CaseRow,
    row_id: i64,
    dir: Direction,
    pm: &ParsedMail,
    body_masked: &str,
    author: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let mut status = Status::parse(&case.status).unwrap_or(Status::New);
    let before = status;
    let mut first_customer_at = case.first_customer_at;
    let mut first_response_at = case.first_response_at;
    let mut closed_at = case.closed_at;
    let (main_text, _) = extract::split_folded(body_masked);
    match dir {
        Direction::Customer if !pm.is_auto_reply => {
            first_customer_at.get_or_insert(at);
            if case.contact_email.is_none() && !pm.from_address.is_empty() {
                diesel::update(cases_t::table.find(case.id))
                    .set(cases_t::contact_email.eq(&pm.from_address))
                    .execute(conn)?;
            }
            if matches!(
                status,
                Status::New | Status::WaitingCustomer | Status::Resolved | Status::Closed
            ) {
                status = Status::Open;
                closed_at = None;
            }
        }
        Direction::Customer => {}
        Direction::Support => {
            if first_response_at.is_none() && first_customer_at.is_none_or(|c| c <= at) {
                first_response_at = Some(at);
            }
            if let Some(cl) = extract::extract_closure(body_masked) {
                diesel::insert_into(closures::table)
                    .values((
                        closures::case_id.eq(case.id),
                        closures::problem_definition.eq(&cl.problem_definition),
                        closures::resolution.eq(&cl.resolution),
                        closures::root_cause.eq(&cl.root_cause),
                        closures::customer_agreed.eq(true),
                        closures::author.eq(author),
                        closures::message_row_id.eq(row_id),
                        closures::created_at.eq(at),
                    ))
                    .execute(conn)?;
                diesel::update(
                    escalations::table
                        .filter(escalations::case_id.eq(case.id))
                        .filter(escalations::status.ne("closed")),
                )
                .set((
                    escalations::status.eq("closed"),
                    escalations::closed_at.eq(at),
                ))
                .execute(conn)?;
                status = Status::Closed;
                closed_at = Some(at);
            } else {
                if let Some(sc) = extract::extract_scope(body_masked) {
                    diesel::insert_into(scopes::table)
                        .values((
                            scopes::case_id.eq(case.id),
                            scopes::problem_definition.eq(&sc.problem_definition),
                            scopes::problem_scope.eq(&sc.problem_scope),
                            scopes::log_instructions.eq(&sc.log_instructions),
                            scopes::author.eq(author),
                            scopes::message_row_id.eq(row_id),
                            scopes::created_at.eq(at),
                        ))
                        .execute(conn)?;
                }
                if matches!(status, Status::New | Status::Open) {
                    status = Status::WaitingCustomer;
                }
            }
        }
        Direction::ToRnd => {
            let open: Option<i64> = escalations::table
                .filter(escalations::case_id.eq(case.id))
                .filter(escalations::status.ne("closed"))
                .order(escalations::id.desc())
                .select(escalations::id)
                .first(conn)
                .optional()?;
            match open {
                Some(esc) => {
                    add_entry(conn, esc, "followup", author, &main_text, row_id, at)?;
                    diesel::update(escalations::table.find(esc))
                        .set(escalations::status.eq("open"))
                        .execute(conn)?;
                }
                None => {
                    let serial = extract::serial_numbers(&pm.body_text, serial_re)
                        .into_iter()
                        .next();
                    diesel::insert_into(escalations::table)
                        .values((
                            escalations::case_id.eq(case.id),
                            escalations::status.eq("open"),
                            escalations::question.eq(&main_text),
                            escalations::serial_number.eq(serial),
                            escalations::opened_by.eq(author),
                            escalations::message_row_id.eq(row_id),
                            escalations::opened_at.eq(at),
                            escalations::last_activity_at.eq(at),
                        ))
                        .execute(conn)?;
                }
            }
            if status != Status::Closed {
                status = Status::Escalated;
            }
        }
        Direction::FromRnd => {
            let open: Option<i64> = escalations::table
                .filter(escalations::case_id.eq(case.id))
                .filter(escalations::status.ne("closed"))
                .order(escalations::id.desc())
                .select(escalations::id)
                .first(conn)
                .optional()?;
            let esc = match open {
                Some(e) => e,
                None => diesel::insert_into(escalations::table)
                    .values((
                        escalations::case_id.eq(case.id),
                        escalations::status.eq("open"),
                        escalations::question.eq(""),
                        escalations::opened_by.eq(author),
                        escalations::opened_at.eq(at),
                    ))
                    .returning(escalations::id)
                    .get_result(conn)?,
            };
            add_entry(conn, esc, "answer", author, &main_text, row_id, at)?;
            diesel::update(escalations::table.find(esc))
                .set(escalations::status.eq("answered"))
                .execute(conn)?;
            diesel::update(
                escalations::table
                    .find(esc)
                    .filter(escalations::first_answered_at.is_null()),
            )
            .set(escalations::first_answered_at.eq(at))
            .execute(conn)?;
            if status != Status::Closed {
                status = Status::Escalated;
            }
        }
    }
    let updated_at = if at > case.updated_at {
        at
    } else {
        case.updated_at
    };
    diesel::update(cases_t::table.find(case.id))
        .set((
            cases_t::status.eq(status.as_str()),
            cases_t::first_customer_at.eq(first_customer_at),
            cases_t::first_response_at.eq(first_response_at),
            cases_t::closed_at.eq(closed_at),
            cases_t::updated_at.eq(updated_at),
        ))
        .execute(conn)?;
    if status != before {
        crate::cases::audit(
            conn,
            Some(case.id),
            author,
            "status.changed",
            &format!("{} → {}", before.as_str(), status.as_str()),
        )?;
    }
    Ok(())
}

fn add_entry(
    conn: &mut DbConn,
    esc: i64,
    kind: &str,
    author: &str,
    body: &str,
    row_id: i64,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(escalation_entries::table)
        .values((
            escalation_entries::escalation_id.eq(esc),
            escalation_entries::kind.eq(kind),
            escalation_entries::author_name.eq(author),
            escalation_entries::body_text.eq(body),
            escalation_entries::message_row_id.eq(row_id),
            escalation_entries::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}
