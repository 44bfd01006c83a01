//! Load: table batches to a Hive-partitioned Parquet dataset, on local disk or S3.
//!
//! [`ParquetSink`] splits each [`TableBatch`](bbpipe_model::TableBatch) by partition
//! (`<table>/workspace=<ws>/<date column>=<YYYY-MM-DD>/`), buffers within a memory budget, and
//! writes every partition as zstd Parquet, rows sorted and de-duplicated to the newest version of
//! each key, partition columns left to the path.

mod destination;
mod error;
mod ndjson;
mod partition;
mod sink;
mod writer;

pub use destination::Destination;
pub use error::LoadError;
pub use ndjson::DeploymentsNdjson;
pub use partition::PartitionKey;
pub use sink::{LoadOptions, LoadSummary, ParquetSink};
pub use writer::{ROW_GROUP_ROWS, WrittenFile, file_schema, merge_partition};
