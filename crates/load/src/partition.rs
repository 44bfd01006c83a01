//! Splitting batches by partition (the paths themselves are [`PartitionKey`]'s).

use crate::error::LoadError;
use arrow::array::{Array, TimestampMicrosecondArray, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::record_batch::RecordBatch;
use bbpipe_model::{PartitionKey, TableBatch, day_of_micros};
use std::collections::BTreeMap;

/// Splits a batch into its partitions. Rows keep their order within each part.
pub fn split(batch: TableBatch) -> Result<Vec<(PartitionKey, RecordBatch)>, LoadError> {
    let key = |day| PartitionKey {
        table: batch.table,
        workspace: batch.workspace.clone(),
        day,
    };
    let Some((column, _)) = batch.table.date_partition() else {
        return Ok(vec![(key(None), batch.batch)]);
    };
    let bad = |message: String| LoadError::Batch {
        table: batch.table.name(),
        message,
    };
    let times = batch
        .batch
        .column_by_name(column)
        .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
        .ok_or_else(|| bad(format!("no timestamp column {column}")))?;
    if times.null_count() > 0 {
        return Err(bad(format!("{column} is null: cannot choose a partition")));
    }
    let mut rows_by_day: BTreeMap<i32, Vec<u32>> = BTreeMap::new();
    for (row, micros) in times.values().iter().enumerate() {
        let day = day_of_micros(*micros);
        rows_by_day.entry(day).or_default().push(row as u32);
    }
    if rows_by_day.len() == 1 {
        let day = *rows_by_day.keys().next().unwrap_or(&0);
        return Ok(vec![(key(Some(day)), batch.batch)]);
    }
    rows_by_day
        .into_iter()
        .map(|(day, rows)| {
            let part = take_record_batch(&batch.batch, &UInt32Array::from(rows))
                .map_err(LoadError::arrow(batch.table))?;
            Ok((key(Some(day)), part))
        })
        .collect()
}
