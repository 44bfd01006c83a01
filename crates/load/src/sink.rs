//! The load stage: buffers batches per partition, merges each partition with what the dataset
//! already holds, and writes it as one new Parquet file. Nothing is visible as committed until
//! a commit writes the workspace's next manifest (at each checkpoint, and at the end).
//!
//! Memory is bounded by a budget. Past it, the partition that has gone longest without new
//! rows is written out while rows keep arriving (a replay sends the days of a workspace newest
//! first, so that partition is usually complete); rows that arrive later for a partition
//! written early are spilled to disk and merged with its file at the end.

use crate::commit::{CommitInfo, WorkspaceCommit};
use crate::destination::Destination;
use crate::error::LoadError;
use crate::failpoint::failpoint;
use crate::flush::{FlushJob, Flushed, write_rows};
use crate::lease::Lease;
use crate::manifest::{
    CONCURRENT_READS, FileEntry, History, Manifest, Scope, StateEntries, WorkspaceLog, orphans,
};
use crate::ndjson::DeploymentsNdjson;
use crate::partition::split;
use crate::reader::{read_columns, read_file};
use crate::rejects::{self, Rejects};
use crate::spill::Spill;
use crate::writer::{WrittenFile, merge_partition, newest_versions};
use arrow::array::{AsArray, RecordBatch};
use arrow::compute::filter_record_batch;
use bbpipe_model::{Checkpoint, Message, Table, TableBatch};
use bbpipe_model::{PartitionKey, workspace_dir, workspace_of};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use object_store::path::Path;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
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

    pub fn duplicates_dropped(&self) -> u64 {
        self.files.iter().map(|f| f.duplicates_dropped).sum()
    }
}

#[derive(Default)]
struct Buffer {
    batches: Vec<RecordBatch>,
    /// Bytes of `batches`, in memory.
    bytes: usize,
    /// Earlier rows of the partition, spilled to disk (oldest first).
    spilled: Vec<std::path::PathBuf>,
    /// When rows last arrived, in batches received.
    touched: u64,
}

/// Partitions being written while rows still arrive, each with the bytes of rows it took.
type InFlight = tokio::task::JoinSet<(usize, Result<Flushed, LoadError>)>;

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
    workspaces: BTreeSet<String>,
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
}

impl ParquetSink {
    /// Opens the destination for `workspaces` (the only ones this sink may write): learns the
    /// live files and where each workspace's log stands. Call [`check_is_dataset`] before
    /// taking the workspaces' leases, and this while holding them. Nothing is deleted here:
    /// files left by an interrupted export are removed after this export's first commit (see
    /// [`orphans`]).
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
            workspaces: BTreeSet::new(),
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
        })
    }

    /// Runs of `workspace` the `rejects` table holds, as (repository uuid, run uuid): every
    /// export fetches them again.
    pub fn rejected_runs(&self, workspace: &str) -> Vec<(String, String)> {
        self.rejects.runs(workspace)
    }

    /// Rewrites the `rejects` partitions that hold runs now read in a good version.
    async fn drop_resolved_rejects(&mut self) -> Result<(), LoadError> {
        for (workspace, ids) in self.rejects.take_resolved() {
            let key = PartitionKey::workspace(Table::Rejects, &workspace);
            let files = self.current_files(&format!("{}/", key.dir()));
            let mut kept = Vec::new();
            for (path, _) in &files {
                let path = Path::from(path.as_str());
                for batch in read_file(&self.destination, Table::Rejects, &workspace, &path).await?
                {
                    kept.push(rejects::without(&batch, &ids)?);
                }
            }
            tracing::info!(
                workspace,
                fixed = ids.len(),
                "rejected runs read again in a good version"
            );
            let (rows, _) = merge_partition(Table::Rejects, &kept)?;
            self.replace(&key, files, rows, 0).await?;
        }
        Ok(())
    }

    /// Counts the manifests this sink commits: how far a run got, even if it fails later.
    pub fn commits(&self) -> Arc<std::sync::atomic::AtomicU64> {
        Arc::clone(&self.commit_count)
    }

    /// The leases to check before each commit, by workspace.
    pub fn with_leases(mut self, leases: impl IntoIterator<Item = Arc<Lease>>) -> Self {
        self.leases = leases
            .into_iter()
            .map(|lease| (lease.workspace().to_string(), lease))
            .collect();
        self
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

    /// Buffers a batch; past the memory budget, writes out or spills partitions.
    pub async fn write(&mut self, batch: TableBatch) -> Result<(), LoadError> {
        if !self.logs.contains_key(&batch.workspace) {
            return Err(LoadError::Batch {
                table: batch.table.name(),
                message: format!(
                    "rows of workspace {} that this export did not open",
                    batch.workspace
                ),
            });
        }
        self.workspaces.insert(batch.workspace.clone());
        self.batches_received += 1;
        if batch.table == Table::PipelineRuns {
            self.rejects.note(&batch)?;
        }
        for (key, part) in split(batch)? {
            let bytes = part.get_array_memory_size();
            let buffer = self.buffers.entry(key).or_default();
            buffer.batches.push(part);
            buffer.bytes += bytes;
            buffer.touched = self.batches_received;
            self.buffered_bytes += bytes;
        }
        while let Some(done) = self.in_flight.try_join_next() {
            self.settle(done).await?;
        }
        // Rows being written count too: memory stays within the budget whatever the size of
        // the partitions.
        while self.buffered_bytes + self.in_flight_bytes > self.options.max_buffered_bytes {
            if self.in_flight.len() >= self.parallel {
                self.settle_next().await?;
            } else if let Some(key) = self.coldest_writable() {
                self.write_early(key);
            } else if !self.in_flight.is_empty() {
                self.settle_next().await?;
            } else if !self.spill_largest().await? {
                break;
            }
        }
        Ok(())
    }

    /// Waits for the next partition written early; records it.
    async fn settle_next(&mut self) -> Result<(), LoadError> {
        match self.in_flight.join_next().await {
            Some(done) => self.settle(done).await,
            None => Ok(()),
        }
    }

    async fn settle(
        &mut self,
        done: Result<(usize, Result<Flushed, LoadError>), tokio::task::JoinError>,
    ) -> Result<(), LoadError> {
        let (bytes, flushed) = done.map_err(|e| LoadError::Batch {
            table: "load",
            message: format!("writing a partition: {e}"),
        })?;
        self.in_flight_bytes -= bytes;
        self.apply(flushed?).await
    }

    /// The partition longest without new rows among those that can be written before the
    /// input ends: never written early yet, and merged with what their files hold (a snapshot
    /// table's file is replaced whole; deployments for the NDJSON file are written once).
    fn coldest_writable(&self) -> Option<PartitionKey> {
        let ndjson = self.ndjson.is_some();
        self.buffers
            .iter()
            .filter(|(key, b)| {
                b.bytes > 0
                    && key.table.merges_existing()
                    && !(ndjson && key.table == Table::Deployments)
                    && !self.written_early.contains(*key)
            })
            .min_by_key(|(_, b)| b.touched)
            .map(|(key, _)| key.clone())
    }

    /// Starts writing a partition while rows keep arriving. Its files are listed now, so it is
    /// written early once only: later rows of it are spilled and merged at the end, after this
    /// write was recorded.
    fn write_early(&mut self, key: PartitionKey) {
        let bytes = self.buffers.get(&key).map_or(0, |b| b.bytes);
        if let Some(job) = self.take_job(key.clone()) {
            tracing::debug!(partition = %key.dir(), "writing before the input ends");
            self.written_early.insert(key);
            self.in_flight_bytes += bytes;
            let write = self.flush(job);
            self.in_flight.spawn(async move { (bytes, write.await) });
        }
    }

    /// Writing one partition, detached from the sink so that it runs beside it.
    fn flush(
        &self,
        job: FlushJob,
    ) -> impl Future<Output = Result<Flushed, LoadError>> + Send + use<> {
        let destination = self.destination.clone();
        let (part_bytes, wants_rows) = (self.options.upload_part_bytes, self.ndjson.is_some());
        async move { job.run(&destination, part_bytes, wants_rows).await }
    }

    /// Spills the largest partition's rows to disk; they come back when it is written.
    /// False when nothing is left in memory to spill.
    async fn spill_largest(&mut self) -> Result<bool, LoadError> {
        let Some(buffer) = self
            .buffers
            .values_mut()
            .filter(|b| b.bytes > 0)
            .max_by_key(|b| b.bytes)
        else {
            return Ok(false);
        };
        let spill = match &mut self.spill {
            Some(spill) => spill,
            None => self.spill.insert(Spill::new()?),
        };
        let batches = std::mem::take(&mut buffer.batches);
        tracing::debug!(
            bytes = buffer.bytes,
            "spilling a partition's rows until the end"
        );
        let path = spill.write(batches).await?;
        buffer.spilled.push(path);
        self.buffered_bytes -= std::mem::take(&mut buffer.bytes);
        Ok(true)
    }

    /// Writes every buffered partition and settles rows that moved partition. Nothing is
    /// committed yet.
    async fn stage(&mut self) -> Result<(), LoadError> {
        while !self.in_flight.is_empty() {
            self.settle_next().await?;
        }
        // Partitions are independent: merge and encode them on every core at once.
        let keys: Vec<PartitionKey> = self.buffers.keys().cloned().collect();
        tracing::debug!(partitions = keys.len(), "writing partitions");
        let writes: Vec<_> = keys
            .into_iter()
            .filter_map(|key| {
                let job = self.take_job(key)?;
                Some(self.flush(job))
            })
            .collect();
        let mut flushed = futures::stream::iter(writes).buffer_unordered(self.parallel * 2);
        while let Some(result) = flushed.next().await {
            self.apply(result?).await?;
        }
        drop(flushed);
        for table in Table::ALL.into_iter().filter(|t| t.rows_can_move()) {
            for workspace in self.workspaces.clone() {
                self.settle_moved_rows(table, &workspace).await?;
            }
        }
        self.drop_resolved_rejects().await
    }

    /// Writes what is buffered and commits it: one manifest per workspace that changed, carries
    /// new state, or (at the end) was not committed yet by this export. Then deletes the files
    /// the manifests replaced, and after a workspace's first commit, its orphaned files.
    async fn commit(
        &mut self,
        mut state: BTreeMap<String, StateEntries>,
        requests: u64,
        checkpoint: bool,
    ) -> Result<(), LoadError> {
        self.stage().await?;
        let info = CommitInfo {
            source: self.options.source.clone(),
            requests,
        };
        let workspaces: Vec<String> = self.logs.keys().cloned().collect();
        for workspace in workspaces {
            let added: Vec<&WrittenFile> = self
                .added
                .iter()
                .filter(|(path, _)| workspace_of(path) == workspace)
                .map(|(_, file)| file)
                .collect();
            let removed: Vec<&(Table, FileEntry)> = self
                .removed
                .iter()
                .filter(|(path, _)| workspace_of(path) == workspace)
                .map(|(_, entry)| entry)
                .collect();
            let entries = state.remove(&workspace).unwrap_or_default();
            let first = !self.committed_once.contains(&workspace);
            let changed = !added.is_empty() || !removed.is_empty() || !entries.is_empty();
            // Every export leaves at least one manifest per workspace at its end: it fences
            // out older writers and lets this one remove their leftovers.
            let last_chance = first && !checkpoint;
            if !changed && !last_chance {
                continue;
            }
            if let Some(lease) = self.leases.get(&workspace) {
                lease.check()?;
            }
            let sequence = self.logs.get(&workspace).map_or(1, |l| l.next_sequence);
            let manifest = WorkspaceCommit {
                workspace: &workspace,
                sequence,
                run_id: &self.options.run_id,
                started_at: self.started_at,
                added,
                removed,
                state: entries.clone(),
                checkpoint,
            }
            .run(&self.destination, &info)
            .await?;
            tracing::info!(workspace, sequence, checkpoint, "committed");
            if let Some(log) = self.logs.get_mut(&workspace) {
                log.next_sequence = sequence + 1;
                log.state.extend(entries);
            }
            self.record_commit(&manifest);
            self.commit_count
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.summary.manifests.push(manifest);
            if first {
                self.committed_once.insert(workspace.clone());
                self.remove_orphans(&workspace).await?;
            }
        }
        self.added.clear();
        self.removed.clear();
        self.written_early.clear();
        if let Some(ndjson) = &mut self.ndjson {
            ndjson.checkpoint()?;
        }
        Ok(())
    }

    /// The live set after a commit, and what the summary reports.
    fn record_commit(&mut self, manifest: &Manifest) {
        for changes in manifest.tables.values() {
            for entry in &changes.removed {
                self.live.remove(&entry.path);
                if self.committed_files.remove(&entry.path).is_none() {
                    self.summary.replaced += 1;
                }
            }
            for entry in &changes.added {
                self.live.insert(entry.path.clone(), entry.clone());
                if let Some(file) = self.added.get(&entry.path) {
                    self.committed_files
                        .insert(entry.path.clone(), file.clone());
                }
            }
        }
    }

    /// Removes files of `workspace` that interrupted exports left: only under its lease, only
    /// after this export committed, only files written before the lease was taken, and not at
    /// all while manifests are missing from its log.
    async fn remove_orphans(&mut self, workspace: &str) -> Result<(), LoadError> {
        let Some(log) = self.logs.get(workspace) else {
            return Ok(());
        };
        if !log.missing.is_empty() {
            return Ok(());
        }
        let before = match self.leases.get(workspace) {
            Some(lease) => lease.acquired_mark(),
            // --no-lock: the user vouches that no other export writes here.
            None => self.started_at,
        };
        let keep: BTreeSet<String> = self.added.keys().cloned().collect();
        for path in orphans(&self.destination, workspace, &self.live, &keep, before).await? {
            if let Some(lease) = self.leases.get(workspace) {
                lease.check()?;
            }
            tracing::warn!(file = %self.destination.describe(&path), "removing a file left by an interrupted export");
            self.destination.delete(&path).await?;
            self.summary.orphans_removed += 1;
        }
        Ok(())
    }

    /// Committed and own files of one partition directory (or table/workspace prefix).
    fn current_files(&self, prefix: &str) -> Vec<(String, bool)> {
        let committed = self
            .live
            .range(prefix.to_string()..)
            .take_while(|(path, _)| path.starts_with(prefix))
            .map(|(path, _)| (path.clone(), true));
        let ours = self
            .added
            .range(prefix.to_string()..)
            .take_while(|(path, _)| path.starts_with(prefix))
            .map(|(path, _)| (path.clone(), false));
        committed.chain(ours).collect()
    }

    /// Takes a partition's buffered rows out, with what it needs to be written on its own.
    fn take_job(&mut self, key: PartitionKey) -> Option<FlushJob> {
        let buffer = self.buffers.remove(&key)?;
        self.buffered_bytes -= buffer.bytes;
        let existing = self.current_files(&format!("{}/", key.dir()));
        let path = self.next_path(&key);
        Some(FlushJob {
            key,
            existing,
            spilled: buffer.spilled,
            batches: buffer.batches,
            path,
        })
    }

    fn next_path(&mut self, key: &PartitionKey) -> Path {
        let seq = self.files_per_partition.entry(key.clone()).or_default();
        *seq += 1;
        Path::from(key.file(&self.options.run_id, *seq))
    }

    /// Records a flushed partition: its new file, and the files it replaced.
    async fn apply(&mut self, flushed: Flushed) -> Result<(), LoadError> {
        if let (Some(rows), Some(ndjson)) = (&flushed.rows, self.ndjson.as_mut())
            && flushed.key.table == Table::Deployments
        {
            ndjson.append(rows)?;
        }
        let Some(written) = flushed.written else {
            return Ok(()); // unchanged: the committed file stays
        };
        tracing::debug!(path = %written.path, rows = written.rows, "wrote");
        if written.rows > 0 {
            self.added.insert(written.path.to_string(), written);
            failpoint("after-file");
        }
        for (path, committed) in flushed.existing {
            if committed {
                if let Some(entry) = self.live.remove(&path) {
                    self.removed.insert(path, (flushed.key.table, entry));
                }
            } else if self.added.remove(&path).is_some() {
                // Our own, never committed: nobody can be reading it.
                self.destination.delete(&Path::from(path.as_str())).await?;
            }
        }
        Ok(())
    }

    /// Writes `rows` as the partition's new file and retires the files it replaces.
    async fn replace(
        &mut self,
        key: &PartitionKey,
        existing: Vec<(String, bool)>,
        rows: RecordBatch,
        duplicates_dropped: u64,
    ) -> Result<(), LoadError> {
        let path = self.next_path(key);
        let written = write_rows(
            &self.destination,
            key.table,
            rows,
            path,
            self.options.upload_part_bytes,
        )
        .await?;
        let written = WrittenFile {
            duplicates_dropped,
            ..written
        };
        self.apply(Flushed {
            key: key.clone(),
            existing,
            written: Some(written),
            rows: None,
        })
        .await
    }

    /// Keeps one row per key across the partitions of `table` in `workspace`: the newest
    /// version. Only tables whose rows can change partition need this.
    async fn settle_moved_rows(&mut self, table: Table, workspace: &str) -> Result<(), LoadError> {
        let prefix = format!("{}/", workspace_dir(table, workspace));
        if !self.added.keys().any(|p| p.starts_with(&prefix)) {
            return Ok(());
        }
        let files = self.current_files(&prefix);
        if files.len() < 2 {
            return Ok(());
        }
        let mut columns: Vec<&str> = table.key_columns().to_vec();
        columns.extend(table.version_columns());
        // Committed files first, this export's last: on equal versions the new rows win.
        let mut parts = Vec::new();
        // The file each part was read from.
        let mut owner = Vec::new();
        let reads: Vec<(usize, Path)> = files
            .iter()
            .enumerate()
            .map(|(i, (path, _))| (i, Path::from(path.as_str())))
            .collect();
        let mut read = futures::stream::iter(reads)
            .map(|(index, path)| {
                let (destination, columns) = (self.destination.clone(), columns.clone());
                async move {
                    let batches = read_columns(&destination, table, &path, Some(&columns)).await;
                    batches.map(|b| (index, b))
                }
            })
            .buffered(CONCURRENT_READS);
        while let Some(result) = read.next().await {
            let (index, batches) = result?;
            owner.extend(std::iter::repeat_n(index, batches.len()));
            parts.extend(batches);
        }
        drop(read);
        let bad = |e: arrow::error::ArrowError| LoadError::Batch {
            table: table.name(),
            message: e.to_string(),
        };
        let winners: HashSet<(usize, usize)> = newest_versions(table, &parts)
            .map_err(bad)?
            .into_iter()
            .collect();
        // The files holding an older version of a key, with those keys.
        let mut losers: BTreeMap<usize, HashSet<String>> = BTreeMap::new();
        for (part, batch) in parts.iter().enumerate() {
            let keys = row_keys(table, batch)?;
            for row in (0..batch.num_rows()).filter(|&row| !winners.contains(&(part, row))) {
                losers
                    .entry(owner[part])
                    .or_default()
                    .insert(keys[row].clone());
            }
        }
        for (index, drop_keys) in losers {
            let (path, committed) = files[index].clone();
            let key = PartitionKey::of_path(&path).ok_or_else(|| LoadError::Corrupt {
                path: self.destination.describe(&Path::from(path.as_str())),
                message: "not in a partition directory".into(),
            })?;
            let path = Path::from(path.as_str());
            let mut kept = Vec::new();
            for batch in read_file(&self.destination, table, workspace, &path).await? {
                let keep: arrow::array::BooleanArray = row_keys(table, &batch)?
                    .iter()
                    .map(|key| Some(!drop_keys.contains(key)))
                    .collect();
                kept.push(filter_record_batch(&batch, &keep).map_err(bad)?);
            }
            tracing::debug!(file = %path, moved = drop_keys.len(), "rows moved to another partition");
            let (rows, _) = merge_partition(table, &kept)?;
            self.replace(
                &key,
                vec![(path.to_string(), committed)],
                rows,
                drop_keys.len() as u64,
            )
            .await?;
        }
        Ok(())
    }

    /// Runs the stage: writes what arrives, commits at each checkpoint once every copy of it
    /// arrived, and commits the rest once upstream completed. On failure it deletes the files it
    /// wrote since the last commit (best effort: the next export removes them too); what was
    /// committed stays.
    pub async fn run(
        mut self,
        mut input: Receiver<Message<TableBatch>>,
    ) -> Result<LoadSummary, LoadError> {
        let outcome = loop {
            let step = match input.recv().await {
                Some(Message::Data(batch)) => self.write(batch).await,
                Some(Message::Checkpoint(mark)) => self.checkpoint(mark).await,
                Some(Message::Complete) => match self.commit(BTreeMap::new(), 0, false).await {
                    Ok(()) => {
                        let mut summary = std::mem::take(&mut self.summary);
                        summary.files = std::mem::take(&mut self.committed_files)
                            .into_values()
                            .collect();
                        if let Some(ndjson) = self.ndjson.take() {
                            ndjson.commit()?;
                        }
                        return Ok(summary);
                    }
                    Err(e) => Err(e),
                },
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

/// Each row's key as one string: the table's key columns, found by name (a file's columns
/// need not be in schema order), joined by a separator no key contains.
fn row_keys(table: Table, batch: &RecordBatch) -> Result<Vec<String>, LoadError> {
    let columns = table
        .key_columns()
        .iter()
        .map(|name| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or_else(|| LoadError::Batch {
                    table: table.name(),
                    message: format!("key column {name} is missing or not text"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((0..batch.num_rows())
        .map(|row| {
            let parts: Vec<&str> = columns.iter().map(|c| c.value(row)).collect();
            parts.join("\u{1f}")
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use std::sync::Arc;

    fn batch(columns: &[(&str, ArrayRef)]) -> RecordBatch {
        RecordBatch::try_from_iter(columns.iter().map(|(n, c)| (*n, Arc::clone(c)))).unwrap()
    }

    #[test]
    fn row_keys_are_read_by_name_in_key_order() {
        let text = |v: &[&str]| -> ArrayRef { Arc::new(StringArray::from(v.to_vec())) };
        // pipeline_runs is keyed by (repo_uuid, uuid); neither is the first column here.
        let runs = batch(&[
            ("build_number", Arc::new(Int64Array::from(vec![1, 2]))),
            ("uuid", text(&["{r1}", "{r2}"])),
            ("repo_uuid", text(&["{a}", "{b}"])),
        ]);
        assert_eq!(
            row_keys(Table::PipelineRuns, &runs).unwrap(),
            ["{a}\u{1f}{r1}", "{b}\u{1f}{r2}"]
        );
        let no_key = batch(&[("uuid", text(&["{r1}"]))]);
        let error = row_keys(Table::PipelineRuns, &no_key).unwrap_err();
        assert!(error.to_string().contains("repo_uuid"), "{error}");
        let not_text = batch(&[(
            "reference_id",
            Arc::new(Int64Array::from(vec![7])) as ArrayRef,
        )]);
        assert!(row_keys(Table::Deployments, &not_text).is_err());
    }
}
