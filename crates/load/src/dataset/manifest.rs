//! Manifests: the commit record of each export, and what the dataset holds.
//!
//! Each workspace has its own log: `_manifests/<workspace>/<sequence>.json`, numbered from 1
//! and written create-only, so of two writers committing the same number exactly one succeeds
//! (the other stops: its view of the dataset is stale). An export writes its data files, then
//! the next manifest of its workspace (the commit point), then deletes the files it replaced. A
//! data file is *live* when some manifest added it and no later manifest removed it. Manifests
//! also carry the workspace's sync state, as entries folded over its log (later wins), so the
//! state moves exactly with the data it describes. Manifests of earlier versions
//! (`_manifests/<run_id>.json`, possibly naming several workspaces) are read first, by name.
//!
//! Anything else under a workspace's table directories was written by an export that never
//! committed it, or was replaced by one that died before deleting it; [`orphans`] finds the
//! files that are provably so.

use crate::dataset::numbered::{number_of, numbered_path};
use crate::destination::Destination;
use crate::error::LoadError;
use bbpipe_model::{Table, is_data_file, workspace_dir};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// State entries of a workspace, keyed by what extract names them.
pub type StateEntries = BTreeMap<String, serde_json::Value>;

/// Where manifests live, under the destination root.
pub const MANIFEST_DIR: &str = "_manifests";

/// Object-store reads in flight when reading many small objects.
pub(crate) const CONCURRENT_READS: usize = 16;

/// A file a manifest added or removed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the destination root.
    pub path: String,
    /// Rows in the file.
    pub rows: u64,
    /// Its size.
    pub bytes: u64,
}

/// Files added and removed in one table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TableChanges {
    /// Files the commit made live.
    pub added: Vec<FileEntry>,
    /// Files it retired.
    pub removed: Vec<FileEntry>,
}

/// `_manifests/<run_id>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The export that committed it.
    pub run_id: String,
    /// When that export started.
    pub started_at: DateTime<Utc>,
    /// When this commit was written.
    pub finished_at: DateTime<Utc>,
    /// The workspaces it covers.
    pub workspaces: Vec<String>,
    /// Always `bbpipe`.
    pub tool: String,
    /// The bbpipe version that wrote it.
    pub tool_version: String,
    /// [`SCHEMA_VERSION`](bbpipe_model::SCHEMA_VERSION) of its files.
    pub schema_version: u32,
    /// Where the pages came from: an API base URL or a fixture directory.
    pub source: String,
    /// Requests made to the API (0 for a replay).
    #[serde(default)]
    pub requests: u64,
    /// Changes per table name.
    pub tables: BTreeMap<String, TableChanges>,
    /// Position in the workspace's log (absent in manifests of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// Sync state entries that this commit sets (see the module docs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub state: StateEntries,
    /// True for a checkpoint within an export, false for its last commit.
    #[serde(default)]
    pub checkpoint: bool,
}

impl Manifest {
    /// Where the manifest numbered `sequence` of `workspace` lives.
    pub fn path(workspace: &str, sequence: u64) -> Path {
        numbered_path(MANIFEST_DIR, workspace, sequence)
    }
}

/// Which workspaces' logs to read.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Every workspace.
    All,
    /// These workspaces only.
    Workspaces(&'a [String]),
}

/// One workspace's log, as read.
#[derive(Debug, Clone)]
pub struct WorkspaceLog {
    /// The sequence number its next commit takes.
    pub next_sequence: u64,
    /// Its sync state, folded over the log.
    pub state: StateEntries,
    /// Sequence numbers missing below the newest: a manifest was deleted by hand.
    pub missing: Vec<u64>,
}

impl Default for WorkspaceLog {
    /// An empty log: its first commit is number 1.
    fn default() -> Self {
        WorkspaceLog {
            next_sequence: 1,
            state: StateEntries::new(),
            missing: Vec::new(),
        }
    }
}

/// The committed history of a destination.
#[derive(Debug, Default)]
pub struct History {
    /// Every manifest read, in order.
    pub manifests: Vec<Manifest>,
    /// Live files with what the manifest that added them says of them.
    pub live: BTreeMap<String, FileEntry>,
    /// Per workspace read.
    pub workspaces: BTreeMap<String, WorkspaceLog>,
}

impl History {
    /// The live data files of `table` in `workspace`, as paths from the root.
    pub fn live_files(&self, table: Table, workspace: &str) -> Vec<String> {
        live_files(&self.live, table, workspace)
    }
}

/// Entries of `files` (keyed by paths from the root) under `prefix`, in order.
pub(crate) fn entries_under<'a, V>(
    files: &'a BTreeMap<String, V>,
    prefix: &'a str,
) -> impl Iterator<Item = (&'a String, &'a V)> + 'a {
    files
        .range(prefix.to_string()..)
        .take_while(move |(path, _)| path.starts_with(prefix))
}

/// Keys of `files` (paths from the root) under `prefix`, in order.
pub(crate) fn paths_under<'a, V>(
    files: &'a BTreeMap<String, V>,
    prefix: &'a str,
) -> impl Iterator<Item = &'a String> + 'a {
    entries_under(files, prefix).map(|(path, _)| path)
}

/// The files of `table` in `workspace` among `live`.
pub(crate) fn live_files(
    live: &BTreeMap<String, FileEntry>,
    table: Table,
    workspace: &str,
) -> Vec<String> {
    let prefix = format!("{}/", workspace_dir(table, workspace));
    paths_under(live, &prefix).cloned().collect()
}

/// A manifest's place: `<run_id>.json` of earlier versions, or a workspace's numbered entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    Legacy(String),
    Logged(String, u64),
}

fn place(path: &Path) -> Option<Place> {
    let parts: Vec<&str> = path.as_ref().split('/').collect();
    match parts.as_slice() {
        [_, name] => Some(Place::Legacy(name.strip_suffix(".json")?.to_string())),
        [_, workspace, _] => Some(Place::Logged((*workspace).to_string(), number_of(path)?)),
        _ => None,
    }
}

impl History {
    /// Reads the manifests of `scope`: those of earlier versions first, then each workspace's
    /// log in sequence order. A manifest that cannot be read is an error naming it: nothing is
    /// decided on a partial history.
    pub async fn read(destination: &Destination, scope: Scope<'_>) -> Result<History, LoadError> {
        let mut places: Vec<(Place, Path)> = destination
            .list(&Path::from(MANIFEST_DIR))
            .await?
            .into_iter()
            .filter_map(|m| place(&m.location).map(|p| (p, m.location)))
            .filter(|(p, _)| match (p, scope) {
                (Place::Logged(ws, _), Scope::Workspaces(wanted)) => wanted.contains(ws),
                _ => true,
            })
            .collect();
        places.sort();
        let mut history = History::default();
        if let Scope::Workspaces(wanted) = scope {
            for workspace in wanted {
                history.workspaces.entry(workspace.clone()).or_default();
            }
        }
        // One GET per manifest: many at once (on S3 each waits tens of milliseconds), applied
        // in order.
        let mut fetched = futures::stream::iter(places)
            .map(|(place, path)| async move {
                let bytes = destination.get_opt(&path).await?;
                Ok::<_, LoadError>((place, path, bytes))
            })
            .buffered(CONCURRENT_READS);
        while let Some(result) = fetched.next().await {
            let (place, path, Some(bytes)) = result? else {
                continue;
            };
            let manifest: Manifest =
                serde_json::from_slice(&bytes).map_err(|e| LoadError::Destination {
                    destination: destination.display().to_string(),
                    message: format!(
                        "{}: not a bbpipe manifest: {e}; nothing was changed (restore or \
                         remove it)",
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
            if let Place::Logged(workspace, sequence) = place {
                let log = history.workspaces.entry(workspace).or_default();
                log.missing.extend(log.next_sequence..sequence);
                log.next_sequence = sequence + 1;
                log.state
                    .extend(manifest.state.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            history.manifests.push(manifest);
        }
        Ok(history)
    }
}

/// Data files present under the table directories (`part-*.parquet`).
pub async fn data_files(destination: &Destination) -> Result<BTreeSet<String>, LoadError> {
    let mut files = BTreeSet::new();
    for &table in Table::ALL {
        for meta in destination.list(&Path::from(table.name())).await? {
            let name = meta.location.filename().unwrap_or_default();
            if is_data_file(name) {
                files.insert(meta.location.to_string());
            }
        }
    }
    Ok(files)
}

/// Refuses a destination holding data files but no manifest at all: that is not a bbpipe
/// dataset, and nothing in it is touched.
pub async fn check_is_dataset(destination: &Destination) -> Result<(), LoadError> {
    // Every bbpipe writer takes a lease before writing a file: another export's lease, or a
    // manifest, makes this a bbpipe dataset even before its first commit.
    for marker in [MANIFEST_DIR, crate::dataset::lease::LEASE_DIR] {
        if !destination.is_empty(&Path::from(marker)).await? {
            return Ok(());
        }
    }
    let present = data_files(destination).await?;
    if present.is_empty() {
        return Ok(());
    }
    Err(LoadError::Destination {
        destination: destination.display().to_string(),
        message: format!(
            "holds Parquet files ({} and {} more) but no {MANIFEST_DIR}/: not a bbpipe \
             dataset; refusing to write into it",
            present.iter().next().map(String::as_str).unwrap_or(""),
            present.len().saturating_sub(1)
        ),
    })
}

/// Data files of `workspace` that no manifest keeps live and that were last modified before
/// `before` (the store's time at which the caller took the workspace's lease), less `keep`.
/// Called only after the caller committed under that lease: no writer that started before it
/// can commit any more (its manifest number is taken), so these files can never become live.
pub async fn orphans(
    destination: &Destination,
    workspace: &str,
    live: &BTreeMap<String, FileEntry>,
    keep: &BTreeSet<String>,
    before: DateTime<Utc>,
) -> Result<Vec<Path>, LoadError> {
    let mut found = Vec::new();
    for &table in Table::ALL {
        let prefix = Path::from(workspace_dir(table, workspace));
        for meta in destination.list(&prefix).await? {
            let name = meta.location.filename().unwrap_or_default();
            let path = meta.location.to_string();
            if is_data_file(name)
                && !live.contains_key(&path)
                && !keep.contains(&path)
                && meta.last_modified < before
            {
                found.push(meta.location);
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destination::StoreOptions;

    /// Recovery removes only what no manifest names and no live writer can still commit.
    #[tokio::test]
    async fn orphans_are_only_old_unnamed_data_files_of_the_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let destination =
            Destination::open(dir.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
        let run = "pipeline_runs/workspace=acme/created_date=2026-01-01";
        let files = [
            (
                format!("{run}/part-live-0001.parquet"),
                "named by a manifest",
            ),
            (
                format!("{run}/part-ours-0001.parquet"),
                "written by this export",
            ),
            (format!("{run}/part-dead-0001.parquet"), "ORPHAN"),
            (
                "repositories/workspace=acme/part-dead-0001.parquet".into(),
                "ORPHAN",
            ),
            (format!("{run}/notes.txt"), "not a data file"),
            (
                "pipeline_runs/workspace=globex/created_date=2026-01-01/part-dead-0001.parquet"
                    .into(),
                "another workspace",
            ),
        ];
        for (path, _) in &files {
            destination
                .put(&Path::from(path.as_str()), bytes::Bytes::from_static(b"x"))
                .await
                .unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let before = Utc::now();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let late = format!("{run}/part-other-writer-0001.parquet");
        destination
            .put(&Path::from(late.as_str()), bytes::Bytes::from_static(b"x"))
            .await
            .unwrap();
        let live = BTreeMap::from([(
            files[0].0.clone(),
            FileEntry {
                path: files[0].0.clone(),
                rows: 1,
                bytes: 1,
            },
        )]);
        let keep = BTreeSet::from([files[1].0.clone()]);
        let mut found: Vec<String> = orphans(&destination, "acme", &live, &keep, before)
            .await
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        found.sort();
        let mut want: Vec<String> = files
            .iter()
            .filter(|(_, why)| *why == "ORPHAN")
            .map(|(path, _)| path.clone())
            .collect();
        want.sort();
        assert_eq!(
            found, want,
            "a file written after the lease was taken is not an orphan"
        );
    }
}
