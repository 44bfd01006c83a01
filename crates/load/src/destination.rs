//! Where the dataset goes: a local directory or an S3 prefix, behind one `ObjectStore`.

use crate::error::LoadError;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt};
use std::sync::Arc;

/// The root of an output dataset.
#[derive(Debug, Clone)]
pub struct Destination {
    store: Arc<dyn ObjectStore>,
    display: String,
}

impl Destination {
    /// `s3://bucket/prefix` (credentials, region and endpoint from the standard `AWS_*`
    /// environment variables), or a local directory, created if missing.
    pub fn parse(location: &str) -> Result<Destination, LoadError> {
        let fail = |message: String| LoadError::Destination {
            destination: location.to_string(),
            message,
        };
        let store: Arc<dyn ObjectStore> = if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(fail("an S3 destination is s3://bucket[/prefix]".into()));
            }
            let s3 = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| fail(e.to_string()))?;
            let prefix = prefix.trim_matches('/');
            if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(PrefixStore::new(s3, prefix))
            }
        } else if location.contains("://") {
            return Err(fail("only local paths and s3:// URLs are supported".into()));
        } else {
            std::fs::create_dir_all(location).map_err(|e| fail(e.to_string()))?;
            Arc::new(LocalFileSystem::new_with_prefix(location).map_err(|e| fail(e.to_string()))?)
        };
        Ok(Destination {
            store,
            display: location.trim_end_matches('/').to_string(),
        })
    }

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

    /// Fails if any table directory already holds a file.
    pub async fn ensure_empty(&self, tables: &[&str]) -> Result<(), LoadError> {
        use futures::StreamExt;
        for table in tables {
            let prefix = Path::from(*table);
            let mut listing = self.store.list(Some(&prefix));
            if let Some(first) = listing.next().await {
                let found = first.map_err(|source| LoadError::Store {
                    path: self.describe(&prefix),
                    source,
                })?;
                return Err(LoadError::Destination {
                    destination: self.display.clone(),
                    message: format!(
                        "not empty (found {}): bbpipe does not yet merge into an existing \
                         dataset; write to a new directory or remove this one",
                        self.describe(&found.location)
                    ),
                });
            }
        }
        Ok(())
    }

    /// Size of an object, for summaries.
    pub async fn size_of(&self, path: &Path) -> Result<u64, LoadError> {
        let meta = self
            .store
            .head(path)
            .await
            .map_err(|source| LoadError::Store {
                path: self.describe(path),
                source,
            })?;
        Ok(meta.size)
    }
}
