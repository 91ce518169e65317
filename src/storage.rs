//! Stored files behind a small interface: content-addressed by sha256. On the
//! embedded default a directory (`DirStore`); on PostgreSQL the database itself
//! (`PgStore`), so that every server on it reads every byte; with `--blob-url s3://…`
//! an S3-compatible object store (`S3Store`), on either engine.

mod s3;
pub use s3::{S3Location, S3Store};

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid blob name")]
    BadName,
    #[error("stored files in the database: {0}")]
    Db(String),
    #[error("stored files in the object store: {0}")]
    Remote(String),
}

/// A stored file opened for reading in place.
pub trait ReadSeek: std::io::Read + std::io::Seek + Send {}
impl<T: std::io::Read + std::io::Seek + Send> ReadSeek for T {}

pub trait BlobStore: Send + Sync {
    /// Stores the bytes (once, whatever the number of calls) and returns their sha256 (hex).
    fn put(&self, bytes: &[u8]) -> Result<String, StorageError>;
    fn get(&self, sha256: &str) -> Result<Vec<u8>, StorageError>;
    fn exists(&self, sha256: &str) -> bool;
    /// The stored bytes as a reader, for reading part of a large file (a page of a
    /// bundle's entry) without holding it; by default read whole.
    fn open(&self, sha256: &str) -> Result<Box<dyn ReadSeek>, StorageError> {
        Ok(Box::new(std::io::Cursor::new(self.get(sha256)?)))
    }
    /// Makes everything written so far durable (bulk ingestion, before it commits);
    /// a store that is durable at each `put` has nothing to do.
    fn sync_all(&self) -> Result<(), StorageError> {
        Ok(())
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
    /// Bulk mode: no fsync per file; the caller calls `sync_all` before committing.
    deferred_sync: bool,
}

impl DirStore {
    pub fn new(root: PathBuf) -> Result<Self, StorageError> {
        std::fs::create_dir_all(&root)?;
        Ok(DirStore {
            root,
            deferred_sync: false,
        })
    }

    /// For bulk ingestion: files are flushed together by `sync_all`, once per batch.
    pub fn with_deferred_sync(mut self) -> Self {
        self.deferred_sync = true;
        self
    }

    /// Flushes everything written so far to disk (one `syncfs` for the whole store).
    fn sync_dir(&self) -> Result<(), StorageError> {
        let dir = std::fs::File::open(&self.root)?;
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: syncfs takes a valid open file descriptor, which `dir` owns for this call.
            let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
            if rc != 0 {
                return Err(StorageError::Io(std::io::Error::last_os_error()));
            }
        }
        #[cfg(not(target_os = "linux"))]
        dir.sync_all()?;
        Ok(())
    }

    fn path_for(&self, sha: &str) -> Result<PathBuf, StorageError> {
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StorageError::BadName);
        }
        Ok(self.root.join(&sha[0..2]).join(&sha[2..4]).join(sha))
    }
}

impl BlobStore for DirStore {
    fn put(&self, bytes: &[u8]) -> Result<String, StorageError> {
        let sha = sha256_hex(bytes);
        let path = self.path_for(&sha)?;
        if path.exists() {
            return Ok(sha);
        }
        let dir = path.parent().ok_or(StorageError::BadName)?;
        std::fs::create_dir_all(dir)?;
        // Write to a unique temporary name, flush to disk, then rename: a crash
        // never leaves a half-written blob under its final name.
        let tmp = dir.join(format!(".{}.{}.tmp", sha, rand::random::<u64>()));
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            if !self.deferred_sync {
                f.sync_data()?;
            }
        }
        std::fs::rename(&tmp, &path)?;
        Ok(sha)
    }

    fn get(&self, sha256: &str) -> Result<Vec<u8>, StorageError> {
        Ok(std::fs::read(self.path_for(sha256)?)?)
    }

    fn open(&self, sha256: &str) -> Result<Box<dyn ReadSeek>, StorageError> {
        let f = std::fs::File::open(self.path_for(sha256)?)?;
        Ok(Box::new(std::io::BufReader::new(f)))
    }

    fn exists(&self, sha256: &str) -> bool {
        self.path_for(sha256).map(|p| p.exists()).unwrap_or(false)
    }

    fn sync_all(&self) -> Result<(), StorageError> {
        self.sync_dir()
    }
}

type PgPool = diesel::r2d2::Pool<diesel::r2d2::ConnectionManager<diesel::PgConnection>>;

/// Stored files in PostgreSQL (table `blobs`), through a few connections of their own
/// (a `put` inside an ingest transaction never waits for the main pool). Each `put`
/// commits before the row that names it, as the directory's rename does. Files stored
/// in the data dir before this store existed are still read from there.
pub struct PgStore {
    pool: PgPool,
    local: DirStore,
}

impl PgStore {
    pub fn connect(url: &str, local: DirStore) -> Result<Self, StorageError> {
        let pool = diesel::r2d2::Pool::builder()
            .max_size(4)
            // Opened when first needed: a CLI command that stores nothing opens none.
            .min_idle(Some(0))
            .connection_timeout(std::time::Duration::from_secs(30))
            .build(diesel::r2d2::ConnectionManager::<diesel::PgConnection>::new(url))
            .map_err(|e| StorageError::Db(e.to_string()))?;
        Ok(PgStore { pool, local })
    }

    fn conn(
        &self,
    ) -> Result<
        diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<diesel::PgConnection>>,
        StorageError,
    > {
        self.pool.get().map_err(|e| StorageError::Db(e.to_string()))
    }

    fn in_db(&self, sha256: &str) -> Result<bool, StorageError> {
        use crate::db::schema::blobs;
        use diesel::prelude::*;
        let n: i64 = blobs::table
            .filter(blobs::sha256.eq(sha256))
            .count()
            .get_result(&mut self.conn()?)
            .map_err(|e| StorageError::Db(e.to_string()))?;
        Ok(n > 0)
    }
}

fn valid_name(sha: &str) -> Result<(), StorageError> {
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StorageError::BadName);
    }
    Ok(())
}

impl BlobStore for PgStore {
    fn put(&self, bytes: &[u8]) -> Result<String, StorageError> {
        use crate::db::schema::blobs;
        use diesel::prelude::*;
        let sha = sha256_hex(bytes);
        if self.in_db(&sha)? {
            return Ok(sha);
        }
        diesel::insert_into(blobs::table)
            .values((
                blobs::sha256.eq(&sha),
                blobs::bytes.eq(bytes),
                blobs::size.eq(i64::try_from(bytes.len()).unwrap_or(i64::MAX)),
                blobs::created_at.eq(crate::now()),
            ))
            .on_conflict_do_nothing()
            .execute(&mut self.conn()?)
            .map_err(|e| StorageError::Db(e.to_string()))?;
        Ok(sha)
    }

    fn get(&self, sha256: &str) -> Result<Vec<u8>, StorageError> {
        use crate::db::schema::blobs;
        use diesel::prelude::*;
        valid_name(sha256)?;
        let found: Option<Vec<u8>> = blobs::table
            .filter(blobs::sha256.eq(sha256))
            .select(blobs::bytes)
            .first(&mut self.conn()?)
            .optional()
            .map_err(|e| StorageError::Db(e.to_string()))?;
        match found {
            Some(b) => Ok(b),
            None => self.local.get(sha256),
        }
    }

    fn exists(&self, sha256: &str) -> bool {
        valid_name(sha256).is_ok()
            && (self.in_db(sha256).unwrap_or(false) || self.local.exists(sha256))
    }
}

/// The store for `settings`: the object store of `--blob-url` when one is set, else
/// the database on PostgreSQL, else the data dir.
pub fn for_settings(
    settings: &crate::config::Settings,
) -> Result<std::sync::Arc<dyn BlobStore>, StorageError> {
    Ok(std::sync::Arc::from(open_store(
        settings,
        DirStore::new(settings.blob_dir())?,
    )?))
}

/// The store for `settings`, with `dir` as the data dir's own store (bulk ingestion
/// passes one that syncs once per batch).
pub fn open_store(
    settings: &crate::config::Settings,
    dir: DirStore,
) -> Result<Box<dyn BlobStore>, StorageError> {
    let default: Box<dyn BlobStore> = if crate::db::is_postgres_url(&settings.database_url) {
        Box::new(PgStore::connect(&settings.database_url, dir)?)
    } else {
        Box::new(dir)
    };
    if settings.blob_url.trim().is_empty() {
        return Ok(default);
    }
    let loc = S3Location::parse(&settings.blob_url).map_err(StorageError::Remote)?;
    // What was stored before the move to the object store is still read where it is.
    let s3 = S3Store::connect(&loc, default)?;
    // A wrong bucket, endpoint or key is an error at start, not at the first mail.
    s3.check()?;
    Ok(Box::new(s3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_once_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("cb-store-{}", rand::random::<u64>()));
        let s = DirStore::new(dir.clone()).expect("store");
        let a = s.put(b"hello").expect("put");
        let b = s.put(b"hello").expect("put again");
        assert_eq!(a, b);
        assert_eq!(s.get(&a).expect("get"), b"hello");
        assert!(s.get("../etc/passwd").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
