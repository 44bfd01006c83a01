//! The commits a deployment shipped: `GET /repositories/{ws}/{repo}/commits/{new}?exclude={old}`
//! (like `git log new ^old`), from the API or from recorded pages.
//!
//! One request per 100 commits. Pages are followed with URLs bbpipe builds on the configured
//! origin (the `page` value of the `next` link is copied, never the link itself), and no more
//! pages are read than the limit on commits per deployment needs. A 404 (the commit, or the
//! excluded one, rewritten away by a force-push) is an answer, not a failure.

use crate::api::{Client, CommitsPage, PAGELEN};
use crate::commit_graph::Graph;
use crate::error::ExtractError;
use crate::layout::{COMMITS_GONE_FILE, commit_range_dir, commits_dir, file_number};
use crate::record::Recorder;
use bbpipe_model::Endpoint;
use bytes::Bytes;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// "Which commits of `repo_slug` are reachable from `new` and not from `old`?"
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitQuery {
    /// The repository.
    pub repo_slug: String,
    /// The commit deployed.
    pub new: String,
    /// The commit the previous successful deployment deployed; `None` for a first deployment.
    pub old: Option<String>,
}

/// The answer to one commits question ("reachable from `new`, not from `old`"): its pages,
/// or that Bitbucket no longer has one of the two commits.
#[derive(Debug, Clone)]
pub enum CommitsAnswer {
    /// Pages of commits, newest first, holding at least the first `max` commits (transform
    /// keeps that many); `cut`: more commits exist than were kept.
    Pages {
        /// The response bodies.
        pages: Vec<Bytes>,
        /// Whether the list goes on past the limit.
        cut: bool,
    },
    /// 404: the commit or the excluded one is not in the repository's history any more.
    Gone,
}

/// Where answers come from.
pub struct CommitSource {
    from: From,
    /// Commits kept per deployment (`--max-commits-per-deployment`).
    max: usize,
    /// Whether recordings keep commit messages.
    messages: bool,
    requests: AtomicU64,
}

enum From {
    Api {
        client: Arc<Client>,
        workspace: String,
        recorder: Option<Arc<Recorder>>,
    },
    Fixtures {
        root: PathBuf,
        workspace: String,
        /// The graph of the repository asked about last: questions come repository by
        /// repository, and one graph at a time keeps memory flat.
        graph: Mutex<Option<(String, Arc<Graph>)>>,
    },
}

/// Whether `text` can be a commit hash: hex digits only (it also names directories).
pub fn is_commit_hash(text: &str) -> bool {
    (4..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

impl CommitSource {
    /// Answers from the API, recording them with `recorder`.
    pub fn api(
        client: Arc<Client>,
        workspace: &str,
        recorder: Option<Arc<Recorder>>,
        max: usize,
        messages: bool,
    ) -> Self {
        CommitSource {
            from: From::Api {
                client,
                workspace: workspace.to_string(),
                recorder,
            },
            max: max.max(1),
            messages,
            requests: AtomicU64::new(0),
        }
    }

    /// Answers from a fixture directory: a recorded answer where there is one, else a walk of
    /// the repository's commit graph (`<repo>/commits/page-*.json`), as the API would answer.
    pub fn fixtures(root: PathBuf, workspace: &str, max: usize, messages: bool) -> Self {
        CommitSource {
            from: From::Fixtures {
                root,
                workspace: workspace.to_string(),
                graph: Mutex::new(None),
            },
            max: max.max(1),
            messages,
            requests: AtomicU64::new(0),
        }
    }

    /// Commits kept per deployment.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Whether commit messages are kept (`--with commit-messages`).
    pub fn messages(&self) -> bool {
        self.messages
    }

    /// Requests made (or recorded pages read) so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The answer to `query`.
    pub async fn shipped(&self, query: &CommitQuery) -> Result<CommitsAnswer, ExtractError> {
        let hashes = std::iter::once(&query.new).chain(&query.old);
        if let Some(bad) = hashes.into_iter().find(|h| !is_commit_hash(h)) {
            return Err(ExtractError::Layout {
                path: PathBuf::from(&query.repo_slug),
                message: format!("{bad:?} is not a commit hash"),
            });
        }
        match &self.from {
            From::Api {
                client,
                workspace,
                recorder,
            } => {
                let shipped = self.ask_api(client, workspace, query).await?;
                if let Some(recorder) = recorder {
                    let pages = match &shipped {
                        CommitsAnswer::Pages { pages, .. } => Some(pages.as_slice()),
                        CommitsAnswer::Gone => None,
                    };
                    let range = (query.new.as_str(), query.old.as_deref());
                    recorder
                        .commits(workspace, &query.repo_slug, range, pages, self.messages)
                        .await?;
                }
                Ok(shipped)
            }
            From::Fixtures {
                root,
                workspace,
                graph,
            } => self.ask_fixtures(root, workspace, graph, query),
        }
    }

    async fn ask_api(
        &self,
        client: &Client,
        workspace: &str,
        query: &CommitQuery,
    ) -> Result<CommitsAnswer, ExtractError> {
        let url = client.endpoint(&Endpoint::Commits.spec().segments(&[
            ("workspace", workspace),
            ("repo_slug", &query.repo_slug),
            ("revision", &query.new),
        ]))?;
        let pagelen = (PAGELEN as usize).min(self.max);
        let (mut pages, mut count, mut page) = (Vec::new(), 0usize, None::<String>);
        loop {
            let mut url = url.clone();
            {
                let mut pairs = url.query_pairs_mut();
                if let Some(old) = &query.old {
                    pairs.append_pair("exclude", old);
                }
                pairs.append_pair("pagelen", &pagelen.to_string());
                if let Some(page) = &page {
                    pairs.append_pair("page", page);
                }
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let body = match client.get(&url).await {
                Ok(body) => body,
                Err(e) if e.status() == Some(404) => return Ok(CommitsAnswer::Gone),
                Err(e) => return Err(e.into()),
            };
            let listed = CommitsPage::parse(url.as_str(), &body)?;
            count += listed.count;
            pages.push(body);
            if count >= self.max || !listed.has_next || listed.count == 0 {
                let cut = count > self.max || (count >= self.max && listed.has_next);
                return Ok(CommitsAnswer::Pages { pages, cut });
            }
            page = Some(match listed.next_page {
                Some(next) => next,
                // A next link without a page number: count pages ourselves.
                None => (pages.len() + 1).to_string(),
            });
        }
    }

    fn ask_fixtures(
        &self,
        root: &std::path::Path,
        workspace: &str,
        graph: &Mutex<Option<(String, Arc<Graph>)>>,
        query: &CommitQuery,
    ) -> Result<CommitsAnswer, ExtractError> {
        let slug = &query.repo_slug;
        let dir = commit_range_dir(root, workspace, slug, &query.new, query.old.as_deref());
        if dir.is_dir() {
            if dir.join(COMMITS_GONE_FILE).is_file() {
                return Ok(CommitsAnswer::Gone);
            }
            let pages = read_pages(&dir)?;
            self.requests
                .fetch_add(pages.len() as u64, Ordering::Relaxed);
            let mut count = 0;
            for (index, body) in pages.iter().enumerate() {
                let listed = CommitsPage::parse(&dir.display().to_string(), body)?;
                count += listed.count;
                if count >= self.max {
                    let cut = count > self.max || listed.has_next;
                    return Ok(CommitsAnswer::Pages {
                        pages: pages[..=index].to_vec(),
                        cut,
                    });
                }
            }
            return Ok(CommitsAnswer::Pages { pages, cut: false });
        }
        let graph = {
            let mut held = graph
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match held.as_ref() {
                Some((held_slug, graph)) if held_slug == slug => Arc::clone(graph),
                _ => {
                    let pages = read_page_files(&commits_dir(root, workspace, slug))?;
                    let graph = Arc::new(Graph::from_pages(&pages)?);
                    *held = Some((slug.clone(), Arc::clone(&graph)));
                    graph
                }
            }
        };
        Ok(
            match graph.shipped(&query.new, query.old.as_deref(), self.max) {
                Some((pages, cut)) => {
                    self.requests
                        .fetch_add(pages.len() as u64, Ordering::Relaxed);
                    CommitsAnswer::Pages { pages, cut }
                }
                None => CommitsAnswer::Gone,
            },
        )
    }
}

/// The `page-NNNN.json` files of `dir`, in page order; none when it does not exist.
fn read_pages(dir: &std::path::Path) -> Result<Vec<Bytes>, ExtractError> {
    let files = read_page_files(dir)?;
    Ok(files.into_iter().map(|(_, body)| body).collect())
}

/// [`read_pages`], each with its path.
fn read_page_files(
    dir: &std::path::Path,
) -> Result<Vec<(std::path::PathBuf, Bytes)>, ExtractError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut numbered = Vec::new();
    for entry in entries {
        let entry = entry.map_err(ExtractError::io(dir))?;
        let name = entry.file_name();
        let Some(number) = name
            .to_str()
            .and_then(|n| file_number(n, Endpoint::Commits))
        else {
            continue;
        };
        if entry.path().is_file() {
            numbered.push((number, entry.path()));
        }
    }
    numbered.sort();
    numbered
        .into_iter()
        .map(|(_, path)| {
            let body = std::fs::read(&path).map_err(ExtractError::io(&path))?;
            Ok((path, Bytes::from(body)))
        })
        .collect()
}
