//! End to end: re-runs, overlapping and older exports, and killed exports, on the local
//! filesystem and on a local S3 server, checked row by row.

use crate::common::target::Target;
use crate::common::*;
use serde_json::{Value, json};
use std::path::PathBuf;

/// The demo, changed as a later export would see it: a production deploy that was running has
/// completed, a completed one was re-run (it completes two days later: its deployment moves to
/// another deployed_date), and every row is newer.
fn later_recording() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&demo(), dir.path());
    let page = dir.path().join("acme/web-app/pipelines/page-0001.json");
    edit_json(&page, |value| {
        let runs = value["values"].as_array_mut().unwrap();
        let deploys = |r: &Value| r["target"]["selector"]["pattern"] == "deploy-to-production";
        let running = runs
            .iter()
            .position(|r| deploys(r) && r["state"]["name"] == "IN_PROGRESS")
            .unwrap();
        runs[running]["state"] = json!({"name": "COMPLETED", "type": "pipeline_state_completed",
        "result": {"name": "SUCCESSFUL", "type": "pipeline_state_completed_successful"}});
        runs[running]["completed_on"] = json!("2026-11-21T05:00:00.5Z");
        let done = runs
            .iter()
            .position(|r| deploys(r) && r["state"]["name"] == "COMPLETED" && r["run_number"] == 1)
            .unwrap();
        runs[done]["run_number"] = json!(2);
        runs[done]["completed_on"] = json!("2026-11-21T05:30:00+00:00");
    });
    let recording = r#"{"format": 1, "recorded_at": "2026-11-22T06:00:00Z", "source": "test"}"#;
    std::fs::write(dir.path().join("recording.json"), recording).unwrap();
    dir
}

fn rerun_changes_nothing(target: Target) {
    target.replay_ok(&demo());
    let first = target.rows();
    let second_run = target.replay_ok(&demo());
    assert!(
        second_run.contains("written         nothing"),
        "{second_run}"
    );
    assert_eq!(target.rows(), first);
    let verified = target.verify();
    assert!(verified.status.success(), "{}", stdout(&verified));
    assert_eq!(first[1].1.len(), 2000);
}

fn newest_version_wins_whatever_the_order(target: Target, fresh: Target) {
    let later = later_recording();
    target.replay_ok(&demo());
    target.replay_ok(later.path());
    target.replay_ok(&demo()); // an older recording replayed again changes nothing
    let verified = target.verify();
    assert!(verified.status.success(), "{}", stdout(&verified));
    fresh.replay_ok(later.path());
    let (got, want) = (target.rows(), fresh.rows());
    for ((table, got), (_, want)) in got.iter().zip(&want) {
        assert_eq!(got.len(), want.len(), "{table} rows");
        assert_eq!(
            got, want,
            "{table}: the dataset equals a fresh export of the newest pages"
        );
    }
}

fn killed_export_is_healed(target: Target, fresh: Target, failpoint: &str) {
    let later = later_recording();
    target.replay_ok(&demo());
    let committed = target.rows();
    let killed = target.replay(later.path(), Some(failpoint));
    assert!(
        !killed.status.success(),
        "the failpoint must kill the export"
    );
    // What was committed is all still there and readable.
    let after_kill = target.rows();
    for ((table, before), (_, now)) in committed.iter().zip(&after_kill) {
        for row in before {
            assert!(
                now.binary_search(row).is_ok(),
                "{table}: committed row lost: {row}"
            );
        }
    }
    // Once its lease lapsed, the killed export's files are orphans and its lease is stale.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let verified = target.verify();
    assert!(!verified.status.success(), "leftovers are reported");
    let report = stdout(&verified);
    assert!(report.contains("not live in any manifest"), "{report}");
    assert!(report.contains("stale lease"), "{report}");

    target.replay_ok(later.path());
    let verified = target.verify();
    assert!(verified.status.success(), "{}", stdout(&verified));
    fresh.replay_ok(later.path());
    assert_eq!(target.rows(), fresh.rows());
}

#[test]
fn local_rerun_changes_nothing() {
    rerun_changes_nothing(Target::local());
}

#[test]
fn s3_rerun_changes_nothing() {
    rerun_changes_nothing(Target::s3("rerun"));
}

#[test]
fn local_newest_version_wins() {
    newest_version_wins_whatever_the_order(Target::local(), Target::local());
}

#[test]
fn s3_newest_version_wins() {
    newest_version_wins_whatever_the_order(Target::s3("newest"), Target::s3("newest-fresh"));
}

#[test]
fn local_killed_between_file_writes() {
    killed_export_is_healed(Target::local(), Target::local(), "after-file:3");
}

#[test]
fn s3_killed_between_file_writes() {
    killed_export_is_healed(
        Target::s3("killed"),
        Target::s3("killed-fresh"),
        "after-file:3",
    );
}

#[test]
fn local_killed_after_the_manifest() {
    killed_export_is_healed(Target::local(), Target::local(), "after-manifest");
}

#[test]
fn s3_killed_after_the_manifest() {
    killed_export_is_healed(
        Target::s3("manifest"),
        Target::s3("manifest-fresh"),
        "after-manifest",
    );
}

#[test]
fn verify_output_catches_a_damaged_file() {
    let target = Target::local();
    target.replay_ok(&demo());
    let file = parquet_files(&PathBuf::from(target.out()).join("pipeline_runs")).remove(0);
    std::fs::write(&file, b"not parquet").unwrap();
    let verified = target.verify();
    assert_eq!(verified.status.code(), Some(1));
    assert!(
        stdout(&verified).contains(file.file_name().unwrap().to_str().unwrap()),
        "{}",
        stdout(&verified)
    );
}

/// Rewrites every Parquet file under `dir` with its columns in reverse order, as another tool
/// rewriting the dataset might: same rows, same schema metadata, another column order.
fn reverse_columns(dir: &std::path::Path) {
    use arrow::record_batch::RecordBatch;
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    for file in parquet_files(dir) {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        let order: Vec<usize> = (0..batches[0].num_columns()).rev().collect();
        let reversed: Vec<RecordBatch> =
            batches.iter().map(|b| b.project(&order).unwrap()).collect();
        let mut writer = ArrowWriter::try_new(
            std::fs::File::create(&file).unwrap(),
            reversed[0].schema(),
            None,
        )
        .unwrap();
        for batch in &reversed {
            writer.write(batch).unwrap();
        }
        writer.close().unwrap();
    }
}

/// A file rewritten by another tool with its columns in another order is refused with the
/// file and the column named, before anything is merged or committed, not read by position.
#[test]
fn a_file_with_reordered_columns_is_named_not_misread() {
    let target = Target::local();
    target.replay_ok(&demo());
    reverse_columns(&PathBuf::from(target.out()).join("deployments"));
    let later = later_recording();
    let output = target.replay(later.path(), None);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("deployments/workspace=acme/"), "{err}");
    assert!(
        err.contains("expected column `reference_id Utf8 not null`"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // The failed run committed nothing: the workspace's log still holds the first manifest only.
    let manifests = std::fs::read_dir(PathBuf::from(target.out()).join("_manifests/acme"))
        .unwrap()
        .count();
    assert_eq!(manifests, 1);
}
