//! What each SQLite statement costs: virtual-machine steps, full-scan steps, sorts and
//! rows returned, per statement, collected on the thread that ran it.
//!
//! Off unless [`install`] was called; then every SQLite connection opened afterwards in
//! this process reports through `sqlite3_trace_v2`. The cost tests (`tests/cost.rs`)
//! use it to prove that a page's queries do not read more as the database grows: a
//! virtual-machine step is the unit of work SQLite does per row it visits, so a query
//! that walks an index range it then filters shows up however fast the machine is.

use libsqlite3_sys as ffi;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};

/// One finished run of one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementCost {
    /// The SQL as prepared (bound values are not included).
    pub sql: String,
    /// Virtual-machine steps: grows with every row the statement visits.
    pub steps: i64,
    /// Steps of full table or index scans.
    pub full_scan_steps: i64,
    /// Sorts the statement needed (ORDER BY without a matching index).
    pub sorts: i64,
    /// Rows it returned.
    pub rows: i64,
    /// Times SQLite prepared the statement again before running it: a bound value that
    /// the plan depends on changed (a LIKE pattern, or a value compared with a partial
    /// index's condition). Re-preparing is parsing and planning the SQL anew, every time.
    pub reprepares: i64,
}

thread_local! {
    static ROWS: RefCell<HashMap<usize, i64>> = RefCell::new(HashMap::new());
    static DONE: RefCell<Vec<StatementCost>> = const { RefCell::new(Vec::new()) };
}

/// The `sqlite3_trace_v2` callback: counts rows, and records the statement when it ends.
unsafe extern "C" fn trace(
    kind: c_uint,
    _ctx: *mut c_void,
    p: *mut c_void,
    _x: *mut c_void,
) -> c_int {
    let stmt = p as *mut ffi::sqlite3_stmt;
    if kind == ffi::SQLITE_TRACE_ROW as c_uint {
        ROWS.with(|r| *r.borrow_mut().entry(stmt as usize).or_default() += 1);
    } else if kind == ffi::SQLITE_TRACE_PROFILE as c_uint {
        // SAFETY: SQLite passes the statement that just finished; it is valid during the
        // callback, and `sqlite3_sql` returns a NUL-terminated string it owns (or null).
        let (steps, full, sorts, reprepares, sql) = unsafe {
            let status = |op| i64::from(ffi::sqlite3_stmt_status(stmt, op, 1));
            let text = ffi::sqlite3_sql(stmt);
            let sql = if text.is_null() {
                String::new()
            } else {
                CStr::from_ptr(text).to_string_lossy().into_owned()
            };
            (
                status(ffi::SQLITE_STMTSTATUS_VM_STEP),
                status(ffi::SQLITE_STMTSTATUS_FULLSCAN_STEP),
                status(ffi::SQLITE_STMTSTATUS_SORT),
                status(ffi::SQLITE_STMTSTATUS_REPREPARE),
                sql,
            )
        };
        let rows = ROWS.with(|r| r.borrow_mut().remove(&(stmt as usize)).unwrap_or(0));
        DONE.with(|d| {
            d.borrow_mut().push(StatementCost {
                sql,
                steps,
                full_scan_steps: full,
                sorts,
                rows,
                reprepares,
            })
        });
    }
    0
}

/// Runs for every connection opened after [`install`]: turns the trace on.
unsafe extern "C" fn on_open(
    db: *mut ffi::sqlite3,
    _err: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: `db` is the connection being opened; the callback is a plain function.
    unsafe {
        ffi::sqlite3_trace_v2(
            db,
            (ffi::SQLITE_TRACE_ROW | ffi::SQLITE_TRACE_PROFILE) as c_uint,
            Some(trace),
            std::ptr::null_mut(),
        );
    }
    ffi::SQLITE_OK
}

/// Reports the cost of every statement run on SQLite connections opened from now on.
pub fn install() {
    // Registering an extension initialises SQLite: its global settings go first.
    super::sqlite_global_config();
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: `on_open` has the entry-point signature SQLite calls it with.
    ONCE.call_once(|| unsafe {
        ffi::sqlite3_auto_extension(Some(on_open));
    });
}

/// The statements this thread finished since the last call, oldest first.
pub fn take() -> Vec<StatementCost> {
    DONE.with(|d| std::mem::take(&mut *d.borrow_mut()))
}
