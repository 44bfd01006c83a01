//! What a run did, as numbers a scheduler or a test can read (`--summary json`).

use bbpipe_load::LoadSummary;
use bbpipe_model::{Format, Granularity, Table};
use bbpipe_transform::TransformSummary;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// What a replay or an export did. Serialises as the `--summary json` object.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The fixtures directory, or the API and workspace.
    pub source: String,
    /// The destination, as given.
    pub destination: String,
    /// This run's id: in its file names and manifests.
    pub run_id: String,
    /// The workspaces written.
    pub workspaces: Vec<String>,
    /// Pages read.
    pub pages: u64,
    /// Bytes of those pages.
    pub input_bytes: u64,
    /// Repositories read from repository pages.
    pub repositories: u64,
    /// Pipeline runs read.
    pub pipeline_runs: u64,
    /// Pipeline runs read, by normalized status.
    pub runs_by_status: BTreeMap<String, u64>,
    /// Pipeline steps read (`--with steps`).
    pub steps: u64,
    /// Test reports read (`--with tests`).
    pub test_reports: u64,
    /// Test cases read (`--with tests`): failures, and the passes that show a test flaky.
    pub test_cases: u64,
    /// Environments read (`--with environments`).
    pub environments: u64,
    /// Deployments Bitbucket recorded, read (`--with environments`).
    pub environment_deployments: u64,
    /// Deployments inferred by the deploy rules.
    pub deployments: u64,
    /// Runs for which two rules emitted the same service and environment.
    pub rule_overlaps: u64,
    /// Runs set aside in the `rejects` table (exit code 8).
    pub rejected: u64,
    /// The first of them, each with its repository, uuid (or page) and JSON path.
    pub rejected_examples: Vec<String>,
    /// Older versions of rows dropped while merging (read twice, or already in the dataset).
    pub duplicates_dropped: u64,
    /// Workspaces whose deployments were re-derived after the run because the deploy rules
    /// changed since their last commit (see `bbpipe rules apply`).
    pub rules_rederived: Vec<crate::Rederived>,
    /// Workspaces holding deployments that this run, without --rules, left as they were.
    pub deployments_not_updated: Vec<String>,
    /// `--with commits`: the commits of new successful deployments, per workspace.
    pub commits: Vec<crate::CommitsReport>,
    /// How the dataset's date-partitioned tables are split: `month` or `day`.
    pub partition_by: Granularity,
    /// The tables' format: `parquet` or `delta`.
    pub format: Format,
    /// Delta table versions this run committed, one per table per commit that changed it
    /// (none for a Parquet dataset).
    pub delta_versions: u64,
    /// Per table written: files, rows and bytes this run added and that are still live.
    pub tables: BTreeMap<String, TableReport>,
    /// Files committed before this run and replaced by merged ones.
    pub files_replaced: u64,
    /// Files left by interrupted runs that this one removed.
    pub orphans_removed: u64,
    /// Manifests this run committed (checkpoints included).
    pub manifests: u64,
    /// Wall-clock seconds.
    pub elapsed_seconds: f64,
    /// What the API cost (exports only).
    pub requests: Option<Requests>,
    /// How the export committed and what it revisited (exports only).
    pub export: Option<ExportReport>,
}

/// Files, rows and bytes of one table written by a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TableReport {
    /// Files added and still live.
    pub files: u64,
    /// Rows in them.
    pub rows: u64,
    /// Their size.
    pub bytes: u64,
}

/// What the API cost, for exports.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Requests {
    /// Repositories exported.
    pub repositories: u64,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Retries of 5xx, timeouts and dropped connections.
    pub retries: u64,
    /// Responses with HTTP 429.
    pub rate_limited: u64,
    /// Milliseconds spent waiting on rate limits.
    pub waited_ms: u64,
    /// Per credential, by name (never by value).
    pub credentials: Vec<CredentialReport>,
}

/// What one credential did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CredentialReport {
    /// Its name (`default` for the environment's).
    pub name: String,
    /// Requests it sent, retries included.
    pub requests: u64,
    /// Its retries (transient failures and 429s).
    pub retries: u64,
    /// Its responses with HTTP 429.
    pub rate_limited: u64,
    /// Why it was set aside (a 401 or 403), if it was.
    pub set_aside: Option<String>,
}

impl Requests {
    /// The client's counters, as they stand.
    pub(crate) fn of(client: &bbpipe_extract::api::Client, repositories: u64) -> Requests {
        use bbpipe_extract::api::RequestStats;
        let stats = client.stats();
        Requests {
            repositories,
            requests: RequestStats::get(&stats.requests),
            retries: RequestStats::get(&stats.retries),
            rate_limited: RequestStats::get(&stats.rate_limited),
            waited_ms: RequestStats::get(&stats.rate_limit_wait_ms),
            credentials: client
                .credential_stats()
                .iter()
                .map(|c| CredentialReport {
                    name: c.name.clone(),
                    requests: RequestStats::get(&c.requests),
                    retries: RequestStats::get(&c.retries),
                    rate_limited: RequestStats::get(&c.rate_limited),
                    set_aside: c.set_aside_because(),
                })
                .collect(),
        }
    }
}

/// What an export adds: how it committed and what it revisited.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportReport {
    /// Checkpoints committed (the last one included).
    pub checkpoints: u64,
    /// Repositories continued from an interrupted first export.
    pub resumed: u64,
    /// Unfinished runs fetched again by uuid.
    pub revisited: u64,
    /// Unfinished runs still tracked at the end.
    pub unfinished_tracked: u64,
    /// Unfinished runs no longer tracked: gone, or too old.
    pub unfinished_dropped: u64,
    /// Repositories where the API ignored `sort=-run_creation_date`.
    pub sort_fallbacks: Vec<String>,
    /// Repositories skipped because their pipelines answered 404.
    pub skipped: Vec<String>,
    /// `--with steps`: pipeline runs whose steps were read (new or changed runs).
    pub steps_read: u64,
    /// `--with steps`: the requests that cost.
    pub steps_requests: u64,
    /// `--with tests`: requests for test reports and their cases (404s included).
    pub tests_requests: u64,
}

/// What every run reports, before the export's own parts.
pub(crate) struct RunFacts {
    pub(crate) source: String,
    pub(crate) destination: String,
    pub(crate) run_id: String,
    pub(crate) workspaces: Vec<String>,
    pub(crate) pages: u64,
    pub(crate) input_bytes: u64,
    pub(crate) elapsed: Duration,
}

impl Report {
    pub(crate) fn new(run: RunFacts, transform: TransformSummary, load: &LoadSummary) -> Report {
        let tables = Table::ALL
            .iter()
            .filter_map(|&table| {
                let (files, rows, bytes) = load.totals(table);
                (files > 0).then(|| (table.name().to_string(), TableReport { files, rows, bytes }))
            })
            .collect();
        Report {
            source: run.source,
            destination: run.destination,
            run_id: run.run_id,
            workspaces: run.workspaces,
            pages: run.pages,
            input_bytes: run.input_bytes,
            repositories: transform.repositories,
            pipeline_runs: transform.pipeline_runs,
            runs_by_status: transform
                .runs_by_status
                .into_iter()
                .map(|(status, n)| (status.to_string(), n))
                .collect(),
            steps: transform.steps,
            test_reports: transform.test_reports,
            test_cases: transform.test_cases,
            environments: transform.environments,
            environment_deployments: transform.environment_deployments,
            deployments: transform.deployments,
            rule_overlaps: transform.rule_overlaps,
            rejected: transform.rejected,
            rejected_examples: transform.rejected_examples,
            duplicates_dropped: load.duplicates_dropped(),
            rules_rederived: Vec::new(),
            deployments_not_updated: Vec::new(),
            commits: Vec::new(),
            partition_by: load.partition_by,
            format: load.format,
            delta_versions: load.published.len() as u64,
            tables,
            files_replaced: load.replaced,
            orphans_removed: load.orphans_removed,
            manifests: load.manifests.len() as u64,
            elapsed_seconds: run.elapsed.as_secs_f64(),
            requests: None,
            export: None,
        }
    }

    /// Adds what a later commit of the same run (the commits pass) wrote.
    pub(crate) fn add_written(&mut self, load: &LoadSummary) {
        for &table in Table::ALL {
            let (files, rows, bytes) = load.totals(table);
            if files > 0 {
                let entry = self.tables.entry(table.name().to_string()).or_default();
                entry.files += files;
                entry.rows += rows;
                entry.bytes += bytes;
            }
        }
        self.files_replaced += load.replaced;
        self.manifests += load.manifests.len() as u64;
        self.duplicates_dropped += load.duplicates_dropped();
    }

    /// Files, rows and bytes written for `table`; zeros if none.
    pub fn table(&self, table: Table) -> TableReport {
        self.tables.get(table.name()).copied().unwrap_or_default()
    }
}
