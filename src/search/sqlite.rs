//! SQLite: the FTS5 trigram indexes `search_fts` and `messages_fts` (detail=none) serve `LIKE '%term%'`
//! for terms of three characters or more (substring matches, case-insensitive for
//! ASCII). Two-character CJK words (激活, 蓝屏), which the trigram tokenizer cannot
//! match, are served by the contentless bigram indexes `docs_bigrams` and
//! `messages_bigrams` (pairs of adjacent CJK characters, made by the indexer). Other
//! short terms, and terms with LIKE wildcards in them (which need an ESCAPE clause,
//! which SQLite does not hand to the index), use LIKE.

use super::{doc_sql, like_contains, Bind, DocMatch, Filters, Source, DOCS, MESSAGES};
use crate::db::cached_sql;
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};
use diesel::sqlite::Sqlite;
use diesel::SqliteConnection;

/// Whether `c` is written without spaces between words (Chinese, Japanese, Korean):
/// such text is indexed by pairs of characters as well (`messages_bigrams`).
pub(crate) fn is_cjk(c: char) -> bool {
    // Letters only: the punctuation in these blocks (・, ゠, ゛) separates words for
    // the unicode61 tokenizer too.
    c.is_alphabetic()
        && matches!(c as u32,
        0x3040..=0x30FF       // Hiragana, Katakana
        | 0x3400..=0x4DBF     // CJK Extension A
        | 0x4E00..=0x9FFF     // CJK Unified Ideographs
        | 0xAC00..=0xD7AF     // Hangul syllables
        | 0xF900..=0xFAFF     // CJK Compatibility Ideographs
        | 0x20000..=0x3134F) // Extensions B–G
}

/// The distinct pairs of adjacent CJK characters in `text`, space-separated: the words
/// of the bigram indexes ("激活失败 0x8007" → "激活 活失 失败").
pub(crate) fn bigrams(text: &str) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    let mut prev: Option<char> = None;
    for c in text.chars() {
        let cjk = is_cjk(c);
        if let (Some(p), true) = (prev, cjk) {
            if seen.insert((p, c)) {
                out.push(p);
                out.push(c);
                out.push(' ');
            }
        }
        prev = cjk.then_some(c);
    }
    out.pop();
    out
}

/// Whether the bigram indexes serve `term`: two CJK characters.
pub(crate) fn bigram_term(term: &str) -> bool {
    let mut cs = term.chars();
    matches!((cs.next(), cs.next(), cs.next()), (Some(a), Some(b), None) if is_cjk(a) && is_cjk(b))
}

#[derive(QueryableByName)]
struct Text2 {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    body: String,
}

#[derive(QueryableByName)]
struct Pending {
    #[diesel(sql_type = Text)]
    source: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// The bigram indexes: messages above `bigrams_messages_upto`, and the documents in
/// `bigrams_pending`, up to `limit` of each. Returns how many documents were indexed.
pub(crate) fn catch_up_bigrams(conn: &mut crate::db::DbConn, limit: i64) -> QueryResult<usize> {
    {
        // Fast path without the write lock: nothing new, nothing changed.
        let crate::db::DbConn::Sqlite(s) = &mut *conn else {
            return Ok(0);
        };
        let newest: Option<i64> = crate::db::schema::messages::table
            .select(diesel::dsl::max(crate::db::schema::messages::id))
            .first(s)?;
        let changed = diesel::sql_query("SELECT id, '' AS body FROM bigrams_pending LIMIT 1")
            .load::<Text2>(s)?;
        if newest.unwrap_or(0) <= bigrams_upto(s)? && changed.is_empty() {
            return Ok(0);
        }
    }
    crate::db::write_tx(conn, |c| {
        let crate::db::DbConn::Sqlite(s) = c else {
            return Ok(0);
        };
        // Smaller batches than the trigram index's: an upgraded database is indexed
        // while mail arrives, and each batch holds the write lock.
        index_bigrams(s, limit.min(BIGRAM_BATCH))
    })
}

/// Most documents of each kind per bigram indexing transaction.
const BIGRAM_BATCH: i64 = 5_000;

fn index_bigrams(c: &mut SqliteConnection, limit: i64) -> QueryResult<usize> {
    use diesel::sql_types::BigInt;
    let mut n = 0;
    let upto = bigrams_upto(c)?;
    let rows: Vec<Text2> = diesel::sql_query(
        "SELECT id, body_text AS body FROM messages WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind::<BigInt, _>(upto)
    .bind::<BigInt, _>(limit)
    .load(c)?;
    if let Some(last) = rows.last().map(|r| r.id) {
        for r in &rows {
            insert_grams(c, "messages_bigrams", r.id, &r.body)?;
        }
        diesel::sql_query(
            "UPDATE app_settings SET value = CAST($1 AS TEXT) WHERE key = 'bigrams_messages_upto'",
        )
        .bind::<BigInt, _>(last)
        .execute(c)?;
        n += rows.len();
    }
    let pending: Vec<Pending> =
        diesel::sql_query("SELECT source, id FROM bigrams_pending LIMIT $1")
            .bind::<BigInt, _>(limit)
            .load(c)?;
    for p in &pending {
        let (table, text_sql) = if p.source == "message" {
            (
                "messages_bigrams",
                "SELECT id, body_text AS body FROM messages WHERE id = $1",
            )
        } else {
            (
                "docs_bigrams",
                "SELECT id, body FROM search_docs WHERE id = $1",
            )
        };
        // Fixed texts (the table is one of two), run once per document: prepared once.
        cached_sql(format!("DELETE FROM {table} WHERE rowid = $1"))
            .bind::<BigInt, _>(p.id)
            .execute(c)?;
        let now: Option<Text2> = cached_sql(text_sql)
            .bind::<BigInt, _>(p.id)
            .get_result(c)
            .optional()?;
        if let Some(t) = now {
            insert_grams(c, table, t.id, &t.body)?;
        }
        cached_sql("DELETE FROM bigrams_pending WHERE source = $1 AND id = $2")
            .bind::<Text, _>(&p.source)
            .bind::<BigInt, _>(p.id)
            .execute(c)?;
    }
    n += pending.len();
    Ok(n)
}

fn insert_grams(c: &mut SqliteConnection, table: &str, id: i64, text: &str) -> QueryResult<()> {
    let grams = bigrams(text);
    if !grams.is_empty() {
        cached_sql(format!("INSERT INTO {table}(rowid, grams) VALUES ($1, $2)"))
            .bind::<diesel::sql_types::BigInt, _>(id)
            .bind::<Text, _>(grams)
            .execute(c)?;
    }
    Ok(())
}

/// The last message id in `messages_bigrams` (later ones are matched with LIKE).
fn bigrams_upto(conn: &mut SqliteConnection) -> QueryResult<i64> {
    mark(conn, "bigrams_messages_upto")
}

/// An indexer's mark in `app_settings`: the last message id an index holds (0 when
/// not set).
pub(crate) fn mark(conn: &mut SqliteConnection, key: &str) -> QueryResult<i64> {
    Ok(crate::db::schema::app_settings::table
        .find(key)
        .select(crate::db::schema::app_settings::value)
        .first::<String>(conn)
        .optional()?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// The FTS5 indexes of search. Each is a set of b-tree segments that a query walks
/// side by side (backwards, for the newest matches first); FTS5 merges them only four
/// at a time per level, so a large import leaves around a dozen.
pub(crate) const INDEXES: [&str; 4] = [
    "messages_fts",
    "search_fts",
    "messages_bigrams",
    "docs_bigrams",
];

/// How many segments `index` (one of `INDEXES`) has.
pub(crate) fn segments(conn: &mut SqliteConnection, index: &str) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    debug_assert!(INDEXES.contains(&index));
    Ok(diesel::sql_query(format!(
        "SELECT COUNT(DISTINCT segid) AS n FROM {index}_idx"
    ))
    .get_result::<N>(conn)?
    .n)
}

/// One bounded step of merging `index`'s segments into one (FTS5's `merge` command:
/// about `pages` pages of merged output, each step in its own short write transaction
/// so deliveries get the lock in between). `first` starts the merge across all levels
/// (a negative count); later steps continue it without restarting when new segments
/// arrive meanwhile. Returns whether the step did any work (when not, the index is one
/// segment).
pub(crate) fn merge_step(
    conn: &mut SqliteConnection,
    index: &str,
    pages: i64,
    first: bool,
) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Changes {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    debug_assert!(INDEXES.contains(&index));
    let total = |c: &mut SqliteConnection| -> QueryResult<i64> {
        Ok(diesel::sql_query("SELECT total_changes() AS n")
            .get_result::<Changes>(c)?
            .n)
    };
    let before = total(conn)?;
    let n = if first { -pages } else { pages };
    diesel::sql_query(format!(
        "INSERT INTO {index}({index}, rank) VALUES('merge', {n})"
    ))
    .execute(conn)?;
    // FTS5's documented test: the merge is complete once a step changes fewer than two
    // rows.
    Ok(total(conn)? - before >= 2)
}

/// Merges every segment of `index` into one (FTS5's `optimize`), in one transaction.
pub(crate) fn optimize(conn: &mut SqliteConnection, index: &str) -> QueryResult<()> {
    debug_assert!(INDEXES.contains(&index));
    diesel::sql_query(format!("INSERT INTO {index}({index}) VALUES('optimize')"))
        .execute(conn)
        .map(|_| ())
}

/// Whether the trigram index can serve `term`.
pub(crate) fn indexable(term: &str) -> bool {
    term.chars().count() >= 3 && !term.contains(['%', '_'])
}

/// `indexed_upto`: the last message in `messages_fts`; later messages (not indexed yet)
/// are matched with LIKE, so a search never has to index (and take the write lock).
pub(crate) fn matching_docs(
    conn: &mut SqliteConnection,
    term: &str,
    f: &Filters,
    only_cases: Option<&[i64]>,
    limit: i64,
    indexed_upto: i64,
) -> QueryResult<Vec<DocMatch>> {
    if bigram_term(term) && only_cases.is_none() {
        return by_bigram(conn, term, f, limit);
    }
    let mut out = query(
        conn,
        &DOCS,
        ("search_fts", "body", "d.id", "d.body"),
        term,
        f,
        only_cases,
        limit,
    )?;
    out.extend(query(
        conn,
        &MESSAGES,
        ("messages_fts", "body_text", "m.id", "m.body_text"),
        term,
        f,
        only_cases,
        limit,
    )?);
    if uses_index(term, only_cases) {
        // The LIKE fallback above already read every message and document; the
        // indexes did not hold those the indexer has not seen yet.
        out.extend(pending(conn, term, f, only_cases, limit, indexed_upto)?);
        out.extend(run(
            conn,
            &DOCS,
            "d.id IN (SELECT id FROM search_docs_pending) AND d.body LIKE $1 ESCAPE '\\'",
            like_contains(term),
            f,
            only_cases,
            limit,
        )?);
    }
    Ok(out)
}

/// Whether a term's documents come from the trigram index. Not when the search is
/// narrowed to the cases earlier terms found: a common term's index entries run to
/// hundreds of thousands (all read, to intersect them with the cases), while those
/// cases' own documents are a few thousand at most (read through the `case_id`
/// indexes and matched with LIKE): 26 ms against 0.5–7 s at 1,000,000 messages.
fn uses_index(term: &str, only_cases: Option<&[i64]>) -> bool {
    indexable(term) && only_cases.is_none()
}

/// A two-character CJK term: the bigram indexes, and LIKE for what they do not hold
/// yet (messages above their mark, documents changed since the indexer saw them).
fn by_bigram(
    conn: &mut SqliteConnection,
    term: &str,
    f: &Filters,
    limit: i64,
) -> QueryResult<Vec<DocMatch>> {
    let upto = bigrams_upto(conn)?;
    // Unfiltered, FTS5 itself can stop at the newest `limit` matches.
    let early_stop = if f.is_empty() {
        format!(" ORDER BY rowid DESC LIMIT {limit}")
    } else {
        String::new()
    };
    // Two CJK characters: nothing in them needs quoting but the quotes themselves.
    let word = format!("\"{term}\"");
    let like = like_contains(term);
    let mut out = Vec::new();
    for (src, table, id_col, text_col, source) in [
        (&DOCS, "docs_bigrams", "d.id", "d.body", "doc"),
        (
            &MESSAGES,
            "messages_bigrams",
            "m.id",
            "m.body_text",
            "message",
        ),
    ] {
        let pending = format!("SELECT id FROM bigrams_pending WHERE source = '{source}'");
        out.extend(run(
            conn,
            src,
            &format!(
                "{id_col} IN (SELECT rowid FROM {table} WHERE {table} MATCH $1{early_stop}) \
                 AND {id_col} NOT IN ({pending})"
            ),
            word.clone(),
            f,
            None,
            limit,
        )?);
        out.extend(run(
            conn,
            src,
            &format!("{id_col} IN ({pending}) AND {text_col} LIKE $1 ESCAPE '\\'"),
            like.clone(),
            f,
            None,
            limit,
        )?);
    }
    out.extend(run(
        conn,
        &MESSAGES,
        &format!("m.id > {upto} AND m.body_text LIKE $1 ESCAPE '\\'"),
        like,
        f,
        None,
        limit,
    )?);
    Ok(out)
}

/// Messages after `indexed_upto`, matched with LIKE (the indexer keeps them few).
fn pending(
    conn: &mut SqliteConnection,
    term: &str,
    f: &Filters,
    only_cases: Option<&[i64]>,
    limit: i64,
    indexed_upto: i64,
) -> QueryResult<Vec<DocMatch>> {
    let predicate = format!("m.id > {indexed_upto} AND m.body_text LIKE $1 ESCAPE '\\'");
    run(
        conn,
        &MESSAGES,
        &predicate,
        like_contains(term),
        f,
        only_cases,
        limit,
    )
}

/// `index`: the FTS table, its column, the source's id and text columns.
fn query(
    conn: &mut SqliteConnection,
    src: &Source,
    index: (&str, &str, &str, &str),
    term: &str,
    f: &Filters,
    only_cases: Option<&[i64]>,
    limit: i64,
) -> QueryResult<Vec<DocMatch>> {
    let (fts, fts_col, id_col, text_col) = index;
    let (predicate, arg) = if uses_index(term, only_cases) {
        // Unfiltered, FTS5 itself can stop at the newest `limit` matches.
        let early_stop = if f.is_empty() {
            format!(" ORDER BY rowid DESC LIMIT {limit}")
        } else {
            String::new()
        };
        (
            format!(
                "{id_col} IN (SELECT rowid FROM {fts} WHERE {fts}.{fts_col} LIKE $1{early_stop})"
            ),
            // No ESCAPE clause: `\` is an ordinary character, and `%`/`_` are excluded.
            format!("%{term}%"),
        )
    } else {
        (
            format!("{text_col} LIKE $1 ESCAPE '\\'"),
            like_contains(term),
        )
    };
    run(conn, src, &predicate, arg, f, only_cases, limit)
}

fn run(
    conn: &mut SqliteConnection,
    src: &Source,
    predicate: &str,
    arg: String,
    f: &Filters,
    only_cases: Option<&[i64]>,
    limit: i64,
) -> QueryResult<Vec<DocMatch>> {
    let (sql, binds) = doc_sql(src, predicate, f, only_cases, limit);
    let mut q = diesel::sql_query(sql)
        .into_boxed::<Sqlite>()
        .bind::<Text, _>(arg);
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind::<Text, _>(s),
            Bind::Ts(t) => q.bind::<Timestamp, _>(t),
        };
    }
    q.load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_of_adjacent_cjk_characters_once_each() {
        assert_eq!(bigrams("激活失败"), "激活 活失 失败");
        assert_eq!(bigrams("激活 失败，激活失败 0x8007 蓝"), "激活 失败 活失");
        assert_eq!(bigrams("no Chinese here"), "");
        assert_eq!(
            bigrams("ひらがなカタ한국"),
            "ひら らが がな なカ カタ タ한 한국"
        );
        assert!(bigram_term("蓝屏") && bigram_term("日志"));
        assert!(!bigram_term("蓝") && !bigram_term("蓝屏幕") && !bigram_term("ok"));
        assert!(!bigram_term("蓝a") && !bigram_term("ア・") && !bigram_term("・・"));
    }

    #[test]
    fn which_terms_use_the_index() {
        assert!(indexable("0xC002001B") && indexable("激活失") && indexable("a\\b"));
        assert!(!indexable("激活") && !indexable("100%") && !indexable("the_disk"));
    }
}
