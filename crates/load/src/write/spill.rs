//! Spilling: rows that outgrow the memory budget wait in Arrow IPC files on local disk until
//! their partition is written. Each file is a sorted input (merged as it is written), read back a
//! batch at a time, so memory stays flat however large the workspace and its partitions; each
//! spilled row is written and read once more, at memory speed. Files go with the [`Spill`].

use crate::error::LoadError;
use crate::write::merge::Merged;
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use arrow::record_batch::RecordBatch;
use bbpipe_model::Table;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;

/// A private temporary directory (under `TMPDIR`), removed when dropped.
pub struct Spill {
    dir: tempfile::TempDir,
    files: u64,
}

fn io_error(path: &std::path::Path, e: impl std::fmt::Display) -> LoadError {
    LoadError::Corrupt {
        path: path.display().to_string(),
        message: format!("spill file: {e}"),
    }
}

impl Spill {
    pub fn new() -> Result<Spill, LoadError> {
        let dir = tempfile::Builder::new()
            .prefix("bbpipe-spill-")
            .tempdir()
            .map_err(|e| io_error(&std::env::temp_dir(), e))?;
        Ok(Spill { dir, files: 0 })
    }

    /// Merges `batches` of one partition of `table` (newest version of each key, in merge
    /// order: a sorted input) and writes them to a new file, on a blocking thread (the caller is
    /// an async task, which may run on a current-thread runtime). Returns the file and the
    /// older versions dropped.
    pub async fn write(
        &mut self,
        table: Table,
        batches: Vec<RecordBatch>,
    ) -> Result<(PathBuf, u64), LoadError> {
        self.files += 1;
        let path = self.dir.path().join(format!("{:06}.arrow", self.files));
        let target = path.clone();
        let duplicates = tokio::task::spawn_blocking(move || {
            let merged = Merged::new(table, batches)?;
            write(&target, table, &merged)?;
            Ok::<_, LoadError>(merged.duplicates)
        })
        .await
        .map_err(|e| io_error(&path, e))??;
        Ok((path, duplicates))
    }
}

/// Rows per batch in a spill file: what a merge reads back at a time.
const SPILL_BATCH_ROWS: usize = 2048;

fn write(path: &std::path::Path, table: Table, rows: &Merged) -> Result<(), LoadError> {
    let file = File::create(path).map_err(|e| io_error(path, e))?;
    let mut writer = FileWriter::try_new(BufWriter::new(file), &table.schema())
        .map_err(|e| io_error(path, e))?;
    for batch in rows.batches(SPILL_BATCH_ROWS) {
        writer.write(&batch?).map_err(|e| io_error(path, e))?;
    }
    writer.finish().map_err(|e| io_error(path, e))
}

/// Reads a spill file back a batch at a time.
pub fn open(
    path: &std::path::Path,
) -> Result<impl Iterator<Item = Result<RecordBatch, LoadError>> + Send + use<>, LoadError> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    let reader = FileReader::try_new(BufReader::new(file), None).map_err(|e| io_error(path, e))?;
    let path = path.to_path_buf();
    Ok(reader.map(move |batch| batch.map_err(|e| io_error(&path, e))))
}

/// Reads a spill file back whole.
pub fn read(path: &std::path::Path) -> Result<Vec<RecordBatch>, LoadError> {
    open(path)?.collect()
}
