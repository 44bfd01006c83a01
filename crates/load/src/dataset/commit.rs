//! Committing a workspace: its next manifest first (the commit point, create-only), then the
//! deletes of the files it replaced.

use crate::dataset::manifest::{FileEntry, Manifest, StateEntries, TableChanges};
use crate::destination::Destination;
use crate::error::LoadError;
use crate::failpoint::failpoint;
use crate::write::parquet::WrittenFile;
use bbpipe_model::{SCHEMA_VERSION, Table};
use chrono::{DateTime, Utc};
use object_store::path::Path;
use std::collections::BTreeMap;

/// What the manifests of an export say beyond the files.
#[derive(Debug, Clone, Default)]
pub struct CommitInfo {
    /// Where the pages came from: an API base URL or a fixture directory.
    pub source: String,
    /// Requests made to the API so far.
    pub requests: u64,
}

/// One workspace's changes, ready to commit.
pub(crate) struct WorkspaceCommit<'a> {
    pub(crate) workspace: &'a str,
    pub(crate) sequence: u64,
    pub(crate) run_id: &'a str,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) added: Vec<&'a WrittenFile>,
    pub(crate) removed: Vec<&'a (Table, FileEntry)>,
    pub(crate) state: StateEntries,
    pub(crate) checkpoint: bool,
    /// Delete the replaced files once the manifest is durable: false for Delta tables, whose
    /// older versions still reference them (`bbpipe vacuum` removes them later).
    pub(crate) delete_replaced: bool,
}

impl WorkspaceCommit<'_> {
    /// Writes the manifest create-only (the commit point), then deletes the files it replaced
    /// (unless told to keep them).
    /// Another writer having taken the same sequence number is a [`LoadError::Conflict`]:
    /// nothing is committed and nothing deleted.
    pub(crate) async fn run(
        self,
        destination: &Destination,
        info: &CommitInfo,
    ) -> Result<Manifest, LoadError> {
        let mut tables: BTreeMap<String, TableChanges> = BTreeMap::new();
        for file in &self.added {
            tables
                .entry(file.table.name().to_string())
                .or_default()
                .added
                .push(FileEntry {
                    path: file.path.to_string(),
                    rows: file.rows,
                    bytes: file.bytes,
                });
        }
        for (table, entry) in &self.removed {
            tables
                .entry(table.name().to_string())
                .or_default()
                .removed
                .push(entry.clone());
        }
        let manifest = Manifest {
            run_id: self.run_id.to_string(),
            started_at: self.started_at,
            finished_at: Utc::now(),
            workspaces: vec![self.workspace.to_string()],
            tool: "bbpipe".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            schema_version: SCHEMA_VERSION,
            source: info.source.clone(),
            requests: info.requests,
            tables,
            sequence: Some(self.sequence),
            state: self.state,
            checkpoint: self.checkpoint,
        };
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| LoadError::Destination {
            destination: destination.display().to_string(),
            message: e.to_string(),
        })?;
        let path = Manifest::path(self.workspace, self.sequence);
        // The data files must be durable before a manifest names them...
        destination.sync().await?;
        if !destination.put_create(&path, json).await? {
            return Err(LoadError::Conflict {
                workspace: self.workspace.to_string(),
                path: destination.describe(&path),
            });
        }
        // ... and the manifest before anything it replaced is deleted.
        destination.sync().await?;
        failpoint("after-manifest");
        for (_, entry) in self.removed.iter().filter(|_| self.delete_replaced) {
            destination.delete(&Path::from(entry.path.as_str())).await?;
        }
        Ok(manifest)
    }
}
