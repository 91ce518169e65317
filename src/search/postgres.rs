//! PostgreSQL: ILIKE on `search_docs.body` and `messages.body_text`, served by the
//! pg_trgm GIN indexes `search_docs_body_trgm` and `messages_body_trgm` (substring
//! matches, case-insensitive; Chinese needs no segmentation). Short terms still match:
//! the index is only a shortcut there.

use super::{doc_sql, like_contains, Bind, DocMatch, Filters, Source, DOCS, MESSAGES};
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
) -> QueryResult<Vec<DocMatch>> {
    let mut out = query(conn, &DOCS, "d.body", term, f, only_cases, limit)?;
    out.extend(query(
        conn,
        &MESSAGES,
        "m.body_text",
        term,
        f,
        only_cases,
        limit,
    )?);
    Ok(out)
}

fn query(
    conn: &mut PgConnection,
    src: &Source,
    text_col: &str,
    term: &str,
    f: &Filters,
    only_cases: Option<&[i64]>,
    limit: i64,
) -> QueryResult<Vec<DocMatch>> {
    let predicate = format!("{text_col} ILIKE $1 ESCAPE '\\'");
    let (sql, binds) = doc_sql(src, &predicate, f, only_cases, limit);
    let mut q = diesel::sql_query(sql)
        .into_boxed::<Pg>()
        .bind::<Text, _>(like_contains(term));
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind::<Text, _>(s),
            Bind::Ts(t) => q.bind::<Timestamp, _>(t),
        };
    }
    q.load(conn)
}
