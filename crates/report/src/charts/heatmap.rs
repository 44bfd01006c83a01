//! A heatmap: one row per series, one cell per week, darker for more. Where there are too many
//! series for small multiples to stay readable, this shows them all on one scale.

use super::scale::Scale;
use super::svg::{Anchor, SMALL, Svg, TEXT, colour, fit, text_width};
use super::weekly::week_label;
use chrono::NaiveDate;

const ROW: f64 = 20.0;
const GAP: f64 = 2.0;
/// A cell without a value.
const EMPTY: &str = "#f8f9fb";
const LIGHT: (u8, u8, u8) = (236, 242, 248);

/// A heatmap.
pub struct Heatmap<'a> {
    /// Unique in the page.
    pub id: &'a str,
    /// What it shows (the SVG's title).
    pub title: &'a str,
    /// What a cell holds.
    pub unit: &'a str,
    /// The weeks.
    pub mondays: &'a [NaiveDate],
    /// A label and one value per week; `None` where there is nothing to show.
    pub rows: &'a [(String, Vec<Option<f64>>)],
    /// The largest value of every heatmap shown with this one (they share a scale).
    pub largest: f64,
    /// Room for the row labels, the same in every heatmap shown with this one (so that their
    /// weeks line up): [`label_room`] of all their rows.
    pub room: f64,
    /// The darkest colour, as RGB.
    pub colour: (u8, u8, u8),
    /// Width in px at 100 % zoom.
    pub width: f64,
    /// A value as a label.
    pub format: fn(f64) -> String,
}

fn shade(from: (u8, u8, u8), to: (u8, u8, u8), share: f64) -> String {
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * share).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(from.0, to.0),
        mix(from.1, to.1),
        mix(from.2, to.2)
    )
}

/// Room for row labels in a heatmap `width` wide: the widest label, up to 30 % of the width
/// (longer ones are cut).
pub fn label_room<'a>(labels: impl Iterator<Item = &'a str>, width: f64) -> f64 {
    labels
        .map(|label| text_width(label, TEXT))
        .fold(0.0, f64::max)
        .min(width * 0.3)
}

/// Draws `chart`.
pub fn heatmap(chart: &Heatmap) -> String {
    let max = chart.largest;
    let scale = Scale::new(max, 4, false);
    let room = chart.room;
    let left = room + 12.0;
    let weeks = chart.mondays.len().max(1);
    let cell = (chart.width - left - 8.0) / weeks as f64;
    let top = 40.0;
    let bottom = top + ROW * chart.rows.len() as f64;
    let height = bottom + 40.0;
    let desc = format!(
        "{} rows, one per service and environment, by {} weeks from {}; a darker cell is a \
         larger value, up to {}; a blank cell has no value.",
        chart.rows.len(),
        chart.mondays.len(),
        chart
            .mondays
            .first()
            .map(|m| week_label(*m))
            .unwrap_or_default(),
        (chart.format)(max),
    );
    let mut svg = Svg::new(chart.id, chart.width, height, chart.title, &desc);
    svg.text(
        (0.0, 9.0),
        Anchor::Start,
        SMALL,
        colour::INK,
        &fit(chart.unit, SMALL, chart.width),
    );
    let label = text_width("Mar 30", SMALL) + 8.0;
    let every = (label / cell).ceil().max(1.0) as usize;
    for (i, monday) in chart.mondays.iter().enumerate().step_by(every) {
        let x = left + cell * (i as f64 + 0.5);
        svg.tick(
            ((x, top - 6.0), (x, top - 2.0)),
            ((x, top - 16.0), Anchor::Middle, &week_label(*monday)),
        );
    }
    for (r, (name, values)) in chart.rows.iter().enumerate() {
        let y = top + ROW * r as f64;
        svg.text(
            (left - 8.0, y + ROW / 2.0 - GAP / 2.0),
            Anchor::End,
            TEXT,
            colour::INK,
            &fit(name, TEXT, room),
        );
        for (i, (monday, value)) in chart.mondays.iter().zip(values).enumerate() {
            let x = left + cell * i as f64;
            let (fill, tip, share) = match value {
                Some(v) => {
                    let share = scale.share(*v).max(0.0);
                    let shown = (chart.format)(*v);
                    (
                        shade(LIGHT, chart.colour, share.powf(0.8)),
                        format!("{name}, week of {monday}: {shown}"),
                        Some((share, shown)),
                    )
                }
                None => (
                    EMPTY.to_string(),
                    format!("{name}, week of {monday}: none"),
                    None,
                ),
            };
            svg.rect("cell", x, y, cell - GAP, ROW - GAP, &fill, &tip);
            if let Some((share, shown)) = share
                && text_width(&shown, SMALL) + 4.0 <= cell - GAP
            {
                let ink = if share > 0.55 { "#ffffff" } else { colour::INK };
                svg.text(
                    (x + (cell - GAP) / 2.0, y + (ROW - GAP) / 2.0),
                    Anchor::Middle,
                    SMALL,
                    ink,
                    &shown,
                );
            }
        }
    }
    // The legend: the scale's ends and five shades between.
    let y = bottom + 14.0;
    svg.text(
        (left, y),
        Anchor::Start,
        SMALL,
        colour::INK,
        &(chart.format)(0.0),
    );
    let mut x = left + text_width(&(chart.format)(0.0), SMALL) + 6.0;
    for step in 0..5 {
        let share = step as f64 / 4.0;
        svg.rect(
            "swatch",
            x,
            y - 7.0,
            18.0,
            14.0,
            &shade(LIGHT, chart.colour, share.powf(0.8)),
            "",
        );
        x += 20.0;
    }
    svg.text(
        (x + 4.0, y),
        Anchor::Start,
        SMALL,
        colour::INK,
        &(chart.format)(scale.top),
    );
    let x = x + 4.0 + text_width(&(chart.format)(scale.top), SMALL) + 16.0;
    svg.rect("swatch", x, y - 7.0, 18.0, 14.0, EMPTY, "");
    svg.text((x + 24.0, y), Anchor::Start, SMALL, colour::INK, "none");
    svg.finish()
}
