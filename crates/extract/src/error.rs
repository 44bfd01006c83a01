use std::path::PathBuf;

/// Why extraction stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{path}: {source}")]
    /// A file or directory of recorded pages cannot be read or written.
    Io {
        /// Which one.
        path: PathBuf,
        #[source]
        /// Why.
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    /// A fixture directory not in the layout `replay` reads (path, and what is wrong).
    Layout {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The Bitbucket API refused or failed.
    #[error("{0}")]
    Api(Box<crate::api::ApiError>),
    /// Another stage stopped first; its error is the one to report.
    #[error("cancelled because another stage stopped")]
    Cancelled,
}

impl ExtractError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ExtractError {
        let path = path.into();
        move |source| ExtractError::Io { path, source }
    }
}
