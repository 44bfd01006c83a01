//! The report's charts, drawn by plotters as inline SVG.

use crate::report::DeliveryReport;
use chrono::NaiveDate;
use plotters::prelude::*;
use std::collections::BTreeMap;

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("drawing the {chart} chart: {message}")]
pub struct ChartError {
    chart: &'static str,
    message: String,
}

const SIZE: (u32, u32) = (760, 300);
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// A chart of the report, by the name the template and docs/guides/report.md use.
pub struct Chart {
    /// `deploy_frequency`, `change_failure_rate`, `lead_time`, `duration`, `build_minutes`.
    pub name: &'static str,
    /// The SVG.
    pub svg: String,
}

/// One line of a weekly chart.
struct Series {
    label: String,
    points: Vec<(usize, f64)>,
}

/// Each Monday of the window by its position on the charts' x axis.
type WeekIndex = BTreeMap<NaiveDate, usize>;

/// Every chart the report has data for; a chart without data is left out (the page shows an
/// empty state instead).
pub fn draw(report: &DeliveryReport, mondays: &[NaiveDate]) -> Result<Vec<Chart>, ChartError> {
    let week_index: WeekIndex = mondays.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let mut charts = Vec::new();
    deployment_charts(report, mondays, &week_index, &mut charts)?;
    lead_time_chart(report, mondays, &week_index, &mut charts)?;
    duration_chart(report, mondays, &week_index, &mut charts)?;
    build_minutes_chart(report, &mut charts)?;
    Ok(charts)
}

/// Deploy frequency per service and change failure rate, per week.
fn deployment_charts(
    report: &DeliveryReport,
    mondays: &[NaiveDate],
    week_index: &WeekIndex,
    charts: &mut Vec<Chart>,
) -> Result<(), ChartError> {
    if !report.weekly_deployments.is_empty() {
        // One line per service (its environments summed), zero in weeks without a success.
        let mut lines: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let mut failed = vec![0.0; mondays.len()];
        let mut all = vec![0.0; mondays.len()];
        for week in &report.weekly_deployments {
            let Some(&i) = week_index.get(&week.week) else {
                continue;
            };
            lines
                .entry(week.service.clone())
                .or_insert_with(|| vec![0.0; mondays.len()])[i] += week.successful as f64;
            failed[i] += week.failed as f64;
            all[i] += (week.successful + week.failed) as f64;
        }
        let series = lines
            .into_iter()
            .map(|(service, values)| Series {
                label: service,
                points: values.into_iter().enumerate().collect(),
            })
            .collect();
        charts.push(Chart {
            name: "deploy_frequency",
            svg: weekly(
                "deploy_frequency",
                "successful deployments per week, per service",
                mondays,
                series,
            )?,
        });
        let rate = failed
            .iter()
            .zip(&all)
            .enumerate()
            .filter(|(_, (_, all))| **all > 0.0)
            .map(|(i, (failed, all))| (i, 100.0 * failed / all))
            .collect();
        charts.push(Chart {
            name: "change_failure_rate",
            svg: weekly(
                "change_failure_rate",
                "change failure rate per week (%)",
                mondays,
                vec![Series {
                    label: "all services".into(),
                    points: rate,
                }],
            )?,
        });
    }
    Ok(())
}

/// Median lead time per week.
fn lead_time_chart(
    report: &DeliveryReport,
    mondays: &[NaiveDate],
    week_index: &WeekIndex,
    charts: &mut Vec<Chart>,
) -> Result<(), ChartError> {
    let lead: Vec<(usize, f64)> = report
        .lead_time
        .weeks
        .iter()
        .filter_map(|w| Some((*week_index.get(&w.week)?, w.median_seconds? / 3600.0)))
        .collect();
    if !lead.is_empty() {
        charts.push(Chart {
            name: "lead_time",
            svg: weekly(
                "lead_time",
                "lead time for changes per week: median (hours)",
                mondays,
                vec![Series {
                    label: "all services".into(),
                    points: lead,
                }],
            )?,
        });
    }
    Ok(())
}

/// Pipeline duration p50 and p90 per week.
fn duration_chart(
    report: &DeliveryReport,
    mondays: &[NaiveDate],
    week_index: &WeekIndex,
    charts: &mut Vec<Chart>,
) -> Result<(), ChartError> {
    let weeks: Vec<(usize, &crate::report::RunMetrics)> = report
        .weekly_runs
        .iter()
        .filter_map(|w| week_index.get(&w.week).map(|i| (*i, &w.runs)))
        .collect();
    if weeks.iter().any(|(_, r)| r.duration_p50_seconds.is_some()) {
        let line = |label: &str, pick: fn(&crate::report::RunMetrics) -> Option<f64>| Series {
            label: label.into(),
            points: weeks
                .iter()
                .filter_map(|(i, r)| pick(r).map(|s| (*i, s / 60.0)))
                .collect(),
        };
        charts.push(Chart {
            name: "duration",
            svg: weekly(
                "duration",
                "pipeline duration per week (minutes)",
                mondays,
                vec![
                    line("p50", |r| r.duration_p50_seconds),
                    line("p90", |r| r.duration_p90_seconds),
                ],
            )?,
        });
    }
    Ok(())
}

/// Build minutes per repository.
fn build_minutes_chart(report: &DeliveryReport, charts: &mut Vec<Chart>) -> Result<(), ChartError> {
    let minutes: Vec<(String, f64)> = report
        .repositories
        .iter()
        .map(|r| (r.repository.clone(), r.runs.build_minutes))
        .collect();
    if minutes.iter().any(|(_, m)| *m > 0.0) {
        charts.push(Chart {
            name: "build_minutes",
            svg: bars("build_minutes", "build minutes per repository", &minutes)?,
        });
    }
    Ok(())
}

fn failed(chart: &'static str) -> impl Fn(String) -> ChartError {
    move |message| ChartError { chart, message }
}

/// Lines over the weeks of the window.
fn weekly(
    name: &'static str,
    caption: &str,
    mondays: &[NaiveDate],
    series: Vec<Series>,
) -> Result<String, ChartError> {
    let fail = failed(name);
    let top = series
        .iter()
        .flat_map(|s| s.points.iter().map(|(_, v)| *v))
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.35; // headroom for the legend
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        let last = mondays.len().saturating_sub(1).max(1);
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .caption(caption, ("sans-serif", 16))
            .x_label_area_size(32)
            .y_label_area_size(48)
            .build_cartesian_2d(0..last, 0.0..top)
            .map_err(|e| fail(e.to_string()))?;
        chart
            .configure_mesh()
            .x_labels(mondays.len().min(13))
            .x_label_formatter(&|i| {
                mondays
                    .get(*i)
                    .map(|m| m.format("%b %d").to_string())
                    .unwrap_or_default()
            })
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        for (index, line) in series.into_iter().enumerate() {
            let color = PALETTE[index % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(line.points, color.stroke_width(2)))
                .map_err(|e| fail(e.to_string()))?
                .label(line.label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok(svg)
}

/// Horizontal bars, one per label.
fn bars(name: &'static str, caption: &str, values: &[(String, f64)]) -> Result<String, ChartError> {
    let fail = failed(name);
    let top = values
        .iter()
        .map(|(_, v)| *v)
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.1;
    let height = (70 + 30 * values.len()) as u32;
    let count = values.len() as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0, height.max(160))).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .caption(caption, ("sans-serif", 16))
            .x_label_area_size(28)
            .y_label_area_size(190)
            .build_cartesian_2d(0.0..top, (0u32..count).into_segmented())
            .map_err(|e| fail(e.to_string()))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(values.len() + 1)
            .y_label_formatter(&|y| match y {
                SegmentValue::CenterOf(i) => values
                    .get(*i as usize)
                    .map(|(label, _)| label.clone())
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        chart
            .draw_series(values.iter().enumerate().map(|(i, (_, v))| {
                let i = i as u32;
                Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(i)),
                        (*v, SegmentValue::Exact(i + 1)),
                    ],
                    PALETTE[0].filled(),
                )
            }))
            .map_err(|e| fail(e.to_string()))?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok(svg)
}
