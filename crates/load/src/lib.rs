//! Load: table batches to a Hive-partitioned Parquet dataset, on local disk or S3.
//!
//! [`ParquetSink`] splits each [`TableBatch`](bbpipe_model::TableBatch) by partition
//! (`<table>/workspace=<ws>/<date level>=<YYYY-MM>/`, or `=<YYYY-MM-DD>` in a dataset
//! partitioned by day: see [`settle_layout`]), buffers within a memory budget
//! (writing the coldest partitions while rows still arrive once it is spent), and rewrites
//! every partition it touches as one zstd Parquet file: existing rows merged with the
//! new, the newest version of each key kept, sorted, partition columns left to the path.
//! At each checkpoint and at the end, the sink commits: it writes each workspace's next
//! manifest create-only (the commit point, fenced against other writers) and deletes the files
//! it replaced. A [`Lease`] keeps writers of one workspace apart; an interrupted export is
//! cleaned up by the next one that commits (see [`History`]). In a Delta dataset
//! (`--format delta`), each commit also publishes the workspace to every table's Delta log and
//! replaced files stay until [`delta::vacuum`] (see [`delta`]).

mod commit;
pub mod delta;
mod destination;
mod error;
mod failpoint;
mod flush;
mod layout;
mod lease;
mod manifest;
mod ndjson;
mod numbered;
mod partition;
mod reader;
mod rejects;
mod sink;
mod sorted_runs;
mod spill;
mod verify;
mod writer;

pub use commit::CommitInfo;
pub use destination::{Destination, StoreOptions};
pub use error::{LoadError, SchemaMismatch};
pub use layout::{DATASET_RECORD, DatasetRecord, settle_layout};
pub use lease::{
    Holder, LEASE_DIR, Lease, LeaseOptions, LeaseRecord, check_conditional_writes, current_record,
};
pub use manifest::{
    FileEntry, History, MANIFEST_DIR, Manifest, Scope, StateEntries, TableChanges, WorkspaceLog,
    check_is_dataset,
};
pub use ndjson::DeploymentsNdjson;
pub use partition::split;
pub use reader::{read_file, read_file_columns};
pub use sink::{LoadOptions, LoadSummary, ParquetSink};
pub use verify::{Verification, verify};
pub use writer::{ROW_GROUP_ROWS, WrittenFile, encode, file_schema, merge_partition};
