//! Hive partitions: `<table>/workspace=<ws>[/<date column>=<YYYY-MM-DD>]/`.

use crate::error::LoadError;
use arrow::array::{Array, TimestampMicrosecondArray, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::record_batch::RecordBatch;
use bbpipe_model::{Table, TableBatch};
use chrono::{DateTime, NaiveDate};
use object_store::path::Path;
use std::collections::BTreeMap;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// One partition of one table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    pub table: Table,
    pub workspace: String,
    /// Days since 1970-01-01 (UTC) of the table's date column, for date-partitioned tables.
    pub day: Option<i32>,
}

impl PartitionKey {
    /// Directory of the partition, relative to the destination root.
    pub fn dir(&self) -> Path {
        let mut path = Path::from(self.table.name()).join(format!("workspace={}", self.workspace));
        if let (Some(day), Some((_, level))) = (self.day, self.table.date_partition()) {
            path = path.join(format!("{level}={}", date_of(day)));
        }
        path
    }
}

/// The workspace a dataset path lies in (`.../workspace=<ws>/...`); empty if none.
pub(crate) fn workspace_of(path: &str) -> &str {
    path.split('/')
        .find_map(|part| part.strip_prefix("workspace="))
        .unwrap_or_default()
}

fn date_of(day: i32) -> NaiveDate {
    DateTime::from_timestamp(i64::from(day) * 86_400, 0)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

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
        let day = micros.div_euclid(MICROS_PER_DAY) as i32;
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
                .map_err(|e| bad(e.to_string()))?;
            Ok((key(Some(day)), part))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_hive_style() {
        let runs = PartitionKey {
            table: Table::PipelineRuns,
            workspace: "acme".into(),
            day: Some(20_000),
        };
        assert_eq!(
            runs.dir().as_ref(),
            "pipeline_runs/workspace=acme/created_date=2024-10-04"
        );
        let repos = PartitionKey {
            table: Table::Repositories,
            workspace: "acme".into(),
            day: None,
        };
        assert_eq!(repos.dir().as_ref(), "repositories/workspace=acme");
    }

    #[test]
    fn days_before_1970_floor_correctly() {
        assert_eq!(
            date_of((-1_i64).div_euclid(MICROS_PER_DAY) as i32).to_string(),
            "1969-12-31"
        );
    }
}
