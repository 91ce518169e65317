//! Full-text search across every case: subjects, message bodies, R&D notes (escalation
//! questions, answers and follow-ups, scopes), closure summaries.
//!
//! Message bodies are searched in place; the other searchable texts live in
//! `search_docs`, kept in sync by database triggers (see the `search` migrations), so
//! nothing that writes cases needs to know about search. On SQLite, new messages and
//! new documents reach their FTS5 indexes through the indexer (`catch_up`), outside
//! the writing transaction; until then search matches them with LIKE.
//! Matching is engine-specific (`sqlite.rs`: FTS5 trigram with a LIKE fallback for
//! terms under three characters; `postgres.rs`: ILIKE served by a pg_trgm GIN index);
//! ranking, filters on the case, exact hits on identifiers and snippets are shared here,
//! so both engines give the same results.

pub mod index;
mod postgres;
mod sqlite;
pub mod words;

use crate::db::schema::{case_codes, case_serials, cases, messages};
use crate::db::DbConn;
use crate::db::Direct;
use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Text, Timestamp};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use std::collections::HashMap;

/// Most terms a query may have: the web layer refuses a query with more (400,
/// `search.too_many_terms`); `parse_terms` keeps the first ones for other callers.
pub const MAX_TERMS: usize = 8;
/// How long one search may work before it gives up (`SearchError::TooSlow`): checked
/// between its steps (each bounded by a LIMIT) on both engines, and on PostgreSQL also
/// as the `statement_timeout` of the search's own read-only transaction.
pub const TIME_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);
/// Longest term, in characters.
pub const MAX_TERM_CHARS: usize = 100;
/// Most matching documents read per term and source before ranking: the newest ones
/// (a page shows 20–50 cases; a common word is in hundreds of thousands of messages).
/// At 1,000,000 messages 5,000 cost 17 ms a term where 500 cost 2–5 ms.
const DOCS_PER_TERM: i64 = 500;
/// Later terms search only inside the cases found so far when they are this few.
const NARROW_TO_CASES: usize = 2000;

/// Why a search gave no results.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The search used up its time budget; a more specific query will do.
    #[error("the search took too long")]
    TooSlow,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Index(#[from] index::IndexError),
}

/// The end of a search's time budget.
struct Deadline(std::time::Instant);

impl Deadline {
    fn check(&self) -> Result<(), SearchError> {
        if std::time::Instant::now() > self.0 {
            Err(SearchError::TooSlow)
        } else {
            Ok(())
        }
    }
}

/// Where a match was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Where {
    Subject,
    Message,
    Note,
    Closure,
    Bundle,
}

impl Where {
    /// Every place, in the order the search index stores them (by position).
    pub const ALL: [Where; 5] = [
        Where::Subject,
        Where::Message,
        Where::Note,
        Where::Closure,
        Where::Bundle,
    ];

    /// The place stored as `i` in the search index (see `ALL`).
    pub fn from_index(i: u64) -> Where {
        Where::ALL
            .get(i as usize)
            .copied()
            .unwrap_or(Where::Message)
    }

    /// How the search index stores the place.
    pub fn index(self) -> u64 {
        Where::ALL.iter().position(|w| *w == self).unwrap_or(1) as u64
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Where::Subject => "subject",
            Where::Message => "message",
            Where::Note => "note",
            Where::Closure => "closure",
            Where::Bundle => "bundle",
        }
    }

    pub fn parse(s: &str) -> Where {
        match s {
            "subject" => Where::Subject,
            "note" => Where::Note,
            "closure" => Where::Closure,
            "bundle" => Where::Bundle,
            _ => Where::Message,
        }
    }

    /// How much a match here says about the case.
    fn weight(self) -> i64 {
        match self {
            Where::Subject => 8,
            Where::Closure => 4,
            Where::Note => 3,
            Where::Message => 2,
            Where::Bundle => 1,
        }
    }
}

/// A search with its filters. `to` is exclusive.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub q: String,
    /// `""` for all, `"active"` for not closed, else one status.
    pub status: String,
    /// Part of the customer's name, case-insensitive.
    pub customer: String,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// An error code the case carries (`0xC002001B`, any case).
    pub code: String,
    pub limit: usize,
}

/// One case found.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub case_number: String,
    pub subject: String,
    pub status: String,
    pub customer: Option<String>,
    #[serde(skip)]
    pub updated_at: NaiveDateTime,
    /// HTML: the text around the match, escaped, with the matches in `<mark>`.
    pub snippet: String,
    #[serde(rename = "where")]
    pub where_: Where,
    pub score: i64,
}

/// One matching document, as an engine's SQL returns it (see `index::Found`).
#[derive(Debug, Clone, QueryableByName)]
pub(crate) struct DocMatch {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub case_id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
}

impl From<DocMatch> for index::Found {
    fn from(d: DocMatch) -> index::Found {
        index::Found {
            key: d.id,
            case_id: d.case_id,
            kind: Where::parse(&d.kind),
        }
    }
}

#[derive(Debug, Clone, QueryableByName)]
struct DocBody {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    body: String,
}

/// The filters, normalised; `None` where the query does not filter.
pub(crate) struct Filters {
    /// `"active"` (not closed) or one status.
    pub status: Option<String>,
    /// Lower-case customer name part, as typed.
    pub customer: Option<String>,
    pub code: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

impl Filters {
    fn from_query(q: &SearchQuery) -> Filters {
        let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        Filters {
            status: some(&q.status),
            customer: some(&q.customer).map(|c| c.to_lowercase()),
            code: some(&q.code).map(|c| normalize_code(&c).unwrap_or(c)),
            from: q.from,
            to: q.to,
        }
    }
}

impl Filters {
    pub(crate) fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.customer.is_none()
            && self.code.is_none()
            && self.from.is_none()
            && self.to.is_none()
    }
}

/// A value bound to a numbered placeholder.
pub(crate) enum Bind {
    Text(String),
    Ts(NaiveDateTime),
}

impl Bind {
    /// `q` with `binds` bound in order (the placeholders `doc_sql` numbered).
    pub(crate) fn all<'f, DB>(
        q: BoxedSqlQuery<'f, DB, SqlQuery>,
        binds: Vec<Bind>,
    ) -> BoxedSqlQuery<'f, DB, SqlQuery>
    where
        DB: Backend + HasSqlType<Text> + HasSqlType<Timestamp>,
        String: ToSql<Text, DB>,
        NaiveDateTime: ToSql<Timestamp, DB>,
    {
        binds.into_iter().fold(q, |q, b| match b {
            Bind::Text(s) => q.bind::<Text, _>(s),
            Bind::Ts(t) => q.bind::<Timestamp, _>(t),
        })
    }
}

/// Where search documents come from; each yields `(id, case_id, kind)` rows.
pub(crate) struct Source {
    from: &'static str,
    select: &'static str,
    case_col: &'static str,
    order_col: &'static str,
    /// The searched text.
    text_col: &'static str,
    /// PostgreSQL: the text's words (`words::pg_words`).
    words_col: &'static str,
    /// `select`, and the row's order and text (`ord`, `body`): PostgreSQL's windows
    /// of a term's rows (`postgres::windows`).
    window_select: &'static str,
}

/// Every text but message bodies: subjects, R&D notes, scopes, closures.
pub(crate) const DOCS: Source = Source {
    from: "search_docs d",
    select: "d.id, d.case_id, d.kind",
    case_col: "d.case_id",
    order_col: "d.id",
    text_col: "d.body",
    words_col: "d.words",
    window_select: "d.id, d.case_id, d.kind, d.id AS ord, d.body AS body",
};

/// Message bodies, searched in place; as documents their id is `id * 8 + 1`.
pub(crate) const MESSAGES: Source = Source {
    from: "messages m",
    select: "m.id * 8 + 1 AS id, m.case_id, \
             CASE WHEN m.direction = 'internal' THEN 'note' ELSE 'message' END AS kind",
    case_col: "m.case_id",
    order_col: "m.id",
    text_col: "m.body_text",
    words_col: "m.words",
    window_select: "m.id * 8 + 1 AS id, m.case_id, \
             CASE WHEN m.direction = 'internal' THEN 'note' ELSE 'message' END AS kind, \
             m.id AS ord, m.body_text AS body",
};

/// A message's document id (see the `search` migrations).
fn message_doc_id(id: i64) -> Option<i64> {
    (id % 8 == 1).then_some(id / 8)
}

/// The document query around an engine's match clause (which uses `$1` to
/// `$reserved`): joins the
/// case only when a filter needs it and binds only the filters that are set, so the
/// planner can walk the newest documents first and stop at the limit.
pub(crate) fn doc_sql(
    src: &Source,
    match_clause: &str,
    f: &Filters,
    only_cases: Option<&[i64]>,
    limit: i64,
    cases_as_filter: bool,
    reserved: usize,
) -> (String, Vec<Bind>) {
    let case_col = src.case_col;
    let mut binds: Vec<Bind> = Vec::new();
    let mut conds: Vec<String> = vec![match_clause.to_string()];
    let param = |b: Bind, binds: &mut Vec<Bind>| {
        binds.push(b);
        format!("${}", binds.len() + reserved)
    };
    if let Some(ids) = only_cases {
        let list = ids
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        // `+`: a filter on the rows `match_clause` reaches (a range of ids), not an
        // index to walk instead (`cases_as_filter`).
        let plus = if cases_as_filter { "+" } else { "" };
        conds.push(format!("{plus}{case_col} IN ({list})"));
    }
    match f.status.as_deref() {
        Some("active") => conds.push("c.status <> 'closed'".into()),
        Some(s) => conds.push(format!(
            "c.status = {}",
            param(Bind::Text(s.to_string()), &mut binds)
        )),
        None => {}
    }
    if let Some(c) = &f.customer {
        conds.push(format!(
            "LOWER(COALESCE(c.customer, '')) LIKE {} ESCAPE '\\'",
            param(Bind::Text(like_contains(c)), &mut binds)
        ));
    }
    if let Some(code) = &f.code {
        conds.push(format!(
            "EXISTS (SELECT 1 FROM case_codes cc WHERE cc.case_id = {case_col} AND cc.code = {})",
            param(Bind::Text(code.clone()), &mut binds)
        ));
    }
    if let Some(t) = f.from {
        conds.push(format!(
            "c.created_at >= {}",
            param(Bind::Ts(t), &mut binds)
        ));
    }
    if let Some(t) = f.to {
        conds.push(format!("c.created_at < {}", param(Bind::Ts(t), &mut binds)));
    }
    let join = if f.status.is_some() || f.customer.is_some() || f.from.is_some() || f.to.is_some() {
        format!(" JOIN cases c ON c.id = {case_col}")
    } else {
        String::new()
    };
    let sql = match only_cases {
        // Narrowed to the cases earlier terms found: the newest few documents of each
        // of them (ranking counts at most PER_CASE per term), so that a case with a
        // long thread cannot crowd the others out of the limit.
        Some(ids) => format!(
            "SELECT id, case_id, kind FROM (SELECT {}, ROW_NUMBER() OVER (PARTITION BY {case_col} ORDER BY {} DESC) AS rn \
             FROM {}{join} WHERE {}) per_case WHERE rn <= {PER_CASE} ORDER BY id DESC LIMIT {}",
            src.select,
            src.order_col,
            src.from,
            conds.join(" AND "),
            limit.max(ids.len() as i64 * PER_CASE)
        ),
        None => format!(
            "SELECT {} FROM {}{join} WHERE {} ORDER BY {} DESC LIMIT {limit}",
            src.select,
            src.from,
            conds.join(" AND "),
            src.order_col
        ),
    };
    (sql, binds)
}

/// Matching documents of one case that count for one term (see the ranking in
/// `search_in`: `count.min(&PER_CASE)`).
pub(crate) const PER_CASE: i64 = 5;

/// An error code in any of the spellings people paste, as codes are stored
/// (`0xC004F074`): `0xc004f074`; `C004F074` (eight hex digits without the prefix, a
/// failure code: the first digit 8–F, and at least one decimal digit, so a word such as
/// `deadbeef` is not taken for one); `-1073418124` (the same HRESULT as a signed 32-bit
/// number, as event logs and scripts print it). None when the term is none of these.
pub fn normalize_code(term: &str) -> Option<String> {
    let value = if let Some(hex) = term.strip_prefix("0x").or_else(|| term.strip_prefix("0X")) {
        if hex.is_empty() || hex.len() > 8 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(hex, 16).ok()?
    } else if term.starts_with('-') {
        let signed: i32 = term.parse().ok()?;
        if signed >= 0 {
            return None;
        }
        signed as u32
    } else {
        let failure = term.starts_with(|c: char| matches!(c, '8'..='9' | 'a'..='f' | 'A'..='F'));
        if term.len() != 8
            || !failure
            || !term.chars().all(|c| c.is_ascii_hexdigit())
            || !term.chars().any(|c| c.is_ascii_digit())
        {
            return None;
        }
        u32::from_str_radix(term, 16).ok()?
    };
    Some(crate::codes::format_code(value))
}

/// Splits a query into terms: whitespace (also the ideographic space) separates terms,
/// `"double quotes"` keep a phrase together. Duplicates are dropped, case-insensitively.
/// At most `MAX_TERMS` are kept (see `count_terms` to refuse longer queries instead).
pub fn parse_terms(q: &str) -> Vec<String> {
    let mut out = all_terms(q);
    out.truncate(MAX_TERMS);
    out
}

/// How many distinct terms a query has, before `parse_terms` keeps the first `MAX_TERMS`.
pub fn count_terms(q: &str) -> usize {
    all_terms(q).len()
}

fn all_terms(q: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |t: &str| {
        let t: String = t.trim().chars().take(MAX_TERM_CHARS).collect();
        if !t.is_empty() && !out.iter().any(|o| o.to_lowercase() == t.to_lowercase()) {
            out.push(t);
        }
    };
    let mut cur = String::new();
    let mut quoted = false;
    for c in q.chars() {
        if c == '"' {
            push(&cur);
            cur.clear();
            quoted = !quoted;
        } else if !quoted && (c.is_whitespace() || c == '\u{3000}') {
            push(&cur);
            cur.clear();
        } else {
            cur.push(c);
        }
    }
    push(&cur);
    out
}

/// A LIKE pattern that finds `term` anywhere, with `\` as the escape character.
pub(crate) fn like_contains(term: &str) -> String {
    format!("%{}%", crate::cases::escape_like(term))
}

fn matching_docs(
    conn: &mut DbConn,
    term: &str,
    filters: &Filters,
    only_cases: Option<&[i64]>,
    view: Option<&sqlite::View>,
) -> Result<Vec<index::Found>, SearchError> {
    match (conn, view) {
        (DbConn::Sqlite(c), Some(view)) => {
            sqlite::matching_docs(c, view, term, filters, only_cases, DOCS_PER_TERM)
        }
        (DbConn::Sqlite(_), None) => Ok(Vec::new()),
        (DbConn::Pg(c), _) => Ok(postgres::matching_docs(
            c,
            term,
            filters,
            only_cases,
            DOCS_PER_TERM,
        )?),
    }
}

/// Cases whose number, tracking token, serial number or error code is exactly `term`.
fn exact_hits(conn: &mut DbConn, term: &str) -> QueryResult<Vec<i64>> {
    let upper = term.to_uppercase();
    let mut variants = vec![term.to_string(), upper];
    if let Some(code) = normalize_code(term) {
        variants.push(code);
    }
    variants.sort_unstable();
    variants.dedup();
    let mut ids: Vec<i64> = cases::table
        .filter(
            cases::number
                .eq_any(&variants)
                .or(cases::tracking_token.eq_any(&variants)),
        )
        .select(cases::id)
        .rows(conn)?;
    // A common error code is carried by a sixth of all cases: the newest
    // DOCS_PER_TERM of them are plenty to rank (as for any other term). One spelling
    // at a time: each is a range of its index, newest first, where a list of them
    // would sort every row of the code.
    for v in &variants {
        ids.extend(
            case_serials::table
                .filter(case_serials::serial.eq(v))
                .order(case_serials::id.desc())
                .limit(DOCS_PER_TERM)
                .select(case_serials::case_id)
                .rows::<i64>(conn)?,
        );
        ids.extend(
            case_codes::table
                .filter(case_codes::code.eq(v))
                .order(case_codes::id.desc())
                .limit(DOCS_PER_TERM)
                .select(case_codes::case_id)
                .rows::<i64>(conn)?,
        );
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

type CaseInfo = (i64, String, String, String, Option<String>, NaiveDateTime);
/// id, number, subject, status, customer, created_at, updated_at.
type CaseRowLite = (
    i64,
    String,
    String,
    String,
    Option<String>,
    NaiveDateTime,
    NaiveDateTime,
);

/// SQLite: one batch of the search indexer (up to `limit` new messages, changed
/// documents and, while a new index is filled, documents), see
/// `sqlite::catch_up_index`. Returns how many documents it wrote (0: the index is
/// current). PostgreSQL keeps its indexes current on insert: nothing to do.
pub fn catch_up(conn: &mut DbConn, limit: i64) -> Result<usize, SearchError> {
    sqlite::catch_up_index(conn, limit)
}

/// Indexes everything pending (bulk ingest calls it at the end of a run).
pub fn catch_up_all(conn: &mut DbConn) -> Result<usize, SearchError> {
    catch_up_all_with(conn, |_| {})
}

/// `catch_up_all`, telling `progress` how many documents each batch wrote.
pub fn catch_up_all_with(
    conn: &mut DbConn,
    mut progress: impl FnMut(usize),
) -> Result<usize, SearchError> {
    let mut total = 0;
    loop {
        let n = catch_up(conn, 20_000)?;
        if n == 0 {
            return Ok(total);
        }
        progress(n);
        total += n;
    }
}

/// SQLite: removes the search index of the database and builds it again from the
/// database (`casebook reindex`), telling `progress` how many documents each batch
/// wrote. Searches meanwhile read the database for what the new index lacks.
pub fn reindex(conn: &mut DbConn, progress: impl FnMut(usize)) -> Result<usize, SearchError> {
    let DbConn::Sqlite(c) = &mut *conn else {
        return Ok(0);
    };
    let Some(file) = sqlite::db_file(c)? else {
        return Ok(0);
    };
    index::forget(&file);
    let dir = index::dir_for(&file);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(index::IndexError::from)?;
    }
    let n = catch_up_all_with(conn, progress)?;
    compact(conn)?;
    Ok(n)
}

/// SQLite: merges the search index into one segment (after a large import, a rebuild,
/// or a large backlog in the server; see `index::SearchIndex::compact`). Nothing to do
/// on PostgreSQL.
pub fn compact(conn: &mut DbConn) -> Result<(), SearchError> {
    let DbConn::Sqlite(c) = conn else {
        return Ok(());
    };
    if let Some(index) = sqlite::index_of(c)? {
        index.compact()?;
    }
    Ok(())
}

/// Registers the SQL functions search uses on a new SQLite connection.
pub fn register_functions(c: &mut diesel::SqliteConnection) -> QueryResult<()> {
    sqlite::register_functions(c)
}

/// Cases matching every term, best first, each with a snippet of its best document,
/// within `budget` (else `SearchError::TooSlow`).
///
/// A search only reads: it never takes SQLite's write lock. Messages the indexer has
/// not reached yet (SQLite) are matched with LIKE beside the index, so results are
/// complete all the same. On PostgreSQL it runs in a read-only transaction whose
/// `statement_timeout` is the budget.
pub fn search(
    conn: &mut DbConn,
    q: &SearchQuery,
    budget: std::time::Duration,
) -> Result<Vec<Hit>, SearchError> {
    let deadline = Deadline(std::time::Instant::now() + budget);
    match conn {
        DbConn::Sqlite(_) => {
            // One snapshot for the whole search (a deferred transaction only reads, and
            // in WAL mode holds no writer up): the indexes, their marks and the LIKE
            // beside them agree, whatever the indexer commits meanwhile.
            conn.transaction(|c| {
                let view = match c {
                    DbConn::Sqlite(s) => Some(sqlite::View::new(s)?),
                    DbConn::Pg(_) => None,
                };
                search_in(c, q, view.as_ref(), &deadline)
            })
        }
        DbConn::Pg(_) => {
            let ms = budget.as_millis().max(1);
            let run = |c: &mut DbConn| -> Result<Vec<Hit>, SearchError> {
                use diesel::connection::SimpleConnection;
                c.batch_execute(&format!(
                    "SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = {ms}"
                ))?;
                search_in(c, q, None, &deadline)
            };
            conn.transaction(run).map_err(|e| match e {
                SearchError::Db(d) if is_statement_timeout(&d) => SearchError::TooSlow,
                other => other,
            })
        }
    }
}

/// PostgreSQL cancelled a statement at `statement_timeout` (SQLSTATE 57014).
fn is_statement_timeout(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(_, info)
        if info.message().contains("statement timeout"))
}

fn search_in(
    conn: &mut DbConn,
    q: &SearchQuery,
    view: Option<&sqlite::View>,
    deadline: &Deadline,
) -> Result<Vec<Hit>, SearchError> {
    let terms = parse_terms(&q.q);
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let filters = Filters::from_query(q);
    // Longest terms first: they are the most selective and index-served, and later
    // terms only look inside the cases the earlier ones found.
    let mut order: Vec<&String> = terms.iter().collect();
    order.sort_by_key(|t| std::cmp::Reverse(t.chars().count()));
    // Per case: how many terms it matched so far and its score, the sum over terms of
    // the weightiest place the term is in (×10) and how many of its documents have
    // it (at most PER_CASE).
    let mut scores: FxHashMap<i64, (usize, i64)> = FxHashMap::default();
    // Per document: its case, how many terms it matched, its place.
    let mut doc_terms: FxHashMap<i64, (i64, usize, Where)> = FxHashMap::default();
    for (i, term) in order.into_iter().enumerate() {
        if i > 0 && scores.is_empty() {
            break;
        }
        let narrowed: Option<Vec<i64>> =
            (i > 0 && scores.len() <= NARROW_TO_CASES).then(|| scores.keys().copied().collect());
        // After the first term, only cases that matched every earlier term count.
        let alive = |scores: &FxHashMap<i64, (usize, i64)>, case_id: i64| {
            i == 0 || scores.contains_key(&case_id)
        };
        let docs = matching_docs(conn, term, &filters, narrowed.as_deref(), view)?;
        deadline.check()?;
        // Per case: the weightiest place and how many documents have this term. Sized
        // once: growing three maps to a thousand documents was a tenth of a search.
        let mut this_term: FxHashMap<i64, (i64, i64)> =
            FxHashMap::with_capacity_and_hasher(docs.len(), Default::default());
        // A document found twice for one term (by an index and by the LIKE beside it,
        // when the indexer committed between the two) counts once.
        let mut seen_docs: FxHashSet<i64> =
            FxHashSet::with_capacity_and_hasher(docs.len(), Default::default());
        doc_terms.reserve(docs.len());
        for d in docs {
            if !alive(&scores, d.case_id) || !seen_docs.insert(d.key) {
                continue;
            }
            let e = this_term.entry(d.case_id).or_default();
            e.0 = e.0.max(d.kind.weight());
            e.1 += 1;
            doc_terms.entry(d.key).or_insert((d.case_id, 0, d.kind)).1 += 1;
        }
        let exact = exact_hits(conn, term)?;
        deadline.check()?;
        for case_id in exact {
            if !alive(&scores, case_id) {
                continue;
            }
            let e = this_term.entry(case_id).or_default();
            e.0 = e.0.max(20);
            e.1 += 1;
        }
        for (case_id, (weight, count)) in this_term {
            let s = scores.entry(case_id).or_default();
            if s.0 == i {
                s.0 += 1;
                s.1 += weight * 10 + count.min(PER_CASE);
            }
        }
        // A case that missed this term can no longer match every term.
        scores.retain(|_, s| s.0 == i + 1);
    }
    if scores.is_empty() {
        return Ok(Vec::new());
    }
    // Best first: score, then the newer case (higher id). Case facts are loaded in
    // that order, a chunk at a time, until the page is full; the filters apply again
    // there because exact hits did not go through the SQL filters.
    let mut order: Vec<(i64, i64)> = scores.iter().map(|(id, s)| (s.1, *id)).collect();
    order.sort_unstable_by(|a, b| b.cmp(a));
    let limit = q.limit.clamp(1, 500);
    // Without filters only merged cases drop out: a few more than the page will do.
    let chunk = if filters.is_empty() {
        limit + limit / 4 + 5
    } else {
        limit.max(100)
    };
    let mut ranked: Vec<(i64, CaseInfo)> = Vec::new();
    for chunk in order.chunks(chunk) {
        let ids: Vec<i64> = chunk.iter().map(|(_, id)| *id).collect();
        let mut infos: FxHashMap<i64, CaseInfo> = load_cases(conn, &ids, &filters)?
            .into_iter()
            .map(|i| (i.0, i))
            .collect();
        deadline.check()?;
        for (score, id) in chunk {
            if let Some(info) = infos.remove(id) {
                ranked.push((*score, info));
            }
        }
        if ranked.len() >= limit {
            break;
        }
    }
    ranked.truncate(limit);
    // The document to quote for each case: the most terms, then the weightiest place,
    // then the oldest.
    let shown: FxHashSet<i64> = ranked.iter().map(|(_, info)| info.0).collect();
    let mut best_doc: FxHashMap<i64, (i64, Where)> = FxHashMap::default();
    let mut best_key: FxHashMap<i64, (usize, i64, i64)> = FxHashMap::default();
    for (doc, (case_id, count, kind)) in &doc_terms {
        if !shown.contains(case_id) {
            continue;
        }
        let key = (*count, kind.weight(), -*doc);
        if best_key.get(case_id).is_none_or(|k| key > *k) {
            best_key.insert(*case_id, key);
            best_doc.insert(*case_id, (*doc, *kind));
        }
    }
    let doc_ids: Vec<i64> = best_doc.values().map(|(id, _)| *id).collect();
    let bodies = load_bodies(conn, &doc_ids)?;
    let hits = ranked
        .into_iter()
        .map(
            |(score, (id, number, subject, status, customer, updated_at))| {
                let (where_, text) = match best_doc.get(&id) {
                    Some((doc, kind)) => (
                        *kind,
                        bodies.get(doc).map(String::as_str).unwrap_or(&subject),
                    ),
                    None => (Where::Subject, subject.as_str()),
                };
                let snippet = snippet(text, &terms, 160);
                Hit {
                    case_number: number,
                    subject,
                    status,
                    customer,
                    updated_at,
                    snippet,
                    where_,
                    score,
                }
            },
        )
        .collect();
    Ok(hits)
}

/// Facts of the candidate cases, keeping those that pass the filters (exact hits did
/// not go through the SQL filters).
fn load_cases(conn: &mut DbConn, ids: &[i64], f: &Filters) -> QueryResult<Vec<CaseInfo>> {
    // The list bound as one value: one prepared statement whatever its length.
    let rows: Vec<CaseRowLite> = cases::table
        .filter(crate::db::ids_in(conn, "cases.id", ids))
        .filter(cases::merged_into.is_null())
        .select((
            cases::id,
            cases::number,
            cases::subject,
            cases::status,
            cases::customer,
            cases::created_at,
            cases::updated_at,
        ))
        .rows(conn)?;
    let with_code: Option<Vec<i64>> = match &f.code {
        Some(code) => Some(
            case_codes::table
                .filter(crate::db::ids_in(conn, "case_codes.case_id", ids))
                .filter(case_codes::code.eq(code))
                .select(case_codes::case_id)
                .rows(conn)?,
        ),
        None => None,
    };
    Ok(rows
        .into_iter()
        .filter(|(id, _, _, status, customer, created, _)| {
            let status_ok = match f.status.as_deref() {
                None => true,
                Some("active") => status != "closed",
                Some(s) => status == s,
            };
            let customer_ok = f.customer.as_ref().is_none_or(|want| {
                customer
                    .as_deref()
                    .is_some_and(|c| c.to_lowercase().contains(want.as_str()))
            });
            status_ok
                && customer_ok
                && f.from.is_none_or(|t| *created >= t)
                && f.to.is_none_or(|t| *created < t)
                && with_code.as_ref().is_none_or(|v| v.contains(id))
        })
        .map(|(id, number, subject, status, customer, _, updated)| {
            (id, number, subject, status, customer, updated)
        })
        .collect())
}

fn load_bodies(conn: &mut DbConn, ids: &[i64]) -> QueryResult<HashMap<i64, String>> {
    let mut out = HashMap::new();
    let message_ids: Vec<i64> = ids.iter().filter_map(|i| message_doc_id(*i)).collect();
    for chunk in message_ids.chunks(500) {
        let rows: Vec<(i64, String)> = messages::table
            .filter(crate::db::ids_in(conn, "messages.id", chunk))
            .select((messages::id, messages::body_text))
            .rows(conn)?;
        out.extend(rows.into_iter().map(|(id, body)| (id * 8 + 1, body)));
    }
    let other: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|i| message_doc_id(*i).is_none())
        .collect();
    for chunk in other.chunks(500) {
        let list = chunk
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let rows: Vec<DocBody> = diesel::sql_query(format!(
            "SELECT id, body FROM search_docs WHERE id IN ({list})"
        ))
        .rows(conn)?;
        out.extend(rows.into_iter().map(|r| (r.id, r.body)));
    }
    Ok(out)
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out
}

/// Appends `c`, escaped for HTML.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        c => out.push(c),
    }
}

/// Up to `width` characters of `text` around the first match of any term (from
/// `width / 4` characters before it), whitespace collapsed, HTML-escaped, with every
/// match of a term in it (as search matches: words and CJK characters, see `words`)
/// wrapped in `<mark>`. Only the window is read closely, so a long text costs a byte
/// search.
pub fn snippet(text: &str, terms: &[String], width: usize) -> String {
    let text = text.trim();
    let first = terms
        .iter()
        .filter_map(|t| words::first(text, t))
        .map(|(a, _)| a)
        .min()
        .unwrap_or(0);
    let back = |from: usize, n: usize| {
        text[..from]
            .char_indices()
            .rev()
            .take(n)
            .last()
            .map_or(from, |(i, _)| i)
    };
    // From the start of a word cut there (when it is a short one).
    let start = back(first, width / 4);
    let start = match words::word_bounds(text, start, start).0 {
        w if start - w <= 32 => w,
        _ => start,
    };
    // Where the `width` characters shown end, whitespace runs counting as one.
    let mut end = start;
    let mut shown = 0usize;
    let mut space = false;
    for (i, c) in text[start..].char_indices() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        let need = 1 + usize::from(space && shown > 0);
        if shown + need > width {
            break;
        }
        shown += need;
        space = false;
        end = start + i + c.len_utf8();
    }
    // The matches there, in the words the window cuts taken whole.
    let (a, b) = words::word_bounds(text, start, end);
    let mut marks: Vec<(usize, usize)> = words::find_all(&text[a..b], terms)
        .into_iter()
        .map(|(x, y)| (a + x, a + y))
        .collect();
    marks.sort_unstable();
    let marked = |i: usize| marks.iter().any(|&(x, y)| x <= i && i < y);
    let emit = |out: &mut String, at: usize, c: char, in_mark: &mut bool| {
        let m = marked(at);
        if m != *in_mark {
            out.push_str(if m { "<mark>" } else { "</mark>" });
            *in_mark = m;
        }
        push_escaped(out, c);
    };
    let mut out = String::with_capacity(end - start + 64);
    if start > 0 {
        out.push('…');
    }
    let mut in_mark = false;
    let mut shown = 0usize;
    // The first whitespace of a run, shown as one space (marked inside a match).
    let mut space_at: Option<usize> = None;
    let mut chars = text[start..].char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        let at = start + i;
        if c.is_whitespace() {
            space_at.get_or_insert(at);
            chars.next();
            continue;
        }
        let space = space_at.take().filter(|_| shown > 0);
        if shown + usize::from(space.is_some()) + 1 > width {
            break;
        }
        if let Some(s) = space {
            emit(&mut out, s, ' ', &mut in_mark);
            shown += 1;
        }
        emit(&mut out, at, c, &mut in_mark);
        shown += 1;
        chars.next();
    }
    if in_mark {
        out.push_str("</mark>");
    }
    if chars.any(|(_, c)| !c.is_whitespace()) {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Documents and messages are found before the indexer reaches them and after;
    /// changes and deletions reach the index (a stale entry is never shown); the
    /// index's marks survive a restart (a new process opens the same index and finds
    /// nothing to do); a removed index is built again from the database.
    #[test]
    fn the_index_follows_the_database_and_search_never_waits_for_it() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("c.sqlite3");
        let url = file.display().to_string();
        let mut conn = crate::db::establish(&url).expect("db");
        crate::db::migrate(&mut conn).expect("migrate");
        let sql = |c: &mut DbConn, q: &str| {
            diesel::sql_query(q).execute(c).expect(q);
        };
        let found = |c: &mut DbConn, q: &str| -> Vec<String> {
            let query = SearchQuery {
                q: q.into(),
                limit: 20,
                ..Default::default()
            };
            let mut numbers: Vec<String> = search(c, &query, TIME_BUDGET)
                .expect("search")
                .into_iter()
                .map(|h| h.case_number)
                .collect();
            numbers.sort();
            numbers
        };
        let held = |key: i64| {
            index::for_database(&file)
                .expect("index")
                .holds(key)
                .expect("holds")
        };
        for (id, subject) in [
            (1, "printer offline"),
            (2, "scanner offline"),
            (3, "keyboard dead"),
        ] {
            sql(
                &mut conn,
                &format!(
                    "INSERT INTO cases (id, number, subject, status, tracking_token, created_at, updated_at) \
                     VALUES ({id}, 'CAS-{id}', '{subject}', 'open', 'CMIT:{id}', '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
                ),
            );
        }
        // Written, not indexed: search finds them all the same.
        assert_eq!(found(&mut conn, "offline"), ["CAS-1", "CAS-2"]);
        assert_eq!(found(&mut conn, "OFFLINE"), ["CAS-1", "CAS-2"]);
        assert!(
            found(&mut conn, "offlin").is_empty(),
            "words, not parts of them"
        );
        // Changed or removed before the indexer comes.
        sql(
            &mut conn,
            "UPDATE cases SET subject = 'keyboard offline' WHERE id = 3",
        );
        sql(&mut conn, "DELETE FROM cases WHERE id = 2");
        assert_eq!(found(&mut conn, "offline"), ["CAS-1", "CAS-3"]);
        assert!(catch_up_all(&mut conn).expect("catch up") > 0);
        assert!(held(8) && held(24) && !held(16));
        assert_eq!(found(&mut conn, "offline"), ["CAS-1", "CAS-3"]);
        // Indexed documents change and go: the stale entries are not shown meanwhile.
        sql(
            &mut conn,
            "UPDATE cases SET subject = 'printer jammed' WHERE id = 1",
        );
        sql(&mut conn, "DELETE FROM cases WHERE id = 3");
        assert!(held(24), "the index has not seen the deletion yet");
        assert!(found(&mut conn, "offline").is_empty());
        assert_eq!(found(&mut conn, "jammed"), ["CAS-1"]);
        assert!(catch_up_all(&mut conn).expect("catch up") > 0);
        assert!(!held(24) && held(8));
        assert!(found(&mut conn, "offline").is_empty());
        assert_eq!(found(&mut conn, "jammed"), ["CAS-1"]);
        assert_eq!(catch_up(&mut conn, 100).expect("idle"), 0);
        // The changes applied left the list.
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let left = |c: &mut DbConn| {
            diesel::sql_query("SELECT COUNT(*) AS n FROM search_changes")
                .get_result::<N>(c)
                .expect("count")
                .n
        };
        assert_eq!(left(&mut conn), 0);
        // Removed: built again from the database, and found as before.
        let before = index::for_database(&file).expect("index").num_docs();
        let mut batches = 0;
        reindex(&mut conn, |_| batches += 1).expect("reindex");
        assert!(batches >= 1);
        assert_eq!(
            index::for_database(&file).expect("index").num_docs(),
            before
        );
        assert_eq!(found(&mut conn, "jammed"), ["CAS-1"]);
        assert_eq!(left(&mut conn), 0);
        // A document a merge moves to another case: a search narrowed to that case
        // (by its first, longer term) finds it before and after the indexer.
        sql(&mut conn, "INSERT INTO search_docs (id, case_id, kind, body) VALUES (10, 4, 'note', 'toner empty')");
        sql(
            &mut conn,
            "INSERT INTO cases (id, number, subject, status, tracking_token, created_at, updated_at) \
             VALUES (4, 'CAS-4', 'toner', 'open', 'CMIT:4', '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
        );
        catch_up_all(&mut conn).expect("catch up");
        assert!(found(&mut conn, "jammed empty").is_empty());
        sql(
            &mut conn,
            "UPDATE search_docs SET case_id = 1 WHERE id = 10",
        );
        assert_eq!(
            found(&mut conn, "jammed empty"),
            ["CAS-1"],
            "moved, not indexed yet"
        );
        catch_up_all(&mut conn).expect("catch up");
        assert_eq!(left(&mut conn), 0);
        assert_eq!(
            found(&mut conn, "jammed empty"),
            ["CAS-1"],
            "moved and indexed"
        );
        assert_eq!(found(&mut conn, "toner"), ["CAS-1", "CAS-4"]);
        assert!(found(&mut conn, "toner dead").is_empty());
        // A message a merge moves, and one whose text is edited: the indexer reads
        // them as they are now.
        for (id, body) in [(1, "cartridge leaking"), (2, "drum worn")] {
            sql(
                &mut conn,
                &format!(
                    "INSERT INTO messages (id, case_id, message_id, content_hash, from_name, from_address, \
                     subject, sent_at, received_at, direction, body_text, source) VALUES ({id}, 4, '<m{id}@x>', \
                     'h{id}', 'C', 'c@x', 'toner', '2025-01-02 00:00:00', '2025-01-02 00:00:00', 'inbound', \
                     '{body}', 'test')"
                ),
            );
        }
        catch_up_all(&mut conn).expect("catch up");
        assert!(held(9) && held(17));
        assert!(found(&mut conn, "jammed cartridge").is_empty());
        sql(&mut conn, "UPDATE messages SET case_id = 1 WHERE id = 1");
        sql(
            &mut conn,
            "UPDATE messages SET body_text = 'drum replaced' WHERE id = 2",
        );
        assert_eq!(
            found(&mut conn, "jammed cartridge"),
            ["CAS-1"],
            "moved, not indexed yet"
        );
        assert!(
            found(&mut conn, "worn").is_empty(),
            "edited, not indexed yet"
        );
        assert!(catch_up_all(&mut conn).expect("catch up") > 0);
        assert_eq!(left(&mut conn), 0);
        assert_eq!(
            found(&mut conn, "jammed cartridge"),
            ["CAS-1"],
            "moved and indexed"
        );
        assert!(found(&mut conn, "worn").is_empty(), "edited and indexed");
        assert_eq!(found(&mut conn, "replaced"), ["CAS-4"]);
    }

    #[test]
    fn terms_split_on_spaces_and_keep_quoted_phrases() {
        assert_eq!(parse_terms("0xC002001B 激活"), vec!["0xC002001B", "激活"]);
        assert_eq!(parse_terms("激活\u{3000}失败"), vec!["激活", "失败"]);
        assert_eq!(
            parse_terms("\"remote call\" wmi WMI"),
            vec!["remote call", "wmi"]
        );
        assert!(parse_terms("   ").is_empty());
        assert_eq!(parse_terms("a b c d e f g h i j").len(), MAX_TERMS);
    }

    #[test]
    fn codes_normalise() {
        assert_eq!(normalize_code("0xc002001b").as_deref(), Some("0xC002001B"));
        assert_eq!(normalize_code("0x5").as_deref(), Some("0x00000005"));
        assert_eq!(normalize_code("0xzz"), None);
        assert_eq!(normalize_code("c002001b").as_deref(), Some("0xC002001B"));
        assert_eq!(normalize_code("C004F074").as_deref(), Some("0xC004F074"));
        assert_eq!(normalize_code("-1073418124").as_deref(), Some("0xC004F074"));
        assert_eq!(normalize_code("-2147024891").as_deref(), Some("0x80070005"));
        // Not codes: a positive number, a word of hex letters, a success code, too long.
        assert_eq!(normalize_code("1073418124"), None);
        assert_eq!(normalize_code("-0"), None);
        assert_eq!(normalize_code("deadbeef"), None);
        assert_eq!(normalize_code("4004F040"), None);
        assert_eq!(normalize_code("C004F0740"), None);
        assert_eq!(normalize_code("-99999999999"), None);
    }

    #[test]
    fn snippet_escapes_then_marks() {
        let s = snippet(
            "x <script>alert(1)</script> 错误码 0xC002001B 激活",
            &["0xc002001b".into(), "<script>".into()],
            200,
        );
        assert!(s.contains("<mark>0xC002001B</mark>"), "{s}");
        assert!(s.contains("&lt;<mark>script</mark>&gt;"), "{s}");
        assert!(!s.contains("<script>"), "{s}");
    }

    #[test]
    fn snippet_marks_words_as_search_matches_them() {
        let terms = [
            "printer".to_string(),
            "激活".to_string(),
            "remote call".to_string(),
        ];
        let s = snippet(
            "Printers and the printer; 激 活 and 激活失败.   The remote\n  call failed",
            &terms,
            200,
        );
        assert_eq!(
            s,
            "Printers and the <mark>printer</mark>; 激 活 and <mark>激活</mark>失败. \
             The <mark>remote call</mark> failed"
        );
        // The window starts a little before the first match, deep in a long text.
        let long = format!("{} needle {}", "word ".repeat(2000), "tail ".repeat(2000));
        let s = snippet(&long, &["needle".to_string()], 60);
        assert!(s.starts_with("…word") && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>needle</mark>"), "{s}");
        assert_eq!(
            s.chars().filter(|c| !"…".contains(*c)).count() - "<mark></mark>".len(),
            60,
            "{s}"
        );
    }

    #[test]
    fn snippet_windows_long_text() {
        let text = format!("{}激活失败{}", "前".repeat(300), "后".repeat(300));
        let s = snippet(&text, &["激活".into()], 40);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>激活</mark>"), "{s}");
        assert!(s.chars().count() < 80, "{s}");
    }
}
