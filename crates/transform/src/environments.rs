//! Environments and Bitbucket's deployments: JSON values to rows of `environments` and
//! `environment_deployments`.

use crate::row::{RepoColumns, RowError, opt, timestamp};
use arrow::array::{
    ArrayRef, BooleanBuilder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use bbpipe_model::Table;
use bbpipe_model::bitbucket::{Deployment, Environment};
use std::collections::HashMap;
use std::sync::Arc;

/// The repository a page belongs to.
pub struct RepoAt<'a> {
    pub workspace: &'a str,
    pub slug: &'a str,
    pub repo_uuid: &'a str,
    pub exported_at: i64,
}

/// An environment's name and type, joined into its deployments.
#[derive(Debug, Clone, Default)]
pub struct EnvironmentInfo {
    pub name: Option<String>,
    pub environment_type: Option<String>,
}

/// Environments read so far, by uuid (uuids are unique across repositories).
pub type EnvironmentIndex = HashMap<String, EnvironmentInfo>;

/// Columns of `environments` under construction.
#[derive(Default)]
pub struct EnvironmentsBuilder {
    repo: RepoColumns,
    uuid: StringBuilder,
    name: StringBuilder,
    slug: StringBuilder,
    environment_type: StringBuilder,
    rank: Int64Builder,
    hidden: BooleanBuilder,
    lock: StringBuilder,
    exported_at: TimestampMicrosecondBuilder,
    rows: usize,
}

/// What an environment is known by.
pub fn environment_info(env: &Environment<'_>) -> EnvironmentInfo {
    EnvironmentInfo {
        name: opt(&env.name).map(str::to_string),
        environment_type: env
            .environment_type
            .as_ref()
            .and_then(|t| opt(&t.name))
            .map(str::to_string),
    }
}

impl EnvironmentsBuilder {
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn append(&mut self, env: &Environment<'_>, at: &RepoAt<'_>) {
        self.repo.append(at.workspace, at.slug, at.repo_uuid);
        self.uuid.append_value(&*env.uuid);
        self.name.append_option(opt(&env.name));
        self.slug.append_option(opt(&env.slug));
        let kind = env.environment_type.as_ref();
        self.environment_type
            .append_option(kind.and_then(|t| opt(&t.name)));
        self.rank.append_option(kind.and_then(|t| t.rank));
        self.hidden.append_option(env.hidden);
        self.lock
            .append_option(env.lock.as_ref().and_then(|l| opt(&l.name)));
        self.exported_at.append_value(at.exported_at);
        self.rows += 1;
    }

    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut columns: Vec<(&str, ArrayRef)> = vec![
            ("uuid", Arc::new(self.uuid.finish())),
            ("name", Arc::new(self.name.finish())),
            ("slug", Arc::new(self.slug.finish())),
            ("environment_type", Arc::new(self.environment_type.finish())),
            ("environment_type_rank", Arc::new(self.rank.finish())),
            ("hidden", Arc::new(self.hidden.finish())),
            ("lock", Arc::new(self.lock.finish())),
            (
                "exported_at",
                Arc::new(self.exported_at.finish().with_timezone("UTC")),
            ),
        ];
        columns.extend(self.repo.finish());
        self.rows = 0;
        Table::Environments.batch_of(columns)
    }
}

/// Columns of `environment_deployments` under construction.
#[derive(Default)]
pub struct EnvironmentDeploymentsBuilder {
    repo: RepoColumns,
    uuid: StringBuilder,
    environment_uuid: StringBuilder,
    environment_name: StringBuilder,
    environment_type: StringBuilder,
    state: StringBuilder,
    outcome: StringBuilder,
    started_at: TimestampMicrosecondBuilder,
    completed_at: TimestampMicrosecondBuilder,
    pipeline_uuid: StringBuilder,
    build_number: Int64Builder,
    step_uuid: StringBuilder,
    commit_sha: StringBuilder,
    version: Int64Builder,
    last_update_time: TimestampMicrosecondBuilder,
    exported_at: TimestampMicrosecondBuilder,
    rows: usize,
}

impl EnvironmentDeploymentsBuilder {
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Appends one deployment, its environment's name and type looked up in `environments`.
    /// Nothing is appended on error.
    pub fn append(
        &mut self,
        deployment: &Deployment<'_>,
        at: &RepoAt<'_>,
        environments: &EnvironmentIndex,
    ) -> Result<(), RowError> {
        let state = deployment.state.as_ref();
        let deployable = deployment.deployable();
        let started = timestamp(state.and_then(|s| opt(&s.started_on)), "state.started_on")?;
        let completed = timestamp(
            state.and_then(|s| opt(&s.completed_on)),
            "state.completed_on",
        )?;
        let released = timestamp(
            deployable.and_then(|d| opt(&d.created_on)),
            "deployable.created_on",
        )?;
        let updated = timestamp(opt(&deployment.last_update_time), "last_update_time")?;
        let started_at = started.or(released).or(updated).ok_or(RowError {
            field: "state.started_on",
            message: "missing, and neither deployable.created_on nor last_update_time to date \
                      the deployment by"
                .into(),
        })?;
        let environment_uuid = deployment.environment.as_ref().and_then(|e| opt(&e.uuid));
        let environment = environment_uuid.and_then(|uuid| environments.get(uuid));

        self.repo.append(at.workspace, at.slug, at.repo_uuid);
        self.uuid.append_value(&*deployment.uuid);
        self.environment_uuid.append_option(environment_uuid);
        self.environment_name
            .append_option(environment.and_then(|e| e.name.as_deref()));
        self.environment_type
            .append_option(environment.and_then(|e| e.environment_type.as_deref()));
        self.state.append_option(state.and_then(|s| opt(&s.name)));
        self.outcome.append_option(
            state
                .and_then(|s| s.status.as_ref())
                .and_then(|s| opt(&s.name)),
        );
        self.started_at.append_value(started_at);
        self.completed_at.append_option(completed);
        self.pipeline_uuid.append_option(
            deployable
                .and_then(|d| d.pipeline.as_ref())
                .and_then(|p| opt(&p.uuid)),
        );
        self.build_number
            .append_option(deployable.and_then(|d| d.build_number()));
        self.step_uuid
            .append_option(deployment.step.as_ref().and_then(|s| opt(&s.uuid)));
        self.commit_sha.append_option(deployment.commit_hash());
        self.version.append_option(deployment.version);
        self.last_update_time.append_option(updated);
        self.exported_at.append_value(at.exported_at);
        self.rows += 1;
        Ok(())
    }

    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut columns: Vec<(&str, ArrayRef)> = vec![
            ("uuid", Arc::new(self.uuid.finish())),
            ("environment_uuid", Arc::new(self.environment_uuid.finish())),
            ("environment_name", Arc::new(self.environment_name.finish())),
            ("environment_type", Arc::new(self.environment_type.finish())),
            ("state", Arc::new(self.state.finish())),
            ("outcome", Arc::new(self.outcome.finish())),
            (
                "started_at",
                Arc::new(self.started_at.finish().with_timezone("UTC")),
            ),
            (
                "completed_at",
                Arc::new(self.completed_at.finish().with_timezone("UTC")),
            ),
            ("pipeline_uuid", Arc::new(self.pipeline_uuid.finish())),
            ("build_number", Arc::new(self.build_number.finish())),
            ("step_uuid", Arc::new(self.step_uuid.finish())),
            ("commit_sha", Arc::new(self.commit_sha.finish())),
            ("version", Arc::new(self.version.finish())),
            (
                "last_update_time",
                Arc::new(self.last_update_time.finish().with_timezone("UTC")),
            ),
            (
                "exported_at",
                Arc::new(self.exported_at.finish().with_timezone("UTC")),
            ),
        ];
        columns.extend(self.repo.finish());
        self.rows = 0;
        Table::EnvironmentDeployments.batch_of(columns)
    }
}
