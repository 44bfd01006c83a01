//! Pipeline runs, as `GET /repositories/{workspace}/{slug}/pipelines` lists them.

use super::{NameAndType, Str, Text};
use serde::Deserialize;

/// The little of a run that extract reads: enough to order pages and keep its watermarks.
/// Only the uuid is required, so a run transform would reject still paginates.
#[derive(Deserialize)]
pub struct RunHeader<'a> {
    /// The run's uuid, with braces.
    #[serde(borrow)]
    pub uuid: Str<'a>,
    /// When the run was first created.
    #[serde(borrow, default)]
    pub created_on: Text<'a>,
    /// When its latest attempt was created; a re-run raises it.
    #[serde(borrow, default)]
    pub run_creation_date: Text<'a>,
    /// Its state, of which only the name is read.
    #[serde(borrow, default)]
    pub state: Option<StateName<'a>>,
}

/// A state of which only the name is read.
#[derive(Deserialize)]
pub struct StateName<'a> {
    /// e.g. `COMPLETED`.
    #[serde(borrow, default)]
    pub name: Text<'a>,
}

/// A run, whole.
#[derive(Deserialize)]
pub struct PipelineRun<'a> {
    #[serde(borrow)]
    pub uuid: Str<'a>,
    pub build_number: i64,
    #[serde(default)]
    pub run_number: Option<i64>,
    #[serde(borrow, default)]
    pub state: Option<State<'a>>,
    #[serde(borrow, default)]
    pub target: Option<Target<'a>>,
    #[serde(borrow, default)]
    pub trigger: Option<NameAndType<'a>>,
    #[serde(borrow, default)]
    pub creator: Option<Creator<'a>>,
    #[serde(borrow, default)]
    pub repository: Option<RepositoryRef<'a>>,
    #[serde(borrow, default)]
    pub created_on: Text<'a>,
    #[serde(borrow, default)]
    pub run_creation_date: Text<'a>,
    #[serde(borrow, default)]
    pub completed_on: Text<'a>,
    #[serde(default)]
    pub duration_in_seconds: Option<i64>,
    #[serde(default)]
    pub build_seconds_used: Option<i64>,
    #[serde(default)]
    pub first_successful: Option<bool>,
    #[serde(default)]
    pub expired: Option<bool>,
    #[serde(default)]
    pub has_variables: Option<bool>,
}

#[derive(Deserialize)]
pub struct State<'a> {
    #[serde(borrow, default)]
    pub name: Text<'a>,
    #[serde(borrow, default)]
    pub result: Option<NameAndType<'a>>,
    #[serde(borrow, default)]
    pub stage: Option<NameAndType<'a>>,
}

#[derive(Deserialize)]
pub struct Target<'a> {
    #[serde(borrow, default, rename = "type")]
    pub kind: Text<'a>,
    #[serde(borrow, default)]
    pub ref_type: Text<'a>,
    #[serde(borrow, default)]
    pub ref_name: Text<'a>,
    #[serde(borrow, default)]
    pub commit: Option<Commit<'a>>,
    #[serde(borrow, default)]
    pub selector: Option<Selector<'a>>,
    /// Pull-request targets: source and destination branches.
    #[serde(borrow, default)]
    pub source: Text<'a>,
    #[serde(borrow, default)]
    pub destination: Text<'a>,
    #[serde(default)]
    pub pullrequest: Option<PullRequest>,
    /// Merge-queue targets: the branch the queue merges into, and the queued pull requests.
    #[serde(borrow, default)]
    pub target_branch: Text<'a>,
    #[serde(default)]
    pub pullrequest_ids: Option<Vec<i64>>,
}

#[derive(Deserialize)]
pub struct Commit<'a> {
    #[serde(borrow, default)]
    pub hash: Text<'a>,
}

#[derive(Deserialize)]
pub struct Selector<'a> {
    #[serde(borrow, default, rename = "type")]
    pub kind: Text<'a>,
    #[serde(borrow, default)]
    pub pattern: Text<'a>,
}

#[derive(Deserialize)]
pub struct PullRequest {
    #[serde(default)]
    pub id: Option<i64>,
}

#[derive(Deserialize)]
pub struct Creator<'a> {
    #[serde(borrow, default)]
    pub uuid: Text<'a>,
    #[serde(borrow, default)]
    pub account_id: Text<'a>,
    #[serde(borrow, default)]
    pub display_name: Text<'a>,
}

#[derive(Deserialize)]
pub struct RepositoryRef<'a> {
    #[serde(borrow, default)]
    pub uuid: Text<'a>,
}
