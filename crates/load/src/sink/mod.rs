//! The load stage: buffers batches per partition, merges each partition with what the dataset
//! already holds, and writes it as one new Parquet file. Nothing is visible as committed until
//! a commit writes the workspace's next manifest (at each checkpoint, and at the end).
//!
//! Memory is bounded by a budget. Past it, the partition that has gone longest without new
//! rows is written out while rows keep arriving (a replay sends the months or days of a
//! workspace newest first, so that partition is usually complete); rows that arrive later for a
//! partition written early are spilled to disk and merged with its file at the end.

//!
//! The sink's jobs live in one module each: [`budget`] (buffering within the memory budget,
//! early writes, spilling), [`files`] (which files are live, new and replaced), [`dedup`] (rows
//! that moved partition), [`commits`] (staging and committing, in the order that keeps
//! readers safe); this module holds the state they share and the channel loop.

mod budget;
mod commits;
mod dedup;
mod files;
mod withdraw;

use crate::dataset::lease::Lease;
use crate::dataset::manifest::{FileEntry, History, Manifest, Scope, StateEntries, WorkspaceLog};
use crate::delta::Published;
use crate::destination::Destination;
use crate::error::LoadError;
use crate::failpoint::{failpoint, stall_point};
use crate::tables::deployments_ndjson::DeploymentsNdjson;
use crate::tables::rejects::Rejects;
use crate::write::flush::Flushed;
use crate::write::parquet::WrittenFile;
use crate::write::spill::Spill;
use bbpipe_model::{
    Activity, Checkpoint, Format, Granularity, Message, PartitionKey, Table, TableBatch, Wait,
};
use budget::{Buffer, InFlight};
use chrono::{DateTime, Utc};
use object_store::path::Path;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::mpsc::Receiver;

/// How load buffers and names files.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Arrow bytes held across all partitions before the largest are written out early.
    /// Bounds memory whatever the size of the workspace.
    pub max_buffered_bytes: usize,
    /// Bytes buffered per file before uploading in parts (multipart upload on S3).
    pub upload_part_bytes: usize,
    /// Unique per export, sorting by time; names the files and the manifest.
    pub run_id: String,
    /// Where the pages come from, for the manifests.
    pub source: String,
    /// How date-partitioned tables are split: what [`resolve_layout`] returned for the
    /// destination.
    ///
    /// [`resolve_layout`]: crate::resolve_layout
    pub partition_by: Granularity,
    /// Plain Parquet, or Delta tables published after each commit: what
    /// [`resolve_layout`](crate::resolve_layout) returned for the destination.
    pub format: Format,
}

/// What load committed.
#[derive(Debug, Clone, Default)]
pub struct LoadSummary {
    /// Files added by this export and still live.
    pub files: Vec<WrittenFile>,
    /// Files committed before this export and replaced by merged ones.
    pub replaced: u64,
    /// Manifests this export committed (checkpoints included).
    pub manifests: Vec<Manifest>,
    /// Files left by interrupted exports that this one removed.
    pub orphans_removed: u64,
    /// How the dataset's date-partitioned tables are split.
    pub partition_by: Granularity,
    /// The tables' format.
    pub format: Format,
    /// The Delta table versions this export committed (none for a Parquet dataset).
    pub published: Vec<Published>,
}

impl LoadSummary {
    /// (files, rows, bytes) written for `table`.
    pub fn totals(&self, table: Table) -> (u64, u64, u64) {
        self.files
            .iter()
            .filter(|f| f.table == table)
            .fold((0, 0, 0), |(n, rows, bytes), f| {
                (n + 1, rows + f.rows, bytes + f.bytes)
            })
    }

    /// Older versions of rows dropped while merging.
    pub fn duplicates_dropped(&self) -> u64 {
        self.files.iter().map(|f| f.duplicates_dropped).sum()
    }
}

/// Writes [`TableBatch`]es as Hive-partitioned Parquet, one merged file per partition touched.
pub struct ParquetSink {
    destination: Destination,
    options: LoadOptions,
    started_at: DateTime<Utc>,
    buffers: BTreeMap<PartitionKey, Buffer>,
    buffered_bytes: usize,
    /// Batches received so far: the clock of [`Buffer::touched`].
    batches_received: u64,
    /// Partitions written before the end of the input, at most once each.
    written_early: HashSet<PartitionKey>,
    in_flight: InFlight,
    /// Bytes of the rows `in_flight` took: they count against the budget until written.
    in_flight_bytes: usize,
    /// Partitions written at once.
    parallel: usize,
    files_per_partition: HashMap<PartitionKey, u32>,
    ndjson: Option<DeploymentsNdjson>,
    /// Where rows over the memory budget wait; created on first need.
    spill: Option<Spill>,
    /// Committed files still current: the dataset as the last manifest left it, less what
    /// this export replaced.
    live: BTreeMap<String, FileEntry>,
    /// Files this export wrote that are still current.
    added: BTreeMap<String, WrittenFile>,
    /// Committed files this export replaced; deleted once the manifest is written.
    removed: BTreeMap<String, (Table, FileEntry)>,
    /// Per workspace this sink may write: its log as read, advanced by each commit.
    logs: BTreeMap<String, WorkspaceLog>,
    /// The lease of each workspace, checked before each commit (none with --no-lock).
    leases: BTreeMap<String, Arc<Lease>>,
    /// Workspaces committed at least once by this export (then orphans are removed).
    committed_once: HashSet<String>,
    /// Copies of each checkpoint received, until all arrived.
    marks: HashMap<u64, usize>,
    /// What this export committed so far.
    summary: LoadSummary,
    /// Files this export committed, still live.
    committed_files: BTreeMap<String, WrittenFile>,
    /// Manifests committed so far, readable after a failure.
    commit_count: Arc<std::sync::atomic::AtomicU64>,
    /// The `rejects` of the workspaces written, and which arrived in a good version.
    rejects: Rejects,
    /// A table this sink replaces whole in its workspaces: its rows are not merged with the
    /// committed ones, and its committed files that get no new rows are removed.
    replacing: Option<Table>,
    /// State entries every commit of a workspace sets, besides those checkpoints carry.
    extra_state: BTreeMap<String, StateEntries>,
    /// Groups of rows to remove at the next commit.
    withdrawals: Vec<withdraw::Withdrawal>,
    /// Where the stage reports progress and waits (the stall watchdog reads it).
    activity: Arc<Activity>,
}

impl ParquetSink {
    /// Opens the destination for `workspaces` (the only ones this sink may write): learns the
    /// live files and where each workspace's log stands. Call [`check_is_dataset`] before
    /// taking the workspaces' leases, and this while holding them. Nothing is deleted here:
    /// files left by an interrupted export are removed after this export's first commit.
    ///
    /// [`check_is_dataset`]: crate::check_is_dataset
    pub async fn open(
        destination: Destination,
        options: LoadOptions,
        workspaces: &[String],
    ) -> Result<Self, LoadError> {
        let history = History::read(&destination, Scope::Workspaces(workspaces)).await?;
        for (workspace, log) in &history.workspaces {
            if !log.missing.is_empty() {
                tracing::warn!(
                    workspace,
                    missing = ?log.missing,
                    "manifests are missing from the workspace's log: files they named are kept, \
                     and no leftover file is removed until they are restored"
                );
            }
        }
        let rejects = Rejects::read(&destination, &history.live, |workspace| {
            history.workspaces.contains_key(workspace)
        })
        .await?;
        Ok(ParquetSink {
            destination,
            options,
            started_at: Utc::now(),
            buffers: BTreeMap::new(),
            buffered_bytes: 0,
            batches_received: 0,
            written_early: HashSet::new(),
            in_flight: InFlight::new(),
            in_flight_bytes: 0,
            parallel: std::thread::available_parallelism().map_or(2, |n| n.get()),
            files_per_partition: HashMap::new(),
            ndjson: None,
            spill: None,
            live: history.live,
            added: BTreeMap::new(),
            removed: BTreeMap::new(),
            logs: history.workspaces,
            leases: BTreeMap::new(),
            committed_once: HashSet::new(),
            marks: HashMap::new(),
            summary: LoadSummary::default(),
            committed_files: BTreeMap::new(),
            commit_count: Arc::default(),
            rejects,
            replacing: None,
            extra_state: BTreeMap::new(),
            withdrawals: Vec::new(),
            activity: Arc::default(),
        })
    }

    /// Runs of `workspace` the `rejects` table holds, as (repository uuid, run uuid): every
    /// export fetches them again.
    pub fn rejected_runs(&self, workspace: &str) -> Vec<(String, String)> {
        self.rejects.runs(workspace)
    }

    /// Counts the manifests this sink commits: how far a run got, even if it fails later.
    pub fn commits(&self) -> Arc<std::sync::atomic::AtomicU64> {
        Arc::clone(&self.commit_count)
    }

    /// Reports progress and waits to `activity`, shared with the other stages and the stall
    /// watchdog.
    pub fn with_activity(mut self, activity: Arc<Activity>) -> Self {
        self.activity = activity;
        self
    }

    /// The leases to check before each commit, by workspace.
    pub fn with_leases(mut self, leases: impl IntoIterator<Item = Arc<Lease>>) -> Self {
        self.leases = leases
            .into_iter()
            .map(|lease| (lease.workspace().to_string(), lease))
            .collect();
        self
    }

    /// Replaces `table` whole in this sink's workspaces: the rows it receives are the table's
    /// new content (`bbpipe rules apply` re-deriving deployments). A partition whose rows did
    /// not change keeps its file.
    pub fn replacing(mut self, table: Table) -> Self {
        self.replacing = Some(table);
        self
    }

    /// Sets `key` to `value` in the state of `workspace` at each of its commits.
    pub fn with_state_entry(
        mut self,
        workspace: &str,
        key: &str,
        value: serde_json::Value,
    ) -> Self {
        self.extra_state
            .entry(workspace.to_string())
            .or_default()
            .insert(key.to_string(), value);
        self
    }

    /// The committed (live) data files of `table` in `workspace`, as paths from the root.
    pub fn live_files(&self, table: Table, workspace: &str) -> Vec<String> {
        crate::dataset::manifest::live_files(&self.live, table, workspace)
    }

    /// The sync state committed so far for `workspace`.
    pub fn state(&self, workspace: &str) -> Option<&StateEntries> {
        self.logs.get(workspace).map(|log| &log.state)
    }

    /// Also writes every deployment as a JSON line to `ndjson` (see [`DeploymentsNdjson`]).
    pub fn with_deployments_ndjson(mut self, ndjson: DeploymentsNdjson) -> Self {
        self.ndjson = Some(ndjson);
        self
    }

    /// Runs the stage: writes what arrives, commits at each checkpoint once every copy of it
    /// arrived, and commits the rest once upstream completed. On failure it deletes the files it
    /// wrote since the last commit (best effort: the next export removes them too); what was
    /// committed stays.
    pub async fn run(
        mut self,
        mut input: Receiver<Message<TableBatch>>,
    ) -> Result<LoadSummary, LoadError> {
        let activity = Arc::clone(&self.activity);
        let outcome = loop {
            let received = {
                let _waiting = activity.waiting(Wait::NextBatch);
                input.recv().await
            };
            activity.moved();
            let step = match received {
                Some(Message::Data(batch)) => {
                    let _writing = activity.waiting(Wait::Write);
                    stall_point("stall-load").await;
                    self.write(batch).await
                }
                Some(Message::Checkpoint(mark)) => {
                    let _committing = activity.waiting(Wait::Commit);
                    self.checkpoint(mark).await
                }
                Some(Message::Complete) => {
                    let _committing = activity.waiting(Wait::Commit);
                    match self.commit(BTreeMap::new(), 0, false).await {
                        Ok(()) => return Ok(self.into_summary()),
                        Err(e) => Err(e),
                    }
                }
                None => Err(LoadError::Cancelled),
            };
            if let Err(e) = step {
                break e;
            }
        };
        // Let partitions being written finish, so that their files are deleted too.
        while let Some(done) = self.in_flight.join_next().await {
            if let Ok((
                _,
                Ok(Flushed {
                    written: Some(written),
                    ..
                }),
            )) = done
            {
                self.added.insert(written.path.to_string(), written);
            }
        }
        for path in self.added.keys() {
            if !self.live.contains_key(path) {
                let _ = self.destination.delete(&Path::from(path.as_str())).await;
            }
        }
        if let Some(ndjson) = self.ndjson.take() {
            ndjson.abandon();
        }
        Err(outcome)
    }

    /// What this export committed, once the last commit is done.
    fn into_summary(mut self) -> LoadSummary {
        let mut summary = std::mem::take(&mut self.summary);
        summary.partition_by = self.options.partition_by;
        summary.format = self.options.format;
        summary.files = std::mem::take(&mut self.committed_files)
            .into_values()
            .collect();
        summary
    }

    /// Counts a checkpoint's copies; commits once all arrived.
    async fn checkpoint(&mut self, mark: Checkpoint) -> Result<(), LoadError> {
        let received = self.marks.entry(mark.id).or_default();
        *received += 1;
        if *received < mark.copies.max(1) {
            return Ok(());
        }
        self.marks.remove(&mark.id);
        failpoint("checkpoint");
        self.commit(mark.state, mark.requests, true).await
    }
}
