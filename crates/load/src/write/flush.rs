//! Writing one partition: read what it holds, merge in the new rows off the async threads,
//! upload the result unless nothing changed.

use crate::dataset::reader::fetch;
use crate::destination::Destination;
use crate::error::LoadError;
use crate::write::merge::{Merged, merge_partition};
use crate::write::parquet::{FileEncoder, WrittenFile, encode, upload};
use crate::write::sorted_inputs::{SortedInput, merge_sorted};
use crate::write::spill;
use crate::write::upload_stream::{self, Parts};
use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use bbpipe_model::PartitionKey;
use bbpipe_model::Table;
use object_store::path::Path;

/// One partition to write: its new rows, the files it holds now, the path of its next file.
pub(crate) struct FlushJob {
    pub(crate) key: PartitionKey,
    /// Whether the partition's committed rows are merged with the new (else replaced by them).
    pub(crate) merge_existing: bool,
    pub(crate) existing: Vec<(String, bool)>,
    /// Spill files of the partition, older than `batches`.
    pub(crate) spilled: Vec<std::path::PathBuf>,
    /// Older versions dropped while spilling them.
    pub(crate) spilled_duplicates: u64,
    pub(crate) batches: Vec<RecordBatch>,
    pub(crate) path: Path,
}

/// A partition written (or found unchanged).
pub(crate) struct Flushed {
    pub(crate) key: PartitionKey,
    pub(crate) existing: Vec<(String, bool)>,
    /// None when the partition's committed file already held exactly these rows.
    pub(crate) written: Option<WrittenFile>,
    /// The merged rows, when the caller needs them (NDJSON).
    pub(crate) rows: Option<RecordBatch>,
}

impl FlushJob {
    /// Reads what the partition holds, merges in the new rows (CPU work off the async threads),
    /// and uploads the result unless nothing changed.
    pub(crate) async fn run(
        self,
        destination: &Destination,
        part_bytes: usize,
        wants_rows: bool,
    ) -> Result<Flushed, LoadError> {
        let FlushJob {
            key,
            merge_existing,
            existing,
            spilled,
            spilled_duplicates,
            batches,
            path,
        } = self;
        let table = key.table;
        let single_committed = matches!(existing.as_slice(), [(_, true)]);
        // Existing rows are merged (snapshots are only compared), so they are read when they
        // matter: to merge, or to tell an unchanged single file. Fetched whole and compressed;
        // decoded on the blocking pool.
        let mut files = Vec::new();
        if merge_existing || single_committed {
            for (file, _) in &existing {
                let file = Path::from(file.as_str());
                let shown = destination.describe(&file);
                let bytes = fetch(destination, &file).await?;
                files.push(SortedInput::File { shown, bytes });
            }
        }
        let spill_files = spilled.clone();
        // A partition merged as a stream is large: its file goes up as it is encoded.
        let streamed = streams(table, merge_existing, wants_rows, &spilled, &files);
        let (parts, streaming) = match streamed {
            true => {
                let (parts, streaming) = upload_stream::start(destination, &path, part_bytes);
                (Some(parts), Some(streaming))
            }
            false => (None, None),
        };
        let inputs = Inputs {
            table,
            merge_existing,
            workspace: key.workspace.clone(),
            files,
            spilled,
            batches,
            single_committed,
            wants_rows,
            shown: destination.describe(&path),
            parts,
        };
        // Merge and encode in one trip to the blocking pool: one hand-off per partition.
        let merged = tokio::task::spawn_blocking(move || inputs.merge())
            .await
            .map_err(|e| LoadError::Batch {
                table: table.name(),
                message: e.to_string(),
            })?;
        // A store error stops the encoder with a broken pipe: the store's error is the cause.
        if let Some(streaming) = streaming {
            streaming.done().await?;
        }
        let merged = merged?;
        for file in &spill_files {
            let _ = std::fs::remove_file(file);
        }
        if merged.unchanged {
            return Ok(Flushed {
                key,
                existing,
                written: None,
                rows: merged.rows,
            });
        }
        let mut written = WrittenFile {
            table,
            path: path.clone(),
            rows: 0,
            bytes: 0,
            duplicates_dropped: merged.duplicates + spilled_duplicates,
        };
        match merged.encoded {
            Some(Encoded::InMemory(bytes, file_rows)) => {
                written.bytes = bytes.len() as u64;
                written.rows = file_rows;
                upload(destination, &path, bytes, part_bytes).await?;
            }
            Some(Encoded::Uploaded { bytes, rows }) => {
                (written.bytes, written.rows) = (bytes, rows)
            }
            None => {}
        }
        Ok(Flushed {
            key,
            existing,
            written: Some(written),
            rows: merged.rows,
        })
    }
}

/// Everything a partition's merge reads, moved to the blocking pool.
struct Inputs {
    table: Table,
    merge_existing: bool,
    workspace: String,
    /// The partition's files ([`SortedInput::File`]), oldest first.
    files: Vec<SortedInput>,
    spilled: Vec<std::path::PathBuf>,
    batches: Vec<RecordBatch>,
    single_committed: bool,
    wants_rows: bool,
    /// The new file, as shown in errors.
    shown: String,
    /// Where a streamed merge's file goes as it is encoded.
    parts: Option<Parts>,
}

/// Large partitions (spilled, or merged with their files) are merged as a stream when the
/// table allows it; the rows themselves are then never all in memory, nor is their file.
fn streams(
    table: Table,
    merge_existing: bool,
    wants_rows: bool,
    spilled: &[std::path::PathBuf],
    files: &[SortedInput],
) -> bool {
    table.merges_as_stream()
        && merge_existing
        && !wants_rows
        && (!spilled.is_empty() || !files.is_empty())
}

impl Inputs {
    fn merge(mut self) -> Result<Outcome, LoadError> {
        let shown = self.shown.clone();
        let parquet = |source| LoadError::Parquet {
            path: shown.clone(),
            source,
        };
        if let Some(parts) = self.parts.take() {
            let new_rows = Merged::new(self.table, self.batches.clone())?;
            let duplicates = new_rows.duplicates;
            let mut inputs: Vec<&SortedInput> = self.files.iter().collect();
            let spills: Vec<SortedInput> = self
                .spilled
                .iter()
                .cloned()
                .map(SortedInput::Spill)
                .collect();
            inputs.extend(&spills);
            let new_rows = SortedInput::Rows(new_rows);
            inputs.push(&new_rows);
            let mut encoder = FileEncoder::into(self.table, parts).map_err(parquet)?;
            let mut emit = |batch: RecordBatch| encoder.write(&batch).map_err(parquet);
            if let Some(streamed) = merge_sorted(self.table, &self.workspace, &inputs, &mut emit)? {
                let unchanged = self.single_committed && streamed.same_as_first;
                // Dropping the encoder unfinished aborts the upload: nothing is written.
                let encoded = if unchanged || streamed.rows == 0 {
                    None
                } else {
                    let (parts, rows) = encoder.close().map_err(parquet)?;
                    let bytes = parts.finish().map_err(|source| LoadError::File {
                        path: shown.clone(),
                        source,
                    })?;
                    Some(Encoded::Uploaded { bytes, rows })
                };
                return Ok(Outcome {
                    rows: None,
                    duplicates: duplicates + streamed.duplicates,
                    unchanged,
                    encoded,
                });
            }
            tracing::debug!(file = %self.shown, "keys met apart: merging the partition in memory");
        }
        self.merge_in_memory()
    }

    fn merge_in_memory(self) -> Result<Outcome, LoadError> {
        let mut before = Vec::new();
        for file in &self.files {
            for batch in file.open(self.table, &self.workspace)? {
                before.push(batch?);
            }
        }
        let mut parts = if self.merge_existing {
            before.clone()
        } else {
            Vec::new()
        };
        for file in &self.spilled {
            parts.extend(spill::read(file)?);
        }
        parts.extend(self.batches);
        let (rows, duplicates) = merge_partition(self.table, &parts)?;
        drop(parts);
        let unchanged = self.single_committed
            && concat_batches(&self.table.schema(), &before).is_ok_and(|before| before == rows);
        let encoded = if unchanged || rows.num_rows() == 0 {
            None
        } else {
            let (bytes, file_rows) =
                encode(self.table, &rows).map_err(|source| LoadError::Parquet {
                    path: self.shown.clone(),
                    source,
                })?;
            Some(Encoded::InMemory(bytes, file_rows))
        };
        Ok(Outcome {
            rows: self.wants_rows.then_some(rows),
            duplicates,
            unchanged,
            encoded,
        })
    }
}

/// A partition's rows after the merge, and the file that holds them.
struct Outcome {
    rows: Option<RecordBatch>,
    duplicates: u64,
    unchanged: bool,
    /// The Parquet file; none when unchanged or empty.
    encoded: Option<Encoded>,
}

/// A partition's new file.
enum Encoded {
    /// Encoded in memory, to be uploaded: its bytes and rows.
    InMemory(bytes::Bytes, u64),
    /// Already uploaded as it was encoded (a streamed merge): its size and rows.
    Uploaded { bytes: u64, rows: u64 },
}

/// Encodes rows (off the async threads) and uploads them as one file; an empty set of rows
/// writes nothing.
pub(crate) async fn write_rows(
    destination: &Destination,
    table: Table,
    rows: RecordBatch,
    path: Path,
    part_bytes: usize,
) -> Result<WrittenFile, LoadError> {
    let empty = WrittenFile {
        table,
        path: path.clone(),
        rows: 0,
        bytes: 0,
        duplicates_dropped: 0,
    };
    if rows.num_rows() == 0 {
        return Ok(empty);
    }
    let shown = destination.describe(&path);
    let (bytes, file_rows) = tokio::task::spawn_blocking(move || encode(table, &rows))
        .await
        .map_err(|e| LoadError::Batch {
            table: table.name(),
            message: format!("encoding {shown}: {e}"),
        })?
        .map_err(|source| LoadError::Parquet {
            path: shown,
            source,
        })?;
    let size = bytes.len() as u64;
    upload(destination, &path, bytes, part_bytes).await?;
    Ok(WrittenFile {
        rows: file_rows,
        bytes: size,
        ..empty
    })
}
