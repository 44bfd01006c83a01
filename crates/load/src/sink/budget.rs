//! The memory budget: rows wait per partition until the budget is spent; then the partition
//! longest without new rows is written while rows keep arriving, and rows that reach a
//! partition already written early are spilled to disk until the end.

use super::ParquetSink;
use crate::error::LoadError;
use crate::write::flush::{FlushJob, Flushed};
use crate::write::partition::split;
use crate::write::spill::Spill;
use arrow::array::RecordBatch;
use bbpipe_model::{PartitionKey, Table, TableBatch};

/// One partition's rows waiting to be written.
#[derive(Default)]
pub(super) struct Buffer {
    pub(super) batches: Vec<RecordBatch>,
    /// Bytes of `batches`, in memory.
    pub(super) bytes: usize,
    /// Earlier rows of the partition, spilled to disk (oldest first), each a sorted input.
    pub(super) spilled: Vec<std::path::PathBuf>,
    /// Older versions of rows dropped while spilling.
    pub(super) spilled_duplicates: u64,
    /// When rows last arrived, in batches received.
    pub(super) touched: u64,
}

/// Partitions being written while rows still arrive, each with the bytes of rows it took.
pub(super) type InFlight = tokio::task::JoinSet<(usize, Result<Flushed, LoadError>)>;

impl ParquetSink {
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
        self.batches_received += 1;
        if batch.table == Table::PipelineRuns {
            self.rejects.note(&batch)?;
        }
        for (key, part) in split(batch, self.options.partition_by)? {
            let bytes = part.get_array_memory_size();
            let buffer = self.buffers.entry(key).or_default();
            buffer.batches.push(part);
            buffer.bytes += bytes;
            buffer.touched = self.batches_received;
            self.buffered_bytes += bytes;
        }
        while let Some(done) = self.in_flight.try_join_next() {
            self.finish_flush(done).await?;
        }
        // A partition whose rows all wait in spill files costs no budget, but left to the end
        // its merge would run after decoding instead of beside it.
        if self.in_flight.len() < self.parallel
            && let Some(key) = self.coldest_spilled()
        {
            self.write_early(key);
        }
        // Rows being written count too: memory stays within the budget whatever the size of
        // the partitions.
        while self.buffered_bytes + self.in_flight_bytes > self.options.max_buffered_bytes {
            if self.in_flight.len() >= self.parallel {
                self.finish_next_flush().await?;
            } else if let Some(key) = self.coldest_writable() {
                self.write_early(key);
            } else if !self.in_flight.is_empty() {
                self.finish_next_flush().await?;
            } else if !self.spill_largest().await? {
                break;
            }
        }
        Ok(())
    }

    /// Waits for the next partition written early; records it.
    pub(super) async fn finish_next_flush(&mut self) -> Result<(), LoadError> {
        match self.in_flight.join_next().await {
            Some(done) => self.finish_flush(done).await,
            None => Ok(()),
        }
    }

    pub(super) async fn finish_flush(
        &mut self,
        done: Result<(usize, Result<Flushed, LoadError>), tokio::task::JoinError>,
    ) -> Result<(), LoadError> {
        self.activity.moved();
        let (bytes, flushed) = done.map_err(|e| LoadError::Batch {
            table: "load",
            message: format!("writing a partition: {e}"),
        })?;
        self.in_flight_bytes -= bytes;
        self.apply(flushed?).await
    }

    /// The partition longest without new rows among those that can be written before the
    /// input ends: never written early yet, and merged with what their files hold (a snapshot
    /// table's file, or a table being replaced, is written once; so are deployments for the
    /// NDJSON file). Never one the latest batch reached: rows are still arriving for it (the
    /// month a replay is in), and writing it now would leave the rest of it to be spilled and
    /// merged with this file at the end; over the budget such a partition is spilled instead,
    /// and written, spills and all, once it has gone cold.
    pub(super) fn coldest_writable(&self) -> Option<PartitionKey> {
        self.buffers
            .iter()
            .filter(|(key, b)| {
                b.bytes > 0 && b.touched < self.batches_received && self.writable_early(key)
            })
            .min_by_key(|(_, b)| b.touched)
            .map(|(key, _)| key.clone())
    }

    /// Whether `key` can be written before the input ends: never written early yet, and merged
    /// with what its files hold.
    fn writable_early(&self, key: &PartitionKey) -> bool {
        key.table.merges_existing()
            && self.replacing != Some(key.table)
            && !(self.ndjson.is_some() && key.table == Table::Deployments)
            && !self.written_early.contains(key)
    }

    /// A partition gone cold whose rows are all spilled, if one can be written early.
    fn coldest_spilled(&self) -> Option<PartitionKey> {
        self.buffers
            .iter()
            .filter(|(key, b)| {
                b.bytes == 0
                    && !b.spilled.is_empty()
                    && b.touched < self.batches_received
                    && self.writable_early(key)
            })
            .min_by_key(|(_, b)| b.touched)
            .map(|(key, _)| key.clone())
    }

    /// Starts writing a partition while rows keep arriving. Its files are listed now, so it is
    /// written early once only: later rows of it are spilled and merged at the end, after this
    /// write was recorded.
    pub(super) fn write_early(&mut self, key: PartitionKey) {
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
    pub(super) fn flush(
        &self,
        job: FlushJob,
    ) -> impl Future<Output = Result<Flushed, LoadError>> + Send + use<> {
        let destination = self.destination.clone();
        let (part_bytes, wants_rows) = (self.options.upload_part_bytes, self.ndjson.is_some());
        async move { job.run(&destination, part_bytes, wants_rows).await }
    }

    /// Spills the largest partition's rows to disk; they come back when it is written.
    /// False when nothing is left in memory to spill.
    pub(super) async fn spill_largest(&mut self) -> Result<bool, LoadError> {
        let Some((key, buffer)) = self
            .buffers
            .iter_mut()
            .filter(|(_, b)| b.bytes > 0)
            .max_by_key(|(_, b)| b.bytes)
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
        let (path, duplicates) = spill.write(key.table, batches).await?;
        buffer.spilled.push(path);
        buffer.spilled_duplicates += duplicates;
        self.buffered_bytes -= std::mem::take(&mut buffer.bytes);
        Ok(true)
    }
}
