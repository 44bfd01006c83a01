//! Incremental sync state: where the last committed export of a workspace stopped.
//!
//! Stored with the dataset at `<out>/_state/<workspace>.json` and written only after the data it
//! describes is committed, so a nightly job on a fresh machine continues where the last stopped.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const STATE_FORMAT: u32 = 1;

/// The state of one workspace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncState {
    pub format: u32,
    pub workspace: String,
    /// When the export that wrote this state started.
    pub exported_at: Option<DateTime<Utc>>,
    /// Per repository slug.
    pub repositories: BTreeMap<String, RepositoryState>,
}

/// The state of one repository.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RepositoryState {
    /// The newest `created_on` of a run committed: the next export pages back to this, less
    /// the lookback, and no further.
    pub watermark: Option<DateTime<Utc>>,
    /// Runs not completed when last exported; each is fetched again until it completes.
    pub unfinished: BTreeSet<String>,
}

impl SyncState {
    pub fn new(workspace: &str) -> Self {
        SyncState {
            format: STATE_FORMAT,
            workspace: workspace.to_string(),
            ..SyncState::default()
        }
    }

    /// Path of the state file, relative to the dataset root.
    pub fn path(workspace: &str) -> String {
        format!("_state/{workspace}.json")
    }
}
