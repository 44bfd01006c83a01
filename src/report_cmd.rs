//! `bbpipe report`: the delivery report of a dataset, as an HTML page, JSON, or headline
//! figures on stdout.

use crate::cli::ReportArgs;
use crate::write_cmd::{failed, store_options};
use anyhow::Context;
use bbpipe_pipeline::delivery_report::{DeliveryReport, Filters, render};
use bbpipe_pipeline::{DeliveryJob, WriteOptions, delivery};
use std::io::Write;

pub async fn run(args: ReportArgs, quiet: bool) -> anyhow::Result<()> {
    let mut dataset = WriteOptions::new(&args.dest);
    dataset.store = store_options(&args.store);
    let job = DeliveryJob {
        dataset,
        from: args.from,
        to: args.to,
        filters: Filters {
            workspace: args.workspace.clone(),
            service: args.service.clone(),
            environment: args.environment.clone(),
        },
    };
    let output = delivery(&job).await.map_err(failed)?;
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&output.report)?;
        if path.as_os_str() == "-" {
            println!("{json}");
        } else {
            write_file(path, json.as_bytes())?;
        }
    }
    if let Some(path) = &args.html {
        let page = render(&output.report, &output.mondays, &args.dest)?;
        write_file(path, page.as_bytes())?;
    }
    if !quiet && args.json.as_deref().is_none_or(|p| p.as_os_str() != "-") {
        print!("{}", headline(&output.report, &args));
    }
    Ok(())
}

/// Written next to its place, then renamed: a reader never sees half a report.
fn write_file(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    let mut file = std::fs::File::create(&partial)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{:.1}%", 100.0 * v))
}

/// The headline figures, one `writeln!` per line printed: a flat list.
fn headline(report: &DeliveryReport, args: &ReportArgs) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    let window = &report.window;
    let _ = writeln!(
        text,
        "bbpipe report: {} {} to {}",
        args.dest, window.from, window.to
    );
    match &report.all_deployments {
        Some(all) => {
            let _ = writeln!(
                text,
                "  deployments     {} ({} successful), {:.2}/week ({}), change failure rate {} ({})",
                all.deployments,
                all.successful,
                all.deploy_frequency_per_week,
                all.deploy_frequency_band.name(),
                percent(all.change_failure_rate),
                all.change_failure_rate_band.map_or("-", |b| b.name()),
            );
            let restore = &all.time_to_restore;
            let _ = writeln!(
                text,
                "  time to restore median {} over {} restored failures, {} open",
                restore
                    .median_seconds
                    .map_or_else(|| "-".into(), |s| format!("{:.1} h", s / 3600.0)),
                restore.restored,
                restore.open.len()
            );
        }
        None if report.has_deployments => {
            let _ = writeln!(text, "  deployments     none in this window");
        }
        None => {
            let _ = writeln!(
                text,
                "  deployments     none: the dataset has no deployments table (add deploy rules, see docs/guides/deploy-rules.md)"
            );
        }
    }
    let lead = &report.lead_time;
    let _ = match lead.median_seconds {
        Some(median) => writeln!(
            text,
            "  lead time       median {:.1} h{}, p90 {:.1} h, over {} commits",
            median / 3600.0,
            lead.band
                .map_or_else(String::new, |b| format!(" ({})", b.name())),
            lead.p90_seconds.unwrap_or(median) / 3600.0,
            lead.commits
        ),
        None if lead.available => {
            writeln!(text, "  lead time       no commit shipped in this window")
        }
        None => writeln!(
            text,
            "  lead time       n/a: {}",
            lead.reason.as_deref().unwrap_or("unknown")
        ),
    };
    let runs: u64 = report.repositories.iter().map(|r| r.runs.runs).sum();
    let minutes: f64 = report
        .repositories
        .iter()
        .map(|r| r.runs.build_minutes)
        .sum();
    let _ = writeln!(
        text,
        "  pipeline runs   {runs} in {} repositories, {:.0} build minutes, {} unfinished",
        report.repositories.len(),
        minutes,
        report.unfinished_runs.count
    );
    for (flag, path) in [("html", &args.html), ("json", &args.json)] {
        if let Some(path) = path {
            let _ = writeln!(text, "  {flag:<15} {}", path.display());
        }
    }
    text
}
