use bbpipe_model::PageSource;

/// Why transform could not read a page.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    /// The body is not the JSON Bitbucket sends: truncated, HTML, wrong types.
    #[error("{source_page}: invalid JSON at {path}: {message}")]
    Json {
        /// The page.
        source_page: Box<PageSource>,
        /// JSON path of the offending value, e.g. `$.values[3].build_number`.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// Well-formed JSON whose value cannot be used, e.g. an unparseable timestamp.
    #[error("{source_page}: bad value at {path}: {message}")]
    Value {
        /// The page.
        source_page: Box<PageSource>,
        /// JSON path of the problem.
        path: String,
        /// What was wrong there.
        message: String,
    },
    /// A bug: the batch built does not fit the table's schema.
    #[error("internal error building a batch: {0}")]
    Internal(String),
    /// Another stage stopped first; its error is the one to report.
    #[error("cancelled because another stage stopped")]
    Cancelled,
}

impl TransformError {
    pub(crate) fn value(source: &PageSource, path: String, message: impl Into<String>) -> Self {
        TransformError::Value {
            source_page: Box::new(source.clone()),
            path,
            message: message.into(),
        }
    }
}
