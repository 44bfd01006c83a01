//! Walking one repository's pipeline runs, page by page, so that no run is lost.
//!
//! - **Full read** (first export, `--full`, or one continuing an interrupted first export):
//!   oldest first (`sort=created_on`). New runs only append at the end, so the offset of every
//!   existing run stays put: pages fetched concurrently, retried or fetched out of order never
//!   skip one. Progress is published after each page read in order, so a checkpoint can commit
//!   it and an interrupted export continues at the next page.
//! - **Incremental read**: latest run first (`sort=-run_creation_date`), back to the run
//!   watermark less the lookback. A re-run raises a pipeline's `run_creation_date`, so re-runs of
//!   old pipelines come back to the top. Each page's order is checked: an API that ignores the
//!   sort makes bbpipe fall back to `-created_on` with a warning. A re-run that moves a run from
//!   below the pages read to the top shifts the rest up by one, which can skip a run at a page
//!   boundary: when more than one page was read, page 1 is read again, and a pipeline on it that
//!   predates the walk and was not seen starts the walk again.
//! - **Unfinished runs** are fetched again by uuid ([`revisit`](crate::revisit)).

use crate::api::{Listed, PAGELEN, PipelinesPage, RunHeader, RunOrder};
use crate::error::ExtractError;
use crate::export::{Exporter, is_last_page};
use crate::state::{RepositoryState, Resume, Unfinished};
use bbpipe_model::{Endpoint, Message, Optional, RawPage, RunRef, StepRef};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use tokio::sync::mpsc::Sender;
use url::Url;

/// A walk started again this often at most, when re-runs keep moving runs up.
const MAX_WALKS: usize = 3;
/// Runs created this long before a walk started are not new arrivals.
const ARRIVAL_SLACK_MINUTES: i64 = 10;

/// One repository's walk.
pub(crate) struct Walk<'a> {
    pub(crate) repo: &'a Listed,
    /// The repository's pipelines listing, as URL path segments.
    pub(crate) path: Vec<String>,
    pub(crate) state: RepositoryState,
    /// `--with steps`: no steps of runs created before this (a first or full read).
    pub(crate) steps_since: Option<DateTime<Utc>>,
    /// The state the last export left, for an incremental read.
    pub(crate) previous: Option<&'a RepositoryState>,
    /// Runs seen on the pages read.
    pub(crate) seen: HashSet<String>,
    /// Whether pages out of the order asked for were reported already.
    warned_order: bool,
    /// `--with tests`: the first passing step met per (commit, step name) while no failure of
    /// it was known (see [`test_reports`](crate::test_reports)).
    pub(crate) passes: HashMap<(String, String), Passed>,
    pub(crate) output: &'a Sender<Message<RawPage>>,
}

/// A passing step whose test report was not read (yet).
pub(crate) struct Passed {
    pub(crate) run: RunRef,
    pub(crate) step: StepRef,
    /// When it completed.
    pub(crate) at: DateTime<Utc>,
}

/// A page of runs as fetched: its URL, its body as received, and what extract read of it.
struct Fetched {
    url: Url,
    body: Bytes,
    listed: PipelinesPage,
}

/// Why a newest-first walk stopped early.
enum Stop {
    /// The API did not order the runs as asked.
    OrderIgnored,
    Failed(ExtractError),
}

impl From<ExtractError> for Stop {
    fn from(e: ExtractError) -> Self {
        Stop::Failed(e)
    }
}

pub(crate) fn minus(t: DateTime<Utc>, d: chrono::Duration) -> DateTime<Utc> {
    t.checked_sub_signed(d).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl Exporter {
    /// Reads one repository's runs; false when its pipelines answered 404.
    pub(crate) async fn export_repository(
        &self,
        repo: &Listed,
        output: &Sender<Message<RawPage>>,
    ) -> Result<bool, ExtractError> {
        let workspace = &self.options.workspace;
        let previous = (!self.options.full)
            .then(|| self.previous.repository(&repo.uuid, &repo.slug).cloned())
            .flatten();
        let mut walk = Walk {
            repo,
            path: (Endpoint::Pipelines.spec())
                .segments(&[("workspace", workspace), ("repo_slug", &repo.slug)])
                .into_iter()
                .map(str::to_string)
                .collect(),
            state: RepositoryState {
                slug: repo.slug.clone(),
                steps_read: previous
                    .as_ref()
                    .map(|p| p.steps_read.clone())
                    .unwrap_or_default(),
                deployments_watermark: previous.as_ref().and_then(|p| p.deployments_watermark),
                failed_tests: previous
                    .as_ref()
                    .map(|p| p.failed_tests.clone())
                    .unwrap_or_default(),
                ..RepositoryState::default()
            },
            steps_since: None,
            previous: previous.as_ref().filter(|p| p.resume.is_none()),
            seen: HashSet::new(),
            warned_order: false,
            passes: HashMap::new(),
            output,
        };
        let outcome = match &previous {
            Some(p) if p.resume.is_some() => {
                walk.state = p.clone();
                walk.state.slug.clone_from(&repo.slug);
                self.counters.resumed.fetch_add(1, Ordering::Relaxed);
                let resume = p.resume.clone().unwrap_or(Resume {
                    next_page: 1,
                    started_at: self.started_at,
                });
                self.full_read(&mut walk, resume).await
            }
            Some(p) if p.watermark.is_some() || p.run_watermark.is_some() => {
                walk.state.watermark = p.watermark;
                walk.state.run_watermark = p.run_watermark;
                self.incremental_read(&mut walk, p).await
            }
            _ => {
                let resume = Resume {
                    next_page: 1,
                    started_at: Utc::now(),
                };
                self.full_read(&mut walk, resume).await
            }
        };
        match outcome {
            Ok(()) => {}
            Err(ExtractError::Api(e)) if e.status() == Some(404) => {
                tracing::warn!(repository = %format!("{workspace}/{}", repo.slug), "pipelines not found (404): skipped");
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
        if let Some(previous) = &previous
            && previous.resume.is_none()
        {
            self.revisit_unfinished(&mut walk, previous).await?;
        }
        self.read_listings(&mut walk).await?;
        walk.state.forget_steps_read(self.options.lookback);
        walk.state.forget_failed_tests(Utc::now());
        self.publish(&repo.uuid, walk.state).await;
        Ok(true)
    }

    /// Oldest first from `resume.next_page` to the end, pages after the first fetched
    /// concurrently (page 1, or the first page read, tells how many there are).
    async fn full_read(&self, walk: &mut Walk<'_>, resume: Resume) -> Result<(), ExtractError> {
        let order = RunOrder::CreatedAscending;
        let since = minus(self.started_at, self.options.steps_since);
        walk.steps_since = Some(since);
        if self.options.extras.includes(Optional::Steps) {
            tracing::info!(repository = %walk.repo.slug, "a first read: steps only of runs created since {} (--steps-since)", since.format("%Y-%m-%d"));
        }
        let mut page = resume.next_page.max(1);
        if page == 1
            && let Some(since) = self.options.since
        {
            page = self.first_page_since(walk, since).await?;
        }
        let first = self.fetch_runs(&walk.path, page, order).await?;
        let page_count = first.listed.page_count();
        let mut last_key = None;
        let mut done = self
            .take_runs(walk, page, first, order, &mut last_key)
            .await?;
        self.progress_of_full_read(walk, page, &resume).await;
        if let (false, Some(last)) = (done, page_count) {
            let path = walk.path.clone();
            let path = path.as_slice();
            let mut pages = futures::stream::iter(page + 1..=last)
                .map(|n| async move { (n, self.fetch_runs(path, n, order).await) })
                .buffered(self.options.concurrency.max(1));
            while let Some((n, fetched)) = pages.next().await {
                page = n;
                done = self
                    .take_runs(walk, n, fetched?, order, &mut last_key)
                    .await?;
                self.progress_of_full_read(walk, page, &resume).await;
                self.checkpoint(walk.output, false).await?;
                if done {
                    break;
                }
            }
        }
        // One after another from there: runs that arrived meanwhile appended pages.
        while !done {
            page += 1;
            let fetched = self.fetch_runs(&walk.path, page, order).await?;
            done = self
                .take_runs(walk, page, fetched, order, &mut last_key)
                .await?;
            self.progress_of_full_read(walk, page, &resume).await;
            self.checkpoint(walk.output, false).await?;
        }
        walk.state.resume = None;
        // Every run re-run after the read began has a later run_creation_date.
        walk.state.run_watermark = Some(resume.started_at);
        Ok(())
    }

    /// Publishes how far a full read got: pages up to `page` were sent, in order.
    async fn progress_of_full_read(&self, walk: &mut Walk<'_>, page: u32, resume: &Resume) {
        walk.state.resume = Some(Resume {
            next_page: page + 1,
            started_at: resume.started_at,
        });
        self.publish(&walk.repo.uuid, walk.state.clone()).await;
    }

    /// The first page (oldest first) holding a run created at or after `since`, by bisection:
    /// pages wholly before it are never read in full.
    async fn first_page_since(
        &self,
        walk: &Walk<'_>,
        since: DateTime<Utc>,
    ) -> Result<u32, ExtractError> {
        let order = RunOrder::CreatedAscending;
        let first = self.fetch_runs(&walk.path, 1, order).await?.listed;
        let reaches = |page: &PipelinesPage| page.newest().is_none_or(|n| n >= since);
        let Some(page_count) = first.page_count() else {
            return Ok(1);
        };
        if reaches(&first) {
            return Ok(1);
        }
        let (mut low, mut high) = (2, page_count.max(2));
        while low < high {
            let middle = low + (high - low) / 2;
            let page = self.fetch_runs(&walk.path, middle, order).await?.listed;
            if reaches(&page) {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        Ok(low)
    }

    /// Latest run first back to the run watermark less the lookback; falls back to
    /// `-created_on` where the API ignores the sort.
    async fn incremental_read(
        &self,
        walk: &mut Walk<'_>,
        previous: &RepositoryState,
    ) -> Result<(), ExtractError> {
        let lookback = self.options.lookback;
        let started = Utc::now();
        let Some(watermark) = previous.run_watermark.or(previous.watermark) else {
            return Ok(());
        };
        let stop_at = minus(watermark, lookback);
        for attempt in 1..=MAX_WALKS {
            let pages = match self
                .newest_first(walk, RunOrder::RunCreationDescending, stop_at, 1)
                .await
            {
                Ok(pages) => pages,
                Err(Stop::Failed(ExtractError::Api(e))) if e.status() == Some(400) => {
                    return self.fall_back(walk, previous, &e.to_string()).await;
                }
                Err(Stop::Failed(e)) => return Err(e),
                Err(Stop::OrderIgnored) => {
                    return self
                        .fall_back(walk, previous, "runs did not come latest first")
                        .await;
                }
            };
            if pages <= 1 {
                break;
            }
            // A pipeline re-run while we paged moved from below to the top: the runs below it
            // moved up one, and one may have slipped past a page boundary.
            let fetched = self
                .fetch_runs(&walk.path, 1, RunOrder::RunCreationDescending)
                .await?;
            let moved_up = fetched.listed.runs.iter().any(|run| {
                !walk.seen.contains(&run.uuid)
                    && run.created_on.is_some_and(|c| {
                        c < minus(started, chrono::Duration::minutes(ARRIVAL_SLACK_MINUTES))
                    })
            });
            let mut last_key = None;
            self.take_runs(
                walk,
                1,
                fetched,
                RunOrder::RunCreationDescending,
                &mut last_key,
            )
            .await?;
            if !moved_up {
                break;
            }
            if attempt == MAX_WALKS {
                tracing::warn!(repository = %walk.repo.slug, "re-runs kept moving runs while paging; the next export looks again");
                return Ok(());
            }
            tracing::info!(repository = %walk.repo.slug, "a pipeline was re-run while paging: reading again");
        }
        walk.state.run_watermark = Some(started);
        Ok(())
    }

    /// Today's behaviour where the API does not honour `-run_creation_date`: newest created
    /// first back to the created watermark less the lookback. Re-runs of pipelines created
    /// before that are missed: say so.
    async fn fall_back(
        &self,
        walk: &mut Walk<'_>,
        previous: &RepositoryState,
        why: &str,
    ) -> Result<(), ExtractError> {
        tracing::warn!(
            repository = %walk.repo.slug,
            "the pipelines API ignored sort=-run_creation_date ({why}): paging by -created_on \
             instead; re-runs of pipelines created before the lookback will be missed"
        );
        self.note_sort_fallback(&walk.repo.slug).await;
        let stop_at = previous
            .watermark
            .or(previous.run_watermark)
            .map_or(DateTime::<Utc>::MIN_UTC, |w| {
                minus(w, self.options.lookback)
            });
        // An API that ignores every sort serves its default order, oldest first: read from
        // the last page back instead (new runs append, so nothing shifts under the walk).
        let fetched = self
            .fetch_runs(&walk.path, 1, RunOrder::CreatedDescending)
            .await?;
        let oldest_first = !RunOrder::CreatedDescending.holds(None, &fetched.listed.runs);
        if !oldest_first {
            let reached = fetched.listed.oldest().is_some_and(|o| o < stop_at);
            let mut last_key = None;
            let last = self
                .take_runs(walk, 1, fetched, RunOrder::CreatedDescending, &mut last_key)
                .await?;
            if last || reached {
                return Ok(());
            }
            // Page 1 is read: go on from page 2.
            return match self
                .newest_first(walk, RunOrder::CreatedDescending, stop_at, 2)
                .await
            {
                Ok(_) | Err(Stop::OrderIgnored) => Ok(()),
                Err(Stop::Failed(e)) => Err(e),
            };
        }
        let pages = fetched.listed.page_count().unwrap_or(1);
        let mut last_key = None;
        for page in (1..=pages.max(1)).rev() {
            let fetched = self
                .fetch_runs(&walk.path, page, RunOrder::CreatedAscending)
                .await?;
            let reached = fetched.listed.oldest().is_some_and(|o| o < stop_at);
            self.take_runs(
                walk,
                page,
                fetched,
                RunOrder::CreatedDescending,
                &mut last_key,
            )
            .await?;
            self.checkpoint(walk.output, false).await?;
            if reached {
                break;
            }
        }
        Ok(())
    }

    /// Pages newest first (by `order`) from page `first` until a page reaches before
    /// `stop_at` or the end; returns the number of the last page read.
    async fn newest_first(
        &self,
        walk: &mut Walk<'_>,
        order: RunOrder,
        stop_at: DateTime<Utc>,
        first: u32,
    ) -> Result<u32, Stop> {
        let mut last_key = None;
        for page in first.. {
            let fetched = self.fetch_runs(&walk.path, page, order).await?;
            if !order.holds(last_key, &fetched.listed.runs)
                && order == RunOrder::RunCreationDescending
            {
                return Err(Stop::OrderIgnored);
            }
            let reached = match order {
                RunOrder::RunCreationDescending => fetched.listed.oldest_run_at(),
                _ => fetched.listed.oldest(),
            }
            .is_some_and(|oldest| oldest < stop_at);
            let last = self
                .take_runs(walk, page, fetched, order, &mut last_key)
                .await?;
            self.checkpoint(walk.output, false).await?;
            if reached || last {
                return Ok(page);
            }
        }
        Ok(0)
    }

    /// GETs page `page` of a repository's runs in `order`, with a URL of our own every time
    /// (Bitbucket's `next` drops `sort`).
    async fn fetch_runs(
        &self,
        path: &[String],
        page: u32,
        order: RunOrder,
    ) -> Result<Fetched, ExtractError> {
        let query = [
            ("pagelen", PAGELEN.to_string()),
            ("sort", order.sort().into()),
            ("page", page.to_string()),
        ];
        let url = self.url(path, &query)?;
        let body = self.get(&url).await?;
        let listed = PipelinesPage::parse(url.as_str(), &body)?;
        Ok(Fetched { url, body, listed })
    }

    /// Records, sends and tracks one page of runs; true when it is the last page. A full read
    /// whose pages are out of order (an API ignoring `sort=created_on`) only warns: offsets of
    /// a listing sorted some other way may shift, the next incremental export looks again.
    async fn take_runs(
        &self,
        walk: &mut Walk<'_>,
        page: u32,
        Fetched { url, body, listed }: Fetched,
        order: RunOrder,
        last_key: &mut Option<DateTime<Utc>>,
    ) -> Result<bool, ExtractError> {
        if order == RunOrder::CreatedAscending
            && !walk.warned_order
            && !order.holds(*last_key, &listed.runs)
        {
            walk.warned_order = true;
            tracing::warn!(repository = %walk.repo.slug, page, "runs are not oldest first as asked (sort=created_on): runs arriving during this export may be missed until the next one");
        }
        if let Some(key) = order.last_key(&listed.runs) {
            *last_key = Some(key);
        }
        self.send(
            walk.output,
            Endpoint::Pipelines,
            Some(&walk.repo.slug),
            &url,
            page,
            body,
        )
        .await?;
        self.count_runs(listed.runs.len());
        self.read_steps(walk, &listed.runs).await?;
        for run in &listed.runs {
            track(&mut walk.state, run);
            walk.seen.insert(run.uuid.clone());
        }
        Ok(is_last_page(
            page,
            listed.count,
            listed.has_next,
            listed.size,
        ))
    }
}

/// Moves the created watermark and keeps track of unfinished runs.
pub(crate) fn track(state: &mut RepositoryState, run: &RunHeader) {
    if let Some(created) = run.created_on {
        state.watermark = Some(state.watermark.map_or(created, |w| w.max(created)));
    }
    if run.completed {
        state.unfinished.remove(&run.uuid);
    } else {
        state.unfinished.insert(
            run.uuid.clone(),
            Unfinished {
                created_on: run.created_on,
                checked_at: Some(Utc::now()),
                fingerprint: Some(run.fingerprint.clone()),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_lookbacks_saturate() {
        let now = Utc::now();
        assert_eq!(minus(now, chrono::Duration::MAX), DateTime::<Utc>::MIN_UTC);
    }
}
