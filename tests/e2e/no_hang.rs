//! End to end: exports finish, whatever the mix of `--with`, `--concurrency`, repository sizes
//! and checkpoint intervals; and one that cannot move fails with the stall error instead of
//! waiting for ever. Every export runs under a deadline a hang would exceed.

use crate::common::mock::{Auth, Fault, MockBitbucket};
use crate::common::*;
use std::path::Path;
use std::time::Duration;

const TOKEN: &str = "tkn-5ecret-value-not-for-logs";

fn env(mock: &MockBitbucket) -> Vec<(&'static str, String)> {
    vec![
        ("BITBUCKET_API_URL", mock.url.clone()),
        ("BITBUCKET_ACCESS_TOKEN", TOKEN.to_string()),
    ]
}

/// A mock whose repositories have `sizes` runs each, every run within the last 25 days (so
/// within `--steps-since 30d`).
fn mock_with(sizes: &[usize]) -> MockBitbucket {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    let most = sizes.iter().copied().max().unwrap_or(1).max(1) as i32;
    mock.clock(
        chrono::Utc::now() - chrono::Duration::days(25),
        chrono::Duration::days(25) / (most + 1),
    );
    for (i, runs) in sizes.iter().enumerate() {
        mock.add_repo(&format!("repo-{i:02}"), *runs);
    }
    mock
}

/// Exports into `out` within `deadline`, and returns the JSON summary.
fn export_within(mock: &MockBitbucket, out: &Path, extra: &[&str], deadline: Duration) -> String {
    let args = export_args(out.to_str().unwrap(), extra);
    let output = bbpipe_within(&args, &env(mock), deadline)
        .unwrap_or_else(|| panic!("export {extra:?} still running after {deadline:?}: hung"));
    assert!(
        output.status.success(),
        "export {extra:?} failed: {}",
        stderr(&output)
    );
    stdout(&output)
}

/// The case of the report: four repositories of 2,000–3,000 runs, steps of the last 30 days,
/// default concurrency. Every run and every step lands.
#[test]
fn steps_of_four_large_repositories_finish_and_all_land() {
    let mock = mock_with(&[2000, 2400, 2700, 3000]);
    let out = tempfile::tempdir().unwrap();
    let summary = export_within(
        &mock,
        out.path(),
        &["--with", "steps", "--steps-since", "30d"],
        Duration::from_secs(300),
    );
    assert_eq!(dataset_runs(out.path()), mock.all_runs());
    assert_eq!(dataset_steps(out.path()), mock.all_steps());
    assert_eq!(report(&summary)["export"]["steps_read"], 10_100);
}

/// A matrix of `--with` × `--concurrency` (1–16) × repository sizes (1 to 20 pages) ×
/// checkpoint intervals (3 to 300 requests), each export under a deadline; every run (and
/// step) lands every time.
#[test]
fn every_mix_of_options_finishes() {
    let mock = mock_with(&[1, 100, 650, 2000]);
    let cases: &[(&str, &str, &str)] = &[
        ("steps", "1", "300"),
        ("steps", "2", "3"),
        ("steps,environments", "3", "7"),
        ("steps", "8", "300"),
        ("steps,environments,commits", "16", "3"),
        ("environments", "4", "3"),
    ];
    let rules = repo_root().join("fixtures/demo/deploy-rules.toml");
    for (with, concurrency, checkpoint) in cases {
        let out = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--with",
            with,
            "--concurrency",
            concurrency,
            "--checkpoint-requests",
            checkpoint,
        ];
        if with.contains("commits") {
            args.extend(["--rules", rules.to_str().unwrap()]);
        }
        let case = format!("--with {with} --concurrency {concurrency}");
        export_within(&mock, out.path(), &args, Duration::from_secs(240));
        assert_eq!(dataset_runs(out.path()), mock.all_runs(), "{case}");
        if with.contains("steps") {
            assert_eq!(dataset_steps(out.path()), mock.all_steps(), "{case}");
        }
    }
}

/// Two workspaces of large repositories exported at once by one nightly run, with steps.
#[test]
fn two_workspaces_at_once_with_steps_finish() {
    let mock = mock_with(&[1800, 2200]);
    mock.state.lock().unwrap().also_workspaces = vec!["globex".into()];
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bbpipe.toml");
    let out = dir.path().join("out");
    let workspace = |name: &str| {
        format!(
            "[[workspace]]\nname = \"{name}\"\n[[workspace.credential]]\nname = \"one\"\n\
             token_env = \"NO_HANG_TOKEN\"\n"
        )
    };
    std::fs::write(
        &config,
        format!(
            "out = {:?}\napi_url = {:?}\nparallel_workspaces = 2\nwith = \"steps\"\n{}{}",
            out.to_str().unwrap(),
            mock.url,
            workspace("acme"),
            workspace("globex"),
        ),
    )
    .unwrap();
    let args = nightly_args(config.to_str().unwrap(), &[]);
    let env = [("NO_HANG_TOKEN", TOKEN.to_string())];
    let output = bbpipe_within(&args, &env, Duration::from_secs(300))
        .unwrap_or_else(|| panic!("two workspaces with steps: hung"));
    assert!(output.status.success(), "{}", stderr(&output));
    // The mock serves the same repositories to both workspaces: each has every run and step.
    let runs = dataset_runs(&out);
    let expected: Vec<_> = mock
        .all_runs()
        .into_iter()
        .flat_map(|run| [run.clone(), run])
        .collect();
    assert_eq!(runs, expected);
    assert_eq!(dataset_steps(&out).len(), 2 * mock.all_steps().len());
}

/// Load stops for ever at its third batch (a failpoint): the export fails with the stall error
/// naming what each stage waits for, instead of hanging; what its checkpoints committed is
/// valid, and the next export finishes the job.
#[test]
fn a_stage_that_stops_moving_is_a_stall_error_not_a_hang() {
    let mock = mock_with(&[900, 1200]);
    let out = tempfile::tempdir().unwrap();
    let args = export_args(
        out.path().to_str().unwrap(),
        &[
            "--with",
            "steps",
            "--batch-rows",
            "50",
            "--checkpoint-requests",
            "40",
            "--stall-timeout",
            "2s",
        ],
    );
    let mut env = env(&mock);
    env.push(("BBPIPE_FAILPOINT", "stall-load:30".to_string()));
    let output = bbpipe_within(&args, &env, Duration::from_secs(120))
        .unwrap_or_else(|| panic!("a stalled export hung past its stall timeout"));
    let logs = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{logs}");
    assert!(
        logs.contains("stalled: nothing moved for 2s (--stall-timeout)"),
        "{logs}"
    );
    assert!(
        logs.contains("load: writing a batch into its partitions"),
        "{logs}"
    );
    assert!(
        logs.contains("batches queued for load: 4 of 4 queued"),
        "{logs}"
    );
    assert!(logs.contains("extract: "), "{logs}");
    assert!(
        logs.contains("checkpoint(s) were committed before it stopped"),
        "{logs}"
    );
    let verified = bbpipe(&["verify-output", out.path().to_str().unwrap()]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    let committed = dataset_runs(out.path());
    assert!(!committed.is_empty() && committed.len() < mock.all_runs().len());

    export_within(
        &mock,
        out.path(),
        &["--with", "steps"],
        Duration::from_secs(120),
    );
    assert_eq!(dataset_runs(out.path()), mock.all_runs());
    assert_eq!(dataset_steps(out.path()), mock.all_steps());
}

/// A wait on Bitbucket's rate limit longer than the stall timeout is logged as such and is not
/// a stall.
#[test]
fn a_rate_limit_wait_is_not_a_stall() {
    let mock = mock_with(&[30]);
    mock.state
        .lock()
        .unwrap()
        .faults
        .push_back(Fault::RetryAfter("3".into()));
    let out = tempfile::tempdir().unwrap();
    let args = export_args(out.path().to_str().unwrap(), &["--stall-timeout", "1s"]);
    let mut env = env(&mock);
    env.push(("RUST_LOG", "info".to_string()));
    let output = bbpipe_within(&args, &env, Duration::from_secs(60)).unwrap();
    let logs = stderr(&output);
    assert!(output.status.success(), "{logs}");
    assert!(
        logs.contains("rate limited by Bitbucket; waiting"),
        "{logs}"
    );
    assert_eq!(dataset_runs(out.path()), mock.all_runs());
}
