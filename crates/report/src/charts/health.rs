//! The pipeline health charts: duration over the weeks, build minutes per repository.

use super::bars::{self, Bars};
use super::scale::number;
use super::svg::colour;
use super::weekly::{self, Line};
use super::{COLUMN, Figure, MOST_BARS};
use crate::report::DeliveryReport;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Pipeline duration p50 and p90 per week, in minutes.
pub(super) fn duration(
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
pub(super) fn build_minutes(report: &DeliveryReport) -> Option<Figure> {
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
