//! The delivery report of a dataset: reads the live files of `deployments`, `pipeline_runs` and
//! (where present) `pipeline_steps` that the window can touch, and computes the report.

use crate::error::PipelineError;
use crate::options::WriteOptions;
use crate::writer::open_destination;
use arrow::array::{Array, AsArray};
use arrow::datatypes::TimestampMicrosecondType;
use bbpipe_load::{Destination, History, Scan, Scope};
use bbpipe_model::{Granularity, PartitionKey, Table};
use bbpipe_report::{Collected, DeliveryReport, Filters, Input, Window, compute, day_of};
use chrono::{Months, NaiveDate};

/// What to report on.
#[derive(Debug, Clone)]
pub struct DeliveryJob {
    /// The dataset (`out` and `store`; nothing is written).
    pub dataset: WriteOptions,
    /// First day; default: 13 full weeks before `to`'s week.
    pub from: Option<NaiveDate>,
    /// Last day; default: the Sunday of the week of the newest deployment or run.
    pub to: Option<NaiveDate>,
    /// Only this workspace, service and environment.
    pub filters: Filters,
}

/// The report, and the weeks its charts span.
#[derive(Debug, Clone)]
pub struct DeliveryOutput {
    /// The numbers.
    pub report: DeliveryReport,
    /// The Mondays of the window's weeks.
    pub mondays: Vec<NaiveDate>,
}

/// Makes the delivery report of a dataset.
pub async fn delivery(job: &DeliveryJob) -> Result<DeliveryOutput, PipelineError> {
    let destination = open_destination(&job.dataset)?;
    bbpipe_load::check_is_dataset(&destination)
        .await
        .map_err(|e| PipelineError::Report(e.to_string()))?;
    let history = History::read(&destination, Scope::All)
        .await
        .map_err(PipelineError::load)?;
    let workspaces = reported_workspaces(&destination, &history, &job.filters)?;
    let live = |table: Table| -> Vec<(String, String)> {
        workspaces
            .iter()
            .flat_map(|ws| {
                history
                    .live_files(table, ws)
                    .into_iter()
                    .map(move |path| (ws.clone(), path))
            })
            .collect()
    };
    let mut runs = live(Table::PipelineRuns);
    if runs.is_empty() {
        return Err(PipelineError::Report(format!(
            "{} has no pipeline_runs in {}: nothing to report on",
            destination.display(),
            workspaces.join(", ")
        )));
    }
    let mut deployments = live(Table::Deployments);
    let window = window_of(job, &destination, &runs, &deployments).await?;
    let mut collected = Collected::default();
    let mut steps = live(Table::PipelineSteps);
    let mut commits = live(Table::DeploymentCommits);
    let mut tests = live(Table::TestCases);
    // Which tables the dataset has, whether or not a file of theirs falls in the window.
    collected.has_deployments_table = !deployments.is_empty();
    if !steps.is_empty() {
        collected.steps = Some(Vec::new());
    }
    if !commits.is_empty() {
        collected.commits = Some(Vec::new());
    }
    if !tests.is_empty() {
        collected.tests = Some(Vec::new());
    }
    for input in Input::ALL {
        // Exhaustive: an input added is a compile error here until its files are listed.
        let files = std::mem::take(match input {
            Input::Deployments => &mut deployments,
            Input::PipelineRuns => &mut runs,
            Input::PipelineSteps => &mut steps,
            Input::DeploymentCommits => &mut commits,
            Input::TestCases => &mut tests,
        });
        let touching = files.into_iter().filter(|(_, p)| !before(p, &window));
        let (table, columns) = (input.table(), input.columns());
        let mut scan = Scan::new(&destination, table, touching, columns);
        while let Some((path, batches)) = scan.next_file().await.map_err(PipelineError::load)? {
            for batch in &batches {
                collected
                    .add(input, batch, &window, &job.filters)
                    .map_err(|e| PipelineError::Report(format!("{path}: {e}")))?;
            }
        }
    }
    let in_window = collected
        .deployments
        .iter()
        .any(|d| window.contains(d.deployed_at));
    if collected.runs.is_empty() && !in_window {
        return Err(PipelineError::EmptyReport {
            from: window.from.to_string(),
            to: window.to.to_string(),
        });
    }
    let mondays = window.mondays();
    Ok(DeliveryOutput {
        report: compute(&collected, window, job.filters.clone()),
        mondays,
    })
}

/// The workspaces the report covers: the one `--workspace` names, else every one the dataset
/// holds; an error when there is none, or not that one.
fn reported_workspaces(
    destination: &Destination,
    history: &History,
    filters: &Filters,
) -> Result<Vec<String>, PipelineError> {
    let held: Vec<String> = history.workspaces.keys().cloned().collect();
    if held.is_empty() {
        return Err(PipelineError::Report(format!(
            "{} holds no bbpipe dataset (no committed manifest)",
            destination.display()
        )));
    }
    match &filters.workspace {
        Some(ws) if !held.contains(ws) => Err(PipelineError::Report(format!(
            "{} holds no workspace {ws} (it holds: {})",
            destination.display(),
            held.join(", ")
        ))),
        Some(ws) => Ok(vec![ws.clone()]),
        None => Ok(held),
    }
}

/// The report's window: `--from`/`--to`, by default the 13 full weeks ending with the week of
/// the newest run or deployment.
async fn window_of(
    job: &DeliveryJob,
    destination: &Destination,
    runs: &[(String, String)],
    deployments: &[(String, String)],
) -> Result<Window, PipelineError> {
    let window = match (job.from, job.to) {
        (Some(from), Some(to)) => Window { from, to },
        (from, to) => {
            let to = match to {
                Some(to) => to,
                None => {
                    let newest = newest_day(destination, runs, deployments).await?;
                    Window::ending_with_week_of(newest).to
                }
            };
            let default = Window::ending_with_week_of(to);
            Window {
                from: from.unwrap_or(default.from),
                to,
            }
        }
    };
    if window.from > window.to {
        return Err(PipelineError::Report(format!(
            "--from {} is after --to {}",
            window.from, window.to
        )));
    }
    Ok(window)
}

/// Whether a data file's partition ends before the window starts (it holds nothing the report
/// reads: runs and steps in the window, deployments from its start on).
fn before(path: &str, window: &Window) -> bool {
    let Some(period) = PartitionKey::of_path(path).and_then(|k| k.period) else {
        return false;
    };
    let first = period.first_day();
    let last = match period.granularity() {
        Granularity::Day => first,
        Granularity::Month => first
            .checked_add_months(Months::new(1))
            .and_then(|next| next.pred_opt())
            .unwrap_or(first),
    };
    last < window.from
}

/// The newest day any run was created or deployment made: read from the files of the newest
/// partitions only.
async fn newest_day(
    destination: &Destination,
    runs: &[(String, String)],
    deployments: &[(String, String)],
) -> Result<NaiveDate, PipelineError> {
    let mut newest: Option<i64> = None;
    for (table, files, column) in [
        (Table::PipelineRuns, runs, "created_at"),
        (Table::Deployments, deployments, "deployed_at"),
    ] {
        let period_of = |p: &str| PartitionKey::of_path(p).and_then(|k| k.period);
        let Some(last) = files.iter().filter_map(|(_, p)| period_of(p)).max() else {
            continue;
        };
        let last_files = files.iter().filter(|(_, p)| period_of(p) == Some(last));
        let columns = [column];
        let mut scan = Scan::new(destination, table, last_files.cloned(), &columns);
        while let Some((_, batches)) = scan.next_file().await.map_err(PipelineError::load)? {
            for batch in &batches {
                let Some(times) = batch
                    .column_by_name(column)
                    .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
                else {
                    continue;
                };
                let max = (0..times.len())
                    .filter(|i| times.is_valid(*i))
                    .map(|i| times.value(i))
                    .max();
                newest = newest.max(max);
            }
        }
    }
    newest.map(day_of).ok_or_else(|| {
        PipelineError::Report("the dataset holds no pipeline run and no deployment".into())
    })
}
