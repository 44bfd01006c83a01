//! Sending replayed pages down the channel: each file read when its turn comes, the steps of a
//! run right after the first page that lists it.

use super::files::{PageFile, StepFiles};
use crate::ExtractSummary;
use crate::error::ExtractError;
use bbpipe_model::bitbucket::{self, Page};
use bbpipe_model::{Message, PageSource, RawPage, RunRef};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use tokio::sync::mpsc::Sender;

/// The repository of `file`, where it has steps left to send (and only then: a replay without
/// steps pays nothing per page).
pub(super) fn with_steps(
    steps: &HashMap<(String, String), StepFiles>,
    file: &PageFile,
) -> Option<(String, String)> {
    if steps.is_empty() {
        return None;
    }
    let key = (file.workspace.clone(), file.repo_slug.clone()?);
    steps
        .get(&key)
        .is_some_and(|runs| !runs.is_empty())
        .then_some(key)
}

/// Sends the steps of each run listed in `body` (a pipelines page or one run) that has steps
/// left in `of_runs`, with the run they belong to; each run's steps are sent once.
pub(super) async fn send_steps(
    body: &[u8],
    of_runs: &mut StepFiles,
    fetched_at: DateTime<Utc>,
    output: &Sender<Message<RawPage>>,
    summary: &mut ExtractSummary,
) -> Result<(), ExtractError> {
    let values: Vec<&serde_json::value::RawValue> =
        match serde_json::from_slice::<Page<&serde_json::value::RawValue>>(body) {
            Ok(page) => page.values,
            Err(_) => serde_json::from_slice(body)
                .map(|one| vec![one])
                .unwrap_or_default(),
        };
    for raw in values {
        let Ok(run) = serde_json::from_str::<bitbucket::RunHeader>(raw.get()) else {
            continue;
        };
        let bare = crate::layout::bare_uuid(&run.uuid);
        let (Some(build_number), Some(created)) = (
            run.build_number,
            run.created_on
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok()),
        ) else {
            continue;
        };
        let Some(pages) = of_runs.remove(bare) else {
            continue;
        };
        let run = RunRef {
            uuid: run.uuid.to_string(),
            build_number,
            created_at: created.timestamp_micros(),
        };
        for page in pages {
            send_with(page, fetched_at, Some(run.clone()), output, summary).await?;
        }
    }
    Ok(())
}

/// Reads one page file and sends it; returns its body.
pub(super) async fn send(
    file: PageFile,
    fetched_at: DateTime<Utc>,
    output: &Sender<Message<RawPage>>,
    summary: &mut ExtractSummary,
) -> Result<Bytes, ExtractError> {
    send_with(file, fetched_at, None, output, summary).await
}

pub(super) async fn send_with(
    file: PageFile,
    fetched_at: DateTime<Utc>,
    run: Option<RunRef>,
    output: &Sender<Message<RawPage>>,
    summary: &mut ExtractSummary,
) -> Result<Bytes, ExtractError> {
    let body = Bytes::from(
        tokio::fs::read(&file.path)
            .await
            .map_err(ExtractError::io(&file.path))?,
    );
    summary.pages += 1;
    summary.bytes += body.len() as u64;
    let page = RawPage {
        source: PageSource {
            workspace: file.workspace,
            repo_slug: file.repo_slug,
            endpoint: file.endpoint,
            location: file.path.display().to_string(),
            page: file.page,
            fetched_at,
            run,
        },
        body: body.clone(),
    };
    output
        .send(Message::Data(page))
        .await
        .map_err(|_| ExtractError::Cancelled)?;
    Ok(body)
}
