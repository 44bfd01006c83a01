//! Reading a table back from the dataset: its live files (as the manifests, or a sink's
//! commits so far, say), a file at a time, only the columns asked for. The one way the
//! pipeline crate reads rows it wrote (deployments to re-derive, commits to look up, the
//! delivery report), so that "which files, which columns, in what memory" has one owner.

use crate::dataset::reader::read_file_columns;
use crate::{Destination, LoadError};
use arrow::record_batch::RecordBatch;
use bbpipe_model::Table;
use object_store::path::Path;

/// A table's files being read back, one file at a time.
#[derive(Debug)]
pub struct Scan<'a> {
    destination: &'a Destination,
    table: Table,
    columns: &'a [&'a str],
    /// (workspace, path) of the files left, in reverse order of reading.
    files: Vec<(String, String)>,
}

impl<'a> Scan<'a> {
    /// Reads `columns` of `files` ((workspace, path from the root) of live files of `table`),
    /// in the order given.
    pub fn new(
        destination: &'a Destination,
        table: Table,
        files: impl IntoIterator<Item = (String, String)>,
        columns: &'a [&'a str],
    ) -> Scan<'a> {
        let mut files: Vec<(String, String)> = files.into_iter().collect();
        files.reverse();
        Scan {
            destination,
            table,
            columns,
            files,
        }
    }

    /// Reads `columns` of the files at `paths`, all of `workspace`.
    pub fn of_workspace(
        destination: &'a Destination,
        table: Table,
        workspace: &str,
        paths: impl IntoIterator<Item = String>,
        columns: &'a [&'a str],
    ) -> Scan<'a> {
        let files = paths.into_iter().map(|path| (workspace.to_string(), path));
        Scan::new(destination, table, files, columns)
    }

    /// The next file: its path and its rows (with the `workspace` column when asked for);
    /// `None` once every file was read. A file that cannot be read is an error naming it.
    pub async fn next_file(&mut self) -> Result<Option<(String, Vec<RecordBatch>)>, LoadError> {
        let Some((workspace, path)) = self.files.pop() else {
            return Ok(None);
        };
        let batches = read_file_columns(
            self.destination,
            self.table,
            &workspace,
            &Path::from(path.as_str()),
            self.columns,
        )
        .await?;
        Ok(Some((path, batches)))
    }
}
