//! Deployments that follow the rules: re-derived from the runs a dataset holds, with no API
//! call, when the deploy rules change (`bbpipe rules apply`, and replays and exports that
//! notice a new rules fingerprint).
//!
//! The workspace's `deployments` become exactly what the rules produce from its
//! `pipeline_runs`, in one commit that also records the rules' fingerprint in the workspace's
//! state. A deployment the rules still produce keeps its reference_id (it is derived from the
//! run and the rule's name); a partition whose rows did not change keeps its file.

use crate::error::PipelineError;
use crate::options::WriteOptions;
use crate::stages::load_rules;
use crate::writer::{Writer, ndjson_path, open_destination};
use bbpipe_load::{Destination, History, Scan, Scope};
use bbpipe_model::{Message, Table, TableBatch};
use bbpipe_transform::rules::{DeploymentBuilder, RuleSet, Source};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

/// Where the workspace's state records the rules its deployments follow.
pub const RULES_STATE_KEY: &str = "deploy_rules";

/// `bbpipe rules apply`: re-derive deployments in a dataset.
#[derive(Debug, Clone)]
pub struct RulesApplyJob {
    /// The dataset, its store, the rules (`write.rules`, required), the NDJSON file and the
    /// lease options.
    pub write: WriteOptions,
    /// The workspaces to re-derive; empty: every workspace the dataset holds.
    pub workspaces: Vec<String>,
    /// Report what would change, write nothing.
    pub dry_run: bool,
}

/// What re-deriving did, per workspace.
#[derive(Debug, Clone, Serialize)]
pub struct RulesApplied {
    /// The dataset.
    pub destination: String,
    /// The rules file and its fingerprint.
    pub rules: String,
    /// `sha256:` and hex of the rules as parsed.
    pub fingerprint: String,
    /// Nothing was written.
    pub dry_run: bool,
    /// Per workspace.
    pub workspaces: Vec<Rederived>,
    /// Wall-clock seconds.
    pub elapsed_seconds: f64,
}

/// One workspace's deployments, before and after.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rederived {
    /// The workspace.
    pub workspace: String,
    /// Pipeline runs read back.
    pub pipeline_runs: u64,
    /// Deployments the rules produce now.
    pub deployments: u64,
    /// Of them, already in the dataset (same reference_id).
    pub kept: u64,
    /// Of them, new.
    pub added: u64,
    /// Deployments in the dataset that the rules no longer produce.
    pub removed: u64,
    /// Added and removed per rule, service and environment (only where something changed).
    pub changes: Vec<RuleChange>,
    /// The reference_ids removed, sorted (for systems that must retract them).
    pub removed_ids: Vec<String>,
    /// Whether a commit was written (not in a dry run).
    pub committed: bool,
}

/// Deployments added and removed for one rule, service and environment.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RuleChange {
    /// The rule's name.
    pub rule: String,
    /// The service.
    pub service: String,
    /// The environment.
    pub environment: String,
    /// Deployments the rule now produces that the dataset did not hold.
    pub added: u64,
    /// Deployments the dataset held that it no longer produces.
    pub removed: u64,
}

/// A deployment's identity and what it is a deployment of.
type Described = BTreeMap<String, (String, String, String)>;

const DESCRIBING: &[&str] = &["reference_id", "rule", "service", "environment"];

/// Re-derives the deployments of the job's workspaces from the runs the dataset holds.
pub async fn apply_rules(job: &RulesApplyJob) -> Result<RulesApplied, PipelineError> {
    let started = Instant::now();
    let rules = load_rules(job.write.rules.as_deref())?
        .ok_or_else(|| PipelineError::Stage("rules apply needs --rules FILE".into()))?;
    let destination = open_destination(&job.write)?;
    let history = History::read(&destination, Scope::All)
        .await
        .map_err(PipelineError::load)?;
    let held: Vec<String> = history.workspaces.keys().cloned().collect();
    let workspaces = if job.workspaces.is_empty() {
        held
    } else {
        // Re-deriving a workspace the dataset does not hold would create it, empty.
        if let Some(missing) = job.workspaces.iter().find(|w| !held.contains(w)) {
            return Err(PipelineError::load(bbpipe_load::LoadError::Destination {
                destination: destination.display().to_string(),
                message: format!(
                    "holds no workspace {missing} (it holds: {})",
                    if held.is_empty() {
                        "none".to_string()
                    } else {
                        held.join(", ")
                    }
                ),
            }));
        }
        job.workspaces.clone()
    };
    let mut done = Vec::new();
    for workspace in workspaces {
        done.push(if job.dry_run {
            preview(&destination, &history, &workspace, &rules).await?
        } else {
            rederive(&destination, &workspace, &rules, &job.write).await?
        });
    }
    Ok(RulesApplied {
        destination: job.write.out.clone(),
        rules: rules.path().to_string(),
        fingerprint: rules.fingerprint().to_string(),
        dry_run: job.dry_run,
        workspaces: done,
        elapsed_seconds: started.elapsed().as_secs_f64(),
    })
}

/// The rules fingerprint the workspace's deployments follow, as its state records it.
pub(crate) fn recorded_fingerprint(state: Option<&bbpipe_load::StateEntries>) -> Option<String> {
    state?
        .get(RULES_STATE_KEY)?
        .get("fingerprint")?
        .as_str()
        .map(str::to_string)
}

/// What a replay or an export does about the deployments of its workspaces.
#[derive(Debug, Default)]
pub(crate) struct RulesPlan {
    /// Workspaces whose deployments follow other rules (or unrecorded ones): re-derived after
    /// the run.
    pub(crate) rederive: Vec<String>,
    /// Workspaces with deployments, written without --rules: left as they were.
    pub(crate) not_updated: Vec<String>,
}

impl RulesPlan {
    /// Decides, per workspace, from what the writer's sink read; where the deployments already
    /// follow `rules` (or there are none yet), every commit records the rules' fingerprint.
    pub(crate) fn prepare(
        writer: Writer,
        workspaces: &[String],
        rules: Option<&Arc<RuleSet>>,
    ) -> (Writer, RulesPlan) {
        let mut plan = RulesPlan::default();
        let mut record = Vec::new();
        for workspace in workspaces {
            let has_deployments = !writer
                .sink
                .live_files(Table::Deployments, workspace)
                .is_empty();
            let recorded = recorded_fingerprint(writer.sink.state(workspace));
            match rules {
                None if has_deployments => plan.not_updated.push(workspace.clone()),
                None => {}
                Some(rules) if recorded.as_deref() == Some(rules.fingerprint()) => {
                    record.push(workspace.clone())
                }
                Some(_) if has_deployments || recorded.is_some() => {
                    plan.rederive.push(workspace.clone())
                }
                Some(_) => record.push(workspace.clone()),
            }
        }
        let writer = match rules {
            Some(rules) => writer.map_sink(|mut sink| {
                for workspace in &record {
                    sink = sink.with_state_entry(workspace, RULES_STATE_KEY, rules_entry(rules));
                }
                sink
            }),
            None => writer,
        };
        (writer, plan)
    }

    /// After the run: re-derives what the plan says, in one commit per workspace.
    pub(crate) async fn finish(
        self,
        rules: Option<&Arc<RuleSet>>,
        write: &WriteOptions,
    ) -> Result<Vec<Rederived>, PipelineError> {
        let (Some(rules), false) = (rules, self.rederive.is_empty()) else {
            return Ok(Vec::new());
        };
        let destination = open_destination(write)?;
        let mut done = Vec::new();
        for workspace in &self.rederive {
            tracing::info!(
                workspace,
                rules = rules.path(),
                "the deploy rules changed since the last commit: re-deriving deployments"
            );
            done.push(rederive(&destination, workspace, rules, write).await?);
        }
        Ok(done)
    }
}

/// The state entry that records `rules`.
pub(crate) fn rules_entry(rules: &RuleSet) -> serde_json::Value {
    serde_json::json!({ "fingerprint": rules.fingerprint(), "file": rules.path() })
}

/// What re-deriving one workspace would change, from the dataset as `history` read it.
async fn preview(
    destination: &Destination,
    history: &History,
    workspace: &str,
    rules: &RuleSet,
) -> Result<Rederived, PipelineError> {
    let mut outcome = Rederived {
        workspace: workspace.to_string(),
        ..Rederived::default()
    };
    let old = described(
        destination,
        workspace,
        &history.live_files(Table::Deployments, workspace),
    )
    .await?;
    let mut new = Described::new();
    for source in sources(rules) {
        let (table, columns) = (source.table(), source.columns());
        let files = history.live_files(table, workspace);
        let mut scan = Scan::of_workspace(destination, table, workspace, files, columns);
        while let Some((path, batches)) = scan.next_file().await.map_err(PipelineError::load)? {
            derive(source, &path, &batches, rules, &mut outcome, &mut new)?;
        }
    }
    diff(&old, &new, &mut outcome);
    Ok(outcome)
}

/// The tables the rules read: `pipeline_runs`, and `environment_deployments` when a rule has
/// `source = "environments"`.
fn sources(rules: &RuleSet) -> Vec<Source> {
    let mut sources = vec![Source::Pipelines];
    if rules.reads(Source::Environments) {
        sources.push(Source::Environments);
    }
    sources
}

/// Re-derives one workspace: reads its runs back file by file, builds the deployments the
/// rules produce, and replaces its `deployments` with them in one commit.
pub(crate) async fn rederive(
    destination: &Destination,
    workspace: &str,
    rules: &Arc<RuleSet>,
    write: &WriteOptions,
) -> Result<Rederived, PipelineError> {
    let mut outcome = Rederived {
        workspace: workspace.to_string(),
        ..Rederived::default()
    };
    let source = format!("rules apply {}", rules.path());
    let writer = Writer::open(destination.clone(), &[workspace.to_string()], source, write)
        .await?
        .map_sink(|sink| {
            sink.replacing(Table::Deployments).with_state_entry(
                workspace,
                RULES_STATE_KEY,
                rules_entry(rules),
            )
        });
    let inputs: Vec<(Source, Vec<String>)> = sources(rules)
        .into_iter()
        .map(|source| (source, writer.sink.live_files(source.table(), workspace)))
        .collect();
    let old = described(
        destination,
        workspace,
        &writer.sink.live_files(Table::Deployments, workspace),
    )
    .await?;
    let mut new = Described::new();
    let (counted, described_new) = (&mut outcome, &mut new);
    let ((), _loaded) = writer
        .load(|tx| async move {
            for (source, files) in inputs {
                let (table, columns) = (source.table(), source.columns());
                let mut scan = Scan::of_workspace(destination, table, workspace, files, columns);
                while let Some((path, batches)) =
                    scan.next_file().await.map_err(PipelineError::load)?
                {
                    let batch = derive(source, &path, &batches, rules, counted, described_new)?;
                    if batch.num_rows() > 0 {
                        let batch = TableBatch {
                            table: Table::Deployments,
                            workspace: workspace.to_string(),
                            batch,
                        };
                        if tx.send(Message::Data(batch)).await.is_err() {
                            return Err(PipelineError::Stage("load stopped".into()));
                        }
                    }
                }
            }
            let _ = tx.send(Message::Complete).await;
            Ok(())
        })
        .await?;
    diff(&old, &new, &mut outcome);
    outcome.committed = true;
    if let Some(path) = &write.deployments_ndjson {
        write_deletions(path, workspace, &outcome.removed_ids)?;
    }
    Ok(outcome)
}

/// Beside the deployments file (`deployments.ndjson`), `deployments.deleted.ndjson`: one line
/// `{"reference_id": ..., "deleted": true}` per deployment the rules no longer produce, so that
/// a system fed by the file can retract them. Rewritten (possibly empty) by every re-derivation.
fn write_deletions(
    path: &std::path::Path,
    workspace: &str,
    ids: &[String],
) -> Result<(), PipelineError> {
    let path = ndjson_path(path, &[workspace.to_string()]).map_err(PipelineError::load)?;
    let deleted = path.with_extension("deleted.ndjson");
    let partial = path.with_extension("deleted.ndjson.partial");
    let mut text = String::new();
    for id in ids {
        text.push_str(&serde_json::json!({ "reference_id": id, "deleted": true }).to_string());
        text.push('\n');
    }
    let io = |source| {
        PipelineError::load(bbpipe_load::LoadError::File {
            path: deleted.display().to_string(),
            source,
        })
    };
    std::fs::write(&partial, text).map_err(io)?;
    std::fs::rename(&partial, &deleted).map_err(io)
}

/// The deployments the rules produce from the rows of one file (`path`) of `source`'s table,
/// counted in `outcome` and described in `new`.
fn derive(
    source: Source,
    path: &str,
    batches: &[arrow::record_batch::RecordBatch],
    rules: &RuleSet,
    outcome: &mut Rederived,
    new: &mut Described,
) -> Result<arrow::record_batch::RecordBatch, PipelineError> {
    let mut builder = DeploymentBuilder::default();
    let arrow = |e: arrow::error::ArrowError| PipelineError::Stage(format!("{path}: {e}"));
    for batch in batches {
        if source == Source::Environments {
            builder
                .append_environment_deployments(rules, batch)
                .map_err(arrow)?;
        } else {
            outcome.pipeline_runs += batch.num_rows() as u64;
            builder.append_runs(rules, batch).map_err(arrow)?;
        }
    }
    let deployments = builder.finish().map_err(arrow)?;
    describe_batch(&deployments, new)?;
    Ok(deployments)
}

/// What the deployments files at `paths` hold: reference_id → (rule, service, environment).
async fn described(
    destination: &Destination,
    workspace: &str,
    paths: &[String],
) -> Result<Described, PipelineError> {
    let mut out = Described::new();
    let files = paths.iter().cloned();
    let mut scan = Scan::of_workspace(
        destination,
        Table::Deployments,
        workspace,
        files,
        DESCRIBING,
    );
    while let Some((_, batches)) = scan.next_file().await.map_err(PipelineError::load)? {
        for batch in &batches {
            describe_batch(batch, &mut out)?;
        }
    }
    Ok(out)
}

fn describe_batch(
    batch: &arrow::record_batch::RecordBatch,
    out: &mut Described,
) -> Result<(), PipelineError> {
    use arrow::array::AsArray;
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| PipelineError::Stage(format!("deployments without {name}")))
    };
    let (ids, rules, services, environments) = (
        column("reference_id")?,
        column("rule")?,
        column("service")?,
        column("environment")?,
    );
    for row in 0..batch.num_rows() {
        out.insert(
            ids.value(row).to_string(),
            (
                rules.value(row).to_string(),
                services.value(row).to_string(),
                environments.value(row).to_string(),
            ),
        );
    }
    Ok(())
}

fn diff(old: &Described, new: &Described, outcome: &mut Rederived) {
    let mut changes: BTreeMap<(String, String, String), (u64, u64)> = BTreeMap::new();
    for (id, what) in new {
        if old.contains_key(id) {
            outcome.kept += 1;
        } else {
            outcome.added += 1;
            changes.entry(what.clone()).or_default().0 += 1;
        }
    }
    let removed: BTreeSet<&String> = old.keys().filter(|id| !new.contains_key(*id)).collect();
    for id in &removed {
        if let Some(what) = old.get(*id) {
            changes.entry(what.clone()).or_default().1 += 1;
        }
    }
    outcome.deployments = new.len() as u64;
    outcome.removed = removed.len() as u64;
    outcome.removed_ids = removed.into_iter().cloned().collect();
    outcome.changes = changes
        .into_iter()
        .map(
            |((rule, service, environment), (added, removed))| RuleChange {
                rule,
                service,
                environment,
                added,
                removed,
            },
        )
        .collect();
}
