//! Options several commands share: reaching the API, writing a dataset (layout, rules,
//! leases, tuning), the sync and stall settings of an export, and reaching an object store.

use super::values::{ApiUrl, format, granularity};
use bbpipe_pipeline::model::{Format, Granularity, defaults};
use clap::Args;
use std::path::PathBuf;

/// Reaching the Bitbucket API.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// API base URL (or the environment variable BITBUCKET_API_URL).
    #[arg(long, env = "BITBUCKET_API_URL", default_value = bbpipe_pipeline::extract::api::DEFAULT_API_URL, value_name = "URL", value_parser = ApiUrl)]
    pub api_url: String,
    /// Retries of a 5xx, a timeout or a dropped connection (429s are waited out separately).
    #[arg(long, default_value_t = defaults::MAX_RETRIES as usize, value_name = "N")]
    pub max_retries: usize,
    /// First retry delay in milliseconds; it doubles, with jitter, up to a minute.
    #[arg(long, default_value_t = defaults::RETRY_DELAY_MS, value_name = "MS")]
    pub retry_delay_ms: u64,
    /// Give up on a request still rate limited (429) after waiting this many seconds in all.
    #[arg(long, default_value_t = defaults::RATE_LIMIT_PATIENCE_SECONDS, value_name = "SECONDS")]
    pub rate_limit_patience: u64,
    /// Refuse a response body larger than this, in MiB, while it streams in (retried like a
    /// 5xx, then exit 1). A page of 100 runs is about 0.2 MiB.
    #[arg(long, default_value_t = defaults::MAX_RESPONSE_MIB, value_name = "MIB", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_response_mib: u32,
    /// Where a workspace OAuth consumer's access tokens are asked for (or the environment
    /// variable BITBUCKET_OAUTH_TOKEN_URL; default Bitbucket's): https, or http to a loopback
    /// address. The consumer's secret goes there and nowhere else.
    #[arg(long, env = "BITBUCKET_OAUTH_TOKEN_URL", value_name = "URL")]
    pub oauth_token_url: Option<String>,
}

/// What every command that writes a dataset shares, besides `--out`.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// One partition of pipeline_runs and deployments per `month` (the default for a new
    /// dataset) or per `day` (very large workspaces). The choice is recorded in the dataset:
    /// later runs follow it, and asking an existing dataset for the other is refused.
    #[arg(long, value_name = "month|day", value_parser = granularity)]
    pub partition_by: Option<Granularity>,
    /// `parquet` (the default for a new dataset: Hive-partitioned Parquet with bbpipe's
    /// manifests) or `delta` (the same files as Delta Lake tables, for Spark, Databricks,
    /// Trino and DuckDB's delta_scan). Recorded in the dataset like --partition-by.
    #[arg(long, value_name = "parquet|delta", value_parser = format)]
    pub format: Option<Format>,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub deployments: DeploymentArgs,
    #[command(flatten)]
    pub tuning: TuningArgs,
    #[command(flatten)]
    pub lock: LockArgs,
}

/// How writers of one destination are kept apart.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// Wait up to this long for another export of the same workspace into the same
    /// destination to finish (e.g. 30m); without it, exit at once with code 9.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub wait_lock: Option<std::time::Duration>,
    /// How long the workspace's lease lasts unless renewed (renewed every quarter of it): a
    /// writer that died blocks the workspace this long at most.
    #[arg(long, default_value = defaults::LEASE.text, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub lease: std::time::Duration,
    /// Take no lease. Only for stores without conditional writes, and only when a single
    /// export ever writes to the destination at a time (docs/guides/several-exports.md).
    #[arg(long)]
    pub no_lock: bool,
}

/// How an export commits as it goes and revisits unfinished runs.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Commit (data, manifest, state) at least every N requests.
    #[arg(long, default_value_t = defaults::CHECKPOINT_REQUESTS, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_requests: u64,
    /// Commit at least this often.
    #[arg(long, default_value = defaults::CHECKPOINT_INTERVAL.text, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub checkpoint_interval: std::time::Duration,
    /// Stop tracking runs left unfinished (paused, halted, running) once they are older than
    /// this; younger ones are looked for at every export (one filtered listing per repository).
    #[arg(long, default_value = defaults::MAX_REVISIT_AGE.text, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub max_revisit_age: std::time::Duration,
    /// Fail (exit 1), saying what each stage was waiting for, when no request completes and no
    /// page or batch moves for this long; waits on Bitbucket's rate limit do not count. What
    /// the checkpoints committed stays. `0` waits for ever.
    #[arg(long, default_value = defaults::STALL_TIMEOUT.text, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub stall_timeout: std::time::Duration,
}

/// Deployment inference, shared by every command that writes a dataset.
#[derive(Debug, Args)]
pub struct DeploymentArgs {
    /// Deploy rules (TOML, see docs/guides/deploy-rules.md): infer a `deployments` table from completed runs.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Also write each deployment as a JSON line shaped like a deployments-create API request.
    #[arg(long, value_name = "FILE", requires = "rules")]
    pub deployments_ndjson: Option<PathBuf>,
}

/// Knobs shared by every command that writes a dataset.
#[derive(Debug, Args)]
pub struct TuningArgs {
    /// Rows per batch handed from transform to load.
    #[arg(long, default_value_t = defaults::BATCH_ROWS as u32, value_name = "ROWS", value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_rows: u32,
    /// Memory for rows waiting to be written, in MiB; beyond it partitions are written before
    /// the input ends, or their late rows spilled to disk until the end.
    #[arg(long, default_value_t = defaults::BUFFER_MIB, value_name = "MIB", value_parser = clap::value_parser!(u32).range(1..))]
    pub buffer_mib: u32,
    /// Files larger than this go up as multipart uploads of parts this size (S3: 5 or more).
    #[arg(long, default_value_t = defaults::UPLOAD_PART_MIB, value_name = "MIB", value_parser = clap::value_parser!(u32).range(5..))]
    pub upload_part_mib: u32,
}

/// Reaching an object store. Credentials and region come from the standard AWS environment
/// variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, ...).
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// S3-compatible endpoint (MinIO, Ceph, R2); AWS_ENDPOINT_URL works too. Plain http://
    /// needs AWS_ALLOW_HTTP=true.
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Retries of a failed object-store request (timeouts, 5xx, throttling).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub store_retries: usize,
    /// Stop retrying one object-store request after this many seconds.
    #[arg(long, default_value_t = 180, value_name = "SECONDS")]
    pub store_retry_timeout: u64,
}
