//! Why load stopped, with the file, table or workspace it was about.

/// Why load stopped.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("destination {destination}: {message}")]
    /// The destination cannot be opened or used (named, with why).
    Destination {
        /// The destination.
        destination: String,
        /// Why.
        message: String,
    },
    #[error("{path}: {source}")]
    /// An object-store request failed after its retries.
    Store {
        /// The object.
        path: String,
        #[source]
        /// What the store said.
        source: object_store::Error,
    },
    #[error("{path}: writing Parquet: {source}")]
    /// A file could not be encoded as Parquet.
    Parquet {
        /// The file.
        path: String,
        #[source]
        /// What the encoder said.
        source: parquet::errors::ParquetError,
    },
    #[error("{table}: {message}")]
    /// Rows that do not fit their table.
    Batch {
        /// The table.
        table: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Arrow refused rows of a table (a bug, or rows that do not fit their schema).
    #[error("{table}: {source}")]
    Arrow {
        /// The table.
        table: &'static str,
        /// What Arrow said.
        source: arrow::error::ArrowError,
    },
    /// A data file that is not readable Parquet.
    #[error("{path}: reading Parquet: {source}")]
    ReadParquet {
        /// The file.
        path: String,
        /// What the reader said.
        source: parquet::errors::ParquetError,
    },
    /// A local file (NDJSON, spill) cannot be written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        #[source]
        /// Why.
        source: std::io::Error,
    },
    /// A data file whose columns are not its table's.
    #[error("{path}: {mismatch}")]
    WrongSchema {
        /// The file.
        path: String,
        /// How its columns differ.
        mismatch: SchemaMismatch,
    },
    /// A file of the dataset that cannot be read, or is not what bbpipe wrote.
    #[error("{path}: {message}")]
    /// The file, and what is wrong with it.
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// Another export holds the workspace's lease.
    #[error(
        "workspace {workspace} is being exported into this destination by {holder}; its lease \
         expires at {expires_at} unless renewed (wait with --wait-lock DURATION)"
    )]
    Locked {
        /// The workspace.
        workspace: String,
        /// Who holds it: host, pid, run id.
        holder: String,
        /// When its lease expires unless renewed.
        expires_at: chrono::DateTime<chrono::Utc>,
    },
    /// This export's lease is gone: it must not commit.
    #[error("lost the lease of workspace {workspace}: {why}; nothing more is committed")]
    /// The workspace, and how the lease was lost.
    LeaseLost {
        /// The workspace.
        workspace: String,
        /// How the lease was lost.
        why: String,
    },
    /// Another writer committed the same sequence number first.
    #[error(
        "{path}: another export of workspace {workspace} committed first; this one stops \
         without committing (the next export continues from what is committed)"
    )]
    /// The workspace, and the manifest taken.
    Conflict {
        /// The workspace.
        workspace: String,
        /// The manifest another export wrote.
        path: String,
    },
    /// The store cannot write create-only, so leases cannot keep writers apart.
    #[error(
        "destination {destination} does not support conditional (create-only) writes: \
         {detail}. Concurrent exports could corrupt it; pass --no-lock only if a single \
         export ever writes to it at a time"
    )]
    /// The destination, and what the probe saw.
    NoConditionalWrites {
        /// The destination.
        destination: String,
        /// What the probe saw.
        detail: String,
    },
    /// `--partition-by` asks for another layout than the dataset has.
    #[error(
        "destination {destination} is partitioned by {dataset}, not {requested}: leave out \
         --partition-by to keep writing it by {dataset}, or move to {requested} by writing it \
         again into an empty destination (`bbpipe replay ... --partition-by {requested}`, or \
         `bbpipe export --full --partition-by {requested} --out NEW`)"
    )]
    Layout {
        /// The destination.
        destination: String,
        /// The granularity its record says.
        dataset: bbpipe_model::Granularity,
        /// The granularity asked for.
        requested: bbpipe_model::Granularity,
    },
    /// `--format` asks for another format than the dataset has.
    #[error(
        "destination {destination} holds {dataset} tables, not {requested}: leave out --format \
         to keep writing it as {dataset}, or write the history again into an empty destination \
         (`bbpipe replay ... --format {requested}`, or `bbpipe export --full --format \
         {requested} --out NEW`)"
    )]
    Format {
        /// The destination.
        destination: String,
        /// The format its record says.
        dataset: bbpipe_model::Format,
        /// The format asked for.
        requested: bbpipe_model::Format,
    },
    /// The Delta kernel failed on a table's log.
    #[error("Delta table {table}: {message}")]
    Delta {
        /// The table, as the user would find it.
        table: String,
        /// What the kernel said.
        message: String,
    },
    /// Another stage stopped first; its error is the one to report.
    #[error("cancelled because another stage stopped")]
    Cancelled,
}

/// A data file whose columns are not its table's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a {table} file of schema version {}: {difference}",
    bbpipe_model::SCHEMA_VERSION
)]
pub struct SchemaMismatch {
    /// The table whose file it should be.
    pub table: &'static str,
    /// The first difference, e.g. ``expected column `uuid Utf8 not null`, found ...``.
    pub difference: String,
}

impl LoadError {
    /// Arrow refused rows of `table`.
    pub(crate) fn arrow(
        table: bbpipe_model::Table,
    ) -> impl Fn(arrow::error::ArrowError) -> Self + Copy {
        move |source| LoadError::Arrow {
            table: table.name(),
            source,
        }
    }
}
