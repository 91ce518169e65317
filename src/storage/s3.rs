//! Stored files in an S3-compatible object store (`--blob-url s3://BUCKET/PREFIX?…`),
//! so that servers on several machines share every byte without putting it in the
//! database. Objects are named by their sha256 (`PREFIX/ab/cd/abcd…`), written whole
//! (an S3 PUT is atomic: no reader ever sees half a file) before the row that names
//! them commits, and checked against their name when read.
//!
//! `object_store` is async; Casebook's store interface is blocking (it is called from
//! blocking threads and the CLI). Every call runs on a small runtime of the store's own
//! and the caller waits for its answer, so it works from any thread.

use super::{sha256_hex, valid_name, BlobStore, Ranged, ReadSeek, StorageError, READ_WHOLE_UP_TO};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload, RetryConfig};
use std::sync::Arc;
use std::time::Duration;

/// Where the objects live, as read from `--blob-url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Key prefix without slashes at either end; empty for the bucket's root.
    pub prefix: String,
    /// `http://127.0.0.1:9000` for a local server; None for AWS itself.
    pub endpoint: Option<String>,
    pub region: String,
}

impl S3Location {
    /// Reads `s3://BUCKET[/PREFIX][?endpoint=URL&region=NAME]`. Credentials are never in
    /// the URL: they come from the usual `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`
    /// (and `AWS_SESSION_TOKEN`) variables.
    pub fn parse(url: &str) -> Result<S3Location, String> {
        let u = url::Url::parse(url.trim()).map_err(|e| format!("not a URL: {e}"))?;
        if u.scheme() != "s3" {
            return Err("the blob URL must start with s3://".into());
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err(
                "credentials do not belong in the blob URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    .into(),
            );
        }
        let bucket = u.host_str().unwrap_or_default().to_string();
        if bucket.is_empty() {
            return Err("the blob URL names no bucket (s3://BUCKET)".into());
        }
        if u.port().is_some() {
            return Err(
                "s3://BUCKET takes no port: give the server as ?endpoint=http://HOST:PORT".into(),
            );
        }
        let prefix = u.path().trim_matches('/').to_string();
        let mut endpoint = None;
        let mut region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".to_string());
        for (k, v) in u.query_pairs() {
            match k.as_ref() {
                "endpoint" => {
                    let e = url::Url::parse(&v).map_err(|e| format!("endpoint: {e}"))?;
                    if !matches!(e.scheme(), "http" | "https") {
                        return Err("the endpoint must be http:// or https://".into());
                    }
                    // Errors print the request's URL: no credentials may ride in it.
                    if !e.username().is_empty() || e.password().is_some() {
                        return Err(
                            "credentials do not belong in the endpoint: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                                .into(),
                        );
                    }
                    endpoint = Some(v.trim_end_matches('/').to_string());
                }
                "region" => region = v.to_string(),
                other => return Err(format!("unknown blob URL parameter {other:?}")),
            }
        }
        Ok(S3Location {
            bucket,
            prefix,
            endpoint,
            region,
        })
    }
}

pub struct S3Store {
    s3: Arc<AmazonS3>,
    /// `s3://BUCKET/PREFIX`, for messages.
    name: String,
    prefix: String,
    /// Taken on drop and shut down without waiting (dropping a runtime inside another
    /// one's thread would panic).
    rt: Option<tokio::runtime::Runtime>,
    /// Where files were stored before the store moved to S3 (the data dir, or the
    /// database on PostgreSQL): still read from there.
    earlier: Box<dyn BlobStore>,
}

impl S3Store {
    pub fn connect(loc: &S3Location, earlier: Box<dyn BlobStore>) -> Result<S3Store, StorageError> {
        // The client's own settings (5 s to connect, 30 s a request, AWS_* variables
        // such as a proxy) are kept. Retries are short: files are stored inside a
        // write transaction (SQLite's write lock is held meanwhile), so an unreachable
        // store must fail the delivery in seconds, not hold every writer for minutes
        // (the delivery is then refused and the sender or the mailbox tries again).
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&loc.bucket)
            .with_region(&loc.region)
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(10),
                backoff: Default::default(),
            });
        if let Some(e) = &loc.endpoint {
            // A server of one's own (MinIO, Ceph, moto…) is addressed path-style.
            b = b.with_endpoint(e).with_virtual_hosted_style_request(false);
            if e.starts_with("http://") {
                b = b.with_allow_http(true);
            }
        }
        let s3 = b.build().map_err(|e| StorageError::Remote(e.to_string()))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("casebook-s3")
            .enable_all()
            .build()?;
        Ok(S3Store {
            s3: Arc::new(s3),
            name: format!("s3://{}/{}", loc.bucket, loc.prefix),
            prefix: loc.prefix.clone(),
            rt: Some(rt),
            earlier,
        })
    }

    fn key(&self, sha: &str) -> Result<ObjectPath, StorageError> {
        valid_name(sha)?;
        let name = format!("{}/{}/{}", &sha[0..2], &sha[2..4], sha);
        Ok(if self.prefix.is_empty() {
            ObjectPath::from(name)
        } else {
            ObjectPath::from(format!("{}/{name}", self.prefix))
        })
    }

    /// Runs `fut` on the store's runtime and waits for it (from any thread, inside
    /// another runtime or not).
    fn wait<T, F>(&self, fut: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, object_store::Error>> + Send + 'static,
    {
        wait_on(self.runtime()?.handle(), fut)
    }

    /// Whether the object exists.
    fn head(&self, key: ObjectPath) -> Result<bool, StorageError> {
        Ok(self.size(key)?.is_some())
    }

    /// The object's size; None when it does not exist.
    fn size(&self, key: ObjectPath) -> Result<Option<u64>, StorageError> {
        let s3 = self.s3.clone();
        self.wait(async move {
            match s3.head(&key).await {
                Ok(meta) => Ok(Some(meta.size)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn runtime(&self) -> Result<&tokio::runtime::Runtime, StorageError> {
        self.rt
            .as_ref()
            .ok_or_else(|| StorageError::Remote("the object store is closed".into()))
    }

    /// Proves at start that the bucket takes writes and gives them back: stores the
    /// empty file (its name is its sha256) and reads it.
    pub fn check(&self) -> Result<(), StorageError> {
        let unusable = |e: StorageError| {
            let why = match e {
                StorageError::Remote(m) => m,
                other => other.to_string(),
            };
            StorageError::Remote(format!(
                "{} cannot be used (check the bucket, the endpoint and the credentials): {why}",
                self.name
            ))
        };
        // Always written, not skipped when present: read-only credentials must fail
        // here, not at the first mail.
        let sha = sha256_hex(b"");
        let key = self.key(&sha).map_err(unusable)?;
        let s3 = self.s3.clone();
        self.wait(async move { s3.put(&key, PutPayload::new()).await.map(|_| ()) })
            .map_err(unusable)?;
        let back = self.get(&sha).map_err(unusable)?;
        if !back.is_empty() {
            return Err(unusable(StorageError::Remote(
                "it returned other bytes than were stored".into(),
            )));
        }
        Ok(())
    }
}

impl Drop for S3Store {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Runs `fut` on the runtime behind `rt` and waits for its answer.
fn wait_on<T, F>(rt: &tokio::runtime::Handle, fut: F) -> Result<T, StorageError>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, object_store::Error>> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let _ = tx.send(fut.await);
    });
    match rx.recv() {
        Ok(r) => r.map_err(remote),
        // The store was dropped (its runtime shut down) while the call waited.
        Err(_) => Err(StorageError::Remote(
            "the object store call was cancelled".into(),
        )),
    }
}

/// The store's own words: they name the bucket and key and the server's answer
/// (`NoSuchBucket`, `AccessDenied`…), never the credentials.
fn remote(e: object_store::Error) -> StorageError {
    StorageError::Remote(e.to_string())
}

impl BlobStore for S3Store {
    fn put(&self, bytes: &[u8]) -> Result<String, StorageError> {
        let sha = sha256_hex(bytes);
        let key = self.key(&sha)?;
        if self.head(key.clone())? {
            return Ok(sha);
        }
        let s3 = self.s3.clone();
        let payload = PutPayload::from(bytes.to_vec());
        self.wait(async move { s3.put(&key, payload).await.map(|_| ()) })?;
        Ok(sha)
    }

    fn get(&self, sha256: &str) -> Result<Vec<u8>, StorageError> {
        let key = self.key(sha256)?;
        let s3 = self.s3.clone();
        let got = self.wait(async move {
            match s3.get(&key).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        match got {
            Some(b) => {
                // Content-addressed: what comes back must be what the name says.
                if sha256_hex(&b) != sha256 {
                    return Err(StorageError::Remote(format!(
                        "stored file {sha256} came back from the object store with other content"
                    )));
                }
                Ok(Vec::from(b))
            }
            // Not in the bucket: stored before the move, or missing. One error naming
            // the bucket when neither has it (not the earlier store's "no such file").
            None => self.earlier.get(sha256).map_err(|_| {
                StorageError::Remote(format!("stored file {sha256} is not in {}", self.name))
            }),
        }
    }

    /// A large object is read in ranged GETs, window by window.
    fn open(&self, sha256: &str) -> Result<Box<dyn ReadSeek>, StorageError> {
        let key = self.key(sha256)?;
        let Some(len) = self.size(key.clone())? else {
            return self.earlier.open(sha256).map_err(|_| {
                StorageError::Remote(format!("stored file {sha256} is not in {}", self.name))
            });
        };
        if len <= READ_WHOLE_UP_TO {
            return Ok(Box::new(std::io::Cursor::new(self.get(sha256)?)));
        }
        let s3 = self.s3.clone();
        let rt = self.runtime()?.handle().clone();
        Ok(Box::new(Ranged::new(len, move |offset, n| {
            let (s3, key) = (s3.clone(), key.clone());
            wait_on(&rt, async move {
                s3.get_range(&key, offset..offset + n).await.map(Vec::from)
            })
        })))
    }

    fn exists(&self, sha256: &str) -> bool {
        match self.key(sha256) {
            Ok(k) => self.head(k).unwrap_or(false) || self.earlier.exists(sha256),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_urls_are_read_and_credentials_refused() {
        let l = S3Location::parse(
            "s3://cases/prod/files?endpoint=http://127.0.0.1:9000/&region=eu-west-1",
        )
        .expect("parse");
        assert_eq!(l.bucket, "cases");
        assert_eq!(l.prefix, "prod/files");
        assert_eq!(l.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(l.region, "eu-west-1");
        let l = S3Location::parse("s3://cases").expect("parse");
        assert_eq!((l.prefix.as_str(), l.endpoint), ("", None));
        for bad in [
            "s3://key:secret@cases",
            "https://cases",
            "s3:///x",
            "s3://cases?endpoint=ftp://x",
            "s3://cases?color=red",
            "s3://cases:9000",
            "s3://cases?endpoint=http://key:secret@127.0.0.1:9000",
        ] {
            assert!(S3Location::parse(bad).is_err(), "{bad}");
        }
    }
}
