//! The report's shape: what `bbpipe report --json` writes, field by field as docs/guides/report.md lists it.

use crate::bands::Band;
use crate::collect::Filters;
use chrono::NaiveDate;
use serde::Serialize;

/// Everything the report shows; serialises as `bbpipe report --json`.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryReport {
    /// Version of this JSON's layout.
    pub format: u32,
    /// The days reported on.
    pub window: WindowReport,
    /// What the rows were limited to.
    pub filters: Filters,
    /// Deployment metrics per service and environment (empty without deployments).
    pub deployments: Vec<ServiceReport>,
    /// The same over every deployment of the window; `None` without deployments.
    pub all_deployments: Option<DeploymentMetrics>,
    /// Per week: deployments per service and environment.
    pub weekly_deployments: Vec<WeeklyDeployments>,
    /// Whether the dataset has a `deployments` table (deploy rules were given).
    pub has_deployments: bool,
    /// Lead time for changes, where the dataset can tell it.
    pub lead_time: LeadTime,
    /// Pipeline health per repository.
    pub repositories: Vec<RepositoryReport>,
    /// Per week over every repository: runs, success rate, duration percentiles, build minutes.
    pub weekly_runs: Vec<WeekOfRuns>,
    /// The pipelines (selector patterns) that failed most.
    pub failing_pipelines: Vec<FailingPipeline>,
    /// Runs not completed (newest first, at most ten), and how many there are.
    pub unfinished_runs: Unfinished,
    /// Step figures; `None` when the dataset has no `pipeline_steps` (`--with steps`).
    pub steps: Option<StepsReport>,
    /// Failing and flaky tests; `None` when the dataset has no `test_cases` (`--with tests`).
    pub tests: Option<TestsReport>,
    /// Week-by-week medians the page's charts draw and the JSON leaves out.
    #[serde(skip)]
    pub trends: Trends,
}

/// Week-by-week medians per service and environment, for the page's trend charts (the JSON
/// has the window's figures; these are the same figures cut by week).
#[derive(Debug, Clone, Default)]
pub struct Trends {
    /// Time to restore of the failed deployments of each week (by the failure's week).
    pub time_to_restore: Vec<WeeklyMedian>,
    /// Lead time of the commits deployed each week.
    pub lead_time: Vec<WeeklyMedian>,
}

/// A median over one week, of one service and environment or (`group` none) of all.
#[derive(Debug, Clone)]
pub struct WeeklyMedian {
    /// The week's Monday.
    pub week: NaiveDate,
    /// Service and environment; none for all of them.
    pub group: Option<(String, String)>,
    /// The median, in seconds.
    pub median_seconds: f64,
}

/// The window, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct WindowReport {
    /// First day (UTC).
    pub from: NaiveDate,
    /// Last day (UTC), inclusive.
    pub to: NaiveDate,
    /// Days / 7.
    pub weeks: f64,
}

/// Deployment metrics of one service and environment.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    /// The service.
    pub service: String,
    /// The environment.
    pub environment: String,
    /// The metrics.
    #[serde(flatten)]
    pub metrics: DeploymentMetrics,
}

/// The DORA metrics over a set of deployments.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentMetrics {
    /// Deployments in the window.
    pub deployments: u64,
    /// Those with success = true.
    pub successful: u64,
    /// Those with success = false.
    pub failed: u64,
    /// successful ÷ weeks of the window.
    pub deploy_frequency_per_week: f64,
    /// Its DORA band.
    pub deploy_frequency_band: Band,
    /// failed ÷ deployments; `None` without deployments.
    pub change_failure_rate: Option<f64>,
    /// Its DORA band.
    pub change_failure_rate_band: Option<Band>,
    /// Failed deployments and the time until the next success.
    pub time_to_restore: TimeToRestore,
}

/// For each failed deployment of the window: the time until the next successful deployment of
/// the same service and environment (looked for after the window too).
#[derive(Debug, Clone, Serialize)]
pub struct TimeToRestore {
    /// Failures followed by a success.
    pub restored: u64,
    /// Median of their times to restore, in seconds.
    pub median_seconds: Option<f64>,
    /// Its DORA band.
    pub band: Option<Band>,
    /// Failures not followed by any success yet.
    pub open: Vec<OpenFailure>,
}

/// A failed deployment no success has followed.
#[derive(Debug, Clone, Serialize)]
pub struct OpenFailure {
    /// Its reference_id.
    pub reference_id: String,
    /// Its service.
    pub service: String,
    /// Its environment.
    pub environment: String,
    /// When it was deployed.
    pub deployed_at: String,
}

/// One week's deployments of one service and environment.
#[derive(Debug, Clone, Serialize)]
pub struct WeeklyDeployments {
    /// The week's Monday.
    pub week: NaiveDate,
    /// The service.
    pub service: String,
    /// The environment.
    pub environment: String,
    /// Successful deployments that week.
    pub successful: u64,
    /// Failed deployments that week.
    pub failed: u64,
}

/// Lead time for changes: needs which commits each deployment shipped.
#[derive(Debug, Clone, Serialize)]
pub struct LeadTime {
    /// Whether the dataset can tell it: it has `deployment_commits` (`--with commits`).
    pub available: bool,
    /// Why not, and what would enable it.
    pub reason: Option<String>,
    /// Commits shipped by the window's deployments (with a known date).
    pub commits: u64,
    /// Median of their `lead_time_seconds`.
    pub median_seconds: Option<f64>,
    /// Their 90th percentile.
    pub p90_seconds: Option<f64>,
    /// The median's DORA band.
    pub band: Option<Band>,
    /// Per service and environment.
    pub services: Vec<ServiceLeadTime>,
    /// Per week (of `deployed_at`), over every service: commits and median.
    pub weeks: Vec<WeekOfLeadTime>,
}

/// Lead time of one service and environment.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceLeadTime {
    /// The service.
    pub service: String,
    /// The environment.
    pub environment: String,
    /// Commits shipped in the window.
    pub commits: u64,
    /// Median of their lead times, in seconds.
    pub median_seconds: Option<f64>,
    /// Their 90th percentile.
    pub p90_seconds: Option<f64>,
    /// The median's DORA band.
    pub band: Option<Band>,
}

/// Lead time over the commits deployed in one week.
#[derive(Debug, Clone, Serialize)]
pub struct WeekOfLeadTime {
    /// The week's Monday.
    pub week: NaiveDate,
    /// Commits shipped that week.
    pub commits: u64,
    /// Median of their lead times, in seconds.
    pub median_seconds: Option<f64>,
}

/// Pipeline health of one repository over the window.
#[derive(Debug, Clone, Serialize)]
pub struct RepositoryReport {
    /// `workspace/slug`.
    pub repository: String,
    /// The figures over the window.
    #[serde(flatten)]
    pub runs: RunMetrics,
    /// The same, week by week.
    pub weeks: Vec<WeekOfRuns>,
}

/// Figures over a set of runs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunMetrics {
    /// Runs created.
    pub runs: u64,
    /// Of which status success.
    pub success: u64,
    /// Of which status failure.
    pub failure: u64,
    /// Of which status cancelled (counted apart from the success rate).
    pub cancelled: u64,
    /// Of which not COMPLETED (state).
    pub unfinished: u64,
    /// success ÷ (success + failure).
    pub success_rate: Option<f64>,
    /// Median duration of completed runs, in seconds.
    pub duration_p50_seconds: Option<f64>,
    /// 90th percentile of it.
    pub duration_p90_seconds: Option<f64>,
    /// Σ build_seconds_used ÷ 60.
    pub build_minutes: f64,
}

/// Run figures of one week.
#[derive(Debug, Clone, Serialize)]
pub struct WeekOfRuns {
    /// The week's Monday.
    pub week: NaiveDate,
    /// The figures.
    #[serde(flatten)]
    pub runs: RunMetrics,
}

/// A pipeline that failed in the window.
#[derive(Debug, Clone, Serialize)]
pub struct FailingPipeline {
    /// `workspace/slug`.
    pub repository: String,
    /// Its name (selector pattern, `default`), or null where the run had none.
    pub pipeline: Option<String>,
    /// Runs with status failure.
    pub failures: u64,
    /// All its runs in the window.
    pub runs: u64,
    /// Its selector type(s) (`branches`, `custom`, ...), for the page to show the pipeline as
    /// the selector it is; the JSON keeps `pipeline` alone.
    #[serde(skip)]
    pub selector_types: Vec<String>,
}

/// Runs not completed.
#[derive(Debug, Clone, Serialize)]
pub struct Unfinished {
    /// How many.
    pub count: u64,
    /// The newest of them.
    pub newest: Vec<UnfinishedRun>,
}

/// A run not completed.
#[derive(Debug, Clone, Serialize)]
pub struct UnfinishedRun {
    /// `workspace/slug`.
    pub repository: String,
    /// Its build number.
    pub build_number: i64,
    /// Its raw state.
    pub state: Option<String>,
    /// When it was created.
    pub created_at: String,
}

/// Step figures (`--with steps`).
#[derive(Debug, Clone, Serialize)]
pub struct StepsReport {
    /// The steps (repository and name) that used the most build minutes.
    pub most_build_minutes: Vec<StepFigure>,
    /// The slowest successful steps, by p90 of their duration.
    pub slowest: Vec<StepFigure>,
}

/// A step name of a repository, and its figure.
#[derive(Debug, Clone, Serialize)]
pub struct StepFigure {
    /// `workspace/slug`.
    pub repository: String,
    /// The step's name; null for unnamed steps.
    pub name: Option<String>,
    /// Steps counted.
    pub steps: u64,
    /// Σ build_seconds_used ÷ 60.
    pub build_minutes: f64,
    /// p90 of duration_seconds (successful steps).
    pub duration_p90_seconds: Option<f64>,
}

/// Test figures (`--with tests`), from the `test_cases` of runs created in the window. A test
/// is its fully qualified name within a repository and step name.
#[derive(Debug, Clone, Serialize)]
pub struct TestsReport {
    /// Tests that failed (FAILED or ERROR), most failures first.
    pub failing: Vec<FailingTest>,
    /// Tests that failed and passed on the same commit, most flaky commits first.
    pub flaky: Vec<FlakyTest>,
    /// Per step name: its share of the window's test failures.
    pub steps: Vec<StepTestFailures>,
}

/// A test that failed in the window.
#[derive(Debug, Clone, Serialize)]
pub struct FailingTest {
    /// `workspace/slug`.
    pub repository: String,
    /// The step's name; null for unnamed steps.
    pub step: Option<String>,
    /// The test's fully qualified name.
    pub test: String,
    /// Step attempts in which it failed.
    pub failures: u64,
    /// Pipeline runs in which it failed.
    pub runs: u64,
    /// When the last of those steps completed.
    pub last_failed_at: Option<String>,
}

/// A test that failed in one attempt or run of a commit and passed in another.
#[derive(Debug, Clone, Serialize)]
pub struct FlakyTest {
    /// `workspace/slug`.
    pub repository: String,
    /// The step's name; null for unnamed steps.
    pub step: Option<String>,
    /// The test's fully qualified name.
    pub test: String,
    /// Commits on which it both failed and passed.
    pub flaky_commits: u64,
    /// Its failures on those commits.
    pub failures: u64,
    /// When it was last seen on them (the latest step's completion).
    pub last_seen: Option<String>,
    /// Build numbers of the pipeline runs it failed in on those commits.
    pub failed_in: Vec<i64>,
}

/// The test failures of one step name.
#[derive(Debug, Clone, Serialize)]
pub struct StepTestFailures {
    /// `workspace/slug`.
    pub repository: String,
    /// The step's name; null for unnamed steps.
    pub step: Option<String>,
    /// Failed test cases.
    pub failures: u64,
    /// Pipeline runs with a failed test in it.
    pub runs: u64,
    /// failures ÷ all failed test cases of the window.
    pub share: f64,
}
