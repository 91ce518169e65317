//! PostgreSQL: ILIKE on `search_docs.body`, served by the pg_trgm GIN index
//! `search_docs_body_trgm` (substring matches, case-insensitive; Chinese needs no
//! segmentation). Short terms still match: the index is only a shortcut there.

use super::{like_contains, DocMatch, Filters, FILTER_SQL};
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};
use diesel::PgConnection;

pub(crate) fn matching_docs(
    conn: &mut PgConnection,
    term: &str,
    f: &Filters,
    limit: i64,
) -> QueryResult<Vec<DocMatch>> {
    let sql = format!(
        "SELECT d.id, d.case_id, d.kind FROM search_docs d JOIN cases c ON c.id = d.case_id \
         WHERE d.body ILIKE $1 ESCAPE '\\' AND {FILTER_SQL} ORDER BY d.id DESC LIMIT {limit}"
    );
    diesel::sql_query(sql)
        .bind::<Text, _>(like_contains(term))
        .bind::<Text, _>(&f.status)
        .bind::<Text, _>(&f.customer_like)
        .bind::<Text, _>(&f.code)
        .bind::<Timestamp, _>(f.from)
        .bind::<Timestamp, _>(f.to)
        .load(conn)
}
