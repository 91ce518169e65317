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

/// Files up to this size are read whole (one round trip, checked against their name);
/// larger ones, from a remote store, window by window (`Ranged`).
pub const READ_WHOLE_UP_TO: u64 = 1024 * 1024;
/// What one ranged read asks for.
const WINDOW: u64 = 256 * 1024;

/// A stored file of `len` bytes read window by window through `fetch(offset, n)`: a
/// page of a large bundle in the database or an object store costs the windows it
/// touches, not the whole file, and memory holds one window. The windows are not
/// checked against the file's name (only a whole read can be); bundle entries carry
/// their own CRC.
pub struct Ranged<F> {
    len: u64,
    pos: u64,
    start: u64,
    window: Vec<u8>,
    fetch: F,
}

impl<F> Ranged<F>
where
    F: FnMut(u64, u64) -> Result<Vec<u8>, StorageError> + Send,
{
    pub fn new(len: u64, fetch: F) -> Self {
        Ranged {
            len,
            pos: 0,
            start: 0,
            window: Vec::new(),
            fetch,
        }
    }
}

impl<F> std::io::Read for Ranged<F>
where
    F: FnMut(u64, u64) -> Result<Vec<u8>, StorageError> + Send,
{
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() || self.pos >= self.len {
            return Ok(0);
        }
        let end = self.start + self.window.len() as u64;
        if self.pos < self.start || self.pos >= end {
            // Windows on fixed boundaries: a reader stepping backwards (a zip reader
            // looking for its directory) stays in one window.
            let start = self.pos - self.pos % WINDOW;
            let n = WINDOW.min(self.len - start);
            let mut got = (self.fetch)(start, n).map_err(std::io::Error::other)?;
            got.truncate(usize::try_from(n).unwrap_or(usize::MAX));
            if (got.len() as u64) <= self.pos - start {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the stored file is shorter than recorded",
                ));
            }
            self.start = start;
            self.window = got;
        }
        // In the window: pos - start < window.len(), which is a usize.
        let at = usize::try_from(self.pos - self.start).unwrap_or(usize::MAX);
        let avail = self.window.get(at..).unwrap_or_default();
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl<F> std::io::Seek for Ranged<F> {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            std::io::SeekFrom::Start(n) => Some(n),
            std::io::SeekFrom::End(d) => self.len.checked_add_signed(d),
            std::io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(t) => {
                self.pos = t;
                Ok(t)
            }
            None => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the stored file",
            )),
        }
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

    /// A large file is read in ranges (`substring` of an EXTERNAL column reads only
    /// the TOAST chunks it covers), each on a connection of the store's own.
    fn open(&self, sha256: &str) -> Result<Box<dyn ReadSeek>, StorageError> {
        use crate::db::schema::blobs;
        use diesel::prelude::*;
        valid_name(sha256)?;
        let size: Option<i64> = blobs::table
            .filter(blobs::sha256.eq(sha256))
            .select(blobs::size)
            .first(&mut self.conn()?)
            .optional()
            .map_err(|e| StorageError::Db(e.to_string()))?;
        let Some(size) = size else {
            return self.local.open(sha256);
        };
        let len = u64::try_from(size).unwrap_or(0);
        if len <= READ_WHOLE_UP_TO {
            return Ok(Box::new(std::io::Cursor::new(self.get(sha256)?)));
        }
        let pool = self.pool.clone();
        let sha = sha256.to_string();
        Ok(Box::new(Ranged::new(len, move |offset, n| {
            #[derive(QueryableByName)]
            struct Part {
                #[diesel(sql_type = diesel::sql_types::Binary)]
                part: Vec<u8>,
            }
            let mut conn = pool.get().map_err(|e| StorageError::Db(e.to_string()))?;
            let from = i32::try_from(offset + 1)
                .map_err(|_| StorageError::Db("a stored file over 2 GiB".into()))?;
            let count = i32::try_from(n).unwrap_or(i32::MAX);
            diesel::sql_query(
                "SELECT substring(bytes FROM $1 FOR $2) AS part FROM blobs WHERE sha256 = $3",
            )
            .bind::<diesel::sql_types::Integer, _>(from)
            .bind::<diesel::sql_types::Integer, _>(count)
            .bind::<diesel::sql_types::Text, _>(&sha)
            .get_result::<Part>(&mut conn)
            .map(|p| p.part)
            .map_err(|e| StorageError::Db(e.to_string()))
        })))
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

    #[test]
    fn a_ranged_read_fetches_only_the_windows_it_touches() {
        use std::io::{Read, Seek, SeekFrom};
        let data: Vec<u8> = (0..5 * WINDOW + 123).map(|i| (i % 251) as u8).collect();
        let fetched = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = fetched.clone();
        let source = data.clone();
        let mut r = Ranged::new(data.len() as u64, move |off, n| {
            counter.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
            let (a, b) = (off as usize, (off + n) as usize);
            Ok(source[a..b.min(source.len())].to_vec())
        });
        // The end, as a zip reader looks for its directory.
        r.seek(SeekFrom::End(-22)).expect("seek");
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).expect("tail");
        assert_eq!(tail, data[data.len() - 22..]);
        // A page in the middle, across a window's edge.
        r.seek(SeekFrom::Start(2 * WINDOW - 10)).expect("seek");
        let mut page = vec![0u8; 100];
        r.read_exact(&mut page).expect("page");
        assert_eq!(
            page,
            data[(2 * WINDOW - 10) as usize..(2 * WINDOW + 90) as usize]
        );
        let read = fetched.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            read <= 3 * WINDOW,
            "read {read} bytes of {} for 122",
            data.len()
        );
        // The whole file reads back exactly, and past the end reads nothing.
        r.rewind().expect("rewind");
        let mut all = Vec::new();
        r.read_to_end(&mut all).expect("all");
        assert_eq!(all, data);
        assert_eq!(r.read(&mut page).expect("eof"), 0);
        assert!(r.seek(SeekFrom::Current(-(data.len() as i64) - 1)).is_err());
    }

    #[test]
    fn a_stored_file_shorter_than_recorded_is_an_error_not_a_hang() {
        use std::io::Read;
        let mut r = Ranged::new(10, |off, _| Ok(if off < 4 { vec![1; 4] } else { vec![] }));
        let mut all = Vec::new();
        let e = r.read_to_end(&mut all).expect_err("short file");
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}
