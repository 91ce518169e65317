//! SQLite: the FTS5 trigram indexes `search_fts` and `messages_fts` (detail=none) serve `LIKE '%term%'`
//! for terms of three characters or more (substring matches, case-insensitive for
//! ASCII); shorter terms, and terms with LIKE wildcards in them (which need an ESCAPE
//! clause, which SQLite does not hand to the index), use LIKE on `search_docs`
//! (the trigram tokenizer cannot match two-character Chinese words such as 激活).

use super::{doc_sql, like_contains, Bind, DocMatch, Filters, Source, DOCS, MESSAGES};
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};
use diesel::sqlite::Sqlite;
use diesel::SqliteConnection;

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
        // The LIKE fallback above already read every message; the index did not.
        out.extend(pending(conn, term, f, only_cases, limit, indexed_upto)?);
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
    fn which_terms_use_the_index() {
        assert!(indexable("0xC002001B") && indexable("激活失") && indexable("a\\b"));
        assert!(!indexable("激活") && !indexable("100%") && !indexable("the_disk"));
    }
}
