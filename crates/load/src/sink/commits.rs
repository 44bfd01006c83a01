//! Staging and committing. The order is what keeps readers and the next export safe; see
//! [`ParquetSink::commit`].

use super::ParquetSink;
use crate::dataset::commit::{CommitInfo, WorkspaceCommit};
use crate::dataset::manifest::{FileEntry, StateEntries, orphans};
use crate::error::LoadError;
use crate::write::parquet::WrittenFile;
use bbpipe_model::{Format, PartitionKey, Table, workspace_of};
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};

impl ParquetSink {
    /// Writes every buffered partition and de-duplicates rows that moved partition. Nothing is
    /// committed yet.
    pub(super) async fn stage(&mut self) -> Result<(), LoadError> {
        while !self.in_flight.is_empty() {
            self.finish_next_flush().await?;
        }
        // Partitions are independent: merge and encode them on every core at once.
        let keys: Vec<PartitionKey> = self.buffers.keys().cloned().collect();
        tracing::debug!(partitions = keys.len(), "writing partitions");
        if let Some(table) = self.replacing {
            self.retire_unwritten(table, &keys);
        }
        let writes: Vec<_> = keys
            .into_iter()
            .filter_map(|key| {
                let job = self.take_job(key)?;
                Some(self.flush(job))
            })
            .collect();
        let mut flushed = futures::stream::iter(writes).buffer_unordered(self.parallel);
        while let Some(result) = flushed.next().await {
            self.apply(result?).await?;
            // A large commit writes many partitions: each is progress to the stall watchdog.
            self.activity.moved();
        }
        drop(flushed);
        // A workspace this export wrote no file of returns at once.
        let workspaces: Vec<String> = self.logs.keys().cloned().collect();
        for table in Table::ALL.iter().copied().filter(|t| t.rows_can_move()) {
            for workspace in &workspaces {
                self.dedup_moved_rows(table, workspace).await?;
            }
        }
        self.withdraw_resolved_rejects();
        self.drop_withdrawn().await
    }

    /// A table being replaced: its committed files in partitions that receive no rows go.
    fn retire_unwritten(&mut self, table: Table, written: &[PartitionKey]) {
        let workspaces: Vec<String> = self.logs.keys().cloned().collect();
        for workspace in workspaces {
            for path in self.live_files(table, &workspace) {
                let keep = PartitionKey::of_path(&path).is_some_and(|key| written.contains(&key));
                if !keep && let Some(entry) = self.live.remove(&path) {
                    self.removed.insert(path, (table, entry));
                }
            }
        }
    }

    /// Writes what is buffered and commits it: one manifest per workspace that changed, carries
    /// new state, or (at the end) was not committed yet by this export.
    ///
    /// The order is the protocol, and this is the one place that owns it:
    /// 1. **data**: every partition is written as a new file (nothing live changes);
    /// 2. **lease**: checked, so a writer that lost its workspace commits nothing;
    /// 3. **manifest and state together**: the workspace's next manifest, create-only, names the
    ///    new files, the replaced ones and the sync state. Writing it is the commit point: a
    ///    reader or the next export sees all of it or none, and the state can never run ahead
    ///    of the data it describes (a crash before it leaves the last state and orphans);
    /// 4. **Delta** (a Delta dataset only): the workspace is published to each table's log, one
    ///    transaction per table that changed (a crash before it leaves the previous version
    ///    current; the next commit of the workspace publishes both);
    /// 5. **deletes** of the replaced files, only once the manifest is durable (a crash before
    ///    them leaves garbage, never a manifest naming a missing file); then, after a
    ///    workspace's first commit, its orphaned files. A Delta dataset deletes neither: older
    ///    versions still reference them, and `bbpipe vacuum` removes them past a retention;
    /// 6. **NDJSON**: the deployments file is republished last, so it never lists a deployment
    ///    the dataset does not hold: a copy of what was written so far at a checkpoint, the
    ///    file itself at the end (`checkpoint` false: the export's last commit).
    ///
    /// One function on purpose: it is the commit protocol, and its steps must run in this order,
    /// each only once the one before succeeded; split up, the order would be spread over several
    /// places.
    pub(super) async fn commit(
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
            let mut entries = state.remove(&workspace).unwrap_or_default();
            if let Some(extra) = self.extra_state.get(&workspace) {
                entries.extend(extra.clone());
            }
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
                delete_replaced: self.options.format == Format::Parquet,
            }
            .run(&self.destination, &info)
            .await?;
            tracing::info!(workspace, sequence, checkpoint, "committed");
            if let Some(log) = self.logs.get_mut(&workspace) {
                log.next_sequence = sequence + 1;
                log.state.extend(entries);
            }
            self.record_commit(&manifest);
            self.activity.moved();
            self.commit_count
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.summary.manifests.push(manifest);
            if self.options.format == Format::Delta {
                let published = crate::delta::publish(
                    &self.destination,
                    self.options.partition_by,
                    &workspace,
                    &self.live,
                )
                .await?;
                self.activity.moved();
                self.destination.sync().await?;
                for table in &published {
                    tracing::info!(
                        workspace,
                        table = table.table.name(),
                        version = table.version,
                        added = table.added,
                        removed = table.removed,
                        retries = table.retries,
                        "published to Delta"
                    );
                }
                self.summary.published.extend(published);
            }
            if first {
                self.committed_once.insert(workspace.clone());
                self.remove_orphans(&workspace).await?;
            }
        }
        self.added.clear();
        self.removed.clear();
        self.written_early.clear();
        if checkpoint {
            if let Some(ndjson) = &mut self.ndjson {
                ndjson.checkpoint()?;
            }
        } else if let Some(ndjson) = self.ndjson.take() {
            ndjson.commit()?;
        }
        Ok(())
    }

    /// Removes files of `workspace` that interrupted exports left: only under its lease, only
    /// after this export committed, only files written before the lease was taken, and not at
    /// all while manifests are missing from its log.
    pub(super) async fn remove_orphans(&mut self, workspace: &str) -> Result<(), LoadError> {
        let Some(log) = self.logs.get(workspace) else {
            return Ok(());
        };
        // In a Delta dataset, files no manifest names may still be referenced by older
        // versions of a table: `bbpipe vacuum` decides, by retention.
        if !log.missing.is_empty() || self.options.format == Format::Delta {
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

    /// Withdraws the rejects of runs now read in a good version (rewritten with the other
    /// withdrawals, in [`ParquetSink::drop_withdrawn`]).
    pub(super) fn withdraw_resolved_rejects(&mut self) {
        for (workspace, ids) in self.rejects.take_resolved() {
            tracing::info!(
                workspace,
                fixed = ids.len(),
                "rejected runs read again in a good version"
            );
            self.withdrawals.push(super::withdraw::Withdrawal {
                table: Table::Rejects,
                workspace,
                column: "reject_id",
                values: ids,
            });
        }
    }
}
