//! End to end: `bbpipe check` and `bbpipe export` against a local mock of the Bitbucket API.

use crate::common::mock::{Auth, Fault, MockBitbucket};
use crate::common::*;
use serde_json::{Value, json};
use std::path::Path;

const TOKEN: &str = "tkn-5ecret-value-not-for-logs";

fn env(mock: &MockBitbucket, vars: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut env = vec![("BITBUCKET_API_URL", mock.url.clone())];
    env.extend(vars.iter().map(|(k, v)| (*k, v.to_string())));
    env
}

/// A mock API that accepts HTTP Basic with `user` and the test token, with one repository.
fn basic_auth_mock(user: &str) -> MockBitbucket {
    let mock = MockBitbucket::start(
        "acme",
        Auth::Basic {
            user: user.into(),
            password: TOKEN.into(),
        },
    );
    mock.add_repo("api", 1);
    mock
}

fn bearer() -> Vec<(&'static str, &'static str)> {
    vec![("BITBUCKET_ACCESS_TOKEN", TOKEN)]
}

/// Fast retries for tests; everything else as a user runs it.
fn export(mock: &MockBitbucket, out: &Path, extra: &[&str]) -> std::process::Output {
    let args = export_args(out.to_str().unwrap(), extra);
    bbpipe_with_env(&args, &env(mock, &bearer()))
}

fn export_ok(mock: &MockBitbucket, out: &Path, extra: &[&str]) -> String {
    let output = export(mock, out, extra);
    assert!(
        output.status.success(),
        "export failed: {}",
        stderr(&output)
    );
    stdout(&output)
}

fn check(mock: &MockBitbucket, vars: &[(&'static str, &str)]) -> (Option<i32>, Value, String) {
    let output = bbpipe_with_env(
        &[
            "check",
            "--workspace",
            "acme",
            "--json",
            "--max-retries",
            "0",
        ],
        &env(mock, vars),
    );
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code(), json, stderr(&output))
}

#[test]
fn check_reports_each_outcome_with_its_exit_code() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 3);
    let (code, json, _) = check(&mock, &bearer());
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["code"], "ok");
    assert_eq!(json["auth_mode"], "access_token");
    assert_eq!(json["repositories"], 1);

    let (code, json, _) = check(&mock, &[("BITBUCKET_ACCESS_TOKEN", "wrong")]);
    assert_eq!(
        (code, json["code"].as_str()),
        (Some(3), Some("invalid_credentials"))
    );
    assert!(json["hint"].as_str().unwrap().contains("Bearer"), "{json}");

    mock.state.lock().unwrap().missing_scopes = vec!["pipeline".into()];
    let (code, json, _) = check(&mock, &bearer());
    assert_eq!(
        (code, json["code"].as_str()),
        (Some(4), Some("invalid_permissions"))
    );
    assert!(
        json["hint"]
            .as_str()
            .unwrap()
            .contains("missing scope pipeline"),
        "{json}"
    );
    mock.state.lock().unwrap().missing_scopes.clear();

    let empty = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    let (code, json, _) = check(&empty, &bearer());
    assert_eq!(
        (code, json["code"].as_str()),
        (Some(5), Some("no_resources"))
    );

    let other = MockBitbucket::start("someone-else", Auth::Bearer(TOKEN.into()));
    let (code, json, _) = check(&other, &bearer());
    assert_eq!(
        (code, json["code"].as_str()),
        (Some(6), Some("workspace_not_found"))
    );

    let dead = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    let mut vars = env(&dead, &bearer());
    vars[0].1 = "http://127.0.0.1:9".into();
    let output = bbpipe_with_env(
        &[
            "check",
            "--workspace",
            "acme",
            "--json",
            "--max-retries",
            "0",
        ],
        &vars,
    );
    assert_eq!(output.status.code(), Some(7));
    assert_eq!(
        serde_json::from_slice::<Value>(&output.stdout).unwrap()["code"],
        "unreachable"
    );
}

#[test]
fn every_auth_mode_and_the_usual_mistakes() {
    let api = basic_auth_mock("ada@example.com");
    let (code, json, _) = check(
        &api,
        &[
            ("BITBUCKET_EMAIL", "ada@example.com"),
            ("BITBUCKET_API_TOKEN", TOKEN),
        ],
    );
    assert_eq!(
        (code, json["auth_mode"].as_str()),
        (Some(0), Some("api_token"))
    );
    // The classic mistake: the Bitbucket username instead of the Atlassian account email.
    let (code, json, _) = check(
        &api,
        &[("BITBUCKET_EMAIL", "ada"), ("BITBUCKET_API_TOKEN", TOKEN)],
    );
    assert_eq!(code, Some(3));
    assert!(json["hint"].as_str().unwrap().contains("EMAIL"), "{json}");

    let app = basic_auth_mock("ada");
    let (code, json, err) = check(
        &app,
        &[
            ("BITBUCKET_USERNAME", "ada"),
            ("BITBUCKET_APP_PASSWORD", TOKEN),
        ],
    );
    assert_eq!(
        (code, json["auth_mode"].as_str()),
        (Some(0), Some("app_password"))
    );
    assert!(err.contains("removed by Atlassian on 2026-07-28"), "{err}");

    let (code, json, _) = check(&app, &[("BITBUCKET_USERNAME", "ada")]);
    assert_eq!(code, Some(3));
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("BITBUCKET_APP_PASSWORD is not"),
        "{json}"
    );
    let (code, json, _) = check(
        &app,
        &[
            ("BITBUCKET_ACCESS_TOKEN", TOKEN),
            ("BITBUCKET_USERNAME", "ada"),
            ("BITBUCKET_APP_PASSWORD", "x"),
        ],
    );
    assert_eq!(code, Some(3));
    assert!(
        json["message"].as_str().unwrap().contains("ambiguous"),
        "{json}"
    );
    for output in [check(&api, &[("BITBUCKET_EMAIL", "ada")]), check(&app, &[])] {
        assert!(!output.1.to_string().contains(TOKEN) && !output.2.contains(TOKEN));
    }
}

#[test]
fn a_full_export_reads_every_page_with_the_minimum_requests() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    // 130 repositories: two pages of them. Run counts on page boundaries and across them.
    let mut runs_total = 0;
    let mut pipeline_requests = 0;
    for i in 0..130 {
        let runs = match i {
            0 => 250,
            1 => 100,
            2 => 101,
            3 => 0,
            _ => i % 4,
        };
        mock.add_repo(&format!("repo-{i:03}"), runs);
        runs_total += runs;
        pipeline_requests += runs.div_ceil(100).max(1);
    }
    let out = tempfile::tempdir().unwrap();
    let summary = export_ok(&mock, out.path(), &[]);
    assert_eq!(
        requests_in(&summary),
        2 + pipeline_requests as u64,
        "{summary}"
    );
    let rows = read_table(out.path(), "pipeline_runs");
    assert_eq!(rows.len(), runs_total);
    assert_eq!(read_table(out.path(), "repositories").len(), 130);
    for logged in mock.requests() {
        assert!(logged.path.contains("pagelen=100"), "{}", logged.path);
        if logged.path.contains("/pipelines?") {
            // A first export reads oldest first: new runs append, offsets never shift.
            assert!(logged.path.contains("sort=created_on"), "{}", logged.path);
        }
    }
    let verified = bbpipe(&["verify-output", out.path().to_str().unwrap()]);
    assert!(verified.status.success(), "{}", stdout(&verified));
}

#[test]
fn rate_limits_server_errors_and_resets_are_retried() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 150);
    mock.add_repo("web", 20);
    mock.state.lock().unwrap().faults.extend([
        Fault::RateLimited,
        Fault::RateLimited,
        Fault::RateLimited,
        Fault::BadGatewayHtml,
        Fault::ResetMidBody,
        Fault::RateLimited,
    ]);
    let out = tempfile::tempdir().unwrap();
    let summary = export_ok(&mock, out.path(), &["--concurrency", "1"]);
    let requests = &report(&summary)["requests"];
    assert_eq!(requests["retries"], 6, "{summary}");
    assert_eq!(requests["rate_limited"], 4, "{summary}");
    assert_eq!(read_table(out.path(), "pipeline_runs").len(), 170);
}

#[test]
fn errors_that_retrying_cannot_fix_stop_the_export_and_move_nothing() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 5);
    let out = tempfile::tempdir().unwrap();
    let output = bbpipe_with_env(
        &[
            "export",
            "--workspace",
            "acme",
            "--out",
            out.path().to_str().unwrap(),
        ],
        &env(&mock, &[("BITBUCKET_ACCESS_TOKEN", "expired")]),
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("HTTP 401"), "{}", stderr(&output));
    assert!(!out.path().join("_state").exists(), "state must not move");
    assert_eq!(mock.requests().len(), 1, "401 is not retried");

    mock.state
        .lock()
        .unwrap()
        .faults
        .extend(std::iter::repeat_n(Fault::BadGatewayHtml, 10));
    let output = export(&mock, out.path(), &["--max-retries", "2"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("HTTP 502: 502 Bad Gateway"),
        "{}",
        stderr(&output)
    );
    assert!(parquet_files(out.path()).is_empty() && !out.path().join("_state").exists());
}

#[test]
fn credentials_go_only_to_the_api_origin() {
    let elsewhere = MockBitbucket::start("acme", Auth::Bearer("nobody".into()));
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    for i in 0..120 {
        mock.add_repo(&format!("r{i}"), 1);
    }
    mock.state.lock().unwrap().next_origin = Some(elsewhere.url.clone());
    let out = tempfile::tempdir().unwrap();
    let record = tempfile::tempdir().unwrap();
    let output = export(
        &mock,
        out.path(),
        &["--record", record.path().to_str().unwrap(), "-v"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        elsewhere
            .requests()
            .iter()
            .all(|r| r.authorization.is_none()),
        "a credential left the API origin"
    );
    assert_eq!(
        read_table(out.path(), "repositories").len(),
        120,
        "page 2 came from our own URL"
    );
    // Nowhere: not in logs, not in the recording, not in the dataset.
    assert!(!stdout(&output).contains(TOKEN) && !stderr(&output).contains(TOKEN));
    for dir in [record.path(), out.path()] {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let bytes = std::fs::read(&path).unwrap();
                    assert!(
                        !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
                        "{}",
                        path.display()
                    );
                }
            }
        }
    }
}

#[test]
fn incremental_exports_cost_the_minimum_and_refresh_unfinished_runs() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    // Recent runs, 20 minutes apart: unfinished ones are fetched again at every export.
    mock.clock(
        chrono::Utc::now() - chrono::Duration::days(6),
        chrono::Duration::minutes(20),
    );
    mock.add_repo("api", 240);
    mock.add_repo("web", 30);
    mock.add_repo("docs", 0);
    // A run that was still going days ago (page 2 of api), and one just now (page 1 of web).
    let old = mock.state.lock().unwrap().repos[0].runs[20]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    mock.update_run("api", &old, |r| {
        r["state"] = json!({"name": "IN_PROGRESS", "stage": {"name": "PAUSED"}});
        r.as_object_mut().unwrap().remove("completed_on");
    });
    let recent = mock.push_run("web", "IN_PROGRESS", None);
    let out = tempfile::tempdir().unwrap();
    let first = export_ok(&mock, out.path(), &[]);
    assert_eq!(requests_in(&first), 1 + 3 + 1 + 1);
    assert_eq!(
        unfinished_runs(out.path(), "acme", "api"),
        std::slice::from_ref(&old)
    );
    assert_eq!(
        unfinished_runs(out.path(), "acme", "web"),
        std::slice::from_ref(&recent)
    );

    // Nothing changed: one listing, one page per repository, one per unfinished run beyond it.
    let unchanged = export_ok(&mock, out.path(), &[]);
    assert_eq!(requests_in(&unchanged), 1 + 3 + 1, "{unchanged}");

    // Both runs completed, and new runs arrived.
    for (slug, uuid) in [("api", &old), ("web", &recent)] {
        mock.update_run(slug, uuid, |r| {
            r["state"] = json!({"name": "COMPLETED", "result": {"name": "FAILED"}});
            r["completed_on"] = json!("2026-07-01T00:00:00.123456789Z");
        });
    }
    let added: Vec<String> = (0..3)
        .map(|_| mock.push_run("docs", "COMPLETED", Some("SUCCESSFUL")))
        .collect();
    mock.clear_log();
    export_ok(&mock, out.path(), &[]);
    let rows = read_table(out.path(), "pipeline_runs");
    assert_eq!(rows.len(), 240 + 31 + 3);
    for uuid in [&old, &recent] {
        let row = rows.iter().find(|r| r["uuid"] == json!(uuid)).unwrap();
        assert_eq!(row["status"], "failure", "{uuid} updated once completed");
        assert_eq!(
            row["completed_at"],
            json!(micros("2026-07-01T00:00:00.123456Z"))
        );
    }
    for uuid in &added {
        assert!(rows.iter().any(|r| r["uuid"] == json!(uuid)));
    }
    assert!(
        mock.requests()
            .iter()
            .any(|r| r.path.contains("/pipelines/%7B")),
        "the old run fetched by uuid"
    );
    assert!(unfinished_runs(out.path(), "acme", "api").is_empty());
    let verified = bbpipe(&["verify-output", out.path().to_str().unwrap()]);
    assert!(verified.status.success(), "{}", stdout(&verified));

    // --full ignores the state: the whole history again.
    let full = export_ok(&mock, out.path(), &["--full"]);
    assert_eq!(requests_in(&full), 1 + 3 + 1 + 1);
}

#[test]
fn a_recording_replays_to_the_rows_the_export_wrote() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 130);
    mock.add_repo("web", 7);
    mock.push_run("web", "IN_PROGRESS", None);
    let (exported, replayed, record) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let rules = demo().join("deploy-rules.toml");
    let rules = rules.to_str().unwrap();
    export_ok(
        &mock,
        exported.path(),
        &[
            "--record",
            record.path().to_str().unwrap(),
            "--rules",
            rules,
        ],
    );
    assert!(
        record
            .path()
            .join("acme/api/pipelines/page-0002.json")
            .exists()
    );
    let output = bbpipe(&[
        "replay",
        record.path().to_str().unwrap(),
        "--out",
        replayed.path().to_str().unwrap(),
        "--rules",
        rules,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    for table in ["repositories", "pipeline_runs", "deployments"] {
        let sorted = |dir: &Path| sorted_rows(dir, table);
        assert_eq!(sorted(exported.path()), sorted(replayed.path()), "{table}");
    }
}

#[test]
fn filters_and_repositories_without_pipelines() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    for slug in ["api-gateway", "api-legacy", "web", "wiki"] {
        mock.add_repo(slug, 2);
    }
    mock.state.lock().unwrap().repos[3].pipelines_missing = true;
    let out = tempfile::tempdir().unwrap();
    let output = export(
        &mock,
        out.path(),
        &[
            "--repos",
            "api-*",
            "--repos",
            "wiki",
            "--exclude",
            "*-legacy",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("skipped: wiki"),
        "{}",
        stderr(&output)
    );
    let repos: std::collections::BTreeSet<String> = read_table(out.path(), "pipeline_runs")
        .iter()
        .map(|r| r["repo_slug"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(repos.into_iter().collect::<Vec<_>>(), ["api-gateway"]);
}

#[test]
fn exports_to_s3_keep_their_state_there() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 150);
    mock.add_repo("web", 10);
    let bucket = crate::common::s3::bucket("export-state");
    let out = format!("s3://{bucket}/bitbucket");
    let mut vars = env(&mock, &bearer());
    vars.extend(crate::common::s3::env());
    let args = [
        "export",
        "--workspace",
        "acme",
        "--out",
        &out,
        "--max-requests-per-hour",
        "1000000",
        "--summary",
        "json",
    ];
    let first = bbpipe_with_env(&args, &vars);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(requests_in(&stdout(&first)), 1 + 2 + 1);
    // A fresh machine: nothing local, the state comes from the bucket.
    let second = bbpipe_with_env(&args, &vars);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(requests_in(&stdout(&second)), 1 + 2, "{}", stdout(&second));
    let copy = tempfile::tempdir().unwrap();
    crate::common::s3::download(&bucket, "bitbucket", copy.path());
    assert!(
        !sync_state(copy.path(), "acme").is_empty(),
        "state in the manifests"
    );
    assert_eq!(read_table(copy.path(), "pipeline_runs").len(), 160);
    let verified = bbpipe_with_env(&["verify-output", &out], &vars);
    assert!(verified.status.success(), "{}", stdout(&verified));
}

#[test]
fn recording_into_a_used_directory_is_refused() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 3);
    let (out, record) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(record.path().join("recording.json"), "{}").unwrap();
    let output = export(
        &mock,
        out.path(),
        &["--record", record.path().to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("--record needs a new or empty directory"),
        "{}",
        stderr(&output)
    );
    assert!(mock.requests().is_empty(), "refused before any request");
}
