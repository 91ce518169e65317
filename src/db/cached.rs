//! Statements prepared once per connection where diesel would prepare them at every run.
//!
//! Diesel keeps a prepared statement only when the query's type says its SQL never
//! changes: never for an `UPDATE` built with the DSL (a changeset may skip `None`
//! fields) nor for `sql_query`. On SQLite, preparing a write compiles every trigger of
//! the table into it: `UPDATE cases ...` was prepared once per ingested message, 6 % of
//! a bulk ingest's time. `cached_sql(text)` is `sql_query(text)` whose statement
//! diesel keeps, keyed by its text (diesel's cache by SQL, as for any query without a
//! static type id). Use it only for a fixed text that takes every value as a bound
//! parameter: a text with values or lists formatted into it would be a new cache
//! entry each time.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::QueryResult;
use std::marker::PhantomData;

/// Raw SQL whose prepared statement is kept (see the module documentation): its text
/// cut at the placeholders `$1`, `$2`, … (which must come in that order, once each),
/// each bound value written where its placeholder was, in the engine's own syntax.
#[derive(Debug, Clone)]
#[must_use = "Queries are only executed when calling `load`, `get_result` or similar."]
pub struct CachedSql {
    /// The text before `$1`, between `$1` and `$2`, …, after the last.
    segments: Vec<String>,
    /// SQLite: the first segment with `OR FAIL` after its verb (see [`CachedSql::or_fail`]).
    sqlite_head: Option<String>,
    /// PostgreSQL: ` RETURNING id` after the text (see [`cached_insert`]).
    returning_id: bool,
}

/// `sql_query(text)`, prepared once per connection (see the module documentation).
pub fn cached_sql(text: impl AsRef<str>) -> CachedSql {
    let text = text.as_ref();
    let mut segments = vec![String::new()];
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        let digits_follow = c == '$' && chars.peek().is_some_and(|(_, d)| d.is_ascii_digit());
        if !digits_follow {
            if let Some(last) = segments.last_mut() {
                last.push(c);
            }
            continue;
        }
        let mut n = 0usize;
        while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
            n = n * 10 + (d as usize - '0' as usize);
            chars.next();
        }
        debug_assert_eq!(
            n,
            segments.len(),
            "placeholders in order, once each: {text}"
        );
        segments.push(String::new());
    }
    CachedSql {
        segments,
        sqlite_head: None,
        returning_id: false,
    }
}

/// An `INSERT` of one row whose new `id` is wanted, prepared once (see [`cached_sql`]);
/// run it with [`InsertId::insert_id`]. PostgreSQL reads the id with `RETURNING id`.
/// SQLite reads it with `last_insert_rowid()` after the insert, because it runs a
/// `RETURNING` clause as a trigger: that makes the insert a statement that may write
/// several rows and abort half-way, for which SQLite opens a statement journal and
/// copies every page the statement touches into it first (`perf`: 5 % of a bulk
/// ingest's writer for the messages and raw rows). The text must not say `RETURNING`.
/// The id is the inserted row's even when the table's triggers insert rows of their
/// own (SQLite restores `last_insert_rowid()` when a trigger ends).
pub fn cached_insert(text: impl AsRef<str>) -> CachedSql {
    let mut q = cached_sql(text);
    q.returning_id = true;
    q
}

/// The last value bound into a query built on [`cached_sql`]: the segment after it
/// carries the text's end (` RETURNING id` on PostgreSQL for [`cached_insert`]).
fn push_end<DB: Backend + 'static>(text: &CachedSql, at: usize, out: &mut AstPass<'_, '_, DB>) {
    if text.returning_id && at + 1 == text.segments.len() && !is_sqlite::<DB>() {
        out.push_sql(" RETURNING id");
    }
}

fn is_sqlite<DB: 'static>() -> bool {
    std::any::TypeId::of::<DB>() == std::any::TypeId::of::<diesel::sqlite::Sqlite>()
}

/// A query built on `CachedSql`: its text, and how many values are bound so far.
pub trait CachedChain {
    fn text(&self) -> &CachedSql;
    fn bound(&self) -> usize;
}

impl CachedChain for CachedSql {
    fn text(&self) -> &CachedSql {
        self
    }
    fn bound(&self) -> usize {
        0
    }
}

impl<Q: CachedChain, V, ST> CachedChain for CachedBind<Q, V, ST> {
    fn text(&self) -> &CachedSql {
        self.query.text()
    }
    fn bound(&self) -> usize {
        self.query.bound() + 1
    }
}

impl CachedSql {
    /// On SQLite, `INSERT OR FAIL` or `UPDATE OR FAIL` (PostgreSQL has no such clause
    /// and needs none). SQLite opens a statement journal for a write that may change
    /// several rows (a table with triggers: `UPDATE cases`) and may abort half-way (any
    /// `NOT NULL` column), copying every page the statement touches into it so that
    /// the statement alone can be undone. With `OR FAIL` a failing statement keeps what
    /// it wrote before the failure, so no journal is needed. Only for statements whose
    /// failure rolls back the caller's whole transaction or savepoint (every statement
    /// of the ingest); not for one whose error is caught and the transaction goes on.
    /// Two consequences: the statements of the table's triggers run with `OR FAIL` too
    /// (unless a trigger names its own conflict clause), and an I/O error or a full
    /// disk rolls back the whole transaction rather than the statement (the group
    /// writer answers every delivery of its group then). Run it on the engine's own
    /// connection (`Direct::exec`): through `DbConn` diesel writes the text for its
    /// `MultiBackend`, and the clause is left out.
    pub fn or_fail(mut self) -> Self {
        let head = self.segments.first().map_or("", String::as_str);
        let trimmed = head.trim_start();
        for verb in ["INSERT", "UPDATE"] {
            if trimmed.len() > verb.len()
                && trimmed[..verb.len()].eq_ignore_ascii_case(verb)
                && trimmed.as_bytes()[verb.len()].is_ascii_whitespace()
            {
                self.sqlite_head = Some(format!("{verb} OR FAIL{}", &trimmed[verb.len()..]));
            }
        }
        debug_assert!(
            self.sqlite_head.is_some(),
            "or_fail on a text that is no INSERT or UPDATE: {head}"
        );
        self
    }

    /// Binds `$1`, as `SqlQuery::bind`.
    pub fn bind<ST, V>(self, value: V) -> CachedBind<Self, V, ST> {
        CachedBind {
            query: self,
            value,
            _st: PhantomData,
        }
    }
}

/// `CachedSql` with its parameters bound so far.
#[derive(Debug, Clone)]
#[must_use = "Queries are only executed when calling `load`, `get_result` or similar."]
pub struct CachedBind<Q, V, ST> {
    query: Q,
    value: V,
    _st: PhantomData<ST>,
}

impl<Q, V, ST> CachedBind<Q, V, ST> {
    /// Binds the next `$n`.
    pub fn bind<ST2, V2>(self, value: V2) -> CachedBind<Self, V2, ST2> {
        CachedBind {
            query: self,
            value,
            _st: PhantomData,
        }
    }
}

impl<Q, V, ST, DB> QueryFragment<DB> for CachedBind<Q, V, ST>
where
    DB: Backend + HasSqlType<ST> + 'static,
    Q: QueryFragment<DB> + CachedChain,
    V: ToSql<ST, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_bind_param::<ST, V>(&self.value)?;
        let after = self.query.bound() + 1;
        let segment = self.query.text().segments.get(after).ok_or_else(|| {
            diesel::result::Error::QueryBuilderError("more values bound than placeholders".into())
        })?;
        out.push_sql(segment);
        push_end(self.query.text(), after, &mut out);
        Ok(())
    }
}

impl<Q, V, ST> QueryId for CachedBind<Q, V, ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, V, ST> Query for CachedBind<Q, V, ST> {
    type SqlType = Untyped;
}

impl<Q, V, ST, Conn> diesel::RunQueryDsl<Conn> for CachedBind<Q, V, ST> {}

impl<DB> QueryFragment<DB> for CachedSql
where
    DB: Backend + 'static,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        // Unlike `SqlQuery`, not marked unsafe to cache: the text is the cache key.
        let head = match &self.sqlite_head {
            Some(h) if is_sqlite::<DB>() => h.as_str(),
            _ => self.segments.first().map_or("", String::as_str),
        };
        out.push_sql(head);
        push_end(self, 0, &mut out);
        Ok(())
    }
}

/// Runs a query built on [`cached_insert`] (see there): the new row's id, or None when
/// the insert inserted nothing (`ON CONFLICT DO NOTHING`).
pub trait InsertId: Sized {
    fn insert_id<'q>(self, conn: &mut super::DbConn) -> QueryResult<Option<i64>>
    where
        Self: diesel::query_dsl::methods::ExecuteDsl<diesel::SqliteConnection>
            + diesel::RunQueryDsl<diesel::PgConnection>
            + diesel::query_dsl::LoadQuery<'q, diesel::PgConnection, NewId>,
    {
        use diesel::OptionalExtension;
        match conn {
            super::DbConn::Sqlite(c) => {
                let n = diesel::query_dsl::methods::ExecuteDsl::execute(self, c)?;
                if n == 0 {
                    return Ok(None);
                }
                diesel::RunQueryDsl::get_result::<NewId>(
                    cached_sql("SELECT last_insert_rowid() AS id"),
                    c,
                )
                .map(|r| Some(r.id))
            }
            super::DbConn::Pg(c) => diesel::RunQueryDsl::get_result::<NewId>(self, c)
                .optional()
                .map(|r| r.map(|r| r.id)),
        }
    }
}

impl<T: CachedChain> InsertId for T {}

/// The id an insert gave its row.
#[derive(diesel::QueryableByName)]
pub struct NewId {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub id: i64,
}

impl QueryId for CachedSql {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for CachedSql {
    type SqlType = Untyped;
}

impl<Conn> diesel::RunQueryDsl<Conn> for CachedSql {}

/// `column IN (ids)` with the list as one bound value, so that the statement is
/// prepared once per connection: diesel's `eq_any` binds each value, a new text for
/// every length of list, and a statement it never keeps (on the case page, preparing
/// the windowed thread's attachment and HTML lookups cost more than running them).
/// SQLite reads the list with `json_each`, PostgreSQL as an array. `column` is written
/// into the text as given: a fixed `table.column`, never anything from outside.
#[derive(Debug, Clone)]
pub struct IdsIn {
    sql: &'static str,
    column: &'static str,
    list: String,
}

/// `column IN (ids)`, prepared once (see [`IdsIn`]).
///
/// On PostgreSQL a list shorter than the ten elements the planner assumes for an array
/// is planned for its actual ids at every run (50–65 µs). Padding it would give the
/// statement its generic plan once, but that plan, made while a table is small, is a
/// whole scan, kept while the table grows until the next ANALYZE; a plan made at each
/// run follows the table's size (BENCHMARKS.md, session 26).
pub fn ids_in(conn: &super::DbConn, column: &'static str, ids: &[i64]) -> IdsIn {
    use std::fmt::Write;
    let sqlite = super::is_sqlite(conn);
    let mut list = String::with_capacity(ids.len() * 8 + 2);
    list.push(if sqlite { '[' } else { '{' });
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        let _ = write!(list, "{id}");
    }
    list.push(if sqlite { ']' } else { '}' });
    IdsIn {
        sql: if sqlite {
            " IN (SELECT value FROM json_each("
        } else {
            " = ANY(CAST("
        },
        column,
        list,
    }
}

impl diesel::expression::Expression for IdsIn {
    type SqlType = diesel::sql_types::Bool;
}

impl<QS> diesel::expression::AppearsOnTable<QS> for IdsIn {}

impl<QS> diesel::expression::SelectableExpression<QS> for IdsIn {}

impl<GB> diesel::expression::ValidGrouping<GB> for IdsIn {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl QueryId for IdsIn {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB> QueryFragment<DB> for IdsIn
where
    DB: Backend + HasSqlType<diesel::sql_types::Text>,
    String: ToSql<diesel::sql_types::Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.column);
        out.push_sql(self.sql);
        out.push_bind_param::<diesel::sql_types::Text, String>(&self.list)?;
        out.push_sql(if self.sql.starts_with(" IN") {
            "))"
        } else {
            " AS BIGINT[]))"
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Text};

    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        name: String,
    }

    #[test]
    fn binds_in_order_and_keeps_its_statement() {
        let mut c = SqliteConnection::establish(":memory:").unwrap();
        c.batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            .unwrap();
        for (id, name) in [(1_i64, "a"), (2, "b")] {
            cached_sql("INSERT INTO t (id, name) VALUES ($1, $2)")
                .bind::<BigInt, _>(id)
                .bind::<Text, _>(name)
                .execute(&mut c)
                .unwrap();
        }
        let q = || cached_sql("SELECT name FROM t WHERE id = $1").bind::<BigInt, _>(2_i64);
        assert!(q()
            .is_safe_to_cache_prepared(&diesel::sqlite::Sqlite)
            .unwrap());
        assert!(!diesel::sql_query("SELECT 1")
            .is_safe_to_cache_prepared(&diesel::sqlite::Sqlite)
            .unwrap());
        let rows: Vec<Row> = q().load(&mut c).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "b");
        // Values land where their placeholders are, whatever the text around them.
        let rows: Vec<Row> =
            cached_sql("SELECT name || $1 AS name FROM t WHERE id > $2 AND name <> $3 ORDER BY id")
                .bind::<Text, _>("!")
                .bind::<BigInt, _>(0_i64)
                .bind::<Text, _>("a")
                .load(&mut c)
                .unwrap();
        assert_eq!(
            rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["b!"]
        );
        // One value too many is an error, not a statement with a value missing.
        assert!(cached_sql("SELECT name FROM t WHERE id = $1")
            .bind::<BigInt, _>(1_i64)
            .bind::<BigInt, _>(2_i64)
            .load::<Row>(&mut c)
            .is_err());
    }

    /// `cached_insert` gives the new row's id (a table with a trigger, whose id is not
    /// the last one a statement of the trigger inserted), None when `DO NOTHING` took
    /// the conflict; `or_fail` writes `OR FAIL` for SQLite only, `RETURNING id` goes to
    /// PostgreSQL only.
    #[test]
    fn inserts_give_their_id_and_or_fail_is_sqlite_only() {
        let mut c = crate::db::DbConn::Sqlite(SqliteConnection::establish(":memory:").unwrap());
        c.batch_execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE); \
             CREATE TABLE log (id INTEGER PRIMARY KEY, what TEXT NOT NULL); \
             INSERT INTO log (id, what) VALUES (100, 'start'); \
             CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN \
               INSERT INTO log (what) VALUES (NEW.name); END;",
        )
        .unwrap();
        let insert = |c: &mut crate::db::DbConn, name: &str| {
            cached_insert("INSERT INTO t (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
                .bind::<Text, _>(name.to_string())
                .insert_id(c)
                .unwrap()
        };
        assert_eq!(insert(&mut c, "a"), Some(1));
        assert_eq!(insert(&mut c, "b"), Some(2));
        assert_eq!(insert(&mut c, "a"), None, "the conflict inserted nothing");
        let rows: i64 = t::table.count().get_result(&mut c).unwrap();
        assert_eq!(rows, 2);
        // The id is the row's, whatever AUTOINCREMENT made of the conflict.
        let c_id = insert(&mut c, "c").unwrap();
        let stored: i64 = t::table
            .filter(t::name.eq("c"))
            .select(t::id)
            .first(&mut c)
            .unwrap();
        assert_eq!(c_id, stored);
        assert!(c_id > 2);
        let logged: i64 = diesel::dsl::sql::<BigInt>("SELECT max(id) FROM log")
            .get_result(&mut c)
            .unwrap();
        assert!(
            logged > 100 && logged != c_id,
            "the trigger's row has its own id"
        );
        let update = || {
            cached_sql("UPDATE t SET name = $1 WHERE id = $2")
                .or_fail()
                .bind::<Text, _>("z")
                .bind::<BigInt, _>(c_id)
        };
        assert_eq!(crate::db::Direct::exec(update(), &mut c).unwrap(), 1);
        let name: String = t::table.find(c_id).select(t::name).first(&mut c).unwrap();
        assert_eq!(name, "z");
        let sqlite = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&update()).to_string();
        let pg = diesel::debug_query::<diesel::pg::Pg, _>(&update()).to_string();
        assert!(
            sqlite.starts_with("UPDATE OR FAIL t SET name = ?"),
            "{sqlite}"
        );
        assert!(pg.starts_with("UPDATE t SET name = $1"), "{pg}");
        let ins = || cached_insert("INSERT INTO t (name) VALUES ($1)").bind::<Text, _>("q");
        let sqlite = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&ins()).to_string();
        let pg = diesel::debug_query::<diesel::pg::Pg, _>(&ins()).to_string();
        assert!(!sqlite.contains("RETURNING"), "{sqlite}");
        assert!(pg.contains("VALUES ($1) RETURNING id"), "{pg}");
    }

    diesel::table! {
        t (id) {
            id -> BigInt,
            name -> Text,
        }
    }

    #[test]
    fn ids_in_reads_its_list_as_one_value_and_keeps_its_statement() {
        let mut c = crate::db::DbConn::Sqlite(SqliteConnection::establish(":memory:").unwrap());
        c.batch_execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL); \
             INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');",
        )
        .unwrap();
        let names = |c: &mut crate::db::DbConn, ids: &[i64]| -> Vec<String> {
            let q = ids_in(c, "t.id", ids);
            t::table
                .filter(q)
                .order(t::id)
                .select(t::name)
                .load(c)
                .unwrap()
        };
        assert_eq!(names(&mut c, &[3, 1, 9]), ["a", "c"]);
        assert_eq!(names(&mut c, &[2]), ["b"]);
        assert!(names(&mut c, &[]).is_empty());
        // The same text whatever the list, kept; `eq_any` is prepared at every run.
        let sqlite = diesel::sqlite::Sqlite;
        let kept = |ids: &[i64]| {
            let q = t::table.filter(ids_in(&c, "t.id", ids)).select(t::name);
            let text = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&q).to_string();
            let text = text
                .split(" -- binds")
                .next()
                .unwrap_or_default()
                .to_string();
            let safe =
                QueryFragment::<diesel::sqlite::Sqlite>::is_safe_to_cache_prepared(&q, &sqlite);
            (safe.unwrap(), text)
        };
        assert_eq!(kept(&[1]), kept(&[1, 2, 3]));
        assert!(kept(&[1]).0);
        let any = t::table.filter(t::id.eq_any([1_i64, 2]));
        assert!(
            !QueryFragment::<diesel::sqlite::Sqlite>::is_safe_to_cache_prepared(&any, &sqlite)
                .unwrap()
        );
    }
}
