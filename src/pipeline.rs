//! Wires extract → transform → load with bounded channels and reports how it went.

use crate::cli::{DeploymentArgs, ReplayArgs, StoreArgs, TuningArgs, VerifyArgs};
use crate::summary::Summary;
use anyhow::{Context, anyhow};
use arrow::record_batch::RecordBatch;
use bbpipe_extract::{ExtractError, Replay};
use bbpipe_load::{
    CommitInfo, DeploymentsNdjson, Destination, LoadError, LoadOptions, ParquetSink, StagedExport,
    StoreOptions,
};
use bbpipe_model::{Message, RawPage, Table, TableBatch};
use bbpipe_transform::{RuleSet, TransformError, TransformOptions, TransformSummary};
use chrono::Utc;
use std::future::Future;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::{self, Sender};

/// Pages in flight between extract and transform: enough to keep transform busy while the next
/// page is read, few enough to keep memory flat.
const PAGE_CHANNEL: usize = 16;
/// Batches in flight between transform and load.
const BATCH_CHANNEL: usize = 4;

pub async fn replay(args: ReplayArgs, quiet: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let rules = load_rules(&args.deployments)?;
    let replay = Replay::open(&args.fixtures).context("extract: cannot replay")?;
    let workspaces = replay.workspaces().to_vec();
    let destination = open_destination(&args.out, &args.store)?;
    tracing::info!(pages = replay.page_count(), from = %args.fixtures.display(), "replaying");

    let sink = sink(destination, &args.tuning, &args.deployments).await?;
    let (extracted, transformed, staged) =
        run_stages(|tx| replay.run(tx), transformer(&args.tuning, rules), sink).await?;
    let info = CommitInfo {
        source: args.fixtures.display().to_string(),
        requests: 0,
    };
    let (loaded, manifest) = staged
        .commit(info)
        .await
        .map_err(|e| anyhow!("load failed: {e}"))?;
    tracing::info!(manifest = %manifest.run_id, "committed");
    if !quiet {
        let summary = Summary {
            source: args.fixtures.display().to_string(),
            destination: args.out.clone(),
            workspaces,
            pages: extracted.pages,
            input_bytes: extracted.bytes,
            transform: transformed,
            load: loaded,
            elapsed: started.elapsed(),
            requests: None,
        };
        print!("{summary}");
    }
    Ok(())
}

/// Runs the three stages to the end and returns their summaries, or the error of the stage
/// that failed first (the others report `Cancelled` and are not shown).
pub async fn run_stages<E, F>(
    extract: impl FnOnce(Sender<Message<RawPage>>) -> F,
    transformer: TransformOptions,
    sink: ParquetSink,
) -> anyhow::Result<(E, TransformSummary, StagedExport)>
where
    E: Send + 'static,
    F: Future<Output = Result<E, ExtractError>> + Send + 'static,
{
    let (page_tx, page_rx) = mpsc::channel(PAGE_CHANNEL);
    let (batch_tx, batch_rx) = mpsc::channel(BATCH_CHANNEL);
    let extract = tokio::spawn(extract(page_tx));
    let transform = tokio::spawn(bbpipe_transform::run_stage(
        transformer,
        transform_workers(),
        page_rx,
        batch_tx,
    ));
    let load = tokio::spawn(sink.run(batch_rx));
    let (extracted, transformed, loaded) = tokio::join!(extract, transform, load);
    let (extracted, transformed, loaded) = (extracted?, transformed?, loaded?);
    match (extracted, transformed, loaded) {
        (Ok(e), Ok(t), Ok(l)) => Ok((e, t, l)),
        (extracted, transformed, loaded) => {
            Err(
                first_failure(extracted.err(), transformed.err(), loaded.err())
                    .unwrap_or_else(|| anyhow!("the run was cancelled")),
            )
        }
    }
}

/// The error of the stage that failed first, in pipeline order; the others only report that
/// they were cancelled because of it. Extract errors stay downcastable (exit codes).
fn first_failure(
    extract: Option<ExtractError>,
    transform: Option<TransformError>,
    load: Option<LoadError>,
) -> Option<anyhow::Error> {
    if let Some(e) = extract.filter(|e| !matches!(e, ExtractError::Cancelled)) {
        return Some(anyhow::Error::new(e).context("extract failed"));
    }
    if let Some(e) = transform.filter(|e| !matches!(e, TransformError::Cancelled)) {
        return Some(anyhow!("transform failed: {e}"));
    }
    load.filter(|e| !matches!(e, LoadError::Cancelled))
        .map(|e| anyhow!("load failed: {e}"))
}

/// Replays `fixtures` through transform (no rules, no load) and hands every `pipeline_runs`
/// batch to `visit` until it breaks.
pub async fn for_each_run_batch(
    fixtures: &Path,
    mut visit: impl FnMut(&RecordBatch) -> ControlFlow<()>,
) -> anyhow::Result<()> {
    let replay = Replay::open(fixtures).context("extract: cannot replay")?;
    let (page_tx, page_rx) = mpsc::channel(PAGE_CHANNEL);
    let (batch_tx, mut batch_rx) = mpsc::channel::<Message<TableBatch>>(BATCH_CHANNEL);
    let extract = tokio::spawn(replay.run(page_tx));
    // One worker: runs are explained in the order the pages list them.
    let options = TransformOptions::default();
    let transform = tokio::spawn(bbpipe_transform::run_stage(options, 1, page_rx, batch_tx));
    let mut stopped_early = false;
    while let Some(message) = batch_rx.recv().await {
        match message {
            Message::Data(batch) if batch.table == Table::PipelineRuns => {
                if visit(&batch.batch).is_break() {
                    stopped_early = true;
                    break;
                }
            }
            Message::Data(_) => {}
            Message::Complete => break,
        }
    }
    drop(batch_rx);
    let (extracted, transformed) = tokio::join!(extract, transform);
    match (extracted?, transformed?) {
        (Ok(_), Ok(_)) => Ok(()),
        (extracted, transformed) => match first_failure(extracted.err(), transformed.err(), None) {
            Some(error) => Err(error),
            None if stopped_early => Ok(()),
            None => Err(anyhow!("the run was cancelled")),
        },
    }
}

pub fn load_rules(args: &DeploymentArgs) -> anyhow::Result<Option<Arc<RuleSet>>> {
    let Some(path) = &args.rules else {
        return Ok(None);
    };
    let rules = RuleSet::load(path)?;
    for warning in rules.warnings() {
        tracing::warn!("{warning}");
    }
    Ok(Some(Arc::new(rules)))
}

pub fn open_destination(out: &str, store: &StoreArgs) -> anyhow::Result<Destination> {
    let options = StoreOptions {
        s3_endpoint: store.s3_endpoint.clone(),
        max_retries: store.store_retries,
        retry_timeout: std::time::Duration::from_secs(store.store_retry_timeout),
    };
    Destination::open(out, &options).map_err(|e| anyhow!("load: cannot open the destination: {e}"))
}

/// `bbpipe verify-output`.
pub async fn verify_output(args: VerifyArgs, quiet: bool) -> anyhow::Result<()> {
    let destination = open_destination(&args.dest, &args.store)?;
    let report = bbpipe_load::verify(&destination).await?;
    if !quiet {
        println!(
            "{}: {} manifests, {} files",
            args.dest, report.manifests, report.files
        );
        for (table, rows) in &report.rows {
            println!("  {table:<15} {rows} rows");
        }
    }
    if report.problems.is_empty() {
        if !quiet {
            println!("ok");
        }
        return Ok(());
    }
    for problem in &report.problems {
        println!("problem: {problem}");
    }
    Err(anyhow!(
        "{} problems found in {}",
        report.problems.len(),
        args.dest
    ))
}

pub fn transformer(tuning: &TuningArgs, rules: Option<Arc<RuleSet>>) -> TransformOptions {
    TransformOptions {
        batch_rows: tuning.batch_rows as usize,
        rules,
        emit_repositories: true,
    }
}

/// Transform workers: one per core. Load's work (splitting batches by day, writing partitions
/// as they complete) runs beside them and the scheduler shares the cores; on 2 cores this
/// replays 1M runs ~1.2x faster than keeping a core for load (BENCHMARKS.md).
fn transform_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub async fn sink(
    destination: Destination,
    tuning: &TuningArgs,
    deployments: &DeploymentArgs,
) -> anyhow::Result<ParquetSink> {
    let options = LoadOptions {
        max_buffered_bytes: tuning.buffer_mib as usize * 1024 * 1024,
        upload_part_bytes: tuning.upload_part_mib as usize * 1024 * 1024,
        run_id: run_id(),
    };
    let mut sink = ParquetSink::open(destination, options)
        .await
        .map_err(|e| anyhow!("load: {e}"))?;
    if let Some(path) = &deployments.deployments_ndjson {
        sink = sink.with_deployments_ndjson(DeploymentsNdjson::create(path)?);
    }
    Ok(sink)
}

/// A name for this export that sorts by time and does not collide with a concurrent one.
fn run_id() -> String {
    let now = Utc::now();
    format!(
        "{}-{:05}-{:08x}",
        now.format("%Y%m%dT%H%M%SZ"),
        std::process::id() % 100_000,
        now.timestamp_subsec_nanos()
    )
}
