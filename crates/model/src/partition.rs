//! Where rows live: `<table>/workspace=<ws>[/<level>=<YYYY-MM-DD>]/part-<run id>-<n>.parquet`.
//! [`PartitionKey`] is the one place that builds and parses these paths.

use crate::table::Table;
use chrono::{DateTime, NaiveDate};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// One partition of one table: its table, its workspace and, for date-partitioned tables, its
/// day.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    /// The table.
    pub table: Table,
    /// The workspace slug (`workspace=` level).
    pub workspace: String,
    /// Days since 1970-01-01 (UTC) of the table's date column, for date-partitioned tables.
    pub day: Option<i32>,
}

impl PartitionKey {
    /// The partition of a table without a date level.
    pub fn workspace(table: Table, workspace: &str) -> PartitionKey {
        PartitionKey {
            table,
            workspace: workspace.to_string(),
            day: None,
        }
    }

    /// Directory of the partition, relative to the dataset root, without a trailing slash.
    pub fn dir(&self) -> String {
        let mut dir = workspace_dir(self.table, &self.workspace);
        if let (Some(day), Some((_, level))) = (self.day, self.table.date_partition()) {
            dir.push_str(&format!("/{level}={}", date_of(day)));
        }
        dir
    }

    /// Path of the `n`th data file an export (`run_id`) writes into the partition.
    pub fn file(&self, run_id: &str, n: u32) -> String {
        format!("{}/{}", self.dir(), file_name(run_id, n))
    }

    /// The partition a data file (or directory) path lies in, if it is one of the dataset's:
    /// a table directory, a workspace level and, for date-partitioned tables, a valid date.
    pub fn of_path(path: &str) -> Option<PartitionKey> {
        let mut parts = path.split('/');
        let table = Table::from_name(parts.next()?)?;
        let workspace = parts.next()?.strip_prefix("workspace=")?;
        let day = match table.date_partition() {
            None => None,
            Some((_, level)) => {
                let value = parts.next()?.strip_prefix(level)?.strip_prefix('=')?;
                let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
                Some((date - NaiveDate::default()).num_days() as i32)
            }
        };
        Some(PartitionKey {
            table,
            workspace: workspace.to_string(),
            day,
        })
    }

    /// The partition's date (`YYYY-MM-DD`), for date-partitioned tables.
    pub fn date(&self) -> Option<NaiveDate> {
        self.day.map(date_of)
    }
}

/// Day number (since 1970-01-01, UTC) of a timestamp in microseconds; floors before 1970.
pub fn day_of_micros(micros: i64) -> i32 {
    micros.div_euclid(MICROS_PER_DAY) as i32
}

/// `<table>/workspace=<ws>`: the directory of a table's partitions in one workspace.
pub fn workspace_dir(table: Table, workspace: &str) -> String {
    format!("{}/workspace={workspace}", table.name())
}

/// The workspace a dataset path lies in (`.../workspace=<ws>/...`); empty if none.
pub fn workspace_of(path: &str) -> &str {
    path.split('/')
        .find_map(|part| part.strip_prefix("workspace="))
        .unwrap_or_default()
}

/// Whether a file name is that of a data file (`part-*.parquet`).
pub fn is_data_file(name: &str) -> bool {
    name.starts_with("part-") && name.ends_with(".parquet")
}

fn file_name(run_id: &str, n: u32) -> String {
    format!("part-{run_id}-{n:04}.parquet")
}

fn date_of(day: i32) -> NaiveDate {
    DateTime::from_timestamp(i64::from(day) * 86_400, 0)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_hive_style_and_parse_back() {
        let runs = PartitionKey {
            table: Table::PipelineRuns,
            workspace: "acme".into(),
            day: Some(20_000),
        };
        assert_eq!(
            runs.dir(),
            "pipeline_runs/workspace=acme/created_date=2024-10-04"
        );
        let file = runs.file("r1", 2);
        assert_eq!(
            file,
            "pipeline_runs/workspace=acme/created_date=2024-10-04/part-r1-0002.parquet"
        );
        assert_eq!(PartitionKey::of_path(&file), Some(runs.clone()));
        assert_eq!(PartitionKey::of_path(&runs.dir()), Some(runs));
        let repos = PartitionKey::workspace(Table::Repositories, "acme");
        assert_eq!(repos.dir(), "repositories/workspace=acme");
        assert_eq!(
            PartitionKey::of_path("repositories/workspace=acme/part-x-0001.parquet"),
            Some(repos)
        );
        assert_eq!(
            workspace_of("deployments/workspace=globex/deployed_date=2024-01-01/f"),
            "globex"
        );
    }

    #[test]
    fn paths_outside_the_layout_are_not_partitions() {
        for path in [
            "",
            "nope/workspace=acme",
            "pipeline_runs/acme/created_date=2024-10-04",
            "pipeline_runs/workspace=acme",
            "pipeline_runs/workspace=acme/created_date=2024-13-40",
            "pipeline_runs/workspace=acme/deployed_date=2024-10-04",
            "pipeline_runs/workspace=acme/created_dateX=2024-10-04",
        ] {
            assert_eq!(PartitionKey::of_path(path), None, "{path}");
        }
    }

    #[test]
    fn days_before_1970_floor_correctly() {
        assert_eq!(date_of(day_of_micros(-1)).to_string(), "1969-12-31");
        assert_eq!(day_of_micros(MICROS_PER_DAY), 1);
    }
}
