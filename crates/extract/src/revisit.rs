//! Runs left unfinished (in progress, paused at a manual step, halted) are fetched again by
//! uuid when the pages read did not show them: at every export while younger than a week, then
//! weekly, never once older than `--max-revisit-age` or gone (404).

use crate::error::ExtractError;
use crate::export::Exporter;
use crate::state::{RepositoryState, Unfinished};
use crate::walk::{Walk, track};
use chrono::{DateTime, Utc};
use std::sync::atomic::Ordering;

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
        for (uuid, run) in &previous.unfinished {
            if walk.seen.contains(uuid) {
                continue;
            }
            match revisit(now, run, self.options.max_revisit_age) {
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
}

/// What to do with a run left unfinished.
#[derive(Debug, PartialEq, Eq)]
enum Revisit {
    Now,
    Later,
    Drop,
}

/// The schedule: every export while the run is younger than a week (or of unknown age), then
/// once a week since it was last read, never once older than `max_age`. A run paused for weeks
/// costs one request a week, and lands at most a week after it completes.
fn revisit(now: DateTime<Utc>, run: &Unfinished, max_age: chrono::Duration) -> Revisit {
    let week = chrono::Duration::days(REVISIT_DAILY_FOR_DAYS);
    let age = run.created_on.map(|c| now - c);
    if age.is_some_and(|a| a > max_age) {
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
            };
            assert_eq!(revisit(now, &run, max), want, "{run:?}");
        }
    }
}
