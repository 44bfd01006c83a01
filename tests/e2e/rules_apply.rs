//! Deployments follow the current rules: `bbpipe rules apply` re-derives them from the runs a
//! dataset holds, and replays and exports do it on their own when the rules changed.

use crate::common::mock::{Auth, MockBitbucket};
use crate::common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn demo_rules() -> String {
    std::fs::read_to_string(demo().join("deploy-rules.toml")).unwrap()
}

/// The demo's rules, edited: each variant changes what the deployments are.
fn variants() -> Vec<(&'static str, String)> {
    let rules = demo_rules();
    let removed = {
        let start = rules
            .find("[[rule]]\nname = \"data-warehouse-production\"")
            .unwrap();
        let end = rules[start + 8..]
            .find("[[rule]]")
            .map_or(rules.len(), |i| start + 8 + i);
        format!("{}{}", &rules[..start], &rules[end..])
    };
    vec![
        (
            "renamed",
            rules.replace("name = \"services-staging\"", "name = \"services-stage\""),
        ),
        (
            "narrowed",
            rules.replacen(
                "repository = \"^(web-app|api-service|payments)$\"",
                "repository = \"^(web-app|api-service)$\"",
                1,
            ),
        ),
        (
            "widened",
            rules.replace("include_failed = false", "include_failed = true"),
        ),
        ("removed", removed),
    ]
}

fn write_rules(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn replay(out: &Path, rules: &Path) -> Value {
    let output = bbpipe(&[
        "replay",
        demo().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--summary",
        "json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    report(&stdout(&output))
}

fn apply(out: &Path, rules: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "rules",
        "apply",
        out.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--summary",
        "json",
    ];
    args.extend(extra);
    let output = bbpipe(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap()
}

fn ids(out: &Path) -> BTreeSet<String> {
    read_table(out, "deployments")
        .iter()
        .map(|r| r["reference_id"].as_str().unwrap().to_string())
        .collect()
}

fn manifests(out: &Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(out.join("_manifests/acme"))
        .unwrap()
        .map(|d| d.unwrap().path())
        .collect();
    names.sort();
    names
}

#[test]
fn rules_apply_gives_what_a_fresh_replay_with_the_new_rules_gives() {
    let dir = tempfile::tempdir().unwrap();
    let original = demo().join("deploy-rules.toml");
    for (name, text) in variants() {
        let rules = write_rules(dir.path(), name, &text);
        let applied = dir.path().join(format!("applied-{name}"));
        replay(&applied, &original);
        let before = ids(&applied);
        let files_before = parquet_files(&applied);

        // A dry run reports the exact differences and changes nothing.
        let fresh = dir.path().join(format!("fresh-{name}"));
        replay(&fresh, &rules);
        let want = ids(&fresh);
        let dry = apply(&applied, &rules, &["--dry-run"]);
        let ws = &dry["workspaces"][0];
        let added: BTreeSet<_> = want.difference(&before).cloned().collect();
        let removed: Vec<_> = before.difference(&want).cloned().collect();
        assert!(
            !added.is_empty() || !removed.is_empty(),
            "{name}: the variant changes nothing"
        );
        assert_eq!(ws["added"], Value::from(added.len()), "{name}: {dry}");
        assert_eq!(ws["removed"], Value::from(removed.len()), "{name}");
        assert_eq!(ws["removed_ids"], serde_json::json!(removed), "{name}");
        assert_eq!(
            ws["kept"],
            Value::from(want.intersection(&before).count()),
            "{name}"
        );
        assert_eq!(ws["committed"], Value::from(false));
        assert_eq!(
            parquet_files(&applied),
            files_before,
            "{name}: a dry run writes nothing"
        );
        assert_eq!(manifests(&applied).len(), 1, "{name}");

        // Applied: row for row what a fresh replay with the new rules holds.
        let ndjson = dir.path().join(format!("{name}.ndjson"));
        let done = apply(
            &applied,
            &rules,
            &["--deployments-ndjson", ndjson.to_str().unwrap()],
        );
        assert_eq!(done["workspaces"][0]["committed"], Value::from(true));
        assert_eq!(
            sorted_rows(&applied, "deployments"),
            sorted_rows(&fresh, "deployments"),
            "{name}"
        );
        assert_eq!(
            sorted_rows(&applied, "pipeline_runs"),
            sorted_rows(&fresh, "pipeline_runs")
        );
        let verified = bbpipe(&["verify-output", applied.to_str().unwrap()]);
        assert!(verified.status.success(), "{name}: {}", stdout(&verified));
        // The deployments file holds the new deployments; its sibling the ones to retract.
        let lines = |path: &Path| -> Vec<Value> {
            std::fs::read_to_string(path)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        assert_eq!(lines(&ndjson).len(), want.len(), "{name}");
        let retracted: Vec<String> = lines(&dir.path().join(format!("{name}.deleted.ndjson")))
            .iter()
            .map(|l| l["reference_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(retracted, removed, "{name}");

        // A workspace the dataset does not hold is an error, not a new empty workspace.
        let unknown = bbpipe(&[
            "rules",
            "apply",
            applied.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
            "--workspace",
            "globex",
        ]);
        assert_eq!(unknown.status.code(), Some(1), "{}", stderr(&unknown));
        assert!(stderr(&unknown).contains("holds no workspace globex (it holds: acme)"));
        assert!(!applied.join("_manifests/globex").exists());

        // Applied again: nothing to do.
        let again = apply(&applied, &rules, &[]);
        let ws = &again["workspaces"][0];
        assert_eq!(
            (ws["added"].as_u64(), ws["removed"].as_u64()),
            (Some(0), Some(0))
        );
    }
}

#[test]
fn a_replay_with_changed_rules_re_derives_and_one_with_the_same_rules_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    let (_, renamed) = variants().remove(0);
    let renamed = write_rules(dir.path(), "renamed", &renamed);
    let first = replay(&out, &demo().join("deploy-rules.toml"));
    assert_eq!(first["rules_rederived"], serde_json::json!([]));

    let changed = replay(&out, &renamed);
    let rederived = &changed["rules_rederived"][0];
    assert_eq!(rederived["workspace"], Value::from("acme"));
    assert!(rederived["removed"].as_u64().unwrap() > 0, "{changed}");
    let fresh = dir.path().join("fresh");
    replay(&fresh, &renamed);
    assert_eq!(
        sorted_rows(&out, "deployments"),
        sorted_rows(&fresh, "deployments")
    );

    let files = parquet_files(&out);
    let same = replay(&out, &renamed);
    assert_eq!(same["rules_rederived"], serde_json::json!([]));
    assert_eq!(
        parquet_files(&out),
        files,
        "unchanged rules rewrite nothing"
    );

    // Without --rules, the deployments stay as they are, and the report says so.
    let output = bbpipe(&[
        "replay",
        demo().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    assert!(
        stdout(&output).contains("not updated in acme (no --rules given"),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        sorted_rows(&out, "deployments"),
        sorted_rows(&fresh, "deployments")
    );
}

#[test]
fn a_failed_rules_apply_leaves_the_previous_deployments_committed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    replay(&out, &demo().join("deploy-rules.toml"));
    let before = sorted_rows_live(&out);
    let (_, renamed) = variants().remove(0);
    let renamed = write_rules(dir.path(), "renamed", &renamed);
    let failed = bbpipe_with_env(
        &[
            "rules",
            "apply",
            out.to_str().unwrap(),
            "--rules",
            renamed.to_str().unwrap(),
            // A killed writer's lease lapses quickly; the next one waits it out.
            "--lease",
            "2s",
        ],
        &[("BBPIPE_FAILPOINT", "after-file:2".to_string())],
    );
    assert!(!failed.status.success());
    assert_eq!(
        sorted_rows_live(&out),
        before,
        "the committed deployments are intact"
    );
    // The next apply finishes the job.
    apply(&out, &renamed, &["--wait-lock", "60s"]);
    let fresh = dir.path().join("fresh");
    replay(&fresh, &renamed);
    assert_eq!(
        sorted_rows(&out, "deployments"),
        sorted_rows(&fresh, "deployments")
    );
    let verified = bbpipe(&["verify-output", out.to_str().unwrap()]);
    assert!(verified.status.success(), "{}", stdout(&verified));
}

/// The deployments the manifests say are live, as sorted JSON rows.
fn sorted_rows_live(out: &Path) -> Vec<String> {
    let copy = tempfile::tempdir().unwrap();
    let mut live = BTreeSet::new();
    for manifest in manifests(out) {
        let manifest = read_json(&manifest);
        for (_, changes) in manifest["tables"].as_object().unwrap() {
            for file in changes["added"].as_array().unwrap() {
                live.insert(file["path"].as_str().unwrap().to_string());
            }
            for file in changes["removed"].as_array().unwrap() {
                live.remove(file["path"].as_str().unwrap());
            }
        }
    }
    for path in live.iter().filter(|p| p.starts_with("deployments/")) {
        let target = copy.path().join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(out.join(path), target).unwrap();
    }
    sorted_rows(copy.path(), "deployments")
}

#[test]
fn an_export_re_derives_when_its_rules_changed() {
    const TOKEN: &str = "tkn-rules";
    let mock = MockBitbucket::start("acme", Auth::Bearer(TOKEN.into()));
    mock.add_repo("api", 30);
    mock.add_repo("web", 30);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    let all = write_rules(
        dir.path(),
        "all",
        "[[rule]]\nname = \"everything\"\nworkflow = \".*\"\nenvironment = \"production\"\n",
    );
    let web = write_rules(
        dir.path(),
        "web",
        "[[rule]]\nname = \"web-only\"\nrepository = \"^web$\"\nworkflow = \".*\"\nenvironment = \"production\"\n",
    );
    let env = vec![
        ("BITBUCKET_API_URL", mock.url.clone()),
        ("BITBUCKET_ACCESS_TOKEN", TOKEN.to_string()),
    ];
    let export = |rules: &Path| {
        let args = export_args(out.to_str().unwrap(), &["--rules", rules.to_str().unwrap()]);
        let output = bbpipe_with_env(&args, &env);
        assert!(output.status.success(), "{}", stderr(&output));
        report(&stdout(&output))
    };
    export(&all);
    let everything = read_table(&out, "deployments").len();
    assert!(everything > 0);
    let changed = export(&web);
    assert_eq!(
        changed["rules_rederived"][0]["workspace"],
        Value::from("acme"),
        "{changed}"
    );
    let rows = read_table(&out, "deployments");
    assert!(!rows.is_empty() && rows.len() < everything);
    assert!(
        rows.iter()
            .all(|r| r["rule"] == "web-only" && r["repository"] == "acme/web")
    );
    let same = export(&web);
    assert_eq!(same["rules_rederived"], serde_json::json!([]), "{same}");
    let dry = apply(&out, &web, &["--dry-run"]);
    let ws = &dry["workspaces"][0];
    assert_eq!(
        (ws["added"].as_u64(), ws["removed"].as_u64()),
        (Some(0), Some(0)),
        "{dry}"
    );
}

#[test]
fn rules_apply_works_on_s3() {
    use crate::common::target::Target;
    let target = Target::s3("rules-apply");
    let replayed = target.replay_with(&demo(), None, &[]);
    assert!(replayed.status.success(), "{}", stderr(&replayed));
    let dir = tempfile::tempdir().unwrap();
    let (_, renamed) = variants().remove(0);
    let renamed = write_rules(dir.path(), "renamed", &renamed);
    let out = target.out();
    let applied = bbpipe_with_env(
        &[
            "rules",
            "apply",
            &out,
            "--rules",
            renamed.to_str().unwrap(),
            "--summary",
            "json",
        ],
        &target.env(),
    );
    assert!(applied.status.success(), "{}", stderr(&applied));
    let applied: Value = serde_json::from_str(&stdout(&applied)).unwrap();
    assert!(applied["workspaces"][0]["removed"].as_u64().unwrap() > 0);
    let fresh = dir.path().join("fresh");
    replay(&fresh, &renamed);
    let rows = target.rows();
    let deployments = &rows.iter().find(|(t, _)| t == "deployments").unwrap().1;
    assert_eq!(deployments, &sorted_rows(&fresh, "deployments"));
    assert!(target.verify().status.success());
}
