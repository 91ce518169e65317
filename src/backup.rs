//! `casebook backup` / `casebook restore`: a consistent copy while the server runs.
//! The database is snapshotted first (SQLite `VACUUM INTO`, one read transaction), then
//! the stored files are copied: files are content-addressed and written before any row
//! refers to them, so every file the snapshot refers to already exists.

use crate::config::Settings;
use diesel::connection::SimpleConnection;
use std::path::Path;

const DB_FILE: &str = "casebook.sqlite3";

fn copy_tree(from: &Path, to: &Path, count: &mut u64) -> std::io::Result<()> {
    if !from.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue; // temporary files of a write in progress
        }
        let target = to.join(&name);
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &target, count)?;
        } else if !target.exists() {
            std::fs::copy(e.path(), &target)?;
            *count += 1;
        }
    }
    Ok(())
}

/// Returns (database bytes, stored files copied).
pub fn backup(settings: &Settings, dest: &Path) -> Result<(u64, u64), String> {
    if crate::db::is_postgres_url(&settings.database_url) {
        return Err("on PostgreSQL, back up the database with pg_dump (see the README): stored files are in it (table blobs) or in the object store of --blob-url (copy the bucket after the dump); copy the data dir's blobs/ too if it holds files from before 2026-12".into());
    }
    if dest.exists()
        && std::fs::read_dir(dest)
            .map_err(|e| e.to_string())?
            .next()
            .is_some()
    {
        return Err(format!("{} is not empty", dest.display()));
    }
    std::fs::create_dir_all(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let mut conn = crate::db::establish(&settings.database_url).map_err(|e| e.to_string())?;
    let target = dest.join(DB_FILE);
    let quoted = target.to_string_lossy().replace('\'', "''");
    conn.batch_execute(&format!("VACUUM INTO '{quoted}'"))
        .map_err(|e| format!("snapshot: {e}"))?;
    let db_bytes = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    let mut files = 0;
    copy_tree(&settings.blob_dir(), &dest.join("blobs"), &mut files)
        .map_err(|e| format!("stored files: {e}"))?;
    Ok((db_bytes, files))
}

/// Copies a backup into an empty data dir. Returns the stored files copied.
pub fn restore(settings: &Settings, src: &Path) -> Result<u64, String> {
    let db = src.join(DB_FILE);
    if !db.is_file() {
        return Err(format!(
            "{} has no {DB_FILE}: not a casebook backup",
            src.display()
        ));
    }
    let target = settings.data_dir.join(DB_FILE);
    if target.exists() {
        return Err(format!(
            "{} already holds a database; restore into an empty data dir",
            settings.data_dir.display()
        ));
    }
    std::fs::create_dir_all(&settings.data_dir).map_err(|e| e.to_string())?;
    std::fs::copy(&db, &target).map_err(|e| e.to_string())?;
    let mut files = 0;
    copy_tree(&src.join("blobs"), &settings.blob_dir(), &mut files).map_err(|e| e.to_string())?;
    Ok(files)
}
