//! The one-screen report printed at the end of a run, and its JSON form.

use bbpipe_pipeline::Report;
use bbpipe_pipeline::model::{Format, Table};
use std::fmt;

/// How the report is printed (`--summary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SummaryFormat {
    /// A screen of text.
    Text,
    /// One JSON object, its fields listed in docs/reference/summary.md.
    Json,
}

/// Prints `report` as asked; text is left out when `quiet`, JSON never (it was asked for).
pub fn print(report: &Report, format: SummaryFormat, quiet: bool) {
    match format {
        SummaryFormat::Text if !quiet => print!("{}", Summary(report)),
        SummaryFormat::Text => {}
        SummaryFormat::Json => match serde_json::to_string_pretty(report) {
            Ok(json) => println!("{json}"),
            Err(error) => tracing::error!("cannot print the summary as JSON: {error}"),
        },
    }
}

/// The text form of a report.
pub struct Summary<'a>(pub &'a Report);

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        read(self.0, f)?;
        rows(self.0, f)?;
        written(self.0, f)
    }
}

/// Where the pages came from and what reading them cost.
fn read(report: &Report, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "bbpipe: {} -> {}", report.source, report.destination)?;
    writeln!(f, "  workspaces      {}", report.workspaces.join(", "))?;
    writeln!(
        f,
        "  pages read      {} ({})",
        report.pages,
        bytes(report.input_bytes)
    )?;
    writeln!(f, "  repositories    {}", report.repositories)?;
    if let Some(r) = &report.requests {
        writeln!(f, "  exported from   {} repositories", r.repositories)?;
        writeln!(
            f,
            "  requests        {} ({} retries, {} rate limited, {:.1} s waiting on rate limits)",
            r.requests,
            r.retries,
            r.rate_limited,
            r.waited_ms as f64 / 1000.0
        )?;
    }
    if let Some(e) = &report.export {
        writeln!(
            f,
            "  commits         {} checkpoint(s){}",
            e.checkpoints,
            if e.resumed > 0 {
                format!(
                    "; {} repositories continued an interrupted first export",
                    e.resumed
                )
            } else {
                String::new()
            }
        )?;
        writeln!(
            f,
            "  unfinished runs {} tracked, {} fetched again, {} no longer tracked (gone or too old)",
            e.unfinished_tracked, e.revisited, e.unfinished_dropped
        )?;
        if !e.sort_fallbacks.is_empty() {
            writeln!(
                f,
                "  warning         sort=-run_creation_date ignored for {}: re-runs of old pipelines may be missed",
                e.sort_fallbacks.join(", ")
            )?;
        }
    }
    Ok(())
}

/// What the pages held: runs, steps, environments, deployments, shipped commits, rejects.
///
/// Long because the summary has many lines; each is one `if` in the order printed.
fn rows(report: &Report, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let statuses: Vec<String> = report
        .runs_by_status
        .iter()
        .map(|(status, n)| format!("{status} {n}"))
        .collect();
    writeln!(
        f,
        "  pipeline runs   {} ({})",
        report.pipeline_runs,
        statuses.join(", ")
    )?;
    if report.steps > 0 {
        writeln!(f, "  steps           {}", report.steps)?;
    }
    if report.test_reports > 0 || report.test_cases > 0 {
        writeln!(
            f,
            "  test reports    {} ({} failed or flaky test cases)",
            report.test_reports, report.test_cases
        )?;
    }
    if report.environments > 0 || report.environment_deployments > 0 {
        writeln!(
            f,
            "  environments    {} ({} deployments recorded by Bitbucket)",
            report.environments, report.environment_deployments
        )?;
    }
    if let Some(export) = report.export.as_ref().filter(|e| e.steps_requests > 0) {
        writeln!(
            f,
            "  steps read      of {} new or changed runs ({} requests)",
            export.steps_read, export.steps_requests
        )?;
    }
    if let Some(export) = report.export.as_ref().filter(|e| e.tests_requests > 0) {
        writeln!(
            f,
            "  tests read      {} requests for test reports",
            export.tests_requests
        )?;
    }
    if report.deployments > 0 || report.rule_overlaps > 0 {
        writeln!(
            f,
            "  deployments     {} inferred ({} runs with overlapping rules)",
            report.deployments, report.rule_overlaps
        )?;
    }
    for c in &report.commits {
        writeln!(
            f,
            "  shipped commits {}: {} successful deployments, {} looked up ({} requests): {} commits, {} with no new commit, {} with history rewritten, {} truncated{}",
            c.workspace,
            c.successful_deployments,
            c.looked_up,
            c.requests,
            c.commits,
            c.no_new_commits,
            c.history_rewritten,
            c.truncated,
            if c.withdrawn > 0 {
                format!(", {} withdrawn", c.withdrawn)
            } else {
                String::new()
            }
        )?;
    }
    if report.rejected > 0 {
        writeln!(
            f,
            "  rejected        {} runs set aside in `rejects` (could not be decoded):",
            report.rejected
        )?;
        for example in &report.rejected_examples {
            writeln!(f, "                  {example}")?;
        }
    }
    let dropped = report.duplicates_dropped;
    if dropped > 0 {
        writeln!(
            f,
            "  merged          {dropped} older versions of rows dropped (read twice, or already in the dataset)"
        )?;
    }
    for ws in &report.rules_rederived {
        writeln!(
            f,
            "  rules changed   {}: deployments re-derived from its runs: {} kept, {} added, {} removed",
            ws.workspace, ws.kept, ws.added, ws.removed
        )?;
    }
    if !report.deployments_not_updated.is_empty() {
        writeln!(
            f,
            "  deployments     not updated in {} (no --rules given; they follow the rules of their last commit)",
            report.deployments_not_updated.join(", ")
        )?;
    }
    Ok(())
}

/// What was written, and how long it all took.
fn written(report: &Report, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "  partitioned by  {}", report.partition_by)?;
    if report.format == Format::Delta {
        writeln!(
            f,
            "  format          delta: {} table version(s) committed",
            report.delta_versions
        )?;
    }
    if report.tables.is_empty() {
        writeln!(
            f,
            "  written         nothing: the dataset already held these rows"
        )?;
    }
    for &table in Table::ALL {
        let written = report.table(table);
        let (files, rows, size) = (written.files, written.rows, written.bytes);
        if files > 0 {
            writeln!(
                f,
                "  {:<15} {rows} rows in {files} files ({})",
                table.name(),
                bytes(size)
            )?;
        }
    }
    if report.orphans_removed > 0 {
        writeln!(
            f,
            "  cleaned up      {} files left by an interrupted export",
            report.orphans_removed
        )?;
    }
    if report.files_replaced > 0 {
        writeln!(
            f,
            "  replaced        {} files merged into the new ones",
            report.files_replaced
        )?;
    }
    let seconds = report.elapsed_seconds;
    let rate = report.pipeline_runs as f64 / seconds.max(1e-9);
    writeln!(f, "  elapsed         {seconds:.2} s ({rate:.0} runs/s)")
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
