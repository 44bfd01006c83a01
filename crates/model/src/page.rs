use crate::Endpoint;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::fmt;

/// The pipeline run a page of steps belongs to: what the steps themselves do not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRef {
    /// The run's uuid, with braces.
    pub uuid: String,
    /// Its build number.
    pub build_number: i64,
    /// When it was created (microseconds since the epoch, UTC): the steps' partition.
    pub created_at: i64,
}

/// The step a page of its test report belongs to, with what the report's rows need that the
/// report does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRef {
    /// The step's uuid, with braces.
    pub uuid: String,
    /// Its name; `None` for unnamed steps.
    pub name: Option<String>,
    /// The attempt it belongs to.
    pub run_number: Option<i64>,
    /// Its raw result (FAILED, SUCCESSFUL, ...).
    pub result: Option<String>,
    /// When it completed (microseconds since the epoch, UTC).
    pub completed_at: Option<i64>,
    /// The commit its run built.
    pub commit: Option<String>,
    /// The branch or tag its run built (for pull requests, the source branch).
    pub ref_name: Option<String>,
}

/// Where a page came from: enough to name it in an error and to trace a row back to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSource {
    /// The workspace.
    pub workspace: String,
    /// The repository slug, for per-repository endpoints.
    pub repo_slug: Option<String>,
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The request URL, or the fixture file the page was replayed from.
    pub location: String,
    /// 1-based page number (1 for single objects).
    pub page: u32,
    /// When it was fetched (or recorded).
    pub fetched_at: DateTime<Utc>,
    /// For [`Endpoint::Steps`] and a step's pages: the run the steps belong to.
    pub run: Option<RunRef>,
    /// For a step's pages (its test report): the step.
    pub step: Option<StepRef>,
}

impl fmt::Display for PageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repo_slug {
            Some(slug) => write!(
                f,
                "{} page {} of {}/{} ({})",
                self.endpoint.as_str(),
                self.page,
                self.workspace,
                slug,
                self.location
            ),
            None => write!(
                f,
                "{} page {} of {} ({})",
                self.endpoint.as_str(),
                self.page,
                self.workspace,
                self.location
            ),
        }
    }
}

/// One response body, exactly as Bitbucket returned it, with its provenance.
#[derive(Debug, Clone)]
pub struct RawPage {
    /// Where the page came from.
    pub source: PageSource,
    /// The response body, as received.
    pub body: Bytes,
}
