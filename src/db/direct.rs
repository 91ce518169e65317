//! Queries run on the engine's own connection instead of through `DbConn`.
//!
//! `DbConn` is diesel's `MultiConnection`: it wraps every query in a `SerializedQuery`
//! whose `walk_ast` writes the query's whole SQL text in each of diesel's passes over it
//! (is the statement cacheable, which statement is it, collect its binds), so every run
//! of every query writes its text two or three times, keyed statement or not. On the
//! bulk ingest writer that was 39 % of its time (`perf`, 40,000 messages), more than
//! SQLite's own work on some paths. On the engine's connection (`SqliteConnection`,
//! `PgConnection`) a query whose type fixes its text finds its prepared statement by
//! type and binds its values without writing any text.
//!
//! `query.exec(conn)`, `.rows(conn)`, `.row(conn)` and `.first_row(conn)` are
//! `execute`, `load`, `get_result` and `first` run that way. The query must be one both
//! engines can run: the same bounds `DbConn` asks, per engine. Results, errors,
//! transactions (the engine's own, which `DbConn` delegates to) and the slow-query log
//! (set on the engine's connection) are the same.

use super::DbConn;
use diesel::dsl::Limit;
use diesel::query_dsl::methods::{ExecuteDsl, LimitDsl};
use diesel::query_dsl::LoadQuery;
use diesel::{PgConnection, QueryResult, RunQueryDsl, SqliteConnection};

/// See the module documentation.
pub trait Direct: Sized {
    /// `execute` on the engine's connection.
    fn exec(self, conn: &mut DbConn) -> QueryResult<usize>
    where
        Self: ExecuteDsl<SqliteConnection> + ExecuteDsl<PgConnection>,
    {
        match conn {
            DbConn::Sqlite(c) => ExecuteDsl::<SqliteConnection>::execute(self, c),
            DbConn::Pg(c) => ExecuteDsl::<PgConnection>::execute(self, c),
        }
    }

    /// `load` on the engine's connection.
    fn rows<'q, U>(self, conn: &mut DbConn) -> QueryResult<Vec<U>>
    where
        Self: RunQueryDsl<SqliteConnection>
            + RunQueryDsl<PgConnection>
            + LoadQuery<'q, SqliteConnection, U>
            + LoadQuery<'q, PgConnection, U>,
    {
        match conn {
            DbConn::Sqlite(c) => RunQueryDsl::<SqliteConnection>::load(self, c),
            DbConn::Pg(c) => RunQueryDsl::<PgConnection>::load(self, c),
        }
    }

    /// `get_result` on the engine's connection (`NotFound` without a row).
    fn row<'q, U>(self, conn: &mut DbConn) -> QueryResult<U>
    where
        Self: RunQueryDsl<SqliteConnection>
            + RunQueryDsl<PgConnection>
            + LoadQuery<'q, SqliteConnection, U>
            + LoadQuery<'q, PgConnection, U>,
    {
        match conn {
            DbConn::Sqlite(c) => RunQueryDsl::<SqliteConnection>::get_result(self, c),
            DbConn::Pg(c) => RunQueryDsl::<PgConnection>::get_result(self, c),
        }
    }

    /// `first` on the engine's connection (`NotFound` without a row).
    fn first_row<'q, U>(self, conn: &mut DbConn) -> QueryResult<U>
    where
        Self: LimitDsl,
        Limit<Self>: RunQueryDsl<SqliteConnection>
            + RunQueryDsl<PgConnection>
            + LoadQuery<'q, SqliteConnection, U>
            + LoadQuery<'q, PgConnection, U>,
    {
        self.limit(1).row(conn)
    }
}

impl<T> Direct for T {}

/// `body` run with `c` bound to the engine's own connection of `conn` (see the module
/// documentation), for queries whose type names the engine: `as_select()` (a
/// `SelectBy<T, DB>`) and boxed queries. The body is compiled once per engine.
#[macro_export]
macro_rules! on_engine {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite($c) => $body,
            $crate::db::DbConn::Pg($c) => $body,
        }
    };
}
