//! End to end: the nightly job (`export --config`). Several workspaces in one run, one failing;
//! several credentials for one workspace, rate limited each on its own, a revoked one set
//! aside; the summary against its JSON Schema, the metrics file through a Prometheus parser,
//! JSON log lines; configuration errors named.

use crate::common::mock::{Auth, MockBitbucket};
use crate::common::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const T1: &str = "nightly-token-one-secret";
const T2: &str = "nightly-token-two-secret";
const T3: &str = "nightly-token-revoked-secret";

fn env(extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("NIGHTLY_T1", T1.to_string()),
        ("NIGHTLY_T2", T2.to_string()),
        ("NIGHTLY_T3", T3.to_string()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    env
}

fn nightly(config: &Path, extra: &[&str], env: &[(&'static str, String)]) -> Output {
    let args = nightly_args(config.to_str().unwrap(), extra);
    bbpipe_with_env(&args, env)
}

/// Validates `instance` (a file) with a Python JSON Schema validator, or parses a Prometheus
/// text file: independent readers, as a scheduler and node_exporter would be.
fn python(script: &str, file: &Path) -> String {
    let output = Command::new("python3")
        .args(["-c", script, file.to_str().unwrap()])
        .output()
        .expect("python3 (scripts/test puts .venv first on PATH)");
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
}

fn schema_valid(summary: &str, dir: &Path) {
    let file = dir.join("summary.json");
    std::fs::write(&file, summary).unwrap();
    let schema = repo_root().join("docs/summary.schema.json");
    let script = format!(
        "import json, sys, jsonschema\n\
         schema = json.load(open({:?}))\n\
         jsonschema.Draft202012Validator.check_schema(schema)\n\
         jsonschema.validate(json.load(open(sys.argv[1])), schema, cls=jsonschema.Draft202012Validator)\n\
         print('valid')",
        schema.to_str().unwrap()
    );
    assert_eq!(python(&script, &file).trim(), "valid");
}

fn config(dir: &Path, mock: &MockBitbucket, workspaces: &str) -> std::path::PathBuf {
    let path = dir.join("bbpipe.toml");
    let text = format!(
        "out = {:?}\napi_url = {:?}\nparallel_workspaces = 2\n{workspaces}",
        dir.join("out").to_str().unwrap(),
        mock.url
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn two_workspaces_in_one_run_one_failing_the_other_committed() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(T1.into()));
    mock.add_repo("api", 6);
    mock.add_repo("web", 4);
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &mock,
        "[[workspace]]\nname = \"acme\"\n[[workspace.credential]]\nname = \"one\"\ntoken_env = \"NIGHTLY_T1\"\n\
         [[workspace]]\nname = \"globex\"\n[[workspace.credential]]\nname = \"one\"\ntoken_env = \"NIGHTLY_T1\"\n",
    );
    let metrics = dir.path().join("bbpipe.prom");
    let output = nightly(
        &config,
        &[
            "--summary",
            "json",
            "--metrics-file",
            metrics.to_str().unwrap(),
        ],
        &env(&[]),
    );
    // globex does not exist: 6, and acme is committed all the same.
    assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
    let summary = stdout(&output);
    schema_valid(&summary, dir.path());
    let summary = report(&summary);
    assert_eq!(summary["exit_code"], 6);
    let sections = summary["workspaces"].as_array().unwrap();
    assert_eq!(sections[0]["workspace"], "acme");
    assert_eq!(sections[0]["outcome"], "ok");
    assert_eq!(sections[0]["report"]["pipeline_runs"], 10);
    assert_eq!(sections[1]["workspace"], "globex");
    assert_eq!(sections[1]["outcome"], "failed");
    assert!(sections[1]["error"].as_str().unwrap().contains("404"));
    assert_eq!(
        read_table(&dir.path().join("out"), "pipeline_runs").len(),
        10
    );
    // The metrics file through Prometheus' own parser.
    let script = "import sys\n\
        from prometheus_client.parser import text_string_to_metric_families\n\
        for family in text_string_to_metric_families(open(sys.argv[1]).read()):\n\
        \x20   for s in family.samples:\n\
        \x20       print(s.name, ','.join(f'{k}={v}' for k, v in sorted(s.labels.items())), s.value)";
    let samples = python(script, &metrics);
    assert!(
        samples.contains("bbpipe_exit_code workspace=acme 0\n"),
        "{samples}"
    );
    assert!(
        samples.contains("bbpipe_exit_code workspace=globex 6\n"),
        "{samples}"
    );
    assert!(
        samples.contains("bbpipe_last_success_timestamp_seconds workspace=acme"),
        "{samples}"
    );
    assert!(!samples.contains("bbpipe_last_success_timestamp_seconds workspace=globex"));
    assert!(
        samples.contains("bbpipe_rows_written table=pipeline_runs,workspace=acme 10\n"),
        "{samples}"
    );
    assert!(
        samples.contains("bbpipe_requests credential=one,workspace=acme"),
        "{samples}"
    );
    assert!(!std::fs::read_to_string(&metrics).unwrap().contains(T1));
    // --workspace picks one workspace of the file; its success time stays for the other.
    let output = nightly(
        &config,
        &[
            "--workspace",
            "acme",
            "--metrics-file",
            metrics.to_str().unwrap(),
            "-q",
        ],
        &env(&[]),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn two_credentials_share_the_work_and_a_revoked_one_is_set_aside() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(T1.into()));
    for n in 0..12 {
        mock.add_repo(&format!("repo-{n}"), 3);
    }
    {
        let mut state = mock.state.lock().unwrap();
        state.also_accepted.push(T2.into());
        state.rate_limit_every_per_credential = Some(4);
    }
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &mock,
        "[[workspace]]\nname = \"acme\"\n\
         [[workspace.credential]]\nname = \"one\"\ntoken_env = \"NIGHTLY_T1\"\n\
         [[workspace.credential]]\nname = \"revoked\"\ntoken_env = \"NIGHTLY_T3\"\n\
         [[workspace.credential]]\nname = \"two\"\ntoken_env = \"NIGHTLY_T2\"\n",
    );
    let output = nightly(
        &config,
        &[
            "--summary",
            "json",
            "--log-format",
            "json",
            "--concurrency",
            "1",
        ],
        &env(&[]),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary = report(&stdout(&output));
    let credentials = summary["workspaces"][0]["report"]["requests"]["credentials"]
        .as_array()
        .unwrap()
        .clone();
    let by = |name: &str| {
        credentials
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert!(
        by("one")["requests"].as_u64().unwrap() > 3,
        "{credentials:?}"
    );
    assert!(
        by("two")["requests"].as_u64().unwrap() > 3,
        "{credentials:?}"
    );
    assert!(by("one")["rate_limited"].as_u64().unwrap() > 0);
    // Each credential's 429s are among its retries, and the credentials' counts add up.
    let total = &summary["workspaces"][0]["report"]["requests"];
    let sum = |field: &str| -> u64 { credentials.iter().map(|c| c[field].as_u64().unwrap()).sum() };
    for c in &credentials {
        assert!(c["retries"].as_u64() >= c["rate_limited"].as_u64(), "{c}");
    }
    assert_eq!(sum("retries"), total["retries"].as_u64().unwrap());
    assert_eq!(sum("requests"), total["requests"].as_u64().unwrap());
    assert_eq!(sum("rate_limited"), total["rate_limited"].as_u64().unwrap());
    let revoked = by("revoked")["set_aside"].as_str().unwrap().to_string();
    assert!(
        revoked.contains("401") && revoked.contains("credential revoked"),
        "{revoked}"
    );
    // Both tokens reached the API; no token value appears in the summary or the logs.
    let seen = mock.state.lock().unwrap().per_credential.clone();
    assert!(seen.get(&format!("Bearer {T1}")).is_some_and(|n| *n > 3));
    assert!(seen.get(&format!("Bearer {T2}")).is_some_and(|n| *n > 3));
    let logs = stderr(&output);
    for secret in [T1, T2, T3] {
        assert!(!stdout(&output).contains(secret) && !logs.contains(secret));
    }
    // --log-format json: every stderr line is one JSON object; the set-aside is among them.
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.iter().any(|l| {
        l["level"] == "WARN"
            && l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("set aside"))
    }));
    // The same rows as an export with one credential.
    let single = dir.path().join("single");
    let args = export_args(single.to_str().unwrap(), &["-q"]);
    let output = bbpipe_with_env(
        &args,
        &[
            ("BITBUCKET_API_URL", mock.url.clone()),
            ("BITBUCKET_ACCESS_TOKEN", T1.to_string()),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        rows_without_export_time(&dir.path().join("out"), "pipeline_runs"),
        rows_without_export_time(&single, "pipeline_runs")
    );
}

#[test]
fn every_credential_refused_fails_the_workspace_with_their_names() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(T1.into()));
    mock.add_repo("api", 2);
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &mock,
        "[[workspace]]\nname = \"acme\"\n\
         [[workspace.credential]]\nname = \"old\"\ntoken_env = \"NIGHTLY_T3\"\n\
         [[workspace.credential]]\nname = \"older\"\ntoken_env = \"NIGHTLY_T2\"\n\
         [[workspace.credential]]\nname = \"unset\"\ntoken_env = \"NIGHTLY_UNSET\"\n",
    );
    let output = nightly(&config, &[], &env(&[]));
    // A variable that is not set is named before any request.
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stdout(&output).contains("credential unset: NIGHTLY_UNSET is not set"));
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("NIGHTLY_UNSET", "NIGHTLY_T2");
    std::fs::write(
        &config,
        text.replace("name = \"unset\"", "name = \"again\""),
    )
    .unwrap();
    let output = nightly(&config, &["--summary", "json"], &env(&[]));
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let summary = report(&stdout(&output));
    let error = summary["workspaces"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("401") && error.contains("(credential"),
        "{error}"
    );
}

#[test]
fn configuration_errors_name_the_key_and_line_and_init_gives_a_valid_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bbpipe.toml");
    std::fs::write(
        &path,
        "out = \"./x\"\nlookbak = \"2d\"\n[[workspace]]\nname = \"acme\"\n",
    )
    .unwrap();
    let output = bbpipe(&["export", "--config", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert!(
        error.contains("lookbak") && error.contains("line 2"),
        "{error}"
    );
    // init → a file config show accepts; credentials shown by reference and state only.
    let init = bbpipe(&["init"]);
    assert!(init.status.success());
    std::fs::write(&path, stdout(&init)).unwrap();
    let show = bbpipe_with_env(
        &["config", "show", "--config", path.to_str().unwrap()],
        &[("ACME_TOKEN_1", "init-secret-value".to_string())],
    );
    assert!(show.status.success(), "{}", stderr(&show));
    let text = stdout(&show);
    assert!(text.contains("token_env = \"ACME_TOKEN_1\""), "{text}");
    assert!(text.contains("credential acme-token-1: ok"), "{text}");
    assert!(!text.contains("init-secret-value"));
}

#[test]
fn check_with_a_config_says_one_line_per_workspace_and_credential_with_the_worst_code() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(T1.into()));
    mock.add_repo("api", 1);
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &mock,
        "[[workspace]]\nname = \"acme\"\n\
         [[workspace.credential]]\nname = \"one\"\ntoken_env = \"NIGHTLY_T1\"\n\
         [[workspace.credential]]\nname = \"revoked\"\ntoken_env = \"NIGHTLY_T3\"\n",
    );
    let output = bbpipe_with_env(&["check", "--config", config.to_str().unwrap()], &env(&[]));
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("acme one: ok: "), "{text}");
    assert!(
        lines[1].starts_with("acme revoked: invalid_credentials: "),
        "{text}"
    );
    assert!(!text.contains(T1) && !text.contains(T3));
    let json = bbpipe_with_env(
        &[
            "check",
            "--config",
            config.to_str().unwrap(),
            "--json",
            "--workspace",
            "acme",
        ],
        &env(&[]),
    );
    let first: Value = serde_json::from_str(stdout(&json).lines().next().unwrap()).unwrap();
    assert_eq!(first["credential"], "one");
    assert_eq!(first["ok"], true);
}

/// Runs `program` with `args`; (success, stdout + stderr).
fn run(program: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (scripts/test-env installs it)"));
    let text = format!("{}{}", stdout(&output), stderr(&output));
    (output.status.success(), text)
}

#[test]
fn the_deployment_files_pass_their_validators_and_broken_copies_do_not() {
    let deploy = repo_root().join("docs/deploy");
    let dir = tempfile::tempdir().unwrap();
    // Kubernetes: the manifest against the API's schemas, strictly (unknown keys refused).
    let manifest = deploy.join("kubernetes-cronjob.yaml");
    let (ok, text) = run(
        "kubernetes-validate",
        &["--strict", manifest.to_str().unwrap()],
    );
    assert!(ok, "{text}");
    let broken = dir.path().join("broken.yaml");
    let yaml = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &broken,
        yaml.replace("concurrencyPolicy:", "concurencyPolicy:"),
    )
    .unwrap();
    let (ok, text) = run(
        "kubernetes-validate",
        &["--strict", broken.to_str().unwrap()],
    );
    assert!(!ok, "a typo must fail: {text}");
    // The config inside the ConfigMap is a valid bbpipe.toml.
    let config = dir.path().join("bbpipe.toml");
    let script = "import sys, yaml\n\
        docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d['kind'] == 'ConfigMap']\n\
        open(sys.argv[2], 'w').write(docs[0]['data']['bbpipe.toml'])";
    let (ok, text) = run(
        "python3",
        &[
            "-c",
            script,
            manifest.to_str().unwrap(),
            config.to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    let show = bbpipe(&["config", "show", "--config", config.to_str().unwrap()]);
    assert!(show.status.success(), "{}", stderr(&show));
    // systemd: the units, with ExecStart pointing at the binary under test.
    let binary = env!("CARGO_BIN_EXE_bbpipe");
    for unit in ["bbpipe.service", "bbpipe.timer"] {
        let text = std::fs::read_to_string(deploy.join(unit)).unwrap();
        std::fs::write(
            dir.path().join(unit),
            text.replace("/usr/local/bin/bbpipe", binary),
        )
        .unwrap();
    }
    let service = dir.path().join("bbpipe.service");
    let timer = dir.path().join("bbpipe.timer");
    let (ok, text) = run(
        "systemd-analyze",
        &["verify", service.to_str().unwrap(), timer.to_str().unwrap()],
    );
    assert!(ok, "{text}");
    let text = std::fs::read_to_string(&service).unwrap();
    std::fs::write(&service, text.replace(binary, "/nonexistent/bbpipe")).unwrap();
    let (ok, text) = run("systemd-analyze", &["verify", service.to_str().unwrap()]);
    assert!(!ok, "a missing binary must fail: {text}");
}

#[test]
fn a_single_export_writes_metrics_too_and_a_failure_keeps_the_last_success_time() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(T1.into()));
    mock.add_repo("api", 2);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let metrics = dir.path().join("bbpipe.prom");
    let export = |token: &str| {
        let mut args = export_args(out.to_str().unwrap(), &["-q"]);
        args.extend(["--metrics-file", metrics.to_str().unwrap()]);
        bbpipe_with_env(
            &args,
            &[
                ("BITBUCKET_API_URL", mock.url.clone()),
                ("BITBUCKET_ACCESS_TOKEN", token.to_string()),
            ],
        )
    };
    let success_line = || {
        std::fs::read_to_string(&metrics)
            .unwrap()
            .lines()
            .find(|l| l.starts_with("bbpipe_last_success_timestamp_seconds{"))
            .map(str::to_string)
    };
    assert_eq!(export(T3).status.code(), Some(3));
    assert!(
        std::fs::read_to_string(&metrics)
            .unwrap()
            .contains("bbpipe_exit_code{workspace=\"acme\"} 3")
    );
    assert_eq!(success_line(), None, "never succeeded");
    assert_eq!(export(T1).status.code(), Some(0));
    let success = success_line().expect("a success time");
    assert_eq!(export(T3).status.code(), Some(3));
    assert_eq!(success_line(), Some(success), "kept from the last success");
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        text.contains("bbpipe_exit_code{workspace=\"acme\"} 3"),
        "{text}"
    );
}

#[test]
fn two_workspaces_into_one_destination_at_once_both_commit() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(T1.into()));
    for n in 0..6 {
        mock.add_repo(&format!("repo-{n}"), 5);
    }
    mock.state.lock().unwrap().delay_ms = 20;
    mock.state
        .lock()
        .unwrap()
        .also_workspaces
        .push("globex".into());
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &mock,
        "[[workspace]]\nname = \"acme\"\n[[workspace.credential]]\nname = \"one\"\ntoken_env = \"NIGHTLY_T1\"\n\
         [[workspace]]\nname = \"globex\"\n[[workspace.credential]]\nname = \"one\"\ntoken_env = \"NIGHTLY_T1\"\n",
    );
    let output = nightly(&config, &["--summary", "json"], &env(&[]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary = report(&stdout(&output));
    for section in summary["workspaces"].as_array().unwrap() {
        assert_eq!(section["outcome"], "ok", "{section}");
        assert_eq!(section["report"]["pipeline_runs"], 30);
    }
    let out = dir.path().join("out");
    let runs = read_table(&out, "pipeline_runs");
    for workspace in ["acme", "globex"] {
        let n = runs
            .iter()
            .filter(|r| r["path:workspace"] == workspace)
            .count();
        assert_eq!(n, 30, "{workspace}");
    }
    let verify = bbpipe(&["verify-output", out.to_str().unwrap()]);
    assert!(verify.status.success(), "{}", stdout(&verify));
    // The two ran at the same time: each one's requests overlap the other's.
    let log = mock.requests();
    let first = |ws: &str| log.iter().position(|r| r.path.contains(&format!("/{ws}/")));
    let last = |ws: &str| {
        log.iter()
            .rposition(|r| r.path.contains(&format!("/{ws}/")))
    };
    assert!(first("globex").unwrap() < last("acme").unwrap());
    assert!(first("acme").unwrap() < last("globex").unwrap());
}
