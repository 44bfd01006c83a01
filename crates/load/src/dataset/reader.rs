//! Reading back files of the dataset: to merge a partition, to verify it.

use crate::destination::Destination;
use crate::error::{LoadError, SchemaMismatch};
use crate::write::parquet::file_schema;
use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use bbpipe_model::Table;
use bytes::Bytes;
use object_store::path::Path;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::errors::ParquetError;
use std::sync::Arc;

/// Reads one data file of `table`, checks it has the table's schema, and returns its rows in
/// the full table schema (the `workspace` partition column put back from the path).
pub async fn read_file(
    destination: &Destination,
    table: Table,
    workspace: &str,
    path: &Path,
) -> Result<Vec<RecordBatch>, LoadError> {
    let schema = table.schema();
    read_columns(destination, table, path, None)
        .await?
        .into_iter()
        .map(|batch| with_workspace(batch, workspace, Some(&schema), &destination.describe(path)))
        .collect()
}

/// Reads `columns` of one data file of `table`, with the `workspace` partition column put back
/// first: what a consumer of some columns (deploy rules, say) reads back.
pub async fn read_file_columns(
    destination: &Destination,
    table: Table,
    workspace: &str,
    path: &Path,
    columns: &[&str],
) -> Result<Vec<RecordBatch>, LoadError> {
    read_columns(destination, table, path, Some(columns))
        .await?
        .into_iter()
        .map(|batch| with_workspace(batch, workspace, None, &destination.describe(path)))
        .collect()
}

/// Reads `columns` (all when `None`) of one data file, after checking its schema. The file is
/// fetched whole: partition files are small, and one GET beats many ranged ones on S3.
pub async fn read_columns(
    destination: &Destination,
    table: Table,
    path: &Path,
    columns: Option<&[&str]>,
) -> Result<Vec<RecordBatch>, LoadError> {
    let shown = destination.describe(path);
    let bytes = fetch(destination, path).await?;
    reader(table, bytes, &shown, columns, None)?
        .map(|batch| batch.map_err(|e| unreadable(&shown, e.into())))
        .collect()
}

/// The bytes of a data file the manifests list.
pub(crate) async fn fetch(destination: &Destination, path: &Path) -> Result<Bytes, LoadError> {
    destination
        .get_opt(path)
        .await?
        .ok_or_else(|| LoadError::Corrupt {
            path: destination.describe(path),
            message: "listed but gone".into(),
        })
}

/// Decodes a data file's bytes `batch_rows` at a time, after checking its schema, in the full
/// table schema (the `workspace` partition column put back). `shown` names it in errors.
pub(crate) fn decode_file(
    table: Table,
    workspace: &str,
    bytes: Bytes,
    shown: &str,
    batch_rows: usize,
) -> Result<impl Iterator<Item = Result<RecordBatch, LoadError>> + Send + use<>, LoadError> {
    let reader = reader(table, bytes, shown, None, Some(batch_rows))?;
    let (schema, workspace, shown) = (table.schema(), workspace.to_string(), shown.to_string());
    Ok(reader.map(move |batch| {
        let batch = batch.map_err(|e| unreadable(&shown, e.into()))?;
        with_workspace(batch, &workspace, Some(&schema), &shown)
    }))
}

/// A reader of a data file's `columns` (all when `None`), after checking its schema.
fn reader(
    table: Table,
    bytes: Bytes,
    shown: &str,
    columns: Option<&[&str]>,
    batch_rows: Option<usize>,
) -> Result<ParquetRecordBatchReader, LoadError> {
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| unreadable(shown, e))?;
    check_schema(table, builder.schema()).map_err(|mismatch| LoadError::WrongSchema {
        path: shown.to_string(),
        mismatch,
    })?;
    let mut builder = match columns {
        Some(names) => {
            let mask = ProjectionMask::columns(builder.parquet_schema(), names.iter().copied());
            builder.with_projection(mask)
        }
        None => builder,
    };
    if let Some(rows) = batch_rows {
        builder = builder.with_batch_size(rows);
    }
    builder.build().map_err(|e| unreadable(shown, e))
}

fn unreadable(shown: &str, source: ParquetError) -> LoadError {
    LoadError::ReadParquet {
        path: shown.to_string(),
        source,
    }
}

/// `batch` with the `workspace` partition column, which files leave to the path, put back
/// first: in `schema` (the table's, for whole files) or in one made from the batch's columns.
fn with_workspace(
    batch: RecordBatch,
    workspace: &str,
    schema: Option<&SchemaRef>,
    shown: &str,
) -> Result<RecordBatch, LoadError> {
    let schema = match schema {
        Some(schema) => Arc::clone(schema),
        None => {
            let mut fields = vec![Arc::new(Field::new("workspace", DataType::Utf8, false))];
            fields.extend(batch.schema().fields().iter().cloned());
            Arc::new(Schema::new(fields))
        }
    };
    let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(vec![
        workspace;
        batch.num_rows()
    ]))];
    columns.extend(batch.columns().iter().cloned());
    RecordBatch::try_new(schema, columns).map_err(|e| LoadError::Corrupt {
        path: shown.to_string(),
        message: e.to_string(),
    })
}

/// A file's columns must be the table's, by name, type and nullability, in order.
pub fn check_schema(table: Table, found: &arrow::datatypes::Schema) -> Result<(), SchemaMismatch> {
    let mismatch = |difference: String| SchemaMismatch {
        table: table.name(),
        difference,
    };
    let expected = file_schema(table).map_err(|e| mismatch(e.to_string()))?;
    let describe = |s: &arrow::datatypes::Schema| -> Vec<String> {
        s.fields()
            .iter()
            .map(|f| {
                format!(
                    "{} {}{}",
                    f.name(),
                    f.data_type(),
                    if f.is_nullable() { "" } else { " not null" }
                )
            })
            .collect()
    };
    let (want, got) = (describe(&expected), describe(found));
    if want == got {
        return Ok(());
    }
    let first = want
        .iter()
        .zip(&got)
        .find(|(w, g)| w != g)
        .map(|(w, g)| format!("expected column `{w}`, found `{g}`"))
        .unwrap_or_else(|| format!("expected {} columns, found {}", want.len(), got.len()));
    Err(mismatch(first))
}
