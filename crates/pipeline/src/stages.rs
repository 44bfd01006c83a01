//! The three stages, wired by bounded channels, run to the end or to the first failure.

use crate::error::PipelineError;
use crate::signal;
use crate::watchdog::{Watch, Watchdog};
use bbpipe_extract::ExtractError;
use bbpipe_load::{LoadError, LoadSummary, ParquetSink};
use bbpipe_model::{Message, RawPage};
use bbpipe_transform::{RuleSet, TransformError, TransformOptions, TransformSummary};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
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
        ..TransformOptions::default()
    }
}

/// Runs the three stages to the end and returns their summaries, or the error of the stage
/// that failed first (the others report `Cancelled` and are not shown). A SIGTERM or SIGINT
/// stops extract at once; transform and load then wind down (load deletes what it had not
/// committed) before this returns [`PipelineError::Interrupted`]. With a `watch`, the stages
/// report to its activity and a run in which nothing moves for its timeout stops the same way
/// with [`PipelineError::Stalled`] (see [`crate::watchdog`]).
pub(crate) async fn run_stages<E, F>(
    extract: impl FnOnce(Sender<Message<RawPage>>) -> F,
    mut transformer: TransformOptions,
    mut sink: ParquetSink,
    watch: Option<Watch>,
) -> Result<(E, TransformSummary, LoadSummary), PipelineError>
where
    E: Send + 'static,
    F: Future<Output = Result<E, ExtractError>> + Send + 'static,
{
    let (page_tx, page_rx) = mpsc::channel(PAGE_CHANNEL);
    let (batch_tx, batch_rx) = mpsc::channel(BATCH_CHANNEL);
    let mut watchdog = None;
    if let Some(watch) = watch {
        transformer.activity = Arc::clone(&watch.activity);
        sink = sink.with_activity(Arc::clone(&watch.activity));
        watchdog = Some(
            Watchdog::new(watch)
                .channel("pages queued for transform", &page_tx)
                .channel("batches queued for load", &batch_tx),
        );
    }
    let extract = tokio::spawn(extract(page_tx));
    let stop_extract = extract.abort_handle();
    let transform = tokio::spawn(bbpipe_transform::run_stage(
        transformer,
        transform_workers(),
        page_rx,
        batch_tx,
    ));
    let load = tokio::spawn(sink.run(batch_rx));
    let stop_all = [
        stop_extract.clone(),
        transform.abort_handle(),
        load.abort_handle(),
    ];
    let stages = async { tokio::join!(extract, transform, load) };
    tokio::pin!(stages);
    let stalled = async {
        match &watchdog {
            Some(watchdog) => watchdog.stalled().await,
            None => std::future::pending().await,
        }
    };
    let (extracted, transformed, loaded) = tokio::select! {
        results = &mut stages => results,
        signal = signal::received() => {
            stop_extract.abort();
            let _ = stages.await;
            return Err(PipelineError::Interrupted(signal));
        }
        waiting = stalled => {
            // As on a signal: extract stops, the others wind down and load deletes what it had
            // not committed. A stage that cannot move even for that is stopped where it is
            // (what it wrote is left for the next export to remove).
            stop_extract.abort();
            let timeout = watchdog.as_ref().map_or(Duration::ZERO, Watchdog::timeout);
            if tokio::time::timeout(timeout.min(WIND_DOWN), &mut stages).await.is_err() {
                stop_all.iter().for_each(tokio::task::AbortHandle::abort);
                let _ = stages.await;
            }
            return Err(PipelineError::Stalled { timeout, waiting });
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

/// How long stages get to wind down after a stall, at most.
const WIND_DOWN: Duration = Duration::from_secs(30);

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
