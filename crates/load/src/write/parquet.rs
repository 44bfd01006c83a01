//! One partition's merged rows to one Parquet file: encoded (zstd, statistics, the sorting
//! column declared) and uploaded. The merge itself is `merge.rs`.

use crate::destination::Destination;
use crate::error::LoadError;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bbpipe_model::Table;
use bytes::Bytes;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Rows per Parquet row group: large enough for good compression and few footers, small
/// enough that readers can skip by statistics.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Bytes a row group may reach (parquet's estimate of its encoded size) before it is closed:
/// the writer holds the row group's encoded pages until then, so this bounds the memory of
/// writing a file however large its partition. A month of 1M runs used to be one row group
/// (~10 MB held per file being written; 3M runs: 128k-row groups); with this, peak RSS at 3M
/// runs fell from 201 to 177 MiB (see BENCHMARKS.md).
pub const ROW_GROUP_BYTES: usize = 4 * 1024 * 1024;

/// Bytes of a column's values per data page (and per dictionary page): an encoder holds a page
/// of each column at a time, so this, times the columns, bounds the memory of writing a file.
/// Smaller than parquet's 1 MiB default because a month of a busy workspace fills many pages;
/// compression is within 1% of it (see BENCHMARKS.md).
const PAGE_BYTES: usize = 256 * 1024;

/// zstd level 1: on these columns within a few percent of level 3's size, at a fraction of the
/// CPU (see BENCHMARKS.md).
const ZSTD_LEVEL: i32 = 1;

/// A file written into the dataset.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    /// Its table.
    pub table: Table,
    /// Where it was written.
    pub path: Path,
    /// Rows in it.
    pub rows: u64,
    /// Its size.
    pub bytes: u64,
    /// Older versions of a row dropped while writing (pagination drift, re-fetched runs).
    pub duplicates_dropped: u64,
}

/// Encodes merged rows, less the partition columns, as one Parquet file in memory. CPU-bound:
/// callers run it off the async threads, several partitions at once.
pub fn encode(table: Table, rows: &RecordBatch) -> Result<(Bytes, u64), ParquetError> {
    let mut file = FileEncoder::new(table)?;
    file.write(rows)?;
    file.finish()
}

/// A Parquet file of one table being encoded batch by batch, into memory (`Vec<u8>`) or
/// straight into an upload ([`crate::write::upload_stream::Parts`]).
pub(crate) struct FileEncoder<W: std::io::Write + Send = Vec<u8>> {
    writer: ArrowWriter<W>,
    rows: u64,
}

impl FileEncoder {
    /// Encodes in memory.
    pub(crate) fn new(table: Table) -> Result<FileEncoder, ParquetError> {
        FileEncoder::into(table, Vec::new())
    }

    /// The file's bytes and rows.
    pub(crate) fn finish(self) -> Result<(Bytes, u64), ParquetError> {
        let (bytes, rows) = self.close()?;
        Ok((Bytes::from(bytes), rows))
    }
}

impl<W: std::io::Write + Send> FileEncoder<W> {
    /// Encodes into `out`.
    pub(crate) fn into(table: Table, out: W) -> Result<FileEncoder<W>, ParquetError> {
        let schema = file_schema(table)?;
        let props = writer_properties(table, &schema);
        Ok(FileEncoder {
            writer: ArrowWriter::try_new(out, schema, Some(props))?,
            rows: 0,
        })
    }

    /// Appends rows in the table's schema (the partition columns are dropped here).
    pub(crate) fn write(&mut self, rows: &RecordBatch) -> Result<(), ParquetError> {
        self.writer.write(&without_partition_columns(rows)?)?;
        self.rows += rows.num_rows() as u64;
        Ok(())
    }

    /// Writes the footer; returns what it wrote into, and the rows.
    pub(crate) fn close(self) -> Result<(W, u64), ParquetError> {
        Ok((self.writer.into_inner()?, self.rows))
    }
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
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_data_page_size_limit(PAGE_BYTES)
        .set_dictionary_page_size_limit(PAGE_BYTES)
        .set_sorting_columns(sorting)
        .set_created_by(format!("bbpipe {}", env!("CARGO_PKG_VERSION")));
    // A dictionary of values that never repeat costs time and space: plain-encode those.
    for column in table.unique_columns() {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(*column), false);
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::DataType;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    /// `n` pipeline runs whose uuids are long and never repeat (plain-encoded, 192 bytes each).
    fn runs(n: usize) -> RecordBatch {
        let schema = Table::PipelineRuns.schema();
        let columns = schema
            .fields()
            .iter()
            .map(|field| -> ArrayRef {
                match (field.name().as_str(), field.data_type()) {
                    ("uuid", _) => {
                        Arc::new(StringArray::from_iter_values((0..n as u64).map(|i| {
                            // Hex digits of a multiplicative hash: text zstd cannot shrink much.
                            (0..12u64)
                                .map(|j| {
                                    format!(
                                        "{:016x}",
                                        (i * 12 + j).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                                    )
                                })
                                .collect::<String>()
                        })))
                    }
                    (_, _) if field.is_nullable() => {
                        arrow::array::new_null_array(field.data_type(), n)
                    }
                    (_, DataType::Utf8) => Arc::new(StringArray::from(vec!["x"; n])),
                    (_, DataType::Int64) => Arc::new(Int64Array::from_iter_values(0..n as i64)),
                    (_, DataType::Timestamp(_, _)) => Arc::new(
                        TimestampMicrosecondArray::from_iter_values(0..n as i64)
                            .with_timezone("UTC"),
                    ),
                    (name, other) => panic!("no test value for {name}: {other}"),
                }
            })
            .collect();
        RecordBatch::try_new(schema, columns).unwrap()
    }

    #[test]
    fn a_partition_larger_than_a_row_group_s_bytes_is_written_in_several() {
        let rows = 60_000; // ~12 MB of uuids: within the row count, past the bytes
        let all = runs(rows);
        // As a streamed merge hands them on: a batch at a time.
        let mut file = FileEncoder::new(Table::PipelineRuns).unwrap();
        for start in (0..rows).step_by(2048) {
            file.write(&all.slice(start, 2048.min(rows - start)))
                .unwrap();
        }
        let (bytes, written) = file.finish().unwrap();
        assert_eq!(written, rows as u64);
        let file = SerializedFileReader::new(bytes).unwrap();
        let groups: Vec<i64> = (0..file.num_row_groups())
            .map(|i| file.metadata().row_group(i).num_rows())
            .collect();
        assert!(
            groups.len() >= 2,
            "one row group of {rows} rows: {groups:?}"
        );
        assert_eq!(groups.iter().sum::<i64>(), rows as i64);
    }
}
