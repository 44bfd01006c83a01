//! End to end: `--with commits`. Each deployment's commits against `git log new ^old` of a real
//! git repository that the mock API serves; failed deployments, redeploys, first deployments
//! cut at the limit, a force-push; what incremental exports cost; a recording replayed; lead
//! times of the demo against the fixture JSON.

use crate::common::mock::{Auth, MockBitbucket};
use crate::common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

const TOKEN: &str = "tkn-commits-secret";
const RULES: &str =
    "[[rule]]\nname = 'prod'\nworkflow = '^deploy-to-production$'\nenvironment = 'production'\n";

/// A git repository with commits an hour apart, from 2026-05-01.
struct Git {
    dir: tempfile::TempDir,
    hours: i64,
}

impl Git {
    fn new() -> Git {
        let git = Git {
            dir: tempfile::tempdir().unwrap(),
            hours: 0,
        };
        git.run(&["init", "-q", "-b", "main"]);
        git
    }

    fn run(&self, args: &[&str]) -> String {
        let date = chrono::DateTime::parse_from_rfc3339("2026-05-01T00:00:00+00:00").unwrap()
            + chrono::Duration::hours(self.hours);
        let date = date.format("%Y-%m-%dT%H:%M:%S+0000").to_string();
        let output = Command::new("git")
            .args(args)
            .current_dir(self.dir.path())
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .env("GIT_AUTHOR_NAME", "Ann")
            .env("GIT_AUTHOR_EMAIL", "ann@example.test")
            .env("GIT_COMMITTER_NAME", "Ann")
            .env("GIT_COMMITTER_EMAIL", "ann@example.test")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.dir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {}", stderr(&output));
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    fn commit(&mut self, message: &str) -> String {
        self.hours += 1;
        self.run(&["commit", "-q", "--allow-empty", "-m", message]);
        self.run(&["rev-parse", "HEAD"])
    }

    fn merge(&mut self, branch: &str) -> String {
        self.hours += 1;
        self.run(&[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            &format!("Merge {branch}"),
            branch,
        ]);
        self.run(&["rev-parse", "HEAD"])
    }

    /// Every commit a ref reaches, as Bitbucket lists commits (the author known for odd hours).
    fn graph(&self) -> Vec<Value> {
        let log = self.run(&["log", "--all", "--format=%H|%P|%aI|%s"]);
        log.lines()
            .map(|line| {
                let parts: Vec<&str> = line.split('|').collect();
                let parents: Vec<Value> = parts[1]
                    .split_whitespace()
                    .map(|p| json!({"type": "commit", "hash": p}))
                    .collect();
                let mut author = json!({"raw": "Ann <ann@example.test>"});
                if parts[3].len().is_multiple_of(2) {
                    author["user"] = json!({"account_id": "557058:ann", "display_name": "Ann"});
                }
                json!({"type": "commit", "hash": parts[0], "date": parts[2], "author": author,
                       "message": format!("{}\n", parts[3]), "parents": parents})
            })
            .collect()
    }

    /// `git log new ^old`: the oracle.
    fn log(&self, new: &str, old: Option<&str>) -> BTreeSet<String> {
        let mut args = vec!["log", "--format=%H", new];
        let excluded = old.map(|o| format!("^{o}"));
        args.extend(excluded.as_deref());
        self.run(&args).lines().map(str::to_string).collect()
    }

    fn date_micros(&self, sha: &str) -> i64 {
        micros(&self.run(&["log", "-1", "--format=%aI", sha]))
    }
}

fn mock_env(mock: &MockBitbucket) -> Vec<(&'static str, String)> {
    vec![
        ("BITBUCKET_API_URL", mock.url.clone()),
        ("BITBUCKET_ACCESS_TOKEN", TOKEN.to_string()),
    ]
}

fn export(mock: &MockBitbucket, out: &Path, rules: &Path, extra: &[&str]) -> Value {
    let mut more = vec!["--rules", rules.to_str().unwrap()];
    if !extra.contains(&"--with") {
        more.extend(["--with", "commits"]);
    }
    more.extend(extra);
    let args = export_args(out.to_str().unwrap(), &more);
    let output = bbpipe_with_env(&args, &mock_env(mock));
    assert!(output.status.success(), "{}", stderr(&output));
    report(&stdout(&output))
}

fn commit_requests(mock: &MockBitbucket) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.path.contains("/commits/"))
        .count()
}

/// A deploy run of `sha`, succeeded or failed; its uuid.
fn deploy(mock: &MockBitbucket, sha: &str, result: &str) -> String {
    let uuid = mock.push_run("api", "COMPLETED", Some(result));
    mock.update_run("api", &uuid, |run| {
        run["target"]["commit"]["hash"] = json!(sha)
    });
    uuid
}

/// deployment reference_id → its rows, from `deployment_commits`.
fn commits_by_deployment(out: &Path) -> BTreeMap<String, Vec<Row>> {
    let mut by: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for row in read_table(out, "deployment_commits") {
        by.entry(row["reference_id"].as_str().unwrap().to_string())
            .or_default()
            .push(row);
    }
    by
}

/// run uuid → its deployment row.
fn deployments_by_run(out: &Path) -> HashMap<String, Row> {
    read_table(out, "deployments")
        .into_iter()
        .map(|d| (d["pipeline_run_uuid"].as_str().unwrap().to_string(), d))
        .collect()
}

fn shas(rows: &[Row]) -> BTreeSet<String> {
    rows.iter()
        .filter_map(|r| r["commit_sha"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn each_deployment_ships_git_log_new_not_old_and_a_force_push_fails_nothing() {
    let mut git = Git::new();
    let c1 = git.commit("one");
    let c2 = git.commit("two");
    git.run(&["checkout", "-q", "-b", "feature"]);
    let f1 = git.commit("feature one");
    let f2 = git.commit("feature two");
    git.run(&["checkout", "-q", "main"]);
    let c3 = git.commit("three");
    let m1 = git.merge("feature");
    let c4 = git.commit("four");
    let c5 = git.commit("five");

    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 0);
    mock.set_commits("api", git.graph());
    // Two commits a page, with opaque page tokens: bbpipe follows them on its own origin.
    mock.state.lock().unwrap().commits_per_page = Some(2);
    let d1 = deploy(&mock, &c1, "SUCCESSFUL");
    let failed = deploy(&mock, &c3, "FAILED");
    let d3 = deploy(&mock, &m1, "SUCCESSFUL");
    let redeploy = deploy(&mock, &m1, "SUCCESSFUL");
    let d5 = deploy(&mock, &c5, "SUCCESSFUL");
    let work = tempfile::tempdir().unwrap();
    let rules = work.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let out = work.path().join("out");

    let first = export(&mock, &out, &rules, &[]);
    let deployments = deployments_by_run(&out);
    let commits = commits_by_deployment(&out);
    let id = |run: &str| {
        deployments[run]["reference_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // The failed deployment ships nothing: its commits (c2, c3) go with the next success.
    assert!(!commits.contains_key(&id(&failed)));
    let expected = [
        (&d1, git.log(&c1, None)),
        (&d3, git.log(&m1, Some(&c1))),
        (&redeploy, BTreeSet::new()),
        (&d5, git.log(&c5, Some(&m1))),
    ];
    for (run, want) in &expected {
        assert_eq!(shas(&commits[&id(run)]), *want, "deployment of run {run}");
    }
    assert_eq!(
        shas(&commits[&id(&d3)]),
        [&c2, &f1, &f2, &c3, &m1].map(|s| s.to_string()).into(),
        "the merge brings its branch"
    );
    assert_eq!(
        shas(&commits[&id(&d5)]),
        [&c4, &c5].map(|s| s.to_string()).into()
    );
    // Field by field, against git and the mock's runs.
    for row in commits.values().flatten() {
        let deployment = deployments
            .values()
            .find(|d| d["reference_id"] == row["reference_id"])
            .unwrap();
        assert_eq!(row["deployed_at"], deployment["deployed_at"]);
        assert_eq!(row["service"], deployment["service"]);
        assert_eq!(row["environment"], "production");
        assert_eq!(
            row["message"],
            Value::Null,
            "messages only with commit-messages"
        );
        let Some(sha) = row["commit_sha"].as_str() else {
            assert_eq!(row["reason"], "no_new_commits");
            assert_eq!(row["reference_id"], json!(id(&redeploy)));
            continue;
        };
        let date = git.date_micros(sha);
        assert_eq!(row["commit_date"], json!(date));
        let lead = (deployment["deployed_at"].as_i64().unwrap() - date) / 1_000_000;
        assert_eq!(row["lead_time_seconds"], json!(lead));
        assert_eq!(row["is_merge"], json!(sha == m1), "{sha}");
        assert_eq!(
            row["truncated"],
            json!(row["reference_id"] == json!(id(&d1)))
        );
        assert_eq!(row["reason"], Value::Null);
    }
    assert_eq!(
        commits[&id(&d3)][0]["previous_reference_id"],
        json!(id(&d1))
    );
    assert_eq!(commits[&id(&d3)][0]["previous_commit_sha"], json!(c1));
    let accounts: BTreeSet<String> = commits
        .values()
        .flatten()
        .map(|r| r["author_account_id"].to_string())
        .collect();
    assert!(
        accounts.contains("\"557058:ann\"") && accounts.contains("null"),
        "{accounts:?}"
    );
    let summary = &first["commits"][0];
    assert_eq!(summary["looked_up"], 4);
    assert_eq!(summary["no_new_commits"], 1);
    // Pages of two: 1 (d1) + 3 (d3: 5 commits) + 1 (redeploy: none) + 1 (d5: 2 commits).
    assert_eq!(summary["requests"], 6);
    assert_eq!(commit_requests(&mock), 6);
    assert!(
        mock.requests()
            .iter()
            .any(|r| r.path.contains("page=tok-3-x"))
    );

    // Unchanged: no commits request at all.
    mock.clear_log();
    let again = export(&mock, &out, &rules, &[]);
    assert_eq!(commit_requests(&mock), 0);
    assert_eq!(again["commits"][0]["looked_up"], 0);
    assert_eq!(commits_by_deployment(&out), commits);

    // A force-push rewrites c5 away; the next deployment cannot be diffed against it.
    git.run(&["reset", "-q", "--hard", &c4]);
    let c5b = git.commit("five, again");
    mock.set_commits("api", git.graph());
    let d6 = deploy(&mock, &c5b, "SUCCESSFUL");
    mock.clear_log();
    let rewritten = export(&mock, &out, &rules, &[]);
    assert_eq!(rewritten["commits"][0]["looked_up"], 1);
    assert_eq!(rewritten["commits"][0]["history_rewritten"], 1);
    let commits = commits_by_deployment(&out);
    let rows = &commits[&id_of(&out, &d6)];
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["reason"], "history_rewritten");
    assert_eq!(rows[0]["commit_sha"], Value::Null);
    assert_eq!(
        shas(&commits[&id(&d5)]),
        git_log_before(&c4, &c5),
        "kept as exported"
    );
}

fn id_of(out: &Path, run: &str) -> String {
    deployments_by_run(out)[run]["reference_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// c4 and c5: what d5 shipped before the force-push.
fn git_log_before(c4: &str, c5: &str) -> BTreeSet<String> {
    [c4, c5].map(str::to_string).into()
}

#[test]
fn a_deployment_that_fails_on_re_run_hands_its_commits_to_the_next_one() {
    let mut git = Git::new();
    let c1 = git.commit("one");
    let c2 = git.commit("two");
    let c3 = git.commit("three");
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 0);
    mock.set_commits("api", git.graph());
    deploy(&mock, &c1, "SUCCESSFUL");
    let middle = deploy(&mock, &c2, "SUCCESSFUL");
    let last = deploy(&mock, &c3, "SUCCESSFUL");
    let work = tempfile::tempdir().unwrap();
    let rules = work.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let out = work.path().join("out");
    export(&mock, &out, &rules, &[]);
    assert_eq!(
        shas(&commits_by_deployment(&out)[&id_of(&out, &last)]),
        git.log(&c3, Some(&c2))
    );
    // The middle deployment is re-run and fails: it moves to the end of the chain as a
    // failure, its rows go, and the last deployment now ships c2 as well.
    mock.rerun("api", &middle, "FAILED");
    let report = export(&mock, &out, &rules, &[]);
    assert_eq!(report["commits"][0]["withdrawn"], 1);
    let commits = commits_by_deployment(&out);
    assert!(!commits.contains_key(&id_of(&out, &middle)));
    let rows = &commits[&id_of(&out, &last)];
    assert_eq!(shas(rows), git.log(&c3, Some(&c1)));
    assert_eq!(rows.len(), 2, "one row per commit");
    // A deployment of c2 that completed between the first and the last arrives late: the
    // last one now ships c3 alone, and its older row for c2 goes.
    let first_done = read_table(&out, "deployments")
        .iter()
        .map(|d| d["deployed_at"].as_i64().unwrap())
        .min()
        .unwrap();
    let late = deploy(&mock, &c2, "SUCCESSFUL");
    let at = chrono::DateTime::from_timestamp_micros(first_done + 60_000_000).unwrap();
    mock.update_run("api", &late, |run| {
        run["completed_on"] = json!(at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
    });
    export(&mock, &out, &rules, &[]);
    let commits = commits_by_deployment(&out);
    assert_eq!(shas(&commits[&id_of(&out, &late)]), git.log(&c2, Some(&c1)));
    let rows = &commits[&id_of(&out, &last)];
    assert_eq!(shas(rows), git.log(&c3, Some(&c2)));
    assert_eq!(rows.len(), 1, "the older lookup's rows are gone");
    assert_eq!(rows[0]["previous_reference_id"], json!(id_of(&out, &late)));
}

#[test]
fn a_first_deployment_is_cut_at_the_limit_and_a_recording_replays_as_exported() {
    let mut git = Git::new();
    let all: Vec<String> = (0..7).map(|n| git.commit(&format!("c{n}"))).collect();
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 0);
    mock.set_commits("api", git.graph());
    let first = deploy(&mock, &all[2], "SUCCESSFUL");
    let second = deploy(&mock, &all[6], "SUCCESSFUL");
    let work = tempfile::tempdir().unwrap();
    let rules = work.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let (out, recording) = (work.path().join("out"), work.path().join("rec"));
    let limit = ["--max-commits-per-deployment", "3"];
    let mut extra = vec![
        "--with",
        "commit-messages",
        "--record",
        recording.to_str().unwrap(),
    ];
    extra.extend(limit);
    let exported = export(&mock, &out, &rules, &extra);
    let commits = commits_by_deployment(&out);
    // The first has no predecessor: its own history, cut at 3 (it has exactly 3): truncated.
    let first_rows = &commits[&id_of(&out, &first)];
    assert_eq!(shas(first_rows), git.log(&all[2], None));
    assert!(first_rows.iter().all(|r| r["truncated"] == true));
    // The second ships 4 commits, cut to the newest 3, and says so. The mock pages by 3
    // with opaque page tokens: bbpipe asked for pagelen 3 and stopped after one page.
    let second_rows = &commits[&id_of(&out, &second)];
    assert_eq!(shas(second_rows), all[4..7].iter().cloned().collect());
    assert!(second_rows.iter().all(|r| r["truncated"] == true));
    assert_eq!(exported["commits"][0]["truncated"], 2);
    assert!(
        second_rows
            .iter()
            .all(|r| r["message"].as_str().is_some_and(|m| m.starts_with('c')))
    );
    // The recording keeps no author email; replayed, it gives the same rows.
    for path in all_files(&recording) {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("ann@example.test"), "{}", path.display());
        assert!(!text.contains(TOKEN), "{}", path.display());
    }
    let replayed = work.path().join("replayed");
    let mut args = vec![
        "replay",
        recording.to_str().unwrap(),
        "--out",
        replayed.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--with",
        "commit-messages",
        "-q",
    ];
    args.extend(limit);
    let output = bbpipe(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        rows_without_export_time(&replayed, "deployment_commits"),
        rows_without_export_time(&out, "deployment_commits")
    );
}

#[test]
fn demo_lead_times_match_the_fixture_json() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let demo = demo();
    let rules = demo.join("deploy-rules.toml");
    let output = bbpipe(&[
        "replay",
        demo.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--with",
        "commits",
        "--summary",
        "json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = report(&stdout(&output));
    assert!(summary["commits"][0]["history_rewritten"].as_u64().unwrap() >= 1);
    // Commit dates from the fixtures' commit pages; deployment times from the runs' pages.
    let mut dates = HashMap::new();
    for (_, page) in fixture_pages(&demo, "commits") {
        for commit in page["values"].as_array().unwrap() {
            let hash = commit["hash"].as_str().unwrap().to_string();
            dates.insert(hash, micros(commit["date"].as_str().unwrap()));
        }
    }
    let mut completed = HashMap::new();
    for (_, page) in fixture_pages(&demo, "pipelines") {
        for run in page["values"].as_array().unwrap() {
            if let Some(done) = run["completed_on"].as_str() {
                completed.insert(run["uuid"].as_str().unwrap().to_string(), micros(done));
            }
        }
    }
    let runs: HashMap<String, String> = read_table(&out, "deployments")
        .into_iter()
        .map(|d| {
            let id = d["reference_id"].as_str().unwrap().to_string();
            (id, d["pipeline_run_uuid"].as_str().unwrap().to_string())
        })
        .collect();
    let rows = read_table(&out, "deployment_commits");
    let mut checked = 0;
    for row in &rows {
        let Some(sha) = row["commit_sha"].as_str() else {
            continue;
        };
        let deployed = completed[&runs[row["reference_id"].as_str().unwrap()]];
        let lead = (deployed - dates[sha]).div_euclid(1_000_000);
        assert_eq!(row["lead_time_seconds"], json!(lead), "{sha}");
        assert!(lead > 0 && lead < 200 * 86_400, "{lead}");
        checked += 1;
    }
    assert!(checked > 1000, "{checked}");
    // No message without --with commit-messages (the demo's carry a fake token).
    assert!(rows.iter().all(|r| r["message"].is_null()));
}

#[test]
fn on_s3_the_commits_pass_reads_what_it_committed_and_the_report_agrees_with_local() {
    let bucket = crate::common::s3::bucket("commits");
    let s3 = format!("s3://{bucket}/analytics");
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("out");
    let demo = demo();
    let rules = demo.join("deploy-rules.toml");
    let replay = |dest: &str| -> Value {
        let args = [
            "replay",
            demo.to_str().unwrap(),
            "--out",
            dest,
            "--rules",
            rules.to_str().unwrap(),
            "--with",
            "commits",
            "--summary",
            "json",
        ];
        let output = bbpipe_with_env(&args, &crate::common::s3::env());
        assert!(output.status.success(), "{}", stderr(&output));
        report(&stdout(&output))["commits"][0].clone()
    };
    let first = replay(&s3);
    assert_eq!(first, replay(local.to_str().unwrap()));
    assert!(first["looked_up"].as_u64().unwrap() > 100);
    assert_eq!(
        replay(&s3)["looked_up"],
        0,
        "read back from S3: nothing new"
    );
    let lead = |dest: &str| -> Value {
        let output = bbpipe_with_env(&["report", dest, "--json", "-"], &crate::common::s3::env());
        assert!(output.status.success(), "{}", stderr(&output));
        report(&stdout(&output))["lead_time"].clone()
    };
    assert_eq!(lead(&s3), lead(local.to_str().unwrap()));
}
