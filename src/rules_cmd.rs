//! `bbpipe rules check`, `bbpipe rules explain` and `bbpipe rules apply`.

use crate::cli::{RulesApplyArgs, RulesCheckArgs, RulesCommand, RulesExplainArgs};
use crate::exit::Exit;
use crate::summary::SummaryFormat;
use crate::write_cmd::failed;
use anyhow::Context;
use bbpipe_pipeline::for_each_run_batch;
use bbpipe_pipeline::transform::RuleSet;
use bbpipe_pipeline::transform::rules::{RunColumns, Verdict};
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
    for_each_run_batch(fixtures, |batch| {
        let columns = RunColumns::new(batch)?;
        for row in 0..columns.len() {
            runs += 1;
            if let Verdict::Matched(matched) = rules.judge(&columns.view(row)) {
                for (a, b) in RuleSet::overlaps(&matched) {
                    *overlaps.entry((a.to_string(), b.to_string())).or_default() += 1;
                }
                for (rule, _) in matched {
                    if let Some((n, ok)) = per_rule.get_mut(rule.name.as_str()) {
                        *n += 1;
                        *ok += u64::from(columns.view(row).result == Some("SUCCESSFUL"));
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
    for_each_run_batch(&args.fixtures, |batch| {
        let columns = RunColumns::new(batch)?;
        for row in 0..columns.len() {
            if shown >= limit {
                return Ok(ControlFlow::Break(()));
            }
            let run = columns.view(row);
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
            let build = columns.build_number(row);
            let outcome = format!(
                "{}/{}",
                run.state.unwrap_or("?"),
                run.result.unwrap_or("-")
            );
            match &verdict {
                Verdict::Matched(matched) => {
                    matched_runs += 1;
                    let pairs = RuleSet::overlaps(matched);
                    overlapping += u64::from(!pairs.is_empty());
                    if args.json {
                        let deployments: Vec<_> = matched
                            .iter()
                            .map(|(rule, service)| {
                                json!({"rule": rule.name, "service": service, "environment": rule.environment})
                            })
                            .collect();
                        let overlaps: Vec<_> = pairs.iter().map(|(a, b)| json!([a, b])).collect();
                        println!("{}", json!({
                            "repository": run.repository, "build_number": build,
                            "uuid": columns.uuid(row), "pipeline": run.name,
                            "target_branch": run.target_branch(), "state": run.state,
                            "result": run.result, "matched": deployments, "overlaps": overlaps,
                        }));
                    } else {
                        println!("{} #{build} {} on {} {outcome}", run.repository, run.name.unwrap_or("<no pipeline>"), run.target_branch().unwrap_or("-"));
                        for (rule, service) in matched {
                            println!("  matched '{}': {service} -> {}", rule.name, rule.environment);
                        }
                        for (a, b) in pairs {
                            println!("  overlap: '{a}' and '{b}' emit the same service and environment");
                        }
                    }
                }
                Verdict::Unmatched(nearest) => {
                    let (rule, reason) = match nearest {
                        Some((rule, miss)) => (Some(rule.name.as_str()), Some(miss.reason.as_str())),
                        None => (None, None),
                    };
                    if args.json {
                        println!("{}", json!({
                            "repository": run.repository, "build_number": build,
                            "uuid": columns.uuid(row), "pipeline": run.name,
                            "target_branch": run.target_branch(), "state": run.state,
                            "result": run.result, "matched": [],
                            "nearest_rule": rule, "failed": reason,
                        }));
                    } else {
                        println!("{} #{build} {} on {} {outcome}", run.repository, run.name.unwrap_or("<no pipeline>"), run.target_branch().unwrap_or("-"));
                        println!("  no rule; nearest '{}': {}", rule.unwrap_or("-"), reason.unwrap_or("-"));
                    }
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    })
    .await?;
    if !args.json {
        println!(
            "{shown} runs shown, {matched_runs} deployed by a rule, {overlapping} with overlapping rules"
        );
    }
    Ok(())
}
