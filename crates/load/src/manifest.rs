//! Manifests: the commit record of each export, and what the dataset holds.
//!
//! An export writes its data files, then `_manifests/<run_id>.json` (the commit point), then
//! deletes the files it replaced. A data file is *live* when some manifest added it and no later
//! manifest removed it. Anything else under the table directories is left over from an export
//! that was killed (never committed) or that committed but died before deleting what it
//! replaced; the next export removes it.

use crate::destination::Destination;
use crate::error::LoadError;
use bbpipe_model::Table;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const MANIFEST_DIR: &str = "_manifests";

/// Object-store reads in flight when reading many small objects.
pub(crate) const CONCURRENT_READS: usize = 16;

/// A file a manifest added or removed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
}

/// Files added and removed in one table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TableChanges {
    pub added: Vec<FileEntry>,
    pub removed: Vec<FileEntry>,
}

/// `_manifests/<run_id>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub workspaces: Vec<String>,
    pub tool: String,
    pub tool_version: String,
    pub schema_version: u32,
    /// Where the pages came from: an API base URL or a fixture directory.
    pub source: String,
    /// Requests made to the API (0 for a replay).
    #[serde(default)]
    pub requests: u64,
    pub tables: BTreeMap<String, TableChanges>,
}

impl Manifest {
    pub fn path(run_id: &str) -> Path {
        Path::from(MANIFEST_DIR).join(format!("{run_id}.json"))
    }
}

/// The committed history of a destination.
#[derive(Debug, Default)]
pub struct History {
    pub manifests: Vec<Manifest>,
    /// Live files with what the manifest that added them says of them.
    pub live: BTreeMap<String, FileEntry>,
}

impl History {
    /// Reads every manifest, oldest first (run ids sort by time).
    pub async fn read(destination: &Destination) -> Result<History, LoadError> {
        let mut paths: Vec<Path> = destination
            .list(&Path::from(MANIFEST_DIR))
            .await?
            .into_iter()
            .map(|m| m.location)
            .filter(|p| p.extension() == Some("json"))
            .collect();
        paths.sort();
        let mut history = History::default();
        // One GET per manifest: many at once (on S3 each waits tens of milliseconds), applied
        // in order.
        let mut fetched = futures::stream::iter(paths)
            .map(|path| async move { destination.get_opt(&path).await.map(|bytes| (path, bytes)) })
            .buffered(CONCURRENT_READS);
        while let Some(result) = fetched.next().await {
            let (path, Some(bytes)) = result? else {
                continue;
            };
            let manifest: Manifest =
                serde_json::from_slice(&bytes).map_err(|e| LoadError::Destination {
                    destination: destination.display().to_string(),
                    message: format!(
                        "{}: not a bbpipe manifest: {e}",
                        destination.describe(&path)
                    ),
                })?;
            for changes in manifest.tables.values() {
                for file in &changes.added {
                    history.live.insert(file.path.clone(), file.clone());
                }
                for file in &changes.removed {
                    history.live.remove(&file.path);
                }
            }
            history.manifests.push(manifest);
        }
        Ok(history)
    }
}

/// Data files present under the table directories (`part-*.parquet`).
pub async fn data_files(destination: &Destination) -> Result<BTreeSet<String>, LoadError> {
    let mut files = BTreeSet::new();
    for table in Table::ALL {
        for meta in destination.list(&Path::from(table.name())).await? {
            let name = meta.location.filename().unwrap_or_default();
            if name.starts_with("part-") && name.ends_with(".parquet") {
                files.insert(meta.location.to_string());
            }
        }
    }
    Ok(files)
}

/// Makes the destination what its manifests say: removes files no manifest keeps live. Returns
/// the live files. Refuses a destination holding data files but no manifest at all: that is not
/// a bbpipe dataset, and nothing in it is deleted.
pub async fn recover(destination: &Destination) -> Result<History, LoadError> {
    let history = History::read(destination).await?;
    let present = data_files(destination).await?;
    if history.manifests.is_empty() && !present.is_empty() {
        return Err(LoadError::Destination {
            destination: destination.display().to_string(),
            message: format!(
                "holds Parquet files ({} and {} more) but no {MANIFEST_DIR}/: not a bbpipe \
                 dataset; refusing to write into it",
                present.iter().next().map(String::as_str).unwrap_or(""),
                present.len().saturating_sub(1)
            ),
        });
    }
    for file in present.iter().filter(|f| !history.live.contains_key(*f)) {
        tracing::warn!(file = %destination.describe(&Path::from(file.as_str())), "removing a file left by an interrupted export");
        destination.delete(&Path::from(file.as_str())).await?;
    }
    for missing in history.live.keys().filter(|f| !present.contains(*f)) {
        tracing::warn!(file = %missing, "a committed file is missing");
    }
    Ok(history)
}
