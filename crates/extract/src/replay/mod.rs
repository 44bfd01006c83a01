//! Replay: recorded pages from disk. Each repository's pages keep their recorded order;
//! across repositories the pipelines pages are interleaved by time, newest first, so that the
//! days of a workspace are complete one after another and load can write them as replay goes
//! instead of holding (or spilling) every day until the end.

mod files;
mod send;

use crate::ExtractSummary;
use crate::error::ExtractError;
use crate::layout::endpoint_dir;
use bbpipe_model::{Endpoint, Extras, FileNames, Message, Optional, RawPage, Read, Under};
use chrono::{DateTime, Utc};
use files::{
    PageFile, StepFiles, TestFiles, pages_in, read_recording, run_pages, sorted_dirs, step_pages,
};
use send::{send, send_steps, with_steps};
use std::collections::HashMap;
use std::path::Path;
use tokio::sync::mpsc::Sender;

/// A fixture directory, scanned: the list of its page files (paths only, never their bodies).
#[derive(Debug)]
pub struct Replay {
    files: Vec<PageFile>,
    /// Steps pages by (workspace, repository slug).
    steps: HashMap<(String, String), StepFiles>,
    /// Test report pages by (workspace, repository slug).
    tests: HashMap<(String, String), TestFiles>,
    fetched_at: DateTime<Utc>,
    workspaces: Vec<String>,
    extras: Extras,
}

/// Where a repository's pipelines pages stand during replay.
struct RepoCursor {
    pages: std::vec::IntoIter<PageFile>,
    /// `created_on` of the last run of the last page sent; `None` before the first page (or
    /// when a page did not say), which puts the repository first in line.
    frontier: Option<DateTime<Utc>>,
}

impl Replay {
    /// Scans `root`. Fails when it holds no workspace, or a page file has a malformed name.
    pub fn open(root: &Path) -> Result<Replay, ExtractError> {
        let recording = read_recording(root)?;
        let mut files = Vec::new();
        let mut steps = HashMap::new();
        let mut tests: HashMap<(String, String), TestFiles> = HashMap::new();
        let mut workspaces = Vec::new();
        for (workspace, dir) in sorted_dirs(root)? {
            let repositories = endpoint_dir(root, &workspace, None, Endpoint::Repositories);
            if !repositories.join("page-0001.json").is_file() {
                continue; // not a workspace: notes, rules and such may sit beside them
            }
            let repos = sorted_dirs(&dir)?;
            for &endpoint in Endpoint::ALL {
                let fixture = endpoint.spec().fixture;
                match (fixture.under, fixture.files) {
                    // Not page files: the commits pass reads them (CommitSource).
                    (_, FileNames::CommitAnswers) => {}
                    (Under::Workspace, FileNames::Pages | FileNames::Numbered) => {
                        pages_in(&repositories, &workspace, None, endpoint, &mut files)?;
                    }
                    (Under::Repository, FileNames::Pages | FileNames::Numbered) => {
                        for (slug, _) in &repos {
                            let listing = endpoint_dir(root, &workspace, Some(slug), endpoint);
                            if listing.is_dir() {
                                pages_in(&listing, &workspace, Some(slug), endpoint, &mut files)?;
                            }
                        }
                    }
                    (Under::Run, FileNames::Pages | FileNames::Numbered) => {
                        for (slug, _) in &repos {
                            let of_runs = run_pages(root, &workspace, slug, endpoint)?;
                            if !of_runs.is_empty() {
                                steps.insert((workspace.clone(), slug.clone()), of_runs);
                            }
                        }
                    }
                    (Under::Step, FileNames::Pages | FileNames::Numbered) => {
                        for (slug, _) in &repos {
                            let key = (workspace.clone(), slug.clone());
                            let of_steps = tests.entry(key).or_default();
                            step_pages(root, &workspace, slug, endpoint, of_steps)?;
                        }
                    }
                }
            }
            workspaces.push(workspace);
        }
        if workspaces.is_empty() {
            return Err(ExtractError::Layout {
                path: root.to_path_buf(),
                message:
                    "no workspace found: expected <dir>/<workspace>/repositories/page-0001.json \
                          (see docs/reference/fixture-layout.md)"
                        .into(),
            });
        }
        let fetched_at = recording.map_or_else(Utc::now, |r| r.recorded_at);
        tests.retain(|_, runs| !runs.is_empty());
        Ok(Replay {
            files,
            steps,
            tests,
            fetched_at,
            workspaces,
            extras: Extras::default(),
        })
    }

    /// Also replays the pages of these optional tables, where the recording has them (without
    /// this, their pages are left unread, as an export without `--with` would not fetch them).
    pub fn with(mut self, extras: Extras) -> Self {
        self.extras = extras;
        self
    }

    /// When the pages were recorded (the time of the replay for fixtures without
    /// `recording.json`): the `exported_at` of every row.
    pub fn fetched_at(&self) -> chrono::DateTime<Utc> {
        self.fetched_at
    }

    /// The workspaces the recording holds.
    pub fn workspaces(&self) -> &[String] {
        &self.workspaces
    }

    /// How many pages it replays.
    pub fn page_count(&self) -> usize {
        let steps: usize = match self.extras.includes(Optional::Steps) {
            true => self
                .steps
                .values()
                .flat_map(|runs| runs.values())
                .map(Vec::len)
                .sum(),
            false => 0,
        };
        let tests: usize = match self.extras.includes(Optional::Tests) {
            true => self
                .tests
                .values()
                .flat_map(|runs| runs.values())
                .flat_map(|of_steps| of_steps.values())
                .map(Vec::len)
                .sum(),
            false => 0,
        };
        let listed = self.files.iter().filter(|f| self.wants(f.endpoint)).count();
        listed + steps + tests
    }

    fn wants(&self, endpoint: Endpoint) -> bool {
        endpoint.wanted(&self.extras)
    }

    /// Sends every page, then [`Message::Complete`]. Per workspace: the repositories pages, then
    /// the pipelines pages of all repositories, always from the repository whose history has
    /// been sent least far back, then the single-run files; the steps of a run right after the
    /// first page that lists it; then environments and deployments. Reads one file at a time:
    /// the channel's bound is what limits the pages in flight.
    ///
    /// One function because the order above is one interleaving, by time, of every repository's
    /// pages, with the steps slotted in; its parts share the cursors.
    pub async fn run(
        mut self,
        output: Sender<Message<RawPage>>,
    ) -> Result<ExtractSummary, ExtractError> {
        let mut summary = ExtractSummary::default();
        let fetched_at = self.fetched_at;
        let extras = self.extras;
        let mut steps = match extras.includes(Optional::Steps) {
            true => std::mem::take(&mut self.steps),
            false => HashMap::new(),
        };
        let mut tests = match extras.includes(Optional::Tests) {
            true => std::mem::take(&mut self.tests),
            false => HashMap::new(),
        };
        let files: Vec<PageFile> = std::mem::take(&mut self.files)
            .into_iter()
            .filter(|f| self.wants(f.endpoint))
            .collect();
        let mut files = files.into_iter().peekable();
        while let Some(first) = files.peek() {
            let workspace = first.workspace.clone();
            let mut repositories = Vec::new();
            // Pipelines pages, one group per repository (its pages are listed together).
            let mut pipelines: Vec<Vec<PageFile>> = Vec::new();
            let mut runs = Vec::new();
            let mut listings = Vec::new();
            while let Some(file) = files.next_if(|f| f.workspace == workspace) {
                match file.endpoint.spec().read {
                    Read::Repositories => repositories.push(file),
                    Read::Run => runs.push(file),
                    Read::Listing | Read::SinceDeploymentsWatermark => listings.push(file),
                    // Not listed as page files: sent with their run's steps.
                    Read::OfRun | Read::OfStep => {}
                    // Not listed as page files: the commits pass reads them (CommitSource).
                    Read::PerDeployment => {}
                    Read::Runs => match pipelines.last_mut() {
                        Some(pages) if pages[0].repo_slug == file.repo_slug => pages.push(file),
                        _ => pipelines.push(vec![file]),
                    },
                }
            }
            for file in repositories {
                send(file, fetched_at, &output, &mut summary).await?;
            }
            let mut cursors: Vec<RepoCursor> = pipelines
                .into_iter()
                .map(|pages| RepoCursor {
                    pages: pages.into_iter(),
                    frontier: None,
                })
                .collect();
            while let Some(next) = least_far_back(&cursors) {
                let cursor = &mut cursors[next];
                match cursor.pages.next() {
                    Some(file) => {
                        let repo = with_steps(&steps, &file);
                        let body = send(file, fetched_at, &output, &mut summary).await?;
                        cursor.frontier = last_created_on(&body);
                        if let Some(repo) = repo
                            && let Some(of_runs) = steps.get_mut(&repo)
                        {
                            let of_steps = tests.get_mut(&repo);
                            let to = (fetched_at, &output, &mut summary);
                            send_steps(&body, of_runs, of_steps, to).await?;
                        }
                    }
                    None => {
                        cursors.remove(next);
                    }
                }
            }
            for file in runs {
                let repo = with_steps(&steps, &file);
                let body = send(file, fetched_at, &output, &mut summary).await?;
                if let Some(repo) = repo
                    && let Some(of_runs) = steps.get_mut(&repo)
                {
                    let of_steps = tests.get_mut(&repo);
                    let to = (fetched_at, &output, &mut summary);
                    send_steps(&body, of_runs, of_steps, to).await?;
                }
            }
            // In the endpoints' order (environments before the deployments that name them);
            // the sort is stable, so each repository's pages keep theirs.
            listings.sort_by_key(|f| Endpoint::ALL.iter().position(|&e| e == f.endpoint));
            for file in listings {
                send(file, fetched_at, &output, &mut summary).await?;
            }
        }
        for ((workspace, slug), of_runs) in steps {
            for run in of_runs.keys() {
                tracing::warn!(repository = %format!("{workspace}/{slug}"), run = %run, "recorded steps of a run the recording does not list: skipped");
            }
        }
        for ((workspace, slug), of_runs) in tests {
            for run in of_runs.keys() {
                tracing::warn!(repository = %format!("{workspace}/{slug}"), run = %run, "recorded test reports of a run whose steps were not replayed: skipped");
            }
        }
        output
            .send(Message::Complete)
            .await
            .map_err(|_| ExtractError::Cancelled)?;
        Ok(summary)
    }
}

/// The repository to read next: the first one not read yet, else the one whose last page
/// reached back least far (the newest frontier).
fn least_far_back(cursors: &[RepoCursor]) -> Option<usize> {
    let mut best: Option<(usize, Option<DateTime<Utc>>)> = None;
    for (index, cursor) in cursors.iter().enumerate() {
        let better = match (best, cursor.frontier) {
            (None, _) => true,
            (Some((_, Some(held))), Some(frontier)) => frontier > held,
            (Some((_, Some(_))), None) => true,
            (Some((_, None)), _) => false,
        };
        if better {
            best = Some((index, cursor.frontier));
        }
    }
    best.map(|(index, _)| index)
}

/// `created_on` of the last run in a pipelines page, found by searching back from the end of
/// the body, without parsing it (transform does that). Only orders the replay: a page where
/// this finds nothing still replays, and the result is the same in any order.
fn last_created_on(body: &[u8]) -> Option<DateTime<Utc>> {
    const KEY: &[u8] = b"\"created_on\"";
    let at = body.windows(KEY.len()).rposition(|w| w == KEY)?;
    let rest = &body[at + KEY.len()..];
    let rest = rest
        .trim_ascii_start()
        .strip_prefix(b":")?
        .trim_ascii_start();
    let rest = rest.strip_prefix(b"\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let text = std::str::from_utf8(&rest[..end]).ok()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(times: &[&str]) -> String {
        let values: Vec<String> = times
            .iter()
            .map(|t| format!(r#"{{"uuid": "{{{t}}}", "created_on": "{t}", "state": {{}}}}"#))
            .collect();
        format!(r#"{{"page": 1, "values": [{}]}}"#, values.join(", "))
    }

    #[test]
    fn finds_the_last_runs_created_on_without_parsing() {
        let body = page(&["2024-03-02T10:00:00.123456Z", "2024-03-01T09:30:00+00:00"]);
        let expected = DateTime::parse_from_rfc3339("2024-03-01T09:30:00Z").unwrap();
        assert_eq!(last_created_on(body.as_bytes()), Some(expected.to_utc()));
        assert_eq!(last_created_on(br#"{"values": []}"#), None);
        assert_eq!(last_created_on(br#"{"created_on": 12}"#), None);
    }

    #[tokio::test]
    async fn interleaves_repositories_newest_first_and_keeps_each_ones_page_order() {
        let root = tempfile::tempdir().unwrap();
        let write = |path: &str, body: String| {
            let path = root.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        };
        write(
            "acme/repositories/page-0001.json",
            r#"{"values": []}"#.into(),
        );
        let day = |d: u32| format!("2024-01-{d:02}T12:00:00Z");
        // `old` has history long before `busy`'s; `quiet` has one page, and a page whose
        // time cannot be read, which comes next in its repository's order all the same.
        write(
            "acme/busy/pipelines/page-0001.json",
            page(&[&day(20), &day(18)]),
        );
        write(
            "acme/busy/pipelines/page-0002.json",
            page(&[&day(17), &day(12)]),
        );
        write(
            "acme/busy/pipelines/page-0003.json",
            page(&[&day(11), &day(10)]),
        );
        write(
            "acme/old/pipelines/page-0001.json",
            page(&[&day(19), &day(5)]),
        );
        write(
            "acme/old/pipelines/page-0002.json",
            page(&[&day(4), &day(1)]),
        );
        write("acme/quiet/pipelines/page-0001.json", page(&[&day(15)]));
        write(
            "acme/quiet/pipelines/page-0002.json",
            r#"{"values": []}"#.into(),
        );
        write("acme/quiet/pipelines/runs/0001.json", page(&[&day(15)]));

        let replay = Replay::open(root.path()).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let summary = replay.run(tx).await.unwrap();
        let mut order = Vec::new();
        while let Some(Message::Data(page)) = rx.recv().await {
            let s = page.source;
            order.push(format!(
                "{}:{:?}:{}",
                s.repo_slug.unwrap_or_default(),
                s.endpoint,
                s.page
            ));
        }
        let expected = [
            ":Repositories:1",
            // First pages of all, then always the repository reaching back least far.
            "busy:Pipelines:1",
            "old:Pipelines:1",
            "quiet:Pipelines:1",
            "busy:Pipelines:2", // busy at the 18th, quiet at the 15th, old at the 5th
            "quiet:Pipelines:2", // busy now at the 12th
            "busy:Pipelines:3", // quiet's frontier unknown, and it has no page left
            "old:Pipelines:2",
            "quiet:PipelineRun:1",
        ];
        assert_eq!(order, expected);
        assert_eq!(summary.pages, expected.len() as u64);
    }
}
