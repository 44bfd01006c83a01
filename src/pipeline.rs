//! Wires extract → transform → load with bounded channels and reports how it went.

use crate::cli::{ReplayArgs, TuningArgs};
use crate::summary::Summary;
use anyhow::{Context, anyhow};
use bbpipe_extract::{ExtractError, Replay};
use bbpipe_load::{Destination, LoadError, LoadOptions, ParquetSink};
use bbpipe_model::Table;
use bbpipe_transform::{TransformError, TransformOptions, Transformer};
use chrono::Utc;
use std::time::Instant;
use tokio::sync::mpsc;

/// Pages in flight between extract and transform: enough to keep transform busy while the next
/// page is read, few enough to keep memory flat.
const PAGE_CHANNEL: usize = 16;
/// Batches in flight between transform and load.
const BATCH_CHANNEL: usize = 4;

pub async fn replay(args: ReplayArgs, quiet: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let replay = Replay::open(&args.fixtures).context("extract: cannot replay")?;
    let workspaces = replay.workspaces().to_vec();
    let destination = open_destination(&args.out).await?;
    tracing::info!(pages = replay.page_count(), from = %args.fixtures.display(), "replaying");

    let (page_tx, page_rx) = mpsc::channel(PAGE_CHANNEL);
    let (batch_tx, batch_rx) = mpsc::channel(BATCH_CHANNEL);
    let transformer = transformer(&args.tuning);
    let sink = sink(destination, &args.tuning);

    let extract = tokio::spawn(replay.run(page_tx));
    let transform =
        tokio::task::spawn_blocking(move || transformer.run_blocking(page_rx, batch_tx));
    let load = tokio::spawn(sink.run(batch_rx));
    let (extracted, transformed, loaded) = tokio::join!(extract, transform, load);

    // A stage that stopped because another did reports `Cancelled`: show the cause instead.
    let extracted = extracted?;
    let transformed = transformed?;
    let loaded = loaded?;
    if let Err(error) = &extracted
        && !matches!(error, ExtractError::Cancelled)
    {
        return Err(anyhow!("extract failed: {error}"));
    }
    if let Err(error) = &transformed
        && !matches!(error, TransformError::Cancelled)
    {
        return Err(anyhow!("transform failed: {error}"));
    }
    let loaded = loaded.map_err(|error| anyhow!("load failed: {error}"))?;
    let (extracted, transformed) = match (extracted, transformed) {
        (Ok(e), Ok(t)) => (e, t),
        _ => return Err(anyhow!("a stage was cancelled without an error to report")),
    };
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
        };
        print!("{summary}");
    }
    Ok(())
}

async fn open_destination(out: &str) -> anyhow::Result<Destination> {
    let destination = Destination::parse(out).context("load: cannot open the destination")?;
    let tables: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
    destination
        .ensure_empty(&tables)
        .await
        .map_err(|e: LoadError| anyhow!("load: {e}"))?;
    Ok(destination)
}

fn transformer(tuning: &TuningArgs) -> Transformer {
    Transformer::new(TransformOptions {
        batch_rows: tuning.batch_rows as usize,
    })
}

fn sink(destination: Destination, tuning: &TuningArgs) -> ParquetSink {
    let options = LoadOptions {
        max_buffered_bytes: tuning.buffer_mib as usize * 1024 * 1024,
        run_id: run_id(),
    };
    ParquetSink::new(destination, options)
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
