//! How a run writes: shared by replays and exports.

use bbpipe_load::StoreOptions;
use bbpipe_model::{Format, Granularity, defaults};
use std::path::PathBuf;
use std::time::Duration;

/// Where and how a run writes the dataset.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// The destination: a local directory or `s3://bucket/prefix`.
    pub out: String,
    /// Reaching the object store.
    pub store: StoreOptions,
    /// How to split date-partitioned tables in a new dataset; `None`: as the dataset says
    /// (`month` for a new one). A choice other than an existing dataset's is refused.
    pub partition_by: Option<Granularity>,
    /// The tables' format in a new dataset; `None`: as the dataset says (Parquet for a new
    /// one). A format other than an existing dataset's is refused.
    pub format: Option<Format>,
    /// Deploy rules (TOML): infer the `deployments` table.
    pub rules: Option<PathBuf>,
    /// Also write each deployment as a JSON line; `{workspace}` in it names the workspace.
    pub deployments_ndjson: Option<PathBuf>,
    /// Rows per batch handed from transform to load.
    pub batch_rows: usize,
    /// Memory for rows waiting to be written.
    pub buffer_bytes: usize,
    /// Files larger than this go up as multipart uploads of parts this size.
    pub upload_part_bytes: usize,
    /// How writers of one destination are kept apart.
    pub lock: LockOptions,
}

/// How writers of one destination are kept apart.
#[derive(Debug, Clone)]
pub struct LockOptions {
    /// Wait this long for another writer of a workspace to finish; `None`: do not wait.
    pub wait: Option<Duration>,
    /// How long a lease lasts unless renewed.
    pub lease: Duration,
    /// Take no lease (stores without conditional writes, one writer at a time).
    pub no_lock: bool,
}

impl WriteOptions {
    /// The defaults of the command line, writing to `out`.
    pub fn new(out: impl Into<String>) -> WriteOptions {
        WriteOptions {
            out: out.into(),
            store: StoreOptions::default(),
            partition_by: None,
            format: None,
            rules: None,
            deployments_ndjson: None,
            batch_rows: defaults::BATCH_ROWS,
            buffer_bytes: (defaults::BUFFER_MIB as usize) << 20,
            upload_part_bytes: (defaults::UPLOAD_PART_MIB as usize) << 20,
            lock: LockOptions {
                wait: None,
                lease: defaults::LEASE.value,
                no_lock: false,
            },
        }
    }
}
