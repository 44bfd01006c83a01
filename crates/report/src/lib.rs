//! The delivery report: DORA metrics (deploy frequency, change failure rate, time to restore,
//! lead time where known) and pipeline health (success rate, durations, build minutes, failing
//! pipelines, steps) from the tables of a bbpipe dataset, as JSON and as one HTML page.
//!
//! The caller feeds batches of the dataset's live files to [`Collected::add`] (only what the
//! [`Window`] and [`Filters`] keep is held), then [`compute`]s a [`DeliveryReport`] and
//! [`render`]s it. Every figure is defined in docs/guides/report.md so that SQL can reproduce it.

#![deny(missing_docs)]

mod bands;
mod charts;
mod collect;
mod dora;
mod html;
mod metrics;
mod report;
mod test_figures;
mod window;

pub use bands::Band;
pub use collect::{Collected, ColumnError, Filters, Input};
pub use html::{HtmlError, render};
pub use metrics::{compute, quantile};
pub use report::{
    DeliveryReport, DeploymentMetrics, FailingPipeline, FailingTest, FlakyTest, LeadTime,
    OpenFailure, RepositoryReport, RunMetrics, ServiceReport, StepFigure, StepTestFailures,
    StepsReport, TestsReport, TimeToRestore, Trends, Unfinished, UnfinishedRun, WeekOfRuns,
    WeeklyDeployments, WeeklyMedian, WindowReport,
};
pub use window::{DEFAULT_WEEKS, Window, day_of, week_of};
