//! What the `rejects` table holds for the workspaces a sink writes, and which of those runs
//! arrived in a good version during this export (their rejects are then dropped).

use crate::dataset::manifest::FileEntry;
use crate::dataset::reader::read_columns;
use crate::destination::Destination;
use crate::error::LoadError;
use arrow::array::{Array, AsArray, RecordBatch};
use bbpipe_model::workspace_of;
use bbpipe_model::{Table, TableBatch, run_reject_id};
use object_store::path::Path;
use std::collections::{BTreeMap, HashSet};

/// The rejects of the workspaces written, read once when the sink opens.
#[derive(Default)]
pub(crate) struct Rejects {
    /// Per workspace, the reject ids held.
    held: BTreeMap<String, HashSet<String>>,
    /// Per workspace, the (repository uuid, run uuid) of the rejects that have both.
    runs: BTreeMap<String, Vec<(String, String)>>,
    /// Per workspace, held rejects whose run arrived in a good version.
    resolved: BTreeMap<String, HashSet<String>>,
}

fn column<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a arrow::array::StringArray, LoadError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| LoadError::Batch {
            table: "rejects",
            message: format!("no text column {name}"),
        })
}

impl Rejects {
    /// Reads the live `rejects` files of the workspaces `writes` accepts.
    pub(crate) async fn read(
        destination: &Destination,
        live: &BTreeMap<String, FileEntry>,
        writes: impl Fn(&str) -> bool,
    ) -> Result<Rejects, LoadError> {
        let mut rejects = Rejects::default();
        let prefix = format!("{}/", Table::Rejects.name());
        let files = live
            .range(prefix.clone()..)
            .take_while(|(path, _)| path.starts_with(&prefix))
            .map(|(path, _)| path.as_str())
            .filter(|path| writes(workspace_of(path)));
        for path in files {
            let workspace = workspace_of(path).to_string();
            let columns = ["reject_id", "repo_uuid", "run_uuid"];
            let batches = read_columns(
                destination,
                Table::Rejects,
                &Path::from(path),
                Some(&columns),
            )
            .await?;
            for batch in batches {
                let (ids, repos, uuids) = (
                    column(&batch, "reject_id")?,
                    column(&batch, "repo_uuid")?,
                    column(&batch, "run_uuid")?,
                );
                for i in 0..batch.num_rows() {
                    rejects
                        .held
                        .entry(workspace.clone())
                        .or_default()
                        .insert(ids.value(i).to_string());
                    if repos.is_valid(i) && uuids.is_valid(i) {
                        rejects
                            .runs
                            .entry(workspace.clone())
                            .or_default()
                            .push((repos.value(i).to_string(), uuids.value(i).to_string()));
                    }
                }
            }
        }
        Ok(rejects)
    }

    /// The rejected runs of `workspace`, as (repository uuid, run uuid).
    pub(crate) fn runs(&self, workspace: &str) -> Vec<(String, String)> {
        self.runs.get(workspace).cloned().unwrap_or_default()
    }

    /// Notes held rejects whose run arrives in `batch` (pipeline runs) in a good version.
    pub(crate) fn note(&mut self, batch: &TableBatch) -> Result<(), LoadError> {
        let Some(held) = self.held.get(&batch.workspace).filter(|h| !h.is_empty()) else {
            return Ok(());
        };
        let (repos, uuids) = (
            column(&batch.batch, "repo_uuid")?,
            column(&batch.batch, "uuid")?,
        );
        for i in 0..batch.batch.num_rows() {
            let id = run_reject_id(repos.value(i), uuids.value(i));
            if held.contains(&id) {
                self.resolved
                    .entry(batch.workspace.clone())
                    .or_default()
                    .insert(id);
            }
        }
        Ok(())
    }

    /// The rejects resolved since the last call, per workspace; they are no longer held.
    pub(crate) fn take_resolved(&mut self) -> BTreeMap<String, HashSet<String>> {
        let resolved = std::mem::take(&mut self.resolved);
        for (workspace, ids) in &resolved {
            if let Some(held) = self.held.get_mut(workspace) {
                held.retain(|id| !ids.contains(id));
            }
        }
        resolved
    }
}
