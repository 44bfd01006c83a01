//! Reading back files of the dataset: to merge a partition, to verify it.

use crate::destination::Destination;
use crate::error::{LoadError, SchemaMismatch};
use crate::writer::file_schema;
use arrow::array::{ArrayRef, RecordBatch, StringArray};
use bbpipe_model::Table;
use object_store::path::Path;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::sync::Arc;

/// Reads one data file of `table`, checks it has the table's schema, and returns its rows in
/// the full table schema (the `workspace` partition column put back from the path).
pub async fn read_file(
    destination: &Destination,
    table: Table,
    workspace: &str,
    path: &Path,
) -> Result<Vec<RecordBatch>, LoadError> {
    let batches = read_columns(destination, table, path, None).await?;
    let schema = table.schema();
    batches
        .into_iter()
        .map(|batch| {
            let workspace: ArrayRef =
                Arc::new(StringArray::from(vec![workspace; batch.num_rows()]));
            let mut columns = vec![workspace];
            columns.extend(batch.columns().iter().cloned());
            RecordBatch::try_new(schema.clone(), columns).map_err(|e| LoadError::Corrupt {
                path: destination.describe(path),
                message: e.to_string(),
            })
        })
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
    let batches = read_columns(destination, table, path, Some(columns)).await?;
    batches
        .into_iter()
        .map(|batch| {
            let mut fields = vec![Arc::new(arrow::datatypes::Field::new(
                "workspace",
                arrow::datatypes::DataType::Utf8,
                false,
            ))];
            fields.extend(batch.schema().fields().iter().cloned());
            let mut values: Vec<ArrayRef> = vec![Arc::new(StringArray::from(vec![
                workspace;
                batch.num_rows()
            ]))];
            values.extend(batch.columns().iter().cloned());
            let schema = Arc::new(arrow::datatypes::Schema::new(fields));
            RecordBatch::try_new(schema, values).map_err(|e| LoadError::Corrupt {
                path: destination.describe(path),
                message: e.to_string(),
            })
        })
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
    let corrupt = |message: String| LoadError::Corrupt {
        path: destination.describe(path),
        message,
    };
    let bytes = destination
        .get_opt(path)
        .await?
        .ok_or_else(|| corrupt("listed but gone".into()))?;
    let unreadable = |source| LoadError::ReadParquet {
        path: destination.describe(path),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(unreadable)?;
    check_schema(table, builder.schema()).map_err(|mismatch| LoadError::WrongSchema {
        path: destination.describe(path),
        mismatch,
    })?;
    let builder = match columns {
        Some(names) => {
            let mask = ProjectionMask::columns(builder.parquet_schema(), names.iter().copied());
            builder.with_projection(mask)
        }
        None => builder,
    };
    let reader = builder.build().map_err(unreadable)?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(e.into()))
}

/// Decodes a data file's bytes `batch_rows` at a time, after checking its schema, in the full
/// table schema (the `workspace` partition column put back). `shown` names it in errors.
pub(crate) fn decode_file(
    table: Table,
    workspace: &str,
    bytes: bytes::Bytes,
    shown: &str,
    batch_rows: usize,
) -> Result<impl Iterator<Item = Result<RecordBatch, LoadError>> + Send + use<>, LoadError> {
    let unreadable = |source| LoadError::ReadParquet {
        path: shown.to_string(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(unreadable)?;
    check_schema(table, builder.schema()).map_err(|mismatch| LoadError::WrongSchema {
        path: shown.to_string(),
        mismatch,
    })?;
    let reader = builder
        .with_batch_size(batch_rows)
        .build()
        .map_err(unreadable)?;
    let (schema, workspace, shown) = (table.schema(), workspace.to_string(), shown.to_string());
    Ok(reader.map(move |batch| {
        let batch = batch.map_err(|e| LoadError::ReadParquet {
            path: shown.clone(),
            source: e.into(),
        })?;
        let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(vec![
            workspace.as_str();
            batch.num_rows()
        ]))];
        columns.extend(batch.columns().iter().cloned());
        RecordBatch::try_new(schema.clone(), columns).map_err(|e| LoadError::Corrupt {
            path: shown.clone(),
            message: e.to_string(),
        })
    }))
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
