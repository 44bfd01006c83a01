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
    /// For [`Endpoint::Steps`]: the run the steps belong to.
    pub run: Option<RunRef>,
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
