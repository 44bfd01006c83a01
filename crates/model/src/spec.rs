//! What a table spec says, and the constants every file carries.

use arrow::datatypes::{DataType, Field, TimeUnit};

/// Version of the table layouts. Bump it on any change a reader could notice.
pub const SCHEMA_VERSION: u32 = 1;
/// Schema-level metadata key that carries [`SCHEMA_VERSION`] into every Parquet file.
pub const SCHEMA_VERSION_KEY: &str = "bbpipe.schema_version";
/// Field-level metadata key holding a column's documentation.
pub const DESCRIPTION_KEY: &str = "description";

/// Everything that makes a table what it is.
#[derive(Debug)]
pub struct TableSpec {
    /// Directory name of the table in the output, and its name in documentation.
    pub name: &'static str,
    /// One sentence on what a row is.
    pub description: &'static str,
    /// Columns that identify a row across exports (after the workspace partition).
    pub key: &'static [&'static str],
    /// Columns that order two versions of one row: the greater wins, a value beats a null.
    pub version: &'static [&'static str],
    /// The date level under `workspace=`, if the table has one.
    pub date_partition: Option<DatePartition>,
    /// What an export does to rows already in a partition it writes.
    pub merge: Merge,
    /// Whether a row can change partition between exports (its date column can change);
    /// such tables are de-duplicated across partitions on commit.
    pub rows_can_move: bool,
    /// A column whose value names a group of rows written whole (the commits of one
    /// deployment): the newest version of a group replaces every row of its older versions,
    /// whatever their key. `None`: rows are replaced key by key.
    pub group: Option<&'static str>,
    /// Columns whose values (almost) never repeat within a file: ids, URLs, exact times.
    /// Writers skip dictionary encoding for them.
    pub unique_columns: &'static [&'static str],
    /// Column that orders rows within a file.
    pub sort_column: &'static str,
    /// The columns, `workspace` first.
    pub(crate) columns: fn() -> Vec<Field>,
}

/// The second partition level: the UTC month or day of a timestamp column, as the dataset's
/// [`Granularity`](crate::Granularity) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatePartition {
    /// The timestamp column.
    pub column: &'static str,
    /// The level's name in paths when partitioned by month, e.g. `created_month`.
    pub month_level: &'static str,
    /// The level's name in paths when partitioned by day, e.g. `created_date`.
    pub day_level: &'static str,
}

/// What an export does to rows already in a partition it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Keep them, newest version of each key wins.
    KeepExisting,
    /// Replace them: the table is a snapshot (repositories: deleted ones go away).
    Replace,
}

/// The timestamp type of every time column: microseconds since the epoch, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}
