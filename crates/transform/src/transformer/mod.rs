//! The [`Transformer`]: one page at a time into Arrow builders, runs that cannot be decoded
//! set aside as rejects. What `--with` adds (steps, environments, Bitbucket's deployments) is
//! in [`extras`].

mod extras;
mod pending;

use crate::environments::{EnvironmentDeploymentsBuilder, EnvironmentIndex, EnvironmentsBuilder};
use crate::error::TransformError;
use crate::rejects::{Reject, RejectsBuilder};
use crate::repositories::RepositoriesBuilder;
use crate::row::RowError;
use crate::rules::{DeploymentBuilder, RuleSet};
use crate::runs::{PipelineRunsBuilder, RepoContext};
use crate::steps::PipelineStepsBuilder;
use crate::test_reports::{TestCasesBuilder, TestReportsBuilder};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use bbpipe_model::bitbucket::{
    self as json, DecodeError, Deployment, Environment, Page, PipelineRun, Repository, Step,
    TestCase, TestReport,
};
use bbpipe_model::{Activity, Endpoint, PageSource, RawPage, Table, TableBatch};
use pending::{Pending, Rows};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// How transform shapes its output.
#[derive(Debug, Clone)]
pub struct TransformOptions {
    /// Rows per emitted batch (a workspace change also ends a batch).
    pub batch_rows: usize,
    /// Deploy rules; without them no deployments are inferred.
    pub rules: Option<Arc<RuleSet>>,
    /// Whether this transformer writes the `repositories` and `environments` tables. With
    /// several workers every one reads the repository and environment pages (for repository
    /// uuids and environment names) and one writes their rows.
    pub emit_repositories: bool,
    /// Where the stage reports progress and waits (the stall watchdog reads it).
    pub activity: Arc<Activity>,
}

impl Default for TransformOptions {
    fn default() -> Self {
        TransformOptions {
            batch_rows: bbpipe_model::defaults::BATCH_ROWS,
            rules: None,
            emit_repositories: true,
            activity: Arc::default(),
        }
    }
}

/// What transform read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransformSummary {
    /// Pages read.
    pub pages: u64,
    /// Repositories read.
    pub repositories: u64,
    /// Pipeline runs read.
    pub pipeline_runs: u64,
    /// Pipeline runs read, by normalized status.
    pub runs_by_status: BTreeMap<&'static str, u64>,
    /// Pipeline steps read.
    pub steps: u64,
    /// Environments read.
    pub environments: u64,
    /// Bitbucket deployments read.
    pub environment_deployments: u64,
    /// Test reports read (`--with tests`).
    pub test_reports: u64,
    /// Test cases read (`--with tests`).
    pub test_cases: u64,
    /// Deployments inferred (one per matching rule and run).
    pub deployments: u64,
    /// Runs for which two rules emitted the same (service, environment).
    pub rule_overlaps: u64,
    /// Runs set aside in the `rejects` table.
    pub rejected: u64,
    /// The first of them, each as its repository, uuid (or page) and the path of the problem.
    pub rejected_examples: Vec<String>,
}

/// Rejected runs named in the summary, at most.
const REJECTED_EXAMPLES: usize = 20;

impl TransformSummary {
    /// Adds another worker's counts.
    pub fn merge(&mut self, other: TransformSummary) {
        self.pages += other.pages;
        self.repositories += other.repositories;
        self.pipeline_runs += other.pipeline_runs;
        self.steps += other.steps;
        self.environments += other.environments;
        self.environment_deployments += other.environment_deployments;
        self.test_reports += other.test_reports;
        self.test_cases += other.test_cases;
        self.deployments += other.deployments;
        self.rule_overlaps += other.rule_overlaps;
        self.rejected += other.rejected;
        self.rejected_examples.extend(other.rejected_examples);
        self.rejected_examples.truncate(REJECTED_EXAMPLES);
        for (status, n) in other.runs_by_status {
            *self.runs_by_status.entry(status).or_default() += n;
        }
    }
}

/// The tables whose pending rows [`Transformer::finish`] emits as they are (runs and
/// Bitbucket's deployments also go through the rules first, so they are apart).
#[derive(Default)]
struct PendingTables {
    repositories: Pending<RepositoriesBuilder>,
    steps: Pending<PipelineStepsBuilder>,
    environments: Pending<EnvironmentsBuilder>,
    test_reports: Pending<TestReportsBuilder>,
    test_cases: Pending<TestCasesBuilder>,
    rejects: Pending<RejectsBuilder>,
}

impl PendingTables {
    fn take_all(&mut self, out: &mut Vec<TableBatch>) -> Result<(), TransformError> {
        // Each one named: a table added above is a compile error here until it is emitted.
        let PendingTables {
            repositories,
            steps,
            environments,
            test_reports,
            test_cases,
            rejects,
        } = self;
        out.extend(repositories.take()?);
        out.extend(steps.take()?);
        out.extend(environments.take()?);
        out.extend(test_reports.take()?);
        out.extend(test_cases.take()?);
        out.extend(rejects.take()?);
        Ok(())
    }
}

/// Which table each builder builds.
macro_rules! rows_of {
    ($($builder:ty => $table:expr),+ $(,)?) => {$(
        impl Rows for $builder {
            const TABLE: Table = $table;
            fn len(&self) -> usize {
                <$builder>::len(self)
            }
            fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
                <$builder>::finish(self)
            }
        }
    )+};
}

rows_of! {
    RepositoriesBuilder => Table::Repositories,
    PipelineStepsBuilder => Table::PipelineSteps,
    EnvironmentsBuilder => Table::Environments,
    TestReportsBuilder => Table::TestReports,
    TestCasesBuilder => Table::TestCases,
    RejectsBuilder => Table::Rejects,
}

/// Turns pages into batches, one page at a time; holds at most one batch per table.
pub struct Transformer {
    options: TransformOptions,
    pending: PendingTables,
    runs: PipelineRunsBuilder,
    runs_workspace: String,
    deployments: DeploymentBuilder,
    environment_deployments: EnvironmentDeploymentsBuilder,
    environment_deployments_workspace: String,
    /// Environments' names and types by uuid, for the deployments to them. One entry per
    /// environment.
    environment_index: EnvironmentIndex,
    /// Repository uuids by (workspace, slug), from repository pages: the fallback for runs whose
    /// JSON leaves out `repository.uuid`. One entry per repository, never per run.
    repo_uuids: HashMap<(String, String), String>,
    summary: TransformSummary,
}

impl Transformer {
    /// Where this transformer reports progress and waits.
    pub(crate) fn activity(&self) -> Arc<Activity> {
        Arc::clone(&self.options.activity)
    }

    /// A transformer with `options`.
    pub fn new(options: TransformOptions) -> Self {
        Transformer {
            options,
            pending: PendingTables::default(),
            runs: PipelineRunsBuilder::default(),
            runs_workspace: String::new(),
            deployments: DeploymentBuilder::default(),
            environment_deployments: EnvironmentDeploymentsBuilder::default(),
            environment_deployments_workspace: String::new(),
            environment_index: EnvironmentIndex::new(),
            repo_uuids: HashMap::new(),
            summary: TransformSummary::default(),
        }
    }

    /// What it read so far.
    pub fn summary(&self) -> &TransformSummary {
        &self.summary
    }

    /// What it read, once it is done.
    pub(crate) fn into_summary(self) -> TransformSummary {
        self.summary
    }

    /// Decodes one page; batches that filled up are appended to `out`.
    pub fn push(
        &mut self,
        page: &RawPage,
        out: &mut Vec<TableBatch>,
    ) -> Result<(), TransformError> {
        self.summary.pages += 1;
        let source = &page.source;
        let body = &page.body[..];
        match source.endpoint {
            Endpoint::Repositories => {
                let parsed: Page<Repository> = decode(source, body)?;
                self.push_repositories(source, &parsed.values, out)
            }
            Endpoint::Pipelines => match json::decode::<Page<PipelineRun>>(body) {
                Ok(parsed) => {
                    for (index, run) in parsed.values.iter().enumerate() {
                        if let Err(error) = self.push_run(source, run, Some(index), out) {
                            self.reject_value(source, body, Some(index), error, out)?;
                        }
                    }
                    Ok(())
                }
                Err(page_error) => self.push_runs_one_by_one(source, body, page_error, out),
            },
            Endpoint::PipelineRun => match json::decode::<PipelineRun>(body) {
                Ok(run) => match self.push_run(source, &run, None, out) {
                    Ok(()) => Ok(()),
                    Err(error) => self.reject_value(source, body, None, error, out),
                },
                Err(DecodeError { path, message }) => {
                    let raw = std::str::from_utf8(body).unwrap_or("");
                    self.reject(source, raw, path, message, out)
                }
            },
            Endpoint::Steps => {
                let parsed: Page<Step> = decode(source, body)?;
                self.push_steps(source, &parsed.values, out)
            }
            Endpoint::TestReports => {
                let report: TestReport = decode(source, body)?;
                self.push_test_report(source, &report, out)
            }
            Endpoint::TestCases => {
                let parsed: Page<TestCase> = decode(source, body)?;
                self.push_test_cases(source, &parsed.values, out)
            }
            Endpoint::Environments => {
                let parsed: Page<Environment> = decode(source, body)?;
                self.push_environments(source, &parsed.values, out)
            }
            Endpoint::Deployments => {
                let parsed: Page<Deployment> = decode(source, body)?;
                self.push_environment_deployments(source, &parsed.values, out)
            }
            // The commits pass builds its rows itself (crate::commits): no page of it travels
            // down the page channel.
            Endpoint::Commits => Err(TransformError::Internal(format!(
                "{source}: commits pages are not read by the page transformer"
            ))),
        }
    }

    /// Emits what is left.
    pub fn finish(&mut self, out: &mut Vec<TableBatch>) -> Result<(), TransformError> {
        self.flush_runs(out)?;
        self.flush_environment_deployments(out)?;
        self.pending.take_all(out)
    }

    /// A page that did not decode as a whole: if its envelope holds, each run is decoded on
    /// its own and the bad ones rejected; if not (truncated, HTML), the page is the error.
    fn push_runs_one_by_one(
        &mut self,
        source: &PageSource,
        body: &[u8],
        DecodeError { path, message }: DecodeError,
        out: &mut Vec<TableBatch>,
    ) -> Result<(), TransformError> {
        let Ok(page) = serde_json::from_slice::<Page<&serde_json::value::RawValue>>(body) else {
            return Err(TransformError::Json {
                source_page: Box::new(source.clone()),
                path,
                message,
            });
        };
        for (index, raw) in page.values.iter().enumerate() {
            match json::decode::<PipelineRun>(raw.get().as_bytes()) {
                Ok(run) => {
                    if let Err(error) = self.push_run(source, &run, Some(index), out) {
                        self.reject_value(source, body, Some(index), error, out)?;
                    }
                }
                Err(DecodeError { path, message }) => {
                    let path = json::value_path(index, &path);
                    self.reject(source, raw.get(), path, message, out)?;
                }
            }
        }
        Ok(())
    }

    /// Rejects the run at `index` of the page (or the page's one run) for `error`; errors that
    /// are not about the run's values stop the stage.
    fn reject_value(
        &mut self,
        source: &PageSource,
        body: &[u8],
        index: Option<usize>,
        error: TransformError,
        out: &mut Vec<TableBatch>,
    ) -> Result<(), TransformError> {
        let TransformError::Value { path, message, .. } = error else {
            return Err(error);
        };
        let raw = match index {
            Some(index) => serde_json::from_slice::<Page<&serde_json::value::RawValue>>(body)
                .ok()
                .and_then(|page| page.values.get(index).map(|v| v.get().to_string())),
            None => std::str::from_utf8(body).ok().map(str::to_string),
        }
        .unwrap_or_default();
        self.reject(source, &raw, path, message, out)
    }

    fn reject(
        &mut self,
        source: &PageSource,
        raw: &str,
        json_path: String,
        error: String,
        out: &mut Vec<TableBatch>,
    ) -> Result<(), TransformError> {
        let slug = source.repo_slug.as_deref().unwrap_or_default();
        let rejects = self.pending.rejects.of(&source.workspace, out)?;
        let repo_uuid = self
            .repo_uuids
            .get(&(source.workspace.clone(), slug.to_string()))
            .cloned();
        let id = rejects.append(Reject {
            workspace: &source.workspace,
            repo_slug: slug,
            repo_uuid: repo_uuid.as_deref(),
            page_url: &source.location,
            json_path: json_path.clone(),
            error: error.clone(),
            raw_json: raw,
            exported_at: source.fetched_at.timestamp_micros(),
        });
        tracing::warn!(run = %id, page = %source, path = %json_path, "a run that cannot be decoded was set aside in `rejects`: {error}");
        self.summary.rejected += 1;
        if self.summary.rejected_examples.len() < REJECTED_EXAMPLES {
            self.summary
                .rejected_examples
                .push(format!("{id} at {json_path}: {error}"));
        }
        Ok(())
    }

    fn push_repositories(
        &mut self,
        source: &PageSource,
        values: &[Repository<'_>],
        out: &mut Vec<TableBatch>,
    ) -> Result<(), TransformError> {
        let pending = &mut self.pending.repositories;
        for (index, repo) in values.iter().enumerate() {
            if !self.options.emit_repositories {
                if let Some(slug) = repo.slug() {
                    self.repo_uuids
                        .entry((source.workspace.clone(), slug.to_string()))
                        .or_insert_with(|| repo.uuid.to_string());
                }
                continue;
            }
            let slug = (pending.of(&source.workspace, out)?)
                .append(&source.workspace, repo)
                .map_err(|e| row_error(source, Some(index), e))?;
            self.repo_uuids
                .entry((source.workspace.clone(), slug.to_string()))
                .or_insert_with(|| repo.uuid.to_string());
            self.summary.repositories += 1;
            pending.emit_if_full(self.options.batch_rows, out)?;
        }
        Ok(())
    }

    fn push_run(
        &mut self,
        source: &PageSource,
        run: &PipelineRun<'_>,
        index: Option<usize>,
        out: &mut Vec<TableBatch>,
    ) -> Result<(), TransformError> {
        let Some(slug) = source.repo_slug.as_deref() else {
            return Err(TransformError::value(
                source,
                "$".into(),
                "a pipelines page must belong to a repository",
            ));
        };
        if self.runs_workspace != source.workspace {
            self.flush_runs(out)?;
            self.runs_workspace.clone_from(&source.workspace);
        }
        let repo = RepoContext {
            workspace: &source.workspace,
            slug,
            uuid: self
                .repo_uuids
                .get(&(source.workspace.clone(), slug.to_string()))
                .map(String::as_str),
            exported_at: source.fetched_at.timestamp_micros(),
        };
        let status = self
            .runs
            .append(run, &repo)
            .map_err(|e| row_error(source, index, e))?;
        self.summary.pipeline_runs += 1;
        *self.summary.runs_by_status.entry(status).or_default() += 1;
        if self.runs.len() >= self.options.batch_rows {
            self.flush_runs(out)?;
        }
        Ok(())
    }

    fn flush_runs(&mut self, out: &mut Vec<TableBatch>) -> Result<(), TransformError> {
        if self.runs.len() == 0 {
            return Ok(());
        }
        let batch = self.runs.finish().map_err(internal)?;
        // Rules run as the batch flows by: no second pass over the output.
        if let Some(rules) = &self.options.rules {
            self.deployments
                .append_runs(rules, &batch)
                .map_err(internal)?;
            let workspace = self.runs_workspace.clone();
            self.emit_deployments(&workspace, out)?;
        }
        out.push(TableBatch {
            table: Table::PipelineRuns,
            workspace: self.runs_workspace.clone(),
            batch,
        });
        Ok(())
    }
}

pub(crate) fn decode<'a, T: serde::Deserialize<'a>>(
    source: &PageSource,
    body: &'a [u8],
) -> Result<T, TransformError> {
    json::decode(body).map_err(|DecodeError { path, message }| TransformError::Json {
        source_page: Box::new(source.clone()),
        path,
        message,
    })
}

pub(super) fn row_error(
    source: &PageSource,
    index: Option<usize>,
    error: RowError,
) -> TransformError {
    let path = match index {
        Some(i) => json::value_path(i, &format!("$.{}", error.field)),
        None => format!("$.{}", error.field),
    };
    TransformError::value(source, path, error.message)
}

pub(super) fn internal(error: arrow::error::ArrowError) -> TransformError {
    TransformError::Internal(error.to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A page of workspace `acme` (of repository `web-app`, unless it lists repositories).
    pub(crate) fn page(endpoint: Endpoint, body: &'static [u8], page: u32) -> RawPage {
        let repo_slug = (endpoint != Endpoint::Repositories).then(|| "web-app".to_string());
        let source = PageSource {
            workspace: "acme".into(),
            repo_slug,
            endpoint,
            location: "test".into(),
            page,
            fetched_at: chrono::Utc::now(),
            run: None,
            step: None,
        };
        RawPage {
            source,
            body: bytes::Bytes::from_static(body),
        }
    }

    /// Whichever worker gets a run, a repository listed without `slug` is found by its
    /// `full_name`: the worker that writes no repositories derives the slug the same way.
    #[test]
    fn every_worker_derives_a_missing_slug_from_the_full_name() {
        let repos = br#"{"values": [{"uuid": "{repo-x}", "full_name": "acme/web-app"}]}"#;
        let runs = br#"{"values": [{"uuid": "{r1}", "build_number": 1,
            "created_on": "2026-01-01T00:00:00Z"}]}"#;
        for emit_repositories in [true, false] {
            let options = TransformOptions {
                emit_repositories,
                ..TransformOptions::default()
            };
            let mut transformer = Transformer::new(options);
            let mut out = Vec::new();
            for raw in [
                page(Endpoint::Repositories, repos, 1),
                page(Endpoint::Pipelines, runs, 1),
            ] {
                transformer.push(&raw, &mut out).unwrap();
            }
            transformer.finish(&mut out).unwrap();
            let runs = out.iter().find(|b| b.table == Table::PipelineRuns).unwrap();
            let repo_uuid = runs.batch.column_by_name("repo_uuid").unwrap();
            assert_eq!(
                repo_uuid
                    .as_any()
                    .downcast_ref::<arrow::array::StringArray>()
                    .unwrap()
                    .value(0),
                "{repo-x}",
                "emit_repositories = {emit_repositories}"
            );
            assert!(out.iter().all(|b| b.table != Table::Rejects));
        }
    }
}
