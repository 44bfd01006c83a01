//! `bbpipe export`: a workspace from the Bitbucket API to the dataset, incrementally.

use crate::check::{client, warn_if_deprecated};
use crate::cli::ExportArgs;
use crate::exit::{self, Exit};
use crate::pipeline::{load_rules, open_destination, run_stages, sink, transformer};
use crate::progress::Progress;
use crate::summary::{Requests, Summary};
use anyhow::{Context, anyhow};
use bbpipe_extract::api::{Credentials, RequestStats};
use bbpipe_extract::{ExportOptions, Exporter, ExtractError, Recorder, RepoFilter, SyncState};
use bbpipe_load::{CommitInfo, Destination};
use chrono::{DateTime, NaiveDate, Utc};
use object_store::path::Path;
use std::sync::Arc;
use std::time::Instant;

pub async fn run(args: ExportArgs, quiet: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let credentials = Credentials::from_env().map_err(|e| Exit {
        code: exit::INVALID_CREDENTIALS.1,
        message: e.to_string(),
    })?;
    warn_if_deprecated(&credentials);
    let options = ExportOptions {
        workspace: args.workspace.clone(),
        filter: RepoFilter::new(&args.repos, &args.exclude)
            .map_err(|e| anyhow!("--repos/--exclude: {e}"))?,
        since: args.since.as_deref().map(parse_date).transpose()?,
        full: args.full,
        lookback: parse_lookback(&args.lookback)?,
        concurrency: args.concurrency as usize,
    };
    let rules = load_rules(&args.deployments)?;
    let client = Arc::new(client(credentials, &args.api, args.max_requests_per_hour)?);
    let destination = open_destination(&args.out, &args.store)?;
    let sink = sink(destination.clone(), &args.tuning, &args.deployments).await?;
    let state = read_state(&destination, &args.workspace).await?;
    let recorder = args.record.as_deref().map(Recorder::new).transpose()?;
    let exporter = Exporter::new(Arc::clone(&client), options, state, recorder);
    let progress = Progress::start(exporter.progress(), Arc::clone(client.stats()), quiet);

    let result = run_stages(
        |tx| exporter.run(tx),
        transformer(&args.tuning, rules),
        sink,
    )
    .await;
    progress.finish().await;
    let (outcome, transformed, staged) = result.map_err(with_exit_code)?;
    let stats = client.stats();
    let requests = RequestStats::get(&stats.requests);
    let info = CommitInfo {
        source: args.api.api_url.clone(),
        requests,
    };
    let (loaded, manifest) = staged
        .commit(info)
        .await
        .map_err(|e| anyhow!("load failed: {e}"))?;
    // Only now, with the data committed, may the state move.
    write_state(&destination, &outcome.state).await?;
    tracing::info!(manifest = %manifest.run_id, "committed");
    if !outcome.skipped.is_empty() {
        tracing::warn!(
            "no pipelines (404), skipped: {}",
            outcome.skipped.join(", ")
        );
    }
    if !quiet {
        let summary = Summary {
            source: format!("{} workspace {}", args.api.api_url, args.workspace),
            destination: args.out.clone(),
            workspaces: vec![args.workspace.clone()],
            pages: outcome.summary.pages,
            input_bytes: outcome.summary.bytes,
            transform: transformed,
            load: loaded,
            elapsed: started.elapsed(),
            requests: Some(Requests {
                repositories: outcome.repositories,
                requests,
                retries: RequestStats::get(&stats.retries),
                rate_limited: RequestStats::get(&stats.rate_limited),
                waited_ms: RequestStats::get(&stats.rate_limit_wait_ms),
            }),
        };
        print!("{summary}");
    }
    Ok(())
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

async fn read_state(destination: &Destination, workspace: &str) -> anyhow::Result<SyncState> {
    let path = Path::from(SyncState::path(workspace));
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

async fn write_state(destination: &Destination, state: &SyncState) -> anyhow::Result<()> {
    let path = Path::from(SyncState::path(&state.workspace));
    destination
        .put(&path, serde_json::to_vec_pretty(state)?)
        .await?;
    Ok(())
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
    chrono::Duration::from_std(duration).map_err(|e| anyhow!("--lookback {text:?}: {e}"))
}
