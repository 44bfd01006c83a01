//! The command line.

use crate::summary::SummaryFormat;
use bbpipe_pipeline::model::Extras;
use bbpipe_pipeline::model::defaults;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use values::{date, extras, workspace_slug};

mod shared;
mod values;

pub use shared::{ApiArgs, StoreArgs, SyncArgs, WriteArgs};

/// `bbpipe --version`: the version and the git revision built from (`+modified` when the
/// tree had uncommitted changes to tracked files; `unknown` outside a git checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("BBPIPE_GIT_REVISION"),
    ")"
);

/// Export Bitbucket Cloud Pipelines history to Hive-partitioned Parquet.
#[derive(Debug, Parser)]
#[command(name = "bbpipe", version = VERSION, about, max_term_width = 100)]
pub struct Cli {
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Errors only: no progress and no summary.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Log lines as text, or as one JSON object each (fields as tracing records them), for a
    /// log aggregator.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify access to a workspace and explain any failure.
    ///
    /// With --config: every workspace of the file with each of its credentials, a line each.
    ///
    /// Lists repositories (one page) and reads the pipelines of the first. Exit codes: 0 ok,
    /// 3 invalid_credentials, 4 invalid_permissions, 5 no_resources, 6 workspace_not_found,
    /// 7 unreachable.
    Check(CheckArgs),
    /// Export a workspace from the Bitbucket API: full history first, incremental afterwards.
    ///
    /// Credentials come from the environment: BITBUCKET_ACCESS_TOKEN (access token), or
    /// BITBUCKET_EMAIL + BITBUCKET_API_TOKEN (Atlassian API token), or BITBUCKET_OAUTH_CLIENT_ID +
    /// BITBUCKET_OAUTH_CLIENT_SECRET (workspace OAuth consumer; BITBUCKET_OAUTH_TOKEN_URL to
    /// ask elsewhere for its tokens); each also as <NAME>_FILE. With --config, every
    /// workspace of the nightly job's file, each with the credentials the file names.
    Export(Box<ExportArgs>),
    /// Run the pipeline on recorded pages (no network, no credentials).
    ///
    /// Reads a directory in the fixture layout (see docs/reference/fixture-layout.md), such as the bundled
    /// fixtures/demo or one written by `export --record`, and writes the dataset to --out.
    Replay(ReplayArgs),
    /// Print the output tables' schemas (schema version 1).
    Schema(SchemaArgs),
    /// Check a dataset: every file readable, schemas as documented, keys unique, manifests
    /// consistent with the files present. Exits 1 with the list of problems.
    VerifyOutput(VerifyArgs),
    /// Delta datasets: remove data files no table version references any more, once they are
    /// older than --retain (files replaced by later exports, and those interrupted exports
    /// left). Time travel to versions older than the retention may then fail. Run it weekly,
    /// or after the nightly job; it skips workspaces being exported.
    Vacuum(VacuumArgs),
    /// Check deploy rules, or explain which rule matched which run.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// The delivery report of a dataset: DORA metrics and pipeline health, as one HTML page
    /// (inline SVG charts, no JavaScript) and/or JSON.
    ///
    /// Reads only the files the manifests say are live. Default window: the 13 full weeks
    /// (Monday to Sunday, UTC) ending with the week of the newest deployment or run. Without
    /// --html or --json, prints the headline figures. Exit codes: 0 ok, 1 not a report-able
    /// dataset (named), 10 nothing in the window.
    Report(ReportArgs),
    /// Print a commented configuration file for the nightly job (`bbpipe init > bbpipe.toml`).
    Init,
    /// The configuration file as it takes effect.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script: `bbpipe completions bash > /etc/bash_completion.d/bbpipe`
    /// (zsh: a file `_bbpipe` in a directory of $fpath; fish: ~/.config/fish/completions/).
    Completions(CompletionsArgs),
    /// Write the man pages (bbpipe.1 and one per subcommand) into a directory.
    #[command(hide = true)]
    Man(ManArgs),
    /// Print the command-line reference as Markdown (docs/reference/cli.md).
    #[command(hide = true)]
    CliReference,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Where to write them (created if missing).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration, credentials by reference and whether each is set
    /// (never their values).
    Show(ConfigShowArgs),
}

#[derive(Debug, Args)]
pub struct ConfigShowArgs {
    /// The configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The dataset: a local directory or s3://bucket/prefix.
    pub dest: String,
    /// Write the report page here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the report's numbers here as JSON (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// First day of the window (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub from: Option<chrono::NaiveDate>,
    /// Last day of the window, inclusive (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE", value_parser = date)]
    pub to: Option<chrono::NaiveDate>,
    /// Only this workspace.
    #[arg(long, value_name = "WS", value_parser = workspace_slug)]
    pub workspace: Option<String>,
    /// Only deployments of this service.
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
    /// Only deployments to this environment.
    #[arg(long, value_name = "ENV")]
    pub environment: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate a rules file; warn on rules that match too much or overlap.
    ///
    /// With --against, also replays recorded pages and reports, per rule, the deployments it
    /// infers and the runs on which two rules emit the same service and environment.
    Check(RulesCheckArgs),
    /// For each pipeline run of recorded pages: the rule that matched, or, for the nearest
    /// rule, the first predicate that failed.
    Explain(RulesExplainArgs),
    /// Re-derive the deployments of a dataset from the pipeline runs it holds, with --rules
    /// (no API call): afterwards `deployments` holds exactly what the rules produce.
    ///
    /// Deployments the rules still produce keep their reference_id; new ones are added, the
    /// others removed, in one commit per workspace. --dry-run prints the differences per rule,
    /// service and environment and writes nothing.
    Apply(RulesApplyArgs),
}

#[derive(Debug, Args)]
pub struct RulesApplyArgs {
    /// The dataset: a local directory or s3://bucket/prefix.
    pub dest: String,
    /// Only this workspace (repeatable); default: every workspace of the dataset.
    #[arg(long = "workspace", value_name = "WS", value_parser = workspace_slug)]
    pub workspaces: Vec<String>,
    /// Print what would be added and removed; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// `text` (default) or `json`.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub summary: SummaryFormat,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub struct RulesCheckArgs {
    /// The rules file (TOML).
    pub rules: PathBuf,
    /// Recorded pages to try the rules on, e.g. fixtures/demo.
    #[arg(long, value_name = "FIXTURES")]
    pub against: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RulesExplainArgs {
    /// The rules file (TOML).
    #[arg(long)]
    pub rules: PathBuf,
    /// Recorded pages, e.g. fixtures/demo.
    pub fixtures: PathBuf,
    /// Only runs of this repository (slug or workspace/slug).
    #[arg(long, value_name = "REPO")]
    pub repo: Option<String>,
    /// At most this many runs.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Only runs that matched a rule.
    #[arg(long)]
    pub matched: bool,
    /// One JSON object per run instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Workspace slug: the first path segment of https://bitbucket.org/<workspace>/. With
    /// --config: only this workspace of the file.
    #[arg(long, required_unless_present = "config", value_parser = workspace_slug)]
    pub workspace: Option<String>,
    /// Check every workspace of this configuration file with each of its credentials, one
    /// line each; the exit code is the worst.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print one JSON object: ok, code, message, hint, auth_mode, repositories.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Workspace slug: the first path segment of https://bitbucket.org/<workspace>/. With
    /// --config: only this workspace of the file.
    #[arg(long, required_unless_present = "config", value_parser = workspace_slug)]
    pub workspace: Option<String>,
    /// Where to write the dataset: a local directory or s3://bucket/prefix. The incremental
    /// state lives there too, in the workspace's manifests.
    #[arg(long, value_name = "DEST", required_unless_present = "config")]
    pub out: Option<String>,
    /// The nightly job's configuration file (see `bbpipe init`): its workspaces, each with its
    /// credentials, exported in parallel. Options given here win over the file's.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write Prometheus text-format metrics here (atomically) for node_exporter's textfile
    /// collector: last success time, exit code, duration, rows, requests per workspace.
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
    /// With --config: workspaces exported at once (default: the file's, else 2).
    #[arg(long, default_value_t = defaults::PARALLEL_WORKSPACES, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=32))]
    pub parallel_workspaces: u32,
    /// Only repositories whose slug matches one of these globs (repeatable).
    #[arg(long = "repos", value_name = "GLOB")]
    pub repos: Vec<String>,
    /// Leave out repositories whose slug matches one of these globs (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// On a first export (or with --full), no history before this date (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Ignore the saved state and read the whole history again.
    #[arg(long)]
    pub full: bool,
    /// How far before the last watermark an incremental export looks again (e.g. 2d, 36h).
    #[arg(long, default_value = defaults::LOOKBACK.text, value_name = "DURATION")]
    pub lookback: String,
    /// Requests in flight at once: across repositories and, in a full export, across the pages
    /// of one repository.
    #[arg(long, default_value_t = defaults::CONCURRENCY, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    /// Requests per rolling hour; raised when Bitbucket's X-RateLimit-Limit says more.
    #[arg(long, default_value_t = defaults::MAX_REQUESTS_PER_HOUR, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_requests_per_hour: u32,
    /// Also write every raw page to this directory, in the layout `replay` reads (steps pages
    /// with only the fields exported: no image credentials, commands or variables).
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// Optional tables: `steps` (pipeline_steps: one request per new or changed run),
    /// `environments` (environments and environment_deployments: two listings per
    /// repository), `commits` (deployment_commits: one request per 100 commits of each new
    /// successful deployment; needs --rules), `commit-messages` (the same, with messages) or
    /// `tests` (test_reports and test_cases of failed steps and of the later passes that show
    /// a test flaky; implies steps), comma-separated.
    #[arg(long = "with", value_name = "TABLES", value_parser = extras, default_value = "")]
    pub with: Extras,
    /// With `--with commits`: commits kept per deployment. A first deployment (no
    /// predecessor) lists its history up to this many; longer lists are cut. Both are marked
    /// `truncated`.
    #[arg(long, default_value_t = defaults::MAX_COMMITS_PER_DEPLOYMENT as u32, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_commits_per_deployment: u32,
    /// With `--with steps`, a first (or --full) export reads the steps of runs created within
    /// this long before it started (later exports: of every new or changed run).
    #[arg(long, default_value = defaults::STEPS_SINCE.text, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub steps_since: std::time::Duration,
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub write: WriteArgs,
    #[command(flatten)]
    pub sync: SyncArgs,
    /// How to print what the export did: text, or one JSON object on stdout (printed even
    /// with -q) for schedulers and monitoring.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text, value_name = "FORMAT")]
    pub summary: SummaryFormat,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Directory of recorded pages, e.g. fixtures/demo.
    pub fixtures: PathBuf,
    /// Where to write the dataset: a local directory or s3://bucket/prefix. Re-running into
    /// the same place merges: each run is kept once, in its newest version.
    #[arg(long, value_name = "DEST")]
    pub out: String,
    /// Optional tables to replay where the recording has their pages: `steps`,
    /// `environments`, `commits`, `commit-messages`, `tests`, comma-separated (as `export
    /// --with`).
    #[arg(long = "with", value_name = "TABLES", value_parser = extras, default_value = "")]
    pub with: Extras,
    /// With `--with commits`: commits kept per deployment (as `export`).
    #[arg(long, default_value_t = defaults::MAX_COMMITS_PER_DEPLOYMENT as u32, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_commits_per_deployment: u32,
    #[command(flatten)]
    pub write: WriteArgs,
    /// How to print what the replay did: text, or one JSON object on stdout (printed even
    /// with -q).
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text, value_name = "FORMAT")]
    pub summary: SummaryFormat,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The dataset: a local directory or s3://bucket/prefix.
    pub dest: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct VacuumArgs {
    /// The dataset: a local directory or s3://bucket/prefix.
    pub dest: String,
    /// Keep unreferenced files younger than this (since they stopped being current): readers
    /// of older versions, and queries still running, need them.
    #[arg(long, default_value = defaults::VACUUM_RETAIN.text, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub retain: std::time::Duration,
    /// List what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Allow --retain below one hour (queries running on older versions may fail).
    #[arg(long)]
    pub allow_short_retention: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = SchemaFormat::Markdown)]
    pub format: SchemaFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemaFormat {
    Markdown,
    Json,
}

#[cfg(test)]
mod tests;
