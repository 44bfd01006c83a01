//! Sending replayed pages down the channel: each file read when its turn comes, the steps of a
//! run right after the first page that lists it.

use super::files::{PageFile, StepFiles, TestFiles};
use crate::ExtractSummary;
use crate::error::ExtractError;
use bbpipe_model::bitbucket::{self, Page};
use bbpipe_model::{Message, PageSource, RawPage, RunRef, StepRef};
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

/// Where replayed pages go: their `exported_at`, the channel, the count.
pub(super) type To<'a> = (
    DateTime<Utc>,
    &'a Sender<Message<RawPage>>,
    &'a mut ExtractSummary,
);

/// Sends the steps of each run listed in `body` (a pipelines page or one run) that has steps
/// left in `of_runs`, with the run they belong to, and right after them the test reports of its
/// steps left in `of_steps`; each run's pages are sent once.
pub(super) async fn send_steps(
    body: &[u8],
    of_runs: &mut StepFiles,
    mut of_steps: Option<&mut TestFiles>,
    (fetched_at, output, summary): To<'_>,
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
        let tests = of_steps.as_deref_mut().and_then(|t| t.remove(bare));
        let run_ref = RunRef {
            uuid: run.uuid.to_string(),
            build_number,
            created_at: created.timestamp_micros(),
        };
        let mut bodies = Vec::new();
        for page in pages {
            let body = send_with(
                page,
                fetched_at,
                (Some(run_ref.clone()), None),
                output,
                summary,
            )
            .await?;
            if tests.is_some() {
                bodies.push(body);
            }
        }
        let Some(tests) = tests else {
            continue;
        };
        let target = run.target();
        let target = target.as_ref();
        let steps = crate::test_reports::step_refs(
            bodies.iter().map(|b| &b[..]),
            target.and_then(|t| t.commit_hash()),
            target.and_then(|t| t.branch()),
        );
        for (step_uuid, pages) in tests {
            let Some(step) = steps
                .iter()
                .find(|s| crate::layout::bare_uuid(&s.uuid) == step_uuid)
            else {
                tracing::warn!(run = %run_ref.uuid, step = %step_uuid, "recorded test report of a step its run's steps do not list: skipped");
                continue;
            };
            for page in pages {
                let of = (Some(run_ref.clone()), Some(step.clone()));
                send_with(page, fetched_at, of, output, summary).await?;
            }
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
    send_with(file, fetched_at, (None, None), output, summary).await
}

pub(super) async fn send_with(
    file: PageFile,
    fetched_at: DateTime<Utc>,
    (run, step): (Option<RunRef>, Option<StepRef>),
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
            step,
        },
        body: body.clone(),
    };
    output
        .send(Message::Data(page))
        .await
        .map_err(|_| ExtractError::Cancelled)?;
    Ok(body)
}
