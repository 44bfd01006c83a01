//! The tests section: failing tests, flaky tests and each step's share of the failures, from
//! the `test_cases` of runs created in the window. A test is flaky when, on the same commit, it
//! failed (FAILED or ERROR) in one attempt or run and passed in another (docs/guides/tests.md).

use crate::collect::TestCase;
use crate::report::{FailingTest, FlakyTest, StepTestFailures, TestsReport};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A test: repository, step name, fully qualified name.
type TestKey<'a> = (&'a str, Option<&'a str>, &'a str);

/// A test's failures and passes on one commit.
type OnCommit<'a> = (Vec<&'a TestCase>, Vec<&'a TestCase>);

fn iso(micros: Option<i64>) -> Option<String> {
    let t = chrono::DateTime::from_timestamp_micros(micros?)?;
    Some(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

fn key(case: &TestCase) -> TestKey<'_> {
    (&case.repository, case.step.as_deref(), &case.test)
}

/// The figures over `cases`.
pub(crate) fn tests_report(cases: &[TestCase]) -> TestsReport {
    let failed: Vec<&TestCase> = cases.iter().filter(|c| c.failed).collect();
    TestsReport {
        failing: failing(&failed),
        flaky: flaky(cases),
        steps: steps(&failed),
    }
}

fn failing(failed: &[&TestCase]) -> Vec<FailingTest> {
    let mut by_test: BTreeMap<TestKey<'_>, Vec<&TestCase>> = BTreeMap::new();
    for case in failed {
        by_test.entry(key(case)).or_default().push(case);
    }
    let mut all: Vec<FailingTest> = by_test
        .into_iter()
        .map(|((repository, step, test), cases)| FailingTest {
            repository: repository.to_string(),
            step: step.map(str::to_string),
            test: test.to_string(),
            failures: cases.len() as u64,
            runs: distinct_runs(&cases),
            last_failed_at: iso(cases.iter().filter_map(|c| c.completed_at).max()),
        })
        .collect();
    // Most failures first; ties in name order (the map's).
    all.sort_by_key(|t| std::cmp::Reverse(t.failures));
    all
}

fn distinct_runs(cases: &[&TestCase]) -> u64 {
    let runs: BTreeSet<&Arc<str>> = cases.iter().map(|c| &c.pipeline_uuid).collect();
    runs.len() as u64
}

fn flaky(cases: &[TestCase]) -> Vec<FlakyTest> {
    // Per test and commit: its failures and whether it passed.
    let mut on_commit: BTreeMap<(TestKey<'_>, &str), OnCommit<'_>> = BTreeMap::new();
    for case in cases {
        let Some(commit) = case.commit.as_deref() else {
            continue;
        };
        let (failures, passes) = on_commit.entry((key(case), commit)).or_default();
        match case.failed {
            true => failures.push(case),
            false => passes.push(case),
        }
    }
    let mut by_test: BTreeMap<TestKey<'_>, FlakyTest> = BTreeMap::new();
    for ((test, _), (failures, passes)) in on_commit {
        if failures.is_empty() || passes.is_empty() {
            continue;
        }
        let (repository, step, name) = test;
        let entry = by_test.entry(test).or_insert_with(|| FlakyTest {
            repository: repository.to_string(),
            step: step.map(str::to_string),
            test: name.to_string(),
            flaky_commits: 0,
            failures: 0,
            last_seen: None,
            failed_in: Vec::new(),
        });
        entry.flaky_commits += 1;
        entry.failures += failures.len() as u64;
        entry
            .failed_in
            .extend(failures.iter().map(|c| c.build_number));
        let seen = failures
            .iter()
            .chain(&passes)
            .filter_map(|c| c.completed_at)
            .max();
        let seen = iso(seen);
        if seen > entry.last_seen {
            entry.last_seen = seen;
        }
    }
    let mut all: Vec<FlakyTest> = by_test.into_values().collect();
    for test in &mut all {
        test.failed_in.sort_unstable();
        test.failed_in.dedup();
    }
    all.sort_by_key(|t| std::cmp::Reverse(t.flaky_commits));
    all
}

fn steps(failed: &[&TestCase]) -> Vec<StepTestFailures> {
    let mut by_step: BTreeMap<(&str, Option<&str>), Vec<&TestCase>> = BTreeMap::new();
    for case in failed {
        by_step
            .entry((&case.repository, case.step.as_deref()))
            .or_default()
            .push(case);
    }
    let total = failed.len().max(1) as f64;
    let mut all: Vec<StepTestFailures> = by_step
        .into_iter()
        .map(|((repository, step), cases)| StepTestFailures {
            repository: repository.to_string(),
            step: step.map(str::to_string),
            failures: cases.len() as u64,
            runs: distinct_runs(&cases),
            share: cases.len() as f64 / total,
        })
        .collect();
    all.sort_by_key(|s| std::cmp::Reverse(s.failures));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(test: &str, failed: bool, commit: &str, build: i64) -> TestCase {
        TestCase {
            repository: "acme/api".into(),
            step: Some("Build".into()),
            test: test.into(),
            failed,
            commit: Some(commit.into()),
            pipeline_uuid: format!("{{run-{build}}}").into(),
            build_number: build,
            completed_at: Some(build * 1_000_000),
        }
    }

    #[test]
    fn a_test_is_flaky_only_where_it_failed_and_passed_on_one_commit() {
        let cases = [
            case("t.flaky", true, "c1", 1),
            case("t.flaky", false, "c1", 2),
            case("t.flaky", true, "c2", 3),
            case("t.flaky", false, "c2", 3),
            case("t.broken", true, "c1", 1),
            case("t.broken", true, "c3", 4),
            // Passed on c3, failed only on c1: not the same commit.
            case("t.moved", true, "c1", 1),
            case("t.moved", false, "c3", 4),
        ];
        let report = tests_report(&cases);
        let flaky: Vec<(&str, u64, u64, &[i64])> = report
            .flaky
            .iter()
            .map(|t| {
                (
                    t.test.as_str(),
                    t.flaky_commits,
                    t.failures,
                    &t.failed_in[..],
                )
            })
            .collect();
        assert_eq!(flaky, [("t.flaky", 2, 2, &[1, 3][..])]);
        assert_eq!(report.flaky[0].last_seen, iso(Some(3_000_000)));
        let failing: Vec<(&str, u64, u64)> = report
            .failing
            .iter()
            .map(|t| (t.test.as_str(), t.failures, t.runs))
            .collect();
        assert_eq!(
            failing,
            [("t.broken", 2, 2), ("t.flaky", 2, 2), ("t.moved", 1, 1)]
        );
        assert_eq!(report.steps.len(), 1);
        assert_eq!((report.steps[0].failures, report.steps[0].runs), (5, 3));
        assert!((report.steps[0].share - 1.0).abs() < 1e-12);
    }
}
