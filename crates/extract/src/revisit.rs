//! Runs left unfinished (in progress, paused at a manual step, halted) that the pages read did
//! not show are looked for at every export, whatever their age, for one request per repository:
//! the pipelines listing filtered to unfinished runs (`status`, repeatable). A tracked run it
//! lists with the header last read has not changed and costs nothing more; one it lists changed,
//! or no longer lists (completed, or gone), is fetched again by uuid. A run stays tracked until
//! it completes, is gone (404), or is older than `--max-revisit-age` (default a year).
//!
//! Where the API does not filter (a completed run on the filtered listing, or a 400), a warning
//! says so and runs are fetched by uuid on a schedule instead: at every export while younger
//! than a week, then weekly.

use crate::api::{PAGELEN, PipelinesPage, RunHeader};
use crate::error::ExtractError;
use crate::export::Exporter;
use crate::state::{RepositoryState, Unfinished};
use crate::walk::{Walk, track};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::atomic::Ordering;

/// What the `status` filter is asked for: a run's state while it is not completed, and the
/// stages of one in progress (the filter takes several; a run matching any is listed).
const UNFINISHED: [&str; 4] = ["PENDING", "IN_PROGRESS", "PAUSED", "HALTED"];

/// Pages of unfinished runs read at most (100 each) before taking the filter as ignored.
const MAX_UNFINISHED_PAGES: u32 = 50;

/// How often unfinished runs are fetched again once older than this: weekly.
const REVISIT_DAILY_FOR_DAYS: i64 = 7;

impl Exporter {
    /// Fetches again the runs unfinished at the last export that the pages did not show, on
    /// the schedule in the module docs.
    pub(crate) async fn revisit_unfinished(
        &self,
        walk: &mut Walk<'_>,
        previous: &RepositoryState,
    ) -> Result<(), ExtractError> {
        let now = Utc::now();
        let tracked: Vec<(&String, &Unfinished)> = (previous.unfinished.iter())
            .filter(|(uuid, _)| !walk.seen.contains(*uuid))
            .collect();
        if tracked.is_empty() {
            return Ok(());
        }
        let listed = self.list_unfinished(walk).await?;
        for (uuid, run) in tracked {
            let max_age = self.options.max_revisit_age;
            let decision = match &listed {
                Some(_) if too_old(now, run, max_age) => Revisit::Drop,
                Some(listed) => match listed.get(uuid) {
                    Some(header) if run.fingerprint.as_ref() == Some(&header.fingerprint) => {
                        Revisit::Later
                    }
                    // Changed, or no longer unfinished (completed or gone).
                    Some(_) | None => Revisit::Now,
                },
                None => revisit(now, run, max_age),
            };
            match decision {
                Revisit::Drop => {
                    tracing::info!(run = %uuid, repository = %walk.repo.slug, "unfinished run older than --max-revisit-age: no longer tracked");
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Revisit::Later => {
                    walk.state.unfinished.insert(uuid.clone(), run.clone());
                    continue;
                }
                Revisit::Now => {}
            }
            self.counters.revisited.fetch_add(1, Ordering::Relaxed);
            match self.fetch_run(walk.repo, uuid, walk.output).await? {
                Some(header) => {
                    self.read_steps(walk, std::slice::from_ref(&header)).await?;
                    track(&mut walk.state, &header);
                }
                None => {
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }

    /// The repository's runs the API lists as unfinished, by uuid; `None`, with a warning, when
    /// it does not filter them (so that the caller falls back to the schedule).
    async fn list_unfinished(
        &self,
        walk: &Walk<'_>,
    ) -> Result<Option<HashMap<String, RunHeader>>, ExtractError> {
        let mut listed = HashMap::new();
        let ignored = |why: &str| {
            tracing::warn!(repository = %walk.repo.slug, "the pipelines listing {why}: unfinished runs are fetched one by one, weekly once older than a week");
            Ok(None)
        };
        for page in 1..=MAX_UNFINISHED_PAGES {
            let mut query = vec![("pagelen", PAGELEN.to_string())];
            query.extend(UNFINISHED.map(|status| ("status", status.to_string())));
            query.push(("page", page.to_string()));
            let url = self.url(&walk.path, &query)?;
            let body = match self.get(&url).await {
                Ok(body) => body,
                Err(e) if e.status() == Some(400) => return ignored("refused the status filter"),
                Err(e) => return Err(e.into()),
            };
            let runs = PipelinesPage::parse(url.as_str(), &body)?;
            if runs.runs.iter().any(|run| run.completed) {
                return ignored("ignored the status filter (it listed completed runs)");
            }
            let last = !runs.has_next || runs.count == 0;
            listed.extend(runs.runs.into_iter().map(|run| (run.uuid.clone(), run)));
            if last {
                return Ok(Some(listed));
            }
        }
        ignored("listed more unfinished runs than bbpipe reads this way")
    }
}

/// Whether a run has stayed unfinished longer than it is tracked.
fn too_old(now: DateTime<Utc>, run: &Unfinished, max_age: chrono::Duration) -> bool {
    run.created_on.is_some_and(|c| now - c > max_age)
}

/// What to do with a run left unfinished.
#[derive(Debug, PartialEq, Eq)]
enum Revisit {
    Now,
    Later,
    Drop,
}

/// The schedule where the API does not filter: every export while the run is younger than a week (or of unknown age), then
/// once a week since it was last read, never once older than `max_age`. A run paused for weeks
/// costs one request a week, and lands at most a week after it completes.
fn revisit(now: DateTime<Utc>, run: &Unfinished, max_age: chrono::Duration) -> Revisit {
    let week = chrono::Duration::days(REVISIT_DAILY_FOR_DAYS);
    let age = run.created_on.map(|c| now - c);
    if too_old(now, run, max_age) {
        Revisit::Drop
    } else if age.is_none_or(|a| a <= week) || run.checked_at.is_none_or(|c| now - c >= week) {
        Revisit::Now
    } else {
        Revisit::Later
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_runs_are_revisited_on_a_schedule_that_backs_off() {
        let now = DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z")
            .unwrap()
            .to_utc();
        let days = |d: i64| Some(now - chrono::Duration::days(d));
        let max = chrono::Duration::days(90);
        let cases = [
            // (created days ago, last read days ago, decision)
            (days(0), days(0), Revisit::Now),
            (days(6), days(0), Revisit::Now),
            (days(8), days(1), Revisit::Later),
            (days(8), days(6), Revisit::Later),
            (days(8), days(7), Revisit::Now),
            (days(30), None, Revisit::Now),
            (days(89), days(3), Revisit::Later),
            (days(91), days(8), Revisit::Drop),
            (None, days(1), Revisit::Now),
        ];
        for (created_on, checked_at, want) in cases {
            let run = Unfinished {
                created_on,
                checked_at,
                fingerprint: None,
            };
            assert_eq!(revisit(now, &run, max), want, "{run:?}");
        }
    }
}
