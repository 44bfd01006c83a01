//! The file format of a dataset's tables: plain Hive-partitioned Parquet, or Delta Lake tables
//! (the same Parquet files, plus a transaction log per table). One dataset has one format,
//! recorded in it when it is created.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a dataset's tables are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Hive-partitioned Parquet with bbpipe's manifests: the default, for DuckDB and loads.
    #[default]
    Parquet,
    /// Delta Lake tables (`<table>/_delta_log/`): for Spark, Databricks, Trino and other
    /// engines that read a table's current version transactionally.
    Delta,
}

impl Format {
    /// Both, default first.
    pub const ALL: [Format; 2] = [Format::Parquet, Format::Delta];

    /// `parquet` or `delta`, as on the command line and in the dataset's record.
    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Delta => "delta",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("`{s}` is not an output format: parquet or delta"))
    }
}
