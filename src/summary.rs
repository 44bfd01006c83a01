//! The one-screen report printed at the end of a run.

use bbpipe_load::LoadSummary;
use bbpipe_model::Table;
use bbpipe_transform::TransformSummary;
use std::fmt;
use std::time::Duration;

/// What the API cost, for exports.
pub struct Requests {
    pub repositories: u64,
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub waited_ms: u64,
}

/// What an export adds to the summary: how it committed and what it revisited.
pub struct ExportReport {
    pub checkpoints: u64,
    pub resumed: u64,
    pub revisited: u64,
    pub unfinished_tracked: u64,
    pub unfinished_dropped: u64,
    pub sort_fallbacks: Vec<String>,
}

pub struct Summary {
    pub source: String,
    pub destination: String,
    pub workspaces: Vec<String>,
    pub pages: u64,
    pub input_bytes: u64,
    pub transform: TransformSummary,
    pub load: LoadSummary,
    pub elapsed: Duration,
    pub requests: Option<Requests>,
    pub export: Option<ExportReport>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "bbpipe: {} -> {}", self.source, self.destination)?;
        writeln!(f, "  workspaces      {}", self.workspaces.join(", "))?;
        writeln!(
            f,
            "  pages read      {} ({})",
            self.pages,
            bytes(self.input_bytes)
        )?;
        writeln!(f, "  repositories    {}", self.transform.repositories)?;
        if let Some(r) = &self.requests {
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
        if let Some(e) = &self.export {
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
        let statuses: Vec<String> = self
            .transform
            .runs_by_status
            .iter()
            .map(|(status, n)| format!("{status} {n}"))
            .collect();
        writeln!(
            f,
            "  pipeline runs   {} ({})",
            self.transform.pipeline_runs,
            statuses.join(", ")
        )?;
        if self.transform.deployments > 0 || self.transform.rule_overlaps > 0 {
            writeln!(
                f,
                "  deployments     {} inferred ({} runs with overlapping rules)",
                self.transform.deployments, self.transform.rule_overlaps
            )?;
        }
        if self.transform.rejected > 0 {
            writeln!(
                f,
                "  rejected        {} runs set aside in `rejects` (could not be decoded):",
                self.transform.rejected
            )?;
            for example in &self.transform.rejected_examples {
                writeln!(f, "                  {example}")?;
            }
        }
        let dropped = self.load.duplicates_dropped();
        if dropped > 0 {
            writeln!(
                f,
                "  merged          {dropped} older versions of rows dropped (read twice, or already in the dataset)"
            )?;
        }
        if self.load.files.is_empty() {
            writeln!(
                f,
                "  written         nothing: the dataset already held these rows"
            )?;
        }
        for table in Table::ALL {
            let (files, rows, size) = self.load.totals(table);
            if files > 0 {
                writeln!(
                    f,
                    "  {:<15} {rows} rows in {files} files ({})",
                    table.name(),
                    bytes(size)
                )?;
            }
        }
        if self.load.orphans_removed > 0 {
            writeln!(
                f,
                "  cleaned up      {} files left by an interrupted export",
                self.load.orphans_removed
            )?;
        }
        if self.load.replaced > 0 {
            writeln!(
                f,
                "  replaced        {} files merged into the new ones",
                self.load.replaced
            )?;
        }
        let seconds = self.elapsed.as_secs_f64();
        let rate = self.transform.pipeline_runs as f64 / seconds.max(1e-9);
        writeln!(f, "  elapsed         {seconds:.2} s ({rate:.0} runs/s)")
    }
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
