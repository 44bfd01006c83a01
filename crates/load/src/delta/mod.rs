//! Delta Lake tables (`--format delta`) over the dataset's own Parquet files.
//!
//! bbpipe's manifests stay the commit record and the source of truth: an export writes its
//! files and its workspace's manifest exactly as for plain Parquet. Then it *publishes* the
//! workspace to each table's Delta log (`<table>/_delta_log/`): one transaction per table that
//! adds the workspace's live files the log lacks and removes those it no longer has, so the
//! table's current version equals the manifests. Publishing is idempotent, which is what makes
//! it crash-safe: an export killed between its manifest and its Delta commit leaves the previous
//! version current and readable, and the next export of the workspace publishes both.
//!
//! Writers of different workspaces touch different partitions (`workspace=` is the first
//! partition column) and commit concurrently: a Delta commit is a create-only log entry, and
//! a writer that loses the race reads the new version and tries again. Replaced files are not
//! deleted at commit (readers of older versions, time travel): [`vacuum`] removes them once
//! they are older than a retention. The log is checkpointed every [`CHECKPOINT_EVERY`]
//! versions, so readers never replay more than that many entries.

mod actions;
mod engine;
mod publish;
mod schema;
pub(crate) use schema::partition_values;
mod vacuum;

pub use publish::current_files;
pub use publish::{Published, publish};
pub use vacuum::{Vacuumed, vacuum};

/// Where each table's log lives, under the table's directory.
pub const LOG_DIR: &str = "_delta_log";

/// A checkpoint of a table's log is written at every version divisible by this.
pub const CHECKPOINT_EVERY: u64 = 10;

/// Whether `table` has a Delta log in the destination (it is created with its first file).
pub(crate) async fn has_log(
    destination: &crate::destination::Destination,
    table: bbpipe_model::Table,
) -> Result<bool, crate::error::LoadError> {
    let log = object_store::path::Path::from(format!("{}/{LOG_DIR}", table.name()));
    Ok(!destination.is_empty(&log).await?)
}
