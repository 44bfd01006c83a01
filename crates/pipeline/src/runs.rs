//! Pipeline runs (and Bitbucket's deployments) of recorded pages, batch by batch, for commands that look at runs without
//! writing a dataset (`rules check`, `rules explain`).

use crate::error::PipelineError;
use crate::stages::{BATCH_CHANNEL, PAGE_CHANNEL, first_failure, joined};
use arrow::record_batch::RecordBatch;
use bbpipe_extract::Replay;
use bbpipe_model::{Extras, Message, Table, TableBatch};
use bbpipe_transform::TransformOptions;
use std::ops::ControlFlow;
use std::path::Path;
use tokio::sync::mpsc;

/// Why a visitor of [`for_each_run_batch`] failed.
pub type VisitError = Box<dyn std::error::Error + Send + Sync>;

/// Replays `fixtures` through transform (no rules, no load) and hands every `pipeline_runs`
/// batch to `visit` until it breaks or fails; a failure is returned, never taken for a stop.
pub async fn for_each_run_batch(
    fixtures: &Path,
    mut visit: impl FnMut(&RecordBatch) -> Result<ControlFlow<()>, VisitError>,
) -> Result<(), PipelineError> {
    for_each_batch(fixtures, Extras::default(), |table, batch| {
        if table == Table::PipelineRuns {
            visit(batch)
        } else {
            Ok(ControlFlow::Continue(()))
        }
    })
    .await
}

/// As [`for_each_run_batch`], with the optional tables of `extras` replayed too: every batch
/// of every table goes to `visit`, with its table.
pub async fn for_each_batch(
    fixtures: &Path,
    extras: Extras,
    mut visit: impl FnMut(Table, &RecordBatch) -> Result<ControlFlow<()>, VisitError>,
) -> Result<(), PipelineError> {
    let replay = Replay::open(fixtures)
        .map_err(PipelineError::Fixtures)?
        .with(extras);
    let (page_tx, page_rx) = mpsc::channel(PAGE_CHANNEL);
    let (batch_tx, mut batch_rx) = mpsc::channel::<Message<TableBatch>>(BATCH_CHANNEL);
    let extract = tokio::spawn(replay.run(page_tx));
    // One worker: runs are visited in the order the pages list them.
    let options = TransformOptions::default();
    let transform = tokio::spawn(bbpipe_transform::run_stage(options, 1, page_rx, batch_tx));
    let mut stopped_early = false;
    let mut failed = None;
    while let Some(message) = batch_rx.recv().await {
        match message {
            Message::Data(batch) => match visit(batch.table, &batch.batch) {
                Ok(ControlFlow::Continue(())) => {}
                Ok(ControlFlow::Break(())) => {
                    stopped_early = true;
                    break;
                }
                Err(error) => {
                    failed = Some(error);
                    break;
                }
            },
            Message::Checkpoint(_) => {}
            Message::Complete => break,
        }
    }
    drop(batch_rx);
    let (extracted, transformed) = tokio::join!(extract, transform);
    if let Some(error) = failed {
        return Err(PipelineError::Visit(error));
    }
    match (joined(extracted)?, joined(transformed)?) {
        (Ok(_), Ok(_)) => Ok(()),
        (extracted, transformed) => match first_failure(extracted.err(), transformed.err(), None) {
            PipelineError::Stage(_) if stopped_early => Ok(()),
            error => Err(error),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo")
    }

    #[tokio::test]
    async fn a_visitor_error_is_returned_not_taken_for_a_stop() {
        let result = for_each_run_batch(&demo(), |_| Err("no such column".into())).await;
        match result {
            Err(PipelineError::Visit(error)) => assert_eq!(error.to_string(), "no such column"),
            other => panic!("expected the visitor's error, got {other:?}"),
        }
        let mut batches = 0;
        for_each_run_batch(&demo(), |_| {
            batches += 1;
            Ok(ControlFlow::Break(()))
        })
        .await
        .unwrap();
        assert_eq!(batches, 1, "a break stops at once and is not an error");
    }
}
