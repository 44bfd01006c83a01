//! The fixture layout as replay reads it: which page files a directory holds (paths only,
//! never their bodies), and `recording.json`.

use crate::error::ExtractError;
use crate::layout::{RECORDING_FILE, Recording, endpoint_dir, file_number};
use bbpipe_model::Endpoint;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A page file found in the layout, not yet read.
#[derive(Debug, Clone)]
pub(super) struct PageFile {
    pub(super) path: PathBuf,
    pub(super) workspace: String,
    pub(super) repo_slug: Option<String>,
    pub(super) endpoint: Endpoint,
    pub(super) page: u32,
}

/// The steps pages of a repository's runs, by run uuid without braces.
pub(super) type StepFiles = HashMap<String, Vec<PageFile>>;

/// The pages of each run of a repository under `endpoint`'s directory (steps), by run uuid
/// without braces; empty when the repository has none.
pub(super) fn run_pages(
    root: &Path,
    workspace: &str,
    slug: &str,
    endpoint: Endpoint,
) -> Result<StepFiles, ExtractError> {
    let dir = endpoint_dir(root, workspace, Some(slug), endpoint);
    let mut of_runs = StepFiles::new();
    if dir.is_dir() {
        for (run, run_dir) in sorted_dirs(&dir)? {
            let mut pages = Vec::new();
            pages_in(&run_dir, workspace, Some(slug), endpoint, &mut pages)?;
            of_runs.insert(run, pages);
        }
    }
    Ok(of_runs)
}

/// The test report pages of a repository's steps: by run uuid, then step uuid (both without
/// braces), the report's page before its cases'.
pub(super) type TestFiles = HashMap<String, std::collections::BTreeMap<String, Vec<PageFile>>>;

/// Adds the pages of each step of each run under `endpoint`'s directory to `tests`.
pub(super) fn step_pages(
    root: &Path,
    workspace: &str,
    slug: &str,
    endpoint: Endpoint,
    tests: &mut TestFiles,
) -> Result<(), ExtractError> {
    let dir = endpoint_dir(root, workspace, Some(slug), endpoint);
    if !dir.is_dir() {
        return Ok(());
    }
    for (run, run_dir) in sorted_dirs(&dir)? {
        for (step, step_dir) in sorted_dirs(&run_dir)? {
            let pages = tests
                .entry(run.clone())
                .or_default()
                .entry(step)
                .or_default();
            pages_in(&step_dir, workspace, Some(slug), endpoint, pages)?;
        }
    }
    Ok(())
}

pub(super) fn read_recording(root: &Path) -> Result<Option<Recording>, ExtractError> {
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
pub(super) fn sorted_dirs(dir: &Path) -> Result<Vec<(String, PathBuf)>, ExtractError> {
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
pub(super) fn pages_in(
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
