//! The tables of schema version 1: one [`TableSpec`] each, with its columns and the
//! description of every column.

use crate::spec::{DESCRIPTION_KEY, DatePartition, Merge, TableSpec, timestamp_type};
use arrow::datatypes::{DataType, Field};
use std::collections::HashMap;

/// A table of the output dataset. Its facts are in its [`TableSpec`] ([`Table::spec`]); adding
/// a variant is a compile error in [`Table::spec`] until its spec is written below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, strum::VariantArray)]
pub enum Table {
    /// The repositories of a workspace.
    Repositories,
    /// Pipeline runs, newest version of each.
    PipelineRuns,
    /// Steps of pipeline runs (`--with steps`).
    PipelineSteps,
    /// Deployments inferred from pipeline runs by deploy rules.
    Deployments,
    /// Deployment environments of repositories (`--with environments`).
    Environments,
    /// Deployments Bitbucket recorded (`--with environments`).
    EnvironmentDeployments,
    /// Commits shipped by each successful deployment (`--with commits`).
    DeploymentCommits,
    /// Test reports of steps (`--with tests`): a step attempt's counts.
    TestReports,
    /// Test cases that failed, and the passes that show a failed test flaky (`--with tests`).
    TestCases,
    /// Pipeline runs that could not be decoded.
    Rejects,
}

impl Table {
    /// Everything about the table.
    pub fn spec(self) -> &'static TableSpec {
        match self {
            Table::Repositories => &REPOSITORIES,
            Table::PipelineRuns => &PIPELINE_RUNS,
            Table::PipelineSteps => &PIPELINE_STEPS,
            Table::Deployments => &DEPLOYMENTS,
            Table::Environments => &ENVIRONMENTS,
            Table::EnvironmentDeployments => &ENVIRONMENT_DEPLOYMENTS,
            Table::DeploymentCommits => &DEPLOYMENT_COMMITS,
            Table::Rejects => &REJECTS,
            Table::TestReports => &TEST_REPORTS,
            Table::TestCases => &TEST_CASES,
        }
    }
}

static REPOSITORIES: TableSpec = TableSpec {
    name: "repositories",
    description: "One row per repository of a workspace, as of the latest export.",
    key: &["uuid"],
    version: &["updated_at"],
    date_partition: None,
    merge: Merge::Replace,
    rows_can_move: false,
    group: None,
    unique_columns: &[
        "uuid",
        "slug",
        "full_name",
        "url",
        "created_at",
        "updated_at",
    ],
    sort_column: "full_name",
    columns: repositories_columns,
};

static PIPELINE_RUNS: TableSpec = TableSpec {
    name: "pipeline_runs",
    description: "One row per pipeline run (a Bitbucket pipeline), in its newest known version.",
    key: &["repo_uuid", "uuid"],
    // A run re-run later has a higher run_number; one that completed since has a
    // completed_at; otherwise the one read last is the newest.
    version: &["run_number", "completed_at", "exported_at"],
    date_partition: Some(DatePartition {
        column: "created_at",
        month_level: "created_month",
        day_level: "created_date",
    }),
    merge: Merge::KeepExisting,
    rows_can_move: false,
    group: None,
    unique_columns: &[
        "uuid",
        "build_number",
        "commit_sha",
        "created_at",
        "completed_at",
        "url",
        "duration_seconds",
        "build_seconds_used",
    ],
    sort_column: "created_at",
    columns: pipeline_runs_columns,
};

static PIPELINE_STEPS: TableSpec = TableSpec {
    name: "pipeline_steps",
    description: "One row per step of a pipeline run's attempt (`--with steps`), in its newest known version.",
    key: &["repo_uuid", "pipeline_uuid", "uuid"],
    version: &["run_number", "completed_at", "exported_at"],
    date_partition: Some(DatePartition {
        column: "run_created_at",
        month_level: "created_month",
        day_level: "created_date",
    }),
    merge: Merge::KeepExisting,
    rows_can_move: false,
    group: None,
    unique_columns: &[
        "uuid",
        "pipeline_uuid",
        "build_number",
        "started_at",
        "completed_at",
        "run_created_at",
    ],
    sort_column: "run_created_at",
    columns: pipeline_steps_columns,
};

static DEPLOYMENTS: TableSpec = TableSpec {
    name: "deployments",
    description: "One row per deployment inferred from a completed pipeline run by a deploy rule.",
    key: &["reference_id"],
    version: &["run_number", "exported_at"],
    date_partition: Some(DatePartition {
        column: "deployed_at",
        month_level: "deployed_month",
        day_level: "deployed_date",
    }),
    merge: Merge::KeepExisting,
    // A re-run completes later: its deployment moves to another deployed month or day.
    rows_can_move: true,
    group: None,
    unique_columns: &[
        "reference_id",
        "commit_sha",
        "deployed_at",
        "source_url",
        "pipeline_run_uuid",
        "build_number",
    ],
    sort_column: "deployed_at",
    columns: deployments_columns,
};

static ENVIRONMENTS: TableSpec = TableSpec {
    name: "environments",
    description: "One row per deployment environment of a repository (`--with environments`), as last read.",
    key: &["repo_uuid", "uuid"],
    version: &["exported_at"],
    date_partition: None,
    // Kept, not replaced: environments arrive repository by repository, across commits.
    merge: Merge::KeepExisting,
    rows_can_move: false,
    group: None,
    unique_columns: &["uuid"],
    sort_column: "uuid",
    columns: environments_columns,
};

static ENVIRONMENT_DEPLOYMENTS: TableSpec = TableSpec {
    name: "environment_deployments",
    description: "One row per deployment Bitbucket itself recorded (a step with `deployment:`; \
                  `--with environments`), in its newest known version.",
    key: &["repo_uuid", "uuid"],
    version: &["last_update_time", "exported_at"],
    date_partition: Some(DatePartition {
        column: "started_at",
        month_level: "started_month",
        day_level: "started_date",
    }),
    merge: Merge::KeepExisting,
    // A deployment queued before it started is dated by its release until it starts.
    rows_can_move: true,
    group: None,
    unique_columns: &[
        "uuid",
        "step_uuid",
        "pipeline_uuid",
        "started_at",
        "completed_at",
        "last_update_time",
    ],
    sort_column: "started_at",
    columns: environment_deployments_columns,
};

static DEPLOYMENT_COMMITS: TableSpec = TableSpec {
    name: "deployment_commits",
    description: "One row per commit a successful deployment shipped (`--with commits`): the \
                  commits reachable from its commit and not from the previous successful \
                  deployment's of the same service and environment.",
    key: &["reference_id", "commit_sha"],
    version: &["exported_at"],
    date_partition: Some(DatePartition {
        column: "deployed_at",
        month_level: "deployed_month",
        day_level: "deployed_date",
    }),
    merge: Merge::KeepExisting,
    // It follows its deployment, which a re-run moves.
    rows_can_move: true,
    // A deployment looked up again (its predecessor changed) replaces all its commits.
    group: Some("reference_id"),
    unique_columns: &["commit_sha", "commit_date", "message"],
    sort_column: "deployed_at",
    columns: deployment_commits_columns,
};

static REJECTS: TableSpec = TableSpec {
    name: "rejects",
    description: "One row per pipeline run that could not be decoded, set aside so the rest commits; \
                  fetched again by every export and removed once a good version arrives.",
    key: &["reject_id"],
    version: &["exported_at"],
    date_partition: None,
    merge: Merge::KeepExisting,
    rows_can_move: false,
    group: None,
    unique_columns: &["reject_id", "run_uuid", "raw_json", "exported_at"],
    sort_column: "reject_id",
    columns: rejects_columns,
};

/// Partitioned as `pipeline_steps` are: by their run's creation.
const BY_RUN_CREATION: DatePartition = DatePartition {
    column: "run_created_at",
    month_level: "created_month",
    day_level: "created_date",
};

static TEST_REPORTS: TableSpec = TableSpec {
    name: "test_reports",
    description: "One row per step attempt whose test report bbpipe read (`--with tests`): the \
                  report's counts, for failed steps and for the later passing steps that show a \
                  failed test flaky.",
    key: &["repo_uuid", "pipeline_uuid", "step_uuid"],
    version: &["exported_at"],
    date_partition: Some(BY_RUN_CREATION),
    merge: Merge::KeepExisting,
    rows_can_move: false,
    group: None,
    unique_columns: &[
        "pipeline_uuid",
        "step_uuid",
        "commit_sha",
        "step_completed_at",
    ],
    sort_column: "run_created_at",
    columns: test_reports_columns,
};

static TEST_CASES: TableSpec = TableSpec {
    name: "test_cases",
    description: "One row per test case that did not pass (FAILED or ERROR) in a failed step, and \
                  per passing case of a later attempt or run of the same commit that shows such \
                  a test passed there (`--with tests`). Passing tests are not exported in bulk.",
    key: &["repo_uuid", "step_uuid", "uuid"],
    version: &["exported_at"],
    date_partition: Some(BY_RUN_CREATION),
    merge: Merge::KeepExisting,
    rows_can_move: false,
    group: None,
    unique_columns: &[
        "uuid",
        "step_uuid",
        "pipeline_uuid",
        "fully_qualified_name",
        "name",
    ],
    sort_column: "run_created_at",
    columns: test_cases_columns,
};

/// The columns that say which step attempt a test row is of, after the repository's.
fn of_a_step(columns: Vec<Field>) -> Vec<Field> {
    let mut all = vec![
        text(
            "pipeline_uuid",
            false,
            "UUID of the pipeline run (pipeline_runs.uuid).",
        ),
        int("build_number", false, "Build number of the pipeline run."),
        int(
            "run_number",
            true,
            "Attempt of the run the step belongs to (pipeline_steps.run_number).",
        ),
        text(
            "step_uuid",
            false,
            "UUID of the step (pipeline_steps.uuid).",
        ),
        text("step_name", true, "Step name; null for unnamed steps."),
        text("commit_sha", true, "Commit the run built."),
    ];
    all.extend(columns);
    of_a_repository(all)
}

/// The last two columns of a test row.
fn partition_and_export_time() -> [Field; 2] {
    [
        time(
            "run_created_at",
            false,
            "When the pipeline run was created (UTC): the partition, as for pipeline_steps.",
        ),
        time(
            "exported_at",
            false,
            "When bbpipe read the page this row came from (UTC).",
        ),
    ]
}

fn test_reports_columns() -> Vec<Field> {
    let mut columns = vec![
        text(
            "ref_name",
            true,
            "Branch or tag the run built; for pull-request runs the source branch.",
        ),
        text(
            "step_result",
            true,
            "Raw result of the step: FAILED, SUCCESSFUL, ...",
        ),
        time("step_completed_at", true, "When the step completed (UTC)."),
        int(
            "test_cases",
            true,
            "Test cases in the report (`number_of_test_cases`).",
        ),
        int(
            "successful_test_cases",
            true,
            "`number_of_successful_test_cases`.",
        ),
        int("failed_test_cases", true, "`number_of_failed_test_cases`."),
        int("error_test_cases", true, "`number_of_error_test_cases`."),
        int(
            "skipped_test_cases",
            true,
            "`number_of_skipped_test_cases`.",
        ),
    ];
    columns.extend(partition_and_export_time());
    of_a_step(columns)
}

fn test_cases_columns() -> Vec<Field> {
    let mut columns = vec![
        text(
            "uuid",
            false,
            "Test case UUID, with braces. With repo_uuid and step_uuid, the row's key.",
        ),
        text(
            "fully_qualified_name",
            true,
            "The test's fully qualified name: with repository and step name, what \
             \"the same test\" means across runs.",
        ),
        text("name", true, "The test's name."),
        text(
            "package_name",
            true,
            "Its package or class, as the report gives it.",
        ),
        text(
            "status",
            true,
            "Raw status: FAILED, ERROR, SUCCESSFUL (SKIPPED cases are not read).",
        ),
        text(
            "duration",
            true,
            "Duration as Bitbucket gives it (format undocumented).",
        ),
        col(
            "duration_seconds",
            DataType::Float64,
            true,
            "`duration` in seconds where it is an ISO 8601 duration (PT1.25S) or plain seconds; \
             null otherwise.",
        ),
        time("step_completed_at", true, "When the step completed (UTC)."),
    ];
    columns.extend(partition_and_export_time());
    of_a_step(columns)
}

/// `columns` after the four that say whose repository a row is of (the first level of the
/// partition path, `workspace`, among them).
fn of_a_repository(columns: Vec<Field>) -> Vec<Field> {
    let mut all = vec![
        text("workspace", false, WORKSPACE),
        text(
            "repository",
            false,
            "Repository full name, `workspace/slug`.",
        ),
        text("repo_slug", false, "Repository slug."),
        text("repo_uuid", false, "Repository UUID, with braces."),
    ];
    all.extend(columns);
    all
}

fn col(name: &str, data_type: DataType, nullable: bool, description: &str) -> Field {
    Field::new(name, data_type, nullable).with_metadata(HashMap::from([(
        DESCRIPTION_KEY.to_string(),
        description.to_string(),
    )]))
}

fn text(name: &str, nullable: bool, description: &str) -> Field {
    col(name, DataType::Utf8, nullable, description)
}

fn int(name: &str, nullable: bool, description: &str) -> Field {
    col(name, DataType::Int64, nullable, description)
}

fn flag(name: &str, nullable: bool, description: &str) -> Field {
    col(name, DataType::Boolean, nullable, description)
}

fn time(name: &str, nullable: bool, description: &str) -> Field {
    col(name, timestamp_type(), nullable, description)
}

const WORKSPACE: &str = "Workspace slug (partition column: in the path, not in the files).";

fn repositories_columns() -> Vec<Field> {
    vec![
        text("workspace", false, WORKSPACE),
        text(
            "uuid",
            false,
            "Repository UUID, with braces as Bitbucket writes it.",
        ),
        text("slug", false, "Repository slug, as in its URL."),
        text("name", true, "Display name."),
        text("full_name", false, "`workspace/slug`."),
        flag("is_private", true, "Whether the repository is private."),
        text("description", true, "Free-text description."),
        text(
            "language",
            true,
            "Main language; null where Bitbucket reports none.",
        ),
        text(
            "project_key",
            true,
            "Key of the project the repository belongs to.",
        ),
        text("project_name", true, "Name of that project."),
        text("mainbranch", true, "Name of the main branch."),
        time("created_at", true, "When the repository was created (UTC)."),
        time(
            "updated_at",
            true,
            "When the repository was last updated (UTC).",
        ),
        text(
            "url",
            false,
            "Web page: https://bitbucket.org/{workspace}/{slug}.",
        ),
    ]
}

/// A declarative list, one field per column with its description: as long as the table is wide.
fn pipeline_runs_columns() -> Vec<Field> {
    of_a_repository(vec![
        text(
            "uuid",
            false,
            "Pipeline run UUID, with braces. With repo_uuid, the row's key.",
        ),
        int(
            "build_number",
            false,
            "Build number shown in Bitbucket (#123).",
        ),
        int(
            "run_number",
            true,
            "Attempt number: above 1 after the run was re-run.",
        ),
        text(
            "name",
            true,
            "Pipeline definition the run executed, as deploy rules name it: the selector pattern \
             (custom, branches, tags, pull-requests, merge-queues), `default` for the default \
             pipeline, null when bitbucket-pipelines.yml failed to parse.",
        ),
        text(
            "selector_type",
            true,
            "Raw selector type: branches, tags, custom, default, ...",
        ),
        text("selector_pattern", true, "Raw selector pattern."),
        text(
            "status",
            false,
            "Normalized status: success, failure, cancelled, running or unknown.",
        ),
        text(
            "state",
            true,
            "Raw state name: PENDING, IN_PROGRESS, COMPLETED, PARSING, ...",
        ),
        text(
            "result",
            true,
            "Raw result name of a completed run: SUCCESSFUL, FAILED, ...",
        ),
        text(
            "stage",
            true,
            "Raw stage name of a run in progress: RUNNING, PAUSED, HALTED.",
        ),
        text(
            "trigger",
            true,
            "Trigger name (PUSH, MANUAL, SCHEDULE, ...), or the raw trigger type where the name \
             is absent.",
        ),
        text(
            "target_type",
            true,
            "Raw target type, e.g. pipeline_ref_target.",
        ),
        text(
            "ref_type",
            true,
            "branch, tag, named_branch, bookmark or annotated_tag.",
        ),
        text(
            "ref_name",
            true,
            "Branch or tag the run built; for pull-request runs the source branch.",
        ),
        text("commit_sha", true, "Commit the run built."),
        int(
            "pr_id",
            true,
            "Pull request id (the first one for merge-queue runs).",
        ),
        text(
            "pr_source_branch",
            true,
            "Source branch of a pull-request run.",
        ),
        text(
            "pr_destination_branch",
            true,
            "Destination branch of a pull-request run, or the target branch of a merge-queue run.",
        ),
        text("creator_uuid", true, "UUID of who or what created the run."),
        text(
            "creator_account_id",
            true,
            "Atlassian account id of the creator.",
        ),
        text("creator_display_name", true, "Display name of the creator."),
        time("created_at", false, "When the run was created (UTC)."),
        time(
            "completed_at",
            true,
            "When the run completed (UTC); null until it has.",
        ),
        int("duration_seconds", true, "Wall-clock duration in seconds."),
        int(
            "build_seconds_used",
            true,
            "Billed build seconds, summed over steps.",
        ),
        flag(
            "first_successful",
            true,
            "First successful run of the pipeline.",
        ),
        flag("expired", true, "Whether the run expired."),
        flag(
            "has_variables",
            true,
            "Whether the run was started with variables (never exported).",
        ),
        text(
            "url",
            false,
            "Web page: https://bitbucket.org/{workspace}/{slug}/pipelines/results/{build_number}.",
        ),
        time(
            "exported_at",
            false,
            "When bbpipe read the page this row came from (UTC).",
        ),
    ])
}

/// A declarative list, one field per column with its description: as long as the table is wide.
fn pipeline_steps_columns() -> Vec<Field> {
    of_a_repository(vec![
        text(
            "pipeline_uuid",
            false,
            "UUID of the pipeline run (pipeline_runs.uuid).",
        ),
        int("build_number", false, "Build number of the pipeline run."),
        int(
            "run_number",
            true,
            "Attempt of the run the step belongs to: a re-run's steps carry the new number.",
        ),
        text(
            "uuid",
            false,
            "Step UUID, with braces. With repo_uuid and pipeline_uuid, the row's key.",
        ),
        text("name", true, "Step name; null for unnamed steps."),
        text(
            "status",
            false,
            "Normalized status: success, failure, cancelled, running, not_run, skipped or unknown.",
        ),
        text(
            "state",
            true,
            "Raw state name: PENDING, READY, IN_PROGRESS, PAUSED, HALTED, COMPLETED, ...",
        ),
        text(
            "result",
            true,
            "Raw result name: SUCCESSFUL, FAILED, ERROR, STOPPED, NOT_RUN, SKIPPED, EXPIRED, ...",
        ),
        time(
            "started_at",
            true,
            "When the step started (UTC); null if it never did.",
        ),
        time(
            "completed_at",
            true,
            "When the step completed (UTC), as Bitbucket gives it: null until it completes; a step \
             that never started may have one (a manual step that EXPIRED: when it expired).",
        ),
        int("duration_seconds", true, "Wall-clock duration in seconds."),
        int(
            "build_seconds_used",
            true,
            "Billed build seconds (what Bitbucket's build minutes count).",
        ),
        int(
            "max_time_minutes",
            true,
            "The step's time limit in minutes (`maxTime`).",
        ),
        text(
            "trigger",
            true,
            "automatic, manual or redeploy (from `pipeline_step_trigger_*`; other values raw).",
        ),
        text(
            "image",
            true,
            "Build image name. Registry credentials are never exported.",
        ),
        text(
            "size",
            true,
            "Step size (1x, 2x, 4x, 8x) where the step sets it.",
        ),
        int(
            "cpu_limit_millicores",
            true,
            "CPU limit in millicores, where reported.",
        ),
        int(
            "memory_limit_megabytes",
            true,
            "Memory limit in megabytes, where reported.",
        ),
        text(
            "environment_uuid",
            true,
            "Environment a deploy step deploys to, where the step names it (otherwise join \
             environment_deployments on step_uuid).",
        ),
        time(
            "run_created_at",
            false,
            "When the pipeline run was created (UTC): the partition, as for pipeline_runs.",
        ),
        time(
            "exported_at",
            false,
            "When bbpipe read the page this row came from (UTC).",
        ),
    ])
}

fn environments_columns() -> Vec<Field> {
    of_a_repository(vec![
        text("uuid", false, "Environment UUID, with braces."),
        text(
            "name",
            true,
            "Environment name as users wrote it (renamed at will, e.g. Prod-EU).",
        ),
        text("slug", true, "Environment slug."),
        text(
            "environment_type",
            true,
            "Test, Staging or Production: what survives renames.",
        ),
        int(
            "environment_type_rank",
            true,
            "Rank of the type: 0 Test, 1 Staging, 2 Production.",
        ),
        flag(
            "hidden",
            true,
            "Whether the environment is hidden in Bitbucket.",
        ),
        text("lock", true, "Lock state: OPEN, LOCKED, ..."),
        time(
            "exported_at",
            false,
            "When bbpipe last read the environment (UTC).",
        ),
    ])
}

fn environment_deployments_columns() -> Vec<Field> {
    of_a_repository(vec![
        text(
            "uuid",
            false,
            "Deployment UUID, with braces. With repo_uuid, the row's key.",
        ),
        text("environment_uuid", true, "Environment deployed to."),
        text(
            "environment_name",
            true,
            "That environment's name, joined in from the environments read.",
        ),
        text(
            "environment_type",
            true,
            "That environment's type: Test, Staging or Production.",
        ),
        text(
            "state",
            true,
            "Raw state name: COMPLETED, IN_PROGRESS or UNDEPLOYED.",
        ),
        text(
            "outcome",
            true,
            "The outcome, from `state.status`: SUCCESSFUL, FAILED or STOPPED.",
        ),
        time(
            "started_at",
            false,
            "When the deployment started (UTC); where it has not, when its release was created. \
             The partition.",
        ),
        time("completed_at", true, "When the deployment completed (UTC)."),
        text(
            "pipeline_uuid",
            true,
            "UUID of the pipeline run that deployed (pipeline_runs.uuid).",
        ),
        int(
            "build_number",
            true,
            "Its build number (from the release name `#123`).",
        ),
        text("step_uuid", true, "The deploy step (pipeline_steps.uuid)."),
        text("commit_sha", true, "Commit deployed."),
        int(
            "version",
            true,
            "Bitbucket's version of the deployment object.",
        ),
        time(
            "last_update_time",
            true,
            "When Bitbucket last changed the deployment (UTC), e.g. undeployed by a later one.",
        ),
        time(
            "exported_at",
            false,
            "When bbpipe read the page this row came from (UTC).",
        ),
    ])
}

fn deployments_columns() -> Vec<Field> {
    vec![
        text("workspace", false, WORKSPACE),
        text(
            "reference_id",
            false,
            "Stable id of the deployment, derived from workspace, repository, run uuid and rule.",
        ),
        text(
            "service",
            false,
            "Deployed service, from the rule (default: the repository slug).",
        ),
        text(
            "repository",
            false,
            "Repository full name, `workspace/slug`.",
        ),
        text("repo_uuid", false, "Repository UUID, with braces."),
        text("commit_sha", true, "Commit deployed."),
        time("deployed_at", false, "When the run completed (UTC)."),
        text(
            "environment",
            false,
            "Environment from the rule, e.g. production or staging.",
        ),
        flag("success", false, "Whether the run's result was SUCCESSFUL."),
        text(
            "integration_branch",
            true,
            "Integration branch from the rule, if any.",
        ),
        text("source_url", false, "Web page of the pipeline run."),
        text("source_name", false, "Always `bitbucket-pipelines`."),
        text("rule", false, "Name of the deploy rule that matched."),
        text("pipeline_run_uuid", false, "UUID of the pipeline run."),
        int("build_number", false, "Build number of the pipeline run."),
        int("run_number", true, "Attempt number of the pipeline run."),
        text("ref_name", true, "Branch or tag of the pipeline run."),
        text("trigger", true, "Trigger of the pipeline run."),
        time(
            "exported_at",
            false,
            "When bbpipe read the page the run came from (UTC).",
        ),
    ]
}

/// A declarative list, one field per column with its description: as long as the table is wide.
fn deployment_commits_columns() -> Vec<Field> {
    vec![
        text("workspace", false, WORKSPACE),
        text(
            "reference_id",
            false,
            "The deployment (deployments.reference_id).",
        ),
        text(
            "repository",
            false,
            "Repository full name, `workspace/slug`.",
        ),
        text("repo_uuid", false, "Repository UUID, with braces."),
        text("service", false, "Deployed service, as in deployments."),
        text("environment", false, "Environment, as in deployments."),
        time(
            "deployed_at",
            false,
            "When the deployment completed (UTC), as in deployments.",
        ),
        text(
            "commit_sha",
            true,
            "A commit the deployment shipped; null on the single row of a deployment that \
             shipped none (see reason). With reference_id, the row's key.",
        ),
        time(
            "commit_date",
            true,
            "The commit's date as the API gives it (the author date), in UTC.",
        ),
        text(
            "author_account_id",
            true,
            "Atlassian account id of the commit's author, where Bitbucket knows the user.",
        ),
        flag(
            "is_merge",
            true,
            "Whether the commit has more than one parent.",
        ),
        flag(
            "truncated",
            false,
            "The deployment's list was cut: it is the first of its service and environment \
             (no predecessor to diff against), or it held more than --max-commits-per-deployment.",
        ),
        int(
            "lead_time_seconds",
            true,
            "deployed_at minus commit_date, in seconds: the lead time for changes of this commit.",
        ),
        text(
            "previous_reference_id",
            true,
            "The previous successful deployment of the same repository, service and environment, \
             whose commit was excluded; null for the first.",
        ),
        text(
            "previous_commit_sha",
            true,
            "The commit that previous deployment deployed.",
        ),
        text(
            "reason",
            true,
            "Why a deployment has no commit rows: `no_new_commits` (it deployed nothing its \
             predecessor had not: a redeploy or a rollback) or `history_rewritten` (its commit \
             or its predecessor's is gone from the repository, e.g. after a force-push); null \
             on commit rows.",
        ),
        text(
            "message",
            true,
            "The commit message, only with `--with commit-messages`; null otherwise.",
        ),
        time(
            "exported_at",
            false,
            "When bbpipe looked the deployment's commits up (UTC); all its rows share it.",
        ),
    ]
}

fn rejects_columns() -> Vec<Field> {
    vec![
        text("workspace", false, WORKSPACE),
        text(
            "reject_id",
            false,
            "The row's key: `{repo_uuid}/{run_uuid}`, or the page URL and JSON path when the run \
             has no readable uuid.",
        ),
        text(
            "repository",
            false,
            "Repository full name, `workspace/slug`.",
        ),
        text("repo_slug", false, "Repository slug."),
        text(
            "repo_uuid",
            true,
            "Repository UUID, with braces, where known.",
        ),
        text(
            "run_uuid",
            true,
            "Pipeline run UUID, where the JSON has a readable one.",
        ),
        text(
            "page_url",
            false,
            "The request (or fixture file) the run came from.",
        ),
        text(
            "json_path",
            false,
            "JSON path of the first problem, e.g. `$.values[7].created_on`.",
        ),
        text("error", false, "What was wrong there."),
        text(
            "raw_json",
            false,
            "The run's JSON as received, less variables, `*_commands` and image credentials.",
        ),
        time(
            "exported_at",
            false,
            "When bbpipe read the page the run came from (UTC).",
        ),
    ]
}

/// The `reject_id` of a rejected pipeline run: `{repo_uuid}/{run_uuid}`. Transform writes it,
/// load matches a good version of the run against it.
pub fn run_reject_id(repo_uuid: &str, run_uuid: &str) -> String {
    format!("{repo_uuid}/{run_uuid}")
}
