//! PostgreSQL: the regular expression of `words::pg_regex` (`~*`: words, CJK
//! characters, case-insensitive) on `search_docs.body` and `messages.body_text`,
//! served by the pg_trgm GIN indexes `search_docs_body_trgm` and `messages_body_trgm`,
//! which take the trigrams of its literal parts. A term without three characters in a
//! row still matches: the index is only a shortcut there.

use super::index::Found;
use super::{doc_sql, Bind, DocMatch, Filters, Source, DOCS, MESSAGES};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};
use diesel::PgConnection;

pub(crate) fn matching_docs(
    conn: &mut PgConnection,
    term: &str,
    f: &Filters,
    only_cases: Option<&[i64]>,
    limit: i64,
) -> QueryResult<Vec<Found>> {
    let Some(re) = super::words::pg_regex(term) else {
        return Ok(Vec::new());
    };
    let mut out = query(conn, &DOCS, &re, f, only_cases, limit)?;
    out.extend(query(conn, &MESSAGES, &re, f, only_cases, limit)?);
    Ok(out)
}

fn query(
    conn: &mut PgConnection,
    src: &Source,
    re: &str,
    f: &Filters,
    only_cases: Option<&[i64]>,
    limit: i64,
) -> QueryResult<Vec<Found>> {
    let predicate = format!("{} ~* $1", src.text_col);
    let (sql, binds) = doc_sql(src, &predicate, f, only_cases, limit, false);
    let mut q = diesel::sql_query(sql)
        .into_boxed::<Pg>()
        .bind::<Text, _>(re.to_string());
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind::<Text, _>(s),
            Bind::Ts(t) => q.bind::<Timestamp, _>(t),
        };
    }
    Ok(q.load::<DocMatch>(conn)?
        .into_iter()
        .map(Found::from)
        .collect())
}
