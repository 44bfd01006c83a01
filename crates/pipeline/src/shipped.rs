//! The commits pass (`--with commits`): after a replay or an export committed its runs and
//! deployments, the commits each new successful deployment shipped are looked up and
//! committed to `deployment_commits`, in a commit of their own.
//!
//! Only deployments the table does not hold as they are now are looked up (see
//! [`bbpipe_transform::shipped::plan`]); an unchanged dataset costs no request. Rows of
//! deployments that are no longer successful ones are withdrawn in the same commit.

use crate::error::PipelineError;
use crate::options::WriteOptions;
use crate::signal;
use crate::writer::Writer;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::TimestampMicrosecondType;
use bbpipe_extract::{CommitQuery, CommitSource, CommitsAnswer};
use bbpipe_load::{Destination, Scan};
use bbpipe_model::{Message, Table, TableBatch};
use bbpipe_transform::shipped::{
    Answer, CommitRowsBuilder, Deployed, EarlierLookup, Lookup, Reason, plan,
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use std::collections::HashMap;

/// What the commits pass did in one workspace.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CommitsReport {
    /// The workspace.
    pub workspace: String,
    /// Successful deployments with a commit in the dataset.
    pub successful_deployments: u64,
    /// Of them, looked up by this run (new, re-run, or with a new predecessor).
    pub looked_up: u64,
    /// Commit rows written.
    pub commits: u64,
    /// Deployments that shipped no new commit (a redeploy or a rollback).
    pub no_new_commits: u64,
    /// Deployments whose history was rewritten (404): kept with no commit.
    pub history_rewritten: u64,
    /// Deployments whose list was cut at the limit, first deployments included.
    pub truncated: u64,
    /// Deployments whose rows were removed: no longer successful deployments.
    pub withdrawn: u64,
    /// Requests made (or recorded pages read, in a replay).
    pub requests: u64,
}

const DEPLOYMENT_COLUMNS: &[&str] = &[
    "reference_id",
    "repository",
    "repo_uuid",
    "service",
    "environment",
    "deployed_at",
    "commit_sha",
    "success",
];

const LOOKED_COLUMNS: &[&str] = &["reference_id", "deployed_at", "previous_reference_id"];

/// Looks up and commits the commits of `workspace`'s new successful deployments.
pub(crate) async fn ship_commits(
    destination: &Destination,
    workspace: &str,
    write: &WriteOptions,
    source: &CommitSource,
    options: &CommitsPassOptions,
) -> Result<(CommitsReport, bbpipe_load::LoadSummary), PipelineError> {
    let CommitsPassOptions {
        recorded_at,
        concurrency,
    } = *options;
    // The deployments file belongs to the run that wrote the deployments.
    let write = WriteOptions {
        deployments_ndjson: None,
        ..write.clone()
    };
    let workspaces = [workspace.to_string()];
    let writer = Writer::open(destination.clone(), &workspaces, "commits".into(), &write).await?;
    let deployments = read_deployments(destination, workspace, &writer).await?;
    let stored = read_looked(destination, workspace, &writer).await?;
    let plan = plan(deployments, &stored);
    let mut report = CommitsReport {
        workspace: workspace.to_string(),
        successful_deployments: plan.successful,
        looked_up: plan.lookups.len() as u64,
        withdrawn: plan.withdrawn.len() as u64,
        ..CommitsReport::default()
    };
    if plan.lookups.is_empty() && plan.withdrawn.is_empty() {
        writer.release().await;
        return Ok((report, bbpipe_load::LoadSummary::default()));
    }
    tracing::info!(
        workspace,
        deployments = plan.lookups.len(),
        "looking up the commits of new successful deployments"
    );
    let writer = writer.map_sink(|sink| {
        sink.withdrawing(Table::DeploymentCommits, workspace, plan.withdrawn.clone())
    });
    let counted = &mut report;
    let lookups = plan.lookups;
    let ((), loaded) = writer
        .load(|tx| async move {
            let asking = Asking {
                source,
                recorded_at,
                concurrency,
                batch_rows: write.batch_rows,
            };
            ask_and_send(&tx, workspace, lookups, &asking, counted).await
        })
        .await?;
    report.requests = source.requests();
    if report.history_rewritten > 0 {
        tracing::warn!(
            workspace,
            deployments = report.history_rewritten,
            "deployed commits no longer in their repository's history (a force-push?): \
             those deployments are kept with no commit and reason history_rewritten"
        );
    }
    Ok((report, loaded))
}

/// How the commits pass asks its questions.
struct Asking<'a> {
    source: &'a CommitSource,
    recorded_at: Option<DateTime<Utc>>,
    concurrency: usize,
    batch_rows: usize,
}

/// Asks each lookup's question (`concurrency` at once, answers in order) and sends the rows of
/// `deployment_commits` to load a batch at a time, then completion; stops on a signal.
async fn ask_and_send(
    tx: &tokio::sync::mpsc::Sender<Message<TableBatch>>,
    workspace: &str,
    lookups: Vec<Lookup>,
    asking: &Asking<'_>,
    counted: &mut CommitsReport,
) -> Result<(), PipelineError> {
    let Asking {
        source,
        recorded_at,
        concurrency,
        batch_rows,
    } = *asking;
    let mut builder = CommitRowsBuilder::new(workspace, source.max(), source.messages());
    let mut answers = futures::stream::iter(lookups)
        .map(|lookup| async move {
            let query = CommitQuery {
                repo_slug: lookup.deployment.repo_slug().to_string(),
                new: lookup.deployment.commit_sha.clone().unwrap_or_default(),
                old: lookup.previous.as_ref().map(|(_, sha)| sha.clone()),
            };
            let shipped = source.shipped(&query).await;
            (lookup, shipped, recorded_at.unwrap_or_else(Utc::now))
        })
        .buffered(concurrency.max(1));
    loop {
        let next = tokio::select! {
            next = answers.next() => next,
            signal = signal::received() => return Err(PipelineError::Interrupted(signal)),
        };
        let Some((lookup, shipped, at)) = next else {
            break;
        };
        let shipped = shipped.map_err(PipelineError::Extract)?;
        append(&mut builder, &lookup, &shipped, at, counted)?;
        if builder.rows() >= batch_rows {
            send(
                tx,
                workspace,
                builder.finish().map_err(PipelineError::Transform)?,
            )
            .await?;
        }
    }
    if builder.rows() > 0 {
        send(
            tx,
            workspace,
            builder.finish().map_err(PipelineError::Transform)?,
        )
        .await?;
    }
    let _ = tx.send(Message::Complete).await;
    Ok(())
}

/// The commits pass over `workspaces`, each with its source, as `options` say; adds to
/// `report`.
pub(crate) async fn commits_pass(
    workspaces: &[String],
    write: &WriteOptions,
    report: &mut crate::Report,
    options: CommitsPassOptions,
    source_of: impl Fn(&str) -> CommitSource,
) -> Result<(), PipelineError> {
    let destination = crate::writer::open_destination(write)?;
    for workspace in workspaces {
        let source = source_of(workspace);
        let (done, loaded) =
            ship_commits(&destination, workspace, write, &source, &options).await?;
        if done.successful_deployments == 0 && write.rules.is_none() {
            tracing::warn!(
                workspace,
                "--with commits: the dataset holds no successful deployment (give --rules)"
            );
        }
        report.add_written(&loaded);
        report.commits.push(done);
    }
    Ok(())
}

/// How one workspace's commits are asked for, besides the source (which knows the limit and
/// whether messages are kept).
#[derive(Clone, Copy)]
pub(crate) struct CommitsPassOptions {
    /// Stamps the rows of a replay.
    pub(crate) recorded_at: Option<DateTime<Utc>>,
    /// Lookups in flight.
    pub(crate) concurrency: usize,
}

fn append(
    builder: &mut CommitRowsBuilder,
    lookup: &Lookup,
    shipped: &CommitsAnswer,
    at: DateTime<Utc>,
    report: &mut CommitsReport,
) -> Result<(), PipelineError> {
    let answer = match shipped {
        CommitsAnswer::Pages { pages, cut } => Answer::Pages { pages, cut: *cut },
        CommitsAnswer::Gone => Answer::Gone,
    };
    let appended = builder
        .append(lookup, answer, at.timestamp_micros())
        .map_err(PipelineError::Transform)?;
    report.commits += appended.commits as u64;
    match appended.reason {
        Some(Reason::NoNewCommits) => report.no_new_commits += 1,
        Some(Reason::HistoryRewritten) => report.history_rewritten += 1,
        None => {}
    }
    let cut = matches!(shipped, CommitsAnswer::Pages { cut: true, .. });
    if appended.commits > 0 && (cut || lookup.previous.is_none()) {
        report.truncated += 1;
    }
    Ok(())
}

async fn send(
    tx: &tokio::sync::mpsc::Sender<Message<TableBatch>>,
    workspace: &str,
    batch: RecordBatch,
) -> Result<(), PipelineError> {
    let batch = TableBatch {
        table: Table::DeploymentCommits,
        workspace: workspace.to_string(),
        batch,
    };
    tx.send(Message::Data(batch))
        .await
        .map_err(|_| PipelineError::Stage("load stopped".into()))
}

/// Every deployment of the workspace, as its live `deployments` files hold them.
async fn read_deployments(
    destination: &Destination,
    workspace: &str,
    writer: &Writer,
) -> Result<Vec<Deployed>, PipelineError> {
    let mut out = Vec::new();
    let files = writer.sink.live_files(Table::Deployments, workspace);
    let table = Table::Deployments;
    let mut scan = Scan::of_workspace(destination, table, workspace, files, DEPLOYMENT_COLUMNS);
    while let Some((path, batches)) = scan.next_file().await.map_err(PipelineError::load)? {
        for batch in &batches {
            let text = |name| text_column(batch, name, &path);
            let (ids, repos, uuids, services, environments, shas) = (
                text("reference_id")?,
                text("repository")?,
                text("repo_uuid")?,
                text("service")?,
                text("environment")?,
                text("commit_sha")?,
            );
            let at = time_column(batch, "deployed_at", &path)?;
            let success = batch
                .column_by_name("success")
                .and_then(|c| c.as_boolean_opt())
                .ok_or_else(|| missing(&path, "success"))?;
            for row in 0..batch.num_rows() {
                out.push(Deployed {
                    reference_id: ids.value(row).to_string(),
                    repository: repos.value(row).to_string(),
                    repo_uuid: uuids.value(row).to_string(),
                    service: services.value(row).to_string(),
                    environment: environments.value(row).to_string(),
                    deployed_at: at.value(row),
                    commit_sha: shas
                        .is_valid(row)
                        .then(|| shas.value(row).to_string())
                        .filter(|sha| bbpipe_extract::is_commit_hash(sha)),
                    success: success.is_valid(row) && success.value(row),
                });
            }
        }
    }
    Ok(out)
}

/// What `deployment_commits` says of each deployment it holds.
async fn read_looked(
    destination: &Destination,
    workspace: &str,
    writer: &Writer,
) -> Result<HashMap<String, EarlierLookup>, PipelineError> {
    let mut out = HashMap::new();
    let files = writer.sink.live_files(Table::DeploymentCommits, workspace);
    let table = Table::DeploymentCommits;
    let mut scan = Scan::of_workspace(destination, table, workspace, files, LOOKED_COLUMNS);
    while let Some((path, batches)) = scan.next_file().await.map_err(PipelineError::load)? {
        for batch in &batches {
            let ids = text_column(batch, "reference_id", &path)?;
            let previous = text_column(batch, "previous_reference_id", &path)?;
            let at = time_column(batch, "deployed_at", &path)?;
            for row in 0..batch.num_rows() {
                if out.contains_key(ids.value(row)) {
                    continue;
                }
                out.insert(
                    ids.value(row).to_string(),
                    EarlierLookup {
                        deployed_at: at.value(row),
                        previous_reference_id: previous
                            .is_valid(row)
                            .then(|| previous.value(row).to_string()),
                    },
                );
            }
        }
    }
    Ok(out)
}

fn text_column<'a>(
    batch: &'a RecordBatch,
    name: &str,
    path: &str,
) -> Result<&'a arrow::array::StringArray, PipelineError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| missing(path, name))
}

fn time_column<'a>(
    batch: &'a RecordBatch,
    name: &str,
    path: &str,
) -> Result<&'a arrow::array::TimestampMicrosecondArray, PipelineError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
        .ok_or_else(|| missing(path, name))
}

fn missing(path: &str, name: &str) -> PipelineError {
    PipelineError::Stage(format!("{path}: no readable column {name}"))
}

#[cfg(test)]
mod tests {
    use super::{DEPLOYMENT_COLUMNS, LOOKED_COLUMNS};
    use bbpipe_model::Table;

    /// The commits pass names the columns it reads back as text: each must be in the spec.
    #[test]
    fn every_column_read_back_is_in_its_tables_spec() {
        for (table, columns) in [
            (Table::Deployments, DEPLOYMENT_COLUMNS),
            (Table::DeploymentCommits, LOOKED_COLUMNS),
        ] {
            assert!(table.missing(columns).is_empty(), "{table:?}");
        }
    }
}
