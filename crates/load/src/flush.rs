//! Writing one partition: read what it holds, merge in the new rows off the async threads,
//! upload the result unless nothing changed.

use crate::destination::Destination;
use crate::error::LoadError;
use crate::reader::read_file;
use crate::spill;
use crate::writer::{WrittenFile, encode, merge_partition, upload};
use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use bbpipe_model::PartitionKey;
use bbpipe_model::Table;
use object_store::path::Path;

/// One partition to write: its new rows, the files it holds now, the path of its next file.
pub(crate) struct FlushJob {
    pub(crate) key: PartitionKey,
    pub(crate) existing: Vec<(String, bool)>,
    /// Spill files of the partition, older than `batches`.
    pub(crate) spilled: Vec<std::path::PathBuf>,
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
            existing,
            spilled,
            batches,
            path,
        } = self;
        let mut before = Vec::new();
        // Existing rows are merged (snapshots are only compared), so they are read when they
        // matter: to merge, or to tell an unchanged single file.
        if key.table.merges_existing() || matches!(existing.as_slice(), [(_, true)]) {
            for (file, _) in &existing {
                let file = Path::from(file.as_str());
                before.extend(read_file(destination, key.table, &key.workspace, &file).await?);
            }
        }
        let (table, single_committed) = (key.table, matches!(existing.as_slice(), [(_, true)]));
        let shown = destination.describe(&path);
        // Merge and encode in one trip to the blocking pool: one hand-off per partition.
        let work = move || -> Result<Merged, LoadError> {
            let mut parts = if table.merges_existing() {
                before.clone()
            } else {
                Vec::new()
            };
            for file in &spilled {
                parts.extend(spill::read(file)?);
            }
            parts.extend(batches);
            let (rows, duplicates) = merge_partition(table, &parts)?;
            drop(parts);
            let unchanged = single_committed
                && concat_batches(&table.schema(), &before).is_ok_and(|before| before == rows);
            let encoded = if unchanged || rows.num_rows() == 0 {
                None
            } else {
                Some(encode(table, &rows).map_err(|source| LoadError::Parquet {
                    path: shown,
                    source,
                })?)
            };
            Ok(Merged {
                rows: wants_rows.then_some(rows),
                duplicates,
                unchanged,
                encoded,
            })
        };
        let merged = tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| LoadError::Batch {
                table: key.table.name(),
                message: e.to_string(),
            })??;
        if merged.unchanged {
            return Ok(Flushed {
                key,
                existing,
                written: None,
                rows: merged.rows,
            });
        }
        let mut written = WrittenFile {
            table: key.table,
            path: path.clone(),
            rows: 0,
            bytes: 0,
            duplicates_dropped: merged.duplicates,
        };
        if let Some((bytes, file_rows)) = merged.encoded {
            written.bytes = bytes.len() as u64;
            written.rows = file_rows;
            upload(destination, &path, bytes, part_bytes).await?;
        }
        Ok(Flushed {
            key,
            existing,
            written: Some(written),
            rows: merged.rows,
        })
    }
}

/// A partition's rows after the merge, and the file that holds them.
struct Merged {
    rows: Option<RecordBatch>,
    duplicates: u64,
    unchanged: bool,
    /// The Parquet file and its row count; none when unchanged or empty.
    encoded: Option<(bytes::Bytes, u64)>,
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
