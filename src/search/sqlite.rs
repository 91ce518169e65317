//! SQLite: the FTS5 trigram index `search_fts` for terms of three characters or more
//! (substring matches, case-insensitive), LIKE on `search_docs` for shorter ones
//! (the trigram tokenizer cannot match two-character Chinese words such as 激活).

use super::{doc_sql, like_contains, Bind, DocMatch, Filters};
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};
use diesel::sqlite::Sqlite;
use diesel::SqliteConnection;

/// An FTS5 phrase: the term in double quotes, inner quotes doubled, so no character
/// of the term is read as query syntax.
pub(crate) fn fts_phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

pub(crate) fn matching_docs(
    conn: &mut SqliteConnection,
    term: &str,
    f: &Filters,
    only_cases: Option<&[i64]>,
    limit: i64,
) -> QueryResult<Vec<DocMatch>> {
    let (predicate, arg) = if term.chars().count() >= 3 {
        // Unfiltered, FTS5 itself can stop at the newest `limit` matches.
        let early_stop = if f.is_empty() && only_cases.is_none() {
            format!(" ORDER BY rowid DESC LIMIT {limit}")
        } else {
            String::new()
        };
        (
            format!("d.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH $1{early_stop})"),
            fts_phrase(term),
        )
    } else {
        (
            "d.body LIKE $1 ESCAPE '\\'".to_string(),
            like_contains(term),
        )
    };
    let (sql, binds) = doc_sql(&predicate, f, only_cases, limit);
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
    fn phrases_are_quoted() {
        assert_eq!(fts_phrase("a\"b"), "\"a\"\"b\"");
        assert_eq!(fts_phrase("' OR 1=1 --"), "\"' OR 1=1 --\"");
    }
}
