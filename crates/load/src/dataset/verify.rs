//! `bbpipe verify-output`: is the dataset what its manifests say, and is every file sound?

use crate::dataset::layout::DatasetRecord;
use crate::dataset::lease::current_record;
use crate::dataset::manifest::{History, Scope, data_files, paths_under};
use crate::dataset::reader::read_columns;
use crate::destination::Destination;
use crate::error::LoadError;
use arrow::array::{Array, AsArray};
use arrow::datatypes::TimestampMicrosecondType;
use arrow::row::{RowConverter, SortField};
use bbpipe_model::{Format, Granularity, PartitionKey, Table, workspace_of};
use object_store::path::Path;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// What verification found.
#[derive(Debug, Default)]
pub struct Verification {
    /// Manifests read.
    pub manifests: usize,
    /// Data files read.
    pub files: usize,
    /// Rows per table.
    pub rows: BTreeMap<&'static str, u64>,
    /// What is wrong; empty when the dataset is sound.
    pub problems: Vec<String>,
    /// Worth knowing but not wrong: leases held or left behind, exports under way.
    pub notes: Vec<String>,
}

/// Checks every data file: readable, of the documented schema, rows as the manifest counted,
/// in the partition its path names; keys unique across files; files and manifests agreeing.
pub async fn verify(destination: &Destination) -> Result<Verification, LoadError> {
    let history = History::read(destination, Scope::All).await?;
    let present = data_files(destination).await?;
    let mut report = Verification {
        manifests: history.manifests.len(),
        ..Verification::default()
    };
    if history.manifests.is_empty() {
        report.problems.push(format!(
            "no manifest in {}/_manifests: not a bbpipe dataset",
            destination.display()
        ));
    }
    let writing = writing_workspaces(destination, &history, &mut report).await?;
    // A dataset without a record was written by bbpipe 0.1, by day, as Parquet.
    let (granularity, format) = match DatasetRecord::read(destination).await {
        Ok(record) => record.map_or((Granularity::Day, Format::Parquet), |r| {
            (r.partition_by, r.format)
        }),
        Err(e) => {
            report.problems.push(e.to_string());
            (Granularity::Day, Format::Parquet)
        }
    };
    let mut kept_for_versions = 0;
    for file in present.iter().filter(|f| !history.live.contains_key(*f)) {
        let workspace = workspace_of(file);
        let shown = destination.describe(&Path::from(file.as_str()));
        if format == Format::Delta {
            // Older versions of the Delta tables may reference it: `bbpipe vacuum` decides.
            kept_for_versions += 1;
        } else if writing.contains(workspace) {
            report.notes.push(format!(
                "{shown}: not committed yet (an export is under way)"
            ));
        } else {
            report.problems.push(format!(
                "{shown}: orphaned, not live in any manifest (left by an interrupted export; \
                 the next export of workspace {workspace} removes it)"
            ));
        }
    }
    if kept_for_versions > 0 {
        report.notes.push(format!(
            "{kept_for_versions} data files are no longer current: kept for older versions \
             of the Delta tables until `bbpipe vacuum`"
        ));
    }
    if format == Format::Delta {
        check_delta(destination, &history, &present, &writing, &mut report).await?;
    }
    for file in history.live.keys().filter(|f| !present.contains(*f)) {
        report.problems.push(format!(
            "{}: listed in a manifest but missing",
            destination.describe(&Path::from(file.as_str()))
        ));
    }
    let mut keys: KeysSeen = BTreeMap::new();
    for (path_text, entry) in history.live.iter().filter(|(f, _)| present.contains(*f)) {
        check_file(
            destination,
            path_text,
            entry.rows,
            granularity,
            &mut keys,
            &mut report,
        )
        .await?;
    }
    Ok(report)
}

/// Workspaces an export is writing right now (their files that are not live yet are its work
/// in progress, not leftovers); notes stale leases and problems of the manifest logs.
async fn writing_workspaces(
    destination: &Destination,
    history: &History,
    report: &mut Verification,
) -> Result<HashSet<String>, LoadError> {
    let mut writing = HashSet::new();
    for (workspace, log) in &history.workspaces {
        for sequence in &log.missing {
            report.problems.push(format!(
                "workspace {workspace}: manifest {sequence} of its log is missing"
            ));
        }
        if let Some(record) = current_record(destination, workspace).await? {
            if record.released {
                continue;
            }
            if record.is_held(chrono::Utc::now()) {
                report.notes.push(format!(
                    "workspace {workspace}: being exported by {} (lease until {})",
                    record.holder, record.expires_at
                ));
                writing.insert(workspace.clone());
            } else {
                report.notes.push(format!(
                    "workspace {workspace}: stale lease of {} (expired {}): that export died; \
                 the next export takes over and removes what it left",
                    record.holder, record.expires_at
                ));
            }
        }
    }
    Ok(writing)
}

/// Checks one live data file: readable, its rows as the manifest counted (`counted`), in the
/// granularity of the dataset and the partition its path names, keys not seen before.
async fn check_file(
    destination: &Destination,
    path_text: &str,
    counted: u64,
    granularity: Granularity,
    keys: &mut KeysSeen,
    report: &mut Verification,
) -> Result<(), LoadError> {
    let path = Path::from(path_text);
    let shown = destination.describe(&path);
    let Some(partition) = PartitionKey::of_path(path_text) else {
        report
            .problems
            .push(format!("{shown}: not in a partition directory of a table"));
        return Ok(());
    };
    let (table, workspace) = (partition.table, partition.workspace.as_str());
    let batches = match read_columns(destination, table, &path, None).await {
        Ok(batches) => batches,
        Err(e) => {
            report.problems.push(e.to_string());
            return Ok(());
        }
    };
    report.files += 1;
    let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
    *report.rows.entry(table.name()).or_default() += rows;
    if rows != counted {
        report.problems.push(format!(
            "{shown}: {rows} rows, the manifest says {}",
            counted
        ));
    }
    let seen = keys
        .entry((table.name(), workspace.to_string()))
        .or_default();
    if let Some(period) = partition.period
        && period.granularity() != granularity
    {
        report.problems.push(format!(
            "{shown}: partitioned by {}, but the dataset is partitioned by {granularity}",
            period.granularity()
        ));
    }
    for batch in &batches {
        check_batch(batch, table, &partition, &shown, seen, report)?;
    }
    Ok(())
}

/// Checks one batch of a file: each row in the file's partition, each key once.
fn check_batch(
    batch: &arrow::record_batch::RecordBatch,
    table: Table,
    partition: &PartitionKey,
    shown: &str,
    seen: &mut HashSet<Vec<u8>>,
    report: &mut Verification,
) -> Result<(), LoadError> {
    if let (Some(date), Some(period)) = (table.date_partition(), partition.period) {
        let column = date.column;
        let times = batch
            .column_by_name(column)
            .map(|c| c.as_primitive::<TimestampMicrosecondType>());
        let wrong = times.and_then(|t| (0..t.len()).find(|&i| !period.contains(t.value(i))));
        if let Some(row) = wrong {
            report.problems.push(format!(
                "{shown}: row {row} has a {column} outside {period}"
            ));
        }
    }
    let columns: Vec<_> = table
        .key_columns()
        .iter()
        .filter_map(|k| batch.column_by_name(k).cloned())
        .collect();
    let fields = columns
        .iter()
        .map(|c| SortField::new(c.data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields).map_err(|e| LoadError::Corrupt {
        path: shown.to_string(),
        message: e.to_string(),
    })?;
    let rows = converter
        .convert_columns(&columns)
        .map_err(|e| LoadError::Corrupt {
            path: shown.to_string(),
            message: e.to_string(),
        })?;
    for row in rows.iter() {
        if !seen.insert(row.data().to_vec()) {
            report.problems.push(format!(
                "{shown}: a {} key ({}) appears in more than one row",
                table.name(),
                table.key_columns().join(", ")
            ));
            break;
        }
    }
    Ok(())
}

/// Encoded keys seen so far, per table and workspace.
type KeysSeen = BTreeMap<(&'static str, String), HashSet<Vec<u8>>>;

/// A Delta dataset: each table's current version references exactly the live files, every one
/// of them present, with the partition values its path names.
async fn check_delta(
    destination: &Destination,
    history: &History,
    present: &BTreeSet<String>,
    writing: &HashSet<String>,
    report: &mut Verification,
) -> Result<(), LoadError> {
    for &table in Table::ALL {
        let shown_table = destination.describe(&Path::from(table.name()));
        let root = format!("{}/", table.name());
        let live: BTreeSet<&String> = paths_under(&history.live, &root).collect();
        let current = match crate::delta::current_files(destination, table).await {
            Ok(current) => current.unwrap_or_default(),
            Err(e) => {
                report.problems.push(e.to_string());
                continue;
            }
        };
        for (path, values) in &current {
            let shown = destination.describe(&Path::from(path.as_str()));
            if !present.contains(path) {
                report.problems.push(format!(
                    "{shown}: referenced by the current version of Delta table {shown_table} \
                     but missing"
                ));
            }
            let mut expected = crate::delta::partition_values(path).unwrap_or_default();
            expected.sort();
            if &expected != values {
                report.problems.push(format!(
                    "{shown}: the Delta log gives it partition values {values:?}, its path \
                     {expected:?}"
                ));
            }
            if !live.contains(path) {
                report.problems.push(format!(
                    "{shown}: in the current version of Delta table {shown_table} but not live \
                     in any manifest"
                ));
            }
        }
        let mut behind: BTreeMap<&str, usize> = BTreeMap::new();
        for path in live.iter().filter(|path| !current.contains_key(**path)) {
            *behind.entry(workspace_of(path)).or_default() += 1;
        }
        for (workspace, files) in behind {
            let message = format!(
                "Delta table {shown_table} lacks {files} file(s) of workspace {workspace} that \
                 its manifests committed (an export stopped between its commit and publishing \
                 it; the next export of {workspace} publishes them)"
            );
            if writing.contains(workspace) {
                report.notes.push(message);
            } else {
                report.problems.push(message);
            }
        }
    }
    Ok(())
}
