//! `bbpipe export`: a workspace from the Bitbucket API to the dataset, incrementally.

use crate::check::{client, warn_if_deprecated};
use crate::cli::ExportArgs;
use crate::exit::{self, Exit};
use crate::pipeline::{Writer, load_rules, open_destination, transformer};
use crate::progress::Progress;
use crate::summary::{ExportReport, Requests, Summary};
use anyhow::{Context, anyhow};
use bbpipe_extract::api::{Credentials, RequestStats};
use bbpipe_extract::{ExportOptions, Exporter, ExtractError, Recorder, RepoFilter, SyncState};
use bbpipe_load::Destination;
use chrono::{DateTime, NaiveDate, Utc};
use object_store::path::Path;
use std::sync::Arc;
use std::time::Instant;

pub async fn run(args: ExportArgs, quiet: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let workspace = normalize_workspace(&args.workspace);
    let credentials = Credentials::from_env().map_err(|e| Exit {
        code: exit::INVALID_CREDENTIALS.1,
        message: e.to_string(),
    })?;
    warn_if_deprecated(&credentials);
    let mut options = ExportOptions {
        workspace: workspace.clone(),
        filter: RepoFilter::new(&args.repos, &args.exclude)
            .map_err(|e| anyhow!("--repos/--exclude: {e}"))?,
        since: args.since.as_deref().map(parse_date).transpose()?,
        full: args.full,
        lookback: parse_lookback(&args.lookback)?,
        concurrency: args.concurrency as usize,
        max_revisit_age: chrono::Duration::from_std(args.sync.max_revisit_age)
            .unwrap_or(chrono::Duration::MAX),
        checkpoint_requests: args.sync.checkpoint_requests,
        checkpoint_interval: args.sync.checkpoint_interval,
        retry_runs: Vec::new(),
    };
    let rules = load_rules(&args.deployments)?;
    let client = Arc::new(client(credentials, &args.api, args.max_requests_per_hour)?);
    let destination = open_destination(&args.out, &args.store)?;
    let recorder = args.record.as_deref().map(Recorder::new).transpose()?;
    let writer = Writer::open(
        destination.clone(),
        std::slice::from_ref(&workspace),
        args.api.api_url.clone(),
        &args.tuning,
        &args.deployments,
        &args.lock,
    )
    .await?;
    // Read under the lease: the state as committed by the last export, which nobody moves now.
    let state = match writer.sink.state(&workspace) {
        Some(entries) => SyncState::from_entries(&workspace, entries)
            .with_context(|| format!("the sync state in the manifests of workspace {workspace}"))?,
        None => None,
    };
    let state = match state {
        Some(state) => state,
        None => read_legacy_state(&destination, &workspace).await?,
    };
    options.retry_runs = writer.sink.rejected_runs(&workspace);
    let exporter = Exporter::new(Arc::clone(&client), options, state, recorder);
    let progress = Progress::start(exporter.progress(), Arc::clone(client.stats()), quiet);

    let result = writer
        .run(|tx| exporter.run(tx), transformer(&args.tuning, rules))
        .await;
    progress.finish().await;
    let (outcome, transformed, loaded) = result.map_err(with_exit_code)?;
    // Decided before the summary takes the counts: exit 8 once it is printed.
    let outcome_code = crate::pipeline::fail_if_rejected(&transformed);
    let stats = client.stats();
    if !outcome.skipped.is_empty() {
        tracing::warn!(
            "no pipelines (404), skipped: {}",
            outcome.skipped.join(", ")
        );
    }
    if !quiet {
        let summary = Summary {
            source: format!("{} workspace {}", args.api.api_url, workspace),
            destination: args.out.clone(),
            workspaces: vec![workspace.clone()],
            pages: outcome.summary.pages,
            input_bytes: outcome.summary.bytes,
            transform: transformed,
            load: loaded,
            elapsed: started.elapsed(),
            requests: Some(Requests {
                repositories: outcome.repositories,
                requests: RequestStats::get(&stats.requests),
                retries: RequestStats::get(&stats.retries),
                rate_limited: RequestStats::get(&stats.rate_limited),
                waited_ms: RequestStats::get(&stats.rate_limit_wait_ms),
            }),
            export: Some(ExportReport {
                checkpoints: outcome.checkpoints,
                resumed: outcome.resumed,
                revisited: outcome.revisited,
                unfinished_tracked: outcome.unfinished_tracked,
                unfinished_dropped: outcome.unfinished_dropped,
                sort_fallbacks: outcome.sort_fallbacks,
            }),
        };
        print!("{summary}");
    }
    outcome_code
}

/// Bitbucket workspace slugs are lower-case, and `Acme` and `acme` name one workspace: one
/// state, one lease, one partition.
pub fn normalize_workspace(given: &str) -> String {
    let slug = given.trim().to_lowercase();
    if slug != given {
        tracing::info!("workspace {given:?} read as {slug:?} (workspace slugs are lower-case)");
    }
    slug
}

/// API errors that mean an access problem keep `check`'s exit codes (a 404 can only come from
/// the repositories listing here: a repository's 404 is skipped).
fn with_exit_code(error: anyhow::Error) -> anyhow::Error {
    let code = match error.downcast_ref::<ExtractError>() {
        Some(ExtractError::Api(api)) => exit::classify(api, true).1,
        _ => return error,
    };
    if code == exit::FAILED.1 {
        return error;
    }
    Exit {
        code,
        message: format!("{error:#}"),
    }
    .into()
}

/// The state file of earlier versions (`_state/<workspace>.json`), read when no manifest of
/// the workspace carries state yet.
async fn read_legacy_state(
    destination: &Destination,
    workspace: &str,
) -> anyhow::Result<SyncState> {
    let path = Path::from(SyncState::legacy_path(workspace));
    match destination.get_opt(&path).await? {
        None => Ok(SyncState::new(workspace)),
        Some(bytes) => serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{}: not a bbpipe state file (remove it to export in full)",
                destination.describe(&path)
            )
        }),
    }
}

fn parse_date(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| anyhow!("--since {text:?}: expected YYYY-MM-DD or an RFC 3339 timestamp"))
}

fn parse_lookback(text: &str) -> anyhow::Result<chrono::Duration> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| anyhow!("--lookback {text:?}: {e} (e.g. 2d, 36h)"))?;
    // Longer than the calendar: look back over everything.
    Ok(chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX))
}
