use std::path::PathBuf;

/// Why extraction stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Layout { path: PathBuf, message: String },
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
