//! Extract: where raw Bitbucket pages come from.
//!
//! [`Exporter`] reads a workspace from the Bitbucket Cloud API ([`api::Client`]: credentials,
//! pacing, retries) incrementally ([`SyncState`]), optionally recording every page
//! ([`Recorder`]); [`Replay`] reads recorded pages (see [`layout`]). Both send
//! [`RawPage`](bbpipe_model::RawPage)s down a bounded channel: everything after this stage is
//! shared.

pub mod api;
mod commit_graph;
mod error;
mod export;
mod extras;
mod filter;
pub mod layout;
mod record;
mod replay;
mod requests;
mod revisit;
mod shipped;
mod state;
mod test_reports;
mod walk;

pub use error::ExtractError;
pub use export::{ExportOptions, ExportOutcome, ExportProgress, Exporter};
pub use filter::{FilterError, RepoFilter};
pub use record::Recorder;
pub use replay::Replay;
pub use shipped::{CommitQuery, CommitSource, CommitsAnswer, is_commit_hash};
pub use state::{
    FLAKY_WINDOW_DAYS, FailedTests, MAX_FAILED_TESTS_KEPT, RepositoryState, Resume, STATE_FORMAT,
    StepsRead, SyncState, Unfinished,
};

/// What an extraction sent down its channel.
#[derive(Debug, Clone, Default)]
pub struct ExtractSummary {
    /// Pages read.
    pub pages: u64,
    /// Bytes of page bodies.
    pub bytes: u64,
}
