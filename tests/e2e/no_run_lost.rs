//! Exports that lose no run: runs arriving while pages are read and retried, re-runs of old
//! pipelines, an API that ignores the sort, first exports interrupted and resumed, the
//! unfinished-run schedule, and the small traps around them.

use crate::common::mock::{Auth, Fault, MockBitbucket};
use crate::common::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "tkn-no-run-lost";

/// The tests' export, with retries enough for a mock that fails 15% of its listings.
fn base_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = export_args(out, &["--max-retries", "12"]);
    args.extend(extra);
    args
}

fn env(mock: &MockBitbucket) -> Vec<(&'static str, String)> {
    vec![
        ("BITBUCKET_API_URL", mock.url.clone()),
        ("BITBUCKET_ACCESS_TOKEN", TOKEN.to_string()),
    ]
}

fn export(mock: &MockBitbucket, out: &Path, extra: &[&str]) -> std::process::Output {
    bbpipe_with_env(&base_args(out.to_str().unwrap(), extra), &env(mock))
}

fn export_ok(mock: &MockBitbucket, out: &Path, extra: &[&str]) -> (String, String) {
    let output = export(mock, out, extra);
    assert!(
        output.status.success(),
        "export failed: {}",
        stderr(&output)
    );
    (stdout(&output), stderr(&output))
}

/// (uuid, run_number) of every run in the dataset.
fn runs_in(out: &Path) -> BTreeSet<(String, i64)> {
    read_table(out, "pipeline_runs")
        .iter()
        .map(|r| {
            (
                r["uuid"].as_str().unwrap().to_string(),
                r["run_number"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn assert_verified(out: &Path) {
    let verified = bbpipe(&["verify-output", out.to_str().unwrap()]);
    assert!(verified.status.success(), "{}", stdout(&verified));
}

#[test]
fn runs_arriving_while_pages_are_retried_are_never_lost() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    for i in 0..6 {
        mock.add_repo(&format!("repo-{i}"), 450 + i * 20);
    }
    {
        let mut state = mock.state.lock().unwrap();
        state.arrive_every = Some(2); // a new run every other listing request
        state.fault_rate = 0.15; // and 15% of them answer 502 first
    }
    let before: BTreeSet<String> = mock.all_runs().into_iter().map(|(u, _)| u).collect();
    let out = tempfile::tempdir().unwrap();
    let (first, _) = export_ok(&mock, out.path(), &["--concurrency", "4"]);
    assert!(
        report(&first)["requests"]["retries"].as_u64() > Some(0),
        "{first}"
    );
    let exported: BTreeSet<String> = runs_in(out.path()).into_iter().map(|(u, _)| u).collect();
    let missing: Vec<&String> = before.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "runs lost by the full export: {missing:?}"
    );
    assert!(
        mock.all_runs().len() > before.len() + 10,
        "runs arrived during the export"
    );

    // Runs that arrived during the first are there after the next one.
    let at_second = mock.all_runs();
    export_ok(&mock, out.path(), &["--concurrency", "4"]);
    let exported = runs_in(out.path());
    let missing: Vec<_> = at_second
        .iter()
        .filter(|(uuid, _)| !exported.iter().any(|(u, _)| u == uuid))
        .collect();
    assert!(
        missing.is_empty(),
        "runs lost by the incremental export: {missing:?}"
    );
    assert_verified(out.path());
}

#[test]
fn reruns_of_old_pipelines_come_back_with_their_new_result() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 260);
    mock.add_repo("web", 40);
    let out = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let rules = config.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"production\"\nworkflow = \"^deploy-to-production$\"\n",
    )
    .unwrap();
    let rules = rules.to_str().unwrap();
    export_ok(&mock, out.path(), &["--rules", rules]);
    // Six pipelines created months before the watermark, re-run now (two of them failed
    // deploys fixed by their re-run).
    let old: Vec<(String, String)> = {
        let state = mock.state.lock().unwrap();
        [(0, 3), (0, 57), (0, 130), (0, 201), (1, 5), (1, 20)]
            .iter()
            .map(|&(repo, run)| {
                (
                    state.repos[repo].slug.clone(),
                    state.repos[repo].runs[run]["uuid"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            })
            .collect()
    };
    for (i, (slug, uuid)) in old.iter().enumerate() {
        let result = if i % 2 == 0 { "FAILED" } else { "SUCCESSFUL" };
        mock.rerun(slug, uuid, result);
    }
    mock.clear_log();
    let (summary, _) = export_ok(&mock, out.path(), &["--rules", rules]);
    assert_eq!(
        requests_in(&summary),
        1 + 2,
        "one page per repository: {summary}"
    );
    assert!(
        mock.requests()
            .iter()
            .filter(|r| r.path.contains("/pipelines?"))
            .all(|r| r.path.contains("sort=-run_creation_date")),
        "incremental exports page by the latest run"
    );
    let runs = read_table(out.path(), "pipeline_runs");
    let deployments = read_table(out.path(), "deployments");
    for (i, (_, uuid)) in old.iter().enumerate() {
        let run = runs.iter().find(|r| r["uuid"] == json!(uuid)).unwrap();
        assert_eq!(run["run_number"], 2, "{uuid}: its re-run");
        let failed = i % 2 == 0;
        assert_eq!(run["result"], if failed { "FAILED" } else { "SUCCESSFUL" });
        let deployment = deployments
            .iter()
            .find(|d| d["pipeline_run_uuid"] == json!(uuid))
            .unwrap_or_else(|| panic!("a deployment for {uuid}"));
        assert_eq!(deployment["success"], json!(!failed));
        assert_eq!(deployment["run_number"], 2);
    }
    // Each run once, each deployment once, whatever moved.
    assert_eq!(runs.len(), 300);
    assert_verified(out.path());
}

#[test]
fn an_api_that_ignores_the_sort_falls_back_with_a_warning() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 150);
    let out = tempfile::tempdir().unwrap();
    export_ok(&mock, out.path(), &[]);
    mock.state.lock().unwrap().ignore_sort = true;
    let added = mock.push_run("api", "COMPLETED", Some("SUCCESSFUL"));
    let (summary, log) = export_ok(&mock, out.path(), &[]);
    assert!(log.contains("ignored sort=-run_creation_date"), "{log}");
    assert!(log.contains("re-runs of pipelines created before the lookback will be missed"));
    assert_eq!(
        report(&summary)["export"]["sort_fallbacks"],
        json!(["api"]),
        "{summary}"
    );
    assert!(runs_in(out.path()).iter().any(|(u, _)| *u == added));
    assert_eq!(runs_in(out.path()).len(), 151);
}

#[test]
fn an_api_that_rejects_the_sort_falls_back_to_newest_created_first() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 150);
    let out = tempfile::tempdir().unwrap();
    export_ok(&mock, out.path(), &[]);
    mock.state.lock().unwrap().reject_run_creation_sort = true;
    let added = mock.push_run("api", "COMPLETED", Some("SUCCESSFUL"));
    mock.clear_log();
    let (summary, log) = export_ok(&mock, out.path(), &[]);
    assert!(log.contains("ignored sort=-run_creation_date"), "{log}");
    assert!(runs_in(out.path()).iter().any(|(u, _)| *u == added));
    // The listing, the refused page, then page 1 newest first, read once.
    assert_eq!(requests_in(&summary), 3, "{summary}");
}

/// Starts an export in the background and waits until it committed `checkpoints` of them.
/// The caller kills or signals the child and waits for it.
#[allow(clippy::zombie_processes)]
fn start_slow_export(mock: &MockBitbucket, out: &Path, checkpoints: usize) -> std::process::Child {
    let args = base_args(
        out.to_str().unwrap(),
        // A short lease: after a kill -9 the next export waits it out.
        &[
            "--checkpoint-requests",
            "3",
            "--concurrency",
            "2",
            "--lease",
            "3s",
        ],
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_bbpipe"));
    command
        .args(&args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in env(mock) {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    let log = out.join("_manifests/acme");
    loop {
        let committed = std::fs::read_dir(&log).map(|d| d.count()).unwrap_or(0);
        if committed >= checkpoints {
            return child;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no checkpoint came");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn slow_mock() -> MockBitbucket {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    // repo-0 is read first and takes 15 pages, so every checkpoint the kill can land after
    // has it part-read: the next export must resume it, not start it again.
    mock.add_repo("repo-0", 1500);
    for i in 1..8 {
        mock.add_repo(&format!("repo-{i}"), 230);
    }
    mock.state.lock().unwrap().delay_ms = 40;
    mock
}

fn resumes_after(signal: Option<&str>) {
    let mock = slow_mock();
    let out = tempfile::tempdir().unwrap();
    let mut child = start_slow_export(&mock, out.path(), 3);
    let status = match signal {
        None => {
            child.kill().unwrap(); // kill -9
            child.wait().unwrap()
        }
        Some(name) => {
            let sent = Command::new("kill")
                .args(["-s", name, &child.id().to_string()])
                .status()
                .unwrap();
            assert!(sent.success());
            let waited = Instant::now();
            let status = child.wait().unwrap();
            assert!(
                waited.elapsed() < Duration::from_secs(10),
                "stops within seconds"
            );
            status
        }
    };
    let mut stderr_text = String::new();
    if let Some(mut err) = child.stderr.take() {
        use std::io::Read;
        err.read_to_string(&mut stderr_text).unwrap();
    }
    match signal {
        Some("TERM") => assert_eq!(status.code(), Some(143), "{stderr_text}"),
        Some("INT") => assert_eq!(status.code(), Some(130), "{stderr_text}"),
        _ => assert!(!status.success()),
    }
    if signal.is_some() {
        // Stopped cleanly: nothing uncommitted left behind, the lease released.
        assert!(stderr_text.contains("interrupted by SIG"), "{stderr_text}");
        assert_verified(out.path());
        let leftovers: Vec<_> = walk(out.path())
            .into_iter()
            .filter(|p| {
                p.to_string_lossy().contains("partial") || p.to_string_lossy().contains("#")
            })
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
    let committed_before = runs_in(out.path()).len();
    assert!(committed_before > 0, "checkpoints committed runs");

    mock.clear_log();
    let (summary, _) = export_ok(&mock, out.path(), &["--lease", "2s", "--wait-lock", "30s"]);
    let resumed_requests = requests_in(&summary);
    assert!(
        report(&summary)["export"]["resumed"].as_u64() > Some(0),
        "{summary}"
    );
    let fresh = tempfile::tempdir().unwrap();
    let (fresh_summary, _) = export_ok(&mock, fresh.path(), &[]);
    assert!(
        resumed_requests < requests_in(&fresh_summary),
        "resuming ({resumed_requests}) costs less than starting over ({})",
        requests_in(&fresh_summary)
    );
    for table in ["pipeline_runs", "repositories"] {
        assert_eq!(
            rows_without_export_time(out.path(), table),
            rows_without_export_time(fresh.path(), table),
            "{table}: the resumed dataset equals a clean export"
        );
    }
    assert_verified(out.path());
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn a_first_export_killed_midway_resumes_from_its_last_checkpoint() {
    resumes_after(None);
}

#[test]
fn sigterm_stops_cleanly_with_143_and_the_next_export_resumes() {
    resumes_after(Some("TERM"));
}

#[test]
fn sigint_stops_cleanly_with_130() {
    resumes_after(Some("INT"));
}

#[test]
fn unfinished_runs_older_than_the_revisit_age_are_dropped() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 150);
    let paused = mock.state.lock().unwrap().repos[0].runs[3]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    mock.update_run("api", &paused, |r| {
        r["state"] = json!({"name": "IN_PROGRESS", "stage": {"name": "PAUSED"}});
        r.as_object_mut().unwrap().remove("completed_on");
    });
    let out = tempfile::tempdir().unwrap();
    export_ok(&mock, out.path(), &[]);
    assert_eq!(
        unfinished_runs(out.path(), "acme", "api"),
        std::slice::from_ref(&paused)
    );
    // Created in June: months old. With --max-revisit-age 90d it is no longer tracked.
    mock.clear_log();
    let (summary, _) = export_ok(&mock, out.path(), &["--max-revisit-age", "90d"]);
    assert!(
        !mock
            .requests()
            .iter()
            .any(|r| r.path.contains("/pipelines/%7B")),
        "not fetched again"
    );
    let export = &report(&summary)["export"];
    assert_eq!(
        (
            &export["unfinished_tracked"],
            &export["revisited"],
            &export["unfinished_dropped"]
        ),
        (&json!(0), &json!(0), &json!(1)),
        "{summary}"
    );
    assert!(unfinished_runs(out.path(), "acme", "api").is_empty());
}

#[test]
fn a_workspace_is_one_whatever_its_case() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 20);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let mut args = base_args(dir, &[]);
    args[2] = "Acme";
    let output = bbpipe_with_env(&args, &env(&mock));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(out.path().join("pipeline_runs/workspace=acme").exists());
    let (summary, _) = export_ok(&mock, out.path(), &[]);
    assert_eq!(
        requests_in(&summary),
        2,
        "incremental: the state of `Acme` is acme's"
    );
}

#[test]
fn a_renamed_repository_continues_from_its_state() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 250);
    let out = tempfile::tempdir().unwrap();
    export_ok(&mock, out.path(), &[]);
    mock.state.lock().unwrap().repos[0].slug = "api-gateway".into();
    mock.clear_log();
    let (summary, _) = export_ok(&mock, out.path(), &[]);
    assert_eq!(
        requests_in(&summary),
        2,
        "one page, not its history again: {summary}"
    );
    assert_eq!(runs_in(out.path()).len(), 250);
}

#[test]
fn a_token_with_a_newline_is_invalid_credentials_at_once() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 1);
    let out = tempfile::tempdir().unwrap();
    let args = base_args(out.path().to_str().unwrap(), &[]);
    let started = Instant::now();
    let output = bbpipe_with_env(
        &args,
        &[
            ("BITBUCKET_API_URL", mock.url.clone()),
            ("BITBUCKET_ACCESS_TOKEN", format!("{TOKEN}\nX-Evil: 1")),
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!stderr(&output).contains(TOKEN), "the token is never shown");
    assert!(mock.requests().is_empty(), "nothing sent");
}

#[test]
fn retry_after_zero_waits_and_huge_values_do_not_panic() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 5);
    for _ in 0..2 {
        mock.state
            .lock()
            .unwrap()
            .faults
            .push_back(Fault::RetryAfter("0".into()));
    }
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let mut args = base_args(dir, &[]);
    let delay = args.iter().position(|a| *a == "--retry-delay-ms").unwrap();
    args[delay + 1] = "200";
    let started = Instant::now();
    let output = bbpipe_with_env(&args, &env(&mock));
    assert!(output.status.success(), "{}", stderr(&output));
    // Two 429s saying "retry now", each waited out with the backoff all the same (400 ms,
    // then 800 ms, jittered upwards).
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        report(&stdout(&output))["requests"]["rate_limited"],
        2,
        "{}",
        stdout(&output)
    );

    // A Retry-After past any patience gives up cleanly instead of overflowing.
    mock.state
        .lock()
        .unwrap()
        .faults
        .push_back(Fault::RetryAfter("18446744073709551615".into()));
    let output = export(&mock, out.path(), &[]);
    assert!(!output.status.success());
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("rate limit"),
        "{}",
        stderr(&output)
    );

    // Lookbacks and revisit ages past the calendar read everything, without a panic.
    let output = export(
        &mock,
        out.path(),
        &[
            "--lookback",
            "100000000000d",
            "--max-revisit-age",
            "100000000000d",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_malformed_run_is_rejected_and_the_rest_commits() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 150);
    mock.add_repo("web", 10);
    let (bad_time, bad_type) = {
        let state = mock.state.lock().unwrap();
        let uuid = |i: usize| state.repos[0].runs[i]["uuid"].as_str().unwrap().to_string();
        (uuid(120), uuid(30))
    };
    mock.update_run("api", &bad_time, |r| {
        r["created_on"] = json!("yesterday-ish");
        r["variables"] = json!([{"key": "DEPLOY_KEY", "value": "hunter2-secret"}]);
    });
    mock.update_run("api", &bad_type, |r| r["build_number"] = json!("thirty"));
    let out = tempfile::tempdir().unwrap();
    let output = export(&mock, out.path(), &[]);
    assert_eq!(output.status.code(), Some(8), "{}", stderr(&output));
    let summary = stdout(&output);
    let summary = report(&summary);
    assert_eq!(summary["rejected"], 2, "{summary}");
    let examples = summary["rejected_examples"].to_string();
    assert!(examples.contains(".created_on"), "{examples}");
    assert!(stderr(&output).contains(&bad_time), "{}", stderr(&output));
    // The rest is committed.
    assert_eq!(runs_in(out.path()).len(), 158);
    assert_verified(out.path());
    let rejects = read_table(out.path(), "rejects");
    assert_eq!(rejects.len(), 2);
    let time_reject = rejects
        .iter()
        .find(|r| r["run_uuid"] == json!(bad_time))
        .unwrap();
    assert!(
        time_reject["json_path"]
            .as_str()
            .unwrap()
            .ends_with("].created_on"),
        "{time_reject:?}"
    );
    assert!(
        time_reject["page_url"]
            .as_str()
            .unwrap()
            .contains("/pipelines?")
    );
    assert!(
        !time_reject["raw_json"]
            .as_str()
            .unwrap()
            .contains("hunter2")
    );
    let type_reject = rejects
        .iter()
        .find(|r| r["run_uuid"] == json!(bad_type))
        .unwrap();
    assert!(
        type_reject["json_path"]
            .as_str()
            .unwrap()
            .ends_with(".build_number"),
        "{type_reject:?}"
    );

    // Still broken: fetched again by uuid, rejected again, nothing else changes.
    mock.clear_log();
    let output = export(&mock, out.path(), &[]);
    assert_eq!(output.status.code(), Some(8), "{}", stderr(&output));
    let fetched: Vec<String> = mock
        .requests()
        .iter()
        .filter(|r| r.path.contains("/pipelines/%7B"))
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(fetched.len(), 2, "{fetched:?}");
    assert_eq!(read_table(out.path(), "rejects").len(), 2);

    // Fixed upstream: the good version replaces the reject.
    mock.update_run("api", &bad_time, |r| {
        r["created_on"] = json!("2026-06-06T01:00:00.000000Z");
    });
    let output = export(&mock, out.path(), &[]);
    assert_eq!(
        output.status.code(),
        Some(8),
        "one left: {}",
        stderr(&output)
    );
    let rejects = read_table(out.path(), "rejects");
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0]["run_uuid"], json!(bad_type));
    assert_eq!(runs_in(out.path()).len(), 159);
    mock.update_run("api", &bad_type, |r| r["build_number"] = json!(31));
    let (summary, _) = export_ok(&mock, out.path(), &[]);
    assert_eq!(report(&summary)["rejected"], 0, "{summary}");
    assert!(read_table(out.path(), "rejects").is_empty());
    assert_eq!(runs_in(out.path()).len(), 160);
    assert_verified(out.path());
}

#[test]
fn since_bounds_a_first_export_without_reading_older_pages() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 1000); // hourly from 2026-06-01: ten pages, oldest first
    let out = tempfile::tempdir().unwrap();
    let (summary, _) = export_ok(&mock, out.path(), &["--since", "2026-06-30"]);
    let since = micros("2026-06-30T00:00:00Z");
    let rows = read_table(out.path(), "pipeline_runs");
    let created: Vec<i64> = rows
        .iter()
        .map(|r| r["created_at"].as_i64().unwrap())
        .collect();
    let wanted = mock.all_runs().len().saturating_sub(695); // builds 696.. are created on or after 2026-06-30
    assert!(
        created.iter().filter(|&&c| c >= since).count() == wanted,
        "every run since the date: {summary}"
    );
    assert!(
        created.iter().all(|&c| c >= since - 100 * 3_600_000_000),
        "nothing from pages wholly before it"
    );
    // 1 listing + page 1 + bisection (at most 4) + pages 7..10.
    assert!(requests_in(&summary) <= 1 + 1 + 4 + 4, "{summary}");
}

/// Older than the default year: the 400-day-old gate is tracked only with a longer age.
const AGE: &[&str] = &["--max-revisit-age", "500d"];

/// A mock whose runs are spaced a day apart up to now, three of them paused at a manual gate
/// 30, 120 and 400 days ago; returns their uuids.
fn paused_gates() -> (MockBitbucket, Vec<String>) {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.clock(
        chrono::Utc::now() - chrono::Duration::days(420),
        chrono::Duration::days(1),
    );
    mock.add_repo("api", 420);
    mock.add_repo("web", 30);
    let mut paused = Vec::new();
    for days_ago in [30usize, 120, 400] {
        let uuid = mock.state.lock().unwrap().repos[0].runs[420 - days_ago]["uuid"]
            .as_str()
            .unwrap()
            .to_string();
        mock.update_run("api", &uuid, |r| {
            r["state"] = json!({"name": "IN_PROGRESS", "type": "pipeline_state_in_progress",
                "stage": {"name": "PAUSED", "type": "pipeline_state_in_progress_paused"}});
            r.as_object_mut().unwrap().remove("completed_on");
        });
        paused.push(uuid);
    }
    (mock, paused)
}

fn status_of(out: &Path, uuid: &str) -> String {
    let runs = read_table(out, "pipeline_runs");
    let run = runs.iter().find(|r| r["uuid"] == json!(uuid)).unwrap();
    run["status"].as_str().unwrap().to_string()
}

#[test]
fn paused_runs_of_any_age_land_the_night_they_complete_for_one_listing_per_repository() {
    let (mock, paused) = paused_gates();
    let out = tempfile::tempdir().unwrap();
    export_ok(&mock, out.path(), AGE);
    let mut tracked = unfinished_runs(out.path(), "acme", "api");
    tracked.sort();
    let mut expected = paused.clone();
    expected.sort();
    assert_eq!(tracked, expected);

    // Nothing changed: one filtered listing for the repository with tracked runs, no GET of
    // a run.
    mock.clear_log();
    let (summary, _) = export_ok(&mock, out.path(), AGE);
    let log = mock.requests();
    let filtered: Vec<_> = log.iter().filter(|r| r.path.contains("status=")).collect();
    assert_eq!(filtered.len(), 1, "{filtered:?}");
    assert!(filtered[0].path.contains("/api/pipelines?"));
    assert!(!log.iter().any(|r| r.path.contains("/pipelines/%7B")));
    assert_eq!(
        report(&summary)["export"]["revisited"],
        json!(0),
        "{summary}"
    );

    // All three gates released today: each lands. The 30-day one is on the newest page the
    // export reads anyway; the two older ones cost one GET each.
    for uuid in &paused {
        mock.update_run("api", uuid, |r| {
            r["state"] = json!({"name": "COMPLETED", "type": "pipeline_state_completed",
                "result": {"name": "SUCCESSFUL", "type": "pipeline_state_completed_successful"}});
            r["completed_on"] = r["created_on"].clone();
        });
    }
    mock.clear_log();
    let (summary, _) = export_ok(&mock, out.path(), AGE);
    let log = mock.requests();
    assert_eq!(log.iter().filter(|r| r.path.contains("status=")).count(), 1);
    assert_eq!(
        log.iter()
            .filter(|r| r.path.contains("/pipelines/%7B"))
            .count(),
        2
    );
    assert_eq!(
        report(&summary)["export"]["revisited"],
        json!(2),
        "{summary}"
    );
    for uuid in &paused {
        assert_eq!(status_of(out.path(), uuid), "success", "{uuid}");
    }
    assert!(unfinished_runs(out.path(), "acme", "api").is_empty());

    // Nothing tracked any more: no filtered listing at all.
    mock.clear_log();
    export_ok(&mock, out.path(), AGE);
    assert!(!mock.requests().iter().any(|r| r.path.contains("status=")));
}

#[test]
fn an_api_that_ignores_the_status_filter_falls_back_to_the_schedule_with_a_warning() {
    let (mock, paused) = paused_gates();
    mock.state.lock().unwrap().ignore_status_filter = true;
    let out = tempfile::tempdir().unwrap();
    export_ok(&mock, out.path(), AGE);
    mock.clear_log();
    let (_, logs) = export_ok(&mock, out.path(), AGE);
    assert!(logs.contains("ignored the status filter"), "{logs}");
    // The schedule: every paused run is months old and was read today, so none is due yet.
    assert!(
        !mock
            .requests()
            .iter()
            .any(|r| r.path.contains("/pipelines/%7B"))
    );
    assert_eq!(
        unfinished_runs(out.path(), "acme", "api").len(),
        paused.len()
    );
}

#[test]
fn a_gate_paused_longer_than_the_revisit_age_is_no_longer_tracked() {
    let (mock, paused) = paused_gates();
    let out = tempfile::tempdir().unwrap();
    export_ok(&mock, out.path(), &[]);
    export_ok(&mock, out.path(), &[]);
    // The default year keeps the 30- and 120-day gates and lets the 400-day one go.
    let tracked = unfinished_runs(out.path(), "acme", "api");
    assert_eq!(tracked.len(), 2, "{tracked:?}");
    assert!(!tracked.contains(&paused[2]));
}
