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
    /// Its state: its name, and the stage of one in progress.
    #[serde(borrow, default)]
    pub state: Option<State<'a>>,
    /// Its build number (`#123`): steps of the run carry it. Not a number: `None` (transform
    /// rejects such a run; the header still paginates and tracks it).
    #[serde(default, deserialize_with = "lenient_number")]
    pub build_number: Option<i64>,
    /// The attempt: a re-run raises it, and brings new steps.
    #[serde(default, deserialize_with = "lenient_number")]
    pub run_number: Option<i64>,
    /// Wall time so far: it grows while the run runs, not while it is paused or halted.
    #[serde(default, deserialize_with = "lenient_number")]
    pub duration_in_seconds: Option<i64>,
    /// Build seconds billed so far.
    #[serde(default, deserialize_with = "lenient_number")]
    pub build_seconds_used: Option<i64>,
    /// What it built, undecoded: most readers of a header never look at it
    /// ([`RunHeader::target`] decodes it).
    #[serde(borrow, default)]
    pub target: Option<&'a serde_json::value::RawValue>,
}

impl RunHeader<'_> {
    /// Its target's commit and branch (test reports carry them); `None` when it has no target
    /// or one that is not an object.
    pub fn target(&self) -> Option<TargetHeader<'_>> {
        serde_json::from_str(self.target?.get()).ok()
    }
}

/// The commit and branch of a run's target.
#[derive(Deserialize)]
pub struct TargetHeader<'a> {
    /// The branch or tag built.
    #[serde(borrow, default)]
    pub ref_name: Text<'a>,
    /// Pull-request targets: the source branch.
    #[serde(borrow, default)]
    pub source: Text<'a>,
    /// The commit built.
    #[serde(borrow, default)]
    pub commit: Option<Commit<'a>>,
}

impl TargetHeader<'_> {
    /// The branch the run built: the ref, or a pull request's source branch.
    pub fn branch(&self) -> Option<&str> {
        self.ref_name.as_deref().or(self.source.as_deref())
    }

    /// The commit hash.
    pub fn commit_hash(&self) -> Option<&str> {
        self.commit.as_ref().and_then(|c| c.hash.as_deref())
    }
}

/// An integer, or `None` for anything else.
fn lenient_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(value.as_i64())
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
    /// The run's uuid, with braces.
    pub uuid: Str<'a>,
    /// The number shown in Bitbucket (#123).
    pub build_number: i64,
    #[serde(default)]
    /// The attempt: above 1 once re-run.
    pub run_number: Option<i64>,
    #[serde(borrow, default)]
    /// Where the run stands.
    pub state: Option<State<'a>>,
    #[serde(borrow, default)]
    /// What it built: a ref, a commit or a pull request.
    pub target: Option<Target<'a>>,
    #[serde(borrow, default)]
    /// What started it: PUSH, MANUAL, SCHEDULE, ...
    pub trigger: Option<NameAndType<'a>>,
    #[serde(borrow, default)]
    /// Who or what created it.
    pub creator: Option<Creator<'a>>,
    #[serde(borrow, default)]
    /// Its repository, where the response names it.
    pub repository: Option<RepositoryRef<'a>>,
    #[serde(borrow, default)]
    /// When it was first created (RFC 3339).
    pub created_on: Text<'a>,
    #[serde(borrow, default)]
    /// When its latest attempt was created; a re-run raises it.
    pub run_creation_date: Text<'a>,
    #[serde(borrow, default)]
    /// When it completed; absent until it has.
    pub completed_on: Text<'a>,
    #[serde(default)]
    /// Wall-clock duration.
    pub duration_in_seconds: Option<i64>,
    #[serde(default)]
    /// Billed build seconds, over all steps.
    pub build_seconds_used: Option<i64>,
    #[serde(default)]
    /// First successful run of the pipeline.
    pub first_successful: Option<bool>,
    #[serde(default)]
    /// Whether it expired.
    pub expired: Option<bool>,
    #[serde(default)]
    /// Whether it was started with variables (their values are never read).
    pub has_variables: Option<bool>,
}

#[derive(Deserialize)]
/// A run's state: a name, and a result once completed or a stage while in progress.
pub struct State<'a> {
    #[serde(borrow, default)]
    /// e.g. `COMPLETED`, `IN_PROGRESS`, `PENDING`.
    pub name: Text<'a>,
    #[serde(borrow, default)]
    /// The result of a completed run: SUCCESSFUL, FAILED, ...
    pub result: Option<NameAndType<'a>>,
    #[serde(borrow, default)]
    /// The stage of a run in progress: RUNNING, PAUSED, HALTED.
    pub stage: Option<NameAndType<'a>>,
}

#[derive(Deserialize)]
/// What a run built.
pub struct Target<'a> {
    #[serde(borrow, default, rename = "type")]
    /// e.g. `pipeline_ref_target`, `pipeline_pullrequest_target`.
    pub kind: Text<'a>,
    #[serde(borrow, default)]
    /// branch, tag, named_branch, bookmark or annotated_tag.
    pub ref_type: Text<'a>,
    #[serde(borrow, default)]
    /// The branch or tag built.
    pub ref_name: Text<'a>,
    #[serde(borrow, default)]
    /// The commit built.
    pub commit: Option<Commit<'a>>,
    #[serde(borrow, default)]
    /// The pipeline definition that ran.
    pub selector: Option<Selector<'a>>,
    /// Pull-request targets: source and destination branches.
    #[serde(borrow, default)]
    pub source: Text<'a>,
    #[serde(borrow, default)]
    /// Pull-request targets: the destination branch.
    pub destination: Text<'a>,
    #[serde(default)]
    /// Pull-request targets: the pull request.
    pub pullrequest: Option<PullRequest>,
    /// Merge-queue targets: the branch the queue merges into, and the queued pull requests.
    #[serde(borrow, default)]
    pub target_branch: Text<'a>,
    #[serde(default)]
    /// Merge-queue targets: the queued pull requests.
    pub pullrequest_ids: Option<Vec<i64>>,
}

#[derive(Deserialize)]
/// A commit, of which only the hash is read.
pub struct Commit<'a> {
    #[serde(borrow, default)]
    /// The full SHA.
    pub hash: Text<'a>,
}

#[derive(Deserialize)]
/// Which pipeline of bitbucket-pipelines.yml ran.
pub struct Selector<'a> {
    #[serde(borrow, default, rename = "type")]
    /// custom, branches, tags, pull-requests, default, ...
    pub kind: Text<'a>,
    #[serde(borrow, default)]
    /// The selector's pattern, e.g. `main` or `deploy-prod`.
    pub pattern: Text<'a>,
}

#[derive(Deserialize)]
/// A pull request, of which only the id is read.
pub struct PullRequest {
    #[serde(default)]
    /// Its id.
    pub id: Option<i64>,
}

#[derive(Deserialize)]
/// Who or what created a run.
pub struct Creator<'a> {
    #[serde(borrow, default)]
    /// Their uuid.
    pub uuid: Text<'a>,
    #[serde(borrow, default)]
    /// Their Atlassian account id.
    pub account_id: Text<'a>,
    #[serde(borrow, default)]
    /// Their display name.
    pub display_name: Text<'a>,
}

/// The repository a run names, of which only the uuid is read.
pub type RepositoryRef<'a> = super::Uuid<'a>;

#[cfg(test)]
mod tests {
    use super::RunHeader;

    #[test]
    fn a_header_decodes_its_target_only_when_asked_and_forgives_an_odd_one() {
        let run: RunHeader = serde_json::from_str(
            r#"{"uuid": "{r}", "target": {"ref_name": "main", "commit": {"hash": "abc"}}}"#,
        )
        .unwrap();
        let target = run.target().unwrap();
        assert_eq!(
            (target.branch(), target.commit_hash()),
            (Some("main"), Some("abc"))
        );
        for odd in [r#""main""#, "null", "[]", "7"] {
            let text = format!(r#"{{"uuid": "{{r}}", "target": {odd}}}"#);
            let run: RunHeader = serde_json::from_str(&text).unwrap();
            let target = run.target();
            let read = target.as_ref().map(|t| (t.branch(), t.commit_hash()));
            assert!(read.is_none_or(|r| r == (None, None)), "{odd}");
        }
    }
}
