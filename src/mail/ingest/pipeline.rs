//! One input through the pipeline: the format detected (export, mbox, one message),
//! raw bytes stored, parsed or quarantined, and each message filed in one transaction.

use super::case::create_case;
use super::events::apply_events;
use super::facts::record_facts;
use super::raw::store_raw;
use super::staff::{sender, Direction, Staff};
use super::thread::find_case;
use super::{Kind, Outcome, Rules};
use crate::bundles::store_examined;
use crate::cases::{self, Status};
use crate::db::schema::messages;
use crate::db::DbConn;
use crate::db::Direct;
use crate::mail::{export, extract, mbox, parse, quarantine, IngestError, ParsedMail};
use crate::storage::{sha256_hex, BlobStore};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};

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
#[tracing::instrument(level = "debug", skip(conn, store, rules, staff, raw), fields(size = raw.len()))]
pub fn ingest_input_with(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    rules: &Rules,
    staff: &Staff,
    raw: &[u8],
    source: &str,
) -> Result<Vec<Outcome>, IngestError> {
    let prepared = prepare_input(store, rules, raw)?;
    ingest_prepared(conn, store, rules, staff, raw, source, &prepared)
}

/// As `ingest_input_with`, for an input `prepare_input` has prepared (on another thread).
pub fn ingest_prepared(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    rules: &Rules,
    staff: &Staff,
    raw: &[u8],
    source: &str,
    prepared: &PreparedInput,
) -> Result<Vec<Outcome>, IngestError> {
    let p = Pipeline {
        store,
        rules,
        staff,
    };
    match prepared {
        PreparedInput::One(one) => Ok(vec![p.one(conn, raw, source, Some(borrowed(one)))?]),
        PreparedInput::TooLarge => Ok(vec![p.one(conn, raw, source, None)?]),
        PreparedInput::Several => {
            let text_head = String::from_utf8_lossy(&raw[..raw.len().min(4096)]);
            if export::looks_like_export(&text_head) {
                return p.export(conn, raw, source);
            }
            // Each thread of the mailbox oldest first (see `order`); sources keep the
            // message's place in the file.
            let parts = mbox::split(raw);
            let heads: Vec<Option<super::order::Head>> =
                parts.iter().map(|m| super::order::Head::of(m)).collect();
            let mut out = Vec::new();
            for i in super::order::thread_order(&heads) {
                let part = &parts[i];
                let one = prepare_message(store, rules, part)?;
                let one = one.as_ref().map(borrowed);
                out.push(p.one(conn, part, &format!("{source}#{}", i + 1), one)?);
            }
            Ok(out)
        }
    }
}

/// The message's HTML part, cleaned (see `clean_html`).
fn store_html(conn: &mut DbConn, row_id: i64, h: &CleanHtml) -> QueryResult<()> {
    use crate::db::schema::message_html;
    diesel::insert_into(message_html::table)
        .values((
            message_html::message_row_id.eq(row_id),
            message_html::html.eq(&h.html),
            message_html::quoted.eq(h.quoted.as_deref()),
            message_html::blocked_images.eq(h.blocked_images),
        ))
        .exec(conn)?;
    Ok(())
}

/// A message's HTML part as it is stored: secrets masked, cleaned, its quoted history
/// apart, its inline images named by their hash; and its text, for the facts.
struct CleanHtml {
    html: String,
    quoted: Option<String>,
    blocked_images: i64,
    text: String,
}

fn clean_html(html: &str, pm: &ParsedMail, att_shas: &[String]) -> CleanHtml {
    let cids: std::collections::HashMap<String, String> = pm
        .attachments
        .iter()
        .zip(att_shas)
        .filter_map(|(a, sha)| a.content_id.clone().map(|c| (c, sha.clone())))
        .collect();
    // Secrets are masked in the raw HTML, before it is cleaned: masking the cleaned
    // HTML could cut an attribute's closing quote and let what follows become markup.
    let (own, quote) = crate::mail::html::split_quoted(html);
    let clean = |part: &str| crate::mail::html::sanitize(&extract::mask_secrets(part), &cids);
    let safe = clean(own);
    let quoted = quote.map(clean);
    CleanHtml {
        blocked_images: safe.blocked_images + quoted.as_ref().map_or(0, |q| q.blocked_images),
        html: safe.html,
        quoted: quoted.map(|q| q.html),
        // What the HTML says that the text part may lack (tables of serials).
        text: crate::mail::html::text_of(html),
    }
}

/// An input as far as it goes without the database (`prepare_input`), so that the
/// writer only files: on a thread of the HTTP server for live deliveries.
pub enum PreparedInput {
    /// One message: parsed and prepared, or why it goes to quarantine.
    One(Box<Result<Prepared, String>>),
    /// One message larger than `Rules::max_message_bytes`: quarantined unparsed.
    TooLarge,
    /// An export or a mailbox: prepared message by message as it is filed.
    Several,
}

/// One parsed message with what its filing needs that does not depend on the
/// database: its attachments stored (content-addressed, so a rolled-back filing leaves
/// only a harmless file), its content hash, its texts masked, its HTML cleaned, the
/// facts its texts name.
pub struct Prepared {
    pm: ParsedMail,
    mid: String,
    hash: String,
    att_shas: Vec<String>,
    /// What each attachment holds (bundles unpacked, texts scanned), by position.
    examined: Vec<Option<crate::bundles::Examined>>,
    body_masked: String,
    subject_masked: String,
    html: Option<CleanHtml>,
    facts: Vec<super::facts::Found>,
    /// What the texts say (read here rather than on the writer).
    body: super::events::Body,
    signals: super::infer::Signals,
    greeting: extract::Greeting,
    from_subject: super::case::FromSubject,
}

impl Prepared {
    /// What names the message's thread before the database is asked: the oldest id it
    /// references (the thread's first message), else the id it answers, else its
    /// Outlook conversation, else its own id. Messages of one well-formed thread give
    /// the same root; bulk ingest hands them to one writer by it.
    pub(super) fn thread_root(&self) -> &str {
        self.pm
            .references
            .first()
            .or(self.pm.in_reply_to.first())
            .or(self.pm.thread_key.as_ref())
            .map_or(self.mid.as_str(), |id| {
                id.trim().trim_start_matches('<').trim_end_matches('>')
            })
    }
}

fn borrowed(one: &Result<Prepared, String>) -> Result<&Prepared, &str> {
    one.as_ref().map_err(String::as_str)
}

/// Detects the input's format and, for one message, parses and prepares it.
pub fn prepare_input(
    store: &dyn BlobStore,
    rules: &Rules,
    raw: &[u8],
) -> Result<PreparedInput, IngestError> {
    let text_head = String::from_utf8_lossy(&raw[..raw.len().min(4096)]);
    if export::looks_like_export(&text_head) || mbox::looks_like_mbox(raw) {
        return Ok(PreparedInput::Several);
    }
    Ok(match prepare_message(store, rules, raw)? {
        Some(one) => PreparedInput::One(Box::new(one)),
        None => PreparedInput::TooLarge,
    })
}

/// One RFC 5322 message parsed and prepared, or why it goes to quarantine; None when it
/// is larger than `Rules::max_message_bytes` (quarantined unparsed).
fn prepare_message(
    store: &dyn BlobStore,
    rules: &Rules,
    raw: &[u8],
) -> Result<Option<Result<Prepared, String>>, IngestError> {
    if raw.len() > rules.max_message_bytes {
        return Ok(None);
    }
    Ok(Some(match parse::parse_message(raw) {
        Err(reason) => Err(reason),
        Ok(mut pm) => {
            if pm.message_id.is_none() {
                pm.message_id = Some(format!("nomid.{}@casebook.invalid", &sha256_hex(raw)[..32]));
            }
            Ok(prepare(store, rules, pm)?)
        }
    }))
}

/// Prepares one parsed message (see `Prepared`).
fn prepare(store: &dyn BlobStore, rules: &Rules, pm: ParsedMail) -> Result<Prepared, IngestError> {
    let mid = pm.message_id.clone().unwrap_or_default();
    let mut att_shas = Vec::with_capacity(pm.attachments.len());
    for a in &pm.attachments {
        att_shas.push(store.put(&a.bytes)?);
    }
    let hash = content_hash(&pm, &att_shas);
    let html = pm
        .body_html
        .as_deref()
        .map(|h| clean_html(h, &pm, &att_shas));
    let mut scan_texts: Vec<(String, String)> = vec![
        ("subject".into(), pm.subject.clone()),
        (format!("message {mid}"), pm.body_text.clone()),
    ];
    for a in &pm.attachments {
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
    if let Some(h) = &html {
        scan_texts.push(("html".into(), h.text.clone()));
    }
    let examined = pm
        .attachments
        .iter()
        .map(|a| crate::bundles::examine(&a.filename, &a.content_type, &a.bytes, &rules.serial))
        .collect();
    let body_masked = extract::mask_secrets(&pm.body_text);
    let own = super::infer::own_text(&pm.body_text);
    Ok(Prepared {
        examined,
        facts: super::facts::find(rules, &scan_texts),
        body: super::events::Body::read(&body_masked),
        signals: super::infer::read(own),
        greeting: extract::greeting(own),
        from_subject: super::case::FromSubject::read(rules, &pm),
        body_masked,
        // Shown on the case page and in the API; the raw mail keeps the original.
        subject_masked: extract::mask_secrets(&pm.subject),
        html,
        att_shas,
        hash,
        mid,
        pm,
    })
}

/// Quarantines raw message `raw_id` and says so in its outcome.
fn quarantine_raw(
    conn: &mut DbConn,
    raw_id: i64,
    source: &str,
    reason: &str,
) -> Result<Outcome, IngestError> {
    quarantine::put(conn, raw_id, source, reason)?;
    tracing::warn!(source, reason, "message quarantined");
    Ok(Outcome {
        source: source.to_string(),
        outcome: Kind::Quarantined,
        case_number: None,
        message_id: None,
        reason: Some(reason.to_string()),
    })
}

/// What every message of one input is filed with: the blob store, the rules, the staff.
#[derive(Clone, Copy)]
struct Pipeline<'a> {
    store: &'a dyn BlobStore,
    rules: &'a Rules,
    staff: &'a Staff,
}

impl Pipeline<'_> {
    /// One RFC 5322 message, prepared (`prepare_message`; None when too large): stored
    /// raw, then filed, or quarantined.
    fn one(
        self,
        conn: &mut DbConn,
        raw: &[u8],
        source: &str,
        prepared: Option<Result<&Prepared, &str>>,
    ) -> Result<Outcome, IngestError> {
        let rules = self.rules;
        let span = tracing::info_span!("ingest", source, size = raw.len());
        let _g = span.enter();
        let raw_id = store_raw(conn, self.store, raw, source)?;
        match prepared {
            None => quarantine_raw(
                conn,
                raw_id,
                source,
                &format!("message larger than {} bytes", rules.max_message_bytes),
            ),
            Some(Err(reason)) => quarantine_raw(conn, raw_id, source, reason),
            Some(Ok(prep)) => self.parsed(conn, raw_id, prep, source),
        }
    }

    /// A thread export: stored raw once, each message in it filed.
    fn export(
        self,
        conn: &mut DbConn,
        raw: &[u8],
        source: &str,
    ) -> Result<Vec<Outcome>, IngestError> {
        let raw_id = store_raw(conn, self.store, raw, source)?;
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t.to_string(),
            Err(_) => encoding_rs::GB18030.decode(raw).0.into_owned(),
        };
        match export::parse_export(&text) {
            Err(reason) => Ok(vec![quarantine_raw(conn, raw_id, source, &reason)?]),
            Ok(list) => {
                let mut out = Vec::new();
                for (i, pm) in list.into_iter().enumerate() {
                    let prep = prepare(self.store, self.rules, pm)?;
                    out.push(self.parsed(conn, raw_id, &prep, &format!("{source}#{}", i + 1))?);
                }
                Ok(out)
            }
        }
    }

    /// One prepared message filed in one transaction: duplicate check, threading,
    /// case, message, attachments, facts and events.
    fn parsed(
        self,
        conn: &mut DbConn,
        raw_id: i64,
        prep: &Prepared,
        source: &str,
    ) -> Result<Outcome, IngestError> {
        // A conflict (`db::is_conflict`) can only come from a concurrent batch: thread
        // locks taken in file order, or a new case's token drawn by both. A single
        // message retries; a batch fails and is re-run by its caller.
        let top_level = !crate::db::in_transaction(conn);
        if !top_level && !prep.pm.is_own_loop {
            // Inside a caller's transaction, an error rolls back the caller's whole
            // batch (bulk ingest) or its savepoint for this delivery (group commit):
            // every caller passes it on. A savepoint of our own would serve only the
            // own-loop quarantine below, and costs: FTS5 writes its pending index
            // data to disk at every savepoint (a tiny segment, then merges: 7 % of a
            // bulk ingest's time).
            return self.file(conn, raw_id, prep, source);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match crate::db::write_tx(conn, |conn| self.file(conn, raw_id, prep, source)) {
                Err(IngestError::Db(e))
                    if top_level && attempt < 4 && crate::db::is_conflict(&e) =>
                {
                    tracing::info!(attempt, "conflict with a concurrent transaction; retrying");
                }
                other => break other,
            }
        }
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

    /// Files one parsed message inside the caller's write transaction.
    fn file(
        self,
        conn: &mut DbConn,
        raw_id: i64,
        prep: &Prepared,
        source: &str,
    ) -> Result<Outcome, IngestError> {
        let Pipeline {
            store: _,
            rules,
            staff,
        } = self;
        let Prepared {
            pm,
            mid,
            hash,
            att_shas,
            examined,
            body_masked,
            subject_masked,
            html,
            facts,
            body,
            signals,
            greeting,
            from_subject,
        } = prep;
        let mid = mid.to_string();
        {
            // Nothing below may see the thread half-filed by another writer.
            super::thread::lock_thread(conn, rules, pm, &mid)?;
            let same_id: Vec<(i64, i64, String)> = messages::table
                .filter(messages::message_id.eq(&mid))
                .select((messages::id, messages::case_id, messages::content_hash))
                .rows(conn)?;
            if let Some((_, case_id, _)) = same_id.iter().find(|(_, _, h)| *h == *hash) {
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
            let arrival = super::trust::Arrival::of_source(source);
            let verified = arrival == super::trust::Arrival::Live
                && (super::trust::internal_path(source)
                    || super::trust::mta_authenticated(&rules.trusted_authserv_ids, pm)
                    || super::trust::answers_our_notice(
                        conn,
                        pm,
                        &super::thread::referenced_ids(pm, &mid),
                    )?);
            let may_merge = arrival == super::trust::Arrival::Import || verified;
            let mut found = find_case(conn, rules, pm, &mid, may_merge)?;
            if !crate::db::is_sqlite(conn) {
                // A merge of this case committing right now: wait for it, follow it,
                // until the case is one of its own (SQLite's single writer cannot meet
                // one).
                for _ in 0..16 {
                    let Some(c) = &found else { break };
                    let now = crate::cases::merge::lock_and_find(conn, c.id)?;
                    match now.as_ref().and_then(|n| n.merged_into) {
                        Some(next) => found = crate::cases::find(conn, next)?,
                        None => {
                            found = now;
                            break;
                        }
                    }
                }
            }
            // A message without any time of its own (`ParsedMail::sent_at`): live mail
            // arrived now; imported history follows what its case holds (as its thread
            // order put it: `order`), and never takes today's date when it has a case.
            let sent_at = match (pm.sent_at, arrival, &found) {
                (Some(t), _, _) => t,
                (None, super::trust::Arrival::Import, Some(c)) => c.updated_at,
                (None, _, _) => crate::now(),
            };
            // Imported history is structured by what the thread shows; live mail only
            // by accounts (the trust boundary in `sender`).
            let side = match arrival {
                super::trust::Arrival::Import => {
                    super::infer::infer_side(conn, staff, pm, signals, found.as_ref(), sent_at)?
                }
                // Live mail never acts on what history showed, but what a sender known
                // from history recognisably does is offered to staff (a proposal).
                super::trust::Arrival::Live => staff
                    .learnt_side(conn, &pm.from_name, &pm.from_address)?
                    .filter(|s| s.is_staff()),
            };
            // Names learnt from history route imported mail only (the trust boundary).
            let greets_rnd = match (arrival, greeting) {
                (super::trust::Arrival::Import, extract::Greeting::Name(n)) => {
                    staff.learnt_rnd_name(conn, n)?
                }
                _ => false,
            };
            let hint = super::staff::Hint { side, greets_rnd };
            let super::staff::Sender {
                dir,
                user,
                proposal,
            } = sender(staff, rules, pm, arrival, verified, hint);
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
            // History older than what its case already holds: filed out of its
            // thread's own order, the case to be re-read in that order.
            if let Some(c) = &found {
                if arrival == super::trust::Arrival::Import && sent_at < c.updated_at {
                    super::replay::mark_out_of_order(conn, c.id)?;
                }
            }
            let (case, created) = match found {
                Some(c) => (c, false),
                None => (
                    create_case(
                        conn,
                        rules,
                        pm,
                        from_subject,
                        dir,
                        sent_at,
                        parent,
                        arrival == super::trust::Arrival::Import,
                    )?,
                    true,
                ),
            };
            let mut case = case;
            if created && side.is_some() {
                crate::people::note_case(conn, &pm.from_name, &pm.from_address, case.id)?;
            }
            if case.imported && arrival == super::trust::Arrival::Live {
                // Live mail on imported history: live work from now on, its clock today's.
                crate::cases::become_live(conn, &mut case)?;
            }
            let from_address = match (&user, pm.from_address.is_empty()) {
                (Some(u), true) => u.email.clone(),
                _ => pm.from_address.clone(),
            };
            let from_name = match (&user, pm.from_name.is_empty()) {
                (Some(u), true) => u.name.clone(),
                _ => pm.from_name.clone(),
            };
            // One statement kept per connection: diesel's insert writes its text anew
            // at every run (its type does not fix the text).
            // PostgreSQL also stores the body's words for word search (see
            // `search::words::pg_words`), as one text split in the database: no word
            // holds a space.
            use crate::db::InsertId;
            let pg = !crate::db::is_sqlite(conn);
            // The columns and values both engines insert; PostgreSQL adds the words.
            macro_rules! insert_message {
                ($extra_col:literal, $extra_val:literal) => {
                    concat!(
                        "INSERT INTO messages (case_id, raw_id, message_id, content_hash, \
                         reuses_id_of, in_reply_to, refs, thread_key, from_name, from_address, \
                         to_addrs, subject, sent_at, received_at, direction, is_auto_reply, \
                         body_text, source, proposal",
                        $extra_col,
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                         $14, $15, $16, $17, $18, $19",
                        $extra_val,
                        ")"
                    )
                };
            }
            let q = crate::db::cached_insert(if pg {
                insert_message!(", words", ", array_to_tsvector(string_to_array($20, ' '))")
            } else {
                insert_message!("", "")
            })
            // The count trigger makes it a statement SQLite would journal (`or_fail`).
            .or_fail()
            .bind::<BigInt, _>(case.id)
            .bind::<BigInt, _>(raw_id)
            .bind::<Text, _>(&mid)
            .bind::<Text, _>(hash.as_str())
            .bind::<Nullable<BigInt>, _>(reuses)
            .bind::<Nullable<Text>, _>(pm.in_reply_to.first().map(String::as_str))
            .bind::<Text, _>(pm.references.join(" "))
            .bind::<Nullable<Text>, _>(pm.thread_key.as_deref())
            .bind::<Text, _>(&from_name)
            .bind::<Text, _>(&from_address)
            .bind::<Text, _>(pm.to.join(", "))
            .bind::<Text, _>(subject_masked)
            .bind::<Timestamp, _>(sent_at)
            .bind::<Timestamp, _>(crate::now())
            .bind::<Text, _>(dir.as_str())
            .bind::<Bool, _>(pm.is_auto_reply)
            .bind::<Text, _>(body_masked)
            .bind::<Text, _>(source)
            .bind::<Nullable<Text>, _>(proposal);
            let row_id: i64 = if pg {
                q.bind::<Text, _>(crate::search::words::pg_words_text(body_masked))
                    .insert_id(conn)?
            } else {
                q.insert_id(conn)?
            }
            .ok_or(diesel::result::Error::NotFound)?;
            super::thread::record_refs(conn, pm, &mid, row_id)?;
            for ((a, sha), examined) in pm.attachments.iter().zip(att_shas).zip(examined) {
                let file = crate::bundles::File {
                    filename: &a.filename,
                    content_type: &a.content_type,
                    bytes: &a.bytes,
                    sha256: sha,
                    is_tnef: a.is_tnef,
                };
                store_examined(conn, case.id, row_id, &file, examined.as_ref())?;
            }
            if let Some(h) = html {
                store_html(conn, row_id, h)?;
            }
            record_facts(conn, case.id, facts)?;
            apply_events(
                conn,
                &rules.serial,
                &case,
                row_id,
                dir,
                pm,
                body,
                &from_name,
                sent_at,
                super::events::Apply::Arriving,
            )?;
            // Live mail tells the people on the case (history tells nobody: it is
            // over); an auto-reply or our own mail coming back tells nobody either.
            if arrival == super::trust::Arrival::Live && !pm.is_auto_reply && !pm.is_own_loop {
                let who = if from_name.is_empty() {
                    &from_address
                } else {
                    &from_name
                };
                let kind = match dir {
                    Direction::Customer if created => Some(crate::notify::Kind::NewCase),
                    Direction::Customer => Some(crate::notify::Kind::CustomerReply),
                    Direction::FromRnd => Some(crate::notify::Kind::RndAnswer),
                    _ => None,
                };
                if let Some(kind) = kind {
                    crate::notify::record(
                        conn,
                        &case,
                        kind,
                        Some(row_id),
                        who,
                        user.as_ref().map(|u| u.id),
                        crate::now(),
                    )?;
                }
            }
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
