//! Wires extract → transform → load with bounded channels and reports how it went.

use crate::cli::{DeploymentArgs, LockArgs, ReplayArgs, StoreArgs, TuningArgs, VerifyArgs};
use crate::exit::{self, Exit};
use crate::signal;
use crate::summary::Summary;
use anyhow::{Context, anyhow};
use arrow::record_batch::RecordBatch;
use bbpipe_extract::{ExtractError, Replay};
use bbpipe_load::{
    DeploymentsNdjson, Destination, Holder, Lease, LeaseOptions, LoadError, LoadOptions,
    LoadSummary, ParquetSink, StoreOptions,
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

    let source = args.fixtures.display().to_string();
    let writer = Writer::open(
        destination,
        &workspaces,
        source.clone(),
        &args.tuning,
        &args.deployments,
        &args.lock,
    )
    .await?;
    let (extracted, transformed, loaded) = writer
        .run(|tx| replay.run(tx), transformer(&args.tuning, rules))
        .await?;
    // Decided before the summary takes the counts: exit 8 once it is printed.
    let outcome_code = fail_if_rejected(&transformed);
    if !quiet {
        let summary = Summary {
            source,
            destination: args.out.clone(),
            workspaces,
            pages: extracted.pages,
            input_bytes: extracted.bytes,
            transform: transformed,
            load: loaded,
            elapsed: started.elapsed(),
            requests: None,
            export: None,
        };
        print!("{summary}");
    }
    outcome_code
}

/// Exit code 8 when runs were set aside in `rejects`: the rest is committed, but a scheduler
/// should notice.
pub fn fail_if_rejected(transformed: &TransformSummary) -> anyhow::Result<()> {
    if transformed.rejected == 0 {
        return Ok(());
    }
    Err(Exit {
        code: exit::REJECTED.1,
        message: format!(
            "{} pipeline run(s) could not be decoded and were set aside in the `rejects` table \
             (the rest is committed; the next export tries them again): {}",
            transformed.rejected,
            transformed.rejected_examples.join("; ")
        ),
    }
    .into())
}

/// The load side of a run: the destination opened for some workspaces, under their leases.
pub struct Writer {
    pub sink: ParquetSink,
    leases: Vec<Arc<Lease>>,
}

impl Writer {
    /// Takes the workspaces' leases (waiting as `--wait-lock` allows), then opens the sink.
    pub async fn open(
        destination: Destination,
        workspaces: &[String],
        source: String,
        tuning: &TuningArgs,
        deployments: &DeploymentArgs,
        lock: &LockArgs,
    ) -> anyhow::Result<Writer> {
        let run_id = run_id();
        // Before the first lease is written: a lease marks a bbpipe dataset.
        bbpipe_load::check_is_dataset(&destination)
            .await
            .map_err(load_error)?;
        let mut leases = Vec::new();
        if lock.no_lock {
            tracing::warn!("--no-lock: nothing keeps other exports of these workspaces out");
        } else {
            bbpipe_load::check_conditional_writes(&destination, &run_id)
                .await
                .map_err(load_error)?;
            let options = LeaseOptions {
                duration: lock.lease,
                wait: lock.wait_lock.unwrap_or_default(),
            };
            // In name order: two runs waiting for each other's workspaces cannot deadlock.
            let mut sorted = workspaces.to_vec();
            sorted.sort();
            for workspace in &sorted {
                let holder = Holder::current(&run_id);
                let lease = tokio::select! {
                    lease = Lease::acquire(&destination, workspace, holder, &options) => lease,
                    signal = signal::received() => return Err(interrupted(signal)),
                };
                leases.push(Arc::new(lease.map_err(load_error)?));
            }
        }
        let options = LoadOptions {
            max_buffered_bytes: tuning.buffer_mib as usize * 1024 * 1024,
            upload_part_bytes: tuning.upload_part_mib as usize * 1024 * 1024,
            run_id,
            source,
        };
        let opened = async {
            let mut sink = ParquetSink::open(destination, options, workspaces).await?;
            if let Some(path) = &deployments.deployments_ndjson {
                sink = sink.with_deployments_ndjson(DeploymentsNdjson::create(&ndjson_path(
                    path, workspaces,
                )?)?);
            }
            Ok::<_, LoadError>(sink.with_leases(leases.iter().cloned()))
        }
        .await;
        match opened {
            Ok(sink) => Ok(Writer { sink, leases }),
            Err(e) => {
                release(leases).await;
                Err(load_error(e))
            }
        }
    }

    /// Runs the stages into the sink, then lets go of the leases whatever happened.
    pub async fn run<E, F>(
        self,
        extract: impl FnOnce(Sender<Message<RawPage>>) -> F,
        transformer: TransformOptions,
    ) -> anyhow::Result<(E, TransformSummary, LoadSummary)>
    where
        E: Send + 'static,
        F: Future<Output = Result<E, ExtractError>> + Send + 'static,
    {
        let Writer { sink, leases } = self;
        let commits = sink.commits();
        let result = run_stages(extract, transformer, sink).await;
        release(leases).await;
        let committed = commits.load(std::sync::atomic::Ordering::SeqCst);
        result.map_err(|error| {
            if committed == 0 {
                return error;
            }
            let note = format!(
                "{committed} checkpoint(s) were committed before it stopped; the next export \
                 continues from the last"
            );
            match error.downcast::<Exit>() {
                Ok(exit) => Exit {
                    code: exit.code,
                    message: format!("{}; {note}", exit.message),
                }
                .into(),
                Err(error) => error.context(note),
            }
        })
    }
}

/// `{workspace}` in the deployments file's path names each workspace's own file.
fn ndjson_path(path: &Path, workspaces: &[String]) -> Result<std::path::PathBuf, LoadError> {
    let text = path.to_string_lossy();
    if !text.contains("{workspace}") {
        return Ok(path.to_path_buf());
    }
    match workspaces {
        [workspace] => Ok(text.replace("{workspace}", workspace).into()),
        _ => Err(LoadError::File {
            path: text.into_owned(),
            source: std::io::Error::other(
                "{workspace} in the path needs a run of exactly one workspace",
            ),
        }),
    }
}

async fn release(leases: Vec<Arc<Lease>>) {
    for lease in leases {
        match Arc::try_unwrap(lease) {
            Ok(lease) => lease.release().await,
            // Still referenced (a stage did not finish): dropping it stops the renewal, and the
            // lease expires.
            Err(lease) => drop(lease),
        }
    }
}

/// Load errors with exit codes of their own: another writer (9).
pub fn load_error(error: LoadError) -> anyhow::Error {
    match error {
        LoadError::Locked { .. } | LoadError::LeaseLost { .. } | LoadError::Conflict { .. } => {
            Exit {
                code: exit::LOCKED.1,
                message: error.to_string(),
            }
            .into()
        }
        other => anyhow::Error::new(other).context("load failed"),
    }
}

fn interrupted(signal: signal::Signal) -> anyhow::Error {
    Exit {
        code: signal.exit_code(),
        message: format!(
            "interrupted by {}: stopped without committing what was not committed yet",
            signal.name()
        ),
    }
    .into()
}

/// Runs the three stages to the end and returns their summaries, or the error of the stage
/// that failed first (the others report `Cancelled` and are not shown). A SIGTERM or SIGINT
/// stops extract at once; transform and load then wind down (load deletes what it had not
/// committed) before this returns the signal's exit code.
pub async fn run_stages<E, F>(
    extract: impl FnOnce(Sender<Message<RawPage>>) -> F,
    transformer: TransformOptions,
    sink: ParquetSink,
) -> anyhow::Result<(E, TransformSummary, LoadSummary)>
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
            return Err(interrupted(signal));
        }
    };
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
        .map(load_error)
}

/// Replays `fixtures` through transform (no rules, no load) and hands every `pipeline_runs`
/// batch to `visit` until it breaks or fails; a failure is returned, never taken for a stop.
pub async fn for_each_run_batch(
    fixtures: &Path,
    mut visit: impl FnMut(&RecordBatch) -> anyhow::Result<ControlFlow<()>>,
) -> anyhow::Result<()> {
    let replay = Replay::open(fixtures).context("extract: cannot replay")?;
    let (page_tx, page_rx) = mpsc::channel(PAGE_CHANNEL);
    let (batch_tx, mut batch_rx) = mpsc::channel::<Message<TableBatch>>(BATCH_CHANNEL);
    let extract = tokio::spawn(replay.run(page_tx));
    // One worker: runs are explained in the order the pages list them.
    let options = TransformOptions::default();
    let transform = tokio::spawn(bbpipe_transform::run_stage(options, 1, page_rx, batch_tx));
    let mut stopped_early = false;
    let mut failed = None;
    while let Some(message) = batch_rx.recv().await {
        match message {
            Message::Data(batch) if batch.table == Table::PipelineRuns => match visit(&batch.batch)
            {
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
            Message::Data(_) | Message::Checkpoint(_) => {}
            Message::Complete => break,
        }
    }
    drop(batch_rx);
    let (extracted, transformed) = tokio::join!(extract, transform);
    if let Some(error) = failed {
        return Err(error);
    }
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
        for note in &report.notes {
            println!("note: {note}");
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
