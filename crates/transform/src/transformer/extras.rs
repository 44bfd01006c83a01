//! Pages of `--with`: steps, environments and Bitbucket's deployments, into their builders;
//! deployments that rules with `source = "environments"` infer from the latter.

use super::{Transformer, internal, row_error};
use crate::environments::{RepoAt, environment_info};
use crate::error::TransformError;
use crate::steps::StepContext;
use crate::test_reports::TestContext;
use bbpipe_model::bitbucket::{Deployment, Environment, Step, TestCase, TestReport};
use bbpipe_model::{PageSource, Table, TableBatch};
use std::collections::HashMap;

impl Transformer {
    /// The repository of a per-repository page, with its uuid from the repository pages.
    pub(super) fn repo_at<'s>(
        repo_uuids: &'s HashMap<(String, String), String>,
        source: &'s PageSource,
    ) -> Result<RepoAt<'s>, TransformError> {
        let slug = source.repo_slug.as_deref().ok_or_else(|| {
            TransformError::value(source, "$".into(), "the page must belong to a repository")
        })?;
        let repo_uuid = repo_uuids
            .get(&(source.workspace.clone(), slug.to_string()))
            .ok_or_else(|| {
                TransformError::value(
                    source,
                    "$".into(),
                    "no repository page named this repository",
                )
            })?;
        Ok(RepoAt {
            workspace: &source.workspace,
            slug,
            repo_uuid,
            exported_at: source.fetched_at.timestamp_micros(),
        })
    }

    pub(super) fn push_steps(
        &mut self,
        source: &PageSource,
        values: &[Step<'_>],
        out: &mut Vec<TableBatch>,
    ) -> Result<(), TransformError> {
        let Some(run) = source.run.as_ref() else {
            return Err(TransformError::value(
                source,
                "$".into(),
                "a page of steps must name its pipeline run",
            ));
        };
        let repo = Self::repo_at(&self.repo_uuids, source)?;
        let steps = self.pending.steps.of(&source.workspace, out)?;
        let at = StepContext {
            workspace: repo.workspace,
            slug: repo.slug,
            repo_uuid: repo.repo_uuid,
            run,
            exported_at: repo.exported_at,
        };
        for (index, step) in values.iter().enumerate() {
            steps
                .append(step, &at)
                .map_err(|e| row_error(source, Some(index), e))?;
        }
        self.summary.steps += values.len() as u64;
        (self.pending.steps).emit_if_full(self.options.batch_rows, out)
    }

    /// What a page of a step's test report needs: its repository, run and step.
    fn test_context<'s>(
        repo_uuids: &'s HashMap<(String, String), String>,
        source: &'s PageSource,
    ) -> Result<TestContext<'s>, TransformError> {
        let (Some(run), Some(step)) = (source.run.as_ref(), source.step.as_ref()) else {
            return Err(TransformError::value(
                source,
                "$".into(),
                "a page of a test report must name its pipeline run and step",
            ));
        };
        let repo = Self::repo_at(repo_uuids, source)?;
        Ok(TestContext {
            workspace: repo.workspace,
            slug: repo.slug,
            repo_uuid: repo.repo_uuid,
            run,
            step,
            exported_at: repo.exported_at,
        })
    }

    pub(super) fn push_test_report(
        &mut self,
        source: &PageSource,
        report: &TestReport,
        out: &mut Vec<TableBatch>,
    ) -> Result<(), TransformError> {
        let at = Self::test_context(&self.repo_uuids, source)?;
        (self.pending.test_reports.of(&source.workspace, out)?).append(report, &at);
        self.summary.test_reports += 1;
        (self.pending.test_reports).emit_if_full(self.options.batch_rows, out)
    }

    pub(super) fn push_test_cases(
        &mut self,
        source: &PageSource,
        values: &[TestCase<'_>],
        out: &mut Vec<TableBatch>,
    ) -> Result<(), TransformError> {
        let at = Self::test_context(&self.repo_uuids, source)?;
        let cases = self.pending.test_cases.of(&source.workspace, out)?;
        for case in values {
            cases.append(case, &at);
        }
        self.summary.test_cases += values.len() as u64;
        (self.pending.test_cases).emit_if_full(self.options.batch_rows, out)
    }

    pub(super) fn push_environments(
        &mut self,
        source: &PageSource,
        values: &[Environment<'_>],
        out: &mut Vec<TableBatch>,
    ) -> Result<(), TransformError> {
        for env in values {
            self.environment_index
                .insert(env.uuid.to_string(), environment_info(env));
        }
        if !self.options.emit_repositories {
            return Ok(());
        }
        let repo = Self::repo_at(&self.repo_uuids, source)?;
        let environments = self.pending.environments.of(&source.workspace, out)?;
        for env in values {
            environments.append(env, &repo);
        }
        self.summary.environments += values.len() as u64;
        (self.pending.environments).emit_if_full(self.options.batch_rows, out)
    }

    pub(super) fn push_environment_deployments(
        &mut self,
        source: &PageSource,
        values: &[Deployment<'_>],
        out: &mut Vec<TableBatch>,
    ) -> Result<(), TransformError> {
        if self.environment_deployments_workspace != source.workspace {
            self.flush_environment_deployments(out)?;
            self.environment_deployments_workspace
                .clone_from(&source.workspace);
        }
        let repo = Self::repo_at(&self.repo_uuids, source)?;
        for (index, deployment) in values.iter().enumerate() {
            self.environment_deployments
                .append(deployment, &repo, &self.environment_index)
                .map_err(|e| row_error(source, Some(index), e))?;
        }
        self.summary.environment_deployments += values.len() as u64;
        if self.environment_deployments.len() >= self.options.batch_rows {
            self.flush_environment_deployments(out)?;
        }
        Ok(())
    }

    pub(super) fn flush_environment_deployments(
        &mut self,
        out: &mut Vec<TableBatch>,
    ) -> Result<(), TransformError> {
        if self.environment_deployments.len() == 0 {
            return Ok(());
        }
        let batch = self.environment_deployments.finish().map_err(internal)?;
        let workspace = self.environment_deployments_workspace.clone();
        if let Some(rules) = &self.options.rules {
            self.deployments
                .append_environment_deployments(rules, &batch)
                .map_err(internal)?;
            self.emit_deployments(&workspace, out)?;
        }
        out.push(TableBatch {
            table: Table::EnvironmentDeployments,
            workspace,
            batch,
        });
        Ok(())
    }

    /// Emits the deployments the rules inferred so far.
    pub(super) fn emit_deployments(
        &mut self,
        workspace: &str,
        out: &mut Vec<TableBatch>,
    ) -> Result<(), TransformError> {
        if !self.deployments.is_empty() {
            self.summary.deployments += self.deployments.len() as u64;
            self.summary.rule_overlaps += std::mem::take(&mut self.deployments.overlaps);
            out.push(TableBatch {
                table: Table::Deployments,
                workspace: workspace.to_string(),
                batch: self.deployments.finish().map_err(internal)?,
            });
        }
        Ok(())
    }
}
