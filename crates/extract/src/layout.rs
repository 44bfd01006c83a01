//! The fixture layout: raw pages on disk, as replay reads them and record mode writes them.
//!
//! ```text
//! <root>/recording.json                                  optional: when and from where
//! <root>/<workspace>/repositories/page-0001.json         GET /repositories/{workspace}
//! <root>/<workspace>/<repo_slug>/pipelines/page-0001.json  GET .../{repo_slug}/pipelines
//! <root>/<workspace>/<repo_slug>/pipelines/runs/<n>.json   GET .../pipelines/{uuid}
//! <root>/<workspace>/<repo_slug>/pipelines/steps/<run uuid>/page-0001.json
//!                                                          GET .../pipelines/{uuid}/steps
//! <root>/<workspace>/<repo_slug>/pipelines/test_reports/<run uuid>/<step uuid>/page-0001.json
//!                                                   GET .../steps/{step_uuid}/test_reports
//! <root>/<workspace>/<repo_slug>/pipelines/test_cases/<run uuid>/<step uuid>/0001.json
//!                                    GET .../test_reports/test_cases?status=, in read order
//! <root>/<workspace>/<repo_slug>/environments/page-0001.json  GET .../environments
//! <root>/<workspace>/<repo_slug>/deployments/page-0001.json   GET .../deployments
//! <root>/<workspace>/<repo_slug>/commits/page-0001.json       the repository's commit graph
//! <root>/<workspace>/<repo_slug>/commits/<new>..<old>/page-0001.json
//!                                                  GET .../commits/{new}?exclude={old}
//! <root>/<workspace>/<repo_slug>/commits/<new>/page-0001.json  GET .../commits/{new}
//! ```
//! A run's uuid names its steps directory without braces, a step's its test report's.
//! Page files hold the response body exactly as Bitbucket returned it.

use bbpipe_model::{Endpoint, FileNames, Under};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Name of the optional file that says when and from where pages were recorded.
pub const RECORDING_FILE: &str = "recording.json";

/// Contents of [`RECORDING_FILE`]. Credentials are never part of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recording {
    /// Layout version; 1 is the one described above.
    pub format: u32,
    /// When the pages were fetched: replays stamp rows with this time, so that replaying a
    /// recording gives the rows the recording export gave.
    pub recorded_at: DateTime<Utc>,
    /// API base the pages came from, or a note on how they were made.
    pub source: String,
}

/// The directory of an endpoint's pages, as its [`EndpointSpec`](bbpipe_model::EndpointSpec)
/// places them: under the workspace, or under `repo_slug` (for steps, the directory holding
/// one directory per run).
pub fn endpoint_dir(
    root: &Path,
    workspace: &str,
    repo_slug: Option<&str>,
    endpoint: Endpoint,
) -> PathBuf {
    let fixture = endpoint.spec().fixture;
    let mut dir = root.join(workspace);
    match (fixture.under, repo_slug) {
        (Under::Workspace, _) | (Under::Repository | Under::Run | Under::Step, None) => {}
        (Under::Repository | Under::Run | Under::Step, Some(slug)) => dir.push(slug),
    }
    for part in fixture.dir {
        dir.push(part);
    }
    dir
}

fn page_file(page: u32) -> String {
    format!("page-{page:04}.json")
}

/// Path of page `page` (1-based) of a paginated endpoint: repositories (no `repo_slug`) or a
/// repository's pipelines.
pub fn page_path(root: &Path, workspace: &str, repo_slug: Option<&str>, page: u32) -> PathBuf {
    let endpoint = match repo_slug {
        None => Endpoint::Repositories,
        Some(_) => Endpoint::Pipelines,
    };
    endpoint_dir(root, workspace, repo_slug, endpoint).join(page_file(page))
}

/// Path of the `n`th individually fetched pipeline run of a repository.
pub fn run_path(root: &Path, workspace: &str, repo_slug: &str, n: u32) -> PathBuf {
    endpoint_dir(root, workspace, Some(repo_slug), Endpoint::PipelineRun)
        .join(format!("{n:04}.json"))
}

/// Path of page `page` of the steps of run `run_uuid` (braces or not).
pub fn steps_path(
    root: &Path,
    workspace: &str,
    repo_slug: &str,
    run_uuid: &str,
    page: u32,
) -> PathBuf {
    endpoint_dir(root, workspace, Some(repo_slug), Endpoint::Steps)
        .join(bare_uuid(run_uuid))
        .join(page_file(page))
}

/// Path of page `n` of a step's test report pages (`endpoint`: the report or its cases).
pub fn test_page_path(
    root: &Path,
    workspace: &str,
    repo_slug: &str,
    endpoint: Endpoint,
    (run_uuid, step_uuid): (&str, &str),
    n: u32,
) -> PathBuf {
    let dir = endpoint_dir(root, workspace, Some(repo_slug), endpoint)
        .join(bare_uuid(run_uuid))
        .join(bare_uuid(step_uuid));
    match endpoint.spec().fixture.files {
        FileNames::Numbered => dir.join(format!("{n:04}.json")),
        FileNames::Pages | FileNames::CommitAnswers => dir.join(page_file(n)),
    }
}

/// Path of page `page` of a repository's environments or deployments.
pub fn listing_path(
    root: &Path,
    workspace: &str,
    repo_slug: &str,
    endpoint: Endpoint,
    page: u32,
) -> PathBuf {
    endpoint_dir(root, workspace, Some(repo_slug), endpoint).join(page_file(page))
}

/// In a recorded answer's directory: the commit (or the excluded one) was not found (404).
pub const COMMITS_GONE_FILE: &str = "not-found.json";

/// The directory of a repository's commit pages (its graph; recorded answers below it).
pub fn commits_dir(root: &Path, workspace: &str, repo_slug: &str) -> PathBuf {
    endpoint_dir(root, workspace, Some(repo_slug), Endpoint::Commits)
}

/// The directory of the recorded answer to "commits reachable from `new`, not from `old`".
pub fn commit_range_dir(
    root: &Path,
    workspace: &str,
    repo_slug: &str,
    new: &str,
    old: Option<&str>,
) -> PathBuf {
    let name = match old {
        Some(old) => format!("{new}..{old}"),
        None => new.to_string(),
    };
    commits_dir(root, workspace, repo_slug).join(name)
}

/// A uuid without its braces, as directory names carry it.
pub fn bare_uuid(uuid: &str) -> &str {
    uuid.trim_start_matches('{').trim_end_matches('}')
}

/// The page number in a file name such as `page-0012.json`, or the run number in `0003.json`,
/// as the endpoint names its files.
pub(crate) fn file_number(name: &str, endpoint: Endpoint) -> Option<u32> {
    let stem = name.strip_suffix(".json")?;
    let digits = match endpoint.spec().fixture.files {
        FileNames::Numbered => stem,
        FileNames::Pages | FileNames::CommitAnswers => stem.strip_prefix("page-")?,
    };
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_numbers_round_trip() {
        let root = Path::new("/f");
        let repos = page_path(root, "acme", None, 3);
        assert_eq!(repos, Path::new("/f/acme/repositories/page-0003.json"));
        let runs = page_path(root, "acme", Some("api"), 12);
        assert_eq!(runs, Path::new("/f/acme/api/pipelines/page-0012.json"));
        let name = runs.file_name().unwrap().to_str().unwrap();
        assert_eq!(file_number(name, Endpoint::Pipelines), Some(12));
        assert_eq!(file_number("0007.json", Endpoint::PipelineRun), Some(7));
        assert_eq!(file_number("notes.txt", Endpoint::Pipelines), None);
    }
}
