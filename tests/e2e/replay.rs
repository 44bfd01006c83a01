//! End to end: `bbpipe replay` on the bundled demo, read back and checked against the pages.

use crate::common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

const WORKSPACE: &str = "acme";
const RECORDED_AT: &str = "2026-11-21T06:00:00Z";

fn s(v: &Value) -> Value {
    match v {
        Value::String(_) => v.clone(),
        _ => Value::Null,
    }
}

/// What a pipeline run's row must hold, derived from its JSON by the documented rules.
fn expected_run(slug: &str, run: &Value) -> BTreeMap<String, Value> {
    let state = &run["state"];
    let result = &state["result"]["name"];
    let status = match (state["name"].as_str(), result.as_str()) {
        (Some("COMPLETED"), Some("SUCCESSFUL")) => "success",
        (Some("COMPLETED"), Some("FAILED" | "ERROR")) => "failure",
        (Some("COMPLETED"), Some("STOPPED" | "EXPIRED")) => "cancelled",
        (Some("PENDING" | "PARSING" | "IN_PROGRESS"), _) => "running",
        _ => "unknown",
    };
    let target = &run["target"];
    let selector = &target["selector"];
    let name = match selector["type"].as_str() {
        Some("default") => json!("default"),
        _ => s(&selector["pattern"]),
    };
    let trigger = if run["trigger"]["name"].is_string() {
        s(&run["trigger"]["name"])
    } else {
        s(&run["trigger"]["type"])
    };
    let pr_id = target["pullrequest"]["id"]
        .as_i64()
        .or_else(|| target["pullrequest_ids"][0].as_i64());
    let ref_name = if target["ref_name"].is_string() {
        s(&target["ref_name"])
    } else {
        s(&target["source"])
    };
    let destination = if target["destination"].is_string() {
        s(&target["destination"])
    } else {
        s(&target["target_branch"])
    };
    let time = |v: &Value| v.as_str().map_or(Value::Null, |t| json!(micros(t)));
    let build = run["build_number"].as_i64().unwrap();
    let created = micros(run["created_on"].as_str().unwrap());
    let date = chrono::DateTime::from_timestamp_micros(created)
        .unwrap()
        .date_naive()
        .to_string();
    let fields = [
        ("repository", json!(format!("{WORKSPACE}/{slug}"))),
        ("repo_slug", json!(slug)),
        ("repo_uuid", s(&run["repository"]["uuid"])),
        ("uuid", s(&run["uuid"])),
        ("build_number", json!(build)),
        ("run_number", run["run_number"].clone()),
        ("name", name),
        ("selector_type", s(&selector["type"])),
        ("selector_pattern", s(&selector["pattern"])),
        ("status", json!(status)),
        ("state", s(&state["name"])),
        ("result", s(result)),
        ("stage", s(&state["stage"]["name"])),
        ("trigger", trigger),
        ("target_type", s(&target["type"])),
        ("ref_type", s(&target["ref_type"])),
        ("ref_name", ref_name),
        ("commit_sha", s(&target["commit"]["hash"])),
        ("pr_id", pr_id.map_or(Value::Null, Value::from)),
        ("pr_source_branch", s(&target["source"])),
        ("pr_destination_branch", destination),
        ("creator_uuid", s(&run["creator"]["uuid"])),
        ("creator_account_id", s(&run["creator"]["account_id"])),
        ("creator_display_name", s(&run["creator"]["display_name"])),
        ("created_at", json!(created)),
        ("completed_at", time(&run["completed_on"])),
        ("duration_seconds", run["duration_in_seconds"].clone()),
        ("build_seconds_used", run["build_seconds_used"].clone()),
        ("first_successful", run["first_successful"].clone()),
        ("expired", run["expired"].clone()),
        ("has_variables", run["has_variables"].clone()),
        (
            "url",
            json!(format!(
                "https://bitbucket.org/{WORKSPACE}/{slug}/pipelines/results/{build}"
            )),
        ),
        ("exported_at", json!(micros(RECORDED_AT))),
        ("path:workspace", json!(WORKSPACE)),
        ("path:created_month", json!(date[..7])),
    ];
    fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

fn replay_demo(out: &Path) {
    let output = bbpipe(&[
        "replay",
        demo().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--summary",
        "json",
    ]);
    assert!(
        output.status.success(),
        "replay failed: {}",
        stderr(&output)
    );
    // The report says what the dataset holds.
    let report = report(&stdout(&output));
    let rows = read_table(out, "pipeline_runs").len();
    assert_eq!(report["tables"]["pipeline_runs"]["rows"], rows, "{report}");
    let by_status: u64 = report["runs_by_status"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(
        Some(by_status),
        report["pipeline_runs"].as_u64(),
        "{report}"
    );
    assert_eq!(
        report["pipeline_runs"].as_u64(),
        Some(rows as u64 + report["duplicates_dropped"].as_u64().unwrap()),
        "every run read is a row, or a duplicate dropped: {report}"
    );
}

#[test]
fn demo_rows_equal_the_fixture_pages_field_by_field() {
    let out = tempfile::tempdir().unwrap();
    replay_demo(out.path());

    // Expected: every run of every page; a run repeated by pagination drift counts once.
    let mut expected: HashMap<(String, String), BTreeMap<String, Value>> = HashMap::new();
    let mut pages_values = 0;
    for (file, page) in fixture_pages(&demo(), "pipelines") {
        let slug = fixture_slug(&file);
        for run in page["values"].as_array().unwrap() {
            pages_values += 1;
            let row = expected_run(slug, run);
            let key = (
                row["repo_uuid"].as_str().unwrap().to_string(),
                row["uuid"].as_str().unwrap().to_string(),
            );
            expected.insert(key, row);
        }
    }
    assert!(
        pages_values > expected.len(),
        "the demo has a run repeated across pages"
    );
    assert!(
        expected.len() >= 1900,
        "about 2,000 runs, got {}",
        expected.len()
    );

    let rows = read_table(out.path(), "pipeline_runs");
    assert_eq!(rows.len(), expected.len(), "one row per distinct run");
    let mut seen = BTreeSet::new();
    for row in &rows {
        assert!(
            !row.contains_key("workspace"),
            "partition column repeated inside a file"
        );
        let key = (
            row["repo_uuid"].as_str().unwrap().to_string(),
            row["uuid"].as_str().unwrap().to_string(),
        );
        assert!(seen.insert(key.clone()), "duplicate run {key:?}");
        let want = &expected[&key];
        assert_eq!(
            row.len(),
            want.len(),
            "columns of {key:?}: {:?}",
            row.keys().collect::<Vec<_>>()
        );
        for (column, value) in want {
            assert_eq!(&row[column], value, "run {key:?}, column {column}");
        }
    }
}

#[test]
fn demo_covers_every_variant_the_api_notes_describe() {
    let out = tempfile::tempdir().unwrap();
    replay_demo(out.path());
    let rows = read_table(out.path(), "pipeline_runs");
    let values = |column: &str| -> BTreeSet<String> {
        rows.iter()
            .map(|r| r[column].as_str().unwrap_or("<null>").to_string())
            .collect()
    };
    let has = |column: &str, wanted: &[&str]| {
        let present = values(column);
        for w in wanted {
            assert!(present.contains(*w), "{column} has no {w}: {present:?}");
        }
    };
    has(
        "status",
        &["success", "failure", "cancelled", "running", "unknown"],
    );
    has(
        "state",
        &[
            "COMPLETED",
            "IN_PROGRESS",
            "PENDING",
            "PARSING",
            "QUEUED_BY_POLICY",
        ],
    );
    has(
        "result",
        &[
            "SUCCESSFUL",
            "FAILED",
            "ERROR",
            "STOPPED",
            "EXPIRED",
            "SKIPPED_BY_POLICY",
        ],
    );
    has("stage", &["RUNNING", "PAUSED", "HALTED"]);
    has(
        "target_type",
        &[
            "pipeline_ref_target",
            "pipeline_commit_target",
            "pipeline_pullrequest_target",
            "pipeline_merge_queue_ref_target",
            "pipeline_release_train_target",
        ],
    );
    has(
        "trigger",
        &[
            "PUSH",
            "MANUAL",
            "SCHEDULE",
            "PARENT_STEP",
            "pipeline_trigger_webhook",
        ],
    );
    has("ref_type", &["branch", "tag", "bookmark", "named_branch"]);
    has(
        "name",
        &[
            "default",
            "deploy-to-production",
            "deploy-staging",
            "<null>",
        ],
    );
    has(
        "ref_name",
        &[
            "bugfix/ümlaut-fix",
            "feat/日本語-サポート",
            "hotfix/emoji-🚀",
        ],
    );
    assert!(
        rows.iter().any(|r| r["run_number"].as_i64() > Some(1)),
        "re-runs"
    );
    assert!(
        rows.iter().any(|r| r["completed_at"].is_null()),
        "unfinished runs"
    );

    // The last microsecond of a month stays in that month.
    let edge = micros("2026-03-31T23:59:59.999999Z");
    let row = rows
        .iter()
        .find(|r| r["created_at"] == json!(edge))
        .expect("month-edge run");
    assert_eq!(row["path:created_month"], json!("2026-03"));

    // Fixture timestamps use 3, 5, 6 and 9 fractional digits, with Z and +00:00.
    let mut digits = BTreeSet::new();
    for (_, page) in fixture_pages(&demo(), "pipelines") {
        for run in page["values"].as_array().unwrap() {
            let text = run["created_on"].as_str().unwrap();
            let fraction = text.split_once('.').map_or("", |(_, f)| f);
            digits.insert(fraction.chars().take_while(char::is_ascii_digit).count());
        }
    }
    for n in [3, 5, 6, 9] {
        assert!(
            digits.contains(&n),
            "no timestamp with {n} digits: {digits:?}"
        );
    }
}

#[test]
fn repositories_are_read_in_full() {
    let out = tempfile::tempdir().unwrap();
    replay_demo(out.path());
    let rows = read_table(out.path(), "repositories");
    let pages = fixture_pages(&demo(), "repositories");
    let repos: Vec<&Value> = pages
        .iter()
        .flat_map(|(_, p)| p["values"].as_array().unwrap())
        .collect();
    assert!(repos.len() >= 6);
    assert_eq!(rows.len(), repos.len());
    let time = |v: &Value| v.as_str().map_or(Value::Null, |t| json!(micros(t)));
    for repo in repos {
        let row = rows
            .iter()
            .find(|r| r["uuid"] == repo["uuid"])
            .expect("row per repository");
        let slug = repo["slug"].as_str().unwrap();
        let language = match repo["language"].as_str() {
            Some("") | None => Value::Null,
            Some(l) => json!(l),
        };
        let want = [
            ("slug", repo["slug"].clone()),
            ("name", repo["name"].clone()),
            ("full_name", repo["full_name"].clone()),
            ("is_private", repo["is_private"].clone()),
            ("description", repo["description"].clone()),
            ("language", language),
            ("project_key", repo["project"]["key"].clone()),
            ("project_name", repo["project"]["name"].clone()),
            ("mainbranch", repo["mainbranch"]["name"].clone()),
            ("created_at", time(&repo["created_on"])),
            ("updated_at", time(&repo["updated_on"])),
            (
                "url",
                json!(format!("https://bitbucket.org/{WORKSPACE}/{slug}")),
            ),
            ("path:workspace", json!(WORKSPACE)),
        ];
        for (column, value) in want {
            assert_eq!(row[column], value, "repository {slug}, column {column}");
        }
    }
}

#[test]
fn files_are_sorted_zstd_parquet_without_partition_columns() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let out = tempfile::tempdir().unwrap();
    replay_demo(out.path());
    let files = parquet_files(&out.path().join("pipeline_runs"));
    let rows = read_table(out.path(), "pipeline_runs");
    let months: BTreeSet<String> = rows
        .iter()
        .map(|r| r["path:created_month"].to_string())
        .collect();
    assert_eq!(files.len(), months.len(), "one file per month partition");
    for file in files.iter().take(20) {
        let reader = SerializedFileReader::new(std::fs::File::open(file).unwrap()).unwrap();
        let meta = reader.metadata();
        let schema = meta.file_metadata().schema_descr();
        assert!(schema.columns().iter().all(|c| c.name() != "workspace"));
        let group = meta.row_group(0);
        let created = schema
            .columns()
            .iter()
            .position(|c| c.name() == "created_at")
            .unwrap();
        assert!(
            group.column(created).statistics().is_some(),
            "statistics on"
        );
        assert!(matches!(
            group.column(created).compression(),
            parquet::basic::Compression::ZSTD(_)
        ));
        assert!(group.sorting_columns().is_some());
    }
    let mut by_file: HashMap<String, Vec<i64>> = HashMap::new();
    for row in &rows {
        let key = format!("{}", row["path:created_month"]);
        by_file
            .entry(key)
            .or_default()
            .push(row["created_at"].as_i64().unwrap());
    }
    for (file, times) in by_file {
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "{file} not sorted by created_at"
        );
    }
}

#[test]
fn a_directory_of_foreign_parquet_files_is_refused_untouched() {
    let out = tempfile::tempdir().unwrap();
    let foreign = out.path().join("pipeline_runs/part-0.parquet");
    std::fs::create_dir_all(foreign.parent().unwrap()).unwrap();
    std::fs::write(&foreign, b"PAR1 not ours").unwrap();
    let output = bbpipe(&[
        "replay",
        demo().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("not a bbpipe dataset"),
        "{}",
        stderr(&output)
    );
    assert!(foreign.exists());
}

#[test]
fn schema_command_documents_every_table() {
    let output = bbpipe(&["schema", "--format", "json"]);
    assert!(output.status.success());
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["schema_version"], json!(1));
    let runs = doc["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "pipeline_runs")
        .unwrap();
    let columns: Vec<&str> = runs["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns.first(), Some(&"repository"));
    assert!(columns.contains(&"status") && columns.contains(&"exported_at"));
    let markdown = stdout(&bbpipe(&["schema"]));
    assert!(
        markdown.contains("| `created_at` | timestamp(us, UTC) | no |"),
        "{markdown}"
    );
}

#[test]
fn a_tiny_memory_budget_spills_to_disk_and_writes_the_same_rows() {
    let (roomy, tight) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    replay_demo(roomy.path());
    let fixtures = demo();
    let args = [
        "replay",
        fixtures.to_str().unwrap(),
        "--out",
        tight.path().to_str().unwrap(),
        "--buffer-mib",
        "1",
        "--batch-rows",
        "100",
    ];
    let output = bbpipe(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    for table in ["repositories", "pipeline_runs"] {
        let sorted = |dir: &Path| sorted_rows(dir, table);
        assert_eq!(sorted(roomy.path()), sorted(tight.path()), "{table}");
    }
    assert_eq!(
        parquet_files(&tight.path().join("pipeline_runs")).len(),
        parquet_files(&roomy.path().join("pipeline_runs")).len()
    );
}
