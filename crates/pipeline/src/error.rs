//! Why a run stopped, with the stage and what it was working on.

use crate::signal::Signal;
use bbpipe_extract::ExtractError;
use bbpipe_load::LoadError;
use bbpipe_transform::{RulesError, TransformError};

/// Why a replay or an export stopped. Each stage's error is kept whole, so a caller can tell an
/// access problem from a bad page or a busy workspace.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The deploy rules could not be used.
    #[error("{0}")]
    Rules(#[from] RulesError),
    /// The recorded pages could not be opened.
    #[error("extract: cannot replay: {0}")]
    Fixtures(ExtractError),
    /// The directory for `--record` could not be used.
    #[error("{0}")]
    Recording(ExtractError),
    /// Extract failed: the API, or a recorded page.
    #[error("extract failed: {0}")]
    Extract(ExtractError),
    /// Transform failed: a page that is not the JSON Bitbucket sends.
    #[error("transform failed: {0}")]
    Transform(TransformError),
    /// The destination could not be opened.
    #[error("load: cannot open the destination: {0}")]
    Destination(LoadError),
    /// Another writer holds the workspace, took it over, or committed first.
    #[error("{0}")]
    Contention(LoadError),
    /// Load failed: the store, or a file of the dataset.
    #[error("load failed: {0}")]
    Load(LoadError),
    /// The sync state committed in the manifests cannot be read.
    #[error("the sync state in the manifests of workspace {workspace}: {source}")]
    State {
        /// The workspace whose state it is.
        workspace: String,
        /// What was wrong with it.
        source: serde_json::Error,
    },
    /// The state file of an earlier version cannot be read.
    #[error("{path}: not a bbpipe state file (remove it to export in full): {source}")]
    LegacyState {
        /// The file.
        path: String,
        /// What was wrong with it.
        source: serde_json::Error,
    },
    /// A runs visitor failed (see [`crate::for_each_run_batch`]).
    #[error("{0}")]
    Visit(crate::VisitError),
    /// The delivery report cannot be made from this dataset (not a bbpipe dataset, no pipeline
    /// runs, an unknown workspace, a bad window).
    #[error("report: {0}")]
    Report(String),
    /// The delivery report's window holds no pipeline run and no deployment.
    #[error(
        "report: nothing to report between {from} and {to}: no pipeline run was created and no deployment made in that window (see --from/--to)"
    )]
    EmptyReport {
        /// First day of the window.
        from: String,
        /// Last day of the window.
        to: String,
    },
    /// SIGTERM or SIGINT: stopped without committing what was not committed yet.
    #[error(
        "interrupted by {}: stopped without committing what was not committed yet",
        .0.name()
    )]
    Interrupted(Signal),
    /// Nothing moved for the stall timeout (outside rate-limit waits): the run stopped instead
    /// of waiting for ever.
    #[error(
        "stalled: nothing moved for {} (--stall-timeout) outside rate-limit waits, so the \
         export stopped; what each stage was waiting for: {waiting}",
        humantime::format_duration(*.timeout)
    )]
    Stalled {
        /// The stall timeout.
        timeout: std::time::Duration,
        /// What each stage was waiting for, and how full the channels were.
        waiting: String,
    },
    /// A stage ended without an error of its own or a result (it panicked or was cancelled).
    #[error("a stage stopped unexpectedly: {0}")]
    Stage(String),
    /// The run failed after committing checkpoints; what they committed stays.
    #[error(
        "{source}; {committed} checkpoint(s) were committed before it stopped; the next export \
         continues from the last"
    )]
    AfterCheckpoints {
        /// Checkpoints committed before the failure.
        committed: u64,
        /// The failure.
        source: Box<PipelineError>,
    },
}

impl PipelineError {
    /// The failure itself, under any note about checkpoints committed before it.
    pub fn root(&self) -> &PipelineError {
        match self {
            PipelineError::AfterCheckpoints { source, .. } => source.root(),
            other => other,
        }
    }

    /// A load error, sorted: contention between writers is an error of its own.
    pub(crate) fn load(error: LoadError) -> PipelineError {
        match error {
            LoadError::Locked { .. } | LoadError::LeaseLost { .. } | LoadError::Conflict { .. } => {
                PipelineError::Contention(error)
            }
            other => PipelineError::Load(other),
        }
    }
}
