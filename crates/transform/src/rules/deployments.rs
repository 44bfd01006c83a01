//! Deployments from a batch of pipeline runs, rules applied row by row over Arrow arrays.

use super::{EnvironmentView, Rule, RuleSet, RunView, Source, Verdict};
use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Int64Array, Int64Builder, StringArray, StringBuilder,
    TimestampMicrosecondArray, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{Int64Type, TimestampMicrosecondType};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use bbpipe_model::Table;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Source name of every deployment, as developer-productivity platforms expect it.
pub const SOURCE_NAME: &str = "bitbucket-pipelines";

/// Stable id of the deployment that `rule` infers from a run: the same for every export.
pub fn reference_id(workspace: &str, repo_uuid: &str, run_uuid: &str, rule: &str) -> String {
    let mut hash = Sha256::new();
    for part in [SOURCE_NAME, workspace, repo_uuid, run_uuid, rule] {
        hash.update(part.as_bytes());
        hash.update([0x1f]); // unit separator: no two part lists hash alike
    }
    let digest = hash.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("bbp-{hex}")
}

/// The `pipeline_runs` columns deploy rules and deployments read, besides `workspace`: what a
/// re-derivation reads back from a dataset.
pub const RUN_COLUMNS: &[&str] = &[
    "repository",
    "repo_slug",
    "repo_uuid",
    "uuid",
    "name",
    "state",
    "result",
    "trigger",
    "ref_type",
    "ref_name",
    "pr_destination_branch",
    "selector_type",
    "commit_sha",
    "url",
    "build_number",
    "run_number",
    "completed_at",
    "exported_at",
];

/// The `environment_deployments` columns rules with `source = "environments"` read, besides
/// `workspace`.
pub const ENVIRONMENT_DEPLOYMENT_COLUMNS: &[&str] = &[
    "repository",
    "repo_slug",
    "repo_uuid",
    "uuid",
    "environment_name",
    "environment_type",
    "state",
    "outcome",
    "completed_at",
    "pipeline_uuid",
    "build_number",
    "commit_sha",
    "exported_at",
];

/// The columns of a `pipeline_runs` batch that deployments read, downcast once per batch.
pub struct RunColumns<'a> {
    workspace: &'a StringArray,
    repository: &'a StringArray,
    repo_slug: &'a StringArray,
    repo_uuid: &'a StringArray,
    uuid: &'a StringArray,
    name: &'a StringArray,
    state: &'a StringArray,
    result: &'a StringArray,
    trigger: &'a StringArray,
    ref_type: &'a StringArray,
    ref_name: &'a StringArray,
    destination: &'a StringArray,
    selector_type: &'a StringArray,
    commit_sha: &'a StringArray,
    url: &'a StringArray,
    build_number: &'a Int64Array,
    run_number: &'a Int64Array,
    completed_at: &'a TimestampMicrosecondArray,
    exported_at: &'a TimestampMicrosecondArray,
}

fn text<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray, ArrowError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| ArrowError::SchemaError(format!("no text column {name}")))
}

fn int<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a Int64Array, ArrowError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<Int64Type>())
        .ok_or_else(|| ArrowError::SchemaError(format!("no int column {name}")))
}

fn time<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a TimestampMicrosecondArray, ArrowError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
        .ok_or_else(|| ArrowError::SchemaError(format!("no time column {name}")))
}

fn get(array: &StringArray, row: usize) -> Option<&str> {
    array.is_valid(row).then(|| array.value(row))
}

impl<'a> RunColumns<'a> {
    /// Finds the columns rules read; an error names a missing one.
    pub fn new(runs: &'a RecordBatch) -> Result<Self, ArrowError> {
        Ok(RunColumns {
            workspace: text(runs, "workspace")?,
            repository: text(runs, "repository")?,
            repo_slug: text(runs, "repo_slug")?,
            repo_uuid: text(runs, "repo_uuid")?,
            uuid: text(runs, "uuid")?,
            name: text(runs, "name")?,
            state: text(runs, "state")?,
            result: text(runs, "result")?,
            trigger: text(runs, "trigger")?,
            ref_type: text(runs, "ref_type")?,
            ref_name: text(runs, "ref_name")?,
            destination: text(runs, "pr_destination_branch")?,
            selector_type: text(runs, "selector_type")?,
            commit_sha: text(runs, "commit_sha")?,
            url: text(runs, "url")?,
            build_number: int(runs, "build_number")?,
            run_number: int(runs, "run_number")?,
            completed_at: time(runs, "completed_at")?,
            exported_at: time(runs, "exported_at")?,
        })
    }

    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.uuid.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.uuid.is_empty()
    }

    /// What the rules see of row `row`.
    pub fn view(&self, row: usize) -> RunView<'a> {
        RunView {
            workspace: self.workspace.value(row),
            repo_slug: self.repo_slug.value(row),
            repository: self.repository.value(row),
            name: get(self.name, row),
            state: get(self.state, row),
            result: get(self.result, row),
            trigger: get(self.trigger, row),
            ref_type: get(self.ref_type, row),
            ref_name: get(self.ref_name, row),
            pr_destination_branch: get(self.destination, row),
            selector_type: get(self.selector_type, row),
            environment: None,
        }
    }

    /// The run's uuid.
    pub fn uuid(&self, row: usize) -> &'a str {
        self.uuid.value(row)
    }

    /// The run's build number.
    pub fn build_number(&self, row: usize) -> i64 {
        self.build_number.value(row)
    }
}

/// The columns of an `environment_deployments` batch that rules read, downcast once per batch.
pub struct EnvironmentDeploymentColumns<'a> {
    workspace: &'a StringArray,
    repository: &'a StringArray,
    repo_slug: &'a StringArray,
    repo_uuid: &'a StringArray,
    uuid: &'a StringArray,
    environment_name: &'a StringArray,
    environment_type: &'a StringArray,
    state: &'a StringArray,
    outcome: &'a StringArray,
    pipeline_uuid: &'a StringArray,
    commit_sha: &'a StringArray,
    build_number: &'a Int64Array,
    completed_at: &'a TimestampMicrosecondArray,
    exported_at: &'a TimestampMicrosecondArray,
}

impl<'a> EnvironmentDeploymentColumns<'a> {
    /// Finds the columns rules read; an error names a missing one.
    pub fn new(batch: &'a RecordBatch) -> Result<Self, ArrowError> {
        Ok(EnvironmentDeploymentColumns {
            workspace: text(batch, "workspace")?,
            repository: text(batch, "repository")?,
            repo_slug: text(batch, "repo_slug")?,
            repo_uuid: text(batch, "repo_uuid")?,
            uuid: text(batch, "uuid")?,
            environment_name: text(batch, "environment_name")?,
            environment_type: text(batch, "environment_type")?,
            state: text(batch, "state")?,
            outcome: text(batch, "outcome")?,
            pipeline_uuid: text(batch, "pipeline_uuid")?,
            commit_sha: text(batch, "commit_sha")?,
            build_number: int(batch, "build_number")?,
            completed_at: time(batch, "completed_at")?,
            exported_at: time(batch, "exported_at")?,
        })
    }

    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.uuid.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.uuid.is_empty()
    }

    /// What the rules see of row `row`: its state, its outcome as the result, its environment.
    pub fn view(&self, row: usize) -> RunView<'a> {
        RunView {
            workspace: self.workspace.value(row),
            repo_slug: self.repo_slug.value(row),
            repository: self.repository.value(row),
            state: get(self.state, row),
            result: get(self.outcome, row),
            environment: Some(EnvironmentView {
                environment_type: get(self.environment_type, row),
                name: get(self.environment_name, row),
            }),
            ..RunView::default()
        }
    }

    /// The deployment's uuid.
    pub fn uuid(&self, row: usize) -> &'a str {
        self.uuid.value(row)
    }

    /// The build number of the run that deployed, where known.
    pub fn build_number(&self, row: usize) -> Option<i64> {
        self.build_number
            .is_valid(row)
            .then(|| self.build_number.value(row))
    }
}

/// What a deployment row takes from the run or Bitbucket deployment it is inferred from.
struct Deployed<'a> {
    view: RunView<'a>,
    repo_uuid: &'a str,
    run_uuid: &'a str,
    commit_sha: Option<&'a str>,
    deployed_at: i64,
    source_url: std::borrow::Cow<'a, str>,
    build_number: i64,
    run_number: Option<i64>,
    exported_at: i64,
}

/// Builds the `deployments` table.
#[derive(Default)]
pub struct DeploymentBuilder {
    workspace: StringBuilder,
    reference_id: StringBuilder,
    service: StringBuilder,
    repository: StringBuilder,
    repo_uuid: StringBuilder,
    commit_sha: StringBuilder,
    deployed_at: TimestampMicrosecondBuilder,
    environment: StringBuilder,
    success: BooleanBuilder,
    integration_branch: StringBuilder,
    source_url: StringBuilder,
    source_name: StringBuilder,
    rule: StringBuilder,
    pipeline_run_uuid: StringBuilder,
    build_number: Int64Builder,
    run_number: Int64Builder,
    ref_name: StringBuilder,
    trigger: StringBuilder,
    exported_at: TimestampMicrosecondBuilder,
    rows: usize,
    /// (service, environment) emitted twice for one run, by two rules.
    pub overlaps: u64,
}

impl DeploymentBuilder {
    /// Deployments built so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether none was built.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends the deployments `rules` infer from every run of `runs` (a `pipeline_runs` batch).
    pub fn append_runs(&mut self, rules: &RuleSet, runs: &RecordBatch) -> Result<(), ArrowError> {
        let cols = RunColumns::new(runs)?;
        for row in 0..cols.len() {
            // Cheap pre-filter: only completed runs with a completion time can deploy.
            if get(cols.state, row) != Some("COMPLETED") || cols.completed_at.is_null(row) {
                continue;
            }
            let view = cols.view(row);
            let Verdict::Matched(matched) = rules.judge(&view) else {
                continue;
            };
            self.push(
                matched,
                &Deployed {
                    view,
                    repo_uuid: cols.repo_uuid.value(row),
                    run_uuid: cols.uuid.value(row),
                    commit_sha: get(cols.commit_sha, row),
                    deployed_at: cols.completed_at.value(row),
                    source_url: cols.url.value(row).into(),
                    build_number: cols.build_number.value(row),
                    run_number: cols
                        .run_number
                        .is_valid(row)
                        .then(|| cols.run_number.value(row)),
                    exported_at: cols.exported_at.value(row),
                },
            );
        }
        Ok(())
    }

    /// Appends the deployments rules with `source = "environments"` infer from every row of
    /// `deployments` (an `environment_deployments` batch): one per matching rule, with the
    /// reference_id a pipelines rule of the same name would give the run that deployed.
    pub fn append_environment_deployments(
        &mut self,
        rules: &RuleSet,
        deployments: &RecordBatch,
    ) -> Result<(), ArrowError> {
        if !rules.reads(Source::Environments) {
            return Ok(());
        }
        let cols = EnvironmentDeploymentColumns::new(deployments)?;
        for row in 0..cols.len() {
            // What a deployments row cannot do without: when, and which run.
            let (Some(run_uuid), false, false) = (
                get(cols.pipeline_uuid, row),
                cols.completed_at.is_null(row),
                cols.build_number.is_null(row),
            ) else {
                continue;
            };
            let view = cols.view(row);
            let Verdict::Matched(matched) = rules.judge(&view) else {
                continue;
            };
            let build_number = cols.build_number.value(row);
            let source_url = format!(
                "https://bitbucket.org/{}/{}/pipelines/results/{build_number}",
                view.workspace, view.repo_slug
            );
            self.push(
                matched,
                &Deployed {
                    view,
                    repo_uuid: cols.repo_uuid.value(row),
                    run_uuid,
                    commit_sha: get(cols.commit_sha, row),
                    deployed_at: cols.completed_at.value(row),
                    source_url: source_url.into(),
                    build_number,
                    // A Bitbucket deployment does not say which attempt deployed.
                    run_number: None,
                    exported_at: cols.exported_at.value(row),
                },
            );
        }
        Ok(())
    }

    /// Appends one deployment per rule that matched `deployed`.
    fn push(&mut self, matched: Vec<(&Rule, String)>, deployed: &Deployed<'_>) {
        self.overlaps += RuleSet::overlaps(&matched).len() as u64;
        let view = &deployed.view;
        for (rule, service) in matched {
            self.workspace.append_value(view.workspace);
            self.reference_id.append_value(reference_id(
                view.workspace,
                deployed.repo_uuid,
                deployed.run_uuid,
                &rule.name,
            ));
            self.service.append_value(service);
            self.repository.append_value(view.repository);
            self.repo_uuid.append_value(deployed.repo_uuid);
            self.commit_sha.append_option(deployed.commit_sha);
            self.deployed_at.append_value(deployed.deployed_at);
            self.environment.append_value(&rule.environment);
            self.success.append_value(view.result == Some("SUCCESSFUL"));
            self.integration_branch
                .append_option(rule.integration_branch.as_deref());
            self.source_url.append_value(&deployed.source_url);
            self.source_name.append_value(SOURCE_NAME);
            self.rule.append_value(&rule.name);
            self.pipeline_run_uuid.append_value(deployed.run_uuid);
            self.build_number.append_value(deployed.build_number);
            self.run_number.append_option(deployed.run_number);
            self.ref_name.append_option(view.ref_name);
            self.trigger.append_option(view.trigger);
            self.exported_at.append_value(deployed.exported_at);
            self.rows += 1;
        }
    }

    /// The deployments built, as a batch; the builder starts over.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("workspace", Arc::new(self.workspace.finish())),
            ("reference_id", Arc::new(self.reference_id.finish())),
            ("service", Arc::new(self.service.finish())),
            ("repository", Arc::new(self.repository.finish())),
            ("repo_uuid", Arc::new(self.repo_uuid.finish())),
            ("commit_sha", Arc::new(self.commit_sha.finish())),
            (
                "deployed_at",
                Arc::new(self.deployed_at.finish().with_timezone("UTC")),
            ),
            ("environment", Arc::new(self.environment.finish())),
            ("success", Arc::new(self.success.finish())),
            (
                "integration_branch",
                Arc::new(self.integration_branch.finish()),
            ),
            ("source_url", Arc::new(self.source_url.finish())),
            ("source_name", Arc::new(self.source_name.finish())),
            ("rule", Arc::new(self.rule.finish())),
            (
                "pipeline_run_uuid",
                Arc::new(self.pipeline_run_uuid.finish()),
            ),
            ("build_number", Arc::new(self.build_number.finish())),
            ("run_number", Arc::new(self.run_number.finish())),
            ("ref_name", Arc::new(self.ref_name.finish())),
            ("trigger", Arc::new(self.trigger.finish())),
            (
                "exported_at",
                Arc::new(self.exported_at.finish().with_timezone("UTC")),
            ),
        ];
        self.rows = 0;
        Table::Deployments.batch_of(columns)
    }
}
