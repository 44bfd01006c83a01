//! Several writers on one destination, local and S3: exports of different workspaces at once,
//! the same workspace twice, leases that are held, stale or taken over, and manifests that
//! cannot be read. Checked row by row.

use crate::common::target::Target;
use crate::common::*;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// The demo recording as workspace `globex`: the same pages under another workspace directory.
fn globex() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&demo().join("acme"), &dir.path().join("globex"));
    std::fs::copy(
        demo().join("recording.json"),
        dir.path().join("recording.json"),
    )
    .unwrap();
    dir
}

fn ok(output: &Output) {
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(output),
        stderr(output)
    );
}

/// Rows of every table for one workspace, sorted.
fn rows_of(target: &Target, workspace: &str) -> Vec<(String, Vec<String>)> {
    target
        .rows()
        .into_iter()
        .map(|(table, rows)| {
            let needle = format!("\"path:workspace\":\"{workspace}\"");
            (
                table,
                rows.into_iter().filter(|r| r.contains(&needle)).collect(),
            )
        })
        .collect()
}

fn two_workspaces_at_once(target: Target, offsets_ms: &[u64]) {
    let globex = globex();
    // A dataset already holding acme.
    ok(&target.replay_with(&demo(), None, &[]));
    let expected_acme = rows_of(&target, "acme");
    assert_eq!(expected_acme[1].1.len(), 2000, "acme's runs");
    for &offset in offsets_ms {
        // globex with a tiny buffer (partitions written early), then acme again.
        let first = target
            .replay_command(globex.path(), &["--buffer-mib", "1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(offset));
        let second = target.replay_with(&demo(), None, &[]);
        let first = first.wait_with_output().unwrap();
        ok(&first);
        ok(&second);
        let verified = target.verify();
        assert!(verified.status.success(), "{}", stdout(&verified));
        assert_eq!(rows_of(&target, "acme"), expected_acme, "acme intact");
    }
    // globex equals a replay of it alone, row by row.
    let alone = Target::local();
    ok(&alone.replay_with(globex.path(), None, &[]));
    let globex_rows = rows_of(&target, "globex");
    assert_eq!(globex_rows, rows_of(&alone, "globex"));
    let counts: Vec<usize> = globex_rows.iter().map(|(_, rows)| rows.len()).collect();
    assert_eq!(
        counts,
        [9, 2000, 326],
        "repositories, pipeline_runs, deployments"
    );
}

#[test]
fn local_two_workspaces_at_once_both_commit_intact() {
    two_workspaces_at_once(Target::local(), &[0, 150, 400]);
}

#[test]
fn s3_two_workspaces_at_once_both_commit_intact() {
    two_workspaces_at_once(Target::s3("two-workspaces"), &[0, 300]);
}

fn same_workspace_twice(target: Target) {
    // Both wait for the lease: exactly one writes at a time, and the result is one replay's.
    let first = target
        .replay_command(&demo(), &["--wait-lock", "120s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let second = target.replay_with(&demo(), None, &[]);
    ok(&first.wait_with_output().unwrap());
    ok(&second);
    let alone = Target::local();
    ok(&alone.replay_with(&demo(), None, &[]));
    assert_eq!(target.rows(), alone.rows());
    let verified = target.verify();
    assert!(verified.status.success(), "{}", stdout(&verified));
}

#[test]
fn local_same_workspace_twice_never_both_write() {
    same_workspace_twice(Target::local());
}

#[test]
fn s3_same_workspace_twice_never_both_write() {
    same_workspace_twice(Target::s3("same-workspace"));
}

/// A lease record as another export would have written it.
fn lease_record(out: &Path, epoch: u64, expires_in: chrono::Duration) {
    let dir = out.join("_leases/acme");
    std::fs::create_dir_all(&dir).unwrap();
    let now = chrono::Utc::now();
    let record = serde_json::json!({
        "workspace": "acme",
        "epoch": epoch,
        "holder": {"host": "cron-node-7", "pid": 4242, "run_id": "20261130T030000Z-04242-00000000",
                   "started_at": "2026-11-30T03:00:00Z"},
        "written_at": now,
        "expires_at": now + expires_in,
        "released": false,
    });
    std::fs::write(
        dir.join(format!("{epoch:012}.json")),
        serde_json::to_vec(&record).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_held_workspace_is_refused_with_exit_9_naming_the_holder() {
    let target = Target::local();
    ok(&target.replay_with(&demo(), None, &[]));
    let before = target.rows();
    let out = std::path::PathBuf::from(target.out());
    lease_record(&out, 1000, chrono::Duration::minutes(5));
    let refused = bbpipe(&["replay", demo().to_str().unwrap(), "--out", &target.out()]);
    assert_eq!(refused.status.code(), Some(9), "{}", stderr(&refused));
    let message = stderr(&refused);
    for part in [
        "cron-node-7",
        "pid 4242",
        "2026-11-30T03:00:00Z",
        "expires at",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert_eq!(target.rows(), before, "nothing touched");

    // Waiting: the holder lets go (here: its lease lapses) and the replay proceeds.
    lease_record(&out, 1001, chrono::Duration::seconds(2));
    let waited = bbpipe(&[
        "replay",
        demo().to_str().unwrap(),
        "--out",
        &target.out(),
        "--wait-lock",
        "30s",
    ]);
    ok(&waited);
    // A stale lease (expired) is taken over at once, with a warning.
    lease_record(&out, 5000, chrono::Duration::seconds(-30));
    let taken = bbpipe(&["replay", demo().to_str().unwrap(), "--out", &target.out()]);
    ok(&taken);
    assert!(
        stderr(&taken).contains("taking over an expired lease"),
        "{}",
        stderr(&taken)
    );
    let verified = target.verify();
    assert!(verified.status.success(), "{}", stdout(&verified));
}

#[test]
fn an_unreadable_manifest_stops_the_export_and_deletes_nothing() {
    let target = Target::local();
    ok(&target.replay_with(&demo(), None, &[]));
    let out = std::path::PathBuf::from(target.out());
    let manifest = out.join("_manifests/acme/000000000001.json");
    assert!(manifest.exists());
    std::fs::write(&manifest, b"{ not json").unwrap();
    let files_before = parquet_files(&out).len();
    let failed = bbpipe(&["replay", demo().to_str().unwrap(), "--out", &target.out()]);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert!(
        stderr(&failed).contains("000000000001.json: not a bbpipe manifest"),
        "{}",
        stderr(&failed)
    );
    assert_eq!(parquet_files(&out).len(), files_before, "no file deleted");

    // A manifest missing from the middle of the log: nothing is removed while it is.
    let target = Target::local();
    let out = std::path::PathBuf::from(target.out());
    for _ in 0..3 {
        ok(&target.replay_with(&demo(), None, &[]));
    }
    std::fs::remove_file(out.join("_manifests/acme/000000000002.json")).unwrap();
    let files_before = parquet_files(&out).len();
    let output = target.replay_with(&demo(), None, &[]);
    ok(&output);
    assert!(
        stderr(&output).contains("manifests are missing"),
        "{}",
        stderr(&output)
    );
    assert_eq!(parquet_files(&out).len(), files_before, "nothing removed");
    let verified = target.verify();
    assert!(
        stdout(&verified).contains("manifest 2 of its log is missing"),
        "{}",
        stdout(&verified)
    );
}
