//! Charts over the weeks of the window: columns (one per week) and lines (a few series).

use super::scale::{Scale, number};
use super::svg::{Anchor, SMALL, Svg, TEXT, colour, fit, text_width};
use chrono::NaiveDate;

/// The label of a week on an x axis.
pub fn week_label(monday: NaiveDate) -> String {
    monday.format("%b %d").to_string()
}

/// The frame shared by the weekly charts: a plot area, a y scale and the weeks along x.
struct Frame<'a> {
    mondays: &'a [NaiveDate],
    scale: &'a Scale,
    left: f64,
    top: f64,
    width: f64,
    height: f64,
}

impl Frame<'_> {
    fn pitch(&self) -> f64 {
        self.width / self.mondays.len().max(1) as f64
    }

    /// The middle of week `i`'s column.
    fn x(&self, i: usize) -> f64 {
        self.left + self.pitch() * (i as f64 + 0.5)
    }

    fn y(&self, value: f64) -> f64 {
        self.top + self.height * (1.0 - self.scale.share(value))
    }

    /// The unit above the y axis, the y ticks with their grid lines, the baseline and the week
    /// labels (every k-th, k such that they never touch).
    fn draw(&self, svg: &mut Svg, unit: &str, total_width: f64, format: fn(f64) -> String) {
        svg.text(
            (0.0, 9.0),
            Anchor::Start,
            SMALL,
            colour::INK,
            &fit(unit, SMALL, total_width),
        );
        for tick in &self.scale.ticks {
            let y = self.y(*tick);
            svg.tick(
                ((self.left, y), (self.left + self.width, y)),
                ((self.left - 6.0, y), Anchor::End, &format(*tick)),
            );
        }
        let base = self.top + self.height;
        svg.line(
            (self.left, base),
            (self.left + self.width, base),
            colour::INK,
            1.0,
        );
        let label = text_width("Mar 30", SMALL) + 8.0;
        let every = (label / self.pitch()).ceil().max(1.0) as usize;
        for (i, monday) in self.mondays.iter().enumerate().step_by(every) {
            svg.text(
                (self.x(i), base + 13.0),
                Anchor::Middle,
                SMALL,
                colour::INK,
                &week_label(*monday),
            );
        }
    }
}

/// Room for the y tick labels of `scale`.
fn tick_room(scale: &Scale, format: fn(f64) -> String) -> f64 {
    scale
        .ticks
        .iter()
        .map(|t| text_width(&format(*t), SMALL))
        .fold(14.0, f64::max)
        + 10.0
}

/// A column chart: one column per week, its value above it where there is room. A zero is a
/// thin mark on the baseline; a week without a value (`None`) has no column.
pub struct Columns<'a> {
    /// Unique in the page.
    pub id: &'a str,
    /// What it shows (the SVG's title).
    pub title: &'a str,
    /// The y axis' unit, drawn above it.
    pub unit: &'a str,
    /// The weeks.
    pub mondays: &'a [NaiveDate],
    /// One per week.
    pub values: &'a [Option<f64>],
    /// The y axis, shared by the charts compared with this one.
    pub scale: &'a Scale,
    /// The columns' colour.
    pub colour: &'a str,
    /// Width and height in px at 100 % zoom.
    pub size: (f64, f64),
    /// A value as a label.
    pub format: fn(f64) -> String,
    /// Whether each column has its value above it (where there is room).
    pub labelled: bool,
}

/// Draws `chart`.
pub fn columns(chart: &Columns) -> String {
    let (width, height) = chart.size;
    let desc = describe(chart.mondays, chart.values, chart.format);
    let mut svg = Svg::new(chart.id, width, height, chart.title, &desc);
    let left = tick_room(chart.scale, chart.format);
    let right = text_width("Mar 30", SMALL) / 2.0 + 4.0;
    let frame = Frame {
        mondays: chart.mondays,
        scale: chart.scale,
        left,
        top: if chart.labelled { 36.0 } else { 24.0 },
        width: width - left - right,
        height: height - if chart.labelled { 36.0 } else { 24.0 } - 24.0,
    };
    frame.draw(&mut svg, chart.unit, width, chart.format);
    let pitch = frame.pitch();
    let gap = (pitch * 0.28).max(1.0);
    let column = (pitch - gap).max(0.5);
    let base = frame.top + frame.height;
    for (i, (monday, value)) in chart.mondays.iter().zip(chart.values).enumerate() {
        let Some(value) = value else { continue };
        let y = frame.y(*value).min(base - 1.5); // a zero still shows, as a mark
        let label = (chart.format)(*value);
        let tip = format!("week of {monday}: {label}");
        svg.rect(
            "column",
            frame.x(i) - column / 2.0,
            y,
            column,
            base - y,
            chart.colour,
            &tip,
        );
        if chart.labelled && text_width(&label, SMALL) + 3.0 <= pitch {
            svg.text(
                (frame.x(i), y - 8.0),
                Anchor::Middle,
                SMALL,
                colour::INK,
                &label,
            );
        }
    }
    svg.finish()
}

/// One line of a [`lines`] chart.
pub struct Line<'a> {
    /// Its name, drawn at its end.
    pub label: &'a str,
    /// Its colour.
    pub colour: &'a str,
    /// One per week; `None` breaks the line.
    pub values: Vec<Option<f64>>,
}

/// A few lines over the weeks, each named at its right end (no legend over the data).
pub fn lines(
    id: &str,
    title: &str,
    unit: &str,
    mondays: &[NaiveDate],
    series: &[Line],
    size: (f64, f64),
) -> String {
    let (width, height) = size;
    let format: fn(f64) -> String = number;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0f64, |a, b| a.max(*b));
    let scale = Scale::new(max, 4, false);
    let desc = series
        .iter()
        .map(|s| format!("{}: {}", s.label, describe(mondays, &s.values, format)))
        .collect::<Vec<_>>()
        .join(" ");
    let mut svg = Svg::new(id, width, height, title, &desc);
    let left = tick_room(&scale, format);
    let right = series
        .iter()
        .map(|s| text_width(s.label, TEXT))
        .fold(0.0, f64::max)
        + 16.0;
    let frame = Frame {
        mondays,
        scale: &scale,
        left,
        top: 28.0,
        width: width - left - right,
        height: height - 28.0 - 24.0,
    };
    frame.draw(&mut svg, unit, width, format);
    let mut ends = Vec::new();
    for line in series {
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut last = None;
        for (i, value) in line.values.iter().enumerate() {
            match value {
                Some(v) => {
                    let point = (frame.x(i), frame.y(*v));
                    run.push(point);
                    last = Some(point);
                }
                None => {
                    if run.len() > 1 {
                        svg.polyline(&run, line.colour);
                    }
                    run.clear();
                }
            }
        }
        if run.len() > 1 {
            svg.polyline(&run, line.colour);
        }
        for (i, value) in line.values.iter().enumerate() {
            if let (Some(v), Some(monday)) = (value, mondays.get(i)) {
                let tip = format!("{} in the week of {monday}: {}", line.label, format(*v));
                svg.dot((frame.x(i), frame.y(*v)), line.colour, &tip);
            }
        }
        if let Some((x, y)) = last {
            ends.push((y, x, line));
        }
    }
    // The names at the lines' ends, pushed apart where the lines end close together.
    ends.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut floor = f64::MIN;
    for (y, _, line) in ends {
        let y = y.max(floor + TEXT + 3.0);
        floor = y;
        let x = frame.left + frame.width + 8.0;
        svg.text((x, y), Anchor::Start, TEXT, line.colour, line.label);
    }
    svg.finish()
}

/// The values week by week, for a screen reader.
pub fn describe(
    mondays: &[NaiveDate],
    values: &[Option<f64>],
    format: fn(f64) -> String,
) -> String {
    let listed: Vec<String> = mondays
        .iter()
        .zip(values)
        .map(|(m, v)| match v {
            Some(v) => format!("{}: {}", week_label(*m), format(*v)),
            None => format!("{}: none", week_label(*m)),
        })
        .collect();
    format!("Week by week, {}.", listed.join(", "))
}
