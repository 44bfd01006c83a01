//! `bbpipe export`: arguments to an [`ExportJob`], a progress display while it runs, and the
//! report at the end.

use crate::check::{client, warn_if_deprecated};
use crate::cli::ExportArgs;
use crate::exit::{self, Exit};
use crate::progress::Progress;
use crate::write_cmd::{failed, finish};
use anyhow::anyhow;
use bbpipe_pipeline::extract::api::Credentials;
use bbpipe_pipeline::extract::{ExportOptions, RepoFilter};
use bbpipe_pipeline::{Export, ExportJob, normalize_workspace};
use chrono::{DateTime, NaiveDate, Utc};
use std::sync::Arc;

pub async fn run(args: ExportArgs, quiet: bool) -> anyhow::Result<()> {
    let workspace = normalize_workspace(&args.workspace);
    let credentials = Credentials::from_env().map_err(|e| Exit {
        code: exit::INVALID_CREDENTIALS.1,
        message: e.to_string(),
    })?;
    warn_if_deprecated(&credentials);
    let job = ExportJob {
        extract: ExportOptions {
            workspace,
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
            extras: args.with,
            steps_since: chrono::Duration::from_std(args.steps_since)
                .unwrap_or(chrono::Duration::MAX),
            max_commits_per_deployment: args.max_commits_per_deployment as usize,
        },
        api_url: args.api.api_url.clone(),
        record: args.record.clone(),
        write: args.write.options(&args.out),
    };
    let client = Arc::new(client(credentials, &args.api, args.max_requests_per_hour)?);
    let export = Export::open(job, Arc::clone(&client))
        .await
        .map_err(failed)?;
    let progress = Progress::start(export.progress(), Arc::clone(client.stats()), quiet);
    let result = export.run().await;
    progress.finish().await;
    finish(&result.map_err(failed)?, args.summary, quiet)
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
