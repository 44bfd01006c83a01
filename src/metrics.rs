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
    let text = render(outcomes, &previous, chrono::Utc::now().timestamp());
    let partial = path.with_extension("prom.partial");
    std::fs::write(&partial, text).map_err(|e| anyhow::anyhow!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(())
}

/// One sample: its labels (`workspace="acme",table="pipeline_runs"`) and value.
type Sample = (String, f64);

/// The file's text: each metric family with its help, type and samples.
fn render(outcomes: &[Outcome], previous: &str, now: i64) -> String {
    let families: [(&str, &str, Vec<Sample>); 6] = [
        (
            "bbpipe_last_success_timestamp_seconds",
            "When the workspace's last export succeeded (Unix time).",
            last_success(outcomes, previous, now),
        ),
        (
            "bbpipe_exit_code",
            "Exit code of the workspace's last export (0 ok, 8 runs set aside, else failed).",
            outcomes
                .iter()
                .map(|o| (ws(o), f64::from(o.exit_code)))
                .collect(),
        ),
        (
            "bbpipe_duration_seconds",
            "Wall-clock seconds of the workspace's last export.",
            outcomes
                .iter()
                .filter_map(|o| Some((ws(o), o.report.as_ref()?.elapsed_seconds)))
                .collect(),
        ),
        (
            "bbpipe_rows_written",
            "Rows the workspace's last export wrote, per table.",
            rows_written(outcomes),
        ),
        (
            "bbpipe_requests",
            "Requests the workspace's last export sent, per credential (by name).",
            per_credential(outcomes, |c| c.requests),
        ),
        (
            "bbpipe_rate_limited",
            "Responses with HTTP 429 in the workspace's last export, per credential.",
            per_credential(outcomes, |c| c.rate_limited),
        ),
    ];
    let mut text = String::new();
    for (name, help, samples) in families {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (labels, value) in samples {
            text.push_str(&format!("{name}{{{labels}}} {value}\n"));
        }
    }
    text
}

/// A label value, escaped as the text format wants.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn ws(o: &Outcome) -> String {
    format!("workspace=\"{}\"", label(&o.workspace))
}

/// Now for workspaces that succeeded; the time the previous file had for the others.
fn last_success(outcomes: &[Outcome], previous: &str, now: i64) -> Vec<Sample> {
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
        .collect()
}

fn rows_written(outcomes: &[Outcome]) -> Vec<Sample> {
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
        .collect()
}

/// Per credential, by name: one sample for each credential of each workspace.
fn per_credential(outcomes: &[Outcome], pick: fn(&CredentialReport) -> u64) -> Vec<Sample> {
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
}
