//! Spilling: rows that outgrow the memory budget wait in Arrow IPC files on local disk until
//! their partition is written. Memory stays flat however large the workspace; each spilled row
//! is written and read once more, at memory speed.

use crate::error::LoadError;
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use arrow::record_batch::RecordBatch;
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

    /// Writes `batches` (all of one schema) to a new file, on a blocking thread: the caller is
    /// an async task, which may run on a current-thread runtime.
    pub async fn write(&mut self, batches: Vec<RecordBatch>) -> Result<PathBuf, LoadError> {
        self.files += 1;
        let path = self.dir.path().join(format!("{:06}.arrow", self.files));
        let target = path.clone();
        tokio::task::spawn_blocking(move || write(&target, &batches))
            .await
            .map_err(|e| io_error(&path, e))??;
        Ok(path)
    }
}

fn write(path: &std::path::Path, batches: &[RecordBatch]) -> Result<(), LoadError> {
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let file = File::create(path).map_err(|e| io_error(path, e))?;
    let mut writer = FileWriter::try_new(BufWriter::new(file), &first.schema())
        .map_err(|e| io_error(path, e))?;
    for batch in batches {
        writer.write(batch).map_err(|e| io_error(path, e))?;
    }
    writer.finish().map_err(|e| io_error(path, e))
}

/// Reads a spill file back, and removes it.
pub fn read(path: &std::path::Path) -> Result<Vec<RecordBatch>, LoadError> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    let reader = FileReader::try_new(BufReader::new(file), None).map_err(|e| io_error(path, e))?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| io_error(path, e))?;
    let _ = std::fs::remove_file(path);
    Ok(batches)
}
