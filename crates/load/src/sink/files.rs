//! File bookkeeping: which committed files are live, which this export wrote, and which of
//! them a new file replaces.

use super::ParquetSink;
use crate::dataset::manifest::{Manifest, paths_under};
use crate::error::LoadError;
use crate::failpoint::failpoint;
use crate::write::flush::{FlushJob, Flushed, write_rows};
use crate::write::parquet::WrittenFile;
use arrow::array::RecordBatch;
use bbpipe_model::{PartitionKey, Table};
use object_store::path::Path;

impl ParquetSink {
    /// Committed and own files of one partition directory (or table/workspace prefix).
    pub(super) fn current_files(&self, prefix: &str) -> Vec<(String, bool)> {
        let committed = paths_under(&self.live, prefix).map(|path| (path.clone(), true));
        let ours = paths_under(&self.added, prefix).map(|path| (path.clone(), false));
        committed.chain(ours).collect()
    }

    /// Takes a partition's buffered rows out, with what it needs to be written on its own.
    pub(super) fn take_job(&mut self, key: PartitionKey) -> Option<FlushJob> {
        let buffer = self.buffers.remove(&key)?;
        self.buffered_bytes -= buffer.bytes;
        let existing = self.current_files(&format!("{}/", key.dir()));
        let path = self.next_path(&key);
        Some(FlushJob {
            merge_existing: key.table.merges_existing() && self.replacing != Some(key.table),
            key,
            existing,
            spilled: buffer.spilled,
            spilled_duplicates: buffer.spilled_duplicates,
            batches: buffer.batches,
            path,
        })
    }

    pub(super) fn next_path(&mut self, key: &PartitionKey) -> Path {
        let seq = self.files_per_partition.entry(key.clone()).or_default();
        *seq += 1;
        Path::from(key.file(&self.options.run_id, *seq))
    }

    /// Records a flushed partition: its new file, and the files it replaced.
    pub(super) async fn apply(&mut self, flushed: Flushed) -> Result<(), LoadError> {
        if let (Some(rows), Some(ndjson)) = (&flushed.rows, self.ndjson.as_mut())
            && flushed.key.table == Table::Deployments
        {
            ndjson.append(rows)?;
        }
        let Some(written) = flushed.written else {
            return Ok(()); // unchanged: the committed file stays
        };
        tracing::debug!(path = %written.path, rows = written.rows, "wrote");
        if written.rows > 0 {
            self.added.insert(written.path.to_string(), written);
            failpoint("after-file");
        }
        for (path, committed) in flushed.existing {
            if committed {
                if let Some(entry) = self.live.remove(&path) {
                    self.removed.insert(path, (flushed.key.table, entry));
                }
            } else if self.added.remove(&path).is_some() {
                // Our own, never committed: nobody can be reading it.
                self.destination.delete(&Path::from(path.as_str())).await?;
            }
        }
        Ok(())
    }

    /// Writes `rows` as the partition's new file and retires the files it replaces.
    pub(super) async fn replace(
        &mut self,
        key: &PartitionKey,
        existing: Vec<(String, bool)>,
        rows: RecordBatch,
        duplicates_dropped: u64,
    ) -> Result<(), LoadError> {
        let path = self.next_path(key);
        let written = write_rows(
            &self.destination,
            key.table,
            rows,
            path,
            self.options.upload_part_bytes,
        )
        .await?;
        let written = WrittenFile {
            duplicates_dropped,
            ..written
        };
        self.apply(Flushed {
            key: key.clone(),
            existing,
            written: Some(written),
            rows: None,
        })
        .await
    }

    /// The live set after a commit, and what the summary reports.
    pub(super) fn record_commit(&mut self, manifest: &Manifest) {
        for changes in manifest.tables.values() {
            for entry in &changes.removed {
                self.live.remove(&entry.path);
                if self.committed_files.remove(&entry.path).is_none() {
                    self.summary.replaced += 1;
                }
            }
            for entry in &changes.added {
                self.live.insert(entry.path.clone(), entry.clone());
                if let Some(file) = self.added.get(&entry.path) {
                    self.committed_files
                        .insert(entry.path.clone(), file.clone());
                }
            }
        }
    }
}
