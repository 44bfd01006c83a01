//! The add-file rows a Delta transaction takes: one per data file, with its path under the
//! table's root, its partition values (from the path), its size and its row count.

use super::schema::partition_values;
use crate::dataset::manifest::FileEntry;
use crate::error::LoadError;
use arrow::array::{
    Array, ArrayRef, Int64Array, MapBuilder, MapFieldNames, RecordBatch, StringArray,
    StringBuilder, StructArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use bbpipe_model::Table;
use delta_kernel::EngineData;
use delta_kernel::engine::arrow_data::ArrowEngineData;
use std::sync::Arc;

/// The add-file metadata of `files` (paths under the table's root), as the kernel takes it.
pub(super) fn add_files(
    table: Table,
    files: &[(&String, &FileEntry)],
) -> Result<Box<dyn EngineData>, LoadError> {
    let arrow = |e: arrow::error::ArrowError| LoadError::Delta {
        table: table.name().to_string(),
        message: e.to_string(),
    };
    let names = MapFieldNames {
        entry: "key_value".to_string(),
        key: "key".to_string(),
        value: "value".to_string(),
    };
    let mut partitions = MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new());
    let now = chrono::Utc::now().timestamp_millis();
    for (path, _) in files {
        let full = format!("{}/{path}", table.name());
        let values = partition_values(&full).ok_or_else(|| LoadError::Delta {
            table: table.name().to_string(),
            message: format!("{full} is not in a partition directory"),
        })?;
        for (column, value) in values {
            partitions.keys().append_value(column);
            partitions.values().append_value(value);
        }
        partitions.append(true).map_err(arrow)?;
    }
    let partitions = Arc::new(partitions.finish());
    let count = |f: fn(&FileEntry) -> u64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(
            files
                .iter()
                .map(|(_, e)| i64::try_from(f(e)).unwrap_or(i64::MAX)),
        ))
    };
    let num_records = Field::new("numRecords", DataType::Int64, true);
    let stats = StructArray::try_new(vec![num_records].into(), vec![count(|e| e.rows)], None)
        .map_err(arrow)?;
    let schema = Schema::new(vec![
        Field::new("path", DataType::Utf8, false),
        Field::new("partitionValues", partitions.data_type().clone(), false),
        Field::new("size", DataType::Int64, false),
        Field::new("modificationTime", DataType::Int64, false),
        Field::new("stats", stats.data_type().clone(), true),
    ]);
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from_iter_values(
                files.iter().map(|(p, _)| p.as_str()),
            )),
            partitions,
            count(|e| e.bytes),
            Arc::new(Int64Array::from(vec![now; files.len()])),
            Arc::new(stats),
        ],
    )
    .map_err(arrow)?;
    Ok(Box::new(ArrowEngineData::new(batch)))
}
