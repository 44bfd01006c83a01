//! Helpers shared by the end-to-end tests: run the real binary, read the Parquet it wrote.
#![allow(dead_code)] // each test file uses its own subset

pub mod files;
pub mod markdown;
pub mod mock;
pub mod s3;
pub mod target;

pub use files::parquet_files;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn demo() -> PathBuf {
    repo_root().join("fixtures/demo")
}

/// Runs `bbpipe` with `args`, no inherited RUST_LOG, and returns what it did.
pub fn bbpipe(args: &[&str]) -> Output {
    bbpipe_with_env(args, &[])
}

/// Runs `bbpipe` with `args` and extra environment variables.
pub fn bbpipe_with_env(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bbpipe"));
    command.args(args).env_remove("RUST_LOG");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("bbpipe runs")
}

/// Runs `bbpipe` with `args` and `env` as [`bbpipe_with_env`] does, but gives up after
/// `deadline`: `None` (the process killed) when it is still running then.
pub fn bbpipe_within(args: &[&str], env: &[(&str, String)], deadline: Duration) -> Option<Output> {
    bbpipe_measured(args, env, deadline).map(|(output, _)| output)
}

/// [`bbpipe_within`], also returning the process's peak resident memory in KiB, read from
/// outside (`VmHWM` in /proc, the kernel's high-water mark) while it runs.
pub fn bbpipe_measured(
    args: &[&str],
    env: &[(&str, String)],
    deadline: Duration,
) -> Option<(Output, u64)> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bbpipe"));
    command
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("bbpipe runs");
    // Drain both pipes while waiting: a full pipe would block the child.
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut bytes).map(|_| bytes)
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut bytes).map(|_| bytes)
    });
    let status_file = format!("/proc/{}/status", child.id());
    let started = Instant::now();
    let mut peak = 0;
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kib = line.split_whitespace().nth(1).and_then(|v| v.parse().ok());
            peak = peak.max(kib.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (stdout, stderr) = (out.join().unwrap().unwrap(), err.join().unwrap().unwrap());
    status.map(|status| {
        (
            Output {
                status,
                stdout,
                stderr,
            },
            peak,
        )
    })
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A row of an output table: column name to JSON value (timestamps as epoch microseconds),
/// with the Hive partition values from the file's path added as strings.
pub type Row = Map<String, Value>;

/// Every row of `table` under `out`, from every Parquet file.
pub fn read_table(out: &Path, table: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for file in parquet_files(&out.join(table)) {
        let partitions = hive_values(&file, out);
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            for i in 0..batch.num_rows() {
                let mut row = Map::new();
                for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                    row.insert(field.name().clone(), cell(column.as_ref(), i));
                }
                for (k, v) in &partitions {
                    row.insert(format!("path:{k}"), Value::String(v.clone()));
                }
                rows.push(row);
            }
        }
    }
    rows
}

fn hive_values(file: &Path, out: &Path) -> Vec<(String, String)> {
    file.strip_prefix(out)
        .unwrap()
        .components()
        .filter_map(|c| c.as_os_str().to_str()?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn cell(column: &dyn Array, i: usize) -> Value {
    if column.is_null(i) {
        return Value::Null;
    }
    match column.data_type() {
        DataType::Utf8 => Value::String(column.as_string::<i32>().value(i).to_string()),
        DataType::Int64 => Value::from(column.as_primitive::<Int64Type>().value(i)),
        DataType::Float64 => Value::from(column.as_primitive::<Float64Type>().value(i)),
        DataType::Boolean => Value::Bool(column.as_boolean().value(i)),
        DataType::Timestamp(_, _) => {
            Value::from(column.as_primitive::<TimestampMicrosecondType>().value(i))
        }
        other => panic!("unexpected column type {other}"),
    }
}

/// Microseconds since the epoch of an RFC 3339 UTC timestamp, computed independently of
/// bbpipe: the fraction is cut to 6 digits as text.
pub fn micros(text: &str) -> i64 {
    let (main, zone) = if let Some(m) = text.strip_suffix('Z') {
        (m, "+00:00")
    } else {
        text.split_at(text.len() - 6)
    };
    let (seconds, fraction) = main.split_once('.').unwrap_or((main, ""));
    let whole = chrono::DateTime::parse_from_rfc3339(&format!("{seconds}{zone}")).unwrap();
    let mut digits: String = fraction.chars().take(6).collect();
    while digits.len() < 6 {
        digits.push('0');
    }
    whole.timestamp() * 1_000_000 + digits.parse::<i64>().unwrap()
}

/// Every fixture page of `endpoint` ("repositories" or "pipelines") under `root`.
pub fn fixture_pages(root: &Path, endpoint: &str) -> Vec<(PathBuf, Value)> {
    let mut pages = Vec::new();
    for file in all_files(root) {
        let parent = file.parent().unwrap();
        if parent.file_name().unwrap() == endpoint
            && file
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("page-")
        {
            let value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
            pages.push((file, value));
        }
    }
    pages
}

/// Every file under `dir`, sorted.
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The repository slug of a fixture page: `<workspace>/<slug>/pipelines/page-0001.json`.
pub fn fixture_slug(page: &Path) -> &str {
    page.parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .expect("a pipelines page path")
}

/// Every row of `table` under `out` as JSON text, sorted: for comparing two datasets row by row.
pub fn sorted_rows(out: &Path, table: &str) -> Vec<String> {
    let mut rows: Vec<String> = read_table(out, table)
        .into_iter()
        .map(|r| serde_json::Value::Object(r).to_string())
        .collect();
    rows.sort();
    rows
}

/// Every row of `table` without `exported_at` (which differs between two runs), as JSON text,
/// sorted: for comparing two datasets made at different times.
pub fn rows_without_export_time(out: &Path, table: &str) -> Vec<String> {
    let mut rows: Vec<String> = read_table(out, table)
        .into_iter()
        .map(|mut r| {
            r.remove("exported_at");
            serde_json::Value::Object(r).to_string()
        })
        .collect();
    rows.sort();
    rows
}

/// A JSON file, parsed.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Rewrites a JSON file (a fixture page, say) through `edit`.
pub fn edit_json(path: &Path, edit: impl FnOnce(&mut Value)) {
    let mut value = read_json(path);
    edit(&mut value);
    std::fs::write(path, serde_json::to_vec(&value).unwrap()).unwrap();
}

/// Copies a fixture tree, to corrupt it.
pub fn copy_tree(from: &Path, to: &Path) {
    for file in all_files(from) {
        let target = to.join(file.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
}

/// The sync state of `workspace` as the manifests carry it: their `state` entries folded in
/// sequence order, repositories keyed by uuid.
pub fn sync_state(out: &Path, workspace: &str) -> Map<String, Value> {
    let dir = out.join("_manifests").join(workspace);
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    names.sort();
    let mut state = Map::new();
    for name in names {
        if let Some(entries) = read_json(&name).get("state").and_then(Value::as_object) {
            state.extend(entries.clone());
        }
    }
    state
}

/// The unfinished runs tracked for the repository `slug`.
pub fn unfinished_runs(out: &Path, workspace: &str, slug: &str) -> Vec<String> {
    let state = sync_state(out, workspace);
    let repo = state
        .values()
        .find(|r| r["slug"] == slug)
        .unwrap_or_else(|| panic!("no state for {slug}: {state:?}"));
    repo["unfinished"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The report a run printed with `--summary json`.
pub fn report(summary: &str) -> Value {
    serde_json::from_str(summary).unwrap_or_else(|e| panic!("not a JSON report ({e}): {summary}"))
}

/// The request count an export's report (`--summary json`) gives.
pub fn requests_in(summary: &str) -> u64 {
    report(summary)["requests"]["requests"].as_u64().unwrap()
}

/// `bbpipe export` of workspace `acme` into `out` as the tests run it: fast retries, no
/// pacing, then `extra`; everything else as a user runs it.
pub fn export_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "export",
        "--workspace",
        "acme",
        "--out",
        out,
        "--retry-delay-ms",
        "5",
        "--max-requests-per-hour",
        "1000000",
        "--summary",
        "json",
    ];
    args.extend(extra);
    args
}

/// `bbpipe export --config <config>` as the tests run it: fast retries, no pacing, then `extra`.
pub fn nightly_args<'a>(config: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "export",
        "--config",
        config,
        "--retry-delay-ms",
        "5",
        "--max-requests-per-hour",
        "1000000",
    ];
    args.extend(extra);
    args
}

/// The runs of `out`'s pipeline_runs table, as (uuid, run_number) sorted: what
/// `MockBitbucket::all_runs` gives for the mock.
pub fn dataset_runs(out: &Path) -> Vec<(String, i64)> {
    let mut runs: Vec<(String, i64)> = read_table(out, "pipeline_runs")
        .into_iter()
        .map(|r| {
            (
                r["uuid"].as_str().unwrap().to_string(),
                r["run_number"].as_i64().unwrap(),
            )
        })
        .collect();
    runs.sort();
    runs
}

/// The steps of `out`'s pipeline_steps table, as (step uuid, run_number, result) sorted.
pub fn dataset_steps(out: &Path) -> Vec<(String, i64, String)> {
    let mut all: Vec<_> = read_table(out, "pipeline_steps")
        .into_iter()
        .map(|r| {
            (
                r["uuid"].as_str().unwrap().to_string(),
                r["run_number"].as_i64().unwrap(),
                r["result"].as_str().unwrap_or("PENDING").to_string(),
            )
        })
        .collect();
    all.sort();
    all
}
