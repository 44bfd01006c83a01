//! Load: table batches to a Hive-partitioned Parquet dataset, on local disk or S3.
//!
//! [`ParquetSink`] splits each [`TableBatch`](bbpipe_model::TableBatch) by partition
//! (`<table>/workspace=<ws>/<date level>=<YYYY-MM>/`, or `=<YYYY-MM-DD>` in a dataset
//! partitioned by day: see [`resolve_layout`]), buffers within a memory budget
//! (writing the coldest partitions while rows still arrive once it is spent), and rewrites
//! every partition it touches as one zstd Parquet file: existing rows merged with the
//! new, the newest version of each key kept, sorted, partition columns left to the path.
//! At each checkpoint and at the end, the sink commits: it writes each workspace's next
//! manifest create-only (the commit point, fenced against other writers) and deletes the files
//! it replaced. A [`Lease`] keeps writers of one workspace apart; an interrupted export is
//! cleaned up by the next one that commits (see [`History`]). In a Delta dataset
//! (`--format delta`), each commit also publishes the workspace to every table's Delta log and
//! replaced files stay until [`delta::vacuum`] (see [`delta`]).
//!
//! The crate's tree says who owns what: `dataset/` the dataset's records and rules
//! (layout, manifests, leases, the commit protocol, reading files back, verify), `write/` the
//! write path (split, spill, merge, encode, upload), `sink/` the stage that drives them,
//! `tables/` what particular tables need (the deployments NDJSON, rejects), `delta/` the Delta
//! Lake logs.

mod dataset;
pub mod delta;
mod destination;
mod error;
mod failpoint;
mod sink;
mod tables;
mod write;

pub use dataset::commit::CommitInfo;
pub use dataset::layout::{DATASET_RECORD, DatasetRecord, resolve_layout};
pub use dataset::lease::{
    Holder, LEASE_DIR, Lease, LeaseOptions, LeaseRecord, check_conditional_writes, current_record,
};
pub use dataset::manifest::{
    FileEntry, History, MANIFEST_DIR, Manifest, Scope, StateEntries, TableChanges, WorkspaceLog,
    check_is_dataset,
};
pub use dataset::reader::{read_file, read_file_columns};
pub use dataset::scan::Scan;
pub use dataset::verify::{Verification, verify};
pub use destination::{Destination, StoreOptions};
pub use error::{LoadError, SchemaMismatch};
pub use sink::{LoadOptions, LoadSummary, ParquetSink};
pub use tables::deployments_ndjson::DeploymentsNdjson;
pub use write::merge::merge_partition;
pub use write::parquet::{ROW_GROUP_ROWS, WrittenFile, encode, file_schema};
pub use write::partition::split;
