//! Stored files behind a small interface: content-addressed by sha256.
//! A directory today; an object store can implement the same trait later.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid blob name")]
    BadName,
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
    pub fn sync_all(&self) -> Result<(), StorageError> {
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
