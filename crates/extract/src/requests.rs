//! Where an export's requests go out and its pages leave extract: request slots, URLs built
//! one path segment per value, recording, counting and the channel to transform.

use crate::api::ApiError;
use crate::error::ExtractError;
use crate::export::Exporter;
use bbpipe_model::{Endpoint, Message, PageSource, RawPage, RunRef, StepRef, Wait};
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc::Sender;
use tokio_util::task::AbortOnDropHandle;
use url::Url;

impl Exporter {
    /// GETs `url` in one of the request slots.
    ///
    /// The request runs as a task of its own, which takes a slot, sends, reads the response and
    /// gives the slot back whether or not the caller is polling it. Walks prefetch pages in
    /// `buffered` streams that they poll only between their own requests: a slot taken inside
    /// such a stream while its walk waited for the steps of a page would be held until that
    /// walk got a slot itself, and with every slot held that way the export stopped for ever.
    pub(crate) async fn get(&self, url: &Url) -> Result<Bytes, ApiError> {
        let (slots, client, activity) = (
            Arc::clone(&self.slots),
            Arc::clone(&self.client),
            Arc::clone(&self.activity),
        );
        let owned = url.clone();
        let request = tokio::spawn(async move {
            let slot = {
                let _waiting = activity.waiting(Wait::RequestSlot);
                slots.acquire_owned().await
            };
            let _slot = slot.map_err(|_| ApiError::Unreachable {
                url: owned.to_string(),
                message: "export stopped".into(),
            })?;
            let _waiting = activity.waiting(Wait::Response);
            client.get_watched(&owned, Some(&activity)).await
        });
        // Dropped (the export failed or stopped): the request stops too.
        AbortOnDropHandle::new(request)
            .await
            .map_err(|e| ApiError::Unreachable {
                url: url.to_string(),
                message: format!("the request's task ended: {e}"),
            })?
    }

    /// The API's URL of `segments` (each one path segment) with `query`.
    pub(crate) fn url<S: AsRef<str>>(
        &self,
        segments: &[S],
        query: &[(&str, String)],
    ) -> Result<Url, ApiError> {
        let mut url = self.client.endpoint(segments)?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        Ok(url)
    }

    /// Where every page leaves extract: recorded (with `--record`), counted, sent on.
    pub(crate) async fn send(
        &self,
        output: &Sender<Message<RawPage>>,
        endpoint: Endpoint,
        repo_slug: Option<&str>,
        url: &Url,
        page: u32,
        body: Bytes,
    ) -> Result<(), ExtractError> {
        if let Some(recorder) = &self.recorder {
            let workspace = &self.options.workspace;
            recorder
                .record(workspace, endpoint, repo_slug, url, page, &body)
                .await?;
        }
        self.emit(output, endpoint, repo_slug, url, page, body, (None, None))
            .await
    }

    /// A page of one run's steps: recorded under the run, sent with it.
    pub(crate) async fn send_steps(
        &self,
        output: &Sender<Message<RawPage>>,
        repo_slug: &str,
        run: &RunRef,
        url: &Url,
        page: u32,
        body: Bytes,
    ) -> Result<(), ExtractError> {
        if let Some(recorder) = &self.recorder {
            recorder
                .steps(&self.options.workspace, repo_slug, &run.uuid, page, &body)
                .await?;
        }
        let run = Some(run.clone());
        self.emit(
            output,
            Endpoint::Steps,
            Some(repo_slug),
            url,
            page,
            body,
            (run, None),
        )
        .await
    }

    /// A page of one step's test report: recorded under the step, sent with its run and step.
    pub(crate) async fn send_test_page(
        &self,
        output: &Sender<Message<RawPage>>,
        (repo_slug, run, step): (&str, &RunRef, &StepRef),
        endpoint: Endpoint,
        url: &Url,
        page: u32,
        body: Bytes,
    ) -> Result<(), ExtractError> {
        if let Some(recorder) = &self.recorder {
            let ids = (run.uuid.as_str(), step.uuid.as_str());
            recorder
                .test_page(&self.options.workspace, repo_slug, endpoint, ids, &body)
                .await?;
        }
        let (run, step) = (Some(run.clone()), Some(step.clone()));
        self.emit(
            output,
            endpoint,
            Some(repo_slug),
            url,
            page,
            body,
            (run, step),
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn emit(
        &self,
        output: &Sender<Message<RawPage>>,
        endpoint: Endpoint,
        repo_slug: Option<&str>,
        url: &Url,
        page: u32,
        body: Bytes,
        (run, step): (Option<RunRef>, Option<StepRef>),
    ) -> Result<(), ExtractError> {
        self.pages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        let page = RawPage {
            source: PageSource {
                workspace: self.options.workspace.clone(),
                repo_slug: repo_slug.map(str::to_string),
                endpoint,
                location: url.to_string(),
                page,
                fetched_at: self.started_at,
                run,
                step,
            },
            body,
        };
        let _waiting = self.activity.waiting(Wait::SendPage);
        output
            .send(Message::Data(page))
            .await
            .map_err(|_| ExtractError::Cancelled)?;
        self.activity.moved();
        Ok(())
    }
}
