//! A DORA metric's panel: the metric cut by week (over every service, and per service and
//! environment), drawn as its trend and its breakdown on one scale.

use super::heatmap::{self, Heatmap};
use super::scale::{Scale, number};
use super::weekly::{self, Columns};
use super::{COLUMN, Figure, MOST_MULTIPLES, MOST_ROWS, MULTIPLE, Panel, TREND};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// One series of a metric: a value per week.
pub(super) type Weekly = Vec<Option<f64>>;
/// A service and environment.
pub(super) type Group = (String, String);

/// A metric cut by week, over every service and per service and environment.
pub(super) struct Cut {
    pub(super) all: Weekly,
    pub(super) groups: BTreeMap<Group, Weekly>,
}

/// How a metric is drawn.
pub(super) struct Metric {
    pub(super) name: &'static str,
    pub(super) title: &'static str,
    /// The trend's axis.
    pub(super) unit: String,
    /// The small multiples' axis.
    pub(super) short: String,
    pub(super) colour: &'static str,
    pub(super) rgb: (u8, u8, u8),
    pub(super) format: fn(f64) -> String,
    pub(super) whole: bool,
}

/// Durations in hours, or in days where they run past three days.
pub(super) fn in_days(cut: &mut Cut) -> bool {
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

pub(super) fn time_unit(days: bool) -> &'static str {
    if days { "days" } else { "hours" }
}

impl Metric {
    /// A median duration per week, in `unit` (hours or days) `what` (its axis reads
    /// "days to the next successful deployment").
    pub(super) fn duration(
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

pub(super) fn percent(value: f64) -> String {
    format!("{value:.0}%")
}

/// A metric's panel: its trend, and its breakdown on the same scale.
pub(super) fn panel(shown: bool, metric: &Metric, cut: &Cut, mondays: &[NaiveDate]) -> Panel {
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
