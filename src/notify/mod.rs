//! Notifications: an engineer is told when something happens on a case they own or
//! watch (the customer replied, R&D answered, a colleague mentioned them). A
//! notification is a row written in the same transaction as its cause (nothing is
//! told that did not happen, nothing that happened is lost); the browser lists them
//! (`/notifications`), and `workers/notify.rs` mails them through the outbox: one mail
//! per event, or a digest every N minutes, as each user chose (`user_prefs`).
//! Never for the user's own action; an unassigned case nobody watches tells the team
//! address (`--team-address`).

use crate::cases::CaseRow;
use crate::config::Settings;
use crate::db::schema::{cases, messages, notifications, user_prefs, users, watchers};
use crate::db::DbConn;
use crate::db::Direct;
use crate::i18n::Lang;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A customer wrote a new case (told to the team address).
    NewCase,
    /// The customer replied on a case.
    CustomerReply,
    /// R&D answered an escalation (or asked for more information).
    RndAnswer,
    /// A colleague wrote `@name` in an internal note.
    Mention,
    /// The first response is due soon (or already late) and nobody answered.
    SlaWarning,
    /// An escalation has waited on R&D past the overdue limit.
    EscalationOverdue,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NewCase => "new_case",
            Kind::CustomerReply => "customer_reply",
            Kind::RndAnswer => "rnd_answer",
            Kind::Mention => "mention",
            Kind::SlaWarning => "sla_warning",
            Kind::EscalationOverdue => "escalation_overdue",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "new_case" => Some(Kind::NewCase),
            "customer_reply" => Some(Kind::CustomerReply),
            "rnd_answer" => Some(Kind::RndAnswer),
            "mention" => Some(Kind::Mention),
            "sla_warning" => Some(Kind::SlaWarning),
            "escalation_overdue" => Some(Kind::EscalationOverdue),
            _ => None,
        }
    }
}

/// A user's choices; without a row: their language Chinese, every event, one mail each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prefs {
    pub language: String,
    pub customer_reply: bool,
    pub rnd_answer: bool,
    pub mention: bool,
    #[serde(default = "yes")]
    pub sla_warning: bool,
    #[serde(default = "yes")]
    pub escalation_overdue: bool,
    /// 0: a mail per event; N: one digest at most every N minutes.
    pub digest_minutes: i64,
}

fn yes() -> bool {
    true
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            language: Lang::default().code().to_string(),
            customer_reply: true,
            rnd_answer: true,
            mention: true,
            sla_warning: true,
            escalation_overdue: true,
            digest_minutes: 0,
        }
    }
}

impl Prefs {
    fn wants(&self, kind: Kind) -> bool {
        match kind {
            Kind::NewCase | Kind::CustomerReply => self.customer_reply,
            Kind::RndAnswer => self.rnd_answer,
            Kind::Mention => self.mention,
            Kind::SlaWarning => self.sla_warning,
            Kind::EscalationOverdue => self.escalation_overdue,
        }
    }
}

/// Longest digest period a user may choose (a day).
pub const MAX_DIGEST_MINUTES: i64 = 24 * 60;

pub fn prefs(conn: &mut DbConn, user_id: i64) -> QueryResult<Prefs> {
    type Row = (String, bool, bool, bool, bool, bool, i64);
    Ok(user_prefs::table
        .find(user_id)
        .select((
            user_prefs::language,
            user_prefs::notify_customer_reply,
            user_prefs::notify_rnd_answer,
            user_prefs::notify_mention,
            user_prefs::notify_sla,
            user_prefs::notify_overdue,
            user_prefs::digest_minutes,
        ))
        .first_row::<Row>(conn)
        .optional()?
        .map(
            |(language, customer_reply, rnd_answer, mention, sla, overdue, digest)| Prefs {
                language,
                customer_reply,
                rnd_answer,
                mention,
                sla_warning: sla,
                escalation_overdue: overdue,
                digest_minutes: digest,
            },
        )
        .unwrap_or_default())
}

/// Saves a user's choices (the language normalised, the digest within a day).
pub fn save_prefs(conn: &mut DbConn, user_id: i64, p: &Prefs) -> QueryResult<Prefs> {
    let language = Lang::parse(&p.language).unwrap_or_default().code();
    let digest = p.digest_minutes.clamp(0, MAX_DIGEST_MINUTES);
    conn.transaction(|c| {
        diesel::delete(user_prefs::table.find(user_id)).execute(c)?;
        diesel::insert_into(user_prefs::table)
            .values((
                user_prefs::user_id.eq(user_id),
                user_prefs::language.eq(language),
                user_prefs::notify_customer_reply.eq(p.customer_reply),
                user_prefs::notify_rnd_answer.eq(p.rnd_answer),
                user_prefs::notify_mention.eq(p.mention),
                user_prefs::notify_sla.eq(p.sla_warning),
                user_prefs::notify_overdue.eq(p.escalation_overdue),
                user_prefs::digest_minutes.eq(digest),
            ))
            .execute(c)?;
        prefs(c, user_id)
    })
}

/// Watches a case (idempotent).
pub fn watch(conn: &mut DbConn, case_id: i64, user_id: i64, now: NaiveDateTime) -> QueryResult<()> {
    let exists = watchers::table
        .find((case_id, user_id))
        .count()
        .row::<i64>(conn)?
        > 0;
    if !exists {
        diesel::insert_into(watchers::table)
            .values((
                watchers::case_id.eq(case_id),
                watchers::user_id.eq(user_id),
                watchers::created_at.eq(now),
            ))
            .exec(conn)?;
    }
    Ok(())
}

pub fn unwatch(conn: &mut DbConn, case_id: i64, user_id: i64) -> QueryResult<()> {
    diesel::delete(watchers::table.find((case_id, user_id))).exec(conn)?;
    Ok(())
}

/// Who watches a case: (id, name), at most 100.
pub fn watchers_of(conn: &mut DbConn, case_id: i64) -> QueryResult<Vec<(i64, String)>> {
    watchers::table
        .inner_join(users::table.on(users::id.eq(watchers::user_id)))
        .filter(watchers::case_id.eq(case_id))
        .order(users::name.asc())
        .limit(100)
        .select((users::id, users::name))
        .rows(conn)
}

/// Tells the assignee and the watchers of `case` (never `actor_user`) that `kind`
/// happened; a case with no assignee and no watcher tells the team. Call it inside the
/// transaction that records the event. Returns the rows written.
pub fn record(
    conn: &mut DbConn,
    case: &CaseRow,
    kind: Kind,
    message_row_id: Option<i64>,
    actor: &str,
    actor_user: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let mut to: Vec<Option<i64>> = Vec::new();
    let mut seen = HashSet::new();
    let watching: Vec<i64> = watchers::table
        .filter(watchers::case_id.eq(case.id))
        .select(watchers::user_id)
        .limit(100)
        .rows(conn)?;
    for id in case.assignee_id.into_iter().chain(watching) {
        if Some(id) != actor_user && seen.insert(id) {
            to.push(Some(id));
        }
    }
    if to.is_empty() && case.assignee_id.is_none() && actor_user.is_none() {
        to.push(None);
    }
    to_users(conn, case.id, &to, kind, message_row_id, actor, now)
}

/// Tells these users (None: the team) about `kind` on the case.
pub fn to_users(
    conn: &mut DbConn,
    case_id: i64,
    to: &[Option<i64>],
    kind: Kind,
    message_row_id: Option<i64>,
    actor: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    // One insert per recipient (batch inserts do not build on the multi-engine
    // connection); a case has a handful.
    for u in to {
        diesel::insert_into(notifications::table)
            .values((
                notifications::user_id.eq(*u),
                notifications::case_id.eq(case_id),
                notifications::kind.eq(kind.as_str()),
                notifications::message_row_id.eq(message_row_id),
                notifications::actor.eq(actor),
                notifications::created_at.eq(now),
            ))
            .exec(conn)?;
    }
    Ok(to.len())
}

/// The users an internal note mentions: `@` followed by a user's name (spaces
/// allowed), the local part of their address, or an alias; enabled users only.
pub fn mentioned(conn: &mut DbConn, text: &str) -> QueryResult<Vec<i64>> {
    if !text.contains('@') {
        return Ok(Vec::new());
    }
    let all: Vec<(i64, String, String, String)> = users::table
        .filter(users::disabled.eq(false))
        .select((users::id, users::name, users::email, users::aliases))
        .limit(1000)
        .rows(conn)?;
    let lower = text.to_lowercase();
    let mut out = Vec::new();
    for (id, name, email, aliases) in all {
        let local = email.split('@').next().unwrap_or("").to_lowercase();
        let mut handles = vec![name.to_lowercase(), local];
        handles.extend(
            aliases
                .split(',')
                .map(|a| a.trim().to_lowercase())
                .filter(|a| !a.is_empty()),
        );
        let hit = handles.iter().filter(|h| !h.is_empty()).any(|h| {
            lower.match_indices(&format!("@{h}")).any(|(i, m)| {
                // The handle ends at a word boundary (not `@liu` inside `@liuyu`).
                lower[i + m.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric() && c != '.' && c != '_')
            })
        });
        if hit {
            out.push(id);
        }
    }
    Ok(out)
}

/// One notification as the browser and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct View {
    pub id: i64,
    pub kind: String,
    pub case_number: String,
    pub subject: String,
    pub actor: String,
    pub created_at: String,
    pub read: bool,
    /// The start of the message it is about (masked at arrival).
    pub excerpt: String,
}

fn excerpt(body: &str, chars: usize) -> String {
    let own = crate::mail::ingest::own_text(body);
    let flat = own.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > chars {
        format!("{}…", flat.chars().take(chars).collect::<String>())
    } else {
        flat
    }
}

/// id, kind, case number, subject, actor, created, read, message.
type ListRow = (
    i64,
    String,
    String,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<i64>,
);

/// id, user, kind, actor, created, case number, subject, case language, message.
type PendingRow = (
    i64,
    Option<i64>,
    String,
    String,
    NaiveDateTime,
    String,
    String,
    String,
    Option<i64>,
);

/// The user's newest notifications (at most `limit`).
pub fn list(conn: &mut DbConn, user_id: i64, limit: i64) -> QueryResult<Vec<View>> {
    let rows: Vec<ListRow> = notifications::table
        .inner_join(cases::table)
        .filter(notifications::user_id.eq(user_id))
        .order(notifications::id.desc())
        .limit(limit.clamp(1, 200))
        .select((
            notifications::id,
            notifications::kind,
            cases::number,
            cases::subject,
            notifications::actor,
            notifications::created_at,
            notifications::read_at,
            notifications::message_row_id,
        ))
        .rows(conn)?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.7).collect();
    let bodies: BTreeMap<i64, String> = messages::table
        .filter(messages::id.eq_any(&ids))
        .select((messages::id, messages::body_text))
        .rows::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|(id, kind, number, subject, actor, at, read, msg)| View {
            id,
            kind,
            case_number: number,
            subject,
            actor,
            created_at: crate::cases::detail::rfc3339(&at),
            read: read.is_some(),
            excerpt: msg
                .and_then(|m| bodies.get(&m))
                .map(|b| excerpt(b, 160))
                .unwrap_or_default(),
        })
        .collect())
}

/// Unread notifications of the user, counted up to 100 (the badge says "99+").
pub fn unread(conn: &mut DbConn, user_id: i64) -> QueryResult<i64> {
    let ids: Vec<i64> = notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::read_at.is_null())
        .select(notifications::id)
        .limit(100)
        .rows(conn)?;
    Ok(ids.len() as i64)
}

/// Marks one of the user's notifications read; its case number (None: not theirs).
pub fn open(
    conn: &mut DbConn,
    user_id: i64,
    id: i64,
    now: NaiveDateTime,
) -> QueryResult<Option<String>> {
    let number: Option<String> = notifications::table
        .inner_join(cases::table)
        .filter(notifications::id.eq(id))
        .filter(notifications::user_id.eq(user_id))
        .select(cases::number)
        .first_row(conn)
        .optional()?;
    if number.is_some() {
        diesel::update(
            notifications::table
                .filter(notifications::id.eq(id))
                .filter(notifications::read_at.is_null()),
        )
        .set(notifications::read_at.eq(Some(now)))
        .exec(conn)?;
    }
    Ok(number)
}

/// Marks the user's notifications read: all, or those of one case.
pub fn mark_read(
    conn: &mut DbConn,
    user_id: i64,
    case_id: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let base = notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::read_at.is_null());
    match case_id {
        Some(c) => diesel::update(base.filter(notifications::case_id.eq(c)))
            .set(notifications::read_at.eq(Some(now)))
            .exec(conn),
        None => diesel::update(base)
            .set(notifications::read_at.eq(Some(now)))
            .exec(conn),
    }
}

/// Who is told by Casebook itself (the SLA and overdue warnings).
pub const SYSTEM_ACTOR: &str = "Casebook";

/// Most cases or escalations one pass of `scan` tells about (the next pass takes the
/// rest).
const SCAN_BATCH: i64 = 1000;

/// Looks for what time alone makes worth telling: live cases whose first response is
/// due within `ahead_minutes` (or late) with no answer yet, and escalations waiting on
/// R&D past `overdue_hours`. Each is told once (per waiting period, for escalations).
/// Returns the notifications written.
///
/// What was told already is left out by the queries themselves, so a backlog of old
/// unanswered cases or open escalations (imported history among them) never hides a
/// new one, and a pass reads only what it tells about beside the walk of the live
/// unanswered cases and the open escalations.
pub fn scan(
    conn: &mut DbConn,
    sla_minutes: &[i64; 4],
    ahead_minutes: i64,
    overdue_hours: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    use diesel::dsl::{exists, not, sql};
    use diesel::sql_types::{Bool, Timestamp};
    let sqlite = crate::db::is_sqlite(conn);
    let mut written = 0;
    if ahead_minutes > 0 {
        // The partial index of live cases awaiting a first response, its condition
        // spelled as the index spells it (plans never depend on bound values).
        // `+merged_into` (SQLite): not an index to walk instead; without statistics
        // SQLite took `merged_into IS NULL` for a selective equality and walked every
        // case, imported history included (280 ms a scan at 1,000,000 messages).
        let cond = if sqlite {
            "cases.first_response_at IS NULL AND cases.imported = 0 AND cases.status <> 'closed' \
             AND +cases.merged_into IS NULL"
        } else {
            "cases.first_response_at IS NULL AND NOT cases.imported AND cases.status <> 'closed' \
             AND cases.merged_into IS NULL"
        };
        for p in crate::cases::Priority::ALL {
            let target = crate::cases::sla::target_minutes(sla_minutes, p.as_str());
            // Due within `ahead_minutes`: first customer mail + target - ahead <= now.
            let since = now - Duration::minutes(target) + Duration::minutes(ahead_minutes);
            let told = notifications::table
                .filter(notifications::case_id.eq(cases::id))
                .filter(notifications::kind.eq(Kind::SlaWarning.as_str()))
                .filter(
                    notifications::created_at
                        .nullable()
                        .ge(cases::first_customer_at),
                );
            let due: Vec<CaseRow> = cases::table
                .filter(sql::<Bool>(cond))
                .filter(cases::first_customer_at.le(since))
                .filter(cases::priority.eq(p.as_str()))
                .filter(not(exists(told)))
                .order(cases::first_customer_at.asc())
                .limit(SCAN_BATCH)
                .select(CaseRow::as_select())
                .load(conn)?;
            for case in due {
                written += conn.transaction(|c| {
                    record(c, &case, Kind::SlaWarning, None, SYSTEM_ACTOR, None, now)
                })?;
            }
        }
    }
    // Escalations waiting on R&D past the limit, on live cases, not told since they
    // last moved: the partial index of open live escalations (`live`, kept by
    // triggers: the case is neither imported history nor merged away), named on
    // SQLite (without statistics it took the index of every open escalation, which
    // orders by the same column), its condition spelled as the index spells it.
    // Imported history that left escalations open is not walked.
    #[derive(QueryableByName)]
    struct Overdue {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        case_id: i64,
    }
    let waiting = "COALESCE(e.last_activity_at, e.opened_at)";
    let (from, live) = if sqlite {
        (
            "escalations e INDEXED BY escalations_live_open",
            "e.live = 1",
        )
    } else {
        ("escalations e", "e.live")
    };
    let overdue: Vec<i64> = diesel::sql_query(format!(
        "SELECT e.case_id FROM {from} WHERE e.status = 'open' AND {live} AND {waiting} <= $1 \
         AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.case_id = e.case_id \
         AND n.kind = '{}' AND n.created_at >= {waiting}) \
         ORDER BY e.opened_at LIMIT {SCAN_BATCH}",
        Kind::EscalationOverdue.as_str()
    ))
    .bind::<Timestamp, _>(now - Duration::hours(overdue_hours))
    .rows::<Overdue>(conn)?
    .into_iter()
    .map(|o| o.case_id)
    .collect();
    let mut seen = HashSet::new();
    for case_id in overdue {
        // A case with two open escalations is told once.
        if !seen.insert(case_id) {
            continue;
        }
        let Some(case) = crate::cases::find(conn, case_id)? else {
            continue;
        };
        written += conn.transaction(|c| {
            record(
                c,
                &case,
                Kind::EscalationOverdue,
                None,
                SYSTEM_ACTOR,
                None,
                now,
            )
        })?;
    }
    Ok(written)
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error("composing a notification: {0}")]
    Mail(#[from] crate::mail::outbound::OutboundError),
    #[error("rendering a notification: {0}")]
    Render(String),
}

/// A pending notification with what its mail needs.
struct Pending {
    id: i64,
    kind: String,
    actor: String,
    created_at: NaiveDateTime,
    number: String,
    subject: String,
    case_language: String,
    body: Option<String>,
}

/// The mail text of one notification, in `lang`.
fn one_text(lang: Lang, p: &Pending, link: &str) -> (String, String) {
    let t = |k: &str| crate::i18n::t(lang, k).to_string();
    let what = t(&format!("notify.kind.{}", p.kind));
    let subject = format!("{what}: {} {}", p.number, p.subject);
    let mut b = format!(
        "{} — {what}\n{}: {}\n{}: {} (UTC)\n",
        p.number,
        t("notify.from"),
        p.actor,
        t("notify.when"),
        p.created_at.format("%Y-%m-%d %H:%M")
    );
    if let Some(body) = &p.body {
        b.push('\n');
        let own = crate::mail::ingest::own_text(body);
        for line in own.lines().take(40) {
            b.push_str("> ");
            b.push_str(line);
            b.push('\n');
        }
    }
    b.push_str(&format!("\n{}: {link}\n", t("notify.open")));
    (subject, b)
}

fn footer(lang: Lang, settings: &Settings) -> String {
    format!(
        "\n-- \n{} {}/notifications/settings\n",
        crate::i18n::t(lang, "notify.footer"),
        settings.public_url
    )
}

/// Mails what is pending: one mail per notification, or one digest per user whose
/// digest period has passed; a kind the user turned off is marked and not mailed.
/// Each user's batch is queued in one transaction with its marks. Returns mails queued.
pub fn mail_pending(
    conn: &mut DbConn,
    settings: &Settings,
    now: NaiveDateTime,
) -> Result<usize, NotifyError> {
    let rows: Vec<PendingRow> = notifications::table
        .inner_join(cases::table)
        .filter(notifications::mailed_at.is_null())
        .filter(
            notifications::hold_until
                .is_null()
                .or(notifications::hold_until.le(now)),
        )
        .order(notifications::id.asc())
        .limit(500)
        .select((
            notifications::id,
            notifications::user_id,
            notifications::kind,
            notifications::actor,
            notifications::created_at,
            cases::number,
            cases::subject,
            cases::language,
            notifications::message_row_id,
        ))
        .rows(conn)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.8).collect();
    let bodies: BTreeMap<i64, String> = messages::table
        .filter(messages::id.eq_any(&ids))
        .select((messages::id, messages::body_text))
        .rows::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let mut by_user: BTreeMap<Option<i64>, Vec<Pending>> = BTreeMap::new();
    for (id, user_id, kind, actor, created_at, number, subject, case_language, msg) in rows {
        by_user.entry(user_id).or_default().push(Pending {
            id,
            kind,
            actor,
            created_at,
            number,
            subject,
            case_language,
            body: msg.and_then(|m| bodies.get(&m).cloned()),
        });
    }
    let mut queued = 0;
    for (user, pending) in by_user {
        queued += conn.transaction(|c| mail_batch(c, settings, now, user, &pending))?;
    }
    Ok(queued)
}

fn mark(conn: &mut DbConn, ids: &[i64], state: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(notifications::table.filter(notifications::id.eq_any(ids)))
        .set((
            notifications::mailed_at.eq(Some(now)),
            notifications::mail_state.eq(Some(state)),
        ))
        .exec(conn)
}

fn mail_batch(
    c: &mut DbConn,
    settings: &Settings,
    now: NaiveDateTime,
    user: Option<i64>,
    pending: &[Pending],
) -> Result<usize, NotifyError> {
    let link = |p: &Pending| format!("{}/cases/{}", settings.public_url, p.number);
    let Some(uid) = user else {
        // The team: one mail per event, in the case's language; nowhere to send it
        // without a team address.
        let all: Vec<i64> = pending.iter().map(|p| p.id).collect();
        if settings.team_address.is_empty() {
            mark(c, &all, "no_address", now)?;
            return Ok(0);
        }
        for p in pending {
            let lang = Lang::parse(&p.case_language).unwrap_or_default();
            let (subject, mut body) = one_text(lang, p, &link(p));
            body.push_str(&footer(lang, settings));
            let composed = crate::mail::outbound::compose_notice(
                settings,
                "notify",
                std::slice::from_ref(&settings.team_address),
                &subject,
                &body,
            )?;
            crate::mail::outbox::enqueue_notice(c, "notification", &composed, now)?;
        }
        mark(c, &all, "sent", now)?;
        return Ok(pending.len());
    };
    let (email, disabled): (String, bool) = users::table
        .find(uid)
        .select((users::email, users::disabled))
        .first(c)?;
    let prefs = prefs(c, uid)?;
    let lang = Lang::parse(&prefs.language).unwrap_or_default();
    let (wanted, unwanted): (Vec<&Pending>, Vec<&Pending>) = pending
        .iter()
        .partition(|p| !disabled && Kind::parse(&p.kind).is_some_and(|k| prefs.wants(k)));
    let off: Vec<i64> = unwanted.iter().map(|p| p.id).collect();
    mark(c, &off, "off", now)?;
    if wanted.is_empty() {
        return Ok(0);
    }
    if prefs.digest_minutes > 0 {
        let oldest = wanted.iter().map(|p| p.created_at).min().unwrap_or(now);
        // One digest collects everything until the first of it has waited its period:
        // what arrives while a digest is held joins it.
        let held: Option<NaiveDateTime> = notifications::table
            .filter(notifications::user_id.eq(uid))
            .filter(notifications::mailed_at.is_null())
            .select(diesel::dsl::min(notifications::hold_until))
            .first(c)?;
        let due = held
            .into_iter()
            .chain([oldest + Duration::minutes(prefs.digest_minutes)])
            .min()
            .unwrap_or(now);
        if due > now {
            // Not yet: the digest collects until its period has passed, held out of the
            // way of the mail that is due.
            let ids: Vec<i64> = wanted.iter().map(|p| p.id).collect();
            diesel::update(notifications::table.filter(notifications::id.eq_any(&ids)))
                .set(notifications::hold_until.eq(Some(due)))
                .execute(c)?;
            return Ok(0);
        }
        let t = |k: &str| crate::i18n::t(lang, k).to_string();
        let subject = format!("{} ({})", t("notify.digest_subject"), wanted.len());
        let mut body = String::new();
        for p in &wanted {
            let (s, b) = one_text(lang, p, &link(p));
            body.push_str(&format!("== {s}\n{b}\n"));
        }
        body.push_str(&footer(lang, settings));
        let composed = crate::mail::outbound::compose_notice(
            settings,
            "notify",
            std::slice::from_ref(&email),
            &subject,
            &body,
        )?;
        crate::mail::outbox::enqueue_notice(c, "notification", &composed, now)?;
        let ids: Vec<i64> = wanted.iter().map(|p| p.id).collect();
        mark(c, &ids, "digest", now)?;
        return Ok(1);
    }
    for p in &wanted {
        let (subject, mut body) = one_text(lang, p, &link(p));
        body.push_str(&footer(lang, settings));
        let composed = crate::mail::outbound::compose_notice(
            settings,
            "notify",
            std::slice::from_ref(&email),
            &subject,
            &body,
        )?;
        crate::mail::outbox::enqueue_notice(c, "notification", &composed, now)?;
    }
    let ids: Vec<i64> = wanted.iter().map(|p| p.id).collect();
    mark(c, &ids, "sent", now)?;
    Ok(wanted.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("timestamp")
    }

    /// More old unanswered cases and open escalations than one pass reads (imported
    /// history, or told long ago) do not hide a new one that is due; each is told once.
    #[test]
    fn a_backlog_never_hides_what_is_due_now() {
        let dir = tempfile::tempdir().expect("dir");
        let url = dir.path().join("n.sqlite3").display().to_string();
        let mut conn = crate::db::establish(&url).expect("db");
        crate::db::migrate(&mut conn).expect("migrate");
        // `SCAN_BATCH + 5` unanswered cases first written to at `at`.
        let backlog = |prefix: &str, at: &str, imported: u8| {
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
                 INSERT INTO cases (number, subject, status, tracking_token, created_at, updated_at, \
                 imported, first_customer_at) SELECT 'CAS-{prefix}' || i, 'old', 'open', \
                 'CMIT:{prefix}' || i, '{at}', '{at}', {imported}, '{at}' FROM n",
                SCAN_BATCH + 5
            )
        };
        for sql in [
            // Imported history: unanswered, escalated, never answered by R&D.
            backlog("H", "2023-01-01 00:00:00", 1),
            "INSERT INTO escalations (case_id, status, question, opened_by, opened_at) \
             SELECT id, 'open', 'q', 'support', '2023-01-02 00:00:00' FROM cases"
                .to_string(),
            // Live cases still unanswered, each warned about long ago.
            backlog("L", "2026-06-01 00:00:00", 0),
            "INSERT INTO notifications (user_id, case_id, kind, actor, created_at) \
             SELECT NULL, id, 'sla_warning', 'Casebook', '2026-06-02 00:00:00' FROM cases \
             WHERE imported = 0"
                .to_string(),
            // The new one: asked two days ago, escalated the same day.
            "INSERT INTO cases (number, subject, status, tracking_token, created_at, updated_at, \
             imported, first_customer_at) VALUES ('CAS-NEW', 'new', 'open', 'CMIT:new', \
             '2026-11-29 12:00:00', '2026-11-29 12:00:00', 0, '2026-11-29 12:00:00')"
                .to_string(),
            "INSERT INTO escalations (case_id, status, question, opened_by, opened_at) \
             SELECT id, 'open', 'q', 'support', '2026-11-29 13:00:00' FROM cases \
             WHERE number = 'CAS-NEW'"
                .to_string(),
        ] {
            diesel::sql_query(&sql).execute(&mut conn).expect(&sql);
        }
        let now = ts("2026-12-01 12:00:00");
        let told = |conn: &mut DbConn, kind: &str| -> i64 {
            notifications::table
                .inner_join(cases::table.on(cases::id.eq(notifications::case_id)))
                .filter(cases::number.eq("CAS-NEW"))
                .filter(notifications::kind.eq(kind))
                .count()
                .row(conn)
                .expect("count")
        };
        let written = scan(&mut conn, &[60, 240, 480, 1440], 30, 24, now).expect("scan");
        assert_eq!(written, 2, "the new case only, once for each");
        assert_eq!(told(&mut conn, "sla_warning"), 1);
        assert_eq!(told(&mut conn, "escalation_overdue"), 1);
        assert_eq!(
            scan(&mut conn, &[60, 240, 480, 1440], 30, 24, now).expect("scan"),
            0,
            "told once"
        );
    }
}
