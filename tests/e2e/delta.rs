//! End to end: Delta Lake output (`--format delta`). Each table's log is read here by a reader of
//! its own (the JSON commits replayed: add, then remove), independent of the kernel that wrote
//! it, and compared with what the manifests commit. scripts/check_delta.py reads the same output
//! with deltalake and DuckDB's delta extension.

use crate::common::mock::{Auth, MockBitbucket};
use crate::common::s3;
use crate::common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

const TOKEN: &str = "tkn-delta-secret";

/// A table's files at `version` (all versions: `None`), by replaying its JSON commits.
fn delta_files(table: &Path, version: Option<u64>) -> BTreeSet<String> {
    let mut commits: Vec<_> = std::fs::read_dir(table.join("_delta_log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !p.file_name().unwrap().to_str().unwrap().starts_with('_'))
        .collect();
    commits.sort();
    let mut files = BTreeSet::new();
    for (n, commit) in commits.iter().enumerate() {
        assert_eq!(
            commit.file_stem().unwrap().to_str().unwrap(),
            format!("{n:020}"),
            "versions are consecutive"
        );
        if version.is_some_and(|v| n as u64 > v) {
            break;
        }
        for line in std::fs::read_to_string(commit).unwrap().lines() {
            let action: Value = serde_json::from_str(line).unwrap();
            if let Some(add) = action.get("add") {
                files.insert(add["path"].as_str().unwrap().to_string());
            }
            if let Some(remove) = action.get("remove") {
                assert!(files.remove(remove["path"].as_str().unwrap()));
            }
        }
    }
    files
}

/// The number of versions of a table.
fn versions(table: &Path) -> usize {
    std::fs::read_dir(table.join("_delta_log"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_str().unwrap();
            name.ends_with(".json") && !name.starts_with('_')
        })
        .count()
}

/// The live files of a table as the manifests say, relative to the table's directory.
fn live_files(out: &Path, table: &str) -> BTreeSet<String> {
    let mut live = BTreeSet::new();
    let mut manifests: Vec<_> = all_files(&out.join("_manifests"));
    manifests.sort_by_key(|p| {
        let n: u64 = p.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        (p.parent().unwrap().to_path_buf(), n)
    });
    for manifest in manifests {
        let manifest = read_json(&manifest);
        let Some(changes) = manifest["tables"].get(table) else {
            continue;
        };
        for file in changes["added"].as_array().unwrap() {
            live.insert(file["path"].as_str().unwrap().to_string());
        }
        for file in changes["removed"].as_array().unwrap() {
            live.remove(file["path"].as_str().unwrap());
        }
    }
    let prefix = format!("{table}/");
    live.iter()
        .map(|p| p.strip_prefix(&prefix).unwrap().to_string())
        .collect()
}

fn replay(out: &Path, fixtures: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "replay",
        fixtures.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    bbpipe(&args)
}

#[test]
fn the_format_is_recorded_and_another_is_refused() {
    let out = tempfile::tempdir().unwrap();
    let done = replay(out.path(), &demo(), &["--format", "delta"]);
    assert!(done.status.success(), "{}", stderr(&done));
    assert!(
        stdout(&done).contains("format          delta: 2 table version(s) committed"),
        "{}",
        stdout(&done)
    );
    assert_eq!(
        read_json(&out.path().join("_dataset.json"))["format"],
        "delta"
    );
    let manifests = all_files(&out.path().join("_manifests")).len();
    let refused = replay(out.path(), &demo(), &["--format", "parquet"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("holds delta tables, not parquet"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(all_files(&out.path().join("_manifests")).len(), manifests);
    // Without --format, the dataset's own is used.
    let again = replay(out.path(), &demo(), &[]);
    assert!(again.status.success(), "{}", stderr(&again));

    let parquet = tempfile::tempdir().unwrap();
    assert!(replay(parquet.path(), &demo(), &[]).status.success());
    let vacuum = bbpipe(&["vacuum", parquet.path().to_str().unwrap()]);
    assert_eq!(vacuum.status.code(), Some(1));
    assert!(
        stderr(&vacuum).contains("not a Delta dataset"),
        "{}",
        stderr(&vacuum)
    );
}

/// An export with checkpoints: each commit that changes a table is one version of it, and at
/// every step the log's files are the manifests' live files.
#[test]
fn every_commit_is_one_version_and_the_log_follows_the_manifests() {
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    for i in 0..4 {
        mock.add_repo(&format!("repo-{i}"), 150 + i * 40);
    }
    let out = tempfile::tempdir().unwrap();
    let out_path = out.path().to_str().unwrap();
    let env = [
        ("BITBUCKET_API_URL", mock.url.clone()),
        ("BITBUCKET_ACCESS_TOKEN", TOKEN.to_string()),
    ];
    let args = export_args(
        out_path,
        &["--format", "delta", "--checkpoint-requests", "3"],
    );
    let first = bbpipe_with_env(&args, &env);
    assert!(first.status.success(), "{}", stderr(&first));
    let runs = out.path().join("pipeline_runs");
    let changed_runs = |out: &Path| {
        all_files(&out.join("_manifests"))
            .iter()
            .filter(|m| read_json(m)["tables"].get("pipeline_runs").is_some())
            .count()
    };
    assert!(changed_runs(out.path()) > 1, "checkpoints were committed");
    assert_eq!(versions(&runs), changed_runs(out.path()));
    assert_eq!(
        delta_files(&runs, None),
        live_files(out.path(), "pipeline_runs")
    );
    assert_eq!(
        delta_files(&runs, None).len(),
        parquet_count(&runs, &delta_files(&runs, None))
    );

    // A later export: re-runs and new runs. The previous version keeps the previous files.
    let before = delta_files(&runs, None);
    let before_version = versions(&runs) as u64 - 1;
    let uuid = mock.all_runs()[0].0.clone();
    mock.rerun("repo-0", &uuid, "SUCCESSFUL");
    mock.push_run("repo-1", "COMPLETED", Some("FAILED"));
    let second = bbpipe_with_env(&args, &env);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(versions(&runs), changed_runs(out.path()));
    assert_eq!(
        delta_files(&runs, None),
        live_files(out.path(), "pipeline_runs")
    );
    assert_eq!(delta_files(&runs, Some(before_version)), before);
    for file in &before {
        assert!(runs.join(file).exists(), "{file} kept for time travel");
    }
    let verified = bbpipe(&["verify-output", out_path]);
    assert!(verified.status.success(), "{}", stdout(&verified));
    assert!(
        stdout(&verified).contains("kept for older versions"),
        "{}",
        stdout(&verified)
    );
    let uuids = current_run_uuids(out.path());
    let distinct: BTreeSet<&String> = uuids.iter().collect();
    assert_eq!(uuids.len(), distinct.len(), "no run twice");
    assert_eq!(uuids.len(), mock.all_runs().len(), "every run");
}

/// How many of `files` exist under `table`.
fn parquet_count(table: &Path, files: &BTreeSet<String>) -> usize {
    files.iter().filter(|f| table.join(f).exists()).count()
}

/// The run uuids of the current version: those of the files its log names.
fn current_run_uuids(out: &Path) -> Vec<String> {
    use arrow::array::AsArray;
    let runs = out.join("pipeline_runs");
    let mut uuids = Vec::new();
    for file in delta_files(&runs, None) {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(runs.join(file)).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let column = batch.column_by_name("uuid").unwrap().as_string::<i32>();
            uuids.extend(column.iter().map(|u| u.unwrap().to_string()));
        }
    }
    uuids
}

/// Killed after its manifest, before its Delta commit: the tables stay at their previous
/// version (verify-output says the log is behind), and the next run publishes.
#[test]
fn a_run_killed_before_publishing_is_published_by_the_next() {
    let out = tempfile::tempdir().unwrap();
    let fixtures = demo_with_a_new_run();
    let first = replay(out.path(), &demo(), &["--format", "delta"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let runs = out.path().join("pipeline_runs");
    let before = delta_files(&runs, None);
    let killed = bbpipe_with_env(
        &[
            "replay",
            fixtures.path().to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
            "--lease",
            "2s",
        ],
        &[("BBPIPE_FAILPOINT", "after-manifest".into())],
    );
    assert!(!killed.status.success());
    assert_eq!(
        delta_files(&runs, None),
        before,
        "the current version is unchanged"
    );
    assert_ne!(
        live_files(out.path(), "pipeline_runs"),
        before,
        "the manifest committed"
    );
    std::thread::sleep(std::time::Duration::from_secs(3));
    let verified = bbpipe(&["verify-output", out.path().to_str().unwrap()]);
    assert!(!verified.status.success());
    assert!(
        stdout(&verified).contains("lacks 1 file(s) of workspace acme"),
        "{}",
        stdout(&verified)
    );
    let next = replay(out.path(), fixtures.path(), &[]);
    assert!(next.status.success(), "{}", stderr(&next));
    assert_eq!(
        delta_files(&runs, None),
        live_files(out.path(), "pipeline_runs")
    );
    let verified = bbpipe(&["verify-output", out.path().to_str().unwrap()]);
    assert!(verified.status.success(), "{}", stdout(&verified));
}

/// The demo with one more run in payments: its month's file of pipeline_runs is replaced.
fn demo_with_a_new_run() -> tempfile::TempDir {
    let fixtures = tempfile::tempdir().unwrap();
    copy_tree(&demo(), fixtures.path());
    let page = fixtures
        .path()
        .join("acme/payments/pipelines/page-0001.json");
    edit_json(&page, |value| {
        let runs = value["values"].as_array_mut().unwrap();
        let mut new = runs[0].clone();
        new["uuid"] = "{00000000-0000-4000-8000-0000000de17b}".into();
        new["build_number"] = 100_001.into();
        runs.insert(0, new);
    });
    fixtures
}

/// Data files present, and those the manifests keep live, as paths from the dataset root.
fn present_and_live(root: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let present = all_files(root)
        .iter()
        .map(|p| p.strip_prefix(root).unwrap().to_str().unwrap().to_string())
        .filter(|p| p.ends_with(".parquet") && !p.contains("_delta_log"))
        .collect();
    let live = ["repositories", "pipeline_runs", "deployments"]
        .iter()
        .flat_map(|table| {
            live_files(root, table)
                .into_iter()
                .map(move |f| format!("{table}/{f}"))
        })
        .collect();
    (present, live)
}

fn vacuum_removes_only_what_no_version_needs(target: crate::common::target::Target) {
    let copy = tempfile::tempdir().unwrap();
    let root = |target: &crate::common::target::Target| -> std::path::PathBuf {
        match target {
            crate::common::target::Target::Local(_) => std::path::PathBuf::from(target.out()),
            crate::common::target::Target::S3 { bucket } => {
                let to = copy.path().join(format!("{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&to);
                s3::download(bucket, "exports/bitbucket", &to);
                to
            }
        }
    };
    let first = target.replay_with(&demo(), None, &["--format", "delta"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let later = demo_with_a_new_run();
    let second = target.replay_with(later.path(), None, &[]);
    assert!(second.status.success(), "{}", stderr(&second));
    let (present, live) = present_and_live(&root(&target));
    let replaced: BTreeSet<String> = present.difference(&live).cloned().collect();
    assert!(!replaced.is_empty(), "the second replay replaced files");
    let out = target.out();
    let vacuum = |extra: &[&str]| {
        let mut args = vec!["vacuum", out.as_str(), "--allow-short-retention"];
        args.extend(extra);
        let done = bbpipe_with_env(&args, &target.env());
        assert!(done.status.success(), "{}", stderr(&done));
        stdout(&done)
    };
    let kept = vacuum(&["--retain", "1h"]);
    assert!(kept.contains("removed 0 files"), "{kept}");
    let listed = vacuum(&["--retain", "0s", "--dry-run"]);
    let would: BTreeSet<String> = listed
        .lines()
        .filter_map(|l| l.strip_prefix("would remove "))
        .map(str::to_string)
        .collect();
    assert_eq!(would, replaced, "exactly the replaced files");
    assert_eq!(
        present_and_live(&root(&target)).0,
        present,
        "a dry run removes nothing"
    );
    vacuum(&["--retain", "0s"]);
    assert_eq!(
        present_and_live(&root(&target)).0,
        live,
        "the live files remain, all of them"
    );
    let verified = target.verify();
    assert!(verified.status.success(), "{}", stdout(&verified));
}

#[test]
fn vacuum_removes_only_what_no_version_needs_local() {
    vacuum_removes_only_what_no_version_needs(crate::common::target::Target::local());
}

#[test]
fn vacuum_removes_only_what_no_version_needs_s3() {
    vacuum_removes_only_what_no_version_needs(crate::common::target::Target::s3("delta-vacuum"));
}

/// A workspace whose export holds its lease (here, one killed a moment ago) is left alone.
#[test]
fn vacuum_skips_a_workspace_being_exported() {
    let out = tempfile::tempdir().unwrap();
    assert!(
        replay(out.path(), &demo(), &["--format", "delta"])
            .status
            .success()
    );
    let later = demo_with_a_new_run();
    assert!(replay(out.path(), later.path(), &[]).status.success());
    let (present, _) = present_and_live(out.path());
    let killed = bbpipe_with_env(
        &[
            "replay",
            demo().to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
            "--lease",
            "10m",
        ],
        &[("BBPIPE_FAILPOINT", "after-manifest".into())],
    );
    assert!(!killed.status.success());
    let vacuum = bbpipe(&[
        "vacuum",
        out.path().to_str().unwrap(),
        "--retain",
        "0s",
        "--allow-short-retention",
    ]);
    assert!(vacuum.status.success(), "{}", stderr(&vacuum));
    assert!(
        stdout(&vacuum).contains("skipped workspace acme: an export holds its lease"),
        "{}",
        stdout(&vacuum)
    );
    let (after, _) = present_and_live(out.path());
    assert!(after.is_superset(&present), "nothing of acme removed");
}
