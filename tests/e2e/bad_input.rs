//! End to end: bad input stops the run with an error that names the file and the JSON path.

use crate::common::*;
use std::path::Path;

fn corrupt(edit: impl FnOnce(&Path)) -> (tempfile::TempDir, tempfile::TempDir) {
    let fixtures = tempfile::tempdir().unwrap();
    copy_tree(&demo(), fixtures.path());
    edit(fixtures.path());
    (fixtures, tempfile::tempdir().unwrap())
}

fn replay(fixtures: &Path, out: &Path) -> std::process::Output {
    bbpipe(&[
        "replay",
        fixtures.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn a_truncated_page_names_the_file() {
    let page = "acme/payments/pipelines/page-0002.json";
    let (fixtures, out) = corrupt(|root| {
        let body = std::fs::read(root.join(page)).unwrap();
        std::fs::write(root.join(page), &body[..body.len() / 2]).unwrap();
    });
    let output = replay(fixtures.path(), out.path());
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("transform failed"), "{err}");
    assert!(err.contains(page), "{err}");
    assert!(err.contains("page 2 of acme/payments"), "{err}");
    // Nothing was committed: the failed run wrote no pipeline run file.
    assert!(parquet_files(&out.path().join("pipeline_runs")).is_empty());
}

#[test]
fn an_html_error_page_is_rejected() {
    let page = "acme/web-app/pipelines/page-0001.json";
    let (fixtures, out) = corrupt(|root| {
        std::fs::write(root.join(page), "<html><body>502 Bad Gateway</body></html>").unwrap();
    });
    let output = replay(fixtures.path(), out.path());
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains(page) && err.contains("invalid JSON at $"),
        "{err}"
    );
}

#[test]
fn a_run_of_the_wrong_type_is_rejected_naming_the_json_path() {
    let page = "acme/docs-site/pipelines/page-0001.json";
    let (fixtures, out) = corrupt(|root| {
        edit_json(&root.join(page), |value| {
            value["values"][3]["build_number"] = serde_json::json!("forty-two");
        })
    });
    // One bad run is set aside in `rejects`; the rest commits, and the exit code says so.
    let output = replay(fixtures.path(), out.path());
    assert_eq!(output.status.code(), Some(8), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("$.values[3].build_number"), "{err}");
    assert!(err.contains(page), "{err}");
    let rejects = read_table(out.path(), "rejects");
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0]["json_path"], "$.values[3].build_number");
    assert_eq!(read_table(out.path(), "pipeline_runs").len(), 2000 - 1);
}

#[test]
fn a_bad_timestamp_names_the_field() {
    let page = "acme/docs-site/pipelines/page-0001.json";
    let (fixtures, out) = corrupt(|root| {
        edit_json(&root.join(page), |value| {
            value["values"][0]["completed_on"] = serde_json::json!("last tuesday");
        })
    });
    let err = stderr(&replay(fixtures.path(), out.path()));
    assert!(
        err.contains("$.values[0].completed_on") && err.contains("last tuesday"),
        "{err}"
    );
}

#[test]
fn a_directory_without_recorded_pages_is_explained() {
    let empty = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = replay(empty.path(), out.path());
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no workspace found"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_failure_after_partitions_were_written_early_leaves_no_file_behind() {
    // The oldest page of the repository with the longest history is among the last replayed:
    // with a tiny memory budget, days are written before it is read.
    let page = "acme/web-app/pipelines/page-0004.json";
    let (fixtures, out) = corrupt(|root| {
        let body = std::fs::read(root.join(page)).unwrap();
        std::fs::write(root.join(page), &body[..body.len() - 10]).unwrap();
    });
    let args = [
        "replay",
        fixtures.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "--buffer-mib",
        "1",
        "--batch-rows",
        "100",
    ];
    let output = bbpipe_with_env(&args, &[("RUST_LOG", "bbpipe_load=debug".into())]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains(page), "{err}");
    assert!(
        err.contains("writing before the input ends"),
        "no partition was written early, so this tests nothing: {err}"
    );
    assert!(parquet_files(out.path()).is_empty());
    assert!(
        !out.path().join("_manifests").exists() || dir_is_empty(&out.path().join("_manifests"))
    );
}

fn dir_is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().next().is_none()
}

#[test]
fn an_api_url_that_is_not_http_is_a_usage_error() {
    let out = tempfile::tempdir().unwrap();
    for url in ["mailto:x", "file:///tmp"] {
        let output = bbpipe_with_env(
            &[
                "export",
                "--workspace",
                "acme",
                "--out",
                out.path().to_str().unwrap(),
                "--api-url",
                url,
            ],
            &[("BITBUCKET_ACCESS_TOKEN", "t".to_string())],
        );
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{url}: {err}");
        assert!(err.contains("must start with http:// or https://"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_commit_graph_nested_too_deep_names_the_file_and_keeps_what_was_committed() {
    let page = "acme/web-app/commits/page-0001.json";
    let (fixtures, out) = corrupt(|root| {
        let mut nested = String::from("1");
        for _ in 0..300 {
            nested = format!("{{\"a\":{nested}}}");
        }
        edit_json(&root.join(page), |graph| {
            graph["values"][0]["extra"] = serde_json::json!("__deep__");
        });
        let text = std::fs::read_to_string(root.join(page)).unwrap();
        std::fs::write(root.join(page), text.replacen("\"__deep__\"", &nested, 1)).unwrap();
    });
    let rules = fixtures.path().join("deploy-rules.toml");
    let output = bbpipe(&[
        "replay",
        fixtures.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--with",
        "commits",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains(page) && err.contains("$.values[0]"), "{err}");
    assert!(err.contains("recursion limit"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The runs and deployments committed before the commits pass stay valid.
    let verified = bbpipe(&["verify-output", out.path().to_str().unwrap()]);
    assert!(verified.status.success(), "{}", stdout(&verified));
    assert_eq!(read_table(out.path(), "pipeline_runs").len(), 2000);
}
