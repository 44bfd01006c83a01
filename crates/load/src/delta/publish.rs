//! Publishing a workspace to the Delta logs: each table's current version made to hold exactly
//! the workspace's live files, in one transaction per table that changes.

use super::actions::add_files;
use super::engine::{DeltaEngine, kernel};
use super::schema::{partition_columns, table_schema};
use super::{CHECKPOINT_EVERY, has_log};
use crate::dataset::manifest::{FileEntry, entries_under};
use crate::destination::Destination;
use crate::error::LoadError;
use arrow::array::{Array, AsArray};
use bbpipe_model::{Granularity, Table, workspace_dir};
use delta_kernel::committer::FileSystemCommitter;
use delta_kernel::engine::arrow_data::ArrowEngineData;
use delta_kernel::transaction::create_table::create_table;
use delta_kernel::transaction::data_layout::DataLayout;
use delta_kernel::transaction::{CommitResult, UpdateTableOperation};
use delta_kernel::{Engine, EngineData, FilteredEngineData, Snapshot, SnapshotRef};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// What the log's `commitInfo.engineInfo` says wrote a version.
const ENGINE_INFO: &str = concat!("bbpipe/", env!("CARGO_PKG_VERSION"));

/// Commits lost to other writers before giving up: each loss means another workspace
/// committed, so this many in a row means something is wrong.
const MAX_ATTEMPTS: u32 = 50;

/// What publishing did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The table.
    pub table: Table,
    /// The version committed.
    pub version: u64,
    /// Files added to the table.
    pub added: usize,
    /// Files removed from it (kept on storage until `bbpipe vacuum`).
    pub removed: usize,
    /// Commits lost to other writers and tried again.
    pub retries: u32,
}

/// A file to add: its path under the table's root, and what the manifest says of it.
type Wanted = BTreeMap<String, FileEntry>;

/// Makes each table's current version hold exactly the files `live` (the dataset as the
/// manifests say) has for `workspace`, leaving other workspaces' files alone. Tables that
/// change get one commit each; a table without a log is created when it first has a file.
/// Idempotent: publishing again changes nothing.
pub async fn publish(
    destination: &Destination,
    granularity: Granularity,
    workspace: &str,
    live: &BTreeMap<String, FileEntry>,
) -> Result<Vec<Published>, LoadError> {
    let engine = DeltaEngine::new(destination)?;
    let mut work = Vec::new();
    for &table in Table::ALL {
        let root = format!("{}/", table.name());
        let dir = format!("{}/", workspace_dir(table, workspace));
        let wanted: Wanted = entries_under(live, &dir)
            .filter_map(|(path, entry)| {
                Some((path.strip_prefix(&root)?.to_string(), entry.clone()))
            })
            .collect();
        let url = engine.table_url(table)?;
        let dir = dir.strip_prefix(&root).unwrap_or(&dir).to_string();
        let run = engine.clone();
        work.push(async move {
            // Whether the log exists is asked of every table at once, not one after another.
            let exists = has_log(destination, table).await?;
            if wanted.is_empty() && !exists {
                return Ok(None);
            }
            run.run(table, move |engine| {
                Reconcile {
                    engine,
                    table,
                    granularity,
                    url,
                    dir,
                    wanted,
                }
                .run(exists)
            })
            .await
        });
    }
    // Tables are independent logs: publish them all at once, and let every one finish (a
    // failure of one does not abandon the others mid-commit).
    let mut published = Vec::new();
    for result in futures::future::join_all(work).await {
        published.extend(result?);
    }
    Ok(published)
}

/// The files the current version of `table` references, as paths from the dataset root, each
/// with its partition values as the log records them (sorted); `None` if it has no log.
pub async fn current_files(
    destination: &Destination,
    table: Table,
) -> Result<Option<BTreeMap<String, Vec<(String, String)>>>, LoadError> {
    if !has_log(destination, table).await? {
        return Ok(None);
    }
    let engine = DeltaEngine::new(destination)?;
    let url = engine.table_url(table)?;
    engine
        .run(table, move |engine| {
            let snapshot = open_snapshot(engine, table, &url, None)?;
            let mut files = BTreeMap::new();
            let scan = kernel(table, snapshot.scan_builder().build())?;
            for metadata in kernel(table, scan.scan_metadata(engine))? {
                let metadata = kernel(table, metadata)?;
                files = kernel(
                    table,
                    metadata.visit_scan_files(files, |files, file| {
                        let mut values: Vec<(String, String)> =
                            file.partition_values.into_iter().collect();
                        values.sort();
                        files.insert(file.path, values);
                    }),
                )?;
            }
            Ok(Some(
                files
                    .into_iter()
                    .map(|(path, values)| (format!("{}/{path}", table.name()), values))
                    .collect(),
            ))
        })
        .await
}

/// The snapshot of the table at `url`: its current version, or `version`.
fn open_snapshot(
    engine: &dyn Engine,
    table: Table,
    url: &Url,
    version: Option<u64>,
) -> Result<SnapshotRef, LoadError> {
    let mut builder = Snapshot::builder_for(url.as_str());
    if let Some(version) = version {
        builder = builder.at_version(version);
    }
    kernel(table, builder.build(engine))
}

/// One table's publishing, on a blocking thread.
struct Reconcile<'e> {
    engine: &'e dyn Engine,
    table: Table,
    granularity: Granularity,
    url: Url,
    /// The workspace's directory under the table's root (`workspace=<ws>/`): its files.
    dir: String,
    wanted: Wanted,
}

impl Reconcile<'_> {
    fn run(self, mut exists: bool) -> Result<Option<Published>, LoadError> {
        let table = self.table;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                // Another writer just committed: let it finish its burst.
                std::thread::sleep(Duration::from_millis(5 * u64::from(attempt.min(20))));
            }
            let outcome = if exists {
                self.update()?
            } else {
                self.create()?
            };
            match outcome {
                Attempt::Done(published) => {
                    return Ok(published.map(|mut p| {
                        p.retries = attempt;
                        p
                    }));
                }
                // Lost the race to create or to commit the next version: read it and retry.
                Attempt::Lost => exists = true,
            }
        }
        Err(LoadError::Delta {
            table: table.name().to_string(),
            message: format!(
                "lost {MAX_ATTEMPTS} commits in a row to other writers; nothing of this \
                 workspace was published (the next export tries again)"
            ),
        })
    }

    /// Creates the table with the wanted files as its version 0.
    fn create(&self) -> Result<Attempt, LoadError> {
        let table = self.table;
        let schema = table_schema(table, self.granularity)?;
        let layout = DataLayout::partitioned(partition_columns(table, self.granularity));
        let built = create_table(self.url.as_str(), schema, ENGINE_INFO, true)
            .with_data_layout(layout)
            .build(self.engine, Box::new(FileSystemCommitter::new()));
        let mut transaction = match built {
            // Another writer created it since this one looked.
            Err(delta_kernel::KernelError::TableAlreadyExistsAtPath(_)) => {
                return Ok(Attempt::Lost);
            }
            built => kernel(table, built)?,
        };
        let wanted: Vec<_> = self.wanted.iter().collect();
        transaction.add_files(add_files(table, &wanted)?);
        Ok(match kernel(table, transaction.commit(self.engine))? {
            CommitResult::Committed(committed) => Attempt::Done(Some(Published {
                table,
                version: committed.commit_version(),
                added: wanted.len(),
                removed: 0,
                retries: 0,
            })),
            CommitResult::Conflicted(_) | CommitResult::Retryable(_) => Attempt::Lost,
        })
    }

    /// Adds the wanted files the current version lacks and removes the workspace's files it
    /// holds that are no longer wanted, in one commit; none if nothing differs.
    fn update(&self) -> Result<Attempt, LoadError> {
        let (table, engine) = (self.table, self.engine);
        let snapshot = open_snapshot(engine, table, &self.url, None)?;
        let scan = kernel(table, Arc::clone(&snapshot).scan_builder().build())?;
        let mut present = BTreeSet::new();
        let mut removals = Vec::new();
        let mut removed = 0;
        for metadata in kernel(table, scan.scan_metadata(engine))? {
            let (data, selection) = kernel(table, metadata)?.scan_files.into_parts();
            let data = kernel(table, ArrowEngineData::try_from_engine_data(data))?;
            let paths = data
                .record_batch()
                .column_by_name("path")
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or_else(|| LoadError::Delta {
                    table: table.name().to_string(),
                    message: "the kernel's scan files have no `path` column".into(),
                })?;
            let mut remove = vec![false; paths.len()];
            for (i, flag) in remove.iter_mut().enumerate() {
                let path = paths.value(i);
                // Rows past the selection vector are selected.
                if !selection.get(i).copied().unwrap_or(true) || !path.starts_with(&self.dir) {
                    continue;
                }
                if self.wanted.contains_key(path) {
                    present.insert(path.to_string());
                } else {
                    *flag = true;
                }
            }
            let count = remove.iter().filter(|r| **r).count();
            if count > 0 {
                removed += count;
                let data: Box<dyn EngineData> = data;
                removals.push(kernel(table, FilteredEngineData::try_new(data, remove))?);
            }
        }
        let added: Vec<_> = self
            .wanted
            .iter()
            .filter(|(path, _)| !present.contains(*path))
            .collect();
        if added.is_empty() && removals.is_empty() {
            return Ok(Attempt::Done(None));
        }
        let mut transaction = kernel(
            table,
            Arc::clone(&snapshot)
                .update_table(UpdateTableOperation::Write, ENGINE_INFO, true)
                .build(engine, Box::new(FileSystemCommitter::new())),
        )?;
        if !added.is_empty() {
            transaction.add_files(add_files(table, &added)?);
        }
        for removal in removals {
            transaction.remove_files(removal);
        }
        let committed = match kernel(table, transaction.commit(engine))? {
            CommitResult::Committed(committed) => committed,
            CommitResult::Conflicted(_) | CommitResult::Retryable(_) => return Ok(Attempt::Lost),
        };
        let version = committed.commit_version();
        if version % CHECKPOINT_EVERY == 0 {
            // The version just written, as the commit left it; read again only if it did not.
            let written = match committed.post_commit_snapshot() {
                Some(written) => Arc::clone(written),
                None => open_snapshot(engine, table, &self.url, Some(version))?,
            };
            kernel(table, written.checkpoint(engine, None))?;
        }
        Ok(Attempt::Done(Some(Published {
            table,
            version,
            added: added.len(),
            removed,
            retries: 0,
        })))
    }
}

/// How one attempt to commit ended.
enum Attempt {
    /// Committed, or nothing to commit (`None`).
    Done(Option<Published>),
    /// Another writer took the version first.
    Lost,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destination::StoreOptions;
    use object_store::path::Path;

    fn entry(path: &str) -> (String, FileEntry) {
        let entry = FileEntry {
            path: path.to_string(),
            rows: 3,
            bytes: 100,
        };
        (path.to_string(), entry)
    }

    /// Publishing follows the live files version after version, leaves other workspaces
    /// alone, changes nothing when nothing changed, and checkpoints every 10th version.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_follows_the_live_files_and_is_checkpointed() {
        let dir = tempfile::tempdir().unwrap();
        let destination =
            Destination::open(dir.path().to_str().unwrap(), &StoreOptions::default()).unwrap();
        let file = |ws: &str, month: &str, n: u32| {
            format!("pipeline_runs/workspace={ws}/created_month={month}/part-r{n}-0001.parquet")
        };
        // The files themselves: publishing only names them, but a table's directory must exist.
        let write = |live: &BTreeMap<String, FileEntry>| {
            let destination = destination.clone();
            let paths: Vec<String> = live.keys().cloned().collect();
            async move {
                for path in paths {
                    let path = Path::from(path.as_str());
                    destination
                        .put(&path, bytes::Bytes::from_static(b"x"))
                        .await
                        .unwrap();
                }
            }
        };
        let other: BTreeMap<_, _> = [entry(&file("globex", "2026-01", 0))].into();
        write(&other).await;
        publish(&destination, Granularity::Month, "globex", &other)
            .await
            .unwrap();
        let mut live = other.clone();
        for n in 1..=11 {
            // Each round replaces acme's file of 2026-02 and adds one of a new month.
            live.retain(|path, _| !path.contains("workspace=acme/created_month=2026-02"));
            live.extend([
                entry(&file("acme", "2026-02", n)),
                entry(&file("acme", &format!("2025-{n:02}"), n)),
            ]);
            write(&live).await;
            let published = publish(&destination, Granularity::Month, "acme", &live)
                .await
                .unwrap();
            assert_eq!(published.len(), 1);
            assert_eq!(published[0].version, n as u64);
            assert_eq!(published[0].removed, usize::from(n > 1));
            let current = current_files(&destination, Table::PipelineRuns)
                .await
                .unwrap()
                .unwrap();
            let current: BTreeSet<&String> = current.keys().collect();
            let want: BTreeSet<&String> = live.keys().collect();
            assert_eq!(current, want, "version {n}");
        }
        let again = publish(&destination, Granularity::Month, "acme", &live)
            .await
            .unwrap();
        assert!(again.is_empty(), "nothing changed, nothing committed");
        let log = dir.path().join("pipeline_runs/_delta_log");
        assert!(
            log.join("00000000000000000010.checkpoint.parquet").exists(),
            "checkpoint at version 10"
        );
        assert!(log.join("_last_checkpoint").exists());
    }
}
