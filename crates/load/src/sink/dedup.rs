//! Rows that moved partition: a deployment re-run completes on another day, so its newer
//! version can land in another `deployed_month` (or `deployed_date`) partition. After staging,
//! each such table keeps one row per key across the partitions of a workspace: the newest
//! version.

use super::ParquetSink;
use crate::dataset::manifest::CONCURRENT_READS;
use crate::dataset::reader::{read_columns, read_file};
use crate::error::LoadError;
use crate::write::merge::{merge_partition, newest_versions};
use arrow::array::{AsArray, RecordBatch};
use arrow::compute::filter_record_batch;
use bbpipe_model::{PartitionKey, Table, workspace_dir};
use futures::StreamExt;
use object_store::path::Path;
use std::collections::{BTreeMap, HashSet};

impl ParquetSink {
    /// Keeps one row per key across the partitions of `table` in `workspace`: the newest
    /// version. Only tables whose rows can change partition need this.
    pub(super) async fn dedup_moved_rows(
        &mut self,
        table: Table,
        workspace: &str,
    ) -> Result<(), LoadError> {
        let prefix = format!("{}/", workspace_dir(table, workspace));
        if !self.added.keys().any(|p| p.starts_with(&prefix)) {
            return Ok(());
        }
        let files = self.current_files(&prefix);
        if files.len() < 2 {
            return Ok(());
        }
        let mut columns: Vec<&str> = table.key_columns().to_vec();
        columns.extend(table.version_columns());
        // Committed files first, this export's last: on equal versions the new rows win.
        let mut parts = Vec::new();
        // The file each part was read from.
        let mut owner = Vec::new();
        let reads: Vec<(usize, Path)> = files
            .iter()
            .enumerate()
            .map(|(i, (path, _))| (i, Path::from(path.as_str())))
            .collect();
        let mut read = futures::stream::iter(reads)
            .map(|(index, path)| {
                let (destination, columns) = (self.destination.clone(), columns.clone());
                async move {
                    let batches = read_columns(&destination, table, &path, Some(&columns)).await;
                    batches.map(|b| (index, b))
                }
            })
            .buffered(CONCURRENT_READS);
        while let Some(result) = read.next().await {
            let (index, batches) = result?;
            self.activity.moved();
            owner.extend(std::iter::repeat_n(index, batches.len()));
            parts.extend(batches);
        }
        drop(read);
        let bad = LoadError::arrow(table);
        let losers = older_versions(table, &parts, &owner)?;
        for (index, drop_keys) in losers {
            let (path, committed) = files[index].clone();
            let key = PartitionKey::of_path(&path).ok_or_else(|| LoadError::Corrupt {
                path: self.destination.describe(&Path::from(path.as_str())),
                message: "not in a partition directory".into(),
            })?;
            let path = Path::from(path.as_str());
            let mut kept = Vec::new();
            for batch in read_file(&self.destination, table, workspace, &path).await? {
                let keep: arrow::array::BooleanArray = row_keys(table, &batch)?
                    .iter()
                    .map(|key| Some(!drop_keys.contains(key)))
                    .collect();
                kept.push(filter_record_batch(&batch, &keep).map_err(bad)?);
            }
            tracing::debug!(file = %path, moved = drop_keys.len(), "rows moved to another partition");
            let (rows, _) = merge_partition(table, &kept)?;
            self.replace(
                &key,
                vec![(path.to_string(), committed)],
                rows,
                drop_keys.len() as u64,
            )
            .await?;
        }
        Ok(())
    }
}

/// The files holding an older version of a key than another file, with those keys: `parts`
/// are the key and version columns of every file (committed files first, this export's last,
/// so that on equal versions the new rows win), `owner[i]` the file part `i` came from.
fn older_versions(
    table: Table,
    parts: &[RecordBatch],
    owner: &[usize],
) -> Result<BTreeMap<usize, HashSet<String>>, LoadError> {
    let winners: HashSet<(usize, usize)> = newest_versions(table, parts)
        .map_err(LoadError::arrow(table))?
        .into_iter()
        .collect();
    let mut losers: BTreeMap<usize, HashSet<String>> = BTreeMap::new();
    for (part, batch) in parts.iter().enumerate() {
        let keys = row_keys(table, batch)?;
        for row in (0..batch.num_rows()).filter(|&row| !winners.contains(&(part, row))) {
            losers
                .entry(owner[part])
                .or_default()
                .insert(keys[row].clone());
        }
    }
    Ok(losers)
}

/// Each row's key as one string: the table's key columns, found by name (a file's columns
/// need not be in schema order), joined by a separator no key contains.
fn row_keys(table: Table, batch: &RecordBatch) -> Result<Vec<String>, LoadError> {
    let columns = table
        .key_columns()
        .iter()
        .map(|name| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or_else(|| LoadError::Batch {
                    table: table.name(),
                    message: format!("key column {name} is missing or not text"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((0..batch.num_rows())
        .map(|row| {
            let parts: Vec<&str> = columns.iter().map(|c| c.value(row)).collect();
            parts.join("\u{1f}")
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use std::sync::Arc;

    fn batch(columns: &[(&str, ArrayRef)]) -> RecordBatch {
        RecordBatch::try_from_iter(columns.iter().map(|(n, c)| (*n, Arc::clone(c)))).unwrap()
    }

    #[test]
    fn row_keys_are_read_by_name_in_key_order() {
        let text = |v: &[&str]| -> ArrayRef { Arc::new(StringArray::from(v.to_vec())) };
        // pipeline_runs is keyed by (repo_uuid, uuid); neither is the first column here.
        let runs = batch(&[
            ("build_number", Arc::new(Int64Array::from(vec![1, 2]))),
            ("uuid", text(&["{r1}", "{r2}"])),
            ("repo_uuid", text(&["{a}", "{b}"])),
        ]);
        assert_eq!(
            row_keys(Table::PipelineRuns, &runs).unwrap(),
            ["{a}\u{1f}{r1}", "{b}\u{1f}{r2}"]
        );
        let no_key = batch(&[("uuid", text(&["{r1}"]))]);
        let error = row_keys(Table::PipelineRuns, &no_key).unwrap_err();
        assert!(error.to_string().contains("repo_uuid"), "{error}");
        let not_text = batch(&[(
            "reference_id",
            Arc::new(Int64Array::from(vec![7])) as ArrayRef,
        )]);
        assert!(row_keys(Table::Deployments, &not_text).is_err());
    }

    /// Deployment versions as files hold them: (reference_id, run_number, exported_at).
    fn deployments(rows: &[(&str, Option<i64>, i64)]) -> RecordBatch {
        let ids: ArrayRef = Arc::new(StringArray::from(
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        ));
        let runs: ArrayRef = Arc::new(Int64Array::from(
            rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        ));
        let exported: ArrayRef = Arc::new(
            arrow::array::TimestampMicrosecondArray::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        );
        batch(&[
            ("reference_id", ids),
            ("run_number", runs),
            ("exported_at", exported),
        ])
    }

    #[test]
    fn the_older_version_of_a_moved_row_is_dropped_from_its_file() {
        type Case = (
            &'static str,
            Vec<Vec<(&'static str, Option<i64>, i64)>>,
            Vec<(usize, Vec<&'static str>)>,
        );
        let cases: Vec<Case> = vec![
            (
                "a re-run in a later file wins",
                vec![
                    vec![("d1", Some(1), 10), ("d2", Some(1), 10)],
                    vec![("d1", Some(2), 20)],
                ],
                vec![(0, vec!["d1"])],
            ),
            (
                "a re-run in an earlier file wins over a stale later read",
                vec![vec![("d1", Some(2), 10)], vec![("d1", Some(1), 20)]],
                vec![(1, vec!["d1"])],
            ),
            (
                "equal versions: the later file (this export's) wins",
                vec![vec![("d1", Some(1), 10)], vec![("d1", Some(1), 10)]],
                vec![(0, vec!["d1"])],
            ),
            (
                "a run number beats a null one",
                vec![vec![("d1", Some(1), 5)], vec![("d1", None, 50)]],
                vec![(1, vec!["d1"])],
            ),
            (
                "same run number: the later export time wins",
                vec![vec![("d1", Some(3), 30)], vec![("d1", Some(3), 20)]],
                vec![(1, vec!["d1"])],
            ),
            (
                "distinct keys: nothing to drop",
                vec![vec![("d1", Some(1), 10)], vec![("d2", Some(1), 10)]],
                vec![],
            ),
            (
                "three files, one key: both older ones lose",
                vec![
                    vec![("d1", Some(1), 1)],
                    vec![("d1", Some(2), 2)],
                    vec![("d1", Some(3), 3)],
                ],
                vec![(0, vec!["d1"]), (1, vec!["d1"])],
            ),
        ];
        for (name, files, want) in cases {
            let parts: Vec<RecordBatch> = files.iter().map(|rows| deployments(rows)).collect();
            let owner: Vec<usize> = (0..parts.len()).collect();
            let got = older_versions(Table::Deployments, &parts, &owner).unwrap();
            let want: BTreeMap<usize, HashSet<String>> = want
                .into_iter()
                .map(|(file, keys)| (file, keys.into_iter().map(String::from).collect()))
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }
}
