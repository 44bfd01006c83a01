//! Exports a workspace from the Bitbucket API into a dataset, incrementally.

use crate::error::PipelineError;
use crate::options::WriteOptions;
use crate::report::{ExportReport, Report, Requests, RunFacts};
use crate::rules_apply::RulesPlan;
use crate::shipped::{CommitsPassOptions, commits_pass};
use crate::stages::{load_rules, transformer};
use crate::watchdog::Watch;
use crate::writer::{Writer, open_destination};
use bbpipe_extract::api::Client;
use bbpipe_extract::{CommitSource, ExportOptions, ExportProgress, Exporter, Recorder, SyncState};
use bbpipe_load::Destination;
use bbpipe_model::{Activity, Optional};
use bbpipe_transform::RuleSet;
use object_store::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// An export: one workspace from the API into a dataset.
#[derive(Debug, Clone)]
pub struct ExportJob {
    /// What to read (workspace, repositories, history, pacing). `retry_runs` is filled from
    /// the dataset's `rejects` table.
    pub extract: ExportOptions,
    /// The API base URL as the user gave it, for the report and the manifests.
    pub api_url: String,
    /// Also record every page here, in the layout `replay` reads.
    pub record: Option<PathBuf>,
    /// Where and how to write.
    pub write: WriteOptions,
    /// Stop with [`PipelineError::Stalled`] when nothing moved for this long outside
    /// rate-limit waits; `None`: wait for ever.
    pub stall_timeout: Option<std::time::Duration>,
}

/// An export ready to run: its workspace leased, its state read.
pub struct Export {
    workspace: String,
    api_url: String,
    write: WriteOptions,
    writer: Writer,
    exporter: Exporter,
    client: Arc<Client>,
    rules: Option<Arc<RuleSet>>,
    plan: RulesPlan,
    commits: CommitsPlan,
    started: Instant,
    watch: Option<Watch>,
}

/// What `--with commits` asks of the export.
struct CommitsPlan {
    extras: bbpipe_model::Extras,
    max: usize,
    concurrency: usize,
}

impl Export {
    /// Takes the workspace's lease and reads the sync state the last export committed in its
    /// manifests (or, for datasets of earlier versions, the state file).
    pub async fn open(job: ExportJob, client: Arc<Client>) -> Result<Export, PipelineError> {
        let started = Instant::now();
        let ExportJob {
            mut extract,
            api_url,
            record,
            write,
            stall_timeout,
        } = job;
        let workspace = extract.workspace.clone();
        // First: a bad rules file fails before anything is taken or requested.
        let rules = load_rules(write.rules.as_deref())?;
        let destination = open_destination(&write)?;
        let recorder = record
            .as_deref()
            .map(Recorder::new)
            .transpose()
            .map_err(PipelineError::Recording)?;
        let writer = Writer::open(
            destination.clone(),
            std::slice::from_ref(&workspace),
            api_url.clone(),
            &write,
        )
        .await?;
        let (writer, plan) =
            RulesPlan::prepare(writer, std::slice::from_ref(&workspace), rules.as_ref());
        // Read under the lease: the state as committed by the last export, which nobody moves now.
        let state = match writer.sink.state(&workspace) {
            Some(entries) => SyncState::from_entries(&workspace, entries).map_err(|source| {
                PipelineError::State {
                    workspace: workspace.clone(),
                    source,
                }
            })?,
            None => None,
        };
        let state = match state {
            Some(state) => state,
            None => read_legacy_state(&destination, &workspace).await?,
        };
        extract.retry_runs = writer.sink.rejected_runs(&workspace);
        let commits = CommitsPlan {
            extras: extract.extras,
            max: extract.max_commits_per_deployment,
            concurrency: extract.concurrency,
        };
        let activity = Arc::new(Activity::default());
        let watch = stall_timeout.map(|timeout| Watch {
            timeout,
            activity: Arc::clone(&activity),
        });
        let exporter =
            Exporter::new(Arc::clone(&client), extract, state, recorder).with_activity(activity);
        Ok(Export {
            workspace,
            api_url,
            write,
            writer,
            exporter,
            client,
            rules,
            plan,
            commits,
            started,
            watch,
        })
    }

    /// Live counters, for progress bars.
    pub fn progress(&self) -> Arc<ExportProgress> {
        self.exporter.progress()
    }

    /// Runs the export to the end: every page read is committed, with the state that says how
    /// far it got, at each checkpoint and at the end.
    pub async fn run(self) -> Result<Report, PipelineError> {
        let Export {
            workspace,
            api_url,
            write,
            writer,
            exporter,
            client,
            rules,
            plan,
            commits,
            started,
            watch,
        } = self;
        let run_id = writer.run_id.clone();
        let recorder = exporter.recorder();
        let (outcome, transformed, loaded) = writer
            .run(
                |tx| exporter.run(tx),
                transformer(write.batch_rows, rules.clone()),
                watch,
            )
            .await?;
        let not_updated = plan.not_updated.clone();
        let rederived = plan.finish(rules.as_ref(), &write).await?;
        if !outcome.skipped.is_empty() {
            tracing::warn!(
                "no pipelines (404), skipped: {}",
                outcome.skipped.join(", ")
            );
        }
        let facts = RunFacts {
            source: format!("{api_url} workspace {workspace}"),
            destination: write.out.clone(),
            run_id,
            workspaces: vec![workspace],
            pages: outcome.summary.pages,
            input_bytes: outcome.summary.bytes,
            elapsed: started.elapsed(),
        };
        let mut report = Report::new(facts, transformed, &loaded);
        report.rules_rederived = rederived;
        report.deployments_not_updated = not_updated;
        report.requests = Some(Requests::of(&client, outcome.repositories));
        report.export = Some(ExportReport {
            checkpoints: outcome.checkpoints,
            resumed: outcome.resumed,
            revisited: outcome.revisited,
            unfinished_tracked: outcome.unfinished_tracked,
            unfinished_dropped: outcome.unfinished_dropped,
            sort_fallbacks: outcome.sort_fallbacks,
            skipped: outcome.skipped,
            steps_read: outcome.steps_read,
            steps_requests: outcome.steps_requests,
            tests_requests: outcome.tests_requests,
        });
        if commits.extras.includes(Optional::Commits) {
            let messages = commits.extras.commit_messages;
            let workspaces = report.workspaces.clone();
            let options = CommitsPassOptions {
                recorded_at: None,
                concurrency: commits.concurrency,
            };
            commits_pass(&workspaces, &write, &mut report, options, |workspace| {
                CommitSource::api(
                    Arc::clone(&client),
                    workspace,
                    recorder.clone(),
                    commits.max,
                    messages,
                )
            })
            .await?;
            if let Some(requests) = &mut report.requests {
                *requests = Requests::of(&client, requests.repositories);
            }
            report.elapsed_seconds = started.elapsed().as_secs_f64();
        }
        Ok(report)
    }
}

/// Bitbucket workspace slugs are lower-case, and `Acme` and `acme` name one workspace: one
/// state, one lease, one partition.
pub fn normalize_workspace(given: &str) -> String {
    let slug = given.trim().to_lowercase();
    if slug != given {
        tracing::info!("workspace {given:?} read as {slug:?} (workspace slugs are lower-case)");
    }
    slug
}

/// The state file of earlier versions (`_state/<workspace>.json`), read when no manifest of
/// the workspace carries state yet.
async fn read_legacy_state(
    destination: &Destination,
    workspace: &str,
) -> Result<SyncState, PipelineError> {
    let path = Path::from(SyncState::legacy_path(workspace));
    match destination
        .get_opt(&path)
        .await
        .map_err(PipelineError::load)?
    {
        None => Ok(SyncState::new(workspace)),
        Some(bytes) => {
            serde_json::from_slice(&bytes).map_err(|source| PipelineError::LegacyState {
                path: destination.describe(&path),
                source,
            })
        }
    }
}
