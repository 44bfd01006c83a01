//! What `--with` adds to a repository's walk: the steps of new and changed pipeline runs, and
//! the repository's environments and Bitbucket deployments.
//!
//! - **Steps** cost one request per run (every step of a run comes on one page; `next` is
//!   followed anyway). They are read for runs that are new or changed since the last export:
//!   a completed run whose steps were read at its current run_number is skipped
//!   ([`RepositoryState::steps_read`]). A first (or `--full`) read takes only runs created
//!   within `--steps-since`.
//! - **Environments**: one listing per repository, every export (pages followed by `next`).
//! - **Deployments**: newest first (`sort=-state.started_on`) back to the deployments watermark
//!   less the lookback. The order is checked as pages come; where the API does not keep it,
//!   every page is read, with a warning.

use crate::api::{DeploymentsPage, ListingPage, PAGELEN, RunHeader};
use crate::error::ExtractError;
use crate::export::Exporter;
use crate::state::{RepositoryState, StepsRead};
use crate::test_reports;
use crate::walk::{Walk, minus};
use bbpipe_model::{Endpoint, Optional, Read, RunRef};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::sync::atomic::{AtomicU64, Ordering};
use url::Url;

/// A run whose steps are wanted, with what its steps' rows need.
struct Wanted {
    run: RunRef,
    run_number: i64,
    completed: bool,
    fingerprint: String,
    at: DateTime<Utc>,
    commit: Option<String>,
    ref_name: Option<String>,
}

impl Exporter {
    /// Reads and sends the steps of those of `runs` that are new or changed.
    pub(crate) async fn read_steps(
        &self,
        walk: &mut Walk<'_>,
        runs: &[RunHeader],
    ) -> Result<(), ExtractError> {
        if !self.options.extras.includes(Optional::Steps) {
            return Ok(());
        }
        let known = walk.previous.map(|p| Known {
            before: p
                .run_watermark
                .or(p.watermark)
                .map(|w| minus(w, self.options.lookback)),
            unfinished: &p.unfinished,
        });
        let wanted: Vec<Wanted> = runs
            .iter()
            .filter_map(|run| wanted(&walk.state, walk.steps_since, known.as_ref(), run))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let slug = walk.repo.slug.as_str();
        let mut fetched = futures::stream::iter(wanted)
            .map(|want| async move {
                let pages = self.fetch_steps(slug, &want.run).await;
                (want, pages)
            })
            .buffered(self.options.concurrency.max(1));
        while let Some((want, pages)) = fetched.next().await {
            let Some(pages) = pages? else {
                continue; // the run is gone
            };
            // Only --with tests reads the steps pages here (transform reads them anyway).
            let tests = self.options.extras.includes(Optional::Tests);
            let steps = match tests {
                true => test_reports::step_refs(
                    pages.iter().map(|(_, body)| &body[..]),
                    want.commit.as_deref(),
                    want.ref_name.as_deref(),
                ),
                false => Vec::new(),
            };
            for (number, (url, body)) in pages.into_iter().enumerate() {
                let page = u32::try_from(number + 1).unwrap_or(u32::MAX);
                self.send_steps(walk.output, &walk.repo.slug, &want.run, &url, page, body)
                    .await?;
            }
            self.counters.steps_read.fetch_add(1, Ordering::Relaxed);
            // The steps whose reports were asked for stay asked for.
            let tested = (walk.state.steps_read.get(&want.run.uuid))
                .map(|read| read.tested.clone())
                .unwrap_or_default();
            walk.state.steps_read.insert(
                want.run.uuid.clone(),
                StepsRead {
                    run_number: want.run_number,
                    at: want.at,
                    unfinished: (!want.completed).then_some(want.fingerprint.clone()),
                    tested,
                },
            );
            if tests {
                self.read_tests(walk, &want.run, steps).await?;
            }
        }
        Ok(())
    }

    /// Every page of one run's steps; `None` when the run is gone (404).
    async fn fetch_steps(
        &self,
        slug: &str,
        run: &RunRef,
    ) -> Result<Option<Vec<(Url, Bytes)>>, ExtractError> {
        let workspace = self.options.workspace.as_str();
        let path = Endpoint::Steps.spec().segments(&[
            ("workspace", workspace),
            ("repo_slug", slug),
            ("uuid", &run.uuid),
        ]);
        let mut optional = vec![("pagelen", PAGELEN.to_string())];
        let mut pages = Vec::new();
        for page in 1u32.. {
            let counter = Some(&self.counters.steps_requests);
            let Some((url, body)) = self
                .listing_page(&path, page, &mut optional, counter)
                .await?
            else {
                return Ok((page > 1).then_some(pages));
            };
            let listed = ListingPage::parse(url.as_str(), &body)?;
            pages.push((url, body));
            if !listed.has_next || listed.count == 0 {
                break;
            }
        }
        Ok(Some(pages))
    }

    /// Page `page` of the listing at `path`, with the `optional` parameters; `None` on a 404.
    /// A 400 to the first page drops the last optional parameter (an API that refuses a sort or
    /// a page length) and asks again, with a warning; later pages keep what page 1 was given.
    pub(crate) async fn listing_page(
        &self,
        path: &[&str],
        page: u32,
        optional: &mut Vec<(&'static str, String)>,
        counter: Option<&AtomicU64>,
    ) -> Result<Option<(Url, Bytes)>, ExtractError> {
        loop {
            let mut query = optional.clone();
            query.push(("page", page.to_string()));
            let url = self.url(path, &query)?;
            if let Some(counter) = counter {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            match self.get(&url).await {
                Ok(body) => return Ok(Some((url, body))),
                Err(e) if e.status() == Some(404) => return Ok(None),
                Err(e) if e.status() == Some(400) && page == 1 && !optional.is_empty() => {
                    if let Some((name, value)) = optional.pop() {
                        tracing::warn!(
                            path = %path.join("/"),
                            "the API refused {name}={value} (400): asking again without it"
                        );
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// What `--with` lists of the repository, in the endpoints' order: each listing read
    /// whole, then the deployments back to their watermark. An option whose listing is not
    /// there (404: environments and deployments not used) reads none of its later endpoints.
    pub(crate) async fn read_listings(&self, walk: &mut Walk<'_>) -> Result<(), ExtractError> {
        let mut missing: Vec<Optional> = Vec::new();
        for &endpoint in Endpoint::ALL {
            let spec = endpoint.spec();
            let skipped = spec.with.is_some_and(|option| missing.contains(&option));
            if skipped || !endpoint.wanted(&self.options.extras) {
                continue;
            }
            match spec.read {
                Read::Listing => {
                    if !self.read_listing(walk, endpoint).await? {
                        missing.extend(spec.with);
                    }
                }
                Read::SinceDeploymentsWatermark => self.read_deployments(walk).await?,
                // Read by the walk's other parts.
                Read::Repositories
                | Read::Runs
                | Read::Run
                | Read::OfRun
                | Read::OfStep
                | Read::PerDeployment => {}
            }
        }
        Ok(())
    }

    /// Every page of one of the repository's listings; `false` when it is not there (404).
    async fn read_listing(
        &self,
        walk: &mut Walk<'_>,
        endpoint: Endpoint,
    ) -> Result<bool, ExtractError> {
        let (workspace, slug) = (self.options.workspace.as_str(), walk.repo.slug.as_str());
        let path = (endpoint.spec()).segments(&[("workspace", workspace), ("repo_slug", slug)]);
        let mut optional = vec![("pagelen", PAGELEN.to_string())];
        for page in 1u32.. {
            let Some((url, body)) = self.listing_page(&path, page, &mut optional, None).await?
            else {
                tracing::info!(repository = %walk.repo.slug, "no {} (404): not used here", endpoint.as_str());
                return Ok(false);
            };
            let listed = ListingPage::parse(url.as_str(), &body)?;
            let slug = Some(walk.repo.slug.as_str());
            self.send(walk.output, endpoint, slug, &url, page, body)
                .await?;
            if !listed.has_next || listed.count == 0 {
                break;
            }
        }
        Ok(true)
    }

    async fn read_deployments(&self, walk: &mut Walk<'_>) -> Result<(), ExtractError> {
        let previous = walk.state.deployments_watermark;
        let stop_at = previous.map(|w| minus(w, self.options.lookback));
        let mut newest = previous;
        let mut last = None;
        let mut ordered = true;
        let (workspace, slug) = (self.options.workspace.as_str(), walk.repo.slug.as_str());
        let path = (Endpoint::Deployments.spec())
            .segments(&[("workspace", workspace), ("repo_slug", slug)]);
        // The sort goes first if the API refuses something.
        let mut optional = vec![
            ("pagelen", PAGELEN.to_string()),
            ("sort", "-state.started_on".to_string()),
        ];
        for page in 1u32.. {
            let Some((url, body)) = self.listing_page(&path, page, &mut optional, None).await?
            else {
                return Ok(());
            };
            if ordered && !optional.iter().any(|(name, _)| *name == "sort") {
                ordered = false;
                tracing::warn!(repository = %walk.repo.slug, "deployments cannot be sorted here: reading every page");
            }
            let listed = DeploymentsPage::parse(url.as_str(), &body)?;
            if ordered && !listed.newest_first(last) {
                ordered = false;
                tracing::warn!(repository = %walk.repo.slug, page, "deployments did not come newest first (sort=-state.started_on): reading every page");
            }
            last = listed.last().or(last);
            newest = newest.max(listed.started.iter().flatten().max().copied());
            let count = listed.started.len();
            self.send(
                walk.output,
                Endpoint::Deployments,
                Some(&walk.repo.slug),
                &url,
                page,
                body,
            )
            .await?;
            let reached = stop_at.is_some_and(|s| listed.oldest().is_some_and(|o| o < s));
            if !listed.has_next || count == 0 || (ordered && reached) {
                break;
            }
        }
        walk.state.deployments_watermark = newest;
        Ok(())
    }
}

/// What the last export saw of a repository, for an incremental one.
struct Known<'a> {
    /// Runs whose latest attempt is older than this were listed completed by the last export
    /// (unless it left them unfinished): their steps were read then.
    before: Option<DateTime<Utc>>,
    /// Runs the last export left unfinished.
    unfinished: &'a std::collections::BTreeMap<String, crate::state::Unfinished>,
}

/// Whether the steps of `run` are to be read: it has what its steps' rows need, it is not
/// older than `since`, and it is new or changed: not a completed run whose steps were read at
/// this attempt, nor one the last export already saw completed.
fn wanted(
    state: &RepositoryState,
    since: Option<DateTime<Utc>>,
    known: Option<&Known<'_>>,
    run: &RunHeader,
) -> Option<Wanted> {
    let created = run.created_on?;
    if since.is_some_and(|s| created < s) {
        return None;
    }
    let run_number = run.run_number.unwrap_or(1);
    let read = state.steps_read.get(&run.uuid);
    // Read at this attempt, and nothing changed since: completed then and now, or unfinished
    // then and now with the same header.
    let unchanged = read.is_some_and(|r| {
        r.run_number == run_number
            && match &r.unfinished {
                None => run.completed,
                Some(fingerprint) => !run.completed && *fingerprint == run.fingerprint,
            }
    });
    if unchanged {
        return None;
    }
    let at = run.latest_run_at().unwrap_or(created);
    if let Some(known) = known
        && run.completed
        && known.before.is_some_and(|before| at < before)
        && !known.unfinished.contains_key(&run.uuid)
    {
        return None;
    }
    Some(Wanted {
        run: RunRef {
            uuid: run.uuid.clone(),
            build_number: run.build_number?,
            created_at: created.timestamp_micros(),
        },
        run_number,
        completed: run.completed,
        fingerprint: run.fingerprint.clone(),
        at,
        commit: run.commit.clone(),
        ref_name: run.ref_name.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(uuid: &str, completed: bool, run_number: i64, days_ago: i64) -> RunHeader {
        let created = Utc::now() - chrono::Duration::days(days_ago);
        RunHeader {
            uuid: uuid.into(),
            created_on: Some(created),
            run_creation_date: Some(created),
            completed,
            build_number: Some(7),
            run_number: Some(run_number),
            fingerprint: format!("{completed}/{run_number}"),
            commit: None,
            ref_name: None,
        }
    }

    #[test]
    fn an_unfinished_runs_steps_are_read_again_only_when_its_header_changed() {
        let mut state = RepositoryState::default();
        let paused = run("{paused}", false, 1, 1);
        state.steps_read.insert(
            "{paused}".into(),
            StepsRead {
                run_number: 1,
                at: Utc::now(),
                unfinished: Some(paused.fingerprint.clone()),
                tested: Default::default(),
            },
        );
        assert!(wanted(&state, None, None, &paused).is_none());
        let moved = RunHeader {
            fingerprint: "IN_PROGRESS/HALTED".into(),
            ..run("{paused}", false, 1, 1)
        };
        assert!(wanted(&state, None, None, &moved).is_some());
        // Completed since it was read unfinished: read again.
        assert!(wanted(&state, None, None, &run("{paused}", true, 1, 1)).is_some());
    }

    #[test]
    fn steps_are_read_for_new_and_changed_runs_only() {
        let mut state = RepositoryState::default();
        state.steps_read.insert(
            "{done}".into(),
            StepsRead {
                run_number: 1,
                at: Utc::now(),
                unfinished: None,
                tested: Default::default(),
            },
        );
        let since = Some(Utc::now() - chrono::Duration::days(30));
        assert!(wanted(&state, since, None, &run("{done}", true, 1, 1)).is_none());
        assert!(
            wanted(&state, since, None, &run("{done}", true, 2, 1)).is_some(),
            "re-run"
        );
        assert!(wanted(&state, since, None, &run("{new}", false, 1, 1)).is_some());
        assert!(wanted(&state, since, None, &run("{old}", true, 1, 31)).is_none());
        assert!(wanted(&state, None, None, &run("{old}", true, 1, 31)).is_some());
        let mut no_build = run("{x}", true, 1, 1);
        no_build.build_number = None;
        assert!(wanted(&state, since, None, &no_build).is_none());
        // Incremental: a completed run listed before the last export's window was seen then;
        // one it left unfinished was not.
        let mut unfinished = std::collections::BTreeMap::new();
        unfinished.insert("{paused}".to_string(), crate::state::Unfinished::default());
        let known = Known {
            before: Some(Utc::now() - chrono::Duration::days(2)),
            unfinished: &unfinished,
        };
        assert!(wanted(&state, None, Some(&known), &run("{seen}", true, 1, 3)).is_none());
        assert!(wanted(&state, None, Some(&known), &run("{paused}", true, 1, 3)).is_some());
        assert!(wanted(&state, None, Some(&known), &run("{running}", false, 1, 3)).is_some());
        assert!(wanted(&state, None, Some(&known), &run("{fresh}", true, 1, 1)).is_some());
    }

    #[test]
    fn steps_read_are_forgotten_beyond_the_lookback() {
        let now = Utc::now();
        let mut state = RepositoryState {
            run_watermark: Some(now),
            ..RepositoryState::default()
        };
        for (uuid, days) in [("{a}", 1), ("{b}", 3)] {
            state.steps_read.insert(
                uuid.into(),
                StepsRead {
                    run_number: 1,
                    at: now - chrono::Duration::days(days),
                    unfinished: None,
                    tested: Default::default(),
                },
            );
        }
        state.forget_steps_read(chrono::Duration::days(2));
        assert_eq!(state.steps_read.keys().collect::<Vec<_>>(), ["{a}"]);
    }
}
