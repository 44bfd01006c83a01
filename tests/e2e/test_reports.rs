//! End to end: `--with tests`. Every failed case the API lists for failed steps is in
//! `test_cases`, field by field; a failed test that passes on a re-run or in another run of
//! its commit is flaky, and no test that never failed is; what it costs, and that an unchanged
//! workspace costs nothing; the report's test figures.

use crate::common::mock::{Auth, MockBitbucket};
use crate::common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;

const TOKEN: &str = "tkn-test-reports-5ecret";
const SUITE: usize = 12;

fn env(mock: &MockBitbucket) -> Vec<(&'static str, String)> {
    vec![
        ("BITBUCKET_API_URL", mock.url.clone()),
        ("BITBUCKET_ACCESS_TOKEN", TOKEN.to_string()),
    ]
}

fn export(mock: &MockBitbucket, out: &Path) -> (Value, String) {
    let args = export_args(out.to_str().unwrap(), &["--with", "tests"]);
    let output = bbpipe_with_env(&args, &env(mock));
    assert!(output.status.success(), "{}", stderr(&output));
    (report(&stdout(&output)), stderr(&output))
}

/// Recent runs (within --steps-since) in two repositories, some of them failed.
fn mock_with_failures() -> (MockBitbucket, Vec<(String, String)>) {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.clock(
        chrono::Utc::now() - chrono::Duration::days(3),
        chrono::Duration::minutes(7),
    );
    mock.test_suite(SUITE);
    mock.add_repo("api", 4);
    mock.add_repo("web", 2);
    let mut failed = Vec::new();
    for (slug, n) in [("api", 3), ("web", 2)] {
        for _ in 0..n {
            let uuid = mock.push_run(slug, "COMPLETED", Some("FAILED"));
            failed.push((slug.to_string(), uuid));
        }
        mock.push_run(slug, "COMPLETED", Some("SUCCESSFUL"));
    }
    (mock, failed)
}

fn duration_seconds(text: &str) -> Value {
    // The mock writes `PT<k>.25S` or `<k>.5`.
    let number = text
        .strip_prefix("PT")
        .and_then(|t| t.strip_suffix('S'))
        .unwrap_or(text);
    json!(number.parse::<f64>().unwrap())
}

/// The fully qualified names of the test cases of one pipeline run in the dataset.
fn tests_of_run(out: &Path, uuid: &str) -> BTreeSet<String> {
    read_table(out, "test_cases")
        .into_iter()
        .filter(|r| r["pipeline_uuid"] == json!(uuid))
        .map(|r| r["fully_qualified_name"].as_str().unwrap().to_string())
        .collect()
}

fn tests_requests(summary: &Value) -> u64 {
    summary["export"]["tests_requests"].as_u64().unwrap()
}

#[test]
fn every_failed_case_the_api_lists_for_failed_steps_is_exported_field_by_field() {
    let (mock, _) = mock_with_failures();
    let out = tempfile::tempdir().unwrap();
    let (summary, log) = export(&mock, out.path());
    let expected = mock.failed_cases();
    assert!(
        expected.len() >= 5,
        "the mock fails some tests: {expected:?}"
    );
    let mut rows = read_table(out.path(), "test_cases");
    rows.sort_by_key(|r| {
        (
            r["repo_slug"].to_string(),
            r["step_uuid"].to_string(),
            r["uuid"].to_string(),
        )
    });
    assert_eq!(rows.len(), expected.len(), "{rows:?}");
    for (row, (slug, step, case)) in rows.iter().zip(&expected) {
        assert_eq!(row["repo_slug"], json!(slug));
        assert_eq!(row["step_uuid"], json!(step));
        for field in [
            "uuid",
            "name",
            "fully_qualified_name",
            "package_name",
            "status",
            "duration",
        ] {
            assert_eq!(row[field], case[field], "{field} of {case}");
        }
        let duration = case["duration"].as_str().unwrap();
        assert_eq!(
            row["duration_seconds"],
            duration_seconds(duration),
            "{duration}"
        );
        assert_eq!(row["step_name"], json!("Build"));
        assert!(
            row["commit_sha"].as_str().is_some_and(|c| c.len() == 40),
            "{row:?}"
        );
    }
    // One report per failed Build step with one; the deploy steps' 404s read once each.
    let reports = read_table(out.path(), "test_reports");
    let failed_steps: BTreeSet<&String> = expected.iter().map(|(_, step, _)| step).collect();
    assert_eq!(reports.len(), failed_steps.len(), "{reports:?}");
    for report in &reports {
        let failed = expected
            .iter()
            .filter(|(_, step, case)| {
                json!(step) == report["step_uuid"] && case["status"] == "FAILED"
            })
            .count();
        assert_eq!(report["failed_test_cases"], json!(failed));
        assert_eq!(report["test_cases"], json!(SUITE));
        assert_eq!(report["step_result"], json!("FAILED"));
    }
    assert_eq!(summary["test_cases"], json!(expected.len()));
    // Nothing of a failure's message (which can quote secrets) is kept.
    for path in all_files(out.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert!(!text.contains("mock-test-secret"), "{}", path.display());
    }
    assert!(!log.contains(TOKEN));
}

/// (repository, fully qualified name) of the test cases of `status` in the dataset.
fn tests_with(out: &Path, status: &str) -> BTreeSet<(String, String)> {
    read_table(out, "test_cases")
        .into_iter()
        .filter(|r| r["status"] == status)
        .map(|r| {
            let name = r["fully_qualified_name"].as_str().unwrap().to_string();
            (r["repo_slug"].as_str().unwrap().to_string(), name)
        })
        .collect()
}

#[test]
fn a_rerun_whose_failed_tests_pass_shows_them_passing_and_an_unchanged_workspace_costs_nothing() {
    let (mock, failed) = mock_with_failures();
    let out = tempfile::tempdir().unwrap();
    export(&mock, out.path());
    assert!(
        tests_with(out.path(), "SUCCESSFUL").is_empty(),
        "no pass is read without a re-run"
    );
    let failing_before = read_table(out.path(), "test_cases");

    // The nightly after: the first failed run is re-run and passes.
    let (slug, uuid) = &failed[0];
    mock.rerun(slug, uuid, "SUCCESSFUL");
    mock.clear_log();
    let (summary, _) = export(&mock, out.path());
    let failed_in_run: BTreeSet<(String, String)> = failing_before
        .iter()
        .filter(|r| r["pipeline_uuid"] == json!(uuid))
        .map(|r| {
            (
                slug.clone(),
                r["fully_qualified_name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(!failed_in_run.is_empty());
    assert_eq!(tests_with(out.path(), "SUCCESSFUL"), failed_in_run);
    // The pass is the re-run's attempt, of the same commit.
    let passes: Vec<Row> = read_table(out.path(), "test_cases")
        .into_iter()
        .filter(|r| r["status"] == "SUCCESSFUL")
        .collect();
    for pass in &passes {
        assert_eq!(pass["pipeline_uuid"], json!(uuid));
        assert_eq!(pass["run_number"], json!(2));
    }
    // Its report (one request) and one page of passing cases.
    assert_eq!(tests_requests(&summary), 2, "{summary}");

    // The report names exactly those tests flaky, and every failed test failing.
    let json = out.path().join("report.json");
    let output = bbpipe(&[
        "report",
        out.path().to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let tests = read_json(&json)["tests"].clone();
    let flaky: BTreeSet<(String, String)> = tests["flaky"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["step"], json!("Build"));
            assert_eq!(t["flaky_commits"], json!(1));
            let build = failing_before
                .iter()
                .find(|r| r["pipeline_uuid"] == json!(uuid))
                .unwrap()["build_number"]
                .clone();
            assert_eq!(t["failed_in"], json!([build]));
            let repository = t["repository"]
                .as_str()
                .unwrap()
                .trim_start_matches("acme/");
            (
                repository.to_string(),
                t["test"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(flaky, failed_in_run);
    let failing: u64 = tests["failing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["failures"].as_u64().unwrap())
        .sum();
    assert_eq!(failing as usize, failing_before.len());
    let page = out.path().join("report.html");
    let output = bbpipe(&[
        "report",
        out.path().to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let html = std::fs::read_to_string(&page).unwrap();
    for (_, test) in &failed_in_run {
        assert!(html.contains(test.as_str()), "{test} not on the page");
    }

    mock.clear_log();
    let (summary, _) = export(&mock, out.path());
    assert_eq!(tests_requests(&summary), 0, "{summary}");
    let asked = mock
        .requests()
        .iter()
        .filter(|r| r.path.contains("test_reports"))
        .count();
    assert_eq!(asked, 0);
}

#[test]
fn a_failure_and_its_rerun_read_in_one_export_are_matched() {
    let (mock, failed) = mock_with_failures();
    let (slug, uuid) = &failed[1];
    mock.rerun(slug, uuid, "SUCCESSFUL");
    let out = tempfile::tempdir().unwrap();
    export(&mock, out.path());
    let failed_there: BTreeSet<(String, String)> = read_table(out.path(), "test_cases")
        .iter()
        .filter(|r| r["pipeline_uuid"] == json!(uuid) && r["status"] != "SUCCESSFUL")
        .map(|r| {
            (
                slug.clone(),
                r["fully_qualified_name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(!failed_there.is_empty());
    assert_eq!(tests_with(out.path(), "SUCCESSFUL"), failed_there);
}

#[test]
fn a_later_run_of_the_same_commit_that_passes_is_read_whichever_export_saw_the_failure() {
    for same_export in [true, false] {
        let (mock, failed) = mock_with_failures();
        let (slug, uuid) = failed[0].clone();
        let out = tempfile::tempdir().unwrap();
        if !same_export {
            export(&mock, out.path());
        }
        let commit = mock
            .state
            .lock()
            .unwrap()
            .repos
            .iter()
            .find(|r| r.slug == slug)
            .unwrap()
            .runs
            .iter()
            .find(|r| r["uuid"] == uuid.as_str())
            .unwrap()["target"]["commit"]["hash"]
            .clone();
        let again = mock.push_run_now(&slug, "SUCCESSFUL");
        mock.update_run(&slug, &again, |run| {
            run["target"]["commit"]["hash"] = commit.clone()
        });
        export(&mock, out.path());
        let failed_there = tests_of_run(out.path(), &uuid);
        let passed = tests_of_run(out.path(), &again);
        assert!(!failed_there.is_empty());
        assert_eq!(passed, failed_there, "same export: {same_export}");
    }
}

#[test]
fn a_step_without_a_report_costs_one_request_once() {
    let (mock, failed) = mock_with_failures();
    let out = tempfile::tempdir().unwrap();
    let (summary, _) = export(&mock, out.path());
    // Per failed run: the Build step's report and its failed (and errored) cases, and the
    // deploy step's 404.
    let asked: Vec<String> = mock
        .requests()
        .iter()
        .filter(|r| r.path.contains("test_reports"))
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(tests_requests(&summary) as usize, asked.len());
    let deploy_steps = asked.iter().filter(|p| p.contains("-4001-8555-")).count();
    assert_eq!(deploy_steps, failed.len(), "{asked:#?}");
    // A new run only: its own steps, nothing of the old ones again.
    let added = mock.push_run_now("api", "FAILED");
    let added = added.replace('{', "%7B").replace('}', "%7D");
    mock.clear_log();
    let (summary, _) = export(&mock, out.path());
    let again: Vec<String> = mock
        .requests()
        .iter()
        .filter(|r| r.path.contains("test_reports"))
        .map(|r| r.path.clone())
        .collect();
    assert!(
        !again.is_empty() && again.iter().all(|p| p.contains(&added)),
        "{again:#?}"
    );
    assert_eq!(tests_requests(&summary) as usize, again.len());
}

#[test]
fn a_recording_replays_to_the_tables_the_export_wrote_and_keeps_no_failure_message() {
    let (mock, failed) = mock_with_failures();
    let (slug, uuid) = &failed[0];
    mock.rerun(slug, uuid, "SUCCESSFUL");
    let (out, recording, replayed) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let rec = recording.path().join("rec");
    let mut args = export_args(out.path().to_str().unwrap(), &["--with", "tests"]);
    args.extend(["--record", rec.to_str().unwrap()]);
    let output = bbpipe_with_env(&args, &env(&mock));
    assert!(output.status.success(), "{}", stderr(&output));
    let output = bbpipe(&[
        "replay",
        rec.to_str().unwrap(),
        "--out",
        replayed.path().to_str().unwrap(),
        "--with",
        "tests",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    for table in ["test_reports", "test_cases", "pipeline_steps"] {
        let exported = rows_without_export_time(out.path(), table);
        assert!(!exported.is_empty(), "{table}");
        assert_eq!(
            rows_without_export_time(replayed.path(), table),
            exported,
            "{table}"
        );
    }
    for path in all_files(&rec) {
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert!(!text.contains("mock-test-secret"), "{}", path.display());
    }
    // Without --with tests the recorded reports are left unread.
    let plain = tempfile::tempdir().unwrap();
    let output = bbpipe(&[
        "replay",
        rec.to_str().unwrap(),
        "--out",
        plain.path().to_str().unwrap(),
        "--with",
        "steps",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(read_table(plain.path(), "test_cases").is_empty());
}

#[test]
fn an_api_that_ignores_the_status_filter_costs_pages_not_wrong_rows() {
    let (mock, failed) = mock_with_failures();
    let (slug, uuid) = &failed[0];
    mock.rerun(slug, uuid, "SUCCESSFUL");
    let filtered = tempfile::tempdir().unwrap();
    export(&mock, filtered.path());
    mock.state.lock().unwrap().ignore_status_filter = true;
    let ignored = tempfile::tempdir().unwrap();
    export(&mock, ignored.path());
    for table in ["test_reports", "test_cases"] {
        assert_eq!(
            rows_without_export_time(ignored.path(), table),
            rows_without_export_time(filtered.path(), table),
            "{table}"
        );
    }
}

#[test]
fn a_failure_and_a_later_pass_of_its_commit_both_new_to_a_nightly_are_matched() {
    let (mock, _) = mock_with_failures();
    let out = tempfile::tempdir().unwrap();
    export(&mock, out.path());
    // Both arrive before the next nightly, which reads newest first: the pass before the failure.
    let red = mock.push_run_now("web", "FAILED");
    let green = mock.push_run_now("web", "SUCCESSFUL");
    let commit = json!(format!("{:040x}", 0xc0ffee));
    for run in [&red, &green] {
        mock.update_run("web", run, |r| {
            r["target"]["commit"]["hash"] = commit.clone()
        });
    }
    export(&mock, out.path());
    let names = |uuid: &str| tests_of_run(out.path(), uuid);
    assert!(!names(&red).is_empty());
    assert_eq!(names(&green), names(&red));
}

#[test]
fn a_pass_between_two_failures_of_its_commit_is_read_for_the_earlier_ones_tests() {
    let (mock, _) = mock_with_failures();
    let out = tempfile::tempdir().unwrap();
    export(&mock, out.path());
    let commit = json!(format!("{:040x}", 0xbadc0de));
    let red = mock.push_run_now("web", "FAILED");
    let green = mock.push_run_now("web", "SUCCESSFUL");
    let red_again = mock.push_run_now("web", "FAILED");
    for run in [&red, &green, &red_again] {
        mock.update_run("web", run, |r| {
            r["target"]["commit"]["hash"] = commit.clone()
        });
    }
    export(&mock, out.path());
    let names = |uuid: &str| tests_of_run(out.path(), uuid);
    assert!(!names(&red).is_empty() && !names(&red_again).is_empty());
    assert_ne!(
        names(&red),
        names(&red_again),
        "the mock fails other tests in each run"
    );
    assert_eq!(names(&green), names(&red));
}
