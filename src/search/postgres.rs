//! PostgreSQL: ILIKE on `search_docs.body`, served by the pg_trgm GIN index
//! `search_docs_body_trgm` (substring matches, case-insensitive; Chinese needs no
//! segmentation). Short terms still match: the index is only a shortcut there.

use super::{doc_sql, like_contains, Bind, DocMatch, Filters};
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
    let (sql, binds) = doc_sql("d.body ILIKE $1 ESCAPE '\\'", f, only_cases, limit);
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
