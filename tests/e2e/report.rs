//! End to end: `bbpipe report`. The demo's page and JSON, the empty states, edge cases built from
//! pages of our own, errors and their exit codes, a dataset on S3. (Every number is checked
//! against DuckDB in scripts/check_warehouse.py; the page in a real browser in
//! scripts/check_report_page.py.)

use crate::common::*;
use serde_json::{Value, json};
use std::path::Path;

fn replay(out: &Path, fixtures: &Path, extra: &[&str]) {
    let mut args = vec![
        "-q",
        "replay",
        fixtures.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let output = bbpipe(&args);
    assert!(output.status.success(), "{}", stderr(&output));
}

/// `bbpipe report` with `--json -` and `extra`: (exit code, JSON or stderr).
fn report_json(dest: &str, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec!["report", dest, "--json", "-"];
    args.extend(extra);
    let output = bbpipe(&args);
    let json = serde_json::from_str(&stdout(&output)).unwrap_or(Value::Null);
    (output.status.code(), json, stderr(&output))
}

#[test]
fn the_demo_report_has_every_figure_and_the_numbers_behind_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    let rules = demo().join("deploy-rules.toml");
    replay(
        &out,
        &demo(),
        &["--rules", rules.to_str().unwrap(), "--with", "steps"],
    );
    let html = dir.path().join("report.html");
    let json = dir.path().join("report.json");
    let output = bbpipe(&[
        "report",
        out.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("2026-08-24 to 2026-11-22"),
        "{}",
        stdout(&output)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    for figure in [
        "deploy_frequency-trend",
        "change_failure_rate-trend",
        "time_to_restore-trend",
        "duration",
        "build_minutes",
    ] {
        let id = format!("<figure class=\"chart\" id=\"chart-{figure}\">");
        assert_eq!(page.matches(&id).count(), 1, "{figure}");
    }
    assert!(
        !page.contains("id=\"chart-lead_time"),
        "no lead time without commits"
    );
    // The demo's 12 services and environments: a small multiple each, per DORA metric drawn.
    for metric in ["deploy_frequency", "change_failure_rate", "time_to_restore"] {
        for index in 0..12 {
            let id = format!("id=\"chart-{metric}-{index}\"");
            assert_eq!(page.matches(&id).count(), 1, "{id}");
        }
        assert!(!page.contains(&format!("id=\"chart-{metric}-12\"")));
    }
    assert_eq!(
        page.matches("<svg").count(),
        page.matches("<figure class=\"chart\"").count(),
        "every chart in a captioned figure"
    );
    assert_eq!(page.matches("<svg").count(), 3 * 13 + 2);
    assert_eq!(
        page.matches("<svg").count(),
        page.matches(" role=\"img\" aria-labelledby=").count(),
        "every chart named for a screen reader"
    );
    assert!(
        page.contains("id=\"no-lead-time\""),
        "lead time is marked unavailable"
    );
    assert!(!page.contains("<script"), "no JavaScript");
    assert!(!page.contains("id=\"no-steps\""));
    let report = read_json(&json);
    assert_eq!(
        report["window"],
        json!({"from": "2026-08-24", "to": "2026-11-22", "weeks": 13.0})
    );
    assert_eq!(report["lead_time"]["available"], false);
    assert!(
        report["steps"]["most_build_minutes"]
            .as_array()
            .unwrap()
            .len()
            > 3
    );
    // The same dataset, one service: only its deployments.
    let (code, web, _) = report_json(out.to_str().unwrap(), &["--service", "web-app"]);
    assert_eq!(code, Some(0));
    let services: Vec<&Value> = web["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["service"])
        .collect();
    assert!(!services.is_empty() && services.iter().all(|s| *s == "web-app"));
}

/// DuckDB's `quantile_cont`, written again: linear interpolation between closest ranks.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let at = q * (values.len() - 1) as f64;
    let (low, high) = (at.floor() as usize, at.ceil() as usize);
    values[low] + (values[high] - values[low]) * (at - low as f64)
}

#[test]
fn with_commits_the_report_tells_lead_time_per_service_and_week() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    let rules = demo().join("deploy-rules.toml");
    replay(
        &out,
        &demo(),
        &["--rules", rules.to_str().unwrap(), "--with", "commits"],
    );
    let (code, report, _) = report_json(out.to_str().unwrap(), &["--service", "web-app"]);
    assert_eq!(code, Some(0));
    let lead = &report["lead_time"];
    assert_eq!(lead["available"], true);
    // Independently: the web-app commits deployed in the window, from the Parquet rows.
    let (from, to) = (
        micros("2026-08-24T00:00:00Z"),
        micros("2026-11-23T00:00:00Z"),
    );
    let rows: Vec<Row> = read_table(&out, "deployment_commits")
        .into_iter()
        .filter(|r| r["service"] == "web-app" && !r["lead_time_seconds"].is_null())
        .filter(|r| (from..to).contains(&r["deployed_at"].as_i64().unwrap()))
        .collect();
    let mut seconds: Vec<f64> = rows
        .iter()
        .map(|r| r["lead_time_seconds"].as_f64().unwrap())
        .collect();
    assert!(seconds.len() > 100);
    assert_eq!(lead["commits"], json!(seconds.len()));
    let median = quantile(&mut seconds, 0.5);
    assert_eq!(lead["median_seconds"].as_f64(), Some(median));
    assert_eq!(
        lead["p90_seconds"].as_f64(),
        Some(quantile(&mut seconds, 0.9))
    );
    let band = match median / 86_400.0 {
        d if d < 1.0 => "elite",
        d if d < 7.0 => "high",
        d if d < 30.0 => "medium",
        _ => "low",
    };
    assert_eq!(lead["band"], band);
    let services: Vec<&Value> = lead["services"].as_array().unwrap().iter().collect();
    assert_eq!(services.len(), 2, "web-app in production and staging");
    let weekly: u64 = lead["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["commits"].as_u64().unwrap())
        .sum();
    assert_eq!(weekly, seconds.len() as u64);
    // The page: a lead time table and chart; the text headline names the figure.
    let html = dir.path().join("report.html");
    let output = bbpipe(&[
        "report",
        out.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("lead time       median"),
        "{}",
        stdout(&output)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<table id=\"lead-time\">"));
    assert_eq!(
        page.matches("<figure class=\"chart\" id=\"chart-lead_time-trend\">")
            .count(),
        1
    );
    assert!(!page.contains("id=\"no-lead-time\""));
}

#[test]
fn without_deployments_or_steps_the_page_says_what_would_add_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    replay(&out, &demo(), &[]);
    let html = dir.path().join("report.html");
    let output = bbpipe(&[
        "report",
        out.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("id=\"no-deployments\""));
    assert!(page.contains("--rules FILE"));
    assert!(page.contains("id=\"no-steps\""));
    assert_eq!(
        page.matches("<svg").count(),
        2,
        "duration and build minutes only"
    );
    let (_, report, _) = report_json(out.to_str().unwrap(), &[]);
    assert_eq!(report["has_deployments"], false);
    assert_eq!(report["all_deployments"], Value::Null);
    assert_eq!(report["steps"], Value::Null);
}

/// A workspace of our own: one repository, runs on the days given, rules for two environments.
fn own_fixtures(root: &Path, runs: &[(&str, &str, &str)]) {
    let write = |path: &str, value: Value| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, value.to_string()).unwrap();
    };
    write(
        "acme/repositories/page-0001.json",
        json!({"values": [{"uuid": "{r}", "slug": "svc", "full_name": "acme/svc"}]}),
    );
    let values: Vec<Value> = runs
        .iter()
        .enumerate()
        .map(|(i, (day, pipeline, result))| {
            json!({"uuid": format!("{{run-{i}}}"), "build_number": i + 1, "run_number": 1,
                   "repository": {"uuid": "{r}"},
                   "state": {"name": "COMPLETED", "result": {"name": result}},
                   "target": {"type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main",
                              "selector": {"type": "custom", "pattern": pipeline}},
                   "created_on": format!("{day}T10:00:00Z"), "completed_on": format!("{day}T10:30:00Z"),
                   "duration_in_seconds": 1800, "build_seconds_used": 1800})
        })
        .collect();
    write(
        "acme/svc/pipelines/page-0001.json",
        json!({"values": values}),
    );
    std::fs::write(
        root.join("rules.toml"),
        "[[rule]]\nname = \"prod\"\nworkflow = \"^deploy-prod$\"\nservice = \"svc\"\n\
         [[rule]]\nname = \"staging\"\nworkflow = \"^deploy-staging$\"\nservice = \"svc\"\n\
         environment = \"staging\"\n",
    )
    .unwrap();
}

#[test]
fn one_deployment_a_failure_never_restored_and_a_service_in_two_environments() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("pages");
    own_fixtures(
        &fixtures,
        &[
            ("2026-11-02", "deploy-prod", "FAILED"),
            ("2026-11-03", "deploy-staging", "SUCCESSFUL"),
            ("2026-11-04", "build", "SUCCESSFUL"),
        ],
    );
    let out = dir.path().join("data");
    replay(
        &out,
        &fixtures,
        &["--rules", fixtures.join("rules.toml").to_str().unwrap()],
    );
    let (code, report, err) = report_json(out.to_str().unwrap(), &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(report["window"]["from"], "2026-08-10");
    assert_eq!(report["window"]["to"], "2026-11-08");
    let envs = report["deployments"].as_array().unwrap();
    assert_eq!(envs.len(), 2, "{envs:?}");
    let prod = &envs[0];
    assert_eq!(
        (&prod["environment"], &prod["deployments"], &prod["failed"]),
        (&json!("production"), &json!(1), &json!(1))
    );
    assert_eq!(prod["change_failure_rate"], 1.0);
    assert_eq!(prod["change_failure_rate_band"], "low");
    assert_eq!(prod["deploy_frequency_per_week"], 0.0);
    assert_eq!(prod["time_to_restore"]["median_seconds"], Value::Null);
    assert_eq!(prod["time_to_restore"]["open"].as_array().unwrap().len(), 1);
    let staging = &envs[1];
    assert_eq!(
        (&staging["deployments"], &staging["successful"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(staging["change_failure_rate"], 0.0);
    assert_eq!(
        staging["time_to_restore"]["restored"], 0,
        "a success in another environment restores nothing"
    );
    assert_eq!(report["repositories"][0]["runs"], 3);
    assert_eq!(report["repositories"][0]["success_rate"], 2.0 / 3.0);

    // The restoring success arrives later: restored after 3 days and 30 minutes... of deploys.
    own_fixtures(
        &fixtures,
        &[
            ("2026-11-02", "deploy-prod", "FAILED"),
            ("2026-11-03", "deploy-staging", "SUCCESSFUL"),
            ("2026-11-05", "deploy-prod", "SUCCESSFUL"),
        ],
    );
    let again = dir.path().join("again");
    replay(
        &again,
        &fixtures,
        &["--rules", fixtures.join("rules.toml").to_str().unwrap()],
    );
    let (_, report, _) = report_json(again.to_str().unwrap(), &[]);
    let prod = &report["deployments"][0];
    assert_eq!(prod["time_to_restore"]["median_seconds"], 3.0 * 86400.0);
    assert_eq!(prod["time_to_restore"]["band"], "medium");
}

#[test]
fn errors_name_what_is_wrong_with_their_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    replay(&out, &demo(), &[]);
    let dest = out.to_str().unwrap();
    let (code, _, err) = report_json(dest, &["--from", "2020-01-01", "--to", "2020-01-31"]);
    assert_eq!(code, Some(10), "{err}");
    assert!(
        err.contains("nothing to report between 2020-01-01 and 2020-01-31"),
        "{err}"
    );
    let (code, _, err) = report_json(dest, &["--workspace", "globex"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("holds no workspace globex (it holds: acme)"),
        "{err}"
    );
    let (code, _, err) = report_json(dest, &["--from", "2026-11-10", "--to", "2026-11-01"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("--from 2026-11-10 is after --to 2026-11-01"),
        "{err}"
    );
    let (code, _, err) = report_json(dest, &["--from", "11/10/2026"]);
    assert_eq!(code, Some(2), "{err}");
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, _, err) = report_json(empty.to_str().unwrap(), &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("holds no bbpipe dataset"), "{err}");
    // Parquet files without manifests: somebody else's, or a copy.
    copy_tree(
        &out.join("pipeline_runs"),
        &dir.path().join("stray/pipeline_runs"),
    );
    let (code, _, err) = report_json(dir.path().join("stray").to_str().unwrap(), &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not a bbpipe dataset"), "{err}");
}

#[test]
fn a_report_of_a_dataset_on_s3_equals_the_local_one() {
    let bucket = crate::common::s3::bucket("report");
    let s3 = format!("s3://{bucket}/analytics");
    let rules = demo().join("deploy-rules.toml");
    let output = bbpipe_with_env(
        &[
            "-q",
            "replay",
            demo().to_str().unwrap(),
            "--out",
            &s3,
            "--rules",
            rules.to_str().unwrap(),
        ],
        &crate::common::s3::env(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let remote = bbpipe_with_env(&["report", &s3, "--json", "-"], &crate::common::s3::env());
    assert!(remote.status.success(), "{}", stderr(&remote));
    let dir = tempfile::tempdir().unwrap();
    replay(dir.path(), &demo(), &["--rules", rules.to_str().unwrap()]);
    let (_, local, _) = report_json(dir.path().to_str().unwrap(), &[]);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&remote)).unwrap(),
        local
    );
}
