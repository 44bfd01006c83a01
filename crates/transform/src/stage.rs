//! The transform stage: raw pages in, table batches out.

use crate::error::TransformError;
use crate::json::{self, Page, PipelineRun, Repository};
use crate::repositories::RepositoriesBuilder;
use crate::rules::{DeploymentBuilder, RuleSet};
use crate::runs::{PipelineRunsBuilder, RepoContext, RowError};
use bbpipe_model::{Endpoint, Message, PageSource, RawPage, Table, TableBatch};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::mpsc::{Receiver, Sender};

/// How transform shapes its output.
#[derive(Debug, Clone)]
pub struct TransformOptions {
    /// Rows per emitted batch (a workspace change also ends a batch).
    pub batch_rows: usize,
    /// Deploy rules; without them no deployments are inferred.
    pub rules: Option<Arc<RuleSet>>,
}

impl Default for TransformOptions {
    fn default() -> Self {
        TransformOptions {
            batch_rows: 8192,
            rules: None,
        }
    }
}

/// What transform read.
#[derive(Debug, Clone, Default)]
pub struct TransformSummary {
    pub pages: u64,
    pub repositories: u64,
    pub pipeline_runs: u64,
    /// Pipeline runs read, by normalized status.
    pub runs_by_status: BTreeMap<&'static str, u64>,
    /// Deployments inferred (one per matching rule and run).
    pub deployments: u64,
    /// Runs for which two rules emitted the same (service, environment).
    pub rule_overlaps: u64,
}

/// Turns pages into batches, one page at a time; holds at most one batch per table.
pub struct Transformer {
    options: TransformOptions,
    repositories: RepositoriesBuilder,
    repositories_workspace: String,
    runs: PipelineRunsBuilder,
    runs_workspace: String,
    deployments: DeploymentBuilder,
    /// Repository uuids by (workspace, slug), from repository pages: the fallback for runs whose
    /// JSON leaves out `repository.uuid`. One entry per repository, never per run.
    repo_uuids: HashMap<(String, String), String>,
    summary: TransformSummary,
}

impl Transformer {
    pub fn new(options: TransformOptions) -> Self {
        Transformer {
            options,
            repositories: RepositoriesBuilder::default(),
            repositories_workspace: String::new(),
            runs: PipelineRunsBuilder::default(),
            runs_workspace: String::new(),
            deployments: DeploymentBuilder::default(),
            repo_uuids: HashMap::new(),
            summary: TransformSummary::default(),
        }
    }

    pub fn summary(&self) -> &TransformSummary {
        &self.summary
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
            Endpoint::Pipelines => {
                let parsed: Page<PipelineRun> = decode(source, body)?;
                for (index, run) in parsed.values.iter().enumerate() {
                    self.push_run(source, run, Some(index), out)?;
                }
                Ok(())
            }
            Endpoint::PipelineRun => {
                let run: PipelineRun = decode(source, body)?;
                self.push_run(source, &run, None, out)
            }
        }
    }

    /// Emits what is left.
    pub fn finish(&mut self, out: &mut Vec<TableBatch>) -> Result<(), TransformError> {
        self.flush_repositories(out)?;
        self.flush_runs(out)
    }

    fn push_repositories(
        &mut self,
        source: &PageSource,
        values: &[Repository<'_>],
        out: &mut Vec<TableBatch>,
    ) -> Result<(), TransformError> {
        if self.repositories_workspace != source.workspace {
            self.flush_repositories(out)?;
            self.repositories_workspace.clone_from(&source.workspace);
        }
        for (index, repo) in values.iter().enumerate() {
            let slug = self
                .repositories
                .append(&source.workspace, repo)
                .map_err(|e| row_error(source, Some(index), e))?;
            self.repo_uuids
                .entry((source.workspace.clone(), slug.to_string()))
                .or_insert_with(|| repo.uuid.to_string());
            self.summary.repositories += 1;
            if self.repositories.len() >= self.options.batch_rows {
                self.flush_repositories(out)?;
            }
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

    fn flush_repositories(&mut self, out: &mut Vec<TableBatch>) -> Result<(), TransformError> {
        if self.repositories.len() > 0 {
            let batch = self.repositories.finish().map_err(internal)?;
            out.push(TableBatch {
                table: Table::Repositories,
                workspace: self.repositories_workspace.clone(),
                batch,
            });
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
            if !self.deployments.is_empty() {
                self.summary.deployments += self.deployments.len() as u64;
                self.summary.rule_overlaps += std::mem::take(&mut self.deployments.overlaps);
                out.push(TableBatch {
                    table: Table::Deployments,
                    workspace: self.runs_workspace.clone(),
                    batch: self.deployments.finish().map_err(internal)?,
                });
            }
        }
        out.push(TableBatch {
            table: Table::PipelineRuns,
            workspace: self.runs_workspace.clone(),
            batch,
        });
        Ok(())
    }

    /// Runs the stage on the calling thread until the input completes or fails. Decoding is
    /// CPU-bound, so the caller runs this under `spawn_blocking`.
    pub fn run_blocking(
        mut self,
        mut input: Receiver<Message<RawPage>>,
        output: Sender<Message<TableBatch>>,
    ) -> Result<TransformSummary, TransformError> {
        let mut out = Vec::new();
        loop {
            let finished = match input.blocking_recv() {
                Some(Message::Data(page)) => {
                    self.push(&page, &mut out)?;
                    false
                }
                Some(Message::Complete) => {
                    self.finish(&mut out)?;
                    true
                }
                // The extractor stopped without completing: it reports its own error.
                None => return Err(TransformError::Cancelled),
            };
            for batch in out.drain(..) {
                output
                    .blocking_send(Message::Data(batch))
                    .map_err(|_| TransformError::Cancelled)?;
            }
            if finished {
                output
                    .blocking_send(Message::Complete)
                    .map_err(|_| TransformError::Cancelled)?;
                return Ok(self.summary);
            }
        }
    }
}

fn decode<'a, T: serde::Deserialize<'a>>(
    source: &PageSource,
    body: &'a [u8],
) -> Result<T, TransformError> {
    json::decode(body).map_err(|(path, message)| TransformError::Json {
        source_page: Box::new(source.clone()),
        path,
        message,
    })
}

fn row_error(source: &PageSource, index: Option<usize>, error: RowError) -> TransformError {
    let path = match index {
        Some(i) => format!("$.values[{i}].{}", error.field),
        None => format!("$.{}", error.field),
    };
    TransformError::value(source, path, error.message)
}

fn internal(error: arrow::error::ArrowError) -> TransformError {
    TransformError::Internal(error.to_string())
}
