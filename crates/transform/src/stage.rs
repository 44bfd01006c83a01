//! The transform stage: [`Transformer`] workers on blocking threads, pages routed to them so
//! that a repository's pages stay in order, batches and checkpoints passed on.

use crate::error::TransformError;
use crate::transformer::{TransformOptions, TransformSummary, Transformer};
use bbpipe_model::{Activity, Message, RawPage, TableBatch, Wait};
use tokio::sync::mpsc::{Receiver, Sender};

impl Transformer {
    fn send_all(
        &self,
        out: &mut Vec<TableBatch>,
        output: &Sender<Message<TableBatch>>,
        activity: &Activity,
    ) -> Result<(), TransformError> {
        for batch in out.drain(..) {
            let _waiting = activity.waiting(Wait::SendBatch);
            output
                .blocking_send(Message::Data(batch))
                .map_err(|_| TransformError::Cancelled)?;
        }
        Ok(())
    }

    /// Transforms pages on the calling thread until the input completes (then returns its
    /// summary, without sending `Complete`: [`run_stage`] does, once every worker is done) or
    /// fails. Decoding is CPU-bound: the caller runs this under `spawn_blocking`.
    fn run_worker(
        mut self,
        mut input: Receiver<Message<RawPage>>,
        output: Sender<Message<TableBatch>>,
    ) -> Result<TransformSummary, TransformError> {
        let mut out = Vec::new();
        let activity = self.activity();
        loop {
            let finished = match input.blocking_recv() {
                Some(Message::Data(page)) => {
                    let _decoding = activity.waiting(Wait::Decode);
                    self.push(&page, &mut out)?;
                    activity.moved();
                    false
                }
                Some(Message::Checkpoint(mark)) => {
                    // Everything this worker read before the mark goes down before it.
                    self.finish(&mut out)?;
                    self.send_all(&mut out, &output, &activity)?;
                    output
                        .blocking_send(Message::Checkpoint(mark))
                        .map_err(|_| TransformError::Cancelled)?;
                    continue;
                }
                Some(Message::Complete) => {
                    self.finish(&mut out)?;
                    true
                }
                // The extractor stopped without completing: it reports its own error.
                None => return Err(TransformError::Cancelled),
            };
            self.send_all(&mut out, &output, &activity)?;
            if finished {
                return Ok(self.into_summary());
            }
        }
    }
}

/// Runs the transform stage with `workers` threads: pages go round-robin to the workers
/// (repository and environment pages to all of them), their batches to `output`, then one `Complete` once every
/// worker finished. The first real error wins; the other workers stop as their input closes.
pub async fn run_stage(
    options: TransformOptions,
    workers: usize,
    mut input: Receiver<Message<RawPage>>,
    output: Sender<Message<TableBatch>>,
) -> Result<TransformSummary, TransformError> {
    let workers = workers.max(1);
    let mut senders = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers);
    for worker in 0..workers {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let options = TransformOptions {
            emit_repositories: worker == 0,
            ..options.clone()
        };
        let transformer = Transformer::new(options);
        let output = output.clone();
        handles.push(tokio::task::spawn_blocking(move || {
            transformer.run_worker(rx, output)
        }));
        senders.push(tx);
    }
    let routed = route(&mut input, &senders).await;
    drop(senders);
    let mut summary = TransformSummary::default();
    let mut failure = None;
    for handle in handles {
        match handle.await {
            Ok(Ok(part)) => summary.merge(part),
            Ok(Err(TransformError::Cancelled)) => {}
            Ok(Err(error)) => {
                failure.get_or_insert(error);
            }
            Err(panic) => {
                failure.get_or_insert(TransformError::Internal(panic.to_string()));
            }
        }
    }
    if let Some(error) = failure {
        return Err(error);
    }
    routed?;
    output
        .send(Message::Complete)
        .await
        .map_err(|_| TransformError::Cancelled)?;
    Ok(summary)
}

/// Hands pages to the workers until the input completes (Ok) or closes without completing.
async fn route(
    input: &mut Receiver<Message<RawPage>>,
    workers: &[Sender<Message<RawPage>>],
) -> Result<(), TransformError> {
    let cancelled = |_| TransformError::Cancelled;
    let mut next = 0;
    loop {
        match input.recv().await {
            Some(Message::Data(page)) if page.source.endpoint.is_reference() => {
                for worker in workers {
                    worker
                        .send(Message::Data(page.clone()))
                        .await
                        .map_err(cancelled)?;
                }
            }
            Some(Message::Data(page)) => {
                workers[next]
                    .send(Message::Data(page))
                    .await
                    .map_err(cancelled)?;
                next = (next + 1) % workers.len();
            }
            Some(Message::Checkpoint(mark)) => {
                // One copy per worker: load commits once every worker passed the mark.
                let mark = bbpipe_model::Checkpoint {
                    copies: workers.len(),
                    ..mark
                };
                for worker in workers {
                    worker
                        .send(Message::Checkpoint(mark.clone()))
                        .await
                        .map_err(cancelled)?;
                }
            }
            Some(Message::Complete) => {
                for worker in workers {
                    worker.send(Message::Complete).await.map_err(cancelled)?;
                }
                return Ok(());
            }
            None => return Err(TransformError::Cancelled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bbpipe_model::{Endpoint, Table};
    use std::collections::BTreeMap;

    const REPOSITORIES: &[u8] =
        include_bytes!("../../../fixtures/demo/acme/repositories/page-0001.json");
    const RUNS: [&[u8]; 2] = [
        include_bytes!("../../../fixtures/demo/acme/web-app/pipelines/page-0001.json"),
        include_bytes!("../../../fixtures/demo/acme/web-app/pipelines/page-0002.json"),
    ];

    fn page(endpoint: Endpoint, body: &'static [u8], page: u32) -> Message<RawPage> {
        Message::Data(crate::transformer::tests::page(endpoint, body, page))
    }

    async fn run(workers: usize) -> (TransformSummary, BTreeMap<Table, usize>) {
        let (page_tx, page_rx) = tokio::sync::mpsc::channel(8);
        let (batch_tx, mut batch_rx) = tokio::sync::mpsc::channel(8);
        let stage = tokio::spawn(run_stage(
            TransformOptions::default(),
            workers,
            page_rx,
            batch_tx,
        ));
        page_tx
            .send(page(Endpoint::Repositories, REPOSITORIES, 1))
            .await
            .unwrap();
        for (i, body) in RUNS.iter().enumerate() {
            page_tx
                .send(page(Endpoint::Pipelines, body, i as u32 + 1))
                .await
                .unwrap();
        }
        page_tx.send(Message::Complete).await.unwrap();
        let mut rows = BTreeMap::new();
        let mut completes = 0;
        while let Some(message) = batch_rx.recv().await {
            match message {
                Message::Data(batch) => {
                    *rows.entry(batch.table).or_default() += batch.batch.num_rows()
                }
                Message::Checkpoint(_) => {}
                Message::Complete => completes += 1,
            }
        }
        assert_eq!(
            completes, 1,
            "exactly one Complete, after every worker finished"
        );
        (stage.await.unwrap().unwrap(), rows)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn several_workers_give_what_one_gives() {
        let (one, one_rows) = run(1).await;
        let (three, three_rows) = run(3).await;
        assert_eq!(one_rows, three_rows);
        assert_eq!(
            one_rows[&Table::Repositories],
            9,
            "repositories written once"
        );
        assert_eq!(one_rows[&Table::PipelineRuns], 200);
        assert_eq!(one.pipeline_runs, three.pipeline_runs);
        assert_eq!(one.runs_by_status, three.runs_by_status);
        assert_eq!(one.repositories, three.repositories);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bad_page_in_any_worker_fails_the_stage_without_complete() {
        let (page_tx, page_rx) = tokio::sync::mpsc::channel(8);
        let (batch_tx, mut batch_rx) = tokio::sync::mpsc::channel(64);
        let stage = tokio::spawn(run_stage(TransformOptions::default(), 2, page_rx, batch_tx));
        page_tx
            .send(page(Endpoint::Pipelines, RUNS[0], 1))
            .await
            .unwrap();
        page_tx
            .send(page(Endpoint::Pipelines, b"{\"values\": [", 2))
            .await
            .unwrap();
        let _ = page_tx.send(Message::Complete).await;
        let error = stage.await.unwrap().unwrap_err();
        assert!(matches!(error, TransformError::Json { .. }), "{error}");
        while let Some(message) = batch_rx.recv().await {
            assert!(
                matches!(message, Message::Data(_)),
                "no Complete after a failure"
            );
        }
    }
}
