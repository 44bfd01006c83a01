//! Where rows live: `<table>/workspace=<ws>[/<level>=<period>]/part-<run id>-<n>.parquet`, where
//! the level is a month (`created_month=2026-11`) or a day (`created_date=2026-11-04`) of the
//! table's date column, as the dataset's [`Granularity`] says. [`PartitionKey`] is the one place
//! that builds and parses these paths.

use crate::spec::DatePartition;
use crate::table::Table;
use chrono::{DateTime, Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// How finely a dataset splits its date-partitioned tables. One dataset has one granularity,
/// recorded in it when it is created.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// One partition per UTC calendar month: the default, files of a useful size.
    #[default]
    Month,
    /// One partition per UTC day: for workspaces with very many runs a day.
    Day,
}

impl Granularity {
    /// Both, default first.
    pub const ALL: [Granularity; 2] = [Granularity::Month, Granularity::Day];

    /// `month` or `day`, as on the command line and in the dataset's record.
    pub fn name(self) -> &'static str {
        match self {
            Granularity::Month => "month",
            Granularity::Day => "day",
        }
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Granularity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Granularity::ALL
            .into_iter()
            .find(|g| g.name() == s)
            .ok_or_else(|| format!("`{s}` is not a partition granularity: month or day"))
    }
}

/// The period a date-partitioned partition covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    /// A UTC calendar month, counted from 1970-01 (0).
    Month(i32),
    /// A UTC day, counted from 1970-01-01 (0).
    Day(i32),
}

impl Period {
    /// The period of `granularity` holding a timestamp in microseconds (UTC).
    pub fn of_micros(micros: i64, granularity: Granularity) -> Period {
        let day = day_of_micros(micros);
        match granularity {
            Granularity::Day => Period::Day(day),
            Granularity::Month => {
                let date = date_of(day);
                Period::Month((date.year() - 1970) * 12 + date.month0() as i32)
            }
        }
    }

    /// The granularity of the period.
    pub fn granularity(self) -> Granularity {
        match self {
            Period::Month(_) => Granularity::Month,
            Period::Day(_) => Granularity::Day,
        }
    }

    /// Whether a timestamp in microseconds (UTC) lies in the period.
    pub fn contains(self, micros: i64) -> bool {
        Period::of_micros(micros, self.granularity()) == self
    }

    /// Its first day.
    pub fn first_day(self) -> NaiveDate {
        match self {
            Period::Day(day) => date_of(day),
            Period::Month(month) => NaiveDate::from_ymd_opt(
                1970 + month.div_euclid(12),
                month.rem_euclid(12) as u32 + 1,
                1,
            )
            .unwrap_or_default(),
        }
    }

    /// Parses a value as written in paths: `YYYY-MM` for a month, `YYYY-MM-DD` for a day.
    pub fn parse(value: &str, granularity: Granularity) -> Option<Period> {
        match granularity {
            Granularity::Day => {
                let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
                Some(Period::Day((date - NaiveDate::default()).num_days() as i32))
            }
            Granularity::Month => {
                // chrono needs a day to parse a date; the value must not carry one.
                let date = NaiveDate::parse_from_str(&format!("{value}-01"), "%Y-%m-%d").ok()?;
                (date.format("%Y-%m").to_string() == value)
                    .then(|| Period::Month((date.year() - 1970) * 12 + date.month0() as i32))
            }
        }
    }
}

impl fmt::Display for Period {
    /// The value as written in paths.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Day(_) => write!(f, "{}", self.first_day().format("%Y-%m-%d")),
            Period::Month(_) => write!(f, "{}", self.first_day().format("%Y-%m")),
        }
    }
}

impl DatePartition {
    /// The level's name in paths at `granularity`, e.g. `created_month`.
    pub fn level(&self, granularity: Granularity) -> &'static str {
        match granularity {
            Granularity::Month => self.month_level,
            Granularity::Day => self.day_level,
        }
    }
}

/// One partition of one table: its table, its workspace and, for date-partitioned tables, its
/// period.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    /// The table.
    pub table: Table,
    /// The workspace slug (`workspace=` level).
    pub workspace: String,
    /// The month or day of the table's date column, for date-partitioned tables.
    pub period: Option<Period>,
}

impl PartitionKey {
    /// The partition of a table without a date level.
    pub fn workspace(table: Table, workspace: &str) -> PartitionKey {
        PartitionKey {
            table,
            workspace: workspace.to_string(),
            period: None,
        }
    }

    /// Directory of the partition, relative to the dataset root, without a trailing slash.
    pub fn dir(&self) -> String {
        let mut dir = workspace_dir(self.table, &self.workspace);
        if let (Some(period), Some(date)) = (self.period, self.table.date_partition()) {
            dir.push_str(&format!("/{}={period}", date.level(period.granularity())));
        }
        dir
    }

    /// Path of the `n`th data file an export (`run_id`) writes into the partition.
    pub fn file(&self, run_id: &str, n: u32) -> String {
        format!("{}/{}", self.dir(), file_name(run_id, n))
    }

    /// The partition a data file (or directory) path lies in, if it is one of the dataset's:
    /// a table directory, a workspace level and, for date-partitioned tables, a valid month or
    /// day under its level's name (either granularity: a dataset's files say which it has).
    pub fn of_path(path: &str) -> Option<PartitionKey> {
        let mut parts = path.split('/');
        let table = Table::from_name(parts.next()?)?;
        let workspace = parts.next()?.strip_prefix("workspace=")?;
        let period = match table.date_partition() {
            None => None,
            Some(date) => {
                let (level, value) = parts.next()?.split_once('=')?;
                let granularity = Granularity::ALL
                    .into_iter()
                    .find(|&g| date.level(g) == level)?;
                Some(Period::parse(value, granularity)?)
            }
        };
        Some(PartitionKey {
            table,
            workspace: workspace.to_string(),
            period,
        })
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

    fn runs(period: Period) -> PartitionKey {
        PartitionKey {
            table: Table::PipelineRuns,
            workspace: "acme".into(),
            period: Some(period),
        }
    }

    #[test]
    fn paths_are_hive_style_and_parse_back() {
        let day = runs(Period::Day(20_000));
        assert_eq!(
            day.dir(),
            "pipeline_runs/workspace=acme/created_date=2024-10-04"
        );
        let file = day.file("r1", 2);
        assert_eq!(
            file,
            "pipeline_runs/workspace=acme/created_date=2024-10-04/part-r1-0002.parquet"
        );
        assert_eq!(PartitionKey::of_path(&file), Some(day.clone()));
        assert_eq!(PartitionKey::of_path(&day.dir()), Some(day));
        let month = runs(Period::of_micros(
            20_000 * MICROS_PER_DAY,
            Granularity::Month,
        ));
        assert_eq!(
            month.file("r1", 1),
            "pipeline_runs/workspace=acme/created_month=2024-10/part-r1-0001.parquet"
        );
        assert_eq!(PartitionKey::of_path(&month.file("r1", 1)), Some(month));
        let repos = PartitionKey::workspace(Table::Repositories, "acme");
        assert_eq!(repos.dir(), "repositories/workspace=acme");
        assert_eq!(
            PartitionKey::of_path("repositories/workspace=acme/part-x-0001.parquet"),
            Some(repos)
        );
        assert_eq!(
            workspace_of("deployments/workspace=globex/deployed_month=2024-01/f"),
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
            "pipeline_runs/workspace=acme/created_date=2024-10",
            "pipeline_runs/workspace=acme/created_month=2024-10-04",
            "pipeline_runs/workspace=acme/created_month=2024-13",
            "pipeline_runs/workspace=acme/created_month=2024-1",
            "pipeline_runs/workspace=acme/deployed_date=2024-10-04",
            "pipeline_runs/workspace=acme/deployed_month=2024-10",
            "pipeline_runs/workspace=acme/created_dateX=2024-10-04",
        ] {
            assert_eq!(PartitionKey::of_path(path), None, "{path}");
        }
    }

    #[test]
    fn periods_hold_their_timestamps_and_floor_before_1970() {
        assert_eq!(date_of(day_of_micros(-1)).to_string(), "1969-12-31");
        assert_eq!(day_of_micros(MICROS_PER_DAY), 1);
        let before = Period::of_micros(-1, Granularity::Month);
        assert_eq!(
            (before, before.to_string()),
            (Period::Month(-1), "1969-12".into())
        );
        let micros = |date: &str| {
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
            (date - NaiveDate::default()).num_days() * MICROS_PER_DAY
        };
        let november = Period::of_micros(
            micros("2026-11-30") + MICROS_PER_DAY - 1,
            Granularity::Month,
        );
        assert_eq!(november.to_string(), "2026-11");
        assert!(november.contains(micros("2026-11-01")));
        assert!(!november.contains(micros("2026-12-01")));
        assert!(!november.contains(micros("2026-11-01") - 1));
        assert_eq!(Period::parse("2026-11", Granularity::Month), Some(november));
        assert_eq!(november.first_day().to_string(), "2026-11-01");
        let day = Period::of_micros(micros("2026-11-30"), Granularity::Day);
        assert_eq!(day.to_string(), "2026-11-30");
        assert!(!day.contains(micros("2026-11-29")));
        assert_eq!("day".parse(), Ok(Granularity::Day));
        assert!("week".parse::<Granularity>().is_err());
    }
}
