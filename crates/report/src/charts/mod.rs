//! The report's charts, as inline SVG: one panel per DORA metric (its weekly trend, and the
//! same per service and environment as small multiples on one scale, or a heatmap where there
//! are many), pipeline duration over the weeks, and build minutes per repository as sorted bars.
//!
//! Every chart has a viewBox (it scales with the page), a title and a description, text of
//! at least 11 px at its natural width, and Okabe–Ito colours; `scripts/check_report_page.py`
//! checks them in a browser. docs/guides/report.md says what each one shows.

mod bars;
mod heatmap;
mod scale;
mod svg;
mod weekly;

use crate::report::{DeliveryReport, WeeklyMedian};
use bars::Bars;
use chrono::NaiveDate;
use heatmap::Heatmap;
use scale::{Scale, number};
use serde::Serialize;
use std::collections::BTreeMap;
use svg::colour;
use weekly::{Columns, Line};

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

/// One series of a metric: a value per week.
type Weekly = Vec<Option<f64>>;
/// A service and environment.
type Group = (String, String);

/// A metric cut by week, over every service and per service and environment.
struct Cut {
    all: Weekly,
    groups: BTreeMap<(String, String), Weekly>,
}

/// How a metric is drawn.
struct Metric {
    name: &'static str,
    title: &'static str,
    /// The trend's axis.
    unit: String,
    /// The small multiples' axis.
    short: String,
    colour: &'static str,
    rgb: (u8, u8, u8),
    format: fn(f64) -> String,
    whole: bool,
}

/// Durations in hours, or in days where they run past three days.
fn in_days(cut: &mut Cut) -> bool {
    let largest = cut
        .groups
        .values()
        .chain([&cut.all])
        .flat_map(|v| v.iter().flatten())
        .fold(0.0f64, |a, b| a.max(*b));
    let days = largest > 72.0;
    if days {
        for values in cut.groups.values_mut().chain([&mut cut.all]) {
            for value in values.iter_mut().flatten() {
                *value /= 24.0;
            }
        }
    }
    days
}

fn time_unit(days: bool) -> &'static str {
    if days { "days" } else { "hours" }
}

impl Metric {
    /// A median duration per week, in `unit` (hours or days) `what` (its axis reads
    /// "days to the next successful deployment").
    fn duration(
        (name, title): (&'static str, &'static str),
        unit: &str,
        what: &str,
        (colour, rgb): (&'static str, (u8, u8, u8)),
    ) -> Metric {
        Metric {
            name,
            title,
            unit: format!("{unit} {what}"),
            short: unit.into(),
            colour,
            rgb,
            format: number,
            whole: false,
        }
    }
}

fn percent(value: f64) -> String {
    format!("{value:.0}%")
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
        duration: duration(report, &weeks, mondays),
        build_minutes: build_minutes(report),
    }
}

/// A metric's panel: its trend, and its breakdown on the same scale.
fn panel(shown: bool, metric: &Metric, cut: &Cut, mondays: &[NaiveDate]) -> Panel {
    if !shown || mondays.is_empty() {
        return Panel::default();
    }
    let largest = |values: &Weekly| values.iter().flatten().fold(0.0f64, |a, b| a.max(*b));
    let trend_scale = Scale::new(largest(&cut.all), 4, metric.whole);
    let id = format!("{}-trend", metric.name);
    let trend = Figure {
        svg: weekly::columns(&Columns {
            id: &id,
            title: metric.title,
            unit: &metric.unit,
            mondays,
            values: &cut.all,
            scale: &trend_scale,
            colour: metric.colour,
            size: TREND,
            format: metric.format,
            labelled: true,
        }),
        id,
        caption: format!("{}, all services", metric.title),
        note: None,
    };
    let mut panel = Panel {
        trend: Some(trend),
        ..Panel::default()
    };
    if cut.groups.len() < 2 {
        return panel; // the trend is the one service's
    }
    let shared = Scale::new(
        cut.groups.values().map(largest).fold(0.0, f64::max),
        3,
        metric.whole,
    );
    let label = |(service, environment): &(String, String)| format!("{service} · {environment}");
    if cut.groups.len() > MOST_MULTIPLES {
        let rows: Vec<(String, Weekly)> = cut
            .groups
            .iter()
            .map(|(g, v)| (label(g), v.clone()))
            .collect();
        let largest = rows.iter().map(|(_, v)| largest(v)).fold(0.0, f64::max);
        let room = heatmap::label_room(rows.iter().map(|(label, _)| label.as_str()), COLUMN);
        let parts = rows.len().div_ceil(MOST_ROWS);
        let per_part = rows.len().div_ceil(parts);
        for (part, chunk) in rows.chunks(per_part).enumerate() {
            let id = format!("{}-heatmap-{part}", metric.name);
            let first = part * per_part + 1;
            let shown = format!(
                "{}, per service and environment: rows {first}–{} of {}",
                metric.title,
                first + chunk.len() - 1,
                rows.len()
            );
            panel.heatmaps.push(Figure {
                svg: heatmap::heatmap(&Heatmap {
                    id: &id,
                    title: &shown,
                    unit: &metric.unit,
                    mondays,
                    rows: chunk,
                    largest,
                    room,
                    colour: metric.rgb,
                    width: COLUMN,
                    format: metric.format,
                }),
                id,
                caption: shown.clone(),
                note: None,
            });
        }
        return panel;
    }
    for (index, (group, values)) in cut.groups.iter().enumerate() {
        let id = format!("{}-{index}", metric.name);
        let title = format!("{}: {}", metric.title, label(group));
        panel.multiples.push(Figure {
            svg: weekly::columns(&Columns {
                id: &id,
                title: &title,
                unit: &metric.short,
                mondays,
                values,
                scale: &shared,
                colour: metric.colour,
                size: MULTIPLE,
                format: metric.format,
                labelled: false,
            }),
            id,
            caption: label(group),
            note: None,
        });
    }
    panel
}

/// Pipeline duration p50 and p90 per week, in minutes.
fn duration(
    report: &DeliveryReport,
    weeks: &BTreeMap<NaiveDate, usize>,
    mondays: &[NaiveDate],
) -> Option<Figure> {
    let mut p50 = vec![None; mondays.len()];
    let mut p90 = vec![None; mondays.len()];
    for week in &report.weekly_runs {
        let Some(&i) = weeks.get(&week.week) else {
            continue;
        };
        p50[i] = week.runs.duration_p50_seconds.map(|s| s / 60.0);
        p90[i] = week.runs.duration_p90_seconds.map(|s| s / 60.0);
    }
    if p50.iter().all(Option::is_none) {
        return None;
    }
    let id = "duration".to_string();
    Some(Figure {
        svg: weekly::lines(
            &id,
            "Pipeline duration per week: p50 and p90",
            "minutes per run",
            mondays,
            &[
                Line {
                    label: "p90",
                    colour: colour::ORANGE,
                    values: p90,
                },
                Line {
                    label: "p50",
                    colour: colour::BLUE,
                    values: p50,
                },
            ],
            (COLUMN, 280.0),
        ),
        id,
        caption: "Pipeline duration per week (completed runs): median and 90th percentile".into(),
        note: None,
    })
}

/// Build minutes per repository, the most first.
fn build_minutes(report: &DeliveryReport) -> Option<Figure> {
    let mut minutes: Vec<(String, f64)> = report
        .repositories
        .iter()
        .filter(|r| r.runs.build_minutes > 0.0)
        .map(|r| (r.repository.clone(), r.runs.build_minutes))
        .collect();
    if minutes.is_empty() {
        return None;
    }
    minutes.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let all = minutes.len();
    minutes.truncate(MOST_BARS);
    let note = (all > MOST_BARS).then(|| {
        format!(
            "The {MOST_BARS} repositories with the most build minutes, of {all}; the table above \
             and the JSON's repositories[].build_minutes have every one."
        )
    });
    let id = "build_minutes".to_string();
    Some(Figure {
        svg: bars::bars(Bars {
            id: &id,
            title: "Build minutes per repository",
            unit: "build minutes (Σ build_seconds_used ÷ 60)",
            items: minutes,
            width: COLUMN,
            format: number,
        }),
        id,
        caption: "Build minutes per repository".into(),
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mondays(count: usize) -> Vec<NaiveDate> {
        let first = NaiveDate::from_ymd_opt(2026, 8, 24).unwrap();
        (0..count)
            .map(|i| first + chrono::Duration::weeks(i as i64))
            .collect()
    }

    fn metric() -> Metric {
        Metric {
            name: "deploy_frequency",
            title: "Successful deployments per week",
            unit: "successful deployments".into(),
            short: "deployments".into(),
            colour: colour::BLUE,
            rgb: (0, 114, 178),
            format: number,
            whole: true,
        }
    }

    fn cut(groups: usize, weeks: usize) -> Cut {
        Cut {
            all: (0..weeks).map(|w| Some(w as f64)).collect(),
            groups: (0..groups)
                .map(|g| {
                    (
                        (format!("service-{g:02}"), "production".into()),
                        vec![Some(g as f64); weeks],
                    )
                })
                .collect(),
        }
    }

    /// The y of each `<rect class="column">` (its top) in document order.
    fn column_tops(svg: &str) -> Vec<f64> {
        svg.split("<rect class=\"column\"")
            .skip(1)
            .map(|rest| {
                let y = rest.split("y=\"").nth(1).unwrap();
                y[..y.find('"').unwrap()].parse().unwrap()
            })
            .collect()
    }

    #[test]
    fn one_service_has_its_trend_and_no_breakdown() {
        let panel = panel(true, &metric(), &cut(1, 13), &mondays(13));
        assert!(panel.trend.is_some());
        assert!(panel.multiples.is_empty() && panel.heatmaps.is_empty());
    }

    #[test]
    fn a_few_services_are_small_multiples_on_one_scale() {
        let panel = panel(true, &metric(), &cut(5, 13), &mondays(13));
        assert_eq!(panel.multiples.len(), 5);
        // Service g has g every week on a shared scale: the columns of service 4 are the
        // tallest, and service 2's stand half as tall above the same baseline.
        let tops: Vec<f64> = panel
            .multiples
            .iter()
            .map(|f| column_tops(&f.svg)[0])
            .collect();
        assert!(tops.windows(2).all(|t| t[0] > t[1]), "{tops:?}");
        let base = column_tops(&panel.multiples[0].svg)[0] + 1.5; // a zero is a 1.5 px mark
        let (half, full) = (base - tops[2], base - tops[4]);
        assert!((full / half - 2.0).abs() < 0.05, "{half} {full}");
    }

    #[test]
    fn many_services_are_heatmaps_that_fit_a_screen_each() {
        let panel = panel(true, &metric(), &cut(54, 13), &mondays(13));
        assert!(panel.multiples.is_empty());
        assert_eq!(panel.heatmaps.len(), 2);
        for figure in &panel.heatmaps {
            assert_eq!(figure.svg.matches("<rect class=\"cell\"").count(), 27 * 13);
        }
        assert!(
            panel.heatmaps[1].caption.contains("rows 28–54 of 54"),
            "{}",
            panel.heatmaps[1].caption
        );
        // One scale: the legend's top is the largest value of all 54 rows in both.
        for figure in &panel.heatmaps {
            assert!(figure.svg.contains(">60</text>"), "{}", figure.svg);
        }
    }

    #[test]
    fn a_week_without_a_value_has_no_column_and_a_zero_has_a_mark() {
        let svg = weekly::columns(&Columns {
            id: "t",
            title: "t",
            unit: "u",
            mondays: &mondays(3),
            values: &[Some(0.0), None, Some(4.0)],
            scale: &Scale::new(4.0, 4, true),
            colour: colour::BLUE,
            size: TREND,
            format: number,
            labelled: true,
        });
        assert_eq!(column_tops(&svg).len(), 2);
        assert!(
            !svg.contains("week of 2026-08-31"),
            "no column, so no tooltip: {svg}"
        );
        assert!(svg.contains("Aug 31: none"), "the description says so");
    }

    #[test]
    fn bars_are_drawn_largest_first_with_their_values() {
        let svg = bars::bars(Bars {
            id: "b",
            title: "b",
            unit: "minutes",
            items: vec![
                ("small".into(), 2.0),
                ("large".into(), 40.0),
                ("middle".into(), 9.0),
            ],
            width: COLUMN,
            format: number,
        });
        let order: Vec<usize> = ["large", "middle", "small"]
            .iter()
            .map(|l| svg.find(&format!("<title>{l}:")).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        for value in [">40</text>", ">9</text>", ">2</text>"] {
            assert!(svg.contains(value), "{value}");
        }
    }
}
