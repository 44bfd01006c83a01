//! Replay: recorded pages from disk, in the order an export would fetch them.

use crate::ExtractSummary;
use crate::error::ExtractError;
use crate::layout::{RECORDING_FILE, Recording, file_number};
use bbpipe_model::{Endpoint, Message, PageSource, RawPage};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc::Sender;

/// A page file found in the layout, not yet read.
#[derive(Debug, Clone)]
struct PageFile {
    path: PathBuf,
    workspace: String,
    repo_slug: Option<String>,
    endpoint: Endpoint,
    page: u32,
}

/// A fixture directory, scanned: the list of its page files (paths only, never their bodies).
#[derive(Debug)]
pub struct Replay {
    files: Vec<PageFile>,
    fetched_at: DateTime<Utc>,
    workspaces: Vec<String>,
}

impl Replay {
    /// Scans `root`. Fails when it holds no workspace, or a page file has a malformed name.
    pub fn open(root: &Path) -> Result<Replay, ExtractError> {
        let recording = read_recording(root)?;
        let mut files = Vec::new();
        let mut workspaces = Vec::new();
        for (workspace, dir) in sorted_dirs(root)? {
            let repositories = dir.join("repositories");
            if !repositories.join("page-0001.json").is_file() {
                continue; // not a workspace: notes, rules and such may sit beside them
            }
            pages_in(
                &repositories,
                &workspace,
                None,
                Endpoint::Repositories,
                &mut files,
            )?;
            for (slug, repo_dir) in sorted_dirs(&dir)? {
                let pipelines = repo_dir.join("pipelines");
                if pipelines.is_dir() {
                    pages_in(
                        &pipelines,
                        &workspace,
                        Some(&slug),
                        Endpoint::Pipelines,
                        &mut files,
                    )?;
                    let runs = pipelines.join("runs");
                    if runs.is_dir() {
                        pages_in(
                            &runs,
                            &workspace,
                            Some(&slug),
                            Endpoint::PipelineRun,
                            &mut files,
                        )?;
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
                          (see fixtures/README.md)"
                        .into(),
            });
        }
        let fetched_at = recording.map_or_else(Utc::now, |r| r.recorded_at);
        Ok(Replay {
            files,
            fetched_at,
            workspaces,
        })
    }

    pub fn workspaces(&self) -> &[String] {
        &self.workspaces
    }

    pub fn page_count(&self) -> usize {
        self.files.len()
    }

    /// Sends every page, then [`Message::Complete`]. Reads one file at a time: the channel's
    /// bound is what limits the pages in flight.
    pub async fn run(
        self,
        output: Sender<Message<RawPage>>,
    ) -> Result<ExtractSummary, ExtractError> {
        let mut summary = ExtractSummary::default();
        for file in self.files {
            let body = tokio::fs::read(&file.path)
                .await
                .map_err(ExtractError::io(&file.path))?;
            summary.pages += 1;
            summary.bytes += body.len() as u64;
            let page = RawPage {
                source: PageSource {
                    workspace: file.workspace,
                    repo_slug: file.repo_slug,
                    endpoint: file.endpoint,
                    location: file.path.display().to_string(),
                    page: file.page,
                    fetched_at: self.fetched_at,
                },
                body: Bytes::from(body),
            };
            if output.send(Message::Data(page)).await.is_err() {
                return Err(ExtractError::Cancelled);
            }
        }
        output
            .send(Message::Complete)
            .await
            .map_err(|_| ExtractError::Cancelled)?;
        Ok(summary)
    }
}

fn read_recording(root: &Path) -> Result<Option<Recording>, ExtractError> {
    let path = root.join(RECORDING_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ExtractError::Layout {
                path,
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if root.is_dir() {
                Ok(None)
            } else {
                Err(ExtractError::Layout {
                    path: root.to_path_buf(),
                    message: "not a directory of recorded pages".into(),
                })
            }
        }
        Err(e) => Err(ExtractError::io(path)(e)),
    }
}

/// Subdirectories of `dir` with UTF-8 names, sorted by name.
fn sorted_dirs(dir: &Path) -> Result<Vec<(String, PathBuf)>, ExtractError> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(ExtractError::io(dir))? {
        let entry = entry.map_err(ExtractError::io(dir))?;
        let path = entry.path();
        if let (true, Some(name)) = (path.is_dir(), entry.file_name().to_str())
            && !name.starts_with('.')
            && !name.starts_with('_')
        {
            dirs.push((name.to_string(), path));
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Appends the page files of one endpoint directory, in page order.
fn pages_in(
    dir: &Path,
    workspace: &str,
    repo_slug: Option<&str>,
    endpoint: Endpoint,
    files: &mut Vec<PageFile>,
) -> Result<(), ExtractError> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(ExtractError::io(dir))? {
        let entry = entry.map_err(ExtractError::io(dir))?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        match file_number(&name, endpoint) {
            Some(page) => found.push((page, path)),
            None if name.ends_with(".json") => {
                return Err(ExtractError::Layout {
                    path,
                    message: "page files are named page-0001.json, page-0002.json, ... \
                              (single runs: 0001.json, ...)"
                        .into(),
                });
            }
            None => {}
        }
    }
    found.sort();
    files.extend(found.into_iter().map(|(page, path)| PageFile {
        path,
        workspace: workspace.to_string(),
        repo_slug: repo_slug.map(str::to_string),
        endpoint,
        page,
    }));
    Ok(())
}
