//! Storage: one connection type over SQLite (embedded default) and PostgreSQL.

mod cached;
pub mod cost;
mod direct;
pub mod reader;
pub mod schema;
pub mod stamp;
pub mod wal;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, CustomizeConnection, ManageConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::time::Duration;

pub use cached::{cached_insert, cached_sql, ids_in, CachedSql, IdsIn, InsertId};
pub use direct::Direct;
pub use stamp::Stamp;

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConn = r2d2::PooledConnection<Manager>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::PoolError),
    #[error("migration failed: {0}")]
    Migrate(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// Picks the engine from the URL scheme and reports the engine's own connect error.
#[derive(Debug, Clone)]
pub struct Manager {
    url: String,
}

impl Manager {
    pub fn new(url: &str) -> Self {
        Manager {
            url: url.to_string(),
        }
    }
}

pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// Process-wide SQLite settings, applied once before the first SQLite connection opens
/// (`sqlite3_config` is refused after SQLite initialised itself).
///
/// - Memory statistics are off: with them on, every allocation SQLite makes takes one
///   process-wide mutex, and connections working at once serialise on it (profiled on
///   the case page: a third of the server's time went to waking threads queued on that
///   lock). Casebook never reads the statistics.
/// - Every connection gets the query planner stability guarantee (QPSG): a plan never
///   depends on a bound value. Without it, SQLite 3.50 marks any statement with a bound
///   `LIMIT ?` (every diesel query with `.limit()`) to be parsed and planned again each
///   time a value is bound: 15 % of the case page's time. The price is that a partial
///   index or a LIKE prefix is used only when the query spells the condition as SQL
///   text, as `cases::list` and `people::senders` do (`tests/cost.rs` checks it).
/// - Statement and savepoint journals (the pages a statement or a savepoint may have
///   to put back) stay in memory, never written to a temporary file. SQLite writes
///   them to a file past 64 KiB by default: a bulk ingest spent 17 % of its time
///   writing that file (each message's savepoint touched more than 64 KiB of pages),
///   and live delivery runs 15–20 % slower with it. Sessions 12–17 raised the limit to
///   16 MiB, but with any limit above 64 KiB a statement whose journal outgrew it
///   failed with "database or disk is full" (the bundled SQLite 3.50; a migration's
///   `UPDATE` of 30,000 escalations at 1,000,000 messages): see
///   `tests::a_statement_larger_than_the_in_memory_journal_commits`. In memory, a
///   statement's journal holds the pages it changes: a migration must change a large
///   table in batches, not in one statement.
pub(crate) fn sqlite_global_config() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use libsqlite3_sys as ffi;
        // SAFETY: called before any connection is opened in this process (or refused
        // by SQLite with SQLITE_MISUSE, which changes nothing); the option takes one
        // int. `stable_plans` has the entry-point signature SQLite calls it with.
        unsafe {
            let rc = ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int);
            if rc != ffi::SQLITE_OK {
                tracing::debug!(rc, "SQLite memory statistics stay on (already initialised)");
            }
            let rc = ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_STMTJRNL_SPILL,
                STATEMENT_JOURNAL_IN_MEMORY as std::ffi::c_int,
            );
            if rc != ffi::SQLITE_OK {
                tracing::debug!(rc, "SQLite statement journals spill at the default size");
            }
            ffi::sqlite3_auto_extension(Some(stable_plans));
        }
    });
}

/// Bytes of a statement or savepoint journal kept in memory before it goes to a file;
/// -1: all of it.
const STATEMENT_JOURNAL_IN_MEMORY: i32 = -1;

/// Runs for every SQLite connection this process opens: turns QPSG on (see above).
unsafe extern "C" fn stable_plans(
    db: *mut libsqlite3_sys::sqlite3,
    _err: *mut *mut std::ffi::c_char,
    _api: *const libsqlite3_sys::sqlite3_api_routines,
) -> std::ffi::c_int {
    // SAFETY: `db` is the connection being opened; the option takes an int and a
    // nullable int pointer.
    unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::ffi::c_int,
            std::ptr::null_mut::<std::ffi::c_int>(),
        );
    }
    libsqlite3_sys::SQLITE_OK
}

pub fn establish(url: &str) -> Result<DbConn, DbError> {
    if is_postgres_url(url) {
        diesel::PgConnection::establish(url)
            .map(DbConn::Pg)
            .map_err(|e| DbError::Connect(e.to_string()))
    } else {
        sqlite_global_config();
        let mut c = diesel::SqliteConnection::establish(sqlite_path(url))
            .map_err(|e| DbError::Connect(e.to_string()))?;
        sqlite_pragmas(&mut c).map_err(|e| DbError::Connect(e.to_string()))?;
        Ok(DbConn::Sqlite(c))
    }
}

/// MiB of the database file each SQLite connection may memory-map (`--sqlite-mmap-mb`).
static SQLITE_MMAP_MB: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(65536);

pub fn set_sqlite_mmap_mb(mb: u64) {
    SQLITE_MMAP_MB.store(mb, std::sync::atomic::Ordering::Relaxed);
}

/// Every SQLite connection: wait for the write lock, WAL, foreign keys, and the file
/// memory-mapped (`--sqlite-mmap-mb`, 64 GiB by default; the compile-time cap is raised
/// in `.cargo/config.toml`): reads are memory accesses into the page cache, not `pread`
/// copies into each connection's own cache. Writes still go through the WAL.
fn sqlite_pragmas(c: &mut diesel::SqliteConnection) -> QueryResult<()> {
    let mmap = SQLITE_MMAP_MB
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_mul(1024 * 1024);
    c.batch_execute(&format!(
        "PRAGMA busy_timeout=15000; PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; \
         PRAGMA synchronous=NORMAL; PRAGMA mmap_size={mmap};"
    ))?;
    crate::search::register_functions(c)
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        if is_postgres_url(&self.url) {
            diesel::PgConnection::establish(&self.url)
                .map(DbConn::Pg)
                .map_err(r2d2::Error::ConnectionError)
        } else {
            sqlite_global_config();
            diesel::SqliteConnection::establish(sqlite_path(&self.url))
                .map(DbConn::Sqlite)
                .map_err(r2d2::Error::ConnectionError)
        }
    }

    fn is_valid(&self, c: &mut DbConn) -> Result<(), r2d2::Error> {
        c.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    /// Broken when it comes back still inside a transaction (its holder panicked
    /// mid-way: closing it rolls that back, where reusing it would leave the write lock
    /// held) or with its transaction state lost (a failed rollback), or when a query on
    /// it failed while it was out and it no longer answers. A connection whose queries
    /// all succeeded is not asked: "SELECT 1" at every return was a round trip per
    /// checkout on PostgreSQL, two of a case page's 29 statements.
    fn has_broken(&self, c: &mut DbConn) -> bool {
        let failed = take_failed(c);
        transaction_open(c).unwrap_or(true) || (failed && c.batch_execute("SELECT 1").is_err())
    }
}

/// Whether a query on `c` failed since this was last asked (its `SlowQueryLog` notes
/// it); true for a connection without one, which is then asked whether it lives.
fn take_failed(c: &mut DbConn) -> bool {
    let log = match c {
        DbConn::Sqlite(s) => s.instrumentation(),
        DbConn::Pg(p) => p.instrumentation(),
    };
    log.downcast_mut::<SlowQueryLog>()
        .is_none_or(|l| std::mem::take(&mut l.failed))
}

#[derive(Debug)]
struct Pragmas;

impl CustomizeConnection<DbConn, r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        if let DbConn::Sqlite(s) = conn {
            sqlite_pragmas(s).map_err(r2d2::Error::QueryError)?;
        }
        instrument(conn);
        Ok(())
    }
}

/// Slow queries logged (`SlowQueryLog`), as on every pooled connection.
fn instrument(conn: &mut DbConn) {
    match conn {
        DbConn::Sqlite(s) => s.set_instrumentation(SlowQueryLog::default()),
        DbConn::Pg(p) => p.set_instrumentation(SlowQueryLog::default()),
    }
}

/// A connection outside the pool, set up as the pool's are.
fn open_instrumented(url: &str) -> Result<DbConn, DbError> {
    let mut c = establish(url)?;
    instrument(&mut c);
    Ok(c)
}

/// Queries slower than this many milliseconds are logged (0: every query); see
/// `--slow-query-ms`. Set once at start.
static SLOW_QUERY_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(250);

pub fn set_slow_query_ms(ms: u64) {
    SLOW_QUERY_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
}

/// Logs slow queries (SQL text only, never the bound values) with their duration, and
/// notes that one failed for `Manager::has_broken`.
#[derive(Default)]
struct SlowQueryLog {
    started: Option<std::time::Instant>,
    /// A query failed since `take_failed` last asked.
    failed: bool,
}

impl diesel::connection::Instrumentation for SlowQueryLog {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        use diesel::connection::InstrumentationEvent as E;
        match event {
            E::StartQuery { .. } => self.started = Some(std::time::Instant::now()),
            E::FinishQuery { query, error, .. } => {
                if error.is_some() {
                    self.failed = true;
                }
                let Some(t) = self.started.take() else { return };
                let elapsed = t.elapsed();
                let limit = SLOW_QUERY_MS.load(std::sync::atomic::Ordering::Relaxed);
                if elapsed.as_millis() as u64 >= limit {
                    // Display ends with the bound values ("-- binds: [...]"): never log them.
                    let sql = query.to_string();
                    let sql = sql.split(" -- binds:").next().unwrap_or_default();
                    let sql = slow_sql_excerpt(sql);
                    tracing::warn!(
                        target: "casebook::db::slow",
                        ms = elapsed.as_secs_f64() * 1000.0,
                        sql = %sql,
                        "slow query"
                    );
                }
            }
            _ => {}
        }
    }
}

/// What the slow-query log shows of a statement: at most 400 characters, a long
/// column list cut short so that the tables and the conditions show.
fn slow_sql_excerpt(sql: &str) -> String {
    let sql = match sql.find(" FROM ") {
        Some(from) if from > 120 => {
            let head: String = sql.chars().take(60).collect();
            format!("{head} … {}", &sql[from + 1..])
        }
        _ => sql.to_string(),
    };
    sql.chars().take(400).collect()
}

pub fn migrate(conn: &mut DbConn) -> Result<usize, DbError> {
    let applied = match conn {
        DbConn::Sqlite(s) => s
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.len())
            .map_err(|e| DbError::Migrate(e.to_string()))?,
        DbConn::Pg(p) => p
            .run_pending_migrations(PG_MIGRATIONS)
            .map(|v| v.len())
            .map_err(|e| DbError::Migrate(e.to_string()))?,
    };
    Ok(applied)
}

/// Opens the database, applies pending migrations and returns a pool.
pub fn connect_and_migrate(url: &str, max_size: u32) -> Result<Pool, DbError> {
    let mut c = establish(url)?;
    migrate(&mut c)?;
    drop(c);
    let size = if is_postgres_url(url) {
        max_size
    } else {
        max_size.max(2)
    };
    r2d2::Pool::builder()
        .max_size(size)
        .connection_timeout(Duration::from_secs(30))
        // No "SELECT 1" before every checkout: a broken connection shows in its first
        // query and `has_broken` drops it when it comes back.
        .test_on_check_out(false)
        .connection_customizer(Box::new(Pragmas))
        .build(Manager::new(url))
        .map_err(|e| DbError::Connect(e.to_string()))
}

pub fn is_sqlite(conn: &DbConn) -> bool {
    matches!(conn, DbConn::Sqlite(_))
}

/// Runs `f` in a write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, so
/// two writers queue on the busy timeout instead of failing with "database is locked".
pub fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::TransactionManager;
    // Inside a caller's transaction (a batch), nest with a savepoint.
    let depth = <DbConn as Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .ok()
        .flatten();
    if depth.is_some() {
        return conn.transaction(f);
    }
    match conn {
        DbConn::Sqlite(_) => sqlite_tx(conn, "BEGIN IMMEDIATE", f),
        DbConn::Pg(_) => conn.transaction(f),
    }
}

/// Runs `f` in a SQLite transaction opened with `begin` (`BEGIN IMMEDIATE` for writes,
/// `BEGIN DEFERRED` for reads): committed when it succeeds, rolled back when it fails.
fn sqlite_tx<T, E, F>(conn: &mut DbConn, begin: &str, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    if let DbConn::Sqlite(inner) = conn {
        AnsiTransactionManager::begin_transaction_sql(inner, begin)?;
    }
    match f(conn) {
        Ok(v) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(v)
        }
        Err(e) => {
            <DbConn as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// Runs `f`, which only reads, for a page built from many queries. On SQLite its
/// queries share one read transaction, so the page shows one moment (never half of a
/// merge or of a reply) and the WAL's read lock is taken once, not per statement.
/// PostgreSQL runs `f` as it is, each statement on the latest committed data: a
/// `REPEATABLE READ` transaction there costs two more round trips, which took 8 % of
/// the case page's throughput (BENCHMARKS.md, session 25). Inside a caller's
/// transaction, `f` runs in it. `f` must not write: a write in a read transaction
/// fails on SQLite when another writer came first (use `write_tx`).
pub fn read_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    if !is_sqlite(conn) || transaction_open(conn).unwrap_or(true) {
        return f(conn);
    }
    sqlite_tx(conn, "BEGIN DEFERRED", f)
}

/// Whether `conn` is inside a transaction (a batch, or a caller's `write_tx`).
pub fn in_transaction(conn: &mut DbConn) -> bool {
    transaction_open(conn).unwrap_or(false)
}

/// Whether `conn` is inside a transaction; `None` when its transaction state was lost
/// (a rollback that failed).
fn transaction_open(conn: &mut DbConn) -> Option<bool> {
    use diesel::connection::TransactionManager;
    <DbConn as Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .ok()
        .map(|d| d.is_some())
}

/// Whether `e` is a conflict with a concurrent transaction that filing again resolves:
/// PostgreSQL's "deadlock detected" (40P01), a serialization failure, or a unique key
/// another transaction committed meanwhile (a new case's random tracking token, drawn
/// by two writers at once: the second insert waits for the first's commit, and its
/// retry reads the committed row).
pub fn is_conflict(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(
            DatabaseErrorKind::SerializationFailure | DatabaseErrorKind::UniqueViolation,
            _,
        ) => true,
        Error::DatabaseError(_, info) => info.message().contains("deadlock detected"),
        _ => false,
    }
}

/// A connection that does bulk ingest: on SQLite a 64 MiB page cache (the default
/// 2 MiB makes every index insert read from disk once the database outgrows it).
pub fn tune_for_bulk(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Sqlite(c) => c.batch_execute("PRAGMA cache_size=-65536;"),
        DbConn::Pg(_) => Ok(()),
    }
}

/// After a bulk import, PostgreSQL: the planner's statistics brought up to date
/// (`ANALYZE`). Until autovacuum gets to it, a freshly imported database still has the
/// statistics of an empty one, and the planner then joins from the wrong side (the
/// "similar closed cases" panel took 9–20 ms a page instead of 0.15 ms; the case page
/// served 224 instead of 668 pages/s on 4,000 messages). SQLite: nothing; its plans do
/// not depend on collected statistics here (none are kept).
pub fn refresh_statistics(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Sqlite(_) => Ok(()),
        DbConn::Pg(c) => c.batch_execute("ANALYZE"),
    }
}

/// Starts a long write transaction for bulk work (`BEGIN IMMEDIATE` on SQLite);
/// `write_tx` calls inside it nest as savepoints. End with `end_batch`.
pub fn begin_batch(conn: &mut DbConn) -> QueryResult<()> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        DbConn::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")
        }
        DbConn::Pg(_) => <DbConn as Connection>::TransactionManager::begin_transaction(conn),
    }
}

pub fn end_batch(conn: &mut DbConn, commit: bool) -> QueryResult<()> {
    use diesel::connection::TransactionManager;
    if commit {
        <DbConn as Connection>::TransactionManager::commit_transaction(conn)
    } else {
        <DbConn as Connection>::TransactionManager::rollback_transaction(conn)
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;

    /// A statement inside a transaction with a large journal (about 50 MiB of pages:
    /// an `UPDATE` of every row, then a column added and set, as a migration does)
    /// commits. With the statement journal's in-memory limit set anywhere above
    /// 64 KiB (256 KiB, 1, 4 and 16 MiB tried) both failed with "database or disk is
    /// full" once the journal outgrew it.
    #[test]
    fn a_statement_larger_than_the_in_memory_journal_commits() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("casebook.sqlite3");
        let mut conn = super::establish(path.to_str().expect("utf-8 path")).expect("open");
        conn.batch_execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT NOT NULL);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
             INSERT INTO t (id, a) SELECT i, printf('%.500c', 'x') FROM n;",
        )
        .expect("fill");
        conn.batch_execute("BEGIN; UPDATE t SET a = a || 'y' WHERE id > 0; COMMIT;")
            .expect("an update of every row in a transaction");
        conn.batch_execute(
            "BEGIN; ALTER TABLE t ADD COLUMN live BOOLEAN NOT NULL DEFAULT 1;
             UPDATE t SET live = 0 WHERE id % 2 = 0; COMMIT;",
        )
        .expect("a column added and set in a transaction");
    }

    /// On SQLite, the reads of one `read_tx` see one moment: a row another connection
    /// commits between them is not seen until the next `read_tx`; and an error inside
    /// rolls back, leaving the connection out of any transaction.
    #[test]
    fn a_read_transaction_sees_one_moment() {
        use diesel::prelude::*;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("casebook.sqlite3");
        let path = path.to_str().expect("utf-8 path");
        let mut reader = super::establish(path).expect("open");
        let mut writer = super::establish(path).expect("open");
        reader
            .batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);")
            .expect("fill");
        let count = |c: &mut super::DbConn| -> QueryResult<i64> {
            diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM t").get_result(c)
        };
        let (before, after) = super::read_tx(&mut reader, |c| -> QueryResult<(i64, i64)> {
            let before = count(c)?;
            writer
                .batch_execute("INSERT INTO t VALUES (2);")
                .expect("another connection writes meanwhile");
            Ok((before, count(c)?))
        })
        .expect("read");
        assert_eq!((before, after), (1, 1), "one moment inside the read");
        assert!(!super::in_transaction(&mut reader), "committed at the end");
        assert_eq!(
            count(&mut reader).expect("count"),
            2,
            "the write seen after it"
        );
        let failed = super::read_tx(&mut reader, |c| -> QueryResult<i64> {
            count(c)?;
            Err(diesel::result::Error::NotFound)
        });
        assert!(failed.is_err());
        assert!(
            !super::in_transaction(&mut reader),
            "rolled back after an error"
        );
        writer
            .batch_execute("INSERT INTO t VALUES (3);")
            .expect("the reader holds no lock after an error");
    }

    /// A statement with a long column list shows its tables and conditions in the
    /// slow-query log; a short one shows whole; neither passes 400 characters.
    #[test]
    fn slow_query_excerpt_keeps_the_tables_and_conditions() {
        let cols: Vec<String> = (0..40).map(|i| format!("`cases`.`column_{i}`")).collect();
        let long = format!(
            "SELECT {} FROM `cases` WHERE `cases`.`merged_into` IS NULL LIMIT ?",
            cols.join(", ")
        );
        let e = super::slow_sql_excerpt(&long);
        assert!(e.starts_with("SELECT `cases`.`column_0`"), "{e}");
        assert!(
            e.contains("FROM `cases` WHERE `cases`.`merged_into` IS NULL"),
            "{e}"
        );
        let short = "SELECT id FROM cases WHERE id = ?";
        assert_eq!(super::slow_sql_excerpt(short), short);
        let huge = format!("SELECT a FROM t WHERE {}", "x = 1 AND ".repeat(100));
        assert_eq!(super::slow_sql_excerpt(&huge).chars().count(), 400);
    }
}
