//! One partition's rows to one Parquet file: newest version of each key, sorted, compressed.

use crate::destination::Destination;
use crate::error::LoadError;
use arrow::array::{Array, UInt32Array};
use arrow::compute::{
    SortColumn, SortOptions, concat_batches, lexsort_to_indices, take_record_batch,
};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use bbpipe_model::Table;
use bytes::Bytes;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Rows per Parquet row group: large enough for good compression and few footers, small
/// enough that readers can skip by statistics.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// zstd level 1: on these columns within a few percent of level 3's size, at a fraction of the
/// CPU (see BENCHMARKS.md).
const ZSTD_LEVEL: i32 = 1;

/// A file written into the dataset.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    pub table: Table,
    pub path: Path,
    pub rows: u64,
    pub bytes: u64,
    /// Older versions of a row dropped while writing (pagination drift, re-fetched runs).
    pub duplicates_dropped: u64,
}

/// Merges `parts` (all of one partition, oldest first) into the rows a file will hold: the
/// newest version of each key, sorted by the table's sort column. Returns the rows and how many
/// older versions were dropped.
pub fn merge_partition(
    table: Table,
    parts: &[RecordBatch],
) -> Result<(RecordBatch, u64), LoadError> {
    let bad = |message: String| LoadError::Batch {
        table: table.name(),
        message,
    };
    let merged = concat_batches(&table.schema(), parts).map_err(|e| bad(e.to_string()))?;
    let newest = newest_versions(table, &merged).map_err(|e| bad(e.to_string()))?;
    let duplicates_dropped = (merged.num_rows() - newest.len()) as u64;
    let rows = take_record_batch(&merged, &newest).map_err(|e| bad(e.to_string()))?;
    let sorted = sort_by(&rows, table.sort_column()).map_err(|e| bad(e.to_string()))?;
    Ok((sorted, duplicates_dropped))
}

/// Encodes merged rows, less the partition columns, as one Parquet file in memory. CPU-bound:
/// callers run it off the async threads, several partitions at once.
pub fn encode(table: Table, rows: &RecordBatch) -> Result<(Bytes, u64), String> {
    let file_batch = without_partition_columns(rows).map_err(|e| e.to_string())?;
    let props = writer_properties(table, &file_batch.schema());
    let mut writer = ArrowWriter::try_new(Vec::new(), file_batch.schema(), Some(props))
        .map_err(|e| e.to_string())?;
    writer.write(&file_batch).map_err(|e| e.to_string())?;
    let bytes = writer.into_inner().map_err(|e| e.to_string())?;
    Ok((Bytes::from(bytes), file_batch.num_rows() as u64))
}

/// Uploads an encoded file: one PUT, or past `upload_part_bytes` a multipart upload (parts are
/// retried alone, and S3 takes files of any size).
pub async fn upload(
    destination: &Destination,
    path: &Path,
    bytes: Bytes,
    upload_part_bytes: usize,
) -> Result<(), LoadError> {
    if bytes.len() <= upload_part_bytes {
        return destination.put(path, bytes).await;
    }
    let store_error = |source| LoadError::Store {
        path: destination.describe(path),
        source,
    };
    let mut sink = BufWriter::with_capacity(
        Arc::clone(destination.store()),
        path.clone(),
        upload_part_bytes,
    );
    for chunk in bytes.chunks(upload_part_bytes) {
        if let Err(e) = sink.put(Bytes::copy_from_slice(chunk)).await {
            let _ = sink.abort().await;
            return Err(store_error(e));
        }
    }
    sink.shutdown().await.map_err(|e| LoadError::File {
        path: destination.describe(path),
        source: e,
    })
}

/// Indices of the newest version of each key, in first-seen order.
pub(crate) fn newest_versions(
    table: Table,
    batch: &RecordBatch,
) -> Result<UInt32Array, arrow::error::ArrowError> {
    let columns = |names: &[&str]| -> Result<Vec<_>, arrow::error::ArrowError> {
        names
            .iter()
            .map(|name| {
                let column = batch.column(batch.schema().index_of(name)?).clone();
                Ok(column)
            })
            .collect()
    };
    let sort_fields = |cols: &[Arc<dyn Array>]| -> Vec<SortField> {
        cols.iter()
            .map(|c| {
                let nulls_first = SortOptions {
                    descending: false,
                    nulls_first: true,
                };
                SortField::new_with_options(c.data_type().clone(), nulls_first)
            })
            .collect()
    };
    let keys = columns(table.key_columns())?;
    let versions = columns(table.version_columns())?;
    let key_rows = RowConverter::new(sort_fields(&keys))?.convert_columns(&keys)?;
    let version_rows = RowConverter::new(sort_fields(&versions))?.convert_columns(&versions)?;

    let mut winner: HashMap<&[u8], usize> = HashMap::with_capacity(batch.num_rows());
    let mut order = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        match winner.entry(key_rows.row(row).data()) {
            Entry::Vacant(slot) => {
                slot.insert(order.len());
                order.push(row as u32);
            }
            Entry::Occupied(slot) => {
                let held = &mut order[*slot.get()];
                // `>=`: with equal versions, the row read later wins.
                if version_rows.row(row) >= version_rows.row(*held as usize) {
                    *held = row as u32;
                }
            }
        }
    }
    Ok(UInt32Array::from(order))
}

fn sort_by(batch: &RecordBatch, column: &str) -> Result<RecordBatch, arrow::error::ArrowError> {
    let values = batch.column(batch.schema().index_of(column)?).clone();
    let indices = lexsort_to_indices(
        &[SortColumn {
            values,
            options: None,
        }],
        None,
    )?;
    take_record_batch(batch, &indices)
}

/// Columns a file keeps: all but `workspace`, which a Hive reader takes from the path.
fn file_columns(schema: &arrow::datatypes::Schema) -> Vec<usize> {
    (0..schema.fields().len())
        .filter(|&i| schema.field(i).name() != "workspace")
        .collect()
}

/// The rows as a file holds them.
fn without_partition_columns(batch: &RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
    batch.project(&file_columns(&batch.schema()))
}

/// Files schema without partition columns, as written.
pub fn file_schema(table: Table) -> Result<SchemaRef, arrow::error::ArrowError> {
    let schema = table.schema();
    Ok(Arc::new(schema.project(&file_columns(&schema))?))
}

fn writer_properties(table: Table, schema: &SchemaRef) -> WriterProperties {
    let sorting = schema.index_of(table.sort_column()).ok().map(|column_idx| {
        vec![SortingColumn {
            column_idx: column_idx as i32,
            descending: false,
            nulls_first: false,
        }]
    });
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(ZSTD_LEVEL).unwrap_or_default(),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_sorting_columns(sorting)
        .set_created_by(format!("bbpipe {}", env!("CARGO_PKG_VERSION")));
    // A dictionary of values that never repeat costs time and space: plain-encode those.
    for column in table.unique_columns() {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(*column), false);
    }
    builder.build()
}
