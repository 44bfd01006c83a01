//! Export: repositories and pipeline runs of a workspace from the Bitbucket API, incrementally,
//! with checkpoints.
//!
//! How no run is lost (see also [`walk`](crate::walk)):
//! - a first (or `--full`) read of a repository pages oldest first (`sort=created_on`), where new
//!   runs only append at the end, so pages fetched concurrently or retried never skip a run;
//! - later exports page by `-run_creation_date`, which brings re-runs of old pipelines to the
//!   top, back to the run watermark less the lookback;
//! - runs left unfinished are fetched again on a schedule that backs off with their age;
//! - state moves only with the data it describes: [`Message::Checkpoint`]s carry it down the
//!   pipeline, and load commits both at once.

use crate::ExtractSummary;
use crate::api::{ApiError, Client, Listed, PAGELEN, RepositoriesPage, RunHeader};
use crate::error::ExtractError;
use crate::filter::RepoFilter;
use crate::record::Recorder;
use crate::state::{RepositoryState, SyncState};
use bbpipe_model::{Activity, Checkpoint, Endpoint, Extras, Message, RawPage};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc::Sender;

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The workspace's slug (lower-case).
    pub workspace: String,
    /// Which repositories to export.
    pub filter: RepoFilter,
    /// First runs: no history older than this.
    pub since: Option<DateTime<Utc>>,
    /// Ignore the saved state: read the whole history (or back to `since`).
    pub full: bool,
    /// How far before the watermark an incremental export still looks, for runs listed late
    /// and for clocks that disagree.
    pub lookback: chrono::Duration,
    /// Requests in flight at once, across repositories and pages.
    pub concurrency: usize,
    /// Unfinished runs older than this are no longer fetched again.
    pub max_revisit_age: chrono::Duration,
    /// Commit at least every this many requests...
    pub checkpoint_requests: u64,
    /// ... or this often, whichever comes first.
    pub checkpoint_interval: Duration,
    /// Runs to fetch again by uuid (repository uuid, run uuid): the rejects of earlier exports.
    pub retry_runs: Vec<(String, String)>,
    /// Optional tables (`--with`) and so the endpoints they read.
    pub extras: Extras,
    /// `--with steps`: a first (or `--full`) read takes the steps of runs created this long
    /// before the export started, no older.
    pub steps_since: chrono::Duration,
    /// With `--with commits`: commits kept per deployment; a longer list is cut and marked.
    pub max_commits_per_deployment: usize,
}

/// Live counters, for progress bars.
#[derive(Debug, Default)]
pub struct ExportProgress {
    /// Repositories listed.
    pub repositories_total: AtomicU64,
    /// Repositories done.
    pub repositories_done: AtomicU64,
    /// Pipeline runs read.
    pub runs_fetched: AtomicU64,
}

/// What an export found, besides the pages it sent.
#[derive(Debug, Clone, Default)]
pub struct ExportOutcome {
    /// Pages and bytes read.
    pub summary: ExtractSummary,
    /// Repositories exported.
    pub repositories: u64,
    /// Repositories whose pipelines answered 404 (pipelines off, or gone since listed).
    pub skipped: Vec<String>,
    /// Checkpoints sent (the last one included).
    pub checkpoints: u64,
    /// Unfinished runs fetched again by uuid.
    pub revisited: u64,
    /// Unfinished runs still tracked at the end.
    pub unfinished_tracked: u64,
    /// Unfinished runs no longer tracked: gone (404) or older than `max_revisit_age`.
    pub unfinished_dropped: u64,
    /// Repositories continued from an interrupted first export.
    pub resumed: u64,
    /// Repositories where the API ignored `sort=-run_creation_date` (re-runs may be missed).
    pub sort_fallbacks: Vec<String>,
    /// `--with steps`: pipeline runs whose steps were read.
    pub steps_read: u64,
    /// `--with steps`: requests made for them.
    pub steps_requests: u64,
    /// `--with tests`: test reports read (404s not counted).
    pub test_reports_read: u64,
    /// `--with tests`: requests made for test reports and their cases.
    pub tests_requests: u64,
}

/// Counters the repository walks add to.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) revisited: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) resumed: AtomicU64,
    pub(crate) steps_read: AtomicU64,
    pub(crate) steps_requests: AtomicU64,
    pub(crate) tests_read: AtomicU64,
    pub(crate) tests_requests: AtomicU64,
}

/// The state as committed so far and what changed since the last checkpoint.
struct Progress {
    state: SyncState,
    /// Repositories whose entry changed since the last checkpoint.
    dirty: BTreeSet<String>,
    last_at: tokio::time::Instant,
    last_requests: u64,
    sent: u64,
    sort_fallbacks: Vec<String>,
}

/// One export of one workspace.
pub struct Exporter {
    pub(crate) client: Arc<Client>,
    pub(crate) options: ExportOptions,
    pub(crate) previous: SyncState,
    pub(crate) recorder: Option<Arc<Recorder>>,
    pub(crate) started_at: DateTime<Utc>,
    progress: Arc<ExportProgress>,
    /// Request slots, across repositories: at most `concurrency` requests in flight.
    pub(crate) slots: Arc<tokio::sync::Semaphore>,
    /// What the export is doing, for the stall watchdog.
    pub(crate) activity: Arc<Activity>,
    pub(crate) pages: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) counters: Counters,
    checkpoints: tokio::sync::Mutex<Progress>,
}

impl Exporter {
    /// An export by `client`, continuing from `state`; `recorder` also keeps every page.
    pub fn new(
        client: Arc<Client>,
        options: ExportOptions,
        previous: SyncState,
        recorder: Option<Recorder>,
    ) -> Self {
        let mut state = previous.clone();
        state.workspace.clone_from(&options.workspace);
        Exporter {
            client,
            slots: Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1))),
            activity: Arc::default(),
            options,
            previous,
            recorder: recorder.map(Arc::new),
            started_at: Utc::now(),
            progress: Arc::default(),
            pages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            counters: Counters::default(),
            checkpoints: tokio::sync::Mutex::new(Progress {
                state,
                dirty: BTreeSet::new(),
                last_at: tokio::time::Instant::now(),
                last_requests: 0,
                sent: 0,
                sort_fallbacks: Vec::new(),
            }),
        }
    }

    /// Reports progress and waits to `activity` (shared with the other stages and the stall
    /// watchdog) instead of a counter of its own.
    pub fn with_activity(mut self, activity: Arc<Activity>) -> Self {
        self.activity = activity;
        self
    }

    pub(crate) fn count_runs(&self, runs: usize) {
        self.progress
            .runs_fetched
            .fetch_add(runs as u64, Ordering::Relaxed);
    }

    /// The recorder, for what is read after the walk (the commits of deployments).
    pub fn recorder(&self) -> Option<Arc<Recorder>> {
        self.recorder.clone()
    }

    /// Live counters, for progress displays.
    pub fn progress(&self) -> Arc<ExportProgress> {
        Arc::clone(&self.progress)
    }

    /// Every row of this export carries this time (`exported_at`), and so does a recording.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// Sends the workspace's pages with checkpoints along the way, a last checkpoint with the
    /// final state, then [`Message::Complete`].
    pub async fn run(
        self,
        output: Sender<Message<RawPage>>,
    ) -> Result<ExportOutcome, ExtractError> {
        let this = Arc::new(self);
        let selected = this.discover(&output).await?;
        this.progress
            .repositories_total
            .store(selected.len() as u64, Ordering::Relaxed);
        this.retry_rejects(&selected, &output).await?;
        let results: Vec<(String, bool)> = futures::stream::iter(selected.clone())
            .map(|listed| {
                let (this, output) = (Arc::clone(&this), output.clone());
                async move {
                    let found = this.export_repository(&listed, &output).await?;
                    this.progress
                        .repositories_done
                        .fetch_add(1, Ordering::Relaxed);
                    this.checkpoint(&output, false).await?;
                    Ok::<_, ExtractError>((listed.slug, found))
                }
            })
            // Twice as many repositories as requests in flight: while one repository reads its
            // page, another's request is already going, so the connection slots never idle.
            .buffer_unordered(this.options.concurrency.max(1) * 2)
            .try_collect()
            .await?;
        if let Some(recorder) = &this.recorder {
            recorder
                .finish(this.started_at, this.client.endpoint::<&str>(&[])?.as_ref())
                .await?;
        }
        {
            let mut progress = this.checkpoints.lock().await;
            progress.state.format = crate::state::STATE_FORMAT;
            progress.state.exported_at = Some(this.started_at);
        }
        this.checkpoint(&output, true).await?;
        output
            .send(Message::Complete)
            .await
            .map_err(|_| ExtractError::Cancelled)?;

        let progress = this.checkpoints.lock().await;
        let mut skipped: Vec<String> = results
            .into_iter()
            .filter(|(_, found)| !found)
            .map(|(slug, _)| slug)
            .collect();
        skipped.sort();
        Ok(ExportOutcome {
            summary: ExtractSummary {
                pages: this.pages.load(Ordering::Relaxed),
                bytes: this.bytes.load(Ordering::Relaxed),
            },
            unfinished_tracked: progress
                .state
                .repositories
                .values()
                .map(|r| r.unfinished.len() as u64)
                .sum(),
            repositories: selected.len() as u64,
            skipped,
            checkpoints: progress.sent,
            revisited: this.counters.revisited.load(Ordering::Relaxed),
            unfinished_dropped: this.counters.dropped.load(Ordering::Relaxed),
            resumed: this.counters.resumed.load(Ordering::Relaxed),
            sort_fallbacks: progress.sort_fallbacks.clone(),
            steps_read: this.counters.steps_read.load(Ordering::Relaxed),
            steps_requests: this.counters.steps_requests.load(Ordering::Relaxed),
            test_reports_read: this.counters.tests_read.load(Ordering::Relaxed),
            tests_requests: this.counters.tests_requests.load(Ordering::Relaxed),
        })
    }

    /// Records a repository's new state; the next checkpoint commits it.
    pub(crate) async fn publish(&self, uuid: &str, state: RepositoryState) {
        let mut progress = self.checkpoints.lock().await;
        progress.state.repositories.insert(uuid.to_string(), state);
        progress.dirty.insert(uuid.to_string());
    }

    pub(crate) async fn note_sort_fallback(&self, slug: &str) {
        self.checkpoints
            .lock()
            .await
            .sort_fallbacks
            .push(slug.to_string());
    }

    /// Sends a checkpoint when enough requests or time passed since the last (or when
    /// `force`d): everything sent before it is committed with the state published so far.
    pub(crate) async fn checkpoint(
        &self,
        output: &Sender<Message<RawPage>>,
        force: bool,
    ) -> Result<(), ExtractError> {
        let mut progress = self.checkpoints.lock().await;
        let requests = self.client.stats().requests.load(Ordering::Relaxed);
        let due = requests.saturating_sub(progress.last_requests)
            >= self.options.checkpoint_requests
            || progress.last_at.elapsed() >= self.options.checkpoint_interval;
        if !force && !due {
            return Ok(());
        }
        let dirty = std::mem::take(&mut progress.dirty);
        let entries = progress.state.entries(&dirty);
        progress.sent += 1;
        let mark = Checkpoint {
            id: progress.sent,
            copies: 1,
            state: BTreeMap::from([(self.options.workspace.clone(), entries)]),
            requests,
        };
        tracing::debug!(
            checkpoint = mark.id,
            repositories = dirty.len(),
            requests,
            "checkpoint"
        );
        output
            .send(Message::Checkpoint(mark))
            .await
            .map_err(|_| ExtractError::Cancelled)?;
        progress.last_at = tokio::time::Instant::now();
        progress.last_requests = requests;
        Ok(())
    }

    /// Every page of the workspace's repositories; returns those the filter keeps.
    async fn discover(
        &self,
        output: &Sender<Message<RawPage>>,
    ) -> Result<Vec<Listed>, ExtractError> {
        let workspace = &self.options.workspace;
        let mut selected = Vec::new();
        for page in 1.. {
            let query = [
                ("pagelen", PAGELEN.to_string()),
                ("sort", "slug".into()),
                ("page", page.to_string()),
            ];
            let path = (Endpoint::Repositories.spec()).segments(&[("workspace", workspace)]);
            let url = self.url(&path, &query)?;
            let body = self.get(&url).await?;
            let listed = RepositoriesPage::parse(url.as_str(), &body)?;
            self.send(output, Endpoint::Repositories, None, &url, page, body)
                .await?;
            let count = listed.repositories.len();
            selected.extend(
                listed
                    .repositories
                    .into_iter()
                    .filter(|r| self.options.filter.allows(&r.slug) && usable(r)),
            );
            if is_last_page(page, count, listed.has_next, listed.size) {
                break;
            }
        }
        Ok(selected)
    }

    /// Fetches again, one by one, the runs earlier exports could not decode: a fixed version
    /// replaces the reject, one still broken is rejected again.
    async fn retry_rejects(
        &self,
        selected: &[Listed],
        output: &Sender<Message<RawPage>>,
    ) -> Result<(), ExtractError> {
        for (repo_uuid, run_uuid) in &self.options.retry_runs {
            let Some(repo) = selected.iter().find(|r| &r.uuid == repo_uuid) else {
                continue;
            };
            self.fetch_run(repo, run_uuid, output).await?;
        }
        Ok(())
    }

    /// `GET .../pipelines/{uuid}`: sends the run and returns its header; `None` when it is gone.
    pub(crate) async fn fetch_run(
        &self,
        repo: &Listed,
        run_uuid: &str,
        output: &Sender<Message<RawPage>>,
    ) -> Result<Option<RunHeader>, ExtractError> {
        let workspace = self.options.workspace.as_str();
        let path = Endpoint::PipelineRun.spec().segments(&[
            ("workspace", workspace),
            ("repo_slug", &repo.slug),
            ("uuid", run_uuid),
        ]);
        let url = self.url(&path, &[])?;
        match self.get(&url).await {
            Ok(body) => {
                let header = RunHeader::parse(url.as_str(), &body).ok();
                self.send(
                    output,
                    Endpoint::PipelineRun,
                    Some(&repo.slug),
                    &url,
                    1,
                    body,
                )
                .await?;
                Ok(header)
            }
            Err(e) if e.status() == Some(404) => {
                tracing::info!(run = %run_uuid, repository = %repo.slug, "a run is gone (404): no longer tracked");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether a listed repository's slug can be one path segment, of a URL and of a file (a
/// recording's directory): one that cannot is set aside, with a warning naming its uuid, so
/// that no value from the API can change which endpoint is asked or where a file is written.
fn usable(repository: &Listed) -> bool {
    let Some(problem) = bbpipe_model::bitbucket::segment_problem(&repository.slug) else {
        return true;
    };
    tracing::warn!(
        repository = %repository.uuid,
        slug = %bbpipe_model::bitbucket::shown(&repository.slug),
        "a repository whose slug cannot be one path segment ({problem}): set aside, not exported"
    );
    false
}

/// The last page: fewer values than asked for, no `next`, or `size` reached. Never computed
/// from `size` alone: a projection can leave it out.
pub(crate) fn is_last_page(page: u32, values: usize, has_next: bool, size: Option<u64>) -> bool {
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
