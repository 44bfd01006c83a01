//! The three stages, wired by bounded channels, run to the end or to the first failure.

use crate::error::PipelineError;
use crate::signal;
use bbpipe_extract::ExtractError;
use bbpipe_load::{LoadError, LoadSummary, ParquetSink};
use bbpipe_model::{Message, RawPage};
use bbpipe_transform::{RuleSet, TransformError, TransformOptions, TransformSummary};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc::{self, Sender};

/// Pages in flight between extract and transform: enough to keep transform busy while the next
/// page is read, few enough to keep memory flat.
pub(crate) const PAGE_CHANNEL: usize = 16;
/// Batches in flight between transform and load.
pub(crate) const BATCH_CHANNEL: usize = 4;

/// Reads the deploy rules, logging their warnings.
pub(crate) fn load_rules(path: Option<&Path>) -> Result<Option<Arc<RuleSet>>, PipelineError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let rules = RuleSet::load(path)?;
    for warning in rules.warnings() {
        tracing::warn!("{warning}");
    }
    Ok(Some(Arc::new(rules)))
}

/// Transform's options for a run that writes the dataset.
pub(crate) fn transformer(batch_rows: usize, rules: Option<Arc<RuleSet>>) -> TransformOptions {
    TransformOptions {
        batch_rows,
        rules,
        emit_repositories: true,
    }
}

/// Runs the three stages to the end and returns their summaries, or the error of the stage
/// that failed first (the others report `Cancelled` and are not shown). A SIGTERM or SIGINT
/// stops extract at once; transform and load then wind down (load deletes what it had not
/// committed) before this returns [`PipelineError::Interrupted`].
pub(crate) async fn run_stages<E, F>(
    extract: impl FnOnce(Sender<Message<RawPage>>) -> F,
    transformer: TransformOptions,
    sink: ParquetSink,
) -> Result<(E, TransformSummary, LoadSummary), PipelineError>
where
    E: Send + 'static,
    F: Future<Output = Result<E, ExtractError>> + Send + 'static,
{
    let (page_tx, page_rx) = mpsc::channel(PAGE_CHANNEL);
    let (batch_tx, batch_rx) = mpsc::channel(BATCH_CHANNEL);
    let extract = tokio::spawn(extract(page_tx));
    let stop_extract = extract.abort_handle();
    let transform = tokio::spawn(bbpipe_transform::run_stage(
        transformer,
        transform_workers(),
        page_rx,
        batch_tx,
    ));
    let load = tokio::spawn(sink.run(batch_rx));
    let stages = async { tokio::join!(extract, transform, load) };
    tokio::pin!(stages);
    let (extracted, transformed, loaded) = tokio::select! {
        results = &mut stages => results,
        signal = signal::received() => {
            stop_extract.abort();
            let _ = stages.await;
            return Err(PipelineError::Interrupted(signal));
        }
    };
    let (extracted, transformed, loaded) =
        (joined(extracted)?, joined(transformed)?, joined(loaded)?);
    match (extracted, transformed, loaded) {
        (Ok(e), Ok(t), Ok(l)) => Ok((e, t, l)),
        (extracted, transformed, loaded) => Err(first_failure(
            extracted.err(),
            transformed.err(),
            loaded.err(),
        )),
    }
}

/// A stage's result, or why its task ended without one.
pub(crate) fn joined<T>(result: Result<T, tokio::task::JoinError>) -> Result<T, PipelineError> {
    result.map_err(|e| PipelineError::Stage(e.to_string()))
}

/// The error of the stage that failed first, in pipeline order; the others only report that
/// they were cancelled because of it.
pub(crate) fn first_failure(
    extract: Option<ExtractError>,
    transform: Option<TransformError>,
    load: Option<LoadError>,
) -> PipelineError {
    if let Some(e) = extract.filter(|e| !matches!(e, ExtractError::Cancelled)) {
        return PipelineError::Extract(e);
    }
    if let Some(e) = transform.filter(|e| !matches!(e, TransformError::Cancelled)) {
        return PipelineError::Transform(e);
    }
    match load.filter(|e| !matches!(e, LoadError::Cancelled)) {
        Some(e) => PipelineError::load(e),
        None => PipelineError::Stage("the run was cancelled".into()),
    }
}

/// Transform workers: one per core. Load's work (splitting batches by month or day, writing
/// partitions as they complete) runs beside them and the scheduler shares the cores; on 2 cores
/// this replays 1M runs ~1.2x faster than keeping a core for load (BENCHMARKS.md).
fn transform_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
