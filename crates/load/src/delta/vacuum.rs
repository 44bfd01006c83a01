//! `bbpipe vacuum`: removes the data files of a Delta dataset that nothing references any
//! more and that are older than a retention.
//!
//! A Delta dataset keeps the files its exports replace, because older versions of its tables
//! (time travel, a reader still scanning) reference them. A file is removed only when all of
//! these hold: no table's current version references it, no manifest keeps it live (so a
//! commit not yet published is safe), its workspace is not being exported right now, and it
//! stopped being current, or was written (files no commit ever named), longer ago than the
//! retention. Versions of a table older than the retention may then fail to read.

use super::publish::current_files;
use crate::dataset::layout::DatasetRecord;
use crate::dataset::lease::current_record;
use crate::dataset::manifest::{History, Scope};
use crate::destination::Destination;
use crate::error::LoadError;
use bbpipe_model::{Format, Table, is_data_file, workspace_of};
use chrono::{DateTime, Utc};
use object_store::path::Path;
use std::collections::{BTreeMap, BTreeSet};

/// What a vacuum removed and kept.
#[derive(Debug, Default, Clone)]
pub struct Vacuumed {
    /// Files removed (or, in a dry run, that would be), as paths from the dataset root.
    pub removed: Vec<String>,
    /// Their bytes.
    pub removed_bytes: u64,
    /// Files a current version or a manifest references.
    pub referenced: u64,
    /// Unreferenced files kept because they are younger than the retention.
    pub within_retention: u64,
    /// Workspaces skipped because an export holds their lease.
    pub busy: Vec<String>,
}

/// Removes unreferenced data files that stopped being current before `cutoff` (now less the
/// retention); with `dry_run`, only lists them.
pub async fn vacuum(
    destination: &Destination,
    cutoff: DateTime<Utc>,
    dry_run: bool,
) -> Result<Vacuumed, LoadError> {
    let format = DatasetRecord::read(destination)
        .await?
        .map_or(Format::Parquet, |r| r.format);
    if format != Format::Delta {
        return Err(LoadError::Destination {
            destination: destination.display().to_string(),
            message: "not a Delta dataset (written with --format parquet): its exports delete \
                      the files they replace as they commit, so there is nothing to vacuum"
                .into(),
        });
    }
    let history = History::read(destination, Scope::All).await?;
    // When each replaced file stopped being current: the manifest that removed it.
    let mut retired: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for manifest in &history.manifests {
        for changes in manifest.tables.values() {
            for file in &changes.removed {
                retired.insert(file.path.as_str(), manifest.finished_at);
            }
        }
    }
    let mut done = Vacuumed::default();
    let mut busy = BTreeSet::new();
    for workspace in history.workspaces.keys() {
        if let Some(lease) = current_record(destination, workspace).await?
            && lease.is_held(Utc::now())
        {
            busy.insert(workspace.clone());
        }
    }
    for &table in Table::ALL {
        let current: BTreeSet<String> = current_files(destination, table)
            .await?
            .unwrap_or_default()
            .into_keys()
            .collect();
        for meta in destination.list(&Path::from(table.name())).await? {
            let path = meta.location.to_string();
            if !is_data_file(meta.location.filename().unwrap_or_default())
                || busy.contains(workspace_of(&path))
            {
                continue;
            }
            if current.contains(&path) || history.live.contains_key(&path) {
                done.referenced += 1;
                continue;
            }
            let since = retired
                .get(path.as_str())
                .map_or(meta.last_modified, |at| (*at).max(meta.last_modified));
            if since >= cutoff {
                done.within_retention += 1;
                continue;
            }
            if !dry_run {
                destination.delete(&meta.location).await?;
            }
            done.removed_bytes += meta.size;
            done.removed.push(path);
        }
    }
    done.busy = busy.into_iter().collect();
    Ok(done)
}
