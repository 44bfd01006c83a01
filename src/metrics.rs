//! `--metrics-file`: what node_exporter's textfile collector reads.

use crate::outcome::Outcome;
use bbpipe_pipeline::CredentialReport;
use std::path::Path;

/// `--metrics-file`: Prometheus text for node_exporter's textfile collector, written to a
/// temporary file and renamed, so the collector never reads half of it. A workspace that
/// failed keeps the last success time the file had.
pub fn write(path: Option<&Path>, outcomes: &[Outcome]) -> anyhow::Result<()> {
    let Some(path) = path else {
        return Ok(());
    };
    let previous = std::fs::read_to_string(path).unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    let mut text = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, f64)>| {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, value) in samples {
            text.push_str(&format!("{name}{{{labels}}} {value}\n"));
        }
    };
    let label = |value: &str| {
        value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let ws = |o: &Outcome| format!("workspace=\"{}\"", label(&o.workspace));
    family(
        "bbpipe_last_success_timestamp_seconds",
        "gauge",
        "When the workspace's last export succeeded (Unix time).",
        outcomes
            .iter()
            .filter_map(|o| {
                let key = format!("bbpipe_last_success_timestamp_seconds{{{}}} ", ws(o));
                let last = if o.report.is_some() {
                    Some(now as f64)
                } else {
                    previous
                        .lines()
                        .find_map(|l| l.strip_prefix(&key))
                        .and_then(|v| v.trim().parse().ok())
                };
                last.map(|t| (ws(o), t))
            })
            .collect(),
    );
    family(
        "bbpipe_exit_code",
        "gauge",
        "Exit code of the workspace's last export (0 ok, 8 runs set aside, else failed).",
        outcomes
            .iter()
            .map(|o| (ws(o), f64::from(o.exit_code)))
            .collect(),
    );
    family(
        "bbpipe_duration_seconds",
        "gauge",
        "Wall-clock seconds of the workspace's last export.",
        outcomes
            .iter()
            .filter_map(|o| Some((ws(o), o.report.as_ref()?.elapsed_seconds)))
            .collect(),
    );
    family(
        "bbpipe_rows_written",
        "gauge",
        "Rows the workspace's last export wrote, per table.",
        outcomes
            .iter()
            .flat_map(|o| {
                let tables = o.report.iter().flat_map(|r| r.tables.iter());
                tables.map(move |(table, t)| {
                    (
                        format!("{},table=\"{}\"", ws(o), label(table)),
                        t.rows as f64,
                    )
                })
            })
            .collect(),
    );
    // Per credential, by name: one sample for each credential of each workspace.
    let per_credential = |pick: fn(&CredentialReport) -> u64| -> Vec<(String, f64)> {
        outcomes
            .iter()
            .flat_map(|o| {
                let credentials = o
                    .report
                    .iter()
                    .flat_map(|r| r.requests.iter().flat_map(|q| q.credentials.iter()));
                credentials.map(move |c| {
                    let labels = format!("{},credential=\"{}\"", ws(o), label(&c.name));
                    (labels, pick(c) as f64)
                })
            })
            .collect()
    };
    family(
        "bbpipe_requests",
        "gauge",
        "Requests the workspace's last export sent, per credential (by name).",
        per_credential(|c| c.requests),
    );
    family(
        "bbpipe_rate_limited",
        "gauge",
        "Responses with HTTP 429 in the workspace's last export, per credential.",
        per_credential(|c| c.rate_limited),
    );
    let partial = path.with_extension("prom.partial");
    std::fs::write(&partial, text).map_err(|e| anyhow::anyhow!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(())
}
