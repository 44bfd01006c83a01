//! A table's Delta schema and partitioning, from its spec: the same columns and types as its
//! Parquet files, plus the partition columns their paths carry (`workspace`, then the month or
//! day level), with each column's description kept as its Delta `comment`.

use crate::error::LoadError;
use arrow::datatypes::{DataType, Field, Schema};
use bbpipe_model::{DESCRIPTION_KEY, Granularity, PartitionKey, Table};
use delta_kernel::engine::arrow_conversion::TryFromArrow;
use delta_kernel::schema::{SchemaRef, StructType};
use std::collections::HashMap;
use std::sync::Arc;

/// The metadata key Spark, Databricks and Delta readers show as a column's comment.
const COMMENT_KEY: &str = "comment";

/// The Delta schema of `table` in a dataset partitioned by `granularity`.
pub(crate) fn table_schema(table: Table, granularity: Granularity) -> Result<SchemaRef, LoadError> {
    let arrow = table.schema();
    let mut fields: Vec<Field> = arrow
        .fields()
        .iter()
        .map(|field| {
            let metadata: HashMap<String, String> = field
                .metadata()
                .get(DESCRIPTION_KEY)
                .map(|d| (COMMENT_KEY.to_string(), d.clone()))
                .into_iter()
                .collect();
            field.as_ref().clone().with_metadata(metadata)
        })
        .collect();
    if let Some(date) = table.date_partition() {
        let (data_type, what) = match granularity {
            Granularity::Month => (DataType::Utf8, "UTC month (YYYY-MM)"),
            Granularity::Day => (DataType::Date32, "UTC day"),
        };
        let comment = format!("Partition: the {what} of {}.", date.column);
        fields.push(
            Field::new(date.level(granularity), data_type, false)
                .with_metadata(HashMap::from([(COMMENT_KEY.to_string(), comment)])),
        );
    }
    StructType::try_from_arrow(&Schema::new(fields))
        .map(Arc::new)
        .map_err(|e| LoadError::Delta {
            table: table.name().to_string(),
            message: format!("its schema has no Delta equivalent: {e}"),
        })
}

/// The partition columns of `table`: `workspace`, then its date level if it has one.
pub(crate) fn partition_columns(table: Table, granularity: Granularity) -> Vec<&'static str> {
    let mut columns = vec!["workspace"];
    if let Some(date) = table.date_partition() {
        columns.push(date.level(granularity));
    }
    columns
}

/// The partition values of a data file (a path from the dataset root), as Delta writes them.
pub(crate) fn partition_values(path: &str) -> Option<Vec<(String, String)>> {
    let key = PartitionKey::of_path(path)?;
    let mut values = vec![("workspace".to_string(), key.workspace.clone())];
    if let (Some(date), Some(period)) = (key.table.date_partition(), key.period) {
        values.push((
            date.level(period.granularity()).to_string(),
            period.to_string(),
        ));
    }
    Some(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table converts, its partition columns are in its schema, and descriptions
    /// become comments.
    #[test]
    fn every_table_has_a_delta_schema_with_its_partition_columns() {
        for granularity in Granularity::ALL {
            for &table in Table::ALL {
                let schema = table_schema(table, granularity).unwrap();
                for column in partition_columns(table, granularity) {
                    assert!(schema.field(column).is_some(), "{table:?} lacks {column}");
                }
                let workspace = schema.field("workspace").unwrap();
                assert!(
                    workspace.metadata().contains_key(COMMENT_KEY),
                    "{table:?}: the description is kept as a comment"
                );
                assert_eq!(
                    schema.fields().count(),
                    table.schema().fields().len() + usize::from(table.date_partition().is_some())
                );
            }
        }
    }

    #[test]
    fn partition_values_come_from_the_path() {
        let values = partition_values(
            "pipeline_runs/workspace=acme/created_date=2026-11-04/part-a-0001.parquet",
        )
        .unwrap();
        assert_eq!(
            values,
            vec![
                ("workspace".to_string(), "acme".to_string()),
                ("created_date".to_string(), "2026-11-04".to_string())
            ]
        );
        assert_eq!(partition_values("not/a/table/file.parquet"), None);
    }
}
