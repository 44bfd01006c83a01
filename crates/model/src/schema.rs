//! The output tables and their Arrow schemas, schema version 1.

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Version of the table layouts below. Bump it on any change a reader could notice.
pub const SCHEMA_VERSION: u32 = 1;
/// Schema-level metadata key that carries [`SCHEMA_VERSION`] into every Parquet file.
pub const SCHEMA_VERSION_KEY: &str = "bbpipe.schema_version";
/// Field-level metadata key holding a column's documentation.
pub const DESCRIPTION_KEY: &str = "description";

/// A table of the output dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Repositories,
    PipelineRuns,
    Deployments,
    Rejects,
}

/// Rows of one table and one workspace, on their way from transform to load.
#[derive(Debug, Clone)]
pub struct TableBatch {
    pub table: Table,
    pub workspace: String,
    /// Rows in [`Table::schema`] order, partition columns included.
    pub batch: RecordBatch,
}

impl Table {
    pub const ALL: [Table; 4] = [
        Table::Repositories,
        Table::PipelineRuns,
        Table::Deployments,
        Table::Rejects,
    ];

    /// Directory name of the table in the output, and its name in documentation.
    pub fn name(self) -> &'static str {
        match self {
            Table::Repositories => "repositories",
            Table::PipelineRuns => "pipeline_runs",
            Table::Deployments => "deployments",
            Table::Rejects => "rejects",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// One sentence on what a row is.
    pub fn description(self) -> &'static str {
        match self {
            Table::Repositories => {
                "One row per repository of a workspace, as of the latest export."
            }
            Table::PipelineRuns => {
                "One row per pipeline run (a Bitbucket pipeline), in its newest known version."
            }
            Table::Deployments => {
                "One row per deployment inferred from a completed pipeline run by a deploy rule."
            }
            Table::Rejects => {
                "One row per pipeline run that could not be decoded, set aside so the rest commits; \
                 fetched again by every export and removed once a good version arrives."
            }
        }
    }

    /// The timestamp column whose UTC date names the second partition level, with that level's
    /// name. Every table is partitioned by `workspace` first.
    pub fn date_partition(self) -> Option<(&'static str, &'static str)> {
        match self {
            Table::Repositories => None,
            Table::PipelineRuns => Some(("created_at", "created_date")),
            Table::Deployments => Some(("deployed_at", "deployed_date")),
            Table::Rejects => None,
        }
    }

    /// Columns that identify a row across exports (after the workspace partition).
    pub fn key_columns(self) -> &'static [&'static str] {
        match self {
            Table::Repositories => &["uuid"],
            Table::PipelineRuns => &["repo_uuid", "uuid"],
            Table::Deployments => &["reference_id"],
            Table::Rejects => &["reject_id"],
        }
    }

    /// Columns that order two versions of one row: the greater wins, a value beats a null.
    /// A pipeline run re-run later has a higher run_number; one that completed since has a
    /// completed_at; otherwise the one read last is the newest.
    pub fn version_columns(self) -> &'static [&'static str] {
        match self {
            Table::Repositories => &["updated_at"],
            Table::PipelineRuns => &["run_number", "completed_at", "exported_at"],
            Table::Deployments => &["run_number", "exported_at"],
            Table::Rejects => &["exported_at"],
        }
    }

    /// Whether a partition keeps its existing rows when an export writes to it. Repositories are
    /// a snapshot: each export replaces the workspace's list, so deleted repositories go away.
    pub fn merges_existing(self) -> bool {
        !matches!(self, Table::Repositories)
    }

    /// Whether a row can change partition between exports: a re-run completes later, so its
    /// deployment moves to another deployed_date. Such tables are de-duplicated across
    /// partitions on commit.
    pub fn rows_can_move(self) -> bool {
        matches!(self, Table::Deployments)
    }

    /// Columns whose values (almost) never repeat within a file: ids, URLs, exact times.
    /// Writers skip dictionary encoding for them.
    pub fn unique_columns(self) -> &'static [&'static str] {
        match self {
            Table::Repositories => &[
                "uuid",
                "slug",
                "full_name",
                "url",
                "created_at",
                "updated_at",
            ],
            Table::PipelineRuns => &[
                "uuid",
                "build_number",
                "commit_sha",
                "created_at",
                "completed_at",
                "url",
                "duration_seconds",
                "build_seconds_used",
            ],
            Table::Deployments => &[
                "reference_id",
                "commit_sha",
                "deployed_at",
                "source_url",
                "pipeline_run_uuid",
                "build_number",
            ],
            Table::Rejects => &["reject_id", "run_uuid", "raw_json", "exported_at"],
        }
    }

    /// Column that orders rows within a file.
    pub fn sort_column(self) -> &'static str {
        match self {
            Table::Repositories => "full_name",
            Table::PipelineRuns => "created_at",
            Table::Deployments => "deployed_at",
            Table::Rejects => "reject_id",
        }
    }

    /// The full Arrow schema, including the `workspace` partition column (which the Parquet
    /// files themselves leave out: it lives in the path).
    pub fn schema(self) -> SchemaRef {
        static SCHEMAS: OnceLock<[SchemaRef; 4]> = OnceLock::new();
        let all = SCHEMAS.get_or_init(|| {
            [
                build(repositories_columns()),
                build(pipeline_runs_columns()),
                build(deployments_columns()),
                build(rejects_columns()),
            ]
        });
        match self {
            Table::Repositories => all[0].clone(),
            Table::PipelineRuns => all[1].clone(),
            Table::Deployments => all[2].clone(),
            Table::Rejects => all[3].clone(),
        }
    }
}

fn build(columns: Vec<Field>) -> SchemaRef {
    let metadata = HashMap::from([(SCHEMA_VERSION_KEY.to_string(), SCHEMA_VERSION.to_string())]);
    Arc::new(Schema::new_with_metadata(columns, metadata))
}

/// The timestamp type of every time column: microseconds since the epoch, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
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

fn pipeline_runs_columns() -> Vec<Field> {
    vec![
        text("workspace", false, WORKSPACE),
        text(
            "repository",
            false,
            "Repository full name, `workspace/slug`.",
        ),
        text("repo_slug", false, "Repository slug."),
        text("repo_uuid", false, "Repository UUID, with braces."),
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
    ]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_documented_and_partition_columns_exist() {
        for table in Table::ALL {
            let schema = table.schema();
            assert_eq!(schema.field(0).name(), "workspace");
            for field in schema.fields() {
                let text = field.metadata().get(DESCRIPTION_KEY);
                assert!(text.is_some_and(|t| !t.is_empty()), "{}", field.name());
            }
            let named = table.key_columns().iter().chain(table.version_columns());
            for key in named.chain(table.unique_columns()) {
                assert!(schema.index_of(key).is_ok(), "{} {key}", table.name());
            }
            if let Some((column, _)) = table.date_partition() {
                assert_eq!(
                    schema.field_with_name(column).unwrap().data_type(),
                    &timestamp_type()
                );
            }
            assert_eq!(Table::from_name(table.name()), Some(table));
        }
    }
}
