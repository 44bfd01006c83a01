//! Test reports: a step's counts and its test cases, JSON values to rows of `test_reports` and
//! `test_cases`. What a row needs that the report does not say (the step, its run, the commit)
//! comes with the page ([`StepRef`], [`RunRef`]).

use crate::row::{RepoColumns, opt};
use arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use bbpipe_model::bitbucket::{TestCase, TestReport, duration_seconds};
use bbpipe_model::{RunRef, StepRef, Table};
use std::sync::Arc;

/// The repository, run and step a page of a test report belongs to.
pub struct TestContext<'a> {
    pub workspace: &'a str,
    pub slug: &'a str,
    pub repo_uuid: &'a str,
    pub run: &'a RunRef,
    pub step: &'a StepRef,
    pub exported_at: i64,
}

/// The columns every test row starts with: whose step it is.
#[derive(Default)]
struct StepColumns {
    repo: RepoColumns,
    pipeline_uuid: StringBuilder,
    build_number: Int64Builder,
    run_number: Int64Builder,
    step_uuid: StringBuilder,
    step_name: StringBuilder,
    commit_sha: StringBuilder,
    step_completed_at: TimestampMicrosecondBuilder,
    run_created_at: TimestampMicrosecondBuilder,
    exported_at: TimestampMicrosecondBuilder,
}

impl StepColumns {
    fn append(&mut self, at: &TestContext<'_>) {
        self.repo.append(at.workspace, at.slug, at.repo_uuid);
        self.pipeline_uuid.append_value(&at.run.uuid);
        self.build_number.append_value(at.run.build_number);
        self.run_number.append_option(at.step.run_number);
        self.step_uuid.append_value(&at.step.uuid);
        self.step_name.append_option(at.step.name.as_deref());
        self.commit_sha.append_option(at.step.commit.as_deref());
        self.step_completed_at.append_option(at.step.completed_at);
        self.run_created_at.append_value(at.run.created_at);
        self.exported_at.append_value(at.exported_at);
    }

    fn finish(&mut self) -> Vec<(&'static str, ArrayRef)> {
        let utc = |b: &mut TimestampMicrosecondBuilder| -> ArrayRef {
            Arc::new(b.finish().with_timezone("UTC"))
        };
        let mut columns: Vec<(&'static str, ArrayRef)> = vec![
            ("pipeline_uuid", Arc::new(self.pipeline_uuid.finish())),
            ("build_number", Arc::new(self.build_number.finish())),
            ("run_number", Arc::new(self.run_number.finish())),
            ("step_uuid", Arc::new(self.step_uuid.finish())),
            ("step_name", Arc::new(self.step_name.finish())),
            ("commit_sha", Arc::new(self.commit_sha.finish())),
            ("step_completed_at", utc(&mut self.step_completed_at)),
            ("run_created_at", utc(&mut self.run_created_at)),
            ("exported_at", utc(&mut self.exported_at)),
        ];
        columns.extend(self.repo.finish());
        columns
    }
}

/// Columns of `test_reports` under construction.
#[derive(Default)]
pub struct TestReportsBuilder {
    step: StepColumns,
    ref_name: StringBuilder,
    step_result: StringBuilder,
    counts: [Int64Builder; 5],
    rows: usize,
}

/// The count columns, in [`TestReportsBuilder::counts`] order.
const COUNTS: [&str; 5] = [
    "test_cases",
    "successful_test_cases",
    "failed_test_cases",
    "error_test_cases",
    "skipped_test_cases",
];

impl TestReportsBuilder {
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Appends a step's report.
    pub fn append(&mut self, report: &TestReport, at: &TestContext<'_>) {
        self.step.append(at);
        self.ref_name.append_option(at.step.ref_name.as_deref());
        self.step_result.append_option(at.step.result.as_deref());
        let values = [
            report.number_of_test_cases,
            report.number_of_successful_test_cases,
            report.number_of_failed_test_cases,
            report.number_of_error_test_cases,
            report.number_of_skipped_test_cases,
        ];
        for (builder, value) in self.counts.iter_mut().zip(values) {
            builder.append_option(value);
        }
        self.rows += 1;
    }

    /// Takes the rows built so far as a batch in [`Table::TestReports`] order.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut columns = self.step.finish();
        columns.push(("ref_name", Arc::new(self.ref_name.finish())));
        columns.push(("step_result", Arc::new(self.step_result.finish())));
        for (name, builder) in COUNTS.iter().zip(self.counts.iter_mut()) {
            columns.push((name, Arc::new(builder.finish())));
        }
        self.rows = 0;
        Table::TestReports.batch_of(columns)
    }
}

/// Columns of `test_cases` under construction.
#[derive(Default)]
pub struct TestCasesBuilder {
    step: StepColumns,
    uuid: StringBuilder,
    fully_qualified_name: StringBuilder,
    name: StringBuilder,
    package_name: StringBuilder,
    status: StringBuilder,
    duration: StringBuilder,
    duration_seconds: Float64Builder,
    rows: usize,
}

impl TestCasesBuilder {
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Appends one test case.
    pub fn append(&mut self, case: &TestCase<'_>, at: &TestContext<'_>) {
        self.step.append(at);
        self.uuid.append_value(&*case.uuid);
        self.fully_qualified_name
            .append_option(opt(&case.fully_qualified_name));
        self.name.append_option(opt(&case.name));
        self.package_name.append_option(opt(&case.package_name));
        self.status.append_option(opt(&case.status));
        let duration = case.duration.as_deref();
        self.duration.append_option(duration);
        self.duration_seconds
            .append_option(duration.and_then(duration_seconds));
        self.rows += 1;
    }

    /// Takes the rows built so far as a batch in [`Table::TestCases`] order.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut columns = self.step.finish();
        let text: [(&'static str, &mut StringBuilder); 6] = [
            ("uuid", &mut self.uuid),
            ("fully_qualified_name", &mut self.fully_qualified_name),
            ("name", &mut self.name),
            ("package_name", &mut self.package_name),
            ("status", &mut self.status),
            ("duration", &mut self.duration),
        ];
        for (name, builder) in text {
            columns.push((name, Arc::new(builder.finish())));
        }
        columns.push(("duration_seconds", Arc::new(self.duration_seconds.finish())));
        self.rows = 0;
        Table::TestCases.batch_of(columns)
    }
}
