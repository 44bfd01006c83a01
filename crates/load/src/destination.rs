//! Where the dataset goes: a local directory or an S3 prefix, behind one `ObjectStore`.

use crate::error::LoadError;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
};
use std::sync::Arc;
use std::time::Duration;

/// How to reach an object store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// S3-compatible endpoint (MinIO, Ceph, R2, a local server); else `AWS_ENDPOINT_URL`.
    pub s3_endpoint: Option<String>,
    /// Retries of a failed request (timeouts, 5xx, throttling) before giving up.
    pub max_retries: usize,
    /// Give up retrying one request after this long.
    pub retry_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            s3_endpoint: None,
            max_retries: 10,
            retry_timeout: Duration::from_secs(180),
        }
    }
}

/// The root of an output dataset.
#[derive(Debug, Clone)]
pub struct Destination {
    store: Arc<dyn ObjectStore>,
    display: String,
    /// The directory of a local destination: [`Destination::sync`] flushes its file system.
    local_root: Option<std::path::PathBuf>,
}

impl Destination {
    /// `s3://bucket/prefix` (credentials and region from the standard `AWS_*` environment
    /// variables, endpoint from `AWS_ENDPOINT_URL` or the options, plain HTTP only with
    /// `AWS_ALLOW_HTTP=true`), or a local directory, created if missing.
    pub fn open(location: &str, options: &StoreOptions) -> Result<Destination, LoadError> {
        let fail = |message: String| LoadError::Destination {
            destination: location.to_string(),
            message,
        };
        let display = location.trim_end_matches('/').to_string();
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(fail("an S3 destination is s3://bucket[/prefix]".into()));
            }
            let retry = RetryConfig {
                max_retries: options.max_retries,
                retry_timeout: options.retry_timeout,
                ..RetryConfig::default()
            };
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_retry(retry);
            if let Some(endpoint) = &options.s3_endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            let s3 = builder.build().map_err(|e| fail(e.to_string()))?;
            let prefix = prefix.trim_matches('/');
            let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(PrefixStore::new(s3, prefix))
            };
            return Ok(Destination {
                store,
                display,
                local_root: None,
            });
        }
        if location.contains("://") {
            return Err(fail("only local paths and s3:// URLs are supported".into()));
        }
        std::fs::create_dir_all(location).map_err(|e| fail(e.to_string()))?;
        let local = LocalFileSystem::new_with_prefix(location)
            .map_err(|e| fail(e.to_string()))?
            // Where the file system can be flushed whole (`syncfs`), commits do that once
            // instead of an fsync per file and directory: same durability, a fraction of the
            // cost on a dataset of many small files.
            .with_fsync(!cfg!(target_os = "linux"));
        Ok(Destination {
            store: Arc::new(local),
            display,
            local_root: Some(std::path::PathBuf::from(location)),
        })
    }

    /// Makes everything written so far durable (a power loss keeps it): on local disk, the
    /// file system is flushed; object stores acknowledge a write only once it is durable.
    /// Commits call it before writing a manifest and before deleting what it replaced.
    pub async fn sync(&self) -> Result<(), LoadError> {
        #[cfg(target_os = "linux")]
        if let Some(root) = self.local_root.clone() {
            let shown = self.display.clone();
            return tokio::task::spawn_blocking(move || syncfs(&root))
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))
                .and_then(|r| r)
                .map_err(|source| LoadError::File {
                    path: shown,
                    source,
                });
        }
        Ok(())
    }

    /// The directory of a local destination; `None` for an object store.
    pub fn local_root(&self) -> Option<&std::path::Path> {
        self.local_root.as_deref()
    }

    /// The object store underneath.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The location as the user gave it, for messages.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// `path` as the user would see it, e.g. `./out/pipeline_runs/...`.
    pub fn describe(&self, path: &Path) -> String {
        format!("{}/{}", self.display, path)
    }

    pub(crate) fn store_error(&self, path: &Path) -> impl FnOnce(object_store::Error) -> LoadError {
        let path = self.describe(path);
        move |source| LoadError::Store { path, source }
    }

    /// Every object under `prefix`.
    pub async fn list(&self, prefix: &Path) -> Result<Vec<ObjectMeta>, LoadError> {
        self.store
            .list(Some(prefix))
            .try_collect()
            .await
            .map_err(self.store_error(prefix))
    }

    /// Whether anything lies under `prefix`: the first page of a listing, not all of it.
    pub async fn is_empty(&self, prefix: &Path) -> Result<bool, LoadError> {
        match self.store.list(Some(prefix)).next().await {
            None => Ok(true),
            Some(Ok(_)) => Ok(false),
            Some(Err(e)) => Err(self.store_error(prefix)(e)),
        }
    }

    /// Reads a whole object; `None` if there is none.
    pub async fn get_opt(&self, path: &Path) -> Result<Option<bytes::Bytes>, LoadError> {
        match self.store.get(path).await {
            Ok(result) => Ok(Some(result.bytes().await.map_err(self.store_error(path))?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.store_error(path)(e)),
        }
    }

    /// Writes a small object in one request (atomic on every store bbpipe supports).
    pub async fn put(&self, path: &Path, bytes: impl Into<PutPayload>) -> Result<(), LoadError> {
        self.store
            .put(path, bytes.into())
            .await
            .map_err(self.store_error(path))?;
        Ok(())
    }

    /// Writes a small object only if none exists at `path`: `If-None-Match: *` on S3, a
    /// no-clobber link on local disk. False when the object already existed.
    pub async fn put_create(
        &self,
        path: &Path,
        bytes: impl Into<PutPayload>,
    ) -> Result<bool, LoadError> {
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self.store.put_opts(path, bytes.into(), options).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(self.store_error(path)(e)),
        }
    }

    /// When the store last wrote `path`, by the store's own clock.
    pub async fn last_modified(
        &self,
        path: &Path,
    ) -> Result<chrono::DateTime<chrono::Utc>, LoadError> {
        self.store
            .head(path)
            .await
            .map(|meta| meta.last_modified)
            .map_err(self.store_error(path))
    }

    /// Deletes one object; a missing one is not an error.
    pub async fn delete(&self, path: &Path) -> Result<(), LoadError> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.store_error(path)(e)),
        }
    }
}

/// `syncfs(2)`: flushes the file system holding `root`, data and metadata (new names included).
#[cfg(target_os = "linux")]
fn syncfs(root: &std::path::Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let dir = std::fs::File::open(root)?;
    // SAFETY: `dir` is an open descriptor for the whole call; syncfs only reads it.
    if unsafe { libc::syncfs(dir.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
