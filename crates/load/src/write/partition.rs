//! Splitting batches by partition (the paths themselves are [`PartitionKey`]'s).

use crate::error::LoadError;
use arrow::array::{Array, TimestampMicrosecondArray, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::record_batch::RecordBatch;
use bbpipe_model::{Granularity, PartitionKey, Period, TableBatch};
use std::collections::BTreeMap;

/// Splits a batch into its partitions, by month or day of the table's date column. Rows keep
/// their order within each part.
pub fn split(
    batch: TableBatch,
    granularity: Granularity,
) -> Result<Vec<(PartitionKey, RecordBatch)>, LoadError> {
    let key = |period| PartitionKey {
        table: batch.table,
        workspace: batch.workspace.clone(),
        period,
    };
    let Some(date) = batch.table.date_partition() else {
        return Ok(vec![(key(None), batch.batch)]);
    };
    let bad = |message: String| LoadError::Batch {
        table: batch.table.name(),
        message,
    };
    let column = date.column;
    let times = batch
        .batch
        .column_by_name(column)
        .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
        .ok_or_else(|| bad(format!("no timestamp column {column}")))?;
    if times.null_count() > 0 {
        return Err(bad(format!("{column} is null: cannot choose a partition")));
    }
    let mut rows_by_period: BTreeMap<Period, Vec<u32>> = BTreeMap::new();
    for (row, micros) in times.values().iter().enumerate() {
        let period = Period::of_micros(*micros, granularity);
        rows_by_period.entry(period).or_default().push(row as u32);
    }
    if rows_by_period.len() == 1 {
        let period = rows_by_period.keys().next().copied();
        return Ok(vec![(key(period), batch.batch)]);
    }
    rows_by_period
        .into_iter()
        .map(|(period, rows)| {
            let part = take_record_batch(&batch.batch, &UInt32Array::from(rows))
                .map_err(LoadError::arrow(batch.table))?;
            Ok((key(Some(period)), part))
        })
        .collect()
}
