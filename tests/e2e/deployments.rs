//! End to end: deployments inferred from the demo by fixtures/demo/deploy-rules.toml.

use crate::common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn rules_file() -> String {
    demo().join("deploy-rules.toml").display().to_string()
}

/// The demo rules, written out by hand as plain conditions: an oracle independent of the rule
/// engine. Returns (rule, service, environment, integration_branch) per matching rule.
fn oracle(
    slug: &str,
    run: &Value,
) -> Vec<(&'static str, String, &'static str, Option<&'static str>)> {
    if run["state"]["name"] != "COMPLETED" || run["completed_on"].is_null() {
        return vec![];
    }
    let target = &run["target"];
    let name = match target["selector"]["type"].as_str() {
        Some("default") => Some("default"),
        _ => target["selector"]["pattern"].as_str(),
    };
    let branch = target["destination"]
        .as_str()
        .or(target["target_branch"].as_str())
        .or(target["ref_name"].as_str())
        .or(target["source"].as_str());
    let trigger = run["trigger"]["name"].as_str();
    let success = run["state"]["result"]["name"] == "SUCCESSFUL";
    let service_repo = ["web-app", "api-service", "payments"].contains(&slug);
    let mut out = vec![];
    if service_repo && name == Some("deploy-to-production") && branch == Some("main") {
        out.push((
            "services-production",
            slug.to_string(),
            "production",
            Some("main"),
        ));
    }
    if service_repo && name == Some("deploy-staging") && matches!(branch, Some("main" | "develop"))
    {
        out.push((
            "services-staging",
            slug.to_string(),
            "staging",
            Some("develop"),
        ));
    }
    if slug.starts_with("mobile-")
        && name == Some("release-to-app-store")
        && branch == Some("main")
        && trigger == Some("MANUAL")
        && success
    {
        out.push(("ios-app-store", "ios-app".into(), "production", None));
    }
    if slug == "data-pipelines" && name == Some("deploy-to-production") {
        out.push((
            "data-ingest-production",
            "data-ingest".into(),
            "production",
            None,
        ));
        out.push((
            "data-warehouse-production",
            "data-warehouse".into(),
            "production",
            None,
        ));
    }
    if slug == "data-pipelines" && name == Some("deploy-staging") {
        out.push(("data-staging", slug.to_string(), "staging", None));
    }
    if slug.contains("infra-terraform")
        && name.is_some_and(|n| n.contains("terraform-apply"))
        && branch == Some("main")
        && target["ref_type"] == "branch"
    {
        out.push((
            "infrastructure",
            "infrastructure".into(),
            "production",
            None,
        ));
    }
    if slug.contains("legacy-monolith")
        && name == Some("default")
        && branch == Some("main")
        && trigger == Some("PUSH")
    {
        out.push(("monolith-on-push", "monolith".into(), "production", None));
    }
    out
}

fn replay_with_rules(fixtures: &Path, out: &Path, ndjson: Option<&Path>) -> String {
    replay_with_rules_and(fixtures, out, ndjson, &[])
}

fn replay_with_rules_and(
    fixtures: &Path,
    out: &Path,
    ndjson: Option<&Path>,
    extra: &[&str],
) -> String {
    let mut args = vec![
        "replay",
        fixtures.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--rules",
    ];
    let rules = rules_file();
    args.push(&rules);
    if let Some(path) = ndjson {
        args.extend(["--deployments-ndjson", path.to_str().unwrap()]);
    }
    args.extend(extra);
    let output = bbpipe(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
}

#[test]
fn golden_deployments_row_by_row() {
    let out = tempfile::tempdir().unwrap();
    let ndjson = out.path().join("deployments.ndjson");
    let summary = replay_with_rules_and(
        &demo(),
        &out.path().join("data"),
        Some(&ndjson),
        &["--summary", "json"],
    );
    let report = report(&summary);
    let written = read_table(&out.path().join("data"), "deployments").len();
    assert_eq!(report["deployments"], written, "{report}");
    assert_eq!(report["tables"]["deployments"]["rows"], written, "{report}");

    let mut expected: BTreeMap<(String, String), BTreeMap<&str, Value>> = BTreeMap::new();
    for (file, page) in fixture_pages(&demo(), "pipelines") {
        let slug = fixture_slug(&file);
        for run in page["values"].as_array().unwrap() {
            for (rule, service, environment, integration) in oracle(slug, run) {
                let build = run["build_number"].as_i64().unwrap();
                let completed = micros(run["completed_on"].as_str().unwrap());
                let row = BTreeMap::from([
                    ("service", json!(service)),
                    ("environment", json!(environment)),
                    ("repository", json!(format!("acme/{slug}"))),
                    ("repo_uuid", run["repository"]["uuid"].clone()),
                    ("commit_sha", run["target"]["commit"]["hash"].clone()),
                    ("deployed_at", json!(completed)),
                    (
                        "success",
                        json!(run["state"]["result"]["name"] == "SUCCESSFUL"),
                    ),
                    ("integration_branch", json!(integration)),
                    (
                        "source_url",
                        json!(format!(
                            "https://bitbucket.org/acme/{slug}/pipelines/results/{build}"
                        )),
                    ),
                    ("source_name", json!("bitbucket-pipelines")),
                    ("build_number", json!(build)),
                    ("run_number", run["run_number"].clone()),
                    ("trigger", run["trigger"]["name"].clone()),
                    ("path:workspace", json!("acme")),
                    (
                        "path:deployed_month",
                        json!(
                            chrono::DateTime::from_timestamp_micros(completed)
                                .unwrap()
                                .format("%Y-%m")
                                .to_string()
                        ),
                    ),
                ]);
                expected.insert(
                    (run["uuid"].as_str().unwrap().to_string(), rule.to_string()),
                    row,
                );
            }
        }
    }
    let rules_matched: BTreeSet<&str> = expected.keys().map(|(_, r)| r.as_str()).collect();
    assert_eq!(
        rules_matched.len(),
        8,
        "every demo rule deploys something: {rules_matched:?}"
    );
    assert!(
        expected.values().any(|r| r["success"] == json!(false)),
        "failed deployments too"
    );

    let rows = read_table(&out.path().join("data"), "deployments");
    assert_eq!(rows.len(), expected.len());
    let mut ids = BTreeSet::new();
    for row in &rows {
        let key = (
            row["pipeline_run_uuid"].as_str().unwrap().to_string(),
            row["rule"].as_str().unwrap().to_string(),
        );
        let want = expected
            .get(&key)
            .unwrap_or_else(|| panic!("unexpected deployment {key:?}"));
        for (column, value) in want {
            assert_eq!(&row[*column], value, "deployment {key:?}, column {column}");
        }
        let id = row["reference_id"].as_str().unwrap();
        assert!(id.starts_with("bbp-") && id.len() == 36, "{id}");
        assert!(ids.insert(id.to_string()), "reference_id {id} twice");
    }

    // The NDJSON file holds the same deployments, shaped like a deployments-create request.
    let lines: Vec<Value> = std::fs::read_to_string(&ndjson)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), rows.len());
    let line = &lines[0];
    let row = rows
        .iter()
        .find(|r| r["reference_id"] == line["reference_id"])
        .unwrap();
    for key in [
        "service",
        "repository",
        "commit_sha",
        "environment",
        "success",
        "integration_branch",
        "source_url",
        "source_name",
    ] {
        assert_eq!(line[key], row[key], "{key}");
    }
    let when = chrono::DateTime::parse_from_rfc3339(line["deployed_at"].as_str().unwrap()).unwrap();
    assert_eq!(json!(when.timestamp_micros()), row["deployed_at"]);
    assert_eq!(line["metadata"]["build_number"], row["build_number"]);
    assert_eq!(line["metadata"]["pipeline_uuid"], row["pipeline_run_uuid"]);
    assert_eq!(line["metadata"]["rule"], row["rule"]);
    assert!(!ndjson.with_extension("ndjson.partial").exists());
}

#[test]
fn reference_ids_are_identical_across_exports() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    replay_with_rules(&demo(), a.path(), None);
    replay_with_rules(&demo(), b.path(), None);
    let ids = |dir: &Path| -> BTreeSet<String> {
        read_table(dir, "deployments")
            .iter()
            .map(|r| r["reference_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(!ids(a.path()).is_empty());
    assert_eq!(ids(a.path()), ids(b.path()));
}

#[test]
fn an_unfinished_run_deploys_once_it_completes() {
    let fixtures = tempfile::tempdir().unwrap();
    copy_tree(&demo(), fixtures.path());
    let page = fixtures
        .path()
        .join("acme/web-app/pipelines/page-0001.json");
    let mut value: Value = serde_json::from_slice(&std::fs::read(&page).unwrap()).unwrap();
    let index = value["values"]
        .as_array()
        .unwrap()
        .iter()
        .position(|r| {
            r["state"]["name"] == "IN_PROGRESS"
                && r["target"]["selector"]["pattern"] == "deploy-to-production"
        })
        .expect("a production deploy still running in the demo");
    let uuid = value["values"][index]["uuid"].as_str().unwrap().to_string();

    let before = tempfile::tempdir().unwrap();
    replay_with_rules(fixtures.path(), before.path(), None);
    assert!(
        read_table(before.path(), "deployments")
            .iter()
            .all(|r| r["pipeline_run_uuid"] != json!(uuid))
    );

    // The next export sees it completed.
    value["values"][index]["state"] = json!({"name": "COMPLETED", "type": "pipeline_state_completed",
        "result": {"name": "SUCCESSFUL", "type": "pipeline_state_completed_successful"}});
    value["values"][index]["completed_on"] = json!("2026-11-20T19:00:00.123456789Z");
    std::fs::write(&page, serde_json::to_vec(&value).unwrap()).unwrap();
    let after = tempfile::tempdir().unwrap();
    replay_with_rules(fixtures.path(), after.path(), None);
    let rows = read_table(after.path(), "deployments");
    let row = rows
        .iter()
        .find(|r| r["pipeline_run_uuid"] == json!(uuid))
        .expect("deployed once completed");
    assert_eq!(
        row["deployed_at"],
        json!(micros("2026-11-20T19:00:00.123456Z"))
    );
    assert_eq!(row["path:deployed_month"], json!("2026-11"));
    assert_eq!(row["success"], json!(true));
}

#[test]
fn rules_check_validates_and_reports_per_rule() {
    let ok = bbpipe(&[
        "rules",
        "check",
        &rules_file(),
        "--against",
        demo().to_str().unwrap(),
    ]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let text = stdout(&ok);
    assert!(text.contains("8 rules, valid"), "{text}");
    assert!(
        text.contains("services-production") && text.contains("deployments"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[rule]]\nname = 'prod'\nworkflow = 'deploy-(prod'\n").unwrap();
    let output = bbpipe(&["rules", "check", bad.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("rule 'prod', field workflow"),
        "{}",
        stderr(&output)
    );

    let overlapping = dir.path().join("overlap.toml");
    std::fs::write(
        &overlapping,
        "[[rule]]\nname = 'a'\nworkflow = '^deploy-to-production$'\n\
         [[rule]]\nname = 'b'\nworkflow = 'production'\n",
    )
    .unwrap();
    let output = bbpipe(&[
        "rules",
        "check",
        overlapping.to_str().unwrap(),
        "--against",
        demo().to_str().unwrap(),
    ]);
    assert!(output.status.success());
    assert!(
        stdout(&output).contains("rules 'a' and 'b' overlap on"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn rules_explain_says_which_rule_matched_and_why_others_did_not() {
    let output = bbpipe(&[
        "rules",
        "explain",
        "--rules",
        &rules_file(),
        demo().to_str().unwrap(),
        "--repo",
        "web-app",
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let lines: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().all(|l| l["repository"] == "acme/web-app"));
    let deployed = lines
        .iter()
        .find(|l| !l["matched"].as_array().unwrap().is_empty())
        .unwrap();
    assert_eq!(deployed["matched"][0]["rule"], "services-production");
    let nightly = lines
        .iter()
        .find(|l| l["pipeline"] == "default" && l["state"] == "COMPLETED")
        .expect("a default-pipeline run");
    assert!(
        nightly["failed"]
            .as_str()
            .unwrap()
            .contains("workflow 'default' !~"),
        "{nightly}"
    );

    let text = stdout(&bbpipe(&[
        "rules",
        "explain",
        "--rules",
        &rules_file(),
        demo().to_str().unwrap(),
        "--limit",
        "3",
    ]));
    assert!(text.contains("3 runs shown"), "{text}");
}

#[test]
fn a_tiny_memory_budget_writes_the_same_deployments_and_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let sorted_lines = |path: &Path| {
        let mut lines: Vec<String> = std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    let tight = ["--buffer-mib", "1", "--batch-rows", "100"];
    let (roomy_ndjson, tight_ndjson) = (
        dir.path().join("roomy.ndjson"),
        dir.path().join("tight.ndjson"),
    );
    replay_with_rules(&demo(), &dir.path().join("roomy"), Some(&roomy_ndjson));
    // With the NDJSON file, deployments are never written early (each line is appended once).
    replay_with_rules_and(
        &demo(),
        &dir.path().join("tight"),
        Some(&tight_ndjson),
        &tight,
    );
    // Without it they are, and rows a re-run moved to another day are still settled.
    replay_with_rules_and(&demo(), &dir.path().join("early"), None, &tight);
    assert_eq!(sorted_lines(&roomy_ndjson), sorted_lines(&tight_ndjson));
    for table in ["deployments", "pipeline_runs"] {
        let roomy = sorted_rows(&dir.path().join("roomy"), table);
        assert!(!roomy.is_empty(), "{table}");
        assert_eq!(
            roomy,
            sorted_rows(&dir.path().join("tight"), table),
            "{table}"
        );
        assert_eq!(
            roomy,
            sorted_rows(&dir.path().join("early"), table),
            "{table}"
        );
    }
}
