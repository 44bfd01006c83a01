//! Pipeline steps: JSON values to rows of the `pipeline_steps` table.

use crate::row::{RepoColumns, RowError, opt, timestamp};
use crate::status::normalized_step_status;
use arrow::array::{ArrayRef, Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use bbpipe_model::bitbucket::Step;
use bbpipe_model::{RunRef, Table};
use std::sync::Arc;

/// The repository and run a page of steps belongs to.
pub struct StepContext<'a> {
    pub workspace: &'a str,
    pub slug: &'a str,
    pub repo_uuid: &'a str,
    pub run: &'a RunRef,
    pub exported_at: i64,
}

/// Columns of `pipeline_steps` under construction.
#[derive(Default)]
pub struct PipelineStepsBuilder {
    repo: RepoColumns,
    pipeline_uuid: StringBuilder,
    build_number: Int64Builder,
    run_number: Int64Builder,
    uuid: StringBuilder,
    name: StringBuilder,
    status: StringBuilder,
    state: StringBuilder,
    result: StringBuilder,
    started_at: TimestampMicrosecondBuilder,
    completed_at: TimestampMicrosecondBuilder,
    duration_seconds: Int64Builder,
    build_seconds_used: Int64Builder,
    max_time_minutes: Int64Builder,
    trigger: StringBuilder,
    image: StringBuilder,
    size: StringBuilder,
    cpu_limit: Int64Builder,
    memory_limit: Int64Builder,
    environment_uuid: StringBuilder,
    run_created_at: TimestampMicrosecondBuilder,
    exported_at: TimestampMicrosecondBuilder,
    rows: usize,
}

/// `pipeline_step_trigger_manual` → `manual`; other values are kept as they are.
pub fn step_trigger<'a>(kind: Option<&'a str>, name: Option<&'a str>) -> Option<&'a str> {
    kind.map(|k| k.strip_prefix("pipeline_step_trigger_").unwrap_or(k))
        .or(name)
}

impl PipelineStepsBuilder {
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Appends one step and returns its normalized status. Nothing is appended on error.
    pub fn append(
        &mut self,
        step: &Step<'_>,
        at: &StepContext<'_>,
    ) -> Result<&'static str, RowError> {
        let started_at = timestamp(opt(&step.started_on), "started_on")?;
        let completed_at = timestamp(opt(&step.completed_on), "completed_on")?;
        let state = step.state.as_ref();
        let state_name = state.and_then(|s| opt(&s.name));
        let result = state
            .and_then(|s| s.result.as_ref())
            .and_then(|r| opt(&r.name));
        let status = normalized_step_status(state_name, result);
        let pipeline_uuid = step
            .pipeline
            .as_ref()
            .and_then(|p| opt(&p.uuid))
            .unwrap_or(&at.run.uuid);

        self.repo.append(at.workspace, at.slug, at.repo_uuid);
        self.pipeline_uuid.append_value(pipeline_uuid);
        self.build_number.append_value(at.run.build_number);
        self.run_number.append_option(step.run_number);
        self.uuid.append_value(&*step.uuid);
        self.name.append_option(opt(&step.name));
        self.status.append_value(status);
        self.state.append_option(state_name);
        self.result.append_option(result);
        self.started_at.append_option(started_at);
        // As Bitbucket gives it: a manual step that EXPIRED never started, yet completed.
        self.completed_at.append_option(completed_at);
        self.duration_seconds
            .append_option(step.duration_in_seconds);
        self.build_seconds_used
            .append_option(step.build_seconds_used);
        self.max_time_minutes.append_option(step.max_time);
        let trigger = step.trigger.as_ref();
        self.trigger.append_option(step_trigger(
            trigger.and_then(|t| opt(&t.kind)),
            trigger.and_then(|t| opt(&t.name)),
        ));
        self.image
            .append_option(step.image.as_ref().and_then(|i| opt(&i.name)));
        self.size.append_option(opt(&step.size));
        let limits = step.resource_limits.as_ref();
        self.cpu_limit
            .append_option(limits.and_then(|l| l.cpu_limit_in_millicores));
        self.memory_limit
            .append_option(limits.and_then(|l| l.memory_limit_in_megabytes));
        self.environment_uuid
            .append_option(step.environment.as_ref().and_then(|e| opt(&e.uuid)));
        self.run_created_at.append_value(at.run.created_at);
        self.exported_at.append_value(at.exported_at);
        self.rows += 1;
        Ok(status)
    }

    /// Takes the rows built so far as a batch in [`Table::PipelineSteps`] order.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut columns: Vec<(&str, ArrayRef)> = vec![
            ("pipeline_uuid", Arc::new(self.pipeline_uuid.finish())),
            ("build_number", Arc::new(self.build_number.finish())),
            ("run_number", Arc::new(self.run_number.finish())),
            ("uuid", Arc::new(self.uuid.finish())),
            ("name", Arc::new(self.name.finish())),
            ("status", Arc::new(self.status.finish())),
            ("state", Arc::new(self.state.finish())),
            ("result", Arc::new(self.result.finish())),
            (
                "started_at",
                Arc::new(self.started_at.finish().with_timezone("UTC")),
            ),
            (
                "completed_at",
                Arc::new(self.completed_at.finish().with_timezone("UTC")),
            ),
            ("duration_seconds", Arc::new(self.duration_seconds.finish())),
            (
                "build_seconds_used",
                Arc::new(self.build_seconds_used.finish()),
            ),
            ("max_time_minutes", Arc::new(self.max_time_minutes.finish())),
            ("trigger", Arc::new(self.trigger.finish())),
            ("image", Arc::new(self.image.finish())),
            ("size", Arc::new(self.size.finish())),
            ("cpu_limit_millicores", Arc::new(self.cpu_limit.finish())),
            (
                "memory_limit_megabytes",
                Arc::new(self.memory_limit.finish()),
            ),
            ("environment_uuid", Arc::new(self.environment_uuid.finish())),
            (
                "run_created_at",
                Arc::new(self.run_created_at.finish().with_timezone("UTC")),
            ),
            (
                "exported_at",
                Arc::new(self.exported_at.finish().with_timezone("UTC")),
            ),
        ];
        columns.extend(self.repo.finish());
        self.rows = 0;
        Table::PipelineSteps.batch_of(columns)
    }
}
