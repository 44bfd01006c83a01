//! What the report reads of the dataset's tables, row by row from Arrow batches, kept only as far
//! as the window and the filters need it: memory grows with the window, not the history.

use crate::window::Window;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, TimestampMicrosecondType};
use bbpipe_model::Table;
use std::collections::HashSet;
use std::sync::Arc;

/// Which rows the report is about.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Filters {
    /// Only this workspace.
    pub workspace: Option<String>,
    /// Only deployments of this service.
    pub service: Option<String>,
    /// Only deployments to this environment.
    pub environment: Option<String>,
}

impl Filters {
    /// Whether a deployment (or a commit it shipped) of `service` to `environment` is kept.
    fn keeps(&self, service: &str, environment: &str) -> bool {
        self.service.as_deref().is_none_or(|s| s == service)
            && self.environment.as_deref().is_none_or(|e| e == environment)
    }
}

/// A deployment, as the metrics read it.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub reference_id: String,
    pub service: String,
    pub environment: String,
    pub deployed_at: i64,
    pub success: bool,
}

/// A pipeline run created in the window. Its texts repeat from run to run: they are shared.
#[derive(Debug, Clone)]
pub struct Run {
    pub repository: Arc<str>,
    pub pipeline: Option<Arc<str>>,
    pub selector_type: Option<Arc<str>>,
    pub build_number: i64,
    pub status: Arc<str>,
    pub state: Option<Arc<str>>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    pub duration_seconds: Option<i64>,
    pub build_seconds_used: Option<i64>,
}

/// A step of a run created in the window.
#[derive(Debug, Clone)]
pub struct Step {
    pub repository: Arc<str>,
    pub name: Option<Arc<str>>,
    pub status: Arc<str>,
    pub duration_seconds: Option<i64>,
    pub build_seconds_used: Option<i64>,
}

/// A commit shipped by a deployment (`deployment_commits`), as lead time needs it.
#[derive(Debug, Clone)]
pub struct ShippedCommit {
    pub service: Arc<str>,
    pub environment: Arc<str>,
    pub deployed_at: i64,
    pub lead_time_seconds: i64,
}

/// A test case of a step of a run created in the window (`test_cases`): a failure, or a pass
/// that shows a failed test passed on its commit.
#[derive(Debug, Clone)]
pub struct TestCase {
    pub repository: Arc<str>,
    pub step: Option<Arc<str>>,
    pub test: Arc<str>,
    /// FAILED or ERROR; otherwise SUCCESSFUL.
    pub failed: bool,
    pub commit: Option<Arc<str>>,
    pub pipeline_uuid: Arc<str>,
    pub build_number: i64,
    pub completed_at: Option<i64>,
}

/// A table the report reads; the others it leaves alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// `deployments`: deploy frequency, change failure rate, time to restore.
    Deployments,
    /// `pipeline_runs`: pipeline health.
    PipelineRuns,
    /// `pipeline_steps`: the steps section.
    PipelineSteps,
    /// `deployment_commits`: lead time.
    DeploymentCommits,
    /// `test_cases`: the tests section.
    TestCases,
}

impl Input {
    /// Every table the report reads, in the order it reads them.
    pub const ALL: [Input; 5] = [
        Input::Deployments,
        Input::PipelineRuns,
        Input::PipelineSteps,
        Input::DeploymentCommits,
        Input::TestCases,
    ];

    /// The table.
    pub fn table(self) -> Table {
        match self {
            Input::Deployments => Table::Deployments,
            Input::PipelineRuns => Table::PipelineRuns,
            Input::PipelineSteps => Table::PipelineSteps,
            Input::DeploymentCommits => Table::DeploymentCommits,
            Input::TestCases => Table::TestCases,
        }
    }

    /// The columns the report reads of it.
    pub fn columns(self) -> &'static [&'static str] {
        columns(self)
    }
}

fn columns(input: Input) -> &'static [&'static str] {
    match input {
        Input::Deployments => &[
            "reference_id",
            "service",
            "environment",
            "deployed_at",
            "success",
        ],
        Input::PipelineRuns => &[
            "repository",
            "name",
            "selector_type",
            "build_number",
            "status",
            "state",
            "created_at",
            "completed_at",
            "duration_seconds",
            "build_seconds_used",
        ],
        Input::DeploymentCommits => &["service", "environment", "deployed_at", "lead_time_seconds"],
        Input::PipelineSteps => &[
            "repository",
            "name",
            "status",
            "duration_seconds",
            "build_seconds_used",
            "run_created_at",
        ],
        Input::TestCases => &[
            "repository",
            "step_name",
            "fully_qualified_name",
            "status",
            "commit_sha",
            "pipeline_uuid",
            "build_number",
            "step_completed_at",
            "run_created_at",
        ],
    }
}

/// Rows gathered for the report.
#[derive(Debug, Default)]
pub struct Collected {
    /// Deployments matching the filters, in and after the window (time to restore looks past
    /// its end for the next success).
    pub deployments: Vec<Deployment>,
    /// Runs created in the window.
    pub runs: Vec<Run>,
    /// Steps of runs created in the window; `None` when the dataset has no `pipeline_steps`.
    pub steps: Option<Vec<Step>>,
    /// Commits shipped by deployments of the window; `None` when the dataset has no
    /// `deployment_commits` (`--with commits`).
    pub commits: Option<Vec<ShippedCommit>>,
    /// Test cases of runs created in the window; `None` when the dataset has no `test_cases`
    /// (`--with tests`).
    pub tests: Option<Vec<TestCase>>,
    /// Whether the dataset has a `deployments` table at all (the caller knows, from its files).
    pub has_deployments_table: bool,
    /// One copy of each text the runs and steps repeat.
    pub(crate) texts: HashSet<Arc<str>>,
}

impl Collected {
    /// The shared copy of `text`.
    fn text(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.texts.get(text) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(text);
        self.texts.insert(Arc::clone(&shared));
        shared
    }

    fn opt_text(&mut self, array: &arrow::array::StringArray, row: usize) -> Option<Arc<str>> {
        array.is_valid(row).then(|| self.text(array.value(row)))
    }
}

/// Why a batch could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{table}: column {column} missing or of another type")]
pub struct ColumnError {
    /// The table.
    pub table: &'static str,
    /// The column.
    pub column: &'static str,
}

fn text<'a>(
    batch: &'a RecordBatch,
    table: Table,
    column: &'static str,
) -> Result<&'a arrow::array::StringArray, ColumnError> {
    batch
        .column_by_name(column)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or(ColumnError {
            table: table.name(),
            column,
        })
}

fn int<'a>(
    batch: &'a RecordBatch,
    table: Table,
    column: &'static str,
) -> Result<&'a arrow::array::Int64Array, ColumnError> {
    batch
        .column_by_name(column)
        .and_then(|c| c.as_primitive_opt::<Int64Type>())
        .ok_or(ColumnError {
            table: table.name(),
            column,
        })
}

fn time<'a>(
    batch: &'a RecordBatch,
    table: Table,
    column: &'static str,
) -> Result<&'a arrow::array::TimestampMicrosecondArray, ColumnError> {
    batch
        .column_by_name(column)
        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
        .ok_or(ColumnError {
            table: table.name(),
            column,
        })
}

fn opt_int<T: arrow::datatypes::ArrowPrimitiveType<Native = i64>>(
    array: &arrow::array::PrimitiveArray<T>,
    row: usize,
) -> Option<i64> {
    array.is_valid(row).then(|| array.value(row))
}

impl Collected {
    /// Adds the rows of one batch of `table` that the window and filters keep.
    pub fn add(
        &mut self,
        table: Input,
        batch: &RecordBatch,
        window: &Window,
        filters: &Filters,
    ) -> Result<(), ColumnError> {
        match table {
            Input::Deployments => self.add_deployments(batch, window, filters),
            Input::PipelineRuns => self.add_runs(batch, window),
            Input::PipelineSteps => self.add_steps(batch, window),
            Input::DeploymentCommits => self.add_commits(batch, window, filters),
            Input::TestCases => self.add_test_cases(batch, window),
        }
    }

    /// The deployments deployed from the window's start on (a failure's restore may come after it),
    /// of the services and environments the filters keep.
    fn add_deployments(
        &mut self,
        batch: &RecordBatch,
        window: &Window,
        filters: &Filters,
    ) -> Result<(), ColumnError> {
        let table = Table::Deployments;
        let start = window.start_micros();
        let (id, service, environment) = (
            text(batch, table, "reference_id")?,
            text(batch, table, "service")?,
            text(batch, table, "environment")?,
        );
        let deployed_at = time(batch, table, "deployed_at")?;
        let success = batch
            .column_by_name("success")
            .and_then(|c| c.as_boolean_opt())
            .ok_or(ColumnError {
                table: table.name(),
                column: "success",
            })?;
        for row in 0..batch.num_rows() {
            let at = deployed_at.value(row);
            let keep = at >= start && filters.keeps(service.value(row), environment.value(row));
            if keep {
                self.deployments.push(Deployment {
                    reference_id: id.value(row).to_string(),
                    service: service.value(row).to_string(),
                    environment: environment.value(row).to_string(),
                    deployed_at: at,
                    success: success.value(row),
                });
            }
        }
        Ok(())
    }

    /// The runs created in the window.
    fn add_runs(&mut self, batch: &RecordBatch, window: &Window) -> Result<(), ColumnError> {
        let table = Table::PipelineRuns;
        let (start, end) = (window.start_micros(), window.end_micros());
        let in_window = |micros: i64| micros >= start && micros < end;
        let (repository, name, status, state) = (
            text(batch, table, "repository")?,
            text(batch, table, "name")?,
            text(batch, table, "status")?,
            text(batch, table, "state")?,
        );
        let build = int(batch, table, "build_number")?;
        let selector_type = text(batch, table, "selector_type")?;
        let (created, completed) = (
            time(batch, table, "created_at")?,
            time(batch, table, "completed_at")?,
        );
        let (duration, seconds) = (
            int(batch, table, "duration_seconds")?,
            int(batch, table, "build_seconds_used")?,
        );
        for row in 0..batch.num_rows() {
            if !in_window(created.value(row)) {
                continue;
            }
            let run = Run {
                repository: self.text(repository.value(row)),
                pipeline: self.opt_text(name, row),
                selector_type: self.opt_text(selector_type, row),
                build_number: build.value(row),
                status: self.text(status.value(row)),
                state: self.opt_text(state, row),
                created_at: created.value(row),
                completed_at: opt_int(completed, row),
                duration_seconds: opt_int(duration, row),
                build_seconds_used: opt_int(seconds, row),
            };
            self.runs.push(run);
        }
        Ok(())
    }

    /// The steps of runs created in the window.
    fn add_steps(&mut self, batch: &RecordBatch, window: &Window) -> Result<(), ColumnError> {
        let table = Table::PipelineSteps;
        let (start, end) = (window.start_micros(), window.end_micros());
        let in_window = |micros: i64| micros >= start && micros < end;
        let (repository, name, status) = (
            text(batch, table, "repository")?,
            text(batch, table, "name")?,
            text(batch, table, "status")?,
        );
        let (duration, seconds) = (
            int(batch, table, "duration_seconds")?,
            int(batch, table, "build_seconds_used")?,
        );
        let created = time(batch, table, "run_created_at")?;
        let mut steps = self.steps.take().unwrap_or_default();
        for row in 0..batch.num_rows() {
            if !in_window(created.value(row)) {
                continue;
            }
            steps.push(Step {
                repository: self.text(repository.value(row)),
                name: self.opt_text(name, row),
                status: self.text(status.value(row)),
                duration_seconds: opt_int(duration, row),
                build_seconds_used: opt_int(seconds, row),
            });
        }
        self.steps = Some(steps);
        Ok(())
    }

    /// The failed and passed test cases of runs created in the window.
    fn add_test_cases(&mut self, batch: &RecordBatch, window: &Window) -> Result<(), ColumnError> {
        let table = Table::TestCases;
        let (start, end) = (window.start_micros(), window.end_micros());
        let in_window = |micros: i64| micros >= start && micros < end;
        let (repository, step, test, status, commit, pipeline) = (
            text(batch, table, "repository")?,
            text(batch, table, "step_name")?,
            text(batch, table, "fully_qualified_name")?,
            text(batch, table, "status")?,
            text(batch, table, "commit_sha")?,
            text(batch, table, "pipeline_uuid")?,
        );
        let build = int(batch, table, "build_number")?;
        let (completed, created) = (
            time(batch, table, "step_completed_at")?,
            time(batch, table, "run_created_at")?,
        );
        let mut tests = self.tests.take().unwrap_or_default();
        for row in 0..batch.num_rows() {
            let failed = match status.is_valid(row).then(|| status.value(row)) {
                Some("FAILED" | "ERROR") => true,
                Some("SUCCESSFUL") => false,
                _ => continue,
            };
            if !in_window(created.value(row)) || !test.is_valid(row) {
                continue;
            }
            tests.push(TestCase {
                repository: self.text(repository.value(row)),
                step: self.opt_text(step, row),
                test: self.text(test.value(row)),
                failed,
                commit: self.opt_text(commit, row),
                pipeline_uuid: self.text(pipeline.value(row)),
                build_number: build.value(row),
                completed_at: opt_int(completed, row),
            });
        }
        self.tests = Some(tests);
        Ok(())
    }

    /// The shipped commits of deployments in the window that have a lead time, of the services and
    /// environments the filters keep.
    fn add_commits(
        &mut self,
        batch: &RecordBatch,
        window: &Window,
        filters: &Filters,
    ) -> Result<(), ColumnError> {
        let table = Table::DeploymentCommits;
        let (start, end) = (window.start_micros(), window.end_micros());
        let in_window = |micros: i64| micros >= start && micros < end;
        let (service, environment) = (
            text(batch, table, "service")?,
            text(batch, table, "environment")?,
        );
        let deployed_at = time(batch, table, "deployed_at")?;
        let lead = int(batch, table, "lead_time_seconds")?;
        let mut commits = self.commits.take().unwrap_or_default();
        for row in 0..batch.num_rows() {
            // Rows without a commit (no_new_commits, history_rewritten) have no lead time.
            let keep = lead.is_valid(row)
                && in_window(deployed_at.value(row))
                && filters.keeps(service.value(row), environment.value(row));
            if keep {
                commits.push(ShippedCommit {
                    service: self.text(service.value(row)),
                    environment: self.text(environment.value(row)),
                    deployed_at: deployed_at.value(row),
                    lead_time_seconds: lead.value(row),
                });
            }
        }
        self.commits = Some(commits);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Input;

    /// The report names its columns as text: each must be a column of its table's spec.
    #[test]
    fn every_column_the_report_reads_is_in_its_tables_spec() {
        for input in Input::ALL {
            let missing = input.table().missing(input.columns());
            assert!(missing.is_empty(), "{input:?}: {missing:?}");
        }
    }
}
