//! Committing an export: the manifest first (the commit point), then the deletes.

use crate::destination::Destination;
use crate::error::LoadError;
use crate::failpoint::failpoint;
use crate::manifest::{FileEntry, Manifest, TableChanges};
use crate::ndjson::DeploymentsNdjson;
use crate::sink::LoadSummary;
use crate::writer::WrittenFile;
use bbpipe_model::{SCHEMA_VERSION, Table};
use chrono::{DateTime, Utc};
use object_store::path::Path;
use std::collections::BTreeMap;

/// Everything an export wrote, not yet committed.
pub struct StagedExport {
    pub(crate) destination: Destination,
    pub(crate) run_id: String,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) workspaces: Vec<String>,
    pub(crate) added: Vec<WrittenFile>,
    pub(crate) removed: Vec<(Table, FileEntry)>,
    pub(crate) ndjson: Option<DeploymentsNdjson>,
}

/// What the manifest says beyond the files.
#[derive(Debug, Clone, Default)]
pub struct CommitInfo {
    pub source: String,
    pub requests: u64,
}

impl StagedExport {
    /// Commits: writes the manifest (the commit point), deletes the files it replaced, then
    /// moves the NDJSON file into place.
    pub async fn commit(self, info: CommitInfo) -> Result<(LoadSummary, Manifest), LoadError> {
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
            run_id: self.run_id.clone(),
            started_at: self.started_at,
            finished_at: Utc::now(),
            workspaces: self.workspaces,
            tool: "bbpipe".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            schema_version: SCHEMA_VERSION,
            source: info.source,
            requests: info.requests,
            tables,
        };
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| LoadError::Destination {
            destination: self.destination.display().to_string(),
            message: e.to_string(),
        })?;
        self.destination
            .put(&Manifest::path(&self.run_id), json)
            .await?;
        failpoint("after-manifest");
        for (_, entry) in &self.removed {
            self.destination
                .delete(&Path::from(entry.path.as_str()))
                .await?;
        }
        if let Some(ndjson) = self.ndjson {
            ndjson.commit()?;
        }
        let summary = LoadSummary {
            files: self.added,
            replaced: self.removed.len() as u64,
        };
        Ok((summary, manifest))
    }
}
