//! Test reports (`--with tests`): each repository runs one suite of `n` tests in its "Build"
//! step. A failed Build step fails a few of them, chosen by build and attempt, so a test fails
//! in one attempt or run and passes in another (flaky); a passing one passes them all. Deploy
//! steps and every 13th build publish no report (404).

use super::data::{fxhash, steps};
use super::{Repo, State};
use serde_json::{Value, json};

/// The suite of one repository.
#[derive(Debug, Clone, Copy)]
pub struct Suite {
    pub tests: usize,
}

/// The steps of every attempt of a run, oldest first (what Bitbucket's steps listing gives
/// for a re-run pipeline): earlier attempts with the result they had, the Build step's result
/// the attempt's.
pub fn steps_of_every_attempt(state: &State, repo: &Repo, run: &Value) -> Vec<Value> {
    let latest = run["run_number"].as_i64().unwrap_or(1);
    let uuid = run["uuid"].as_str().unwrap_or_default();
    let earlier = state.earlier_results.get(uuid).cloned().unwrap_or_default();
    let mut all = Vec::new();
    for attempt in 1..=latest {
        let mut of_attempt = run.clone();
        of_attempt["run_number"] = json!(attempt);
        if let Some((result, created)) = earlier.get(usize::try_from(attempt - 1).unwrap()) {
            of_attempt["state"]["result"]["name"] = json!(result);
            of_attempt["run_creation_date"] = json!(created);
        }
        let result = of_attempt["state"]["result"]["name"].clone();
        for mut step in steps(repo, &of_attempt) {
            if step["name"] == "Build" && result.is_string() {
                step["state"]["result"]["name"] = result.clone();
            }
            all.push(step);
        }
    }
    all
}

/// The run, attempt and step of a step uuid, where it has a report.
fn find<'a>(state: &'a State, repo: &'a Repo, step_uuid: &str) -> Option<(&'a Value, Value)> {
    for run in &repo.runs {
        for step in steps_of_every_attempt(state, repo, run) {
            if step["uuid"] == step_uuid {
                let build = run["build_number"].as_i64()?;
                let reported = step["name"] == "Build" && build % 13 != 0;
                return reported.then_some((run, step));
            }
        }
    }
    None
}

/// The suite's cases as one step ran them.
pub fn cases(suite: Suite, repo: &Repo, build: i64, step: &Value) -> Vec<Value> {
    let attempt = step["run_number"].as_i64().unwrap_or(1);
    let failed = step["state"]["result"]["name"] == "FAILED";
    let n = suite.tests as i64;
    let step_uuid = step["uuid"].as_str().unwrap_or_default();
    (0..n)
        .map(|k| {
            let fails = failed
                && (k == (build * 7 + attempt) % n
                    || (k % 5 == 1 && (k + build + attempt) % 3 == 0));
            let status = match (fails, k % 4 == 3) {
                (false, _) => "SUCCESSFUL",
                (true, false) => "FAILED",
                (true, true) => "ERROR",
            };
            let package = format!("com.acme.{}.Suite{}", repo.slug.replace('-', "_"), k % 3);
            let duration = if k % 2 == 0 {
                format!("PT{k}.25S")
            } else {
                format!("{k}.5")
            };
            json!({
                "type": "test_case",
                "uuid": format!("{{{:08x}-7e57-4c00-8000-{:012x}}}", k, fxhash(step_uuid)),
                "name": format!("test_{k}"),
                "fully_qualified_name": format!("{package}.test_{k}"),
                "package_name": package,
                "status": status,
                "duration": duration,
                "test_case_reasons": [{"message": "expected 1 got 2 (token mock-test-secret)"}],
            })
        })
        .collect()
}

/// The counts of a step's report; `None` when it has none.
pub fn report(state: &State, repo: &Repo, step_uuid: &str) -> Option<Value> {
    let suite = state.test_suite?;
    let (run, step) = find(state, repo, step_uuid)?;
    let all = cases(suite, repo, run["build_number"].as_i64()?, &step);
    let count = |status: &str| all.iter().filter(|c| c["status"] == status).count();
    Some(json!({
        "type": "pipeline_step_test_report",
        "number_of_test_cases": all.len(),
        "number_of_successful_test_cases": count("SUCCESSFUL"),
        "number_of_failed_test_cases": count("FAILED"),
        "number_of_error_test_cases": count("ERROR"),
        "number_of_skipped_test_cases": 0,
    }))
}

/// A step's cases of the statuses asked for (all when none is); `None` without a report.
pub fn listed(
    state: &State,
    repo: &Repo,
    step_uuid: &str,
    statuses: &[String],
) -> Option<Vec<Value>> {
    let suite = state.test_suite?;
    let (run, step) = find(state, repo, step_uuid)?;
    let mut all = cases(suite, repo, run["build_number"].as_i64()?, &step);
    if !statuses.is_empty() && !state.ignore_status_filter {
        all.retain(|c| statuses.iter().any(|s| c["status"] == s.as_str()));
    }
    Some(all)
}
