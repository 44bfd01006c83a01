//! What the row builders share: reading optional strings and timestamps, and their errors.

use crate::timestamp::parse_micros;
use bbpipe_model::bitbucket::{Str, shown};

/// Why a value could not become a row; the caller adds the page and the path prefix.
pub struct RowError {
    pub field: &'static str,
    pub message: String,
}

/// An optional JSON string as `Option<&str>`.
pub fn opt<'a>(value: &'a Option<Str<'_>>) -> Option<&'a str> {
    value.as_deref()
}

/// An optional RFC 3339 timestamp in microseconds; present but unparseable is an error naming
/// `field`.
pub fn timestamp(text: Option<&str>, field: &'static str) -> Result<Option<i64>, RowError> {
    match text {
        None => Ok(None),
        Some(text) => parse_micros(text).map(Some).ok_or_else(|| RowError {
            field,
            message: format!("not an RFC 3339 timestamp: {:?}", shown(text)),
        }),
    }
}

/// The columns every per-repository table starts with (`workspace`, `repository` as
/// `workspace/slug`, `repo_slug`, `repo_uuid`), built together so that each builder does not
/// spell them out again.
#[derive(Default)]
pub struct RepoColumns {
    workspace: arrow::array::StringBuilder,
    repository: arrow::array::StringBuilder,
    repo_slug: arrow::array::StringBuilder,
    repo_uuid: arrow::array::StringBuilder,
}

impl RepoColumns {
    /// One row's values.
    pub fn append(&mut self, workspace: &str, slug: &str, repo_uuid: &str) {
        use std::fmt::Write;
        self.workspace.append_value(workspace);
        // Written in place: no string allocated per row.
        let _ = write!(self.repository, "{workspace}/{slug}");
        self.repository.append_value("");
        self.repo_slug.append_value(slug);
        self.repo_uuid.append_value(repo_uuid);
    }

    /// The four columns, by name, for [`Table::batch_of`](bbpipe_model::Table::batch_of).
    pub fn finish(&mut self) -> [(&'static str, arrow::array::ArrayRef); 4] {
        use std::sync::Arc;
        [
            ("workspace", Arc::new(self.workspace.finish())),
            ("repository", Arc::new(self.repository.finish())),
            ("repo_slug", Arc::new(self.repo_slug.finish())),
            ("repo_uuid", Arc::new(self.repo_uuid.finish())),
        ]
    }
}
