//! The whole ingest of one input (store raw, parse, duplicate check, threading, case,
//! message, attachments, bundle records, facts, events) into an in-memory SQLite
//! database with the real migrations and a support and an R&D account. Each input
//! runs in a batch transaction that is rolled back, so runs stay independent.

#![no_main]

use casebook::auth::users::{self, Role};
use casebook::config::Settings;
use casebook::db::{self, DbConn};
use casebook::mail::{self, Rules, Staff};
use casebook::storage::{sha256_hex, BlobStore, StorageError};
use libfuzzer_sys::fuzz_target;
use std::sync::Mutex;
use std::sync::OnceLock;

/// Blobs are content-addressed; the ingest only puts them.
struct NullStore;

impl BlobStore for NullStore {
    fn put(&self, bytes: &[u8]) -> Result<String, StorageError> {
        Ok(sha256_hex(bytes))
    }
    fn get(&self, _sha256: &str) -> Result<Vec<u8>, StorageError> {
        Err(StorageError::BadName)
    }
    fn exists(&self, _sha256: &str) -> bool {
        false
    }
}

struct World {
    conn: DbConn,
    rules: Rules,
    staff: Staff,
}

fn world() -> &'static Mutex<World> {
    static W: OnceLock<Mutex<World>> = OnceLock::new();
    W.get_or_init(|| {
        let mut conn = db::establish(":memory:").expect("in-memory SQLite");
        db::migrate(&mut conn).expect("migrations");
        for (email, name, role, alias) in [
            ("wang@example.com", "Wang Binbin", Role::Support, "Binbin"),
            ("li@example.com", "Li Lei", Role::Rnd, "Lei"),
        ] {
            users::create(
                &mut conn,
                email,
                name,
                role,
                &[alias.to_string()],
                "fuzzing-password-1234",
            )
            .expect("staff account");
        }
        let mut s = Settings::for_data_dir("/nonexistent".into());
        s.staff_domains = vec!["example.com".into()];
        let rules = Rules::from_settings(&s).expect("default rules");
        let staff = Staff::load(&mut conn).expect("staff");
        Mutex::new(World { conn, rules, staff })
    })
}

fuzz_target!(|data: &[u8]| {
    let mut w = world().lock().unwrap_or_else(|e| e.into_inner());
    let World { conn, rules, staff } = &mut *w;
    db::begin_batch(conn).expect("begin");
    let result = mail::ingest_input_with(conn, &NullStore, rules, staff, data, "fuzz");
    db::end_batch(conn, false).expect("rollback");
    if let Err(e) = result {
        // Database errors on hostile input are bugs too (constraint violations, ...).
        panic!("ingest failed: {e}");
    }
});
