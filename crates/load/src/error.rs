/// Why load stopped.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("destination {destination}: {message}")]
    Destination {
        destination: String,
        message: String,
    },
    #[error("{path}: {source}")]
    Store {
        path: String,
        #[source]
        source: object_store::Error,
    },
    #[error("{path}: writing Parquet: {source}")]
    Parquet {
        path: String,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("{table}: {message}")]
    Batch {
        table: &'static str,
        message: String,
    },
    #[error("{path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A data file whose columns are not its table's.
    #[error("{path}: {mismatch}")]
    WrongSchema {
        path: String,
        mismatch: crate::reader::SchemaMismatch,
    },
    /// A file of the dataset that cannot be read, or is not what bbpipe wrote.
    #[error("{path}: {message}")]
    Corrupt { path: String, message: String },
    /// Another export holds the workspace's lease.
    #[error(
        "workspace {workspace} is being exported into this destination by {holder}; its lease \
         expires at {expires_at} unless renewed (wait with --wait-lock DURATION)"
    )]
    Locked {
        workspace: String,
        holder: String,
        expires_at: chrono::DateTime<chrono::Utc>,
    },
    /// This export's lease is gone: it must not commit.
    #[error("lost the lease of workspace {workspace}: {why}; nothing more is committed")]
    LeaseLost { workspace: String, why: String },
    /// Another writer committed the same sequence number first.
    #[error(
        "{path}: another export of workspace {workspace} committed first; this one stops \
         without committing (the next export continues from what is committed)"
    )]
    Conflict { workspace: String, path: String },
    /// The store cannot write create-only, so leases cannot keep writers apart.
    #[error(
        "destination {destination} does not support conditional (create-only) writes: \
         {detail}. Concurrent exports could corrupt it; pass --no-lock only if a single \
         export ever writes to it at a time"
    )]
    NoConditionalWrites { destination: String, detail: String },
    /// Another stage stopped first; its error is the one to report.
    #[error("cancelled because another stage stopped")]
    Cancelled,
}
