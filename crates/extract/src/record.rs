//! Record mode: every raw page written in the fixture layout, for offline replay.

use crate::error::ExtractError;
use crate::layout::{RECORDING_FILE, Recording, page_path, run_path};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Writes response bodies exactly as received. Bodies carry no credential: bbpipe's own
/// Authorization header is never part of a response.
pub struct Recorder {
    root: PathBuf,
    runs_written: AtomicU32,
    /// Pipelines pages written per repository: they are numbered in the order read, so a
    /// page read twice (a walk started again) never overwrites the first reading.
    pages_written: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

impl Recorder {
    /// Refuses a directory that already holds files: pages of an older recording left beside
    /// the new ones would replay as if fetched together.
    pub fn new(root: &Path) -> Result<Self, ExtractError> {
        std::fs::create_dir_all(root).map_err(ExtractError::io(root))?;
        let mut entries = std::fs::read_dir(root).map_err(ExtractError::io(root))?;
        if entries.next().is_some() {
            return Err(ExtractError::Layout {
                path: root.to_path_buf(),
                message: "--record needs a new or empty directory".into(),
            });
        }
        Ok(Recorder {
            root: root.to_path_buf(),
            runs_written: AtomicU32::new(0),
            pages_written: std::sync::Mutex::default(),
        })
    }

    async fn write(&self, path: PathBuf, body: &[u8]) -> Result<(), ExtractError> {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(ExtractError::io(dir))?;
        }
        tokio::fs::write(&path, body)
            .await
            .map_err(ExtractError::io(&path))
    }

    /// A page: repositories pages by their page number, pipelines pages numbered in the order
    /// they were read.
    pub async fn page(
        &self,
        workspace: &str,
        repo_slug: Option<&str>,
        page: u32,
        body: &[u8],
    ) -> Result<(), ExtractError> {
        let number = match repo_slug {
            None => page,
            Some(slug) => {
                let mut written = self
                    .pages_written
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let n = written.entry(format!("{workspace}/{slug}")).or_default();
                *n += 1;
                *n
            }
        };
        self.write(page_path(&self.root, workspace, repo_slug, number), body)
            .await
    }

    /// Writes every page it receives to the recording, passing it on.
    pub async fn run(
        &self,
        workspace: &str,
        repo_slug: &str,
        body: &[u8],
    ) -> Result<(), ExtractError> {
        // Numbered across repositories, so two repositories never clash.
        let n = self.runs_written.fetch_add(1, Ordering::Relaxed) + 1;
        self.write(run_path(&self.root, workspace, repo_slug, n), body)
            .await
    }

    /// Written last: a recording without it was interrupted.
    pub async fn finish(
        &self,
        recorded_at: DateTime<Utc>,
        source: &str,
    ) -> Result<(), ExtractError> {
        let recording = Recording {
            format: 1,
            recorded_at,
            source: source.to_string(),
        };
        let json = serde_json::to_vec_pretty(&recording).map_err(|e| ExtractError::Layout {
            path: self.root.clone(),
            message: e.to_string(),
        })?;
        self.write(self.root.join(RECORDING_FILE), &json).await
    }
}
