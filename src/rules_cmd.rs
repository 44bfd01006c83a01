//! `bbpipe rules check`, `bbpipe rules explain` and `bbpipe rules apply`.

use crate::cli::{RulesApplyArgs, RulesCheckArgs, RulesCommand, RulesExplainArgs};
use crate::exit::Exit;
use crate::summary::SummaryFormat;
use crate::write_cmd::failed;
use anyhow::Context;
use bbpipe_pipeline::for_each_batch;
use bbpipe_pipeline::model::arrow::error::ArrowError;
use bbpipe_pipeline::model::arrow::record_batch::RecordBatch;
use bbpipe_pipeline::model::{Extras, Optional, Table};
use bbpipe_pipeline::transform::RuleSet;
use bbpipe_pipeline::transform::rules::{
    EnvironmentDeploymentColumns, RunColumns, RunView, Source, Verdict,
};
use bbpipe_pipeline::{RulesApplied, RulesApplyJob, apply_rules};
use serde_json::json;
use std::collections::BTreeMap;
use std::ops::ControlFlow;

pub async fn run(command: RulesCommand) -> anyhow::Result<()> {
    match command {
        RulesCommand::Check(args) => check(args).await,
        RulesCommand::Explain(args) => explain(args).await,
        RulesCommand::Apply(args) => apply(args).await,
    }
}

async fn apply(args: RulesApplyArgs) -> anyhow::Result<()> {
    if args.write.deployments.rules.is_none() {
        return Err(Exit {
            code: 2,
            message: "rules apply needs --rules FILE: the rules to derive deployments with".into(),
        }
        .into());
    }
    let job = RulesApplyJob {
        write: args.write.options(&args.dest),
        workspaces: args
            .workspaces
            .iter()
            .map(|w| bbpipe_pipeline::normalize_workspace(w))
            .collect(),
        dry_run: args.dry_run,
    };
    let applied = apply_rules(&job).await.map_err(failed)?;
    match args.summary {
        SummaryFormat::Json => println!("{}", serde_json::to_string_pretty(&applied)?),
        SummaryFormat::Text => print!("{}", applied_text(&applied)),
    }
    Ok(())
}

/// What `rules apply` did, as text.
pub fn applied_text(applied: &RulesApplied) -> String {
    let mut out = format!(
        "bbpipe rules apply: {} ({}) -> {}{}\n",
        applied.rules,
        applied.fingerprint,
        applied.destination,
        if applied.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
    for ws in &applied.workspaces {
        out.push_str(&format!(
            "  {}: {} runs read; {} deployments: {} kept, {} added, {} removed{}\n",
            ws.workspace,
            ws.pipeline_runs,
            ws.deployments,
            ws.kept,
            ws.added,
            ws.removed,
            if ws.committed { ", committed" } else { "" }
        ));
        for change in &ws.changes {
            out.push_str(&format!(
                "    rule {} ({} to {}): +{} -{}\n",
                change.rule, change.service, change.environment, change.added, change.removed
            ));
        }
    }
    out
}

async fn check(args: RulesCheckArgs) -> anyhow::Result<()> {
    let rules = RuleSet::load(&args.rules)?;
    println!("{}: {} rules, valid", rules.path(), rules.rules().len());
    for warning in rules.warnings() {
        println!("warning: {warning}");
    }
    let Some(fixtures) = &args.against else {
        return Ok(());
    };
    let mut per_rule: BTreeMap<&str, (u64, u64)> = rules
        .rules()
        .iter()
        .map(|r| (r.name.as_str(), (0, 0)))
        .collect();
    let mut overlaps: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut runs = 0u64;
    let extras = replayed_for(&rules);
    for_each_batch(fixtures, extras, |table, batch| {
        for Candidate { view, .. } in candidates(table, batch)? {
            runs += u64::from(view.environment.is_none());
            if let Verdict::Matched(matched) = rules.judge(&view) {
                for (a, b) in RuleSet::overlaps(&matched) {
                    *overlaps.entry((a.to_string(), b.to_string())).or_default() += 1;
                }
                for (rule, _) in matched {
                    if let Some((n, ok)) = per_rule.get_mut(rule.name.as_str()) {
                        *n += 1;
                        *ok += u64::from(view.result == Some("SUCCESSFUL"));
                    }
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    })
    .await
    .with_context(|| format!("trying the rules on {}", fixtures.display()))?;
    println!("against {} ({runs} pipeline runs):", fixtures.display());
    for (rule, (n, ok)) in &per_rule {
        println!("  {rule:<32} {n:>6} deployments ({ok} successful)");
        if *n == 0 {
            println!("warning: rule '{rule}' matched no run");
        }
    }
    for ((a, b), n) in &overlaps {
        println!(
            "warning: rules '{a}' and '{b}' overlap on {n} runs: both emit the same service and environment"
        );
    }
    Ok(())
}

async fn explain(args: RulesExplainArgs) -> anyhow::Result<()> {
    let rules = RuleSet::load(&args.rules)?;
    let limit = args.limit.unwrap_or(usize::MAX);
    let (mut shown, mut matched_runs, mut overlapping) = (0usize, 0u64, 0u64);
    // Rules that read Bitbucket's deployments are explained on them too.
    let extras = replayed_for(&rules);
    for_each_batch(&args.fixtures, extras, |table, batch| {
        for Candidate {
            view: run,
            uuid,
            build,
        } in candidates(table, batch)?
        {
            if shown >= limit {
                return Ok(ControlFlow::Break(()));
            }
            if let Some(repo) = &args.repo
                && repo != run.repo_slug
                && repo != run.repository
            {
                continue;
            }
            let verdict = rules.judge(&run);
            if args.matched && !matches!(verdict, Verdict::Matched(_)) {
                continue;
            }
            shown += 1;
            let (headline, record) = describe(&run, build, uuid);
            let (matched, overlapped) = print_verdict(&verdict, &headline, record, args.json);
            matched_runs += u64::from(matched);
            overlapping += u64::from(overlapped);
        }
        Ok(ControlFlow::Continue(()))
    })
    .await?;
    if !args.json {
        println!(
            "{shown} {} shown, {matched_runs} deployed by a rule, {overlapping} with overlapping rules",
            if extras.includes(Optional::Environments) {
                "runs and Bitbucket deployments"
            } else {
                "runs"
            }
        );
    }
    Ok(())
}

/// The line `rules explain` starts with for a candidate, and its JSON record.
fn describe(run: &RunView<'_>, build: Option<i64>, uuid: &str) -> (String, serde_json::Value) {
    let build = build.map_or_else(|| "?".to_string(), |b| b.to_string());
    let outcome = format!("{}/{}", run.state.unwrap_or("?"), run.result.unwrap_or("-"));
    // What the line is about: a pipeline run, or a deployment Bitbucket recorded.
    let (what, pipeline, branch) = match run.environment {
        Some(env) => (
            "deployment",
            format!(
                "Bitbucket deployment to {} ({})",
                env.name.unwrap_or("?"),
                env.environment_type.unwrap_or("?")
            ),
            None,
        ),
        None => (
            "pipeline_run",
            run.name.unwrap_or("<no pipeline>").to_string(),
            run.target_branch(),
        ),
    };
    let headline = format!(
        "{} #{build} {pipeline} on {} {outcome}",
        run.repository,
        branch.unwrap_or("-")
    );
    let mut record = json!({
        "kind": what, "repository": run.repository, "build_number": build.parse::<i64>().ok(),
        "uuid": uuid, "pipeline": run.name, "target_branch": run.target_branch(),
        "state": run.state, "result": run.result,
    });
    if let Some(env) = run.environment {
        record["environment_name"] = json!(env.name);
        record["environment_type"] = json!(env.environment_type);
    }
    (headline, record)
}

/// Prints what the rules made of a candidate (a line of JSON, or text lines); returns whether
/// a rule matched and whether two rules overlapped on it.
fn print_verdict(
    verdict: &Verdict<'_>,
    headline: &str,
    mut record: serde_json::Value,
    as_json: bool,
) -> (bool, bool) {
    match verdict {
        Verdict::Matched(matched) => {
            let pairs = RuleSet::overlaps(matched);
            let overlapped = !pairs.is_empty();
            if as_json {
                let deployments: Vec<_> = matched
                    .iter()
                    .map(|(rule, service)| {
                        json!({"rule": rule.name, "service": service, "environment": rule.environment})
                    })
                    .collect();
                let overlaps: Vec<_> = pairs.iter().map(|(a, b)| json!([a, b])).collect();
                record["matched"] = json!(deployments);
                record["overlaps"] = json!(overlaps);
                println!("{record}");
            } else {
                println!("{headline}");
                for (rule, service) in matched {
                    println!(
                        "  matched '{}': {service} -> {}",
                        rule.name, rule.environment
                    );
                }
                for (a, b) in pairs {
                    println!("  overlap: '{a}' and '{b}' emit the same service and environment");
                }
            }
            (true, overlapped)
        }
        Verdict::Unmatched(nearest) => {
            let (rule, reason) = match nearest {
                Some((rule, miss)) => (Some(rule.name.as_str()), Some(miss.reason.as_str())),
                None => (None, None),
            };
            if as_json {
                record["matched"] = json!([]);
                record["nearest_rule"] = json!(rule);
                record["failed"] = json!(reason);
                println!("{record}");
            } else {
                println!("{headline}");
                println!(
                    "  no rule; nearest '{}': {}",
                    rule.unwrap_or("-"),
                    reason.unwrap_or("-")
                );
            }
            (false, false)
        }
    }
}

/// A pipeline run or a Bitbucket deployment, as `rules check` and `rules explain` judge it.
struct Candidate<'a> {
    view: RunView<'a>,
    uuid: &'a str,
    build: Option<i64>,
}

/// What rules can judge in a batch of `table`: its runs, or its Bitbucket deployments; nothing
/// in other tables.
fn candidates(table: Table, batch: &RecordBatch) -> Result<Vec<Candidate<'_>>, ArrowError> {
    Ok(match Source::of(table) {
        Some(Source::Pipelines) => {
            let columns = RunColumns::new(batch)?;
            (0..columns.len())
                .map(|row| Candidate {
                    view: columns.view(row),
                    uuid: columns.uuid(row),
                    build: Some(columns.build_number(row)),
                })
                .collect()
        }
        Some(Source::Environments) => {
            let columns = EnvironmentDeploymentColumns::new(batch)?;
            (0..columns.len())
                .map(|row| Candidate {
                    view: columns.view(row),
                    uuid: columns.uuid(row),
                    build: columns.build_number(row),
                })
                .collect()
        }
        // Rules judge pipeline runs and Bitbucket's deployments only.
        None => Vec::new(),
    })
}

/// The optional tables to replay for `rules`: Bitbucket's deployments when a rule reads them.
fn replayed_for(rules: &RuleSet) -> Extras {
    match rules.reads(Source::Environments) {
        true => Extras::default().with(Optional::Environments),
        false => Extras::default(),
    }
}
