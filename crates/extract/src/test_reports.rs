//! What `--with tests` adds to the steps read: the test reports of the steps that need one,
//! within a budget a nightly export can afford. Passing tests are not read in bulk (a page per
//! 100 tests of every step); a report is read for
//!
//! - **a step that completed FAILED or ERROR**: its counts (one request; a 404, no report, is
//!   that one request once), then its FAILED and ERROR cases (a page per 100 of each, only
//!   where the counts say there are some). Those tests are kept in the repository's state by
//!   commit and step name ([`RepositoryState::failed_tests`]), for
//!   [`FLAKY_WINDOW_DAYS`](crate::state::FLAKY_WINDOW_DAYS).
//! - **a passing step of a later attempt or run on such a commit, of the same name**: its
//!   counts, then its SUCCESSFUL cases page by page until every test that failed before is
//!   found (or the pages end). Only those cases are kept: they show the test passed there, so
//!   it is flaky. A passing step the walk met before it knew of the failure (walks of
//!   incremental exports go newest first) is remembered, one per commit and step name (at most
//!   [`MAX_PASSES_HELD`]), and read when the failure is found.
//!
//! Each step's report is asked for once ([`StepsRead::tested`](crate::state::StepsRead::tested)), and only steps read anew
//! are looked at: an unchanged workspace costs no test request. The `status` filter is
//! checked on every case, so an API that ignores it costs pages, not wrong rows.

use crate::api::{PAGELEN, parse};
use crate::error::ExtractError;
use crate::export::Exporter;
use crate::state::{FailedTests, MAX_FAILED_TESTS_KEPT};
use crate::walk::{Passed, Walk};
use bbpipe_model::bitbucket::{self, Page, TestReport};
use bbpipe_model::{Endpoint, RunRef, StepRef};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

/// Passing steps a walk holds for failures it may meet later: one per commit and step name,
/// and no more than this (an incremental export's new runs are far fewer).
const MAX_PASSES_HELD: usize = 20_000;

/// The steps on a run's steps pages, as their test reports' rows name them. A page that does
/// not decode gives none (transform reports it).
pub(crate) fn step_refs<'a>(
    pages: impl IntoIterator<Item = &'a [u8]>,
    commit: Option<&str>,
    ref_name: Option<&str>,
) -> Vec<StepRef> {
    let mut steps = Vec::new();
    for body in pages {
        let Ok(page) = serde_json::from_slice::<Page<bitbucket::Step>>(body) else {
            continue;
        };
        for step in page.values {
            let result = step.state.as_ref().and_then(|s| s.result.as_ref());
            steps.push(StepRef {
                uuid: step.uuid.to_string(),
                name: step.name.as_deref().map(str::to_string),
                run_number: step.run_number,
                result: result.and_then(|r| r.name.as_deref()).map(str::to_string),
                completed_at: step
                    .completed_on
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.timestamp_micros()),
                commit: commit.map(str::to_string),
                ref_name: ref_name.map(str::to_string),
            });
        }
    }
    steps
}

fn failed(step: &StepRef) -> bool {
    matches!(step.result.as_deref(), Some("FAILED" | "ERROR"))
}

fn passed(step: &StepRef) -> bool {
    step.result.as_deref() == Some("SUCCESSFUL")
}

/// The fields of a test case read to choose it.
#[derive(Deserialize)]
struct CaseHeader<'a> {
    #[serde(borrow, default)]
    fully_qualified_name: bitbucket::Text<'a>,
    #[serde(borrow, default)]
    status: bitbucket::Text<'a>,
}

/// Which cases of a step to keep, asked for by status.
trait Choose {
    /// The status asked for.
    fn status(&self) -> &'static str;
    /// Whether `case` goes on to `test_cases`.
    fn keep(&mut self, case: &CaseHeader<'_>) -> bool;
    /// Whether no later page can hold a case to keep.
    fn done(&self) -> bool;
}

/// A failed step's cases of one status: the tests that did not pass.
struct Failures<'t> {
    status: &'static str,
    tests: &'t mut BTreeSet<String>,
}

impl Choose for Failures<'_> {
    fn status(&self) -> &'static str {
        self.status
    }

    fn keep(&mut self, case: &CaseHeader<'_>) -> bool {
        let keep = case.status.as_deref() == Some(self.status);
        if keep && let Some(name) = case.fully_qualified_name.as_deref() {
            self.tests.insert(name.to_string());
        }
        keep
    }

    fn done(&self) -> bool {
        false
    }
}

/// A passing step's cases: those of the tests that failed before on its commit.
struct Passes {
    wanted: BTreeSet<String>,
    shown: BTreeSet<String>,
}

impl Choose for Passes {
    fn status(&self) -> &'static str {
        "SUCCESSFUL"
    }

    fn keep(&mut self, case: &CaseHeader<'_>) -> bool {
        let Some(name) = case.fully_qualified_name.as_deref() else {
            return false;
        };
        let keep = case.status.as_deref() == Some("SUCCESSFUL") && self.wanted.remove(name);
        if keep {
            self.shown.insert(name.to_string());
        }
        keep
    }

    fn done(&self) -> bool {
        self.wanted.is_empty()
    }
}

impl Exporter {
    /// Reads the test reports `steps` (of `run`, just read, its [`StepsRead`](crate::state::StepsRead) recorded) need.
    pub(crate) async fn read_tests(
        &self,
        walk: &mut Walk<'_>,
        run: &RunRef,
        mut steps: Vec<StepRef>,
    ) -> Result<(), ExtractError> {
        // Attempts in order, so a re-run's pass comes after the failure it follows.
        steps.sort_by_key(|s| (s.run_number, s.completed_at));
        for step in steps {
            let asked = (walk.state.steps_read.get(&run.uuid))
                .is_some_and(|read| read.tested.contains(&step.uuid));
            if asked || !(failed(&step) || passed(&step)) {
                continue;
            }
            let at = step
                .completed_at
                .and_then(DateTime::from_timestamp_micros)
                .or_else(|| DateTime::from_timestamp_micros(run.created_at))
                .unwrap_or_default();
            let key = step
                .commit
                .clone()
                .map(|commit| (commit, step.name.clone().unwrap_or_default()));
            if failed(&step) {
                mark_tested(&mut walk.state, run, &step);
                let tests = self.read_failures(walk, run, &step).await?;
                if let Some(key) = key
                    && !tests.is_empty()
                {
                    remember_failures(&mut walk.state, &key, at, tests.clone());
                    let earlier = walk.passes.remove(&key);
                    match earlier {
                        // Read for the tests that failed here (the state may also hold a later
                        // failure of the commit, after the pass).
                        Some(pass) if pass.at > at => self.read_pass(walk, pass, tests).await?,
                        Some(pass) => {
                            walk.passes.insert(key, pass);
                        }
                        None => {}
                    }
                }
            } else if let Some(key) = key {
                if let Some(wanted) = failed_before(&walk.state, &key, at) {
                    let pass = Passed {
                        run: run.clone(),
                        step,
                        at,
                    };
                    self.read_pass(walk, pass, wanted).await?;
                } else if walk.previous.is_some() && walk.passes.len() < MAX_PASSES_HELD {
                    // Only an incremental walk (newest first) meets a pass before its failure;
                    // a full read goes oldest first and finds the failure in the state.
                    let pass = Passed {
                        run: run.clone(),
                        step,
                        at,
                    };
                    walk.passes.entry(key).or_insert(pass);
                }
            }
        }
        Ok(())
    }

    /// A failed step's report and its failed and errored cases; the tests that did not pass.
    async fn read_failures(
        &self,
        walk: &mut Walk<'_>,
        run: &RunRef,
        step: &StepRef,
    ) -> Result<BTreeSet<String>, ExtractError> {
        let mut tests = BTreeSet::new();
        let Some(report) = self.read_report(walk, run, step).await? else {
            return Ok(tests);
        };
        let statuses = [
            ("FAILED", report.number_of_failed_test_cases),
            ("ERROR", report.number_of_error_test_cases),
        ];
        for (status, count) in statuses {
            if count == Some(0) {
                continue;
            }
            let mut failures = Failures {
                status,
                tests: &mut tests,
            };
            self.read_cases(walk, (run, step), &mut failures).await?;
        }
        Ok(tests)
    }

    /// A passing step's report and those of its cases that show `wanted` (tests that failed
    /// before on its commit) passed here; those tests are then no longer looked for.
    async fn read_pass(
        &self,
        walk: &mut Walk<'_>,
        pass: Passed,
        wanted: BTreeSet<String>,
    ) -> Result<(), ExtractError> {
        let Passed { run, step, .. } = pass;
        mark_tested(&mut walk.state, &run, &step);
        let Some(commit) = step.commit.clone() else {
            return Ok(());
        };
        let key = (commit, step.name.clone().unwrap_or_default());
        let Some(report) = self.read_report(walk, &run, &step).await? else {
            return Ok(());
        };
        if report.number_of_successful_test_cases == Some(0) {
            return Ok(());
        }
        let mut passes = Passes {
            wanted,
            shown: BTreeSet::new(),
        };
        self.read_cases(walk, (&run, &step), &mut passes).await?;
        let shown = passes.shown;
        forget_failures(&mut walk.state, &key, &shown);
        Ok(())
    }

    /// A step's report counts, sent on; `None` when it has none (404).
    async fn read_report(
        &self,
        walk: &mut Walk<'_>,
        run: &RunRef,
        step: &StepRef,
    ) -> Result<Option<TestReport>, ExtractError> {
        let path = self.test_path(Endpoint::TestReports, walk, run, step);
        let url = self.url(&path, &[])?;
        self.counters.tests_requests.fetch_add(1, Ordering::Relaxed);
        let body = match self.get(&url).await {
            Ok(body) => body,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let report: TestReport = parse(url.as_str(), &body)?;
        self.counters.tests_read.fetch_add(1, Ordering::Relaxed);
        let at = (walk.repo.slug.as_str(), run, step);
        self.send_test_page(walk.output, at, Endpoint::TestReports, &url, 1, body)
            .await?;
        Ok(Some(report))
    }

    /// The step's cases of `choose`'s status, page by page: those it keeps are sent on (a page
    /// with others is sent cut down to them), until it is done or the pages end.
    async fn read_cases(
        &self,
        walk: &mut Walk<'_>,
        (run, step): (&RunRef, &StepRef),
        choose: &mut (dyn Choose + Send),
    ) -> Result<(), ExtractError> {
        let path = self.test_path(Endpoint::TestCases, walk, run, step);
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        // The page length goes first if the API refuses something.
        let mut optional = vec![
            ("status", choose.status().to_string()),
            ("pagelen", PAGELEN.to_string()),
        ];
        let counter = Some(&self.counters.tests_requests);
        let mut sent = 0;
        for page in 1u32.. {
            let Some((url, body)) = self
                .listing_page(&path, page, &mut optional, counter)
                .await?
            else {
                return Ok(());
            };
            let listed: Page<&RawValue> = parse(url.as_str(), &body)?;
            let (count, has_next) = (listed.values.len(), listed.next.is_some());
            if let Some(kept) = kept_cases(&body, listed.values, choose) {
                sent += 1;
                let at = (walk.repo.slug.as_str(), run, step);
                self.send_test_page(walk.output, at, Endpoint::TestCases, &url, sent, kept)
                    .await?;
            }
            if !has_next || count == 0 || choose.done() {
                break;
            }
        }
        Ok(())
    }

    fn test_path(
        &self,
        endpoint: Endpoint,
        walk: &Walk<'_>,
        run: &RunRef,
        step: &StepRef,
    ) -> Vec<String> {
        (endpoint.spec())
            .segments(&[
                ("workspace", self.options.workspace.as_str()),
                ("repo_slug", walk.repo.slug.as_str()),
                ("uuid", run.uuid.as_str()),
                ("step_uuid", step.uuid.as_str()),
            ])
            .into_iter()
            .map(str::to_string)
            .collect()
    }
}

/// The page with only the cases `keep` chooses: as received when it chooses all, cut down when
/// some, `None` when none (or the page holds no cases to read).
fn kept_cases(
    body: &Bytes,
    values: Vec<&RawValue>,
    choose: &mut (dyn Choose + Send),
) -> Option<Bytes> {
    let total = values.len();
    let chosen: Vec<&RawValue> = values
        .into_iter()
        .filter(|raw| {
            serde_json::from_str::<CaseHeader>(raw.get())
                .ok()
                .is_some_and(|case| choose.keep(&case))
        })
        .collect();
    if chosen.is_empty() {
        return None;
    }
    if chosen.len() == total {
        return Some(body.clone());
    }
    let values: Vec<&str> = chosen.iter().map(|raw| raw.get()).collect();
    Some(Bytes::from(format!(
        r#"{{"values": [{}]}}"#,
        values.join(", ")
    )))
}

/// The tests that failed on the commit in a step of this name before `at`, if any.
fn failed_before(
    state: &crate::state::RepositoryState,
    (commit, name): &(String, String),
    at: DateTime<Utc>,
) -> Option<BTreeSet<String>> {
    let failed = state.failed_tests.get(commit)?.get(name)?;
    (failed.at < at && !failed.tests.is_empty()).then(|| failed.tests.clone())
}

fn remember_failures(
    state: &mut crate::state::RepositoryState,
    (commit, name): &(String, String),
    at: DateTime<Utc>,
    tests: BTreeSet<String>,
) {
    let entry = state
        .failed_tests
        .entry(commit.clone())
        .or_default()
        .entry(name.clone())
        .or_insert_with(|| FailedTests {
            at,
            tests: BTreeSet::new(),
        });
    entry.at = entry.at.max(at);
    for test in tests {
        if entry.tests.len() >= MAX_FAILED_TESTS_KEPT {
            break;
        }
        entry.tests.insert(test);
    }
}

fn forget_failures(
    state: &mut crate::state::RepositoryState,
    (commit, name): &(String, String),
    shown: &BTreeSet<String>,
) {
    let Some(steps) = state.failed_tests.get_mut(commit) else {
        return;
    };
    if let Some(failed) = steps.get_mut(name) {
        failed.tests.retain(|t| !shown.contains(t));
        if failed.tests.is_empty() {
            steps.remove(name);
        }
    }
    if steps.is_empty() {
        state.failed_tests.remove(commit);
    }
}

/// Records that `step`'s report was asked for, in its run's [`StepsRead`](crate::state::StepsRead).
fn mark_tested(state: &mut crate::state::RepositoryState, run: &RunRef, step: &StepRef) {
    if let Some(read) = state.steps_read.get_mut(&run.uuid) {
        read.tested.insert(step.uuid.clone());
    }
}
