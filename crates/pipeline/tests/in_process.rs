//! The pipeline runs in-process: a replay of the bundled fixtures, read back through its
//! report, then again into the same dataset, which changes nothing.

// Test and benchmark code fails loudly: unwrap and panic are how it reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bbpipe_model::Table;
use bbpipe_pipeline::{PipelineError, ReplayJob, WriteOptions, replay};
use std::path::{Path, PathBuf};

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo")
}

fn job(out: &Path) -> ReplayJob {
    let mut write = WriteOptions::new(out.to_str().unwrap());
    write.rules = Some(demo().join("deploy-rules.toml"));
    ReplayJob {
        fixtures: demo(),
        write,
        extras: Default::default(),
        max_commits_per_deployment: 500,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_reports_what_it_wrote_and_a_second_one_nothing() {
    let out = tempfile::tempdir().unwrap();
    let first = replay(&job(out.path())).await.unwrap();
    assert_eq!(first.workspaces, ["acme"]);
    assert_eq!(first.pages, 25);
    assert_eq!(first.repositories, 9);
    // 2001 runs read, one of them twice (pagination drift in the recording): 2000 rows.
    assert_eq!(first.pipeline_runs, 2001);
    assert_eq!(first.runs_by_status.values().sum::<u64>(), 2001);
    assert_eq!(first.table(Table::PipelineRuns).rows, 2000);
    assert_eq!(first.duplicates_dropped, 1);
    assert_eq!(first.deployments, 326);
    assert_eq!(first.table(Table::Deployments).rows, 326);
    assert_eq!(first.table(Table::Repositories).rows, 9);
    assert_eq!(first.rejected, 0);
    assert_eq!(first.manifests, 1);
    let files_on_disk = walk(&out.path().join("pipeline_runs"));
    assert_eq!(first.table(Table::PipelineRuns).files, files_on_disk);

    let second = replay(&job(out.path())).await.unwrap();
    assert!(second.tables.is_empty(), "{:?}", second.tables);
    assert_eq!(
        second.manifests, 1,
        "a run commits once per workspace, even unchanged"
    );
    assert_ne!(second.run_id, first.run_id);
    let json = serde_json::to_value(&second).unwrap();
    assert_eq!(json["pipeline_runs"], 2001);
    assert_eq!(json["export"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_bad_rules_file_is_a_typed_error_before_anything_is_written() {
    let out = tempfile::tempdir().unwrap();
    let rules = out.path().join("rules.toml");
    std::fs::write(&rules, "[[rule]]\nname = 1\n").unwrap();
    let mut job = job(&out.path().join("data"));
    job.write.rules = Some(rules);
    let error = replay(&job).await.unwrap_err();
    assert!(matches!(error, PipelineError::Rules(_)), "{error:?}");
    assert!(!out.path().join("data").exists());
}

fn walk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        walk(&path)
                    } else {
                        u64::from(path.extension().is_some_and(|x| x == "parquet"))
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
