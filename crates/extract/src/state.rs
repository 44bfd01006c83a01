//! Incremental sync state: where the last committed export of a workspace stopped.
//!
//! Committed with the data it describes: each checkpoint's manifest carries the entries of the
//! repositories it covers (keyed by repository uuid, so a renamed repository keeps its state),
//! and the state of a workspace is those entries folded over its manifests. Datasets of earlier
//! versions kept it in `<out>/_state/<workspace>.json`, keyed by slug; it is still read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// `--with tests`: failed tests are matched with later passes for this long after they failed.
pub const FLAKY_WINDOW_DAYS: i64 = 30;
/// Failed tests kept per commit and step: a step with more failing tests is broken, not flaky,
/// and the state stays small.
pub const MAX_FAILED_TESTS_KEPT: usize = 200;

/// Version of the state format.
pub const STATE_FORMAT: u32 = 2;

/// The state of one workspace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncState {
    /// [`STATE_FORMAT`] when written.
    pub format: u32,
    /// The workspace.
    pub workspace: String,
    /// When the export that wrote this state started.
    pub exported_at: Option<DateTime<Utc>>,
    /// Per repository uuid (per slug in states of earlier versions).
    pub repositories: BTreeMap<String, RepositoryState>,
}

/// The state of one repository.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RepositoryState {
    /// The slug when last exported (the key is the uuid: slugs change on renames).
    #[serde(default)]
    pub slug: String,
    /// The newest `created_on` of a run committed.
    pub watermark: Option<DateTime<Utc>>,
    /// Every run whose latest `run_creation_date` is before this was read in its latest
    /// version: incremental exports page by `-run_creation_date` back to this, less the
    /// lookback, and see new runs and re-runs alike.
    #[serde(default)]
    pub run_watermark: Option<DateTime<Utc>>,
    /// Runs not completed when last read; each is fetched again on a schedule until it
    /// completes, disappears or grows too old.
    #[serde(default, deserialize_with = "unfinished")]
    pub unfinished: BTreeMap<String, Unfinished>,
    /// A first (or `--full`) export of the repository that has not finished: it continues here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
    /// Completed runs whose steps were read (`--with steps`), by run uuid: read again only when
    /// a re-run raises the run_number. Kept while the runs can come back on a page (the
    /// lookback), so an unchanged workspace costs no steps request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub steps_read: BTreeMap<String, StepsRead>,
    /// The newest `state.started_on` of a Bitbucket deployment read (`--with environments`):
    /// later exports read deployments newest first back to it, less the lookback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployments_watermark: Option<DateTime<Utc>>,
    /// `--with tests`: the tests that failed, by commit and step name, that no later attempt or
    /// run of the commit was seen to pass yet. A later passing step on the commit is read for
    /// them; kept for [`FLAKY_WINDOW_DAYS`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed_tests: BTreeMap<String, BTreeMap<String, FailedTests>>,
}

/// Tests that failed in a step of one name on one commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedTests {
    /// When the latest of those steps completed: only a step after it can show them passing.
    pub at: DateTime<Utc>,
    /// Their fully qualified names.
    pub tests: std::collections::BTreeSet<String>,
}

/// The attempt of a run whose steps were read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepsRead {
    /// Its run_number then.
    pub run_number: i64,
    /// Its latest attempt's creation time: when it can no longer come back on a page, the
    /// entry goes.
    pub at: DateTime<Utc>,
    /// For a run unfinished then (paused, halted, running), its header's fingerprint: its steps
    /// are read again only once that changes. `None`: the run had completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfinished: Option<String>,
    /// `--with tests`: the steps whose test report was asked for (found or not), never asked
    /// again.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub tested: std::collections::BTreeSet<String>,
}

/// A run left unfinished (in progress, paused at a manual step, halted).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Unfinished {
    /// When the run was created.
    pub created_on: Option<DateTime<Utc>>,
    /// When it was last read.
    pub checked_at: Option<DateTime<Utc>>,
    /// Its header's fingerprint then (state, stage, attempt, duration, build seconds): a run
    /// the API still lists as unfinished with the same one has not changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// Where an interrupted full read of a repository's runs (oldest first) continues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    /// The next page to read (pages before it were committed).
    pub next_page: u32,
    /// When the full read began: every run re-run after it has a later `run_creation_date`.
    pub started_at: DateTime<Utc>,
}

/// Unfinished runs: a map, or the list of uuids states of earlier versions kept.
fn unfinished<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Unfinished>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Map(BTreeMap<String, Unfinished>),
        List(Vec<String>),
    }
    Ok(match Either::deserialize(deserializer)? {
        Either::Map(map) => map,
        Either::List(list) => list
            .into_iter()
            .map(|uuid| (uuid, Unfinished::default()))
            .collect(),
    })
}

/// Key of the workspace-wide entry among the state entries (repository entries are uuids).
const WORKSPACE_ENTRY: &str = "_workspace";

impl RepositoryState {
    /// Forgets the steps read of runs that can no longer come back on a page: their latest
    /// attempt is older than where the next walk stops (the run watermark, or where an
    /// unfinished first read began, less the lookback).
    pub fn forget_steps_read(&mut self, lookback: chrono::Duration) {
        let Some(horizon) = self
            .run_watermark
            .or(self.resume.as_ref().map(|r| r.started_at))
        else {
            return;
        };
        let horizon = horizon
            .checked_sub_signed(lookback)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        // A run still unfinished keeps its entry however old: its page may come back. One with
        // test reports read keeps it while they can be matched with a re-run, which lists the
        // failed attempt's steps again.
        let flaky_window = Utc::now() - chrono::Duration::days(FLAKY_WINDOW_DAYS);
        let unfinished = &self.unfinished;
        self.steps_read.retain(|uuid, read| {
            read.at >= horizon
                || (read.unfinished.is_some() && unfinished.contains_key(uuid))
                || (!read.tested.is_empty() && read.at >= flaky_window)
        });
    }
}

impl RepositoryState {
    /// Forgets the failed tests of steps that completed more than
    /// [`FLAKY_WINDOW_DAYS`] before `now`.
    pub fn forget_failed_tests(&mut self, now: DateTime<Utc>) {
        let horizon = now - chrono::Duration::days(FLAKY_WINDOW_DAYS);
        for steps in self.failed_tests.values_mut() {
            steps.retain(|_, failed| failed.at >= horizon);
        }
        self.failed_tests.retain(|_, steps| !steps.is_empty());
    }
}

impl SyncState {
    /// An empty state: the next export reads the whole history.
    pub fn new(workspace: &str) -> Self {
        SyncState {
            format: STATE_FORMAT,
            workspace: workspace.to_string(),
            ..SyncState::default()
        }
    }

    /// Path of the state file of earlier versions, relative to the dataset root.
    pub fn legacy_path(workspace: &str) -> String {
        format!("_state/{workspace}.json")
    }

    /// The state folded from a workspace's manifests; `None` when they carry none.
    pub fn from_entries(
        workspace: &str,
        entries: &BTreeMap<String, serde_json::Value>,
    ) -> Result<Option<SyncState>, serde_json::Error> {
        // Repositories are keyed by their uuid, braces and all; other keys belong to other
        // owners of the workspace's state (the deploy rules' fingerprint).
        let ours = |key: &String| key == WORKSPACE_ENTRY || key.starts_with('{');
        if !entries.keys().any(ours) {
            return Ok(None);
        }
        let mut state = SyncState::new(workspace);
        for (key, value) in entries.iter().filter(|(key, _)| ours(key)) {
            if key == WORKSPACE_ENTRY {
                state.exported_at = serde_json::from_value(value.clone())?;
            } else {
                state
                    .repositories
                    .insert(key.clone(), serde_json::from_value(value.clone())?);
            }
        }
        Ok(Some(state))
    }

    /// Entries for the repositories named, and the workspace entry.
    pub fn entries<'a>(
        &self,
        repositories: impl IntoIterator<Item = &'a String>,
    ) -> BTreeMap<String, serde_json::Value> {
        let mut entries = BTreeMap::new();
        for uuid in repositories {
            if let Some(state) = self.repositories.get(uuid)
                && let Ok(value) = serde_json::to_value(state)
            {
                entries.insert(uuid.clone(), value);
            }
        }
        if let Ok(value) = serde_json::to_value(self.exported_at) {
            entries.insert(WORKSPACE_ENTRY.to_string(), value);
        }
        entries
    }

    /// A repository's state: by uuid, or by slug in a state of an earlier version.
    pub fn repository(&self, uuid: &str, slug: &str) -> Option<&RepositoryState> {
        self.repositories
            .get(uuid)
            .or_else(|| self.repositories.get(slug))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_of_earlier_versions_still_read() {
        let legacy = r#"{"format":1,"workspace":"acme","exported_at":null,
            "repositories":{"web-app":{"watermark":"2026-06-01T00:00:00Z","unfinished":["{a}"]}}}"#;
        let state: SyncState = serde_json::from_str(legacy).unwrap();
        let repo = state.repository("{uuid}", "web-app").unwrap();
        assert_eq!(repo.unfinished.keys().collect::<Vec<_>>(), ["{a}"]);
        assert_eq!(repo.run_watermark, None);
    }

    #[test]
    fn entries_round_trip() {
        let mut state = SyncState::new("acme");
        state.exported_at = Some(Utc::now());
        state.repositories.insert(
            "{r}".into(),
            RepositoryState {
                slug: "web".into(),
                resume: Some(Resume {
                    next_page: 3,
                    started_at: Utc::now(),
                }),
                ..RepositoryState::default()
            },
        );
        let keys = ["{r}".to_string()];
        let back = SyncState::from_entries("acme", &state.entries(&keys))
            .unwrap()
            .unwrap();
        assert_eq!(back, state);
    }
}
