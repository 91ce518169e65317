//! SQLite: terms are answered by the inverted index beside the database (`index.rs`)
//! for what it holds — the newest matching documents, or, once earlier terms have
//! narrowed a search to a few cases, which of those cases' documents match — and by
//! `casebook_contains` (the Rust matcher of `words`, registered on every connection)
//! for what it does not hold yet: messages above its mark, documents changed since it.

use super::index::{self, Entry, Found, Marks, SearchIndex, Snapshot, Src};
use super::{doc_sql, Bind, DocMatch, Filters, SearchError, Source, DOCS, MESSAGES, PER_CASE};
use crate::db::DbConn;
use crate::db::Direct;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::Sqlite;
use diesel::SqliteConnection;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

diesel::define_sql_function! {
    /// Whether a text holds a search term (`words::contains`).
    fn casebook_contains(text: Text, term: Text) -> Bool;
}

/// Registers Casebook's SQL functions on a new connection.
pub fn register_functions(c: &mut SqliteConnection) -> QueryResult<()> {
    casebook_contains_utils::register_impl(c, |text: String, term: String| {
        super::words::contains(&text, &term)
    })
}

/// Most candidates read from the index per term and source when filters drop some
/// (a filter matching few cases of a common word): the search then reports what it
/// found among the newest `MAX_FILTERED_SCAN`.
const MAX_FILTERED_SCAN: usize = 20_000;

#[derive(QueryableByName)]
struct DbFile {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    file: String,
}

/// The file of the connection's main database; None for a database in memory.
pub(crate) fn db_file(c: &mut SqliteConnection) -> QueryResult<Option<PathBuf>> {
    let rows: Vec<DbFile> = diesel::sql_query("PRAGMA database_list").load(c)?;
    Ok(rows
        .into_iter()
        .find(|r| r.name == "main")
        .map(|r| r.file)
        .filter(|f| !f.is_empty())
        .map(PathBuf::from))
}

/// The inverted index of the connection's database (None in memory, or when it
/// cannot be opened: search then reads the database alone, slower but complete).
pub(crate) fn index_of(c: &mut SqliteConnection) -> QueryResult<Option<Arc<SearchIndex>>> {
    let Some(file) = db_file(c)? else {
        return Ok(None);
    };
    match index::for_database(&file) {
        Ok(i) => Ok(Some(i)),
        Err(e) => {
            tracing::warn!(error = %e, "search index not available: searching the database alone");
            Ok(None)
        }
    }
}

#[derive(QueryableByName)]
struct Change {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    source: String,
    #[diesel(sql_type = BigInt)]
    id: i64,
}

fn key_of(source: &str, id: i64) -> (i64, Src) {
    let src = if source == Src::Message.name() {
        Src::Message
    } else {
        Src::Doc
    };
    (src.key(id), src)
}

/// What one search sees: the index's snapshot, its marks (None: it holds nothing
/// yet), and the documents changed since (their index entries may be stale).
pub(crate) struct View {
    index: Option<(Arc<SearchIndex>, Snapshot)>,
    marks: Option<Marks>,
    /// The newest message in the database snapshot.
    newest_message: i64,
    changed: HashSet<i64>,
}

impl View {
    /// Taken inside the search's read transaction.
    pub(crate) fn new(c: &mut SqliteConnection) -> QueryResult<View> {
        // The database snapshot first, then the index's: an index commit in between
        // only makes the index newer than the snapshot. The other way round, the
        // indexer could apply changes and drop them from `search_changes` after the
        // index snapshot was taken and before the database's: their stale entries
        // would be shown.
        let newest_message = max_of(c, "SELECT COALESCE(MAX(id), 0) AS n FROM messages")?;
        let index = index_of(c)?.map(|i| {
            let s = i.snapshot();
            (i, s)
        });
        let marks = index.as_ref().and_then(|(_, s)| s.marks);
        let mut changed = HashSet::new();
        if let Some(m) = marks {
            let rows: Vec<Change> =
                diesel::sql_query("SELECT seq, source, id FROM search_changes WHERE seq > $1")
                    .bind::<BigInt, _>(m.changes)
                    .load(c)?;
            changed.extend(rows.iter().map(|r| key_of(&r.source, r.id).0));
        }
        Ok(View {
            index,
            marks,
            newest_message,
            changed,
        })
    }

    /// Whether documents of `src` changed since the index's marks.
    fn changed_any(&self, src: Src) -> bool {
        self.changed
            .iter()
            .any(|k| (super::message_doc_id(*k).is_some()) == (src == Src::Message))
    }
}

pub(crate) fn matching_docs(
    conn: &mut SqliteConnection,
    view: &View,
    term: &str,
    f: &Filters,
    only_cases: Option<&[i64]>,
    limit: i64,
) -> Result<Vec<Found>, SearchError> {
    if super::words::query_tokens(term).is_empty() {
        return Ok(Vec::new());
    }
    let contains = |text_col: &str| format!("casebook_contains({text_col}, $1)");
    let (Some((index, snap)), Some(m)) = (&view.index, view.marks) else {
        // Nothing indexed yet: the database alone.
        let mut out = Vec::new();
        for source in [&DOCS, &MESSAGES] {
            out.extend(run(
                conn,
                source,
                &contains(source.text_col),
                term,
                f,
                only_cases,
                limit,
            )?);
        }
        return Ok(out);
    };
    let mut out = Vec::new();
    if let Some(cases) = only_cases {
        // The index says which of the cases' documents have the term (the newest
        // `PER_CASE` of each case and source); the database applies the filters. A
        // document a merge moved to another case is among the changes, read below.
        let (messages, docs): (Vec<Found>, Vec<Found>) = index
            .among(snap, term, cases, PER_CASE as usize)?
            .into_iter()
            .filter(|d| !view.changed.contains(&d.key))
            .partition(|d| super::message_doc_id(d.key).is_some());
        out.extend(filtered(conn, docs, f, &DOCS, "d.id", Src::Doc)?);
        out.extend(filtered(
            conn,
            messages,
            f,
            &MESSAGES,
            "m.id",
            Src::Message,
        )?);
    } else {
        for (src, source, id_col) in [(Src::Doc, &DOCS, "d.id"), (Src::Message, &MESSAGES, "m.id")]
        {
            let page = limit.max(1) as usize;
            let mut offset = 0;
            let mut found_n = 0usize;
            loop {
                let (found, more) = index.newest(snap, term, src, page, offset)?;
                let found: Vec<Found> = found
                    .into_iter()
                    .filter(|d| !view.changed.contains(&d.key))
                    .collect();
                let rows = filtered(conn, found, f, source, id_col, src)?;
                found_n += rows.len();
                out.extend(rows);
                offset += page;
                if !more || f.is_empty() || found_n >= page || offset >= MAX_FILTERED_SCAN {
                    break;
                }
            }
        }
    }
    // What the index does not hold (yet), matched in the database: messages above its
    // mark, changed messages and documents, and documents a new index has not reached.
    // The indexer keeps these few, and a current index needs none of these
    // statements. Each is a range of ids (its own statement: with OR, SQLite walks
    // every message newest first; tests/cost.rs); the cases a search is narrowed to
    // are a filter on the rows of that range (`+`: not an index to walk instead).
    let changes = |src: Src| {
        format!(
            "SELECT id FROM search_changes WHERE source = '{}' AND seq > {}",
            src.name(),
            m.changes
        )
    };
    let mut pending: Vec<(&Source, String)> = Vec::new();
    if view.newest_message > m.messages {
        pending.push((&MESSAGES, format!("m.id > {}", m.messages)));
    }
    if view.changed_any(Src::Message) {
        pending.push((
            &MESSAGES,
            format!(
                "m.id IN ({}) AND m.id <= {}",
                changes(Src::Message),
                m.messages
            ),
        ));
    }
    if view.changed_any(Src::Doc) {
        pending.push((&DOCS, format!("d.id IN ({})", changes(Src::Doc))));
    }
    if m.docs < i64::MAX {
        pending.push((&DOCS, format!("d.id > {}", m.docs)));
    }
    for (source, range) in pending {
        let predicate = format!("{range} AND {}", contains(source.text_col));
        // Narrowed: the newest PER_CASE of each case (as the index's `among`), so that
        // a busy case's pending replies cannot crowd a quiet case out of the limit.
        let (sql, binds) = doc_sql(source, &predicate, f, only_cases, limit, true, 1);
        out.extend(load(conn, sql, binds, term)?);
    }
    Ok(out)
}

/// Documents the index found, as search ranks them: as the index has them when the
/// search has no filter (every one it holds is current: changed ones are read from
/// the database), else those the database says pass the filters.
fn filtered(
    conn: &mut SqliteConnection,
    found: Vec<Found>,
    f: &Filters,
    source: &Source,
    id_col: &str,
    src: Src,
) -> QueryResult<Vec<Found>> {
    if found.is_empty() {
        return Ok(Vec::new());
    }
    if f.is_empty() {
        return Ok(found);
    }
    let keys: Vec<i64> = found.iter().map(|d| d.key).collect();
    run(
        conn,
        source,
        &format!("{id_col} IN (SELECT value FROM json_each($1))"),
        &json_ids(&keys, src),
        f,
        None,
        keys.len() as i64,
    )
}

/// Index keys of `src` as a JSON list of row ids (for `json_each`).
fn json_ids(keys: &[i64], src: Src) -> String {
    let ids: Vec<String> = keys
        .iter()
        .map(|k| match src {
            Src::Message => ((k - 1) / 8).to_string(),
            Src::Doc => k.to_string(),
        })
        .collect();
    format!("[{}]", ids.join(","))
}

fn run(
    conn: &mut SqliteConnection,
    src: &Source,
    predicate: &str,
    arg: &str,
    f: &Filters,
    only_cases: Option<&[i64]>,
    limit: i64,
) -> QueryResult<Vec<Found>> {
    let (sql, binds) = doc_sql(src, predicate, f, only_cases, limit, false, 1);
    load(conn, sql, binds, arg)
}

/// Runs a statement of `doc_sql` with `arg` as `$1`.
fn load(
    conn: &mut SqliteConnection,
    sql: String,
    binds: Vec<Bind>,
    arg: &str,
) -> QueryResult<Vec<Found>> {
    let q = diesel::sql_query(sql)
        .into_boxed::<Sqlite>()
        .bind::<Text, _>(arg.to_string());
    Ok(Bind::all(q, binds)
        .load::<DocMatch>(conn)?
        .into_iter()
        .map(Found::from)
        .collect())
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    case_id: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    body: String,
}

/// A message as the index holds it (its kind as search shows it: see `MESSAGES`).
const MESSAGE_ROW: &str = "SELECT id, case_id, \
     CASE WHEN direction = 'internal' THEN 'note' ELSE 'message' END AS kind, \
     body_text AS body FROM messages";

#[derive(QueryableByName)]
struct Max {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn max_of(c: &mut SqliteConnection, sql: &str) -> QueryResult<i64> {
    Ok(diesel::sql_query(sql).get_result::<Max>(c)?.n)
}

/// One batch of the indexer: up to `limit` new messages, `limit` changes and (while a
/// new index is filled) `limit` documents, committed to the index with the marks they
/// reach; then the changes applied leave `search_changes`. Returns how many
/// documents were written (0: the index is current). Errors with `Locked` while
/// another process (a `casebook ingest` beside the server) writes the index.
pub(crate) fn catch_up_index(conn: &mut DbConn, limit: i64) -> Result<usize, SearchError> {
    let (n, applied) = {
        let DbConn::Sqlite(c) = &mut *conn else {
            return Ok(0);
        };
        let Some(index) = index_of(c)? else {
            return Ok(0);
        };
        batch(c, &index, limit)?
    };
    forget_changes(conn, applied)?;
    Ok(n)
}

/// One batch (see `catch_up_index`): the documents written and the last change the
/// index has applied.
fn batch(
    c: &mut SqliteConnection,
    index: &SearchIndex,
    limit: i64,
) -> Result<(usize, i64), SearchError> {
    let committed = index.reload()?;
    let newest = max_of(c, "SELECT COALESCE(MAX(id), 0) AS n FROM messages")?;
    let (mut marks, clear) = match committed {
        // An index ahead of the database is another database's (a restored backup).
        Some(m) if m.messages <= newest => (m, false),
        other => {
            if other.is_some() {
                tracing::warn!("search index ahead of the database: building it again");
            }
            let changes = max_of(c, "SELECT COALESCE(MAX(seq), 0) AS n FROM search_changes")?;
            (Marks::fresh(changes), true)
        }
    };
    let messages: Vec<Row> =
        diesel::sql_query(format!("{MESSAGE_ROW} WHERE id > $1 ORDER BY id LIMIT $2"))
            .bind::<BigInt, _>(marks.messages)
            .bind::<BigInt, _>(limit)
            .load(c)?;
    let docs: Vec<Row> = if marks.docs < i64::MAX {
        diesel::sql_query(
            "SELECT id, case_id, kind, body FROM search_docs WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind::<BigInt, _>(marks.docs)
        .bind::<BigInt, _>(limit)
        .load(c)?
    } else {
        Vec::new()
    };
    let changes: Vec<Change> = diesel::sql_query(
        "SELECT seq, source, id FROM search_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind::<BigInt, _>(marks.changes)
    .bind::<BigInt, _>(limit)
    .load(c)?;
    if messages.is_empty() && docs.is_empty() && changes.is_empty() && !clear {
        return Ok((0, marks.changes));
    }
    let entry = |r: Row, src: Src| Entry {
        key: src.key(r.id),
        src,
        case_id: r.case_id,
        kind: r.kind,
        text: r.body,
    };
    let mut add: Vec<Entry> = Vec::with_capacity(messages.len() + docs.len());
    if let Some(last) = messages.last() {
        marks.messages = last.id;
    }
    add.extend(messages.into_iter().map(|r| entry(r, Src::Message)));
    if docs.len() < limit as usize {
        marks.docs = i64::MAX;
    } else if let Some(last) = docs.last() {
        marks.docs = last.id;
    }
    add.extend(docs.into_iter().map(|r| entry(r, Src::Doc)));
    // Each changed document once, as it is now (read in one query per source); one
    // the index does not reach yet only loses what the index held of it (nothing): it
    // comes with its turn.
    let mut keys: Vec<(i64, Src, i64)> = Vec::new();
    let mut seen = HashSet::new();
    for ch in &changes {
        let (key, src) = key_of(&ch.source, ch.id);
        if seen.insert(key) {
            keys.push((key, src, ch.id));
        }
    }
    let reachable = |src: Src, id: i64| match src {
        Src::Message => id <= marks.messages,
        Src::Doc => id <= marks.docs,
    };
    let mut now: HashMap<i64, Row> = HashMap::new();
    for (src, sql) in [
        (Src::Message, MESSAGE_ROW),
        (Src::Doc, "SELECT id, case_id, kind, body FROM search_docs"),
    ] {
        let ids: Vec<String> = keys
            .iter()
            .filter(|(_, s, id)| *s == src && reachable(src, *id))
            .map(|(_, _, id)| id.to_string())
            .collect();
        if ids.is_empty() {
            continue;
        }
        let rows: Vec<Row> = diesel::sql_query(format!(
            "{sql} WHERE id IN (SELECT value FROM json_each($1))"
        ))
        .bind::<Text, _>(format!("[{}]", ids.join(",")))
        .load(c)?;
        now.extend(rows.into_iter().map(|r| (src.key(r.id), r)));
    }
    let replace: Vec<(i64, Option<Entry>)> = keys
        .into_iter()
        .map(|(key, src, _)| (key, now.remove(&key).map(|r| entry(r, src))))
        .collect();
    if let Some(last) = changes.last() {
        marks.changes = last.seq;
    }
    let n = add.len() + replace.len();
    index.apply(&add, &replace, marks, clear)?;
    Ok((n.max(usize::from(clear)), marks.changes))
}

/// Changes the index has applied leave the list (a crash before this only leaves
/// them for the next pass, which skips them by the index's mark).
fn forget_changes(conn: &mut DbConn, upto: i64) -> QueryResult<()> {
    let any = diesel::sql_query("SELECT seq AS n FROM search_changes WHERE seq <= $1 LIMIT 1")
        .bind::<BigInt, _>(upto)
        .rows::<Max>(conn)?;
    if any.is_empty() {
        return Ok(());
    }
    crate::db::write_tx(conn, |c| {
        diesel::sql_query("DELETE FROM search_changes WHERE seq <= $1")
            .bind::<BigInt, _>(upto)
            .execute(c)
            .map(|_| ())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contains_function_in_sql() {
        let mut c = SqliteConnection::establish(":memory:").unwrap();
        register_functions(&mut c).unwrap();
        #[derive(QueryableByName)]
        struct B {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            b: bool,
        }
        let ask = |c: &mut SqliteConnection, text: &str, term: &str| {
            diesel::sql_query("SELECT casebook_contains($1, $2) AS b")
                .bind::<Text, _>(text)
                .bind::<Text, _>(term)
                .get_result::<B>(c)
                .unwrap()
                .b
        };
        assert!(ask(&mut c, "激活失败 Printer", "printer"));
        assert!(!ask(&mut c, "printers", "printer"));
        assert!(ask(&mut c, "激活失败", "活失"));
    }
}
