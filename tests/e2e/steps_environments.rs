//! End to end: `--with steps,environments`. The tables against an independent reading of the
//! fixture JSON, field by field; no secret anywhere; what incremental exports cost; re-runs;
//! the outcome of Bitbucket's deployments; deploy rules with `source = "environments"`.

use crate::common::mock::{Auth, MockBitbucket};
use crate::common::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

const TOKEN: &str = "tkn-5ecret-value-not-for-logs";
/// Every secret the demo fixtures and the mock put in steps.
const SECRETS: &[&str] = &[
    "fixture-secret-hunter2",
    "fixture-registry-bot",
    "fixture-bot@acme.example",
    "FIXTURE_SCRIPT_TOKEN",
    "x-token-auth",
    "mock-registry-user",
    "mock-registry-password",
    "mock@registry.example",
    "mock-script-secret",
    "mock-variable-secret",
    TOKEN,
];

fn replay_with(out: &Path, extra: &[&str]) -> Value {
    let out = out.to_str().unwrap();
    let demo = demo();
    let mut args = vec![
        "replay",
        demo.to_str().unwrap(),
        "--out",
        out,
        "--with",
        "steps,environments",
        "--summary",
        "json",
    ];
    args.extend(extra);
    let output = bbpipe(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    report(&stdout(&output))
}

fn assert_no_secret(dir: &Path, also: &str) {
    // Every file: Parquet, manifests, NDJSON, recordings.
    for path in all_files(dir) {
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} in {}", path.display());
        }
    }
    for secret in SECRETS {
        assert!(!also.contains(secret), "{secret} in the logs");
    }
}

fn text(v: &Value) -> Value {
    match v {
        Value::String(_) => v.clone(),
        _ => Value::Null,
    }
}

fn time(v: &Value) -> Value {
    v.as_str().map_or(Value::Null, |t| json!(micros(t)))
}

fn month(micros: i64) -> String {
    let t = chrono::DateTime::from_timestamp_micros(micros).unwrap();
    t.format("%Y-%m").to_string()
}

/// The demo's repository uuids by slug, and its runs by uuid: (build number, created_on).
fn demo_index() -> (BTreeMap<String, String>, BTreeMap<String, (i64, String)>) {
    let mut repos = BTreeMap::new();
    for (_, page) in fixture_pages(&demo(), "repositories") {
        for repo in page["values"].as_array().unwrap() {
            repos.insert(
                repo["slug"].as_str().unwrap().to_string(),
                repo["uuid"].as_str().unwrap().to_string(),
            );
        }
    }
    let mut runs = BTreeMap::new();
    for (_, page) in fixture_pages(&demo(), "pipelines") {
        for run in page["values"].as_array().unwrap() {
            runs.insert(
                run["uuid"].as_str().unwrap().to_string(),
                (
                    run["build_number"].as_i64().unwrap(),
                    run["created_on"].as_str().unwrap().to_string(),
                ),
            );
        }
    }
    (repos, runs)
}

/// The slug of a file `<ws>/<slug>/pipelines/steps/<run>/page-0001.json`.
fn steps_slug(page: &Path) -> String {
    let parts: Vec<_> = page.components().rev().collect();
    parts[4].as_os_str().to_str().unwrap().to_string()
}

fn by_key(rows: Vec<Row>, key: &[&str]) -> BTreeMap<String, Row> {
    let mut map = BTreeMap::new();
    for row in rows {
        let id: Vec<String> = key.iter().map(|k| row[*k].to_string()).collect();
        assert!(map.insert(id.join("/"), row).is_none(), "duplicate key");
    }
    map
}

fn assert_row(row: &Row, expected: &[(&str, Value)], what: &str) {
    for (column, value) in expected {
        let got = row
            .get(*column)
            .unwrap_or_else(|| panic!("{what}: no column {column} in {row:?}"));
        assert_eq!(got, value, "{what}: column {column}");
    }
}

#[test]
fn replayed_steps_environments_and_deployments_match_the_fixture_json_field_by_field() {
    let out = tempfile::tempdir().unwrap();
    let summary = replay_with(out.path(), &[]);
    let (repos, runs) = demo_index();

    // pipeline_steps: every step of every recorded steps page.
    let steps = by_key(
        read_table(out.path(), "pipeline_steps"),
        &["repo_uuid", "pipeline_uuid", "uuid"],
    );
    let mut expected_steps = 0;
    for file in all_files(&demo().join("acme")) {
        if !file.to_str().unwrap().contains("/pipelines/steps/") {
            continue;
        }
        let slug = steps_slug(&file);
        let page = read_json(&file);
        for step in page["values"].as_array().unwrap() {
            expected_steps += 1;
            let run_uuid = step["pipeline"]["uuid"].as_str().unwrap();
            let (build, created) = &runs[run_uuid];
            let key = format!(
                "\"{}\"/\"{run_uuid}\"/\"{}\"",
                repos[&slug],
                step["uuid"].as_str().unwrap()
            );
            let row = steps
                .get(&key)
                .unwrap_or_else(|| panic!("no row for {key}"));
            let state = step["state"]["name"].as_str();
            let result = step["state"]["result"]["name"].as_str();
            let status = match (state, result) {
                (_, Some("NOT_RUN")) => "not_run",
                (_, Some("SKIPPED")) => "skipped",
                (Some("COMPLETED"), Some("SUCCESSFUL")) => "success",
                (Some("COMPLETED"), Some("FAILED" | "ERROR")) => "failure",
                (Some("COMPLETED"), Some("STOPPED" | "EXPIRED")) => "cancelled",
                (Some("PENDING" | "READY" | "IN_PROGRESS"), _) => "running",
                _ => "unknown",
            };
            let trigger = step["trigger"]["type"]
                .as_str()
                .map(|t| t.trim_start_matches("pipeline_step_trigger_"));
            let started = time(&step["started_on"]);
            let completed = time(&step["completed_on"]);
            let max_time = if step["maxTime"].is_null() {
                &step["max_time"]
            } else {
                &step["maxTime"]
            };
            assert_row(
                row,
                &[
                    ("path:workspace", json!("acme")),
                    ("repository", json!(format!("acme/{slug}"))),
                    ("repo_slug", json!(slug)),
                    ("build_number", json!(build)),
                    ("run_number", step["run_number"].clone()),
                    ("name", text(&step["name"])),
                    ("status", json!(status)),
                    ("state", text(&step["state"]["name"])),
                    ("result", text(&step["state"]["result"]["name"])),
                    ("started_at", started),
                    ("completed_at", completed),
                    ("duration_seconds", step["duration_in_seconds"].clone()),
                    ("build_seconds_used", step["build_seconds_used"].clone()),
                    ("max_time_minutes", max_time.clone()),
                    ("trigger", json!(trigger)),
                    ("image", text(&step["image"]["name"])),
                    ("size", text(&step["size"])),
                    (
                        "cpu_limit_millicores",
                        step["resource_limits"]["cpu_limit_in_millicores"].clone(),
                    ),
                    (
                        "memory_limit_megabytes",
                        step["resource_limits"]["memory_limit_in_megabytes"].clone(),
                    ),
                    ("environment_uuid", text(&step["environment"]["uuid"])),
                    ("run_created_at", json!(micros(created))),
                    ("path:created_month", json!(month(micros(created)))),
                ],
                &key,
            );
        }
    }
    assert_eq!(steps.len(), expected_steps);
    assert_eq!(summary["steps"], expected_steps);
    let statuses: std::collections::BTreeSet<&str> = steps
        .values()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    for status in [
        "success",
        "failure",
        "cancelled",
        "running",
        "not_run",
        "skipped",
    ] {
        assert!(statuses.contains(status), "the demo covers {status}");
    }

    // environments, and the deployments with their environment joined in.
    let environments = by_key(read_table(out.path(), "environments"), &["uuid"]);
    let mut names = BTreeMap::new();
    for (path, page) in fixture_pages(&demo(), "environments") {
        let slug = fixture_slug(&path);
        for env in page["values"].as_array().unwrap() {
            let uuid = env["uuid"].as_str().unwrap();
            names.insert(
                uuid.to_string(),
                (env["name"].clone(), env["environment_type"]["name"].clone()),
            );
            assert_row(
                &environments[&format!("\"{uuid}\"")],
                &[
                    ("repo_uuid", json!(repos[slug])),
                    ("repo_slug", json!(slug)),
                    ("name", env["name"].clone()),
                    ("slug", env["slug"].clone()),
                    ("environment_type", env["environment_type"]["name"].clone()),
                    (
                        "environment_type_rank",
                        env["environment_type"]["rank"].clone(),
                    ),
                    ("hidden", env["hidden"].clone()),
                    ("lock", env["lock"]["name"].clone()),
                ],
                uuid,
            );
        }
    }
    assert_eq!(environments.len(), names.len());
    assert!(
        names
            .values()
            .any(|(name, kind)| name == "Prod-EU" && kind == "Production")
    );

    let deployments = by_key(read_table(out.path(), "environment_deployments"), &["uuid"]);
    let mut expected_deployments = 0;
    for (path, page) in fixture_pages(&demo(), "deployments") {
        let slug = fixture_slug(&path);
        for d in page["values"].as_array().unwrap() {
            expected_deployments += 1;
            let uuid = d["uuid"].as_str().unwrap();
            let env = d["environment"]["uuid"].as_str().unwrap();
            let started = micros(d["state"]["started_on"].as_str().unwrap());
            let build: i64 = d["deployable"]["name"].as_str().unwrap()[1..]
                .parse()
                .unwrap();
            assert_row(
                &deployments[&format!("\"{uuid}\"")],
                &[
                    ("repo_uuid", json!(repos[slug])),
                    ("environment_uuid", json!(env)),
                    ("environment_name", names[env].0.clone()),
                    ("environment_type", names[env].1.clone()),
                    ("state", d["state"]["name"].clone()),
                    // The outcome is state.status, never state.name.
                    ("outcome", text(&d["state"]["status"]["name"])),
                    ("started_at", json!(started)),
                    ("completed_at", time(&d["state"]["completed_on"])),
                    ("pipeline_uuid", d["deployable"]["pipeline"]["uuid"].clone()),
                    ("build_number", json!(build)),
                    ("step_uuid", d["step"]["uuid"].clone()),
                    ("commit_sha", d["deployable"]["commit"]["hash"].clone()),
                    ("version", d["version"].clone()),
                    ("last_update_time", time(&d["last_update_time"])),
                    ("path:started_month", json!(month(started))),
                ],
                uuid,
            );
        }
    }
    assert_eq!(deployments.len(), expected_deployments);
    let states: std::collections::BTreeSet<&str> = deployments
        .values()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert!(
        states.contains("UNDEPLOYED") && states.contains("COMPLETED"),
        "{states:?}"
    );

    let verified = bbpipe(&["verify-output", out.path().to_str().unwrap()]);
    assert!(verified.status.success(), "{}", stdout(&verified));
    assert_no_secret(out.path(), "");
}

#[test]
fn without_with_a_replay_writes_none_of_the_optional_tables() {
    let out = tempfile::tempdir().unwrap();
    let output = bbpipe(&[
        "replay",
        demo().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    for table in ["pipeline_steps", "environments", "environment_deployments"] {
        assert!(!out.path().join(table).exists(), "{table}");
    }
    let bad = bbpipe(&[
        "replay",
        demo().to_str().unwrap(),
        "--out",
        "x",
        "--with",
        "steps,commitz",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("'commitz'"), "{}", stderr(&bad));
}

#[test]
fn environment_rules_turn_bitbucket_deployments_into_deployments() {
    let out = tempfile::tempdir().unwrap();
    let rules = demo().join("environment-rules.toml");
    let summary = replay_with(out.path(), &["--rules", rules.to_str().unwrap()]);
    let mut expected = BTreeMap::new();
    let mut types = BTreeMap::new();
    for (_, page) in fixture_pages(&demo(), "environments") {
        for env in page["values"].as_array().unwrap() {
            types.insert(
                env["uuid"].as_str().unwrap().to_string(),
                env["environment_type"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
    }
    for (path, page) in fixture_pages(&demo(), "deployments") {
        let slug = fixture_slug(&path);
        for d in page["values"].as_array().unwrap() {
            let state = d["state"]["name"].as_str().unwrap();
            let Some(completed) = d["state"]["completed_on"].as_str() else {
                continue;
            };
            if state != "COMPLETED" && state != "UNDEPLOYED" {
                continue;
            }
            let (rule, environment) =
                match types[d["environment"]["uuid"].as_str().unwrap()].as_str() {
                    "Production" => ("bitbucket-production", "production"),
                    "Staging" => ("bitbucket-staging", "staging"),
                    _ => continue,
                };
            let run = d["deployable"]["pipeline"]["uuid"].as_str().unwrap();
            expected.insert(
                format!("{run}/{rule}"),
                json!({
                    "service": slug, "environment": environment, "rule": rule,
                    "success": d["state"]["status"]["name"] == "SUCCESSFUL",
                    "deployed_at": micros(completed),
                    "commit_sha": d["deployable"]["commit"]["hash"],
                    "source_url": format!("https://bitbucket.org/acme/{slug}/pipelines/results/{}",
                        &d["deployable"]["name"].as_str().unwrap()[1..]),
                }),
            );
        }
    }
    let rows = read_table(out.path(), "deployments");
    assert_eq!(rows.len(), expected.len());
    assert_eq!(summary["deployments"], expected.len());
    for row in &rows {
        let key = format!(
            "{}/{}",
            row["pipeline_run_uuid"].as_str().unwrap(),
            row["rule"].as_str().unwrap()
        );
        let want = expected[&key].as_object().unwrap();
        for (column, value) in want {
            assert_eq!(&row[column], value, "{key}: {column}");
        }
    }
    // A second replay keeps every reference_id: the scheme is stable.
    let ids = |out: &Path| {
        let mut ids: Vec<Value> = read_table(out, "deployments")
            .into_iter()
            .map(|r| r["reference_id"].clone())
            .collect();
        ids.sort_by_key(Value::to_string);
        ids
    };
    let again = tempfile::tempdir().unwrap();
    replay_with(again.path(), &["--rules", rules.to_str().unwrap()]);
    assert_eq!(ids(out.path()), ids(again.path()));

    // `rules apply` re-derives the same from the stored table, and `rules explain` shows it.
    let applied = bbpipe(&[
        "rules",
        "apply",
        out.path().to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--dry-run",
        "--summary",
        "json",
    ]);
    assert!(applied.status.success(), "{}", stderr(&applied));
    let applied = report(&stdout(&applied));
    assert_eq!(applied["workspaces"][0]["added"], 0, "{applied}");
    assert_eq!(applied["workspaces"][0]["removed"], 0, "{applied}");
    let explained = bbpipe(&[
        "rules",
        "explain",
        "--rules",
        rules.to_str().unwrap(),
        demo().to_str().unwrap(),
        "--repo",
        "payments",
        "--matched",
        "--json",
    ]);
    assert!(explained.status.success(), "{}", stderr(&explained));
    let lines: Vec<Value> = stdout(&explained)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l["kind"] == "deployment"));
    assert!(
        lines.iter().any(|l| l["environment_name"] == "Prod-EU"
            && l["matched"][0]["rule"] == "bitbucket-production")
    );
}

fn mock_env(mock: &MockBitbucket) -> Vec<(&'static str, String)> {
    vec![
        ("BITBUCKET_API_URL", mock.url.clone()),
        ("BITBUCKET_ACCESS_TOKEN", TOKEN.to_string()),
        ("RUST_LOG", "debug".to_string()),
    ]
}

fn export(mock: &MockBitbucket, out: &Path, extra: &[&str]) -> (Value, String) {
    let mut more = vec!["--with", "steps,environments"];
    more.extend(extra);
    let args = export_args(out.to_str().unwrap(), &more);
    let output = bbpipe_with_env(&args, &mock_env(mock));
    assert!(output.status.success(), "{}", stderr(&output));
    (report(&stdout(&output)), stderr(&output))
}

fn requests_to(mock: &MockBitbucket, part: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.path.contains(part))
        .count()
}

/// A mock whose runs are recent (within --steps-since).
fn recent_mock() -> MockBitbucket {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.clock(
        chrono::Utc::now() - chrono::Duration::days(3),
        chrono::Duration::minutes(7),
    );
    mock.add_repo("api", 5);
    mock.add_repo("web", 3);
    mock
}

#[test]
fn an_unchanged_workspace_costs_no_steps_request_and_a_rerun_one() {
    let mock = recent_mock();
    // Bitbucket returns the values of unsecured pipeline variables: never recorded.
    let with_variables = mock.state.lock().unwrap().repos[1].runs[0]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    mock.update_run("web", &with_variables, |r| {
        r["variables"] = json!([{"key": "DEPLOY_KEY", "value": "mock-variable-secret"}]);
    });
    let out = tempfile::tempdir().unwrap();
    let record = tempfile::tempdir().unwrap();
    let recording = record.path().join("rec");
    let (first, logs) = export(
        &mock,
        out.path(),
        &["--record", recording.to_str().unwrap()],
    );
    assert_eq!(requests_to(&mock, "/steps"), 8, "one request per run");
    assert_eq!(requests_to(&mock, "/environments"), 2);
    assert_eq!(requests_to(&mock, "/deployments"), 2);
    assert_eq!(first["export"]["steps_read"], 8);
    assert_eq!(dataset_steps(out.path()), mock.all_steps());
    assert_eq!(read_table(out.path(), "environments").len(), 4);
    assert_eq!(read_table(out.path(), "environment_deployments").len(), 8);
    assert_no_secret(out.path(), &logs);
    assert_no_secret(&recording, "");

    // The recording replays to the same tables.
    let replayed = tempfile::tempdir().unwrap();
    let output = bbpipe(&[
        "replay",
        recording.to_str().unwrap(),
        "--out",
        replayed.path().to_str().unwrap(),
        "--with",
        "steps,environments",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    for table in ["pipeline_steps", "environments", "environment_deployments"] {
        assert_eq!(
            sorted_rows(out.path(), table),
            sorted_rows(replayed.path(), table),
            "{table}"
        );
    }

    // Nothing changed: no steps request; environments and one page of deployments each.
    mock.clear_log();
    let (second, _) = export(&mock, out.path(), &[]);
    assert_eq!(requests_to(&mock, "/steps"), 0);
    assert_eq!(second["export"]["steps_requests"], 0);
    assert_eq!(requests_to(&mock, "/environments"), 2);
    assert_eq!(requests_to(&mock, "/deployments"), 2);

    // A re-run brings new steps (new uuids, run_number 2) beside the first attempt's, and a
    // new Bitbucket deployment whose outcome is FAILED although its state name is COMPLETED.
    let run = mock.state.lock().unwrap().repos[0].runs[2]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let before = dataset_steps(out.path());
    mock.rerun("api", &run, "FAILED");
    mock.clear_log();
    export(&mock, out.path(), &[]);
    assert_eq!(requests_to(&mock, "/steps"), 1);
    let after = dataset_steps(out.path());
    assert_eq!(after.len(), before.len() + 2);
    assert!(
        before.iter().all(|s| after.contains(s)),
        "the first attempt's steps stay"
    );
    assert!(
        after
            .iter()
            .filter(|s| s.1 == 2)
            .all(|s| s.0.contains("-0002-"))
    );
    let failed: Vec<Row> = read_table(out.path(), "environment_deployments")
        .into_iter()
        .filter(|r| r["pipeline_uuid"] == json!(run) && r["outcome"] == "FAILED")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["state"], "COMPLETED");

    // A running run's steps are read again once it completes.
    let running = mock.push_run("web", "IN_PROGRESS", None);
    mock.clear_log();
    export(&mock, out.path(), &[]);
    assert_eq!(requests_to(&mock, "/steps"), 1);
    mock.update_run("web", &running, |r| {
        r["state"] = json!({"name": "COMPLETED", "type": "pipeline_state_completed",
            "result": {"name": "SUCCESSFUL", "type": "pipeline_state_completed_successful"}});
        r["completed_on"] = r["created_on"].clone();
    });
    mock.clear_log();
    export(&mock, out.path(), &[]);
    let bare = running.trim_matches(|c| c == '{' || c == '}');
    assert_eq!(requests_to(&mock, "/steps"), 1);
    assert_eq!(requests_to(&mock, &format!("{bare}%7D/steps")), 1);
    assert_eq!(dataset_steps(out.path()), {
        let mut all = mock.all_steps();
        all.extend(
            before
                .iter()
                .filter(|s| s.0.contains(&format!("{:08x}", 3)))
                .cloned(),
        );
        all.sort();
        all.dedup();
        all
    });
    let verified = bbpipe(&["verify-output", out.path().to_str().unwrap()]);
    assert!(verified.status.success(), "{}", stdout(&verified));
}

#[test]
fn runs_older_than_steps_since_get_no_steps_on_a_first_export() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    // Two runs 40 days old, three from the last days.
    mock.clock(
        chrono::Utc::now() - chrono::Duration::days(42),
        chrono::Duration::days(1),
    );
    mock.add_repo("api", 2);
    mock.clock(
        chrono::Utc::now() - chrono::Duration::days(5),
        chrono::Duration::hours(1),
    );
    for _ in 0..3 {
        mock.push_run("api", "COMPLETED", Some("SUCCESSFUL"));
    }
    let out = tempfile::tempdir().unwrap();
    let (_, logs) = export(&mock, out.path(), &["--steps-since", "30d"]);
    assert!(logs.contains("steps only of runs created since"), "{logs}");
    assert_eq!(requests_to(&mock, "/steps"), 3);
    let builds: std::collections::BTreeSet<i64> = read_table(out.path(), "pipeline_steps")
        .iter()
        .map(|r| r["build_number"].as_i64().unwrap())
        .collect();
    assert_eq!(builds.len(), 3);
    assert!(!builds.contains(&1) && !builds.contains(&2), "{builds:?}");
}

#[test]
fn deployments_read_newest_first_to_the_watermark_or_all_where_the_sort_is_ignored() {
    let mock = recent_mock();
    for _ in 0..110 {
        mock.push_run("api", "COMPLETED", Some("SUCCESSFUL"));
    }
    let out = tempfile::tempdir().unwrap();
    export(&mock, out.path(), &["--lookback", "1m"]);
    assert_eq!(
        requests_to(&mock, "/deployments"),
        3,
        "two pages of api, one of web"
    );
    let all = read_table(out.path(), "environment_deployments").len();
    assert_eq!(all, 118);
    // With a short lookback a second export reads one page of each repository.
    mock.clear_log();
    export(&mock, out.path(), &["--lookback", "1m"]);
    assert_eq!(requests_to(&mock, "/deployments"), 2);

    // An API that ignores the sort: every page is read, with a warning, and nothing is lost.
    mock.state.lock().unwrap().ignore_deployment_sort = true;
    mock.push_run("api", "COMPLETED", Some("FAILED"));
    mock.clear_log();
    let (_, logs) = export(&mock, out.path(), &["--lookback", "1m"]);
    assert!(logs.contains("did not come newest first"), "{logs}");
    assert_eq!(requests_to(&mock, "/deployments"), 3);
    assert_eq!(read_table(out.path(), "environment_deployments").len(), 119);
}

#[test]
fn an_api_that_refuses_the_deployments_sort_is_read_in_full() {
    let mock = recent_mock();
    mock.state.lock().unwrap().reject_deployment_sort = true;
    let out = tempfile::tempdir().unwrap();
    let (_, logs) = export(&mock, out.path(), &[]);
    assert!(
        logs.contains("refused sort=-state.started_on (400)"),
        "{logs}"
    );
    assert_eq!(read_table(out.path(), "environment_deployments").len(), 8);
    mock.push_run("web", "COMPLETED", Some("SUCCESSFUL"));
    export(&mock, out.path(), &[]);
    assert_eq!(read_table(out.path(), "environment_deployments").len(), 9);
}

#[test]
fn steps_on_several_pages_are_all_read() {
    let mock = recent_mock();
    mock.state.lock().unwrap().steps_per_page = Some(1);
    let out = tempfile::tempdir().unwrap();
    let (report, _) = export(&mock, out.path(), &[]);
    assert_eq!(
        requests_to(&mock, "/steps"),
        16,
        "two pages for each of 8 runs"
    );
    assert_eq!(report["export"]["steps_read"], 8);
    assert_eq!(dataset_steps(out.path()), mock.all_steps());
}

#[test]
fn an_expired_step_that_never_started_keeps_its_completion_time() {
    // A manual step left waiting until it EXPIRED: Bitbucket gives no started_on, but a
    // completed_on (when it expired). The dataset keeps what the API gives.
    let fixtures = tempfile::tempdir().unwrap();
    copy_tree(&demo(), fixtures.path());
    let pages = all_files(fixtures.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/pipelines/steps/"))
        .collect::<Vec<_>>();
    let page = pages.first().expect("the demo has steps pages");
    let mut uuid = String::new();
    edit_json(page, |body| {
        let step = &mut body["values"][0];
        uuid = step["uuid"].as_str().unwrap().to_string();
        step["started_on"] = Value::Null;
        step["completed_on"] = json!("2026-11-20T09:30:00.123456Z");
        step["state"] = json!({"name": "COMPLETED", "type": "pipeline_step_state_completed",
            "result": {"name": "EXPIRED", "type": "pipeline_step_state_completed_expired"}});
    });
    let out = tempfile::tempdir().unwrap();
    let output = bbpipe(&[
        "replay",
        fixtures.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "--with",
        "steps",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let rows = read_table(out.path(), "pipeline_steps");
    let row = rows
        .iter()
        .find(|r| r["uuid"] == json!(uuid))
        .expect("the edited step was written");
    assert_eq!(row["started_at"], Value::Null);
    assert_eq!(
        row["completed_at"],
        json!(micros("2026-11-20T09:30:00.123456Z"))
    );
    assert_eq!(row["status"], json!("cancelled"));
}

#[test]
fn a_paused_runs_steps_are_read_again_only_when_its_header_changes() {
    let mock = recent_mock();
    let paused = mock.push_run("web", "IN_PROGRESS", None);
    let stage = |name: &str| {
        json!({"name": "IN_PROGRESS", "type": "pipeline_state_in_progress",
            "stage": {"name": name, "type": format!("pipeline_state_in_progress_{}", name.to_lowercase())}})
    };
    mock.update_run("web", &paused, |r| r["state"] = stage("PAUSED"));
    let out = tempfile::tempdir().unwrap();
    export(&mock, out.path(), &[]);
    assert_eq!(requests_to(&mock, "/steps"), 9, "one request per run");
    // Unchanged: the paused run is on the newest page again, its steps are not read again.
    mock.clear_log();
    let (second, _) = export(&mock, out.path(), &[]);
    assert_eq!(requests_to(&mock, "/steps"), 0);
    assert_eq!(second["export"]["steps_requests"], 0);
    // Its stage changed (halted, out of build minutes): its steps, and only its, are read.
    mock.update_run("web", &paused, |r| r["state"] = stage("HALTED"));
    mock.clear_log();
    export(&mock, out.path(), &[]);
    let bare = paused.trim_matches(|c| c == '{' || c == '}');
    assert_eq!(requests_to(&mock, "/steps"), 1);
    assert_eq!(requests_to(&mock, &format!("{bare}%7D/steps")), 1);
}
