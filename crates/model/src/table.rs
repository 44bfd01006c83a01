//! What every part of bbpipe asks of a [`Table`], answered from its [`TableSpec`] (the table
//! and its spec are declared together in `tables.rs`).

#[cfg(doc)]
use crate::spec::TableSpec;
use crate::spec::{DatePartition, Merge, SCHEMA_VERSION, SCHEMA_VERSION_KEY};
pub use crate::tables::Table;
use arrow::array::ArrayRef;
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Rows of one table and one workspace, on their way from transform to load.
#[derive(Debug, Clone)]
pub struct TableBatch {
    /// The table the rows belong to.
    pub table: Table,
    /// The workspace they were read from.
    pub workspace: String,
    /// Rows in [`Table::schema`] order, partition columns included.
    pub batch: RecordBatch,
}

impl Table {
    /// Every table, in declaration order.
    pub const ALL: &'static [Table] = <Table as strum::VariantArray>::VARIANTS;

    /// Directory name of the table in the output, and its name in documentation.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The table named `name`, if any.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.iter().copied().find(|t| t.name() == name)
    }

    /// One sentence on what a row is.
    pub fn description(self) -> &'static str {
        self.spec().description
    }

    /// The timestamp column whose UTC month or day names the second partition level, and that
    /// level's names. Every table is partitioned by `workspace` first.
    pub fn date_partition(self) -> Option<DatePartition> {
        self.spec().date_partition
    }

    /// See [`TableSpec::key`].
    pub fn key_columns(self) -> &'static [&'static str] {
        self.spec().key
    }

    /// See [`TableSpec::version`].
    pub fn version_columns(self) -> &'static [&'static str] {
        self.spec().version
    }

    /// Whether a partition keeps its existing rows when an export writes to it.
    pub fn merges_existing(self) -> bool {
        self.spec().merge == Merge::KeepExisting
    }

    /// Whether a partition of the table can be merged as a stream of sorted inputs: versions of
    /// one key always sort together, because the sort column is the key itself or the date
    /// column, which a row of a table whose rows cannot move never changes.
    pub fn merges_as_stream(self) -> bool {
        let spec = self.spec();
        // A group's older rows go whatever their key: only a whole merge sees them.
        spec.group.is_none()
            && (spec.key == [spec.sort_column]
                || (!spec.rows_can_move
                    && spec
                        .date_partition
                        .is_some_and(|date| date.column == spec.sort_column)))
    }

    /// See [`TableSpec::rows_can_move`].
    pub fn rows_can_move(self) -> bool {
        self.spec().rows_can_move
    }

    /// See [`TableSpec::group`].
    pub fn group_column(self) -> Option<&'static str> {
        self.spec().group
    }

    /// See [`TableSpec::unique_columns`].
    pub fn unique_columns(self) -> &'static [&'static str] {
        self.spec().unique_columns
    }

    /// See [`TableSpec::sort_column`].
    pub fn sort_column(self) -> &'static str {
        self.spec().sort_column
    }

    /// The full Arrow schema, including the `workspace` partition column (which the Parquet
    /// files themselves leave out: it lives in the path).
    pub fn schema(self) -> SchemaRef {
        static SCHEMAS: OnceLock<Vec<SchemaRef>> = OnceLock::new();
        let all = SCHEMAS.get_or_init(|| {
            Table::ALL
                .iter()
                .map(|t| build((t.spec().columns)()))
                .collect()
        });
        Arc::clone(&all[self as usize])
    }
}

impl Table {
    /// Those of `columns` that the table does not have: what a reader naming columns as text
    /// tests itself with.
    pub fn missing<'a>(self, columns: &[&'a str]) -> Vec<&'a str> {
        let schema = self.schema();
        let absent = columns.iter().filter(|c| schema.index_of(c).is_err());
        absent.copied().collect()
    }

    /// A batch of this table from columns given by name, in any order. Each array goes under
    /// its own name, so a column moved in the spec cannot shift values into a neighbour of the
    /// same type; a name the spec does not have, a column given twice and a spec column left
    /// out are errors naming them (a builder's bug, caught by its first batch in the tests).
    pub fn batch_of(self, named: Vec<(&'static str, ArrayRef)>) -> Result<RecordBatch, ArrowError> {
        batch_by_name(self.name(), self.schema(), named)
    }
}

fn batch_by_name(
    table: &str,
    schema: SchemaRef,
    mut named: Vec<(&'static str, ArrayRef)>,
) -> Result<RecordBatch, ArrowError> {
    let mut columns = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let found: Vec<usize> = (0..named.len())
            .filter(|&i| named[i].0 == field.name())
            .collect();
        match found[..] {
            [i] => columns.push(Arc::clone(&named[i].1)),
            [] => {
                return Err(ArrowError::SchemaError(format!(
                    "{table}: no column {} was built",
                    field.name()
                )));
            }
            _ => {
                return Err(ArrowError::SchemaError(format!(
                    "{table}: column {} built twice",
                    field.name()
                )));
            }
        }
    }
    named.retain(|(name, _)| schema.field_with_name(name).is_err());
    if let Some((name, _)) = named.first() {
        return Err(ArrowError::SchemaError(format!(
            "{table}: a column {name} was built that the table's spec does not have"
        )));
    }
    RecordBatch::try_new(schema, columns)
}

fn build(columns: Vec<Field>) -> SchemaRef {
    let metadata = HashMap::from([(SCHEMA_VERSION_KEY.to_string(), SCHEMA_VERSION.to_string())]);
    Arc::new(Schema::new_with_metadata(columns, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{DESCRIPTION_KEY, timestamp_type};

    #[test]
    fn every_column_is_documented_and_partition_columns_exist() {
        for &table in Table::ALL {
            let schema = table.schema();
            assert_eq!(schema.field(0).name(), "workspace");
            for field in schema.fields() {
                let text = field.metadata().get(DESCRIPTION_KEY);
                assert!(text.is_some_and(|t| !t.is_empty()), "{}", field.name());
            }
            let named = table.key_columns().iter().chain(table.version_columns());
            for key in named.chain(table.unique_columns()) {
                assert!(schema.index_of(key).is_ok(), "{} {key}", table.name());
            }
            if let Some(date) = table.date_partition() {
                assert_eq!(
                    schema.field_with_name(date.column).unwrap().data_type(),
                    &timestamp_type()
                );
            }
            assert_eq!(Table::from_name(table.name()), Some(table));
            assert!(schema.index_of(table.sort_column()).is_ok());
            if let Some(group) = table.group_column() {
                assert!(
                    table.key_columns().contains(&group),
                    "{group} is in the key"
                );
                assert!(!table.merges_as_stream());
            }
            assert_eq!(
                Table::ALL[table as usize],
                table,
                "ALL in declaration order"
            );
        }
    }

    #[test]
    fn batches_are_built_by_name_so_a_swapped_spec_keeps_each_value_under_its_name() {
        use arrow::array::{AsArray, StringArray};
        use arrow::datatypes::DataType;
        let text = |v: &str| Arc::new(StringArray::from(vec![v])) as ArrayRef;
        let named = || vec![("repository", text("acme/api")), ("repo_slug", text("api"))];
        let field = |n: &str| Field::new(n, DataType::Utf8, false);
        // The same two text columns, declared in either order.
        for order in [["repository", "repo_slug"], ["repo_slug", "repository"]] {
            let schema = Arc::new(Schema::new(vec![field(order[0]), field(order[1])]));
            let batch = batch_by_name("t", schema, named()).unwrap();
            let value = |n: &str| {
                batch
                    .column_by_name(n)
                    .unwrap()
                    .as_string::<i32>()
                    .value(0)
                    .to_string()
            };
            assert_eq!(
                (value("repository"), value("repo_slug")),
                ("acme/api".into(), "api".into())
            );
        }
        // Positions would have swapped them silently; names fail loudly when they disagree.
        let schema = Arc::new(Schema::new(vec![field("repository"), field("repo_slug")]));
        let typo = vec![("repository", text("a")), ("repo_slgu", text("b"))];
        let error = batch_by_name("t", Arc::clone(&schema), typo)
            .unwrap_err()
            .to_string();
        assert!(error.contains("no column repo_slug"), "{error}");
        let extra = [named(), vec![("branch", text("x"))]].concat();
        let error = batch_by_name("t", Arc::clone(&schema), extra)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("branch") && error.contains("spec does not have"),
            "{error}"
        );
        let twice = [named(), vec![("repo_slug", text("x"))]].concat();
        let error = batch_by_name("t", schema, twice).unwrap_err().to_string();
        assert!(error.contains("repo_slug built twice"), "{error}");
    }
}
