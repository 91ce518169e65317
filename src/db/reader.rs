//! Each thread's own read connection to an SQLite database, for reads that run in
//! place on the web server's workers (`web::read`).
//!
//! Why a connection of its own instead of one from the pool: a worker must never wait
//! for a pooled connection (eight long imports would stall every page it serves), and
//! SQLite in WAL mode lets a reader start at any time, beside any writer.

use super::{DbConn, DbError};
use std::cell::RefCell;

thread_local! {
    /// The database it reads (a process may hold servers on two databases: the tests)
    /// and the connection.
    static READER: RefCell<Option<(String, DbConn)>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread's read connection to the SQLite database at `url`, opening
/// it the first time. `f` must only read: a write would wait for the write lock on the
/// calling thread.
///
/// The connection is taken out while `f` runs and put back only when `f` left no
/// transaction open, so a read that failed half-way (or panicked) can never leave the
/// next one on an old snapshot: the next call opens a fresh connection instead.
pub fn with_reader<T>(url: &str, f: impl FnOnce(&mut DbConn) -> T) -> Result<T, DbError> {
    let kept = READER.with(|r| r.borrow_mut().take());
    let (url, mut conn) = match kept {
        Some((u, c)) if u == url => (u, c),
        _ => (url.to_string(), super::open_instrumented(url)?),
    };
    let out = f(&mut conn);
    if super::transaction_open(&mut conn) == Some(false) {
        READER.with(|r| *r.borrow_mut() = Some((url, conn)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;

    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    fn count(c: &mut DbConn) -> i64 {
        crate::on_engine!(c, |c| diesel::sql_query("SELECT count(*) AS n FROM t")
            .get_result::<N>(c)
            .map(|r| r.n))
        .unwrap_or(-1)
    }

    #[test]
    fn a_read_left_in_a_transaction_is_not_reused_and_later_reads_see_new_commits() {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("r.sqlite3").display().to_string();
        let mut w = super::super::establish(&url).unwrap();
        w.batch_execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
        assert_eq!(with_reader(&url, count).unwrap(), 1);
        // A read that ends inside its transaction (as one whose rollback failed would):
        // its snapshot holds one row.
        with_reader(&url, |c| {
            use diesel::connection::AnsiTransactionManager;
            let DbConn::Sqlite(inner) = c else {
                unreachable!("an SQLite url")
            };
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN DEFERRED").unwrap();
            assert_eq!(count(c), 1);
        })
        .unwrap();
        w.batch_execute("INSERT INTO t VALUES (2);").unwrap();
        // A reused connection would still be inside that transaction and see one row.
        assert_eq!(with_reader(&url, count).unwrap(), 2);
        w.batch_execute("INSERT INTO t VALUES (3);").unwrap();
        assert_eq!(with_reader(&url, count).unwrap(), 3);
    }
}
