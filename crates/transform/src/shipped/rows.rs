//! Rows of `deployment_commits` from the answer to one lookup.

use super::plan::Lookup;
use crate::error::TransformError;
use crate::row::opt;
use crate::timestamp::parse_micros;
use crate::transformer::decode;
use arrow::array::TimestampMicrosecondBuilder;
use arrow::array::{ArrayRef, BooleanBuilder, Int64Builder, StringBuilder};
use arrow::record_batch::RecordBatch;
use bbpipe_model::bitbucket::{Page, RepositoryCommit, value_path};
use bbpipe_model::{Endpoint, PageSource, Table};
use bytes::Bytes;
use std::sync::Arc;

/// What the API answered about one deployment.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    /// Pages of commits, newest first; `cut`: more commits exist than the limit kept.
    Pages {
        /// The response bodies.
        pages: &'a [Bytes],
        /// Whether the list went on past the limit.
        cut: bool,
    },
    /// 404: the deployed commit or its predecessor's is gone from the history.
    Gone,
}

/// Why a deployment has no commit rows (the `reason` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// It deployed nothing its predecessor had not: a redeploy, or a rollback.
    NoNewCommits,
    /// Its commit or its predecessor's is gone (a force-push rewrote the history).
    HistoryRewritten,
}

impl Reason {
    /// As the `reason` column spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NoNewCommits => "no_new_commits",
            Reason::HistoryRewritten => "history_rewritten",
        }
    }
}

/// What one answer added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Commit rows.
    pub commits: usize,
    /// Set when the deployment got its one row without a commit.
    pub reason: Option<Reason>,
}

/// Columns of `deployment_commits` under construction, for one workspace.
pub struct CommitRowsBuilder {
    workspace: String,
    /// Commits kept per deployment.
    max: usize,
    /// Whether messages are exported.
    messages: bool,
    columns: Columns,
    rows: usize,
}

#[derive(Default)]
struct Columns {
    reference_id: StringBuilder,
    repository: StringBuilder,
    repo_uuid: StringBuilder,
    service: StringBuilder,
    environment: StringBuilder,
    deployed_at: TimestampMicrosecondBuilder,
    commit_sha: StringBuilder,
    commit_date: TimestampMicrosecondBuilder,
    author_account_id: StringBuilder,
    is_merge: BooleanBuilder,
    truncated: BooleanBuilder,
    lead_time_seconds: Int64Builder,
    previous_reference_id: StringBuilder,
    previous_commit_sha: StringBuilder,
    reason: StringBuilder,
    message: StringBuilder,
    exported_at: TimestampMicrosecondBuilder,
}

/// One commit, as a row needs it.
struct CommitRow<'a> {
    sha: Option<&'a str>,
    date: Option<i64>,
    author: Option<&'a str>,
    is_merge: Option<bool>,
    message: Option<&'a str>,
}

impl CommitRowsBuilder {
    /// Rows of `workspace`, keeping `max` commits per deployment, with messages or not.
    pub fn new(workspace: &str, max: usize, messages: bool) -> Self {
        CommitRowsBuilder {
            workspace: workspace.to_string(),
            max: max.max(1),
            messages,
            columns: Columns::default(),
            rows: 0,
        }
    }

    /// Rows held.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The rows of one deployment, looked up at `exported_at` (microseconds, UTC).
    pub fn append(
        &mut self,
        lookup: &Lookup,
        answer: Answer<'_>,
        exported_at: i64,
    ) -> Result<Appended, TransformError> {
        let (pages, cut) = match answer {
            Answer::Gone => {
                self.push(
                    lookup,
                    &none(),
                    false,
                    Some(Reason::HistoryRewritten),
                    exported_at,
                );
                return Ok(Appended {
                    commits: 0,
                    reason: Some(Reason::HistoryRewritten),
                });
            }
            Answer::Pages { pages, cut } => (pages, cut),
        };
        // A first deployment has no predecessor: its list is its history, cut at the limit.
        let truncated = cut || lookup.previous.is_none();
        let mut commits = 0;
        for (number, body) in pages.iter().enumerate() {
            let workspace = self.workspace.clone();
            let source = || page_source(&workspace, lookup, number, exported_at);
            let page: Page<RepositoryCommit> = decode(&source(), body)?;
            for (index, commit) in page.values.iter().enumerate() {
                if commits == self.max {
                    break;
                }
                let date = match opt(&commit.date) {
                    None => None,
                    Some(text) => Some(parse_micros(text).ok_or_else(|| {
                        TransformError::value(
                            &source(),
                            value_path(index, "$.date"),
                            format!("not an RFC 3339 timestamp: {text:?}"),
                        )
                    })?),
                };
                let row = CommitRow {
                    sha: Some(&commit.hash),
                    date,
                    author: commit.author_account_id(),
                    is_merge: Some(commit.is_merge()),
                    message: opt(&commit.message).filter(|_| self.messages),
                };
                self.push(lookup, &row, truncated, None, exported_at);
                commits += 1;
            }
        }
        if commits > 0 {
            return Ok(Appended {
                commits,
                reason: None,
            });
        }
        self.push(
            lookup,
            &none(),
            false,
            Some(Reason::NoNewCommits),
            exported_at,
        );
        Ok(Appended {
            commits: 0,
            reason: Some(Reason::NoNewCommits),
        })
    }

    fn push(
        &mut self,
        lookup: &Lookup,
        commit: &CommitRow<'_>,
        truncated: bool,
        reason: Option<Reason>,
        exported_at: i64,
    ) {
        let d = &lookup.deployment;
        let c = &mut self.columns;
        c.reference_id.append_value(&d.reference_id);
        c.repository.append_value(&d.repository);
        c.repo_uuid.append_value(&d.repo_uuid);
        c.service.append_value(&d.service);
        c.environment.append_value(&d.environment);
        c.deployed_at.append_value(d.deployed_at);
        c.commit_sha.append_option(commit.sha);
        c.commit_date.append_option(commit.date);
        c.author_account_id.append_option(commit.author);
        c.is_merge.append_option(commit.is_merge);
        c.truncated.append_value(truncated);
        let lead_time = commit
            .date
            .map(|date| (d.deployed_at - date).div_euclid(1_000_000));
        c.lead_time_seconds.append_option(lead_time);
        let (previous_id, previous_sha) = match &lookup.previous {
            Some((id, sha)) => (Some(id.as_str()), Some(sha.as_str())),
            None => (None, None),
        };
        c.previous_reference_id.append_option(previous_id);
        c.previous_commit_sha.append_option(previous_sha);
        c.reason.append_option(reason.map(Reason::as_str));
        c.message.append_option(commit.message);
        c.exported_at.append_value(exported_at);
        self.rows += 1;
    }

    /// The rows built so far, as one batch of [`Table::DeploymentCommits`]; the builder is
    /// left empty.
    pub fn finish(&mut self) -> Result<RecordBatch, TransformError> {
        let rows = std::mem::take(&mut self.rows);
        let mut c = std::mem::take(&mut self.columns);
        let utc = |b: &mut TimestampMicrosecondBuilder| -> ArrayRef {
            Arc::new(b.finish().with_timezone("UTC"))
        };
        let workspace: ArrayRef = Arc::new(arrow::array::StringArray::from(vec![
            self.workspace
                .as_str();
            rows
        ]));
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("workspace", workspace),
            ("reference_id", Arc::new(c.reference_id.finish())),
            ("repository", Arc::new(c.repository.finish())),
            ("repo_uuid", Arc::new(c.repo_uuid.finish())),
            ("service", Arc::new(c.service.finish())),
            ("environment", Arc::new(c.environment.finish())),
            ("deployed_at", utc(&mut c.deployed_at)),
            ("commit_sha", Arc::new(c.commit_sha.finish())),
            ("commit_date", utc(&mut c.commit_date)),
            ("author_account_id", Arc::new(c.author_account_id.finish())),
            ("is_merge", Arc::new(c.is_merge.finish())),
            ("truncated", Arc::new(c.truncated.finish())),
            ("lead_time_seconds", Arc::new(c.lead_time_seconds.finish())),
            (
                "previous_reference_id",
                Arc::new(c.previous_reference_id.finish()),
            ),
            (
                "previous_commit_sha",
                Arc::new(c.previous_commit_sha.finish()),
            ),
            ("reason", Arc::new(c.reason.finish())),
            ("message", Arc::new(c.message.finish())),
            ("exported_at", utc(&mut c.exported_at)),
        ];
        Table::DeploymentCommits
            .batch_of(columns)
            .map_err(|e| TransformError::Internal(format!("deployment_commits: {e}")))
    }
}

fn none() -> CommitRow<'static> {
    CommitRow {
        sha: None,
        date: None,
        author: None,
        is_merge: None,
        message: None,
    }
}

/// Names a commits page in errors: the deployment's repository and the question asked.
fn page_source(workspace: &str, lookup: &Lookup, number: usize, exported_at: i64) -> PageSource {
    let d = &lookup.deployment;
    let new = d.commit_sha.as_deref().unwrap_or("?");
    let location = match &lookup.previous {
        Some((_, old)) => format!(
            "commits/{new}?exclude={old} (deployment {})",
            d.reference_id
        ),
        None => format!("commits/{new} (deployment {})", d.reference_id),
    };
    PageSource {
        workspace: workspace.to_string(),
        repo_slug: Some(d.repo_slug().to_string()),
        endpoint: Endpoint::Commits,
        location,
        page: u32::try_from(number + 1).unwrap_or(u32::MAX),
        fetched_at: chrono::DateTime::from_timestamp_micros(exported_at).unwrap_or_default(),
        run: None,
        step: None,
    }
}
