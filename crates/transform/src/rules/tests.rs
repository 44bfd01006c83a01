use super::*;

fn rules(toml: &str) -> RuleSet {
    RuleSet::parse(toml, "test.toml").unwrap()
}

fn error(toml: &str) -> String {
    RuleSet::parse(toml, "test.toml").unwrap_err().to_string()
}

fn run<'a>() -> RunView<'a> {
    RunView {
        workspace: "acme",
        repo_slug: "web-app",
        repository: "acme/web-app",
        name: Some("deploy-to-production"),
        state: Some("COMPLETED"),
        result: Some("SUCCESSFUL"),
        trigger: Some("MANUAL"),
        ref_type: Some("branch"),
        ref_name: Some("main"),
        pr_destination_branch: None,
        selector_type: Some("custom"),
        environment: None,
    }
}

fn bitbucket_deployment<'a>(kind: &'a str, name: &'a str, state: &'a str) -> RunView<'a> {
    RunView {
        workspace: "acme",
        repo_slug: "web-app",
        repository: "acme/web-app",
        state: Some(state),
        result: Some("SUCCESSFUL"),
        environment: Some(EnvironmentView {
            environment_type: Some(kind),
            name: Some(name),
        }),
        ..RunView::default()
    }
}

#[test]
fn environment_rules_match_bitbucket_deployments_only() {
    let rules = RuleSet::parse(
        r#"
[[rule]]
name = "bitbucket-production"
source = "environments"
environment_type = ["production"]
environment_name = "^Prod"
environment = "production"

[[rule]]
name = "pipeline-deploy"
workflow = "^deploy-to-production$"
environment = "production"
service = "web"
"#,
        "test.toml",
    )
    .unwrap();
    let matched = |view: &RunView| match rules.judge(view) {
        Verdict::Matched(m) => m.iter().map(|(r, _)| r.name.clone()).collect(),
        Verdict::Unmatched(_) => Vec::<String>::new(),
    };
    assert_eq!(
        matched(&bitbucket_deployment("Production", "Prod-EU", "COMPLETED")),
        ["bitbucket-production"]
    );
    assert_eq!(
        matched(&bitbucket_deployment("Production", "Prod-EU", "UNDEPLOYED")),
        ["bitbucket-production"],
        "undeployed later, deployed all the same"
    );
    assert!(matched(&bitbucket_deployment("Staging", "Prod-EU", "COMPLETED")).is_empty());
    assert!(matched(&bitbucket_deployment("Production", "EU", "COMPLETED")).is_empty());
    assert!(matched(&bitbucket_deployment("Production", "Prod", "IN_PROGRESS")).is_empty());
    assert_eq!(
        matched(&run()),
        ["pipeline-deploy"],
        "a run never meets an environments rule"
    );
    let Verdict::Unmatched(Some((nearest, why))) =
        rules.judge(&bitbucket_deployment("Test", "Prod-EU", "COMPLETED"))
    else {
        panic!("expected no match");
    };
    assert_eq!(nearest.name, "bitbucket-production");
    assert!(why.reason.contains("environment_type 'Test'"), "{why}");
}

#[test]
fn predicates_of_the_other_source_are_refused() {
    let wrong = error("[[rule]]\nname = \"x\"\nsource = \"environments\"\nworkflow = \"deploy\"\n");
    assert!(wrong.contains("rule 'x', field workflow"), "{wrong}");
    let wrong = error("[[rule]]\nname = \"x\"\nenvironment_type = [\"Production\"]\n");
    assert!(wrong.contains("field environment_type"), "{wrong}");
    assert!(wrong.contains("source = \"environments\""), "{wrong}");
    let wrong = error("[[rule]]\nname = \"x\"\nsource = \"jira\"\n");
    assert!(wrong.contains("field source"), "{wrong}");
}

fn matched(set: &RuleSet, run: &RunView<'_>) -> Vec<String> {
    match set.judge(run) {
        Verdict::Matched(m) => m
            .iter()
            .map(|(r, s)| format!("{}:{s}:{}", r.name, r.environment))
            .collect(),
        Verdict::Unmatched(_) => vec![],
    }
}

fn why(set: &RuleSet, run: &RunView<'_>) -> String {
    match set.judge(run) {
        Verdict::Unmatched(Some((rule, miss))) => format!("{}: {}", rule.name, miss.reason),
        other => panic!("expected no match, got {other:?}"),
    }
}

#[test]
fn defaults_production_and_repo_slug_service() {
    let set = rules("[[rule]]\nname = 'prod'\nworkflow = 'deploy'\n");
    assert_eq!(matched(&set, &run()), ["prod:web-app:production"]);
}

#[test]
fn each_predicate_can_reject() {
    let set = rules(
        r#"
        [[rule]]
        name = "r"
        repository = "^web-"
        workflow = "^deploy-to-production$"
        target_branch = "^main$"
        trigger = ["manual"]
        ref_type = "branch"
        selector_type = "custom"
        "#,
    );
    assert_eq!(
        matched(&set, &run()),
        ["r:web-app:production"],
        "trigger names ignore case"
    );
    let cases: [(RunView, &str); 8] = [
        (
            RunView {
                repo_slug: "api",
                repository: "acme/api",
                ..run()
            },
            "repository 'acme/api' !~ '^web-'",
        ),
        (
            RunView {
                name: Some("nightly"),
                ..run()
            },
            "workflow 'nightly' !~ '^deploy-to-production$'",
        ),
        (
            RunView {
                ref_name: Some("develop"),
                ..run()
            },
            "target_branch 'develop' !~ '^main$'",
        ),
        (
            RunView {
                trigger: Some("PUSH"),
                ..run()
            },
            "trigger 'PUSH' not in [\"manual\"]",
        ),
        (
            RunView {
                ref_type: Some("tag"),
                ..run()
            },
            "ref_type 'tag' != 'branch'",
        ),
        (
            RunView {
                selector_type: Some("branches"),
                ..run()
            },
            "selector_type 'branches' != 'custom'",
        ),
        (
            RunView {
                state: Some("IN_PROGRESS"),
                result: None,
                ..run()
            },
            "state IN_PROGRESS is not COMPLETED",
        ),
        (
            RunView {
                name: None,
                selector_type: None,
                ..run()
            },
            "no pipeline name (no selector)",
        ),
    ];
    for (view, reason) in cases {
        let text = why(&set, &view);
        assert!(text.contains(reason), "{text} should say {reason}");
    }
}

#[test]
fn regexes_search_anywhere_unless_anchored() {
    let set = rules(
        "[[rule]]\nname = 'a'\nworkflow = '(.*deploy.*)'\n[[rule]]\nname = 'b'\nworkflow = '^deploy$'\nservice = 'x'\n",
    );
    assert_eq!(matched(&set, &run()), ["a:web-app:production"]);
    let set = rules("[[rule]]\nname = 'm'\nrepository = '(^mobile-.*)'\n");
    let ios = RunView {
        repo_slug: "mobile-ios",
        repository: "acme/mobile-ios",
        ..run()
    };
    assert_eq!(matched(&set, &ios).len(), 1);
    assert!(
        matched(
            &set,
            &RunView {
                repo_slug: "not-mobile-ios",
                repository: "acme/not-mobile-ios",
                ..run()
            }
        )
        .is_empty()
    );
    // The full name is tried as well as the slug.
    let set = rules("[[rule]]\nname = 'ws'\nrepository = '^acme/'\n");
    assert_eq!(matched(&set, &run()).len(), 1);
}

#[test]
fn unicode_branches_and_pull_request_destinations() {
    let set = rules("[[rule]]\nname = 'u'\ntarget_branch = '^feat/日本語'\n");
    assert_eq!(
        matched(
            &set,
            &RunView {
                ref_name: Some("feat/日本語-サポート"),
                ..run()
            }
        )
        .len(),
        1
    );
    let set = rules("[[rule]]\nname = 'pr'\ntarget_branch = '^main$'\n");
    // A pull-request run builds its source branch but targets its destination.
    let pr = RunView {
        ref_name: Some("feature/x"),
        pr_destination_branch: Some("main"),
        ..run()
    };
    assert_eq!(matched(&set, &pr).len(), 1);
}

#[test]
fn failed_runs_deploy_unless_excluded() {
    let failed = RunView {
        result: Some("FAILED"),
        ..run()
    };
    assert_eq!(
        matched(
            &rules("[[rule]]\nname = 'all'\nworkflow = 'deploy'\n"),
            &failed
        )
        .len(),
        1
    );
    let strict = rules("[[rule]]\nname = 'ok'\nworkflow = 'deploy'\ninclude_failed = false\n");
    assert!(why(&strict, &failed).contains("include_failed = false"));
}

#[test]
fn nearest_rule_is_the_one_that_got_furthest() {
    let set = rules(
        "[[rule]]\nname = 'far'\nrepository = 'nope'\n\
         [[rule]]\nname = 'near'\nrepository = 'web'\nworkflow = 'deploy'\ntarget_branch = '^release/'\n",
    );
    assert_eq!(
        why(&set, &run()),
        "near: target_branch 'main' !~ '^release/'"
    );
}

#[test]
fn every_matching_rule_emits_and_same_service_is_an_overlap() {
    let monorepo = rules(
        "[[rule]]\nname = 'ingest'\nworkflow = 'deploy'\nservice = 'ingest'\n\
         [[rule]]\nname = 'warehouse'\nworkflow = 'deploy'\nservice = 'warehouse'\n",
    );
    let Verdict::Matched(m) = monorepo.judge(&run()) else {
        panic!()
    };
    assert_eq!(m.len(), 2);
    assert!(RuleSet::overlaps(&m).is_empty());

    let clash = rules(
        "[[rule]]\nname = 'one'\nworkflow = 'deploy'\n\
         [[rule]]\nname = 'two'\ntarget_branch = 'main'\n",
    );
    let Verdict::Matched(m) = clash.judge(&run()) else {
        panic!()
    };
    assert_eq!(RuleSet::overlaps(&m), [("one", "two")]);
    assert!(
        clash
            .warnings()
            .iter()
            .any(|w| w.contains("'one' and 'two' overlap"))
    );
}

#[test]
fn rules_without_a_narrowing_predicate_are_warned_about() {
    let set = rules("[[rule]]\nname = 'everything'\nrepository = 'web'\n");
    assert!(set.warnings()[0].contains("every completed run"));
    let ok = rules(
        "[[rule]]\nname = 'a'\nworkflow = 'x'\nservice = 'a'\n[[rule]]\nname = 'b'\nworkflow = 'y'\nservice = 'a'\n",
    );
    assert!(ok.warnings().is_empty(), "{:?}", ok.warnings());
}

#[test]
fn invalid_rules_are_errors_naming_rule_and_field() {
    let bad_regex = error("[[rule]]\nname = 'prod'\nworkflow = '(deploy'\n");
    assert!(
        bad_regex.contains("rule 'prod', field workflow"),
        "{bad_regex}"
    );
    let empty = error("[[rule]]\nname = 'prod'\ntarget_branch = ''\n");
    assert!(
        empty.contains("field target_branch") && empty.contains("empty pattern"),
        "{empty}"
    );
    let twice =
        error("[[rule]]\nname = 'x'\nworkflow = 'a'\n[[rule]]\nname = 'x'\nworkflow = 'b'\n");
    assert!(twice.contains("another rule has this name"), "{twice}");
    let typo = error("[[rule]]\nname = 'x'\nworkfow = 'a'\n");
    assert!(typo.contains("workfow"), "{typo}");
    let template = error("[[rule]]\nname = 'x'\nworkflow = 'a'\nservice = '{branch}'\n");
    assert!(
        template.contains("field service") && template.contains("{branch}"),
        "{template}"
    );
    assert!(error("").contains("no [[rule]]"));
}

#[test]
fn reference_ids_are_stable_and_distinct() {
    let a = reference_id("acme", "{r}", "{run}", "prod");
    assert_eq!(a, reference_id("acme", "{r}", "{run}", "prod"));
    assert_eq!(a.len(), 4 + 32);
    assert_ne!(a, reference_id("acme", "{r}", "{run}", "staging"));
    assert_ne!(
        reference_id("a", "bc", "x", "y"),
        reference_id("ab", "c", "x", "y")
    );
    // Pinned (checked with Python hashlib): a change here changes every id users have loaded.
    assert_eq!(a, "bbp-fd48af2b085935bd87fd2c3d6caf057b");
}

#[test]
fn the_fingerprint_follows_what_the_rules_say_not_how_they_are_written() {
    let rules = "[[rule]]\nname = \"prod\"\nworkflow = \"^deploy$\"\n";
    let fingerprint = |text: &str| {
        RuleSet::parse(text, "r.toml")
            .unwrap()
            .fingerprint()
            .to_string()
    };
    let base = fingerprint(rules);
    assert!(
        base.starts_with("sha256:") && base.len() == 7 + 64,
        "{base}"
    );
    // Comments, layout and a default written out do not change it.
    assert_eq!(
        fingerprint(
            "# deploys\n[[rule]]\nworkflow   = \"^deploy$\"\nname = \"prod\"\nenvironment = \"production\"\n"
        ),
        base
    );
    // What a rule says does.
    for changed in [
        "[[rule]]\nname = \"production\"\nworkflow = \"^deploy$\"\n",
        "[[rule]]\nname = \"prod\"\nworkflow = \"^deploy-all$\"\n",
        "[[rule]]\nname = \"prod\"\nworkflow = \"^deploy$\"\nenvironment = \"staging\"\n",
    ] {
        assert_ne!(fingerprint(changed), base, "{changed}");
    }
}
