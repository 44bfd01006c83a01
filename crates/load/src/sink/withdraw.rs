//! Rows withdrawn by the value of one column, at the next commit: the commits of a deployment
//! that is no longer a successful one (its rule is gone, its re-run failed), and rejected runs
//! read again in a good version.

use super::ParquetSink;
use crate::dataset::reader::read_file;
use crate::error::LoadError;
use crate::write::merge::merge_partition;
use arrow::array::{AsArray, BooleanArray};
use arrow::compute::filter_record_batch;
use bbpipe_model::{PartitionKey, Table, workspace_dir};
use object_store::path::Path;
use std::collections::HashSet;

/// Rows of one table and workspace to remove: those whose `column` holds one of `values`.
#[derive(Debug)]
pub(super) struct Withdrawal {
    pub(super) table: Table,
    pub(super) workspace: String,
    pub(super) column: &'static str,
    pub(super) values: HashSet<String>,
}

impl ParquetSink {
    /// Removes at the next commit every row of `table` in `workspace` whose group column
    /// ([`Table::group_column`]) holds one of `groups`.
    pub fn withdrawing(mut self, table: Table, workspace: &str, groups: HashSet<String>) -> Self {
        if let Some(column) = table.group_column()
            && !groups.is_empty()
        {
            self.withdrawals.push(Withdrawal {
                table,
                workspace: workspace.to_string(),
                column,
                values: groups,
            });
        }
        self
    }

    /// Rewrites the files that hold withdrawn rows, without them.
    pub(super) async fn drop_withdrawn(&mut self) -> Result<(), LoadError> {
        for withdrawal in std::mem::take(&mut self.withdrawals) {
            let Withdrawal {
                table,
                workspace,
                column: group,
                values: groups,
            } = withdrawal;
            let prefix = format!("{}/", workspace_dir(table, &workspace));
            for (path, committed) in self.current_files(&prefix) {
                let file = Path::from(path.as_str());
                let mut kept = Vec::new();
                let mut dropped = 0u64;
                for batch in read_file(&self.destination, table, &workspace, &file).await? {
                    let column = batch
                        .column_by_name(group)
                        .and_then(|c| c.as_string_opt::<i32>())
                        .ok_or_else(|| LoadError::Batch {
                            table: table.name(),
                            message: format!("column {group} is missing or not text"),
                        })?;
                    let keep: BooleanArray = column
                        .iter()
                        .map(|value| Some(!value.is_some_and(|v| groups.contains(v))))
                        .collect();
                    dropped += keep.false_count() as u64;
                    kept.push(filter_record_batch(&batch, &keep).map_err(LoadError::arrow(table))?);
                }
                if dropped == 0 {
                    continue;
                }
                let key = PartitionKey::of_path(&path).ok_or_else(|| LoadError::Corrupt {
                    path: self.destination.describe(&file),
                    message: "not in a partition directory".into(),
                })?;
                tracing::debug!(file = %file, dropped, "withdrawn rows removed");
                let (rows, _) = merge_partition(table, &kept)?;
                // Withdrawn, not older versions: not counted as duplicates dropped.
                self.replace(&key, vec![(path, committed)], rows, 0).await?;
            }
        }
        Ok(())
    }
}
