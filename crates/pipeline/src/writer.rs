//! The load side of a run: the destination opened for some workspaces, under their leases.

use crate::error::PipelineError;
use crate::options::WriteOptions;
use crate::signal;
use crate::stages::run_stages;
use crate::watchdog::Watch;
use bbpipe_extract::ExtractError;
use bbpipe_load::{
    DeploymentsNdjson, Destination, Holder, Lease, LeaseOptions, LoadError, LoadOptions,
    LoadSummary, ParquetSink,
};
use bbpipe_model::{Message, RawPage, TableBatch};
use bbpipe_transform::{TransformOptions, TransformSummary};
use chrono::Utc;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc::Sender;

/// The sink of a run, opened under the leases of its workspaces.
pub(crate) struct Writer {
    pub(crate) sink: ParquetSink,
    pub(crate) run_id: String,
    leases: Vec<Arc<Lease>>,
}

/// Opens the destination named by `options.out`.
pub(crate) fn open_destination(options: &WriteOptions) -> Result<Destination, PipelineError> {
    Destination::open(&options.out, &options.store).map_err(PipelineError::Destination)
}

impl Writer {
    /// Takes the workspaces' leases (waiting as `options.lock` allows), then opens the sink,
    /// which reads what the manifests say is committed.
    pub(crate) async fn open(
        destination: Destination,
        workspaces: &[String],
        source: String,
        options: &WriteOptions,
    ) -> Result<Writer, PipelineError> {
        let run_id = run_id();
        // Before the first lease is written: a lease marks a bbpipe dataset.
        bbpipe_load::check_is_dataset(&destination)
            .await
            .map_err(PipelineError::load)?;
        let layout =
            bbpipe_load::resolve_layout(&destination, options.partition_by, options.format)
                .await
                .map_err(PipelineError::load)?;
        let mut leases = Vec::new();
        if options.lock.no_lock {
            tracing::warn!("--no-lock: nothing keeps other exports of these workspaces out");
        } else {
            bbpipe_load::check_conditional_writes(&destination, &run_id)
                .await
                .map_err(PipelineError::load)?;
            let lease_options = LeaseOptions {
                duration: options.lock.lease,
                wait: options.lock.wait.unwrap_or_default(),
            };
            // In name order: two runs waiting for each other's workspaces cannot deadlock.
            let mut sorted = workspaces.to_vec();
            sorted.sort();
            for workspace in &sorted {
                let holder = Holder::current(&run_id);
                let lease = tokio::select! {
                    lease = Lease::acquire(&destination, workspace, holder, &lease_options) => lease,
                    signal = signal::received() => {
                        release(leases).await;
                        return Err(PipelineError::Interrupted(signal));
                    }
                };
                match lease {
                    Ok(lease) => leases.push(Arc::new(lease)),
                    Err(e) => {
                        release(leases).await;
                        return Err(PipelineError::load(e));
                    }
                }
            }
        }
        let load_options = LoadOptions {
            max_buffered_bytes: options.buffer_bytes,
            upload_part_bytes: options.upload_part_bytes,
            run_id: run_id.clone(),
            source,
            partition_by: layout.partition_by,
            format: layout.format,
        };
        let opened = async {
            let mut sink = ParquetSink::open(destination, load_options, workspaces).await?;
            if let Some(path) = &options.deployments_ndjson {
                let path = ndjson_path(path, workspaces)?;
                sink = sink.with_deployments_ndjson(DeploymentsNdjson::create(&path)?);
            }
            Ok::<_, LoadError>(sink.with_leases(leases.iter().cloned()))
        }
        .await;
        match opened {
            Ok(sink) => Ok(Writer {
                sink,
                run_id,
                leases,
            }),
            Err(e) => {
                release(leases).await;
                Err(PipelineError::load(e))
            }
        }
    }

    /// Lets go of the leases without writing anything.
    pub(crate) async fn release(self) {
        let Writer { sink, leases, .. } = self;
        // The sink holds the leases too: it goes first, or they could not be released.
        drop(sink);
        release(leases).await;
    }

    /// The writer with its sink changed by `change` (e.g. to replace a table).
    pub(crate) fn map_sink(self, change: impl FnOnce(ParquetSink) -> ParquetSink) -> Writer {
        Writer {
            sink: change(self.sink),
            ..self
        }
    }

    /// Feeds the sink with what `produce` sends (table batches, then `Complete`), without
    /// extract or transform; then lets go of the leases whatever happened. If `produce` fails,
    /// the sink is cancelled and deletes what it wrote.
    pub(crate) async fn load<T, F>(
        self,
        produce: impl FnOnce(Sender<Message<TableBatch>>) -> F,
    ) -> Result<(T, LoadSummary), PipelineError>
    where
        F: Future<Output = Result<T, PipelineError>>,
    {
        let Writer { sink, leases, .. } = self;
        let (tx, rx) = tokio::sync::mpsc::channel(crate::stages::BATCH_CHANNEL);
        let load = tokio::spawn(sink.run(rx));
        let produced = produce(tx).await;
        let loaded = load.await;
        release(leases).await;
        let loaded = loaded.map_err(|e| PipelineError::Stage(format!("load: {e}")))?;
        match (produced, loaded) {
            (Err(error), _) => Err(error),
            (Ok(_), Err(error)) => Err(PipelineError::load(error)),
            (Ok(value), Ok(summary)) => Ok((value, summary)),
        }
    }

    /// Runs the stages into the sink (watched by `watch`, if given), then lets go of the
    /// leases whatever happened.
    pub(crate) async fn run<E, F>(
        self,
        extract: impl FnOnce(Sender<Message<RawPage>>) -> F,
        transformer: TransformOptions,
        watch: Option<Watch>,
    ) -> Result<(E, TransformSummary, LoadSummary), PipelineError>
    where
        E: Send + 'static,
        F: Future<Output = Result<E, ExtractError>> + Send + 'static,
    {
        let Writer { sink, leases, .. } = self;
        let commits = sink.commits();
        let result = run_stages(extract, transformer, sink, watch).await;
        release(leases).await;
        let committed = commits.load(std::sync::atomic::Ordering::SeqCst);
        result.map_err(|error| match committed {
            0 => error,
            committed => PipelineError::AfterCheckpoints {
                committed,
                source: Box::new(error),
            },
        })
    }
}

/// `{workspace}` in the deployments file's path names each workspace's own file.
pub(crate) fn ndjson_path(path: &Path, workspaces: &[String]) -> Result<PathBuf, LoadError> {
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

/// A name for this run that sorts by time and does not collide with a concurrent one.
fn run_id() -> String {
    let now = Utc::now();
    format!(
        "{}-{:05}-{:08x}",
        now.format("%Y%m%dT%H%M%SZ"),
        std::process::id() % 100_000,
        now.timestamp_subsec_nanos()
    )
}
