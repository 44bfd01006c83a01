//! Pipeline runs: JSON values to rows of the `pipeline_runs` table.

use crate::row::{RepoColumns, RowError, opt, timestamp};
use crate::status::normalized_status;
use arrow::array::{
    ArrayRef, BooleanBuilder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use bbpipe_model::Table;
use bbpipe_model::bitbucket::PipelineRun;
use std::fmt::Write;
use std::sync::Arc;

/// The run's repository as the transform knows it.
pub struct RepoContext<'a> {
    pub workspace: &'a str,
    pub slug: &'a str,
    /// From the repository pages, for runs whose JSON lacks `repository.uuid`.
    pub uuid: Option<&'a str>,
    pub exported_at: i64,
}

/// Columns of `pipeline_runs` under construction.
#[derive(Default)]
pub struct PipelineRunsBuilder {
    repo: RepoColumns,
    uuid: StringBuilder,
    build_number: Int64Builder,
    run_number: Int64Builder,
    name: StringBuilder,
    selector_type: StringBuilder,
    selector_pattern: StringBuilder,
    status: StringBuilder,
    state: StringBuilder,
    result: StringBuilder,
    stage: StringBuilder,
    trigger: StringBuilder,
    target_type: StringBuilder,
    ref_type: StringBuilder,
    ref_name: StringBuilder,
    commit_sha: StringBuilder,
    pr_id: Int64Builder,
    pr_source_branch: StringBuilder,
    pr_destination_branch: StringBuilder,
    creator_uuid: StringBuilder,
    creator_account_id: StringBuilder,
    creator_display_name: StringBuilder,
    created_at: TimestampMicrosecondBuilder,
    completed_at: TimestampMicrosecondBuilder,
    duration_seconds: Int64Builder,
    build_seconds_used: Int64Builder,
    first_successful: BooleanBuilder,
    expired: BooleanBuilder,
    has_variables: BooleanBuilder,
    url: StringBuilder,
    exported_at: TimestampMicrosecondBuilder,
    rows: usize,
}

impl PipelineRunsBuilder {
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Appends one run and returns its normalized status. Nothing is appended on error.
    pub fn append(
        &mut self,
        run: &PipelineRun<'_>,
        repo: &RepoContext<'_>,
    ) -> Result<&'static str, RowError> {
        // Validate everything fallible before touching a builder, so a bad row leaves none
        // of the columns longer than the others.
        let created_text =
            opt(&run.created_on)
                .or(opt(&run.run_creation_date))
                .ok_or(RowError {
                    field: "created_on",
                    message: "missing: a pipeline run always has a creation time".into(),
                })?;
        let created_at = timestamp(Some(created_text), "created_on")?.unwrap_or_default();
        let completed_at = timestamp(opt(&run.completed_on), "completed_on")?;
        let repo_uuid = run
            .repository
            .as_ref()
            .and_then(|r| opt(&r.uuid))
            .or(repo.uuid)
            .ok_or(RowError {
                field: "repository.uuid",
                message: "missing, and no repository page named this repository".into(),
            })?;

        let state = run.state.as_ref();
        let state_name = state.and_then(|s| opt(&s.name));
        let result = state
            .and_then(|s| s.result.as_ref())
            .and_then(|r| opt(&r.name));
        let stage = state
            .and_then(|s| s.stage.as_ref())
            .and_then(|r| opt(&r.name));
        let status = normalized_status(state_name, result);

        self.repo.append(repo.workspace, repo.slug, repo_uuid);
        self.uuid.append_value(&*run.uuid);
        self.build_number.append_value(run.build_number);
        self.run_number.append_option(run.run_number);
        self.status.append_value(status);
        self.state.append_option(state_name);
        self.result.append_option(result);
        self.stage.append_option(stage);
        let trigger = run.trigger.as_ref();
        self.trigger
            .append_option(trigger.and_then(|t| opt(&t.name).or(opt(&t.kind))));
        self.append_target(run);
        let creator = run.creator.as_ref();
        self.creator_uuid
            .append_option(creator.and_then(|c| opt(&c.uuid)));
        self.creator_account_id
            .append_option(creator.and_then(|c| opt(&c.account_id)));
        self.creator_display_name
            .append_option(creator.and_then(|c| opt(&c.display_name)));
        self.created_at.append_value(created_at);
        self.completed_at.append_option(completed_at);
        self.duration_seconds.append_option(run.duration_in_seconds);
        self.build_seconds_used
            .append_option(run.build_seconds_used);
        self.first_successful.append_option(run.first_successful);
        self.expired.append_option(run.expired);
        self.has_variables.append_option(run.has_variables);
        let _ = write!(
            self.url,
            "https://bitbucket.org/{}/{}/pipelines/results/{}",
            repo.workspace, repo.slug, run.build_number
        );
        self.url.append_value("");
        self.exported_at.append_value(repo.exported_at);
        self.rows += 1;
        Ok(status)
    }

    /// Target columns, read the same way for every target type so that unknown types keep
    /// whatever of the known fields they carry.
    fn append_target(&mut self, run: &PipelineRun<'_>) {
        let target = run.target.as_ref();
        let selector = target.and_then(|t| t.selector.as_ref());
        let selector_type = selector.and_then(|s| opt(&s.kind));
        let selector_pattern = selector.and_then(|s| opt(&s.pattern));
        let name = match selector_type {
            Some("default") => Some("default"),
            _ => selector_pattern,
        };
        self.name.append_option(name);
        self.selector_type.append_option(selector_type);
        self.selector_pattern.append_option(selector_pattern);
        self.target_type
            .append_option(target.and_then(|t| opt(&t.kind)));
        self.ref_type
            .append_option(target.and_then(|t| opt(&t.ref_type)));
        let source = target.and_then(|t| opt(&t.source));
        self.ref_name
            .append_option(target.and_then(|t| opt(&t.ref_name)).or(source));
        self.commit_sha.append_option(
            target
                .and_then(|t| t.commit.as_ref())
                .and_then(|c| opt(&c.hash)),
        );
        let pr_id = target.and_then(|t| {
            t.pullrequest.as_ref().and_then(|p| p.id).or_else(|| {
                t.pullrequest_ids
                    .as_ref()
                    .and_then(|ids| ids.first().copied())
            })
        });
        self.pr_id.append_option(pr_id);
        self.pr_source_branch.append_option(source);
        self.pr_destination_branch
            .append_option(target.and_then(|t| opt(&t.destination).or(opt(&t.target_branch))));
    }

    /// Takes the rows built so far as a batch in [`Table::PipelineRuns`] order.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut columns: Vec<(&str, ArrayRef)> = vec![
            ("uuid", Arc::new(self.uuid.finish())),
            ("build_number", Arc::new(self.build_number.finish())),
            ("run_number", Arc::new(self.run_number.finish())),
            ("name", Arc::new(self.name.finish())),
            ("selector_type", Arc::new(self.selector_type.finish())),
            ("selector_pattern", Arc::new(self.selector_pattern.finish())),
            ("status", Arc::new(self.status.finish())),
            ("state", Arc::new(self.state.finish())),
            ("result", Arc::new(self.result.finish())),
            ("stage", Arc::new(self.stage.finish())),
            ("trigger", Arc::new(self.trigger.finish())),
            ("target_type", Arc::new(self.target_type.finish())),
            ("ref_type", Arc::new(self.ref_type.finish())),
            ("ref_name", Arc::new(self.ref_name.finish())),
            ("commit_sha", Arc::new(self.commit_sha.finish())),
            ("pr_id", Arc::new(self.pr_id.finish())),
            ("pr_source_branch", Arc::new(self.pr_source_branch.finish())),
            (
                "pr_destination_branch",
                Arc::new(self.pr_destination_branch.finish()),
            ),
            ("creator_uuid", Arc::new(self.creator_uuid.finish())),
            (
                "creator_account_id",
                Arc::new(self.creator_account_id.finish()),
            ),
            (
                "creator_display_name",
                Arc::new(self.creator_display_name.finish()),
            ),
            (
                "created_at",
                Arc::new(self.created_at.finish().with_timezone("UTC")),
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
            ("first_successful", Arc::new(self.first_successful.finish())),
            ("expired", Arc::new(self.expired.finish())),
            ("has_variables", Arc::new(self.has_variables.finish())),
            ("url", Arc::new(self.url.finish())),
            (
                "exported_at",
                Arc::new(self.exported_at.finish().with_timezone("UTC")),
            ),
        ];
        columns.extend(self.repo.finish());
        self.rows = 0;
        Table::PipelineRuns.batch_of(columns)
    }
}
