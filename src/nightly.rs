//! `bbpipe export --config`: the nightly job. Every workspace of the file (or the one
//! `--workspace` names) is exported with its own credentials, state and lease, several at once;
//! one failing stops or rolls back no other. The exit code is the worst outcome; the summary
//! has a section per workspace; `--metrics-file` writes Prometheus metrics.

use crate::cli::ExportArgs;
use crate::client::{client_for, warn_if_deprecated};
use crate::exit::{self, Exit};
use crate::explicit_options::ExplicitOptions;
use crate::export_job::{Effective, job};
use crate::metrics;
use crate::outcome::Outcome;
use crate::summary::{Summary, SummaryFormat};
use bbpipe_pipeline::config::{NightlyConfig, WorkspaceConfig};
use bbpipe_pipeline::{Export, Report, normalize_workspace};
use futures::StreamExt;
use serde::Serialize;
use std::sync::Arc;

/// `--summary json` of a run with --config.
#[derive(Debug, Serialize)]
struct NightlySummary<'a> {
    format: u32,
    config: String,
    exit_code: u8,
    workspaces: &'a [Outcome],
}

pub async fn run(args: ExportArgs, given: &ExplicitOptions, quiet: bool) -> anyhow::Result<()> {
    let path = args.config.clone().unwrap_or_default();
    let usage = |message: String| Exit { code: 2, message };
    let config = NightlyConfig::load(&path).map_err(|e| usage(e.to_string()))?;
    let selected = selected(&args, &config, &path)?;
    let parallel = if given.has("parallel_workspaces") {
        args.parallel_workspaces as usize
    } else {
        config
            .parallel_workspaces
            .unwrap_or(bbpipe_pipeline::model::defaults::PARALLEL_WORKSPACES as usize)
    };
    let mut prepared = Vec::new();
    for workspace in selected {
        let effective = effective(&args, given, &config, workspace);
        prepared.push(effective.map(|e| (e, workspace)));
    }
    let args = &args;
    let quiet_progress = quiet || prepared.len() > 1;
    let mut outcomes: Vec<Outcome> = futures::stream::iter(prepared)
        .map(|prepared| async move {
            match prepared {
                Err((workspace, code, message)) => {
                    Outcome::of(workspace.as_str(), Err((code, message)))
                }
                Ok((effective, workspace)) => {
                    let result = export_one(args, &effective, workspace, quiet_progress).await;
                    Outcome::of(&effective.workspace, result)
                }
            }
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    let order: Vec<String> = config
        .workspaces
        .iter()
        .map(|w| normalize_workspace(&w.name))
        .collect();
    outcomes.sort_by_key(|o| order.iter().position(|w| *w == o.workspace));
    let codes: Vec<u8> = outcomes.iter().map(|o| o.exit_code).collect();
    let code = exit::worst(&codes);
    metrics::write(args.metrics_file.as_deref(), &outcomes)?;
    print_summary(args, quiet, &path, code, &outcomes)?;
    if code == 0 {
        return Ok(());
    }
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.exit_code != 0)
        .map(|o| format!("{} (exit {})", o.workspace, o.exit_code))
        .collect();
    Err(Exit {
        code,
        message: format!("not every workspace succeeded: {}", failed.join(", ")),
    }
    .into())
}

/// The workspaces of the file to export: the one `--workspace` names, else all.
fn selected<'a>(
    args: &ExportArgs,
    config: &'a NightlyConfig,
    path: &std::path::Path,
) -> Result<Vec<&'a WorkspaceConfig>, Exit> {
    let usage = |message: String| Exit { code: 2, message };
    Ok(match &args.workspace {
        Some(name) => vec![config.workspace(name).ok_or_else(|| {
            usage(format!(
                "--workspace {name}: {} has no such workspace (it has: {})",
                path.display(),
                config
                    .workspaces
                    .iter()
                    .map(|w| w.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?],
        None => config.workspaces.iter().collect(),
    })
}

/// The nightly job's summary: one JSON document, or each workspace's report and a line each.
fn print_summary(
    args: &ExportArgs,
    quiet: bool,
    path: &std::path::Path,
    code: u8,
    outcomes: &[Outcome],
) -> anyhow::Result<()> {
    match args.summary {
        SummaryFormat::Json => {
            let summary = NightlySummary {
                format: 1,
                config: path.display().to_string(),
                exit_code: code,
                workspaces: outcomes,
            };
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        SummaryFormat::Text if !quiet => {
            for outcome in outcomes {
                if let Some(report) = &outcome.report {
                    print!("{}", Summary(report));
                }
            }
            println!(
                "bbpipe: {} workspaces from {}",
                outcomes.len(),
                path.display()
            );
            for o in outcomes {
                match &o.error {
                    None => println!("  {:<15} {} (exit {})", o.workspace, o.outcome, o.exit_code),
                    Some(error) => println!(
                        "  {:<15} failed (exit {}): {error}",
                        o.workspace, o.exit_code
                    ),
                }
            }
        }
        SummaryFormat::Text => {}
    }
    Ok(())
}

/// The options of one workspace: the command line, else the workspace's entry, else the file's
/// top level, else the defaults.
///
/// A flat list, one option after another, each resolved the same way.
fn effective(
    args: &ExportArgs,
    given: &ExplicitOptions,
    config: &NightlyConfig,
    workspace: &WorkspaceConfig,
) -> Result<Effective, (String, u8, String)> {
    let name = normalize_workspace(&workspace.name);
    let bad = |message: String| (name.clone(), 2u8, message);
    let out = match (&args.out, &config.out) {
        (Some(out), _) => out.clone(),
        (None, Some(out)) => workspace.destination(out),
        (None, None) => return Err(bad("no destination: give out in the file or --out".into())),
    };
    let mut e = Effective {
        workspace: name.clone(),
        ..Effective::of_args(args, name.clone(), out)
    };
    let pick = |id: &str| !given.has(id);
    if pick("rules") {
        e.rules = workspace.rules.clone().or_else(|| config.rules.clone());
    }
    if pick("with")
        && let Some(with) = workspace.with.as_ref().or(config.with.as_ref())
    {
        e.with = with
            .parse()
            .map_err(|m: String| bad(format!("with: {m}")))?;
    }
    if pick("lookback")
        && let Some(lookback) = &config.lookback
    {
        e.lookback = lookback.clone();
    }
    if pick("concurrency")
        && let Some(n) = config.concurrency
    {
        e.concurrency = n;
    }
    if pick("max_requests_per_hour")
        && let Some(n) = config.max_requests_per_hour
    {
        e.max_requests_per_hour = n;
    }
    if pick("api_url")
        && let Some(url) = &config.api_url
    {
        e.api_url = url.clone();
    }
    if pick("partition_by")
        && let Some(by) = &config.partition_by
    {
        e.partition_by = Some(
            by.parse()
                .map_err(|m: String| bad(format!("partition_by: {m}")))?,
        );
    }
    if pick("format")
        && let Some(format) = &config.format
    {
        e.format = Some(
            format
                .parse()
                .map_err(|m: String| bad(format!("format: {m}")))?,
        );
    }
    if pick("steps_since")
        && let Some(since) = &config.steps_since
    {
        e.steps_since =
            humantime::parse_duration(since).map_err(|m| bad(format!("steps_since: {m}")))?;
    }
    if pick("max_commits_per_deployment")
        && let Some(n) = config.max_commits_per_deployment
    {
        e.max_commits_per_deployment = n;
    }
    if pick("repos") {
        e.repos = workspace.repos.clone();
    }
    if pick("exclude") {
        e.exclude = workspace.exclude.clone();
    }
    Ok(e)
}

/// Exports one workspace with its credentials; (exit code, message) when it fails.
async fn export_one(
    args: &ExportArgs,
    effective: &Effective,
    workspace: &WorkspaceConfig,
    quiet: bool,
) -> Result<Report, (u8, String)> {
    let lookup = |name: &str| std::env::var(name).ok();
    let mut credentials = Vec::new();
    for credential in &workspace.credentials {
        let resolved = credential
            .resolve(&effective.workspace, &lookup)
            .map_err(|e| (exit::INVALID_CREDENTIALS.1, e.to_string()))?;
        warn_if_deprecated(&resolved);
        credentials.push((credential.name.clone(), resolved));
    }
    let fail = |e: anyhow::Error| (exit::FAILED.1, format!("{e:#}"));
    let job = job(args, effective).map_err(fail)?;
    let client = Arc::new(
        client_for(
            credentials,
            &args.api,
            &effective.api_url,
            effective.max_requests_per_hour,
        )
        .map_err(fail)?,
    );
    let failed = |e: bbpipe_pipeline::PipelineError| (exit::of(&e), e.to_string());
    let export = Export::open(job, Arc::clone(&client))
        .await
        .map_err(failed)?;
    let progress =
        crate::progress::Progress::start(export.progress(), Arc::clone(client.stats()), quiet);
    let result = export.run().await;
    progress.finish().await;
    result.map_err(failed)
}

/// `bbpipe config show`: the file as it takes effect, credentials by reference with whether
/// each variable or file is there (never a value).
pub fn show(path: &std::path::Path) -> anyhow::Result<()> {
    let config = NightlyConfig::load(path).map_err(|e| Exit {
        code: 2,
        message: e.to_string(),
    })?;
    print!("{}", config.to_toml());
    println!();
    for workspace in &config.workspaces {
        for credential in &workspace.credentials {
            let lookup = |name: &str| std::env::var(name).ok();
            let state = match credential.resolve(&workspace.name, &lookup) {
                Ok(_) => "ok".to_string(),
                Err(e) => e.to_string(),
            };
            println!(
                "# workspace {} credential {}: {state}",
                workspace.name, credential.name
            );
        }
    }
    Ok(())
}
