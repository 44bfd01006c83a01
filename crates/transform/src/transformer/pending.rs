//! A table's rows not emitted yet: its builder and the workspace they belong to (a batch holds
//! one workspace, so a page of another workspace emits what is pending first).

use super::internal;
use crate::error::TransformError;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use bbpipe_model::{Table, TableBatch};

/// A builder of one table's batches.
pub(crate) trait Rows: Default {
    /// The table it builds.
    const TABLE: Table;
    /// Rows appended since the last batch.
    fn len(&self) -> usize;
    /// Those rows as a batch; the builder starts empty again.
    fn finish(&mut self) -> Result<RecordBatch, ArrowError>;
}

/// The rows of one table not emitted yet.
#[derive(Default)]
pub(crate) struct Pending<B> {
    pub(crate) rows: B,
    workspace: String,
}

impl<B: Rows> Pending<B> {
    /// The builder for rows of `workspace`, after emitting to `out` the rows of another one.
    pub(crate) fn of(
        &mut self,
        workspace: &str,
        out: &mut Vec<TableBatch>,
    ) -> Result<&mut B, TransformError> {
        if self.workspace != workspace {
            out.extend(self.take()?);
            workspace.clone_into(&mut self.workspace);
        }
        Ok(&mut self.rows)
    }

    /// The pending rows as a batch, if there are any.
    pub(crate) fn take(&mut self) -> Result<Option<TableBatch>, TransformError> {
        if self.rows.len() == 0 {
            return Ok(None);
        }
        Ok(Some(TableBatch {
            table: B::TABLE,
            workspace: self.workspace.clone(),
            batch: self.rows.finish().map_err(internal)?,
        }))
    }

    /// Emits the pending rows once there are `batch_rows` of them.
    pub(crate) fn emit_if_full(
        &mut self,
        batch_rows: usize,
        out: &mut Vec<TableBatch>,
    ) -> Result<(), TransformError> {
        if self.rows.len() >= batch_rows {
            out.extend(self.take()?);
        }
        Ok(())
    }
}
