//! PostgreSQL: the regular expression of `words::pg_regex` (`~*`: words, CJK
//! characters, case-insensitive) on `search_docs.body` and `messages.body_text`,
//! served by the pg_trgm GIN indexes `search_docs_body_trgm` and `messages_body_trgm`:
//! they take the trigrams of the term's `ILIKE` pattern (`words::pg_like`), or of the
//! expression's literal parts when it has none. A term without three characters in a
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
    let like = super::words::pg_like(term);
    // The planner takes a scan of a small table for cheap whatever the expression
    // costs per row (a whole table of bodies against a regular expression: 12 ms at
    // 10,000 documents where the index finds the one row in 1 ms): with a pattern
    // whose trigrams any database takes, the index it serves. The search runs in its
    // own transaction: `SET LOCAL` ends with it, and is undone after both queries for
    // the statements that follow.
    let forced = like.as_ref().is_some_and(|l| l.ascii_run);
    if forced {
        diesel::sql_query("SET LOCAL enable_seqscan = off").execute(conn)?;
    }
    let like = like.map(|l| l.pattern);
    let mut out = query(conn, &DOCS, &re, like.as_deref(), f, only_cases, limit)?;
    out.extend(query(
        conn,
        &MESSAGES,
        &re,
        like.as_deref(),
        f,
        only_cases,
        limit,
    )?);
    // A failed query (the statement timeout) aborts the transaction: its error is the
    // one returned above, and nothing follows it there.
    if forced {
        diesel::sql_query("SET LOCAL enable_seqscan TO DEFAULT").execute(conn)?;
    }
    Ok(out)
}

fn query(
    conn: &mut PgConnection,
    src: &Source,
    re: &str,
    like: Option<&str>,
    f: &Filters,
    only_cases: Option<&[i64]>,
    limit: i64,
) -> QueryResult<Vec<Found>> {
    let col = src.text_col;
    // With a pattern the index takes its trigrams from the pattern alone (`col || ''`
    // hides the expression from it), and the expression checks the rows it lets
    // through; without one, the expression as before. `lower('I') <> 'i'` (folded
    // when the query is planned) drops the pattern where the collation folds ASCII
    // otherwise than the expression does (Turkish).
    let predicate = match like {
        Some(_) => {
            format!("({col} ILIKE $2 ESCAPE '\\' OR lower('I') <> 'i') AND ({col} || '') ~* $1")
        }
        None => format!("{col} ~* $1"),
    };
    let reserved = if like.is_some() { 2 } else { 1 };
    let (sql, binds) = doc_sql(src, &predicate, f, only_cases, limit, false, reserved);
    let mut q = diesel::sql_query(sql)
        .into_boxed::<Pg>()
        .bind::<Text, _>(re.to_string());
    if let Some(l) = like {
        q = q.bind::<Text, _>(l.to_string());
    }
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind::<Text, _>(s),
            Bind::Ts(t) => q.bind::<Timestamp, _>(t),
        };
    }
    let found = q.load::<DocMatch>(conn)?;
    Ok(found.into_iter().map(Found::from).collect())
}
