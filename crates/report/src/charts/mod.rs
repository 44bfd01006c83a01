//! The report's charts, as inline SVG: one panel per DORA metric (its weekly trend, and the
//! same per service and environment as small multiples on one scale, or a heatmap where there
//! are many), pipeline duration over the weeks, and build minutes per repository as sorted bars.
//!
//! Every chart has a viewBox (it scales with the page), a title and a description, text of
//! at least 11 px at its natural width, and Okabe–Ito colours; `scripts/check_report_page.py`
//! checks them in a browser. docs/guides/report.md says what each one shows.

mod bars;
mod health;
mod heatmap;
mod panel;
mod scale;
mod svg;
#[cfg(test)]
mod tests;
mod weekly;

use crate::report::{DeliveryReport, WeeklyMedian};
use chrono::NaiveDate;
use panel::{Cut, Group, Metric, Weekly, in_days, panel, percent, time_unit};
use scale::number;
use serde::Serialize;
use std::collections::BTreeMap;
use svg::colour;

/// Past this many services and environments, a metric's breakdown is a heatmap: small
/// multiples would run several screens long.
const MOST_MULTIPLES: usize = 12;
/// Rows in one heatmap.
const MOST_ROWS: usize = 30;
/// Bars in the build minutes chart; the table above it has every repository.
const MOST_BARS: usize = 20;
/// The page's text column at 1280 px, where charts are drawn 1:1.
const COLUMN: f64 = 952.0;
/// A trend beside its metric's card.
const TREND: (f64, f64) = (716.0, 230.0);
/// One small multiple (four to a row in the text column).
const MULTIPLE: (f64, f64) = (228.0, 150.0);

/// A chart and its caption.
#[derive(Debug, Serialize)]
pub struct Figure {
    /// Unique in the page (`chart-<id>` is its figure's id).
    pub id: String,
    /// Shown above it.
    pub caption: String,
    /// The SVG, every text from the data escaped.
    pub svg: String,
    /// Shown under it: what it leaves out, and where to find it.
    pub note: Option<String>,
}

/// A DORA metric's charts: its trend over every service, and its breakdown.
#[derive(Debug, Default, Serialize)]
pub struct Panel {
    /// The metric week by week, over every service and environment.
    pub trend: Option<Figure>,
    /// The same per service and environment, on the trend's scale (these or `heatmaps`).
    pub multiples: Vec<Figure>,
    /// The same per service and environment, when there are many: a heatmap of at most
    /// [`MOST_ROWS`] rows each (on one scale), so that each fits a screen and a printed page.
    pub heatmaps: Vec<Figure>,
}

/// Every chart of the page; a chart without data is left out (the page says why instead).
#[derive(Debug, Serialize)]
pub struct Charts {
    /// Successful deployments per week.
    pub deploy_frequency: Panel,
    /// Failed ÷ all deployments per week.
    pub change_failure_rate: Panel,
    /// Median time to restore per week of the failures.
    pub time_to_restore: Panel,
    /// Median lead time per week of the deployments.
    pub lead_time: Panel,
    /// Pipeline duration p50 and p90 per week.
    pub duration: Option<Figure>,
    /// Build minutes per repository.
    pub build_minutes: Option<Figure>,
}

/// Draws every chart `report` has data for.
pub fn draw(report: &DeliveryReport, mondays: &[NaiveDate]) -> Charts {
    let weeks: BTreeMap<NaiveDate, usize> =
        mondays.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let empty = || vec![None; mondays.len()];
    let groups: Vec<(String, String)> = report
        .deployments
        .iter()
        .map(|s| (s.service.clone(), s.environment.clone()))
        .collect();

    // Deployments per week: a week without any is zero deployments, not unknown.
    let mut successful = Cut {
        all: vec![Some(0.0); mondays.len()],
        groups: BTreeMap::new(),
    };
    // Failed and all deployments per week, over every group (None) and per group.
    let mut tried: BTreeMap<Option<Group>, Vec<(f64, f64)>> = BTreeMap::new();
    for group in &groups {
        successful
            .groups
            .insert(group.clone(), vec![Some(0.0); mondays.len()]);
    }
    for week in &report.weekly_deployments {
        let Some(&i) = weeks.get(&week.week) else {
            continue;
        };
        let group = (week.service.clone(), week.environment.clone());
        let add = |values: &mut Weekly| {
            values[i] = Some(values[i].unwrap_or(0.0) + week.successful as f64)
        };
        add(&mut successful.all);
        add(successful
            .groups
            .entry(group.clone())
            .or_insert_with(|| vec![Some(0.0); mondays.len()]));
        for key in [None, Some(group)] {
            let counts = tried
                .entry(key)
                .or_insert_with(|| vec![(0.0, 0.0); mondays.len()]);
            counts[i].0 += week.failed as f64;
            counts[i].1 += (week.successful + week.failed) as f64;
        }
    }
    let rate = |counts: Option<&Vec<(f64, f64)>>| -> Weekly {
        match counts {
            Some(counts) => counts
                .iter()
                .map(|(failed, all)| (*all > 0.0).then(|| 100.0 * failed / all))
                .collect(),
            None => empty(),
        }
    };
    let failure_rate = Cut {
        all: rate(tried.get(&None)),
        groups: groups
            .iter()
            .map(|g| (g.clone(), rate(tried.get(&Some(g.clone())))))
            .collect(),
    };
    let medians = |of: &[WeeklyMedian], groups: &[(String, String)]| -> Cut {
        let mut cut = Cut {
            all: empty(),
            groups: groups.iter().map(|g| (g.clone(), empty())).collect(),
        };
        for m in of {
            let Some(&i) = weeks.get(&m.week) else {
                continue;
            };
            let hours = Some(m.median_seconds / 3600.0);
            match &m.group {
                None => cut.all[i] = hours,
                Some(group) => cut.groups.entry(group.clone()).or_insert_with(empty)[i] = hours,
            }
        }
        cut
    };
    let mut restore = medians(&report.trends.time_to_restore, &groups);
    let restore_unit = time_unit(in_days(&mut restore));
    let lead_groups: Vec<(String, String)> = report
        .lead_time
        .services
        .iter()
        .map(|s| (s.service.clone(), s.environment.clone()))
        .collect();
    let mut lead = medians(&report.trends.lead_time, &lead_groups);
    let lead_unit = time_unit(in_days(&mut lead));

    let has_deployments = report.all_deployments.is_some();
    Charts {
        deploy_frequency: panel(
            has_deployments,
            &Metric {
                name: "deploy_frequency",
                title: "Successful deployments per week",
                unit: "successful deployments".into(),
                short: "successful deployments".into(),
                colour: colour::BLUE,
                rgb: (0, 114, 178),
                format: number,
                whole: true,
            },
            &successful,
            mondays,
        ),
        change_failure_rate: panel(
            has_deployments,
            &Metric {
                name: "change_failure_rate",
                title: "Change failure rate per week",
                unit: "% of deployments that failed".into(),
                short: "% failed".into(),
                colour: colour::VERMILLION,
                rgb: (213, 94, 0),
                format: percent,
                whole: false,
            },
            &failure_rate,
            mondays,
        ),
        time_to_restore: panel(
            has_deployments && restore.all.iter().any(Option::is_some),
            &Metric::duration(
                (
                    "time_to_restore",
                    "Time to restore per week of the failure (median)",
                ),
                restore_unit,
                "to the next successful deployment",
                (colour::ORANGE, (196, 120, 0)),
            ),
            &restore,
            mondays,
        ),
        lead_time: panel(
            lead.all.iter().any(Option::is_some),
            &Metric::duration(
                ("lead_time", "Lead time for changes per week (median)"),
                lead_unit,
                "from commit to deployment",
                (colour::GREEN, (0, 128, 94)),
            ),
            &lead,
            mondays,
        ),
        duration: health::duration(report, &weeks, mondays),
        build_minutes: health::build_minutes(report),
    }
}
