//! Replays recorded pages into a dataset.

use crate::error::PipelineError;
use crate::options::WriteOptions;
use crate::report::{Report, RunFacts};
use crate::rules_apply::RulesPlan;
use crate::shipped::{CommitsPassOptions, commits_pass};
use crate::stages::{load_rules, transformer};
use crate::writer::{Writer, open_destination};
use bbpipe_extract::{CommitSource, Replay};
use bbpipe_model::{Extras, Optional};
use std::path::PathBuf;
use std::time::Instant;

/// A replay: recorded pages (the fixture layout) into a dataset.
#[derive(Debug, Clone)]
pub struct ReplayJob {
    /// The directory of recorded pages, e.g. `fixtures/demo`.
    pub fixtures: PathBuf,
    /// Where and how to write.
    pub write: WriteOptions,
    /// Optional tables to replay, where the recording has their pages (`--with`).
    pub extras: Extras,
    /// With `--with commits`: commits kept per deployment.
    pub max_commits_per_deployment: usize,
}

/// Runs a replay to the end. Runs that could not be decoded are set aside in `rejects` and
/// counted in [`Report::rejected`]; the rest is committed.
pub async fn replay(job: &ReplayJob) -> Result<Report, PipelineError> {
    let started = Instant::now();
    let rules = load_rules(job.write.rules.as_deref())?;
    let replay = Replay::open(&job.fixtures)
        .map_err(PipelineError::Fixtures)?
        .with(job.extras);
    let workspaces = replay.workspaces().to_vec();
    let destination = open_destination(&job.write)?;
    tracing::info!(pages = replay.page_count(), from = %job.fixtures.display(), "replaying");

    let recorded_at = replay.fetched_at();
    let source = job.fixtures.display().to_string();
    let writer = Writer::open(destination, &workspaces, source.clone(), &job.write).await?;
    let (writer, plan) = RulesPlan::prepare(writer, &workspaces, rules.as_ref());
    let not_updated = plan.not_updated.clone();
    let run_id = writer.run_id.clone();
    let (extracted, transformed, loaded) = writer
        .run(
            |tx| replay.run(tx),
            transformer(job.write.batch_rows, rules.clone()),
            None,
        )
        .await?;
    let rederived = plan.finish(rules.as_ref(), &job.write).await?;
    let facts = RunFacts {
        source,
        destination: job.write.out.clone(),
        run_id,
        workspaces: workspaces.clone(),
        pages: extracted.pages,
        input_bytes: extracted.bytes,
        elapsed: started.elapsed(),
    };
    let mut report = Report::new(facts, transformed, &loaded);
    report.rules_rederived = rederived;
    report.deployments_not_updated = not_updated;
    if job.extras.includes(Optional::Commits) {
        let (max, messages) = (job.max_commits_per_deployment, job.extras.commit_messages);
        let options = CommitsPassOptions {
            recorded_at: Some(recorded_at),
            concurrency: 1,
        };
        commits_pass(&workspaces, &job.write, &mut report, options, |workspace| {
            CommitSource::fixtures(job.fixtures.clone(), workspace, max, messages)
        })
        .await?;
        report.elapsed_seconds = started.elapsed().as_secs_f64();
    }
    Ok(report)
}
