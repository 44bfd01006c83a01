//! `bbpipe replay`, `bbpipe verify-output` and `bbpipe vacuum`, and what every command that writes shares:
//! turning arguments into the pipeline's options, and its errors into exit codes.

use crate::cli::{ReplayArgs, StoreArgs, VacuumArgs, VerifyArgs, WriteArgs};
use crate::exit::{self, Exit};
use crate::summary;
use anyhow::anyhow;
use bbpipe_pipeline::load::{Destination, StoreOptions};
use bbpipe_pipeline::{LockOptions, PipelineError, ReplayJob, Report, WriteOptions};

/// `bbpipe replay`.
pub async fn replay(args: ReplayArgs, quiet: bool) -> anyhow::Result<()> {
    let job = ReplayJob {
        fixtures: args.fixtures.clone(),
        write: args.write.options(&args.out),
        extras: args.with,
        max_commits_per_deployment: args.max_commits_per_deployment as usize,
    };
    let report = bbpipe_pipeline::replay(&job).await.map_err(failed)?;
    finish(&report, args.summary, quiet)
}

/// Prints the report; exit code 8 when runs were set aside in `rejects` (the rest is
/// committed, but a scheduler should notice).
pub fn finish(report: &Report, format: summary::SummaryFormat, quiet: bool) -> anyhow::Result<()> {
    summary::print(report, format, quiet);
    if report.rejected == 0 {
        return Ok(());
    }
    Err(Exit {
        code: exit::REJECTED.1,
        message: format!(
            "{} pipeline run(s) could not be decoded and were set aside in the `rejects` table \
             (the rest is committed; the next export tries them again): {}",
            report.rejected,
            report.rejected_examples.join("; ")
        ),
    }
    .into())
}

/// A pipeline error with its documented exit code.
pub fn failed(error: PipelineError) -> anyhow::Error {
    Exit {
        code: exit::of(&error),
        message: error.to_string(),
    }
    .into()
}

impl WriteArgs {
    /// The pipeline's options for writing to `out`.
    pub fn options(&self, out: &str) -> WriteOptions {
        let (tuning, lock) = (&self.tuning, &self.lock);
        WriteOptions {
            out: out.to_string(),
            store: store_options(&self.store),
            partition_by: self.partition_by,
            format: self.format,
            rules: self.deployments.rules.clone(),
            deployments_ndjson: self.deployments.deployments_ndjson.clone(),
            batch_rows: tuning.batch_rows as usize,
            buffer_bytes: tuning.buffer_mib as usize * 1024 * 1024,
            upload_part_bytes: tuning.upload_part_mib as usize * 1024 * 1024,
            lock: LockOptions {
                wait: lock.wait_lock,
                lease: lock.lease,
                no_lock: lock.no_lock,
            },
        }
    }
}

pub fn store_options(store: &StoreArgs) -> StoreOptions {
    StoreOptions {
        s3_endpoint: store.s3_endpoint.clone(),
        max_retries: store.store_retries,
        retry_timeout: std::time::Duration::from_secs(store.store_retry_timeout),
    }
}

/// `bbpipe verify-output`.
pub async fn verify_output(args: VerifyArgs, quiet: bool) -> anyhow::Result<()> {
    let destination = Destination::open(&args.dest, &store_options(&args.store))
        .map_err(|e| failed(PipelineError::Destination(e)))?;
    let report = bbpipe_pipeline::load::verify(&destination).await?;
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

/// Retentions below this need --allow-short-retention.
const SHORT_RETENTION: std::time::Duration = std::time::Duration::from_secs(3600);

/// `bbpipe vacuum`.
pub async fn vacuum(args: VacuumArgs, quiet: bool) -> anyhow::Result<()> {
    if args.retain < SHORT_RETENTION && !args.allow_short_retention {
        return Err(anyhow!(
            "--retain {} is below one hour: queries still reading older versions could fail; \
             add --allow-short-retention if no reader can be running",
            humantime::format_duration(args.retain)
        ));
    }
    let destination = Destination::open(&args.dest, &store_options(&args.store))
        .map_err(|e| failed(PipelineError::Destination(e)))?;
    let cutoff = chrono::Utc::now()
        - chrono::Duration::from_std(args.retain).map_err(|e| anyhow!("--retain: {e}"))?;
    let done = bbpipe_pipeline::load::delta::vacuum(&destination, cutoff, args.dry_run)
        .await
        .map_err(|e| failed(PipelineError::Destination(e)))?;
    if !quiet {
        let verb = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        for path in &done.removed {
            println!("{verb} {path}");
        }
        println!(
            "{}: {verb} {} files ({} bytes); kept {} referenced and {} within the retention",
            args.dest,
            done.removed.len(),
            done.removed_bytes,
            done.referenced,
            done.within_retention
        );
        for workspace in &done.busy {
            println!("skipped workspace {workspace}: an export holds its lease");
        }
    }
    Ok(())
}
