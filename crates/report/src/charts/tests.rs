//! The charts' layout rules: shared scales, when a breakdown is a heatmap, gaps and marks.

use super::bars::{self, Bars};
use super::panel::{Cut, Metric, panel};
use super::scale::{Scale, number};
use super::svg::colour;
use super::weekly::{self, Columns};
use super::{COLUMN, TREND};
use chrono::NaiveDate;

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
