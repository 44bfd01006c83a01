//! Export: repositories and pipeline runs of a workspace from the Bitbucket API, incrementally.

use crate::ExtractSummary;
use crate::api::{ApiError, Client, PAGELEN, PipelinesPage, RepositoriesPage, RunHeader};
use crate::error::ExtractError;
use crate::filter::RepoFilter;
use crate::record::Recorder;
use crate::state::{RepositoryState, SyncState};
use bbpipe_model::{Endpoint, Message, PageSource, RawPage};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc::Sender;
use url::Url;

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub workspace: String,
    pub filter: RepoFilter,
    /// First runs: no history older than this.
    pub since: Option<DateTime<Utc>>,
    /// Ignore the saved state: page through the whole history (or back to `since`).
    pub full: bool,
    /// How far before the watermark an incremental export still looks, for runs created
    /// late in the listing (their created_on lies before the watermark).
    pub lookback: chrono::Duration,
    /// Requests in flight at once, across repositories and pages.
    pub concurrency: usize,
}

/// Live counters, for progress bars.
#[derive(Debug, Default)]
pub struct ExportProgress {
    pub repositories_total: AtomicU64,
    pub repositories_done: AtomicU64,
    pub runs_fetched: AtomicU64,
}

/// What an export found, besides the pages it sent.
#[derive(Debug, Clone)]
pub struct ExportOutcome {
    pub summary: ExtractSummary,
    /// The state to save once the data is committed.
    pub state: SyncState,
    pub repositories: u64,
    /// Repositories whose pipelines answered 404 (pipelines off, or gone since listed).
    pub skipped: Vec<String>,
}

/// One export of one workspace.
pub struct Exporter {
    client: Arc<Client>,
    options: ExportOptions,
    previous: SyncState,
    recorder: Option<Arc<Recorder>>,
    started_at: DateTime<Utc>,
    progress: Arc<ExportProgress>,
    /// Requests in flight, across repositories: at most `concurrency`.
    in_flight: tokio::sync::Semaphore,
    pages: AtomicU64,
    bytes: AtomicU64,
}

impl Exporter {
    pub fn new(
        client: Arc<Client>,
        options: ExportOptions,
        previous: SyncState,
        recorder: Option<Recorder>,
    ) -> Self {
        Exporter {
            client,
            options: options.clone(),
            previous,
            recorder: recorder.map(Arc::new),
            started_at: Utc::now(),
            in_flight: tokio::sync::Semaphore::new(options.concurrency.max(1)),
            progress: Arc::default(),
            pages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    pub fn progress(&self) -> Arc<ExportProgress> {
        Arc::clone(&self.progress)
    }

    /// Every row of this export carries this time (`exported_at`), and so does a recording.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// Sends the workspace's pages, then [`Message::Complete`]; returns the new state.
    pub async fn run(
        self,
        output: Sender<Message<RawPage>>,
    ) -> Result<ExportOutcome, ExtractError> {
        let this = Arc::new(self);
        let selected = this.discover(&output).await?;
        this.progress
            .repositories_total
            .store(selected.len() as u64, Ordering::Relaxed);
        let results: Vec<(String, Option<RepositoryState>)> =
            futures::stream::iter(selected.clone())
                .map(|slug| {
                    let (this, output) = (Arc::clone(&this), output.clone());
                    async move {
                        let state = this.export_repository(&slug, &output).await?;
                        this.progress
                            .repositories_done
                            .fetch_add(1, Ordering::Relaxed);
                        Ok::<_, ExtractError>((slug, state))
                    }
                })
                // Twice as many repositories as requests in flight: while one repository reads its
                // page, another's request is already going, so the connection slots never idle.
                .buffer_unordered(this.options.concurrency.max(1) * 2)
                .try_collect()
                .await?;
        output
            .send(Message::Complete)
            .await
            .map_err(|_| ExtractError::Cancelled)?;
        if let Some(recorder) = &this.recorder {
            recorder
                .finish(this.started_at, this.client.endpoint("").as_ref())
                .await?;
        }

        let mut state = this.previous.clone();
        state.format = crate::state::STATE_FORMAT;
        state.workspace.clone_from(&this.options.workspace);
        state.exported_at = Some(this.started_at);
        let mut skipped = Vec::new();
        for (slug, repo_state) in results {
            match repo_state {
                Some(repo_state) => {
                    state.repositories.insert(slug, repo_state);
                }
                None => skipped.push(slug),
            }
        }
        skipped.sort();
        Ok(ExportOutcome {
            summary: ExtractSummary {
                pages: this.pages.load(Ordering::Relaxed),
                bytes: this.bytes.load(Ordering::Relaxed),
            },
            state,
            repositories: selected.len() as u64,
            skipped,
        })
    }

    async fn get(&self, url: &Url) -> Result<Bytes, ApiError> {
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| ApiError::Unreachable {
                url: url.to_string(),
                message: "export stopped".into(),
            })?;
        self.client.get(url).await
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Url {
        let mut url = self.client.endpoint(path);
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        url
    }

    async fn send(
        &self,
        output: &Sender<Message<RawPage>>,
        endpoint: Endpoint,
        repo_slug: Option<&str>,
        url: &Url,
        page: u32,
        body: Bytes,
    ) -> Result<(), ExtractError> {
        self.pages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        let page = RawPage {
            source: PageSource {
                workspace: self.options.workspace.clone(),
                repo_slug: repo_slug.map(str::to_string),
                endpoint,
                location: url.to_string(),
                page,
                fetched_at: self.started_at,
            },
            body,
        };
        output
            .send(Message::Data(page))
            .await
            .map_err(|_| ExtractError::Cancelled)
    }

    /// Every page of the workspace's repositories; returns the slugs the filter keeps.
    async fn discover(
        &self,
        output: &Sender<Message<RawPage>>,
    ) -> Result<Vec<String>, ExtractError> {
        let workspace = &self.options.workspace;
        let mut selected = Vec::new();
        for page in 1.. {
            let query = [
                ("pagelen", PAGELEN.to_string()),
                ("sort", "slug".into()),
                ("page", page.to_string()),
            ];
            let url = self.url(&format!("repositories/{workspace}"), &query);
            let body = self.get(&url).await?;
            let listed = RepositoriesPage::parse(url.as_str(), &body)?;
            if let Some(recorder) = &self.recorder {
                recorder.page(workspace, None, page, &body).await?;
            }
            self.send(output, Endpoint::Repositories, None, &url, page, body)
                .await?;
            let count = listed.slugs.len();
            selected.extend(
                listed
                    .slugs
                    .into_iter()
                    .filter(|slug| self.options.filter.allows(slug)),
            );
            if is_last_page(page, count, listed.has_next, listed.size) {
                break;
            }
        }
        Ok(selected)
    }

    /// Pages of one repository's runs back to where the last export stopped, then the runs that
    /// were unfinished then and did not show up again. `None` when the pipelines endpoint
    /// answered 404.
    async fn export_repository(
        &self,
        slug: &str,
        output: &Sender<Message<RawPage>>,
    ) -> Result<Option<RepositoryState>, ExtractError> {
        let workspace = &self.options.workspace;
        let previous = if self.options.full {
            None
        } else {
            self.previous.repositories.get(slug)
        };
        let stop_before = previous
            .and_then(|p| p.watermark)
            .map(|w| w - self.options.lookback)
            .or(self.options.since);
        let mut state = RepositoryState {
            watermark: previous.and_then(|p| p.watermark),
            ..Default::default()
        };
        let mut seen = HashSet::new();
        let path = format!("repositories/{workspace}/{slug}/pipelines");
        let mut walk = RunPages {
            slug,
            stop_before,
            state: &mut state,
            seen: &mut seen,
            output,
        };
        let first = match self.fetch_runs(&path, 1).await {
            Ok(fetched) => fetched,
            Err(ExtractError::Api(e)) if e.status() == Some(404) => {
                tracing::warn!(repository = %format!("{workspace}/{slug}"), "pipelines not found (404): skipped");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let size = first.2.size;
        let mut done = self.take_runs(&mut walk, 1, first).await?;
        let mut page = 1;
        // Without a watermark every page will be read, and page 1 told how many there are:
        // fetch the rest concurrently (within --concurrency) instead of one after another.
        if let (false, None, Some(size)) = (done, stop_before, size) {
            let last = u32::try_from(size.div_ceil(u64::from(PAGELEN))).unwrap_or(u32::MAX);
            let path = path.as_str();
            let mut pages = futures::stream::iter(2..=last)
                .map(|n| async move { (n, self.fetch_runs(path, n).await) })
                .buffered(self.options.concurrency.max(1));
            while let Some((n, fetched)) = pages.next().await {
                page = n;
                done = self.take_runs(&mut walk, n, fetched?).await?;
                if done {
                    break;
                }
            }
        }
        // Sequentially from there: incremental exports stop at the first page that reaches
        // back past the watermark, and pages may have grown since page 1 was read.
        while !done {
            page += 1;
            let fetched = self.fetch_runs(&path, page).await?;
            done = self.take_runs(&mut walk, page, fetched).await?;
        }
        // Runs in progress at the last export that lie beyond the pages read: fetch each again.
        let unfinished = previous.map(|p| p.unfinished.clone()).unwrap_or_default();
        for uuid in unfinished.iter().filter(|u| !seen.contains(*u)) {
            let url = self.url(&format!("{path}/{uuid}"), &[]);
            match self.get(&url).await {
                Ok(body) => {
                    let run = RunHeader::parse(url.as_str(), &body)?;
                    if let Some(recorder) = &self.recorder {
                        recorder.run(workspace, slug, &body).await?;
                    }
                    self.send(output, Endpoint::PipelineRun, Some(slug), &url, 1, body)
                        .await?;
                    self.track(&mut state, &run);
                }
                Err(e) if e.status() == Some(404) => {
                    tracing::info!(run = %uuid, "an unfinished run is gone (404): no longer tracked");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Some(state))
    }

    /// GETs page `page` of a repository's runs, newest first, with a URL of our own every
    /// time (Bitbucket's `next` drops `sort`).
    async fn fetch_runs(
        &self,
        path: &str,
        page: u32,
    ) -> Result<(Url, Bytes, PipelinesPage), ExtractError> {
        let query = [
            ("pagelen", PAGELEN.to_string()),
            ("sort", "-created_on".into()),
            ("page", page.to_string()),
        ];
        let url = self.url(path, &query);
        let body = self.get(&url).await?;
        let listed = PipelinesPage::parse(url.as_str(), &body)?;
        Ok((url, body, listed))
    }

    /// Records, sends and tracks one page of runs; true when it is the last to read.
    async fn take_runs(
        &self,
        walk: &mut RunPages<'_>,
        page: u32,
        (url, body, listed): (Url, Bytes, PipelinesPage),
    ) -> Result<bool, ExtractError> {
        if let Some(recorder) = &self.recorder {
            recorder
                .page(&self.options.workspace, Some(walk.slug), page, &body)
                .await?;
        }
        self.send(
            walk.output,
            Endpoint::Pipelines,
            Some(walk.slug),
            &url,
            page,
            body,
        )
        .await?;
        self.progress
            .runs_fetched
            .fetch_add(listed.runs.len() as u64, Ordering::Relaxed);
        for run in &listed.runs {
            self.track(walk.state, run);
            walk.seen.insert(run.uuid.clone());
        }
        let reached_known = walk
            .stop_before
            .is_some_and(|b| listed.oldest().is_some_and(|o| o < b));
        Ok(reached_known || is_last_page(page, listed.runs.len(), listed.has_next, listed.size))
    }

    fn track(&self, state: &mut RepositoryState, run: &RunHeader) {
        if let Some(created) = run.created_on {
            state.watermark = Some(state.watermark.map_or(created, |w| w.max(created)));
        }
        if run.completed {
            state.unfinished.remove(&run.uuid);
        } else {
            state.unfinished.insert(run.uuid.clone());
        }
    }
}

/// Where one repository's walk through its pages stands.
struct RunPages<'a> {
    slug: &'a str,
    stop_before: Option<DateTime<Utc>>,
    state: &'a mut RepositoryState,
    seen: &'a mut HashSet<String>,
    output: &'a Sender<Message<RawPage>>,
}

/// The last page: fewer values than asked for, no `next`, or `size` reached. Never computed
/// from `size` alone: a projection can leave it out.
fn is_last_page(page: u32, values: usize, has_next: bool, size: Option<u64>) -> bool {
    values < PAGELEN as usize
        || !has_next
        || size.is_some_and(|s| u64::from(page) * u64::from(PAGELEN) >= s)
}

impl From<ApiError> for ExtractError {
    fn from(error: ApiError) -> Self {
        ExtractError::Api(Box::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::is_last_page;

    #[test]
    fn last_page_rules() {
        assert!(is_last_page(1, 40, false, Some(40)));
        assert!(is_last_page(1, 0, false, None));
        assert!(!is_last_page(1, 100, true, Some(523)));
        assert!(is_last_page(6, 23, true, Some(523)), "short page");
        assert!(is_last_page(2, 100, true, Some(200)), "size reached");
        assert!(!is_last_page(2, 100, true, None), "no size: trust next");
    }
}
