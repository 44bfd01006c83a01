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
    /// A file of the dataset that cannot be read, or is not what bbpipe wrote.
    #[error("{path}: {message}")]
    Corrupt { path: String, message: String },
    /// Another stage stopped first; its error is the one to report.
    #[error("cancelled because another stage stopped")]
    Cancelled,
}
