//! Partition granularity end to end: a month and a day layout of one replay hold the same
//! rows, each in the partition its timestamp names; a dataset keeps the granularity it was
//! created with; an incremental export rewrites one file per month it touches.

use crate::common::mock::{Auth, MockBitbucket};
use crate::common::target::Target;
use crate::common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every row of every table under `root`, with the partition value of its date level taken
/// out and checked against the row's timestamp: `(level, format)` per table.
fn rows_checked(root: &Path, day: bool) -> BTreeMap<&'static str, Vec<String>> {
    let levels = [
        ("repositories", None),
        ("pipeline_runs", Some(("created", "created_at"))),
        ("deployments", Some(("deployed", "deployed_at"))),
    ];
    let mut tables = BTreeMap::new();
    for (table, level) in levels {
        let mut rows = Vec::new();
        for mut row in read_table(root, table) {
            assert_eq!(row.remove("path:workspace"), Some(Value::from("acme")));
            if let Some((prefix, column)) = level {
                let micros = row[column].as_i64().unwrap();
                let time = chrono::DateTime::from_timestamp_micros(micros).unwrap();
                let (name, value) = if day {
                    (format!("path:{prefix}_date"), time.format("%Y-%m-%d"))
                } else {
                    (format!("path:{prefix}_month"), time.format("%Y-%m"))
                };
                assert_eq!(
                    row.remove(&name),
                    Some(Value::from(value.to_string())),
                    "{table}: {name} of {row:?}"
                );
            }
            assert!(
                !row.keys().any(|k| k.starts_with("path:")),
                "{table}: a level of the other granularity: {row:?}"
            );
            rows.push(Value::Object(row).to_string());
        }
        rows.sort();
        tables.insert(table, rows);
    }
    tables
}

/// The dataset as files on local disk (S3 is downloaded).
fn local_copy(target: &Target, copy: &Path) -> PathBuf {
    match target {
        Target::Local(_) => PathBuf::from(target.out()),
        Target::S3 { bucket } => {
            s3::download(bucket, "exports/bitbucket", copy);
            copy.to_path_buf()
        }
    }
}

fn replay(target: &Target, extra: &[&str]) -> std::process::Output {
    let output = target.replay_with(&demo(), None, extra);
    assert!(output.status.success(), "{}", stderr(&output));
    output
}

fn month_and_day_hold_the_same_rows(month: Target, day: Target) {
    replay(&month, &[]);
    replay(&day, &["--partition-by", "day"]);
    let (month_copy, day_copy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (month_root, day_root) = (
        local_copy(&month, month_copy.path()),
        local_copy(&day, day_copy.path()),
    );
    let by_month = rows_checked(&month_root, false);
    let by_day = rows_checked(&day_root, true);
    assert_eq!(by_month, by_day, "the same rows in both layouts");
    assert_eq!(by_month["pipeline_runs"].len(), 2000);
    assert!(by_month["deployments"].len() > 300);

    // One file per table, workspace and month.
    for (table, column) in [
        ("pipeline_runs", "created_at"),
        ("deployments", "deployed_at"),
    ] {
        let months: BTreeSet<String> = read_table(&month_root, table)
            .iter()
            .map(|r| {
                let micros = r[column].as_i64().unwrap();
                let time = chrono::DateTime::from_timestamp_micros(micros).unwrap();
                time.format("%Y-%m").to_string()
            })
            .collect();
        let files = parquet_files(&month_root.join(table));
        assert_eq!(files.len(), months.len(), "{table}: one file per month");
    }
    assert_eq!(parquet_files(&month_root.join("repositories")).len(), 1);
    for target in [&month, &day] {
        let verified = target.verify();
        assert!(verified.status.success(), "{}", stdout(&verified));
    }
    let record = |root: &Path| read_json(&root.join("_dataset.json"))["partition_by"].clone();
    assert_eq!(record(&month_root), Value::from("month"));
    assert_eq!(record(&day_root), Value::from("day"));
}

#[test]
fn local_month_and_day_hold_the_same_rows() {
    month_and_day_hold_the_same_rows(Target::local(), Target::local());
}

#[test]
fn s3_month_and_day_hold_the_same_rows() {
    month_and_day_hold_the_same_rows(
        Target::s3("partitioning-month"),
        Target::s3("partitioning-day"),
    );
}

/// The manifests of the dataset at `root`.
fn manifests(root: &Path) -> usize {
    std::fs::read_dir(root.join("_manifests/acme")).map_or(0, |d| d.count())
}

#[test]
fn a_dataset_keeps_the_granularity_it_was_created_with() {
    let target = Target::local();
    let root = PathBuf::from(target.out());
    replay(&target, &["--partition-by", "day"]);
    // Later runs follow the dataset, asked or not.
    replay(&target, &[]);
    replay(&target, &["--partition-by", "day"]);
    assert!(
        root.join("pipeline_runs/workspace=acme")
            .read_dir()
            .unwrap()
            .all(|d| {
                let name = d.unwrap().file_name();
                name.to_str().unwrap().starts_with("created_date=")
            })
    );

    // Asking for the other granularity is refused, and nothing moves.
    let before = (manifests(&root), parquet_files(&root));
    let refused = target.replay_with(&demo(), None, &["--partition-by", "month"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let message = stderr(&refused);
    assert!(
        message.contains("is partitioned by day, not month")
            && message.contains("leave out --partition-by")
            && message.contains("empty destination"),
        "{message}"
    );
    assert_eq!((manifests(&root), parquet_files(&root)), before);

    // A dataset of bbpipe 0.1 has no record: it is partitioned by day, and gets its record.
    std::fs::remove_file(root.join("_dataset.json")).unwrap();
    let refused = target.replay_with(&demo(), None, &["--partition-by", "month"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    replay(&target, &[]);
    assert_eq!(
        read_json(&root.join("_dataset.json"))["partition_by"],
        Value::from("day")
    );
    assert!(target.verify().status.success());

    // And a month dataset refuses day.
    let month = Target::local();
    replay(&month, &[]);
    let refused = month.replay_with(&demo(), None, &["--partition-by", "day"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("is partitioned by month, not day"));

    // A value that is neither is a usage error.
    let wrong = bbpipe(&[
        "replay",
        demo().to_str().unwrap(),
        "--out",
        &month.out(),
        "--partition-by",
        "week",
    ]);
    assert_eq!(wrong.status.code(), Some(2), "{}", stderr(&wrong));
}

#[test]
fn verify_output_names_a_file_of_the_other_granularity() {
    let target = Target::local();
    let root = PathBuf::from(target.out());
    replay(&target, &[]);
    // Rename a month directory as a day: the file is live under another name no more, so
    // move the manifest's idea along with it.
    let month_dir = root
        .join("pipeline_runs/workspace=acme")
        .read_dir()
        .unwrap()
        .map(|d| d.unwrap().path())
        .next()
        .unwrap();
    let month = month_dir.file_name().unwrap().to_str().unwrap().to_string();
    let day = format!("{}-01", month.replace("created_month", "created_date"));
    std::fs::rename(&month_dir, month_dir.with_file_name(&day)).unwrap();
    let manifest = root.join("_manifests/acme/000000000001.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace(&month, &day)).unwrap();
    let verified = target.verify();
    assert!(!verified.status.success());
    assert!(
        stdout(&verified).contains("partitioned by day, but the dataset is partitioned by month"),
        "{}",
        stdout(&verified)
    );
}

#[test]
fn an_incremental_export_rewrites_one_file_per_month_it_touches() {
    const TOKEN: &str = "tkn-partitioning";
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    // Runs every 4 hours from 20 May to 26 July; the newest page of each repository (100
    // runs, which every export reads again) lies in July.
    mock.clock(
        chrono::DateTime::parse_from_rfc3339("2026-05-20T00:00:00Z")
            .unwrap()
            .to_utc(),
        chrono::Duration::hours(4),
    );
    mock.add_repo("api", 400);
    mock.add_repo("web", 400);
    let out = tempfile::tempdir().unwrap();
    let root = out.path().join("data");
    let env = vec![
        ("BITBUCKET_API_URL", mock.url.clone()),
        ("BITBUCKET_ACCESS_TOKEN", TOKEN.to_string()),
    ];
    let export = || {
        let output = bbpipe_with_env(&export_args(root.to_str().unwrap(), &[]), &env);
        assert!(output.status.success(), "{}", stderr(&output));
        report(&stdout(&output))
    };
    let first = export();
    assert_eq!(first["partition_by"], Value::from("month"));
    let months = |root: &Path| -> BTreeMap<String, usize> {
        root.join("pipeline_runs/workspace=acme")
            .read_dir()
            .unwrap()
            .map(|d| {
                let dir = d.unwrap().path();
                let name = dir.file_name().unwrap().to_str().unwrap().to_string();
                (name, parquet_files(&dir).len())
            })
            .collect()
    };
    let before = months(&root);
    assert_eq!(
        before.keys().cloned().collect::<Vec<_>>(),
        [
            "created_month=2026-05",
            "created_month=2026-06",
            "created_month=2026-07"
        ]
    );
    assert!(before.values().all(|&files| files == 1), "{before:?}");

    // A new run, created after the newest: only its month is rewritten, as one file.
    let newest_month = before.keys().last().unwrap().clone();
    let newest_file = parquet_files(
        &root
            .join("pipeline_runs/workspace=acme")
            .join(&newest_month),
    );
    let untouched = parquet_files(&root.join("pipeline_runs/workspace=acme/created_month=2026-05"));
    mock.push_run("api", "COMPLETED", Some("SUCCESSFUL"));
    let second = export();
    assert_eq!(
        second["tables"]["pipeline_runs"]["files"],
        Value::from(1),
        "{second}"
    );
    assert_eq!(second["files_replaced"], Value::from(1), "{second}");
    let after = months(&root);
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    assert!(after.values().all(|&files| files == 1), "{after:?}");
    assert_ne!(
        parquet_files(
            &root
                .join("pipeline_runs/workspace=acme")
                .join(&newest_month)
        ),
        newest_file
    );
    assert_eq!(
        parquet_files(&root.join("pipeline_runs/workspace=acme/created_month=2026-05")),
        untouched
    );
    assert_eq!(read_table(&root, "pipeline_runs").len(), 801);
    let verified = bbpipe(&["verify-output", root.to_str().unwrap()]);
    assert!(verified.status.success(), "{}", stdout(&verified));
}
