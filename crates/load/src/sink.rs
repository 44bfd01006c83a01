//! The load stage: buffers batches per partition and writes each partition as Parquet.

use crate::destination::Destination;
use crate::error::LoadError;
use crate::ndjson::DeploymentsNdjson;
use crate::partition::{PartitionKey, split};
use crate::writer::{WrittenFile, merge_partition, write_file};
use arrow::record_batch::RecordBatch;
use bbpipe_model::{Message, Table, TableBatch};
use std::collections::{BTreeMap, HashMap};
use tokio::sync::mpsc::Receiver;

/// How load buffers and names files.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Arrow bytes held across all partitions before the largest are written out early.
    /// Bounds memory whatever the size of the workspace.
    pub max_buffered_bytes: usize,
    /// Unique per export; part of every file name, so exports never overwrite each other.
    pub run_id: String,
}

/// What load wrote.
#[derive(Debug, Clone, Default)]
pub struct LoadSummary {
    pub files: Vec<WrittenFile>,
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
    bytes: usize,
}

/// Writes [`TableBatch`]es as Hive-partitioned Parquet.
pub struct ParquetSink {
    destination: Destination,
    options: LoadOptions,
    buffers: BTreeMap<PartitionKey, Buffer>,
    buffered_bytes: usize,
    /// Files written so far per partition, for unique names.
    files_per_partition: HashMap<PartitionKey, u32>,
    ndjson: Option<DeploymentsNdjson>,
    summary: LoadSummary,
}

impl ParquetSink {
    pub fn new(destination: Destination, options: LoadOptions) -> Self {
        ParquetSink {
            destination,
            options,
            buffers: BTreeMap::new(),
            buffered_bytes: 0,
            files_per_partition: HashMap::new(),
            ndjson: None,
            summary: LoadSummary::default(),
        }
    }

    /// Also writes every deployment as a JSON line to `ndjson` (see [`DeploymentsNdjson`]).
    pub fn with_deployments_ndjson(mut self, ndjson: DeploymentsNdjson) -> Self {
        self.ndjson = Some(ndjson);
        self
    }

    /// Buffers a batch; writes the largest partitions if the buffers outgrew their budget.
    pub async fn write(&mut self, batch: TableBatch) -> Result<(), LoadError> {
        for (key, part) in split(batch)? {
            let bytes = part.get_array_memory_size();
            let buffer = self.buffers.entry(key).or_default();
            buffer.batches.push(part);
            buffer.bytes += bytes;
            self.buffered_bytes += bytes;
        }
        while self.buffered_bytes > self.options.max_buffered_bytes {
            let largest = self
                .buffers
                .iter()
                .max_by_key(|(_, buffer)| buffer.bytes)
                .map(|(key, _)| key.clone());
            match largest {
                Some(key) => self.flush(key).await?,
                None => break,
            }
        }
        Ok(())
    }

    /// Writes every buffered partition.
    pub async fn finish(mut self) -> Result<LoadSummary, LoadError> {
        while let Some(key) = self.buffers.keys().next().cloned() {
            self.flush(key).await?;
        }
        if let Some(ndjson) = self.ndjson.take() {
            ndjson.commit()?;
        }
        Ok(self.summary)
    }

    async fn flush(&mut self, key: PartitionKey) -> Result<(), LoadError> {
        let Some(buffer) = self.buffers.remove(&key) else {
            return Ok(());
        };
        self.buffered_bytes -= buffer.bytes;
        let seq = self.files_per_partition.entry(key.clone()).or_default();
        *seq += 1;
        let path = key
            .dir()
            .join(format!("part-{}-{:04}.parquet", self.options.run_id, seq));
        let (rows, duplicates_dropped) = merge_partition(key.table, &buffer.batches)?;
        if let (Table::Deployments, Some(ndjson)) = (key.table, self.ndjson.as_mut()) {
            ndjson.append(&rows)?;
        }
        let mut written = write_file(&self.destination, key.table, &rows, path).await?;
        written.duplicates_dropped = duplicates_dropped;
        tracing::debug!(path = %written.path, rows = written.rows, "wrote");
        self.summary.files.push(written);
        Ok(())
    }

    /// Runs the stage: writes what arrives; commits only once upstream says it completed.
    pub async fn run(
        mut self,
        mut input: Receiver<Message<TableBatch>>,
    ) -> Result<LoadSummary, LoadError> {
        loop {
            match input.recv().await {
                Some(Message::Data(batch)) => self.write(batch).await?,
                Some(Message::Complete) => return self.finish().await,
                None => return Err(LoadError::Cancelled),
            }
        }
    }
}
