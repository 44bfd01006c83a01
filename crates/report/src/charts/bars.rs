//! Horizontal bars, one per label, longest first, each with its value at its end.

use super::scale::Scale;
use super::svg::{Anchor, SMALL, Svg, TEXT, colour, fit, text_width};

const ROW: f64 = 26.0;
const BAR: f64 = 18.0;

/// A bar chart.
pub struct Bars<'a> {
    /// Unique in the page.
    pub id: &'a str,
    /// What it shows (the SVG's title).
    pub title: &'a str,
    /// The x axis' unit, drawn under it.
    pub unit: &'a str,
    /// Labels and values, in any order.
    pub items: Vec<(String, f64)>,
    /// Width in px at 100 % zoom (the height follows from the bars).
    pub width: f64,
    /// A value as a label.
    pub format: fn(f64) -> String,
}

/// Draws `chart`: bars sorted by value, largest on top (ties by label).
pub fn bars(chart: Bars) -> String {
    let mut items = chart.items;
    items.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let max = items.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let scale = Scale::new(max, 5, false);
    let room = items
        .iter()
        .map(|(label, _)| text_width(label, TEXT))
        .fold(0.0, f64::max)
        .min(chart.width * 0.36);
    let left = room + 12.0;
    let right = items
        .iter()
        .map(|(_, v)| text_width(&(chart.format)(*v), TEXT))
        .fold(0.0, f64::max)
        + 14.0;
    let plot = chart.width - left - right;
    let top = 6.0;
    let bottom = top + ROW * items.len() as f64;
    let height = bottom + 44.0;
    let desc = format!(
        "Largest first: {}.",
        items
            .iter()
            .map(|(label, v)| format!("{label}: {}", (chart.format)(*v)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut svg = Svg::new(chart.id, chart.width, height, chart.title, &desc);
    for tick in &scale.ticks {
        let x = left + plot * scale.share(*tick);
        svg.tick(
            ((x, top), (x, bottom)),
            ((x, bottom + 12.0), Anchor::Middle, &(chart.format)(*tick)),
        );
    }
    svg.line((left, top), (left, bottom), colour::INK, 1.0);
    for (i, (label, value)) in items.iter().enumerate() {
        let y = top + ROW * i as f64 + (ROW - BAR) / 2.0;
        let length = plot * scale.share(*value);
        let shown = (chart.format)(*value);
        svg.rect(
            "bar",
            left,
            y,
            length,
            BAR,
            colour::BLUE,
            &format!("{label}: {shown}"),
        );
        let middle = y + BAR / 2.0;
        svg.text(
            (left - 8.0, middle),
            Anchor::End,
            TEXT,
            colour::INK,
            &fit(label, TEXT, room),
        );
        svg.text(
            (left + length + 6.0, middle),
            Anchor::Start,
            TEXT,
            colour::INK,
            &shown,
        );
    }
    svg.text(
        (left, bottom + 32.0),
        Anchor::Start,
        SMALL,
        colour::INK,
        chart.unit,
    );
    svg.finish()
}
