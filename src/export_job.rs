//! Arguments (and, with --config, the configuration file) to the [`ExportJob`] of one workspace.

use crate::cli::ExportArgs;
use anyhow::anyhow;
use bbpipe_pipeline::ExportJob;
use bbpipe_pipeline::extract::{ExportOptions, RepoFilter};
use bbpipe_pipeline::model::{Extras, Format, Granularity};
use chrono::{DateTime, NaiveDate, Utc};
use std::path::PathBuf;

/// What an export takes from the command line or, with --config, from the file where the
/// command line does not say.
#[derive(Debug, Clone)]
pub struct Effective {
    pub workspace: String,
    pub out: String,
    pub rules: Option<PathBuf>,
    pub with: Extras,
    pub lookback: String,
    pub concurrency: u32,
    pub max_requests_per_hour: u32,
    pub api_url: String,
    pub partition_by: Option<Granularity>,
    pub format: Option<Format>,
    pub steps_since: std::time::Duration,
    pub max_commits_per_deployment: u32,
    pub repos: Vec<String>,
    pub exclude: Vec<String>,
}

impl Effective {
    /// Everything from the command line.
    pub fn of_args(args: &ExportArgs, workspace: String, out: String) -> Effective {
        Effective {
            workspace,
            out,
            rules: args.write.deployments.rules.clone(),
            with: args.with,
            lookback: args.lookback.clone(),
            concurrency: args.concurrency,
            max_requests_per_hour: args.max_requests_per_hour,
            api_url: args.api.api_url.clone(),
            partition_by: args.write.partition_by,
            format: args.write.format,
            steps_since: args.steps_since,
            max_commits_per_deployment: args.max_commits_per_deployment,
            repos: args.repos.clone(),
            exclude: args.exclude.clone(),
        }
    }
}

/// The export job of one workspace.
pub fn job(args: &ExportArgs, effective: &Effective) -> anyhow::Result<ExportJob> {
    let mut write = args.write.options(&effective.out);
    write.rules = effective.rules.clone();
    write.partition_by = effective.partition_by;
    write.format = effective.format;
    Ok(ExportJob {
        extract: ExportOptions {
            workspace: effective.workspace.clone(),
            filter: RepoFilter::new(&effective.repos, &effective.exclude)
                .map_err(|e| anyhow!("--repos/--exclude: {e}"))?,
            since: args.since.as_deref().map(parse_date).transpose()?,
            full: args.full,
            lookback: parse_lookback(&effective.lookback)?,
            concurrency: effective.concurrency as usize,
            max_revisit_age: chrono::Duration::from_std(args.sync.max_revisit_age)
                .unwrap_or(chrono::Duration::MAX),
            checkpoint_requests: args.sync.checkpoint_requests,
            checkpoint_interval: args.sync.checkpoint_interval,
            retry_runs: Vec::new(),
            extras: effective.with,
            steps_since: chrono::Duration::from_std(effective.steps_since)
                .unwrap_or(chrono::Duration::MAX),
            max_commits_per_deployment: effective.max_commits_per_deployment as usize,
        },
        api_url: effective.api_url.clone(),
        record: args.record.clone(),
        write,
        stall_timeout: Some(args.sync.stall_timeout).filter(|t| !t.is_zero()),
    })
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
