//! The report as one HTML page: a minijinja template (HTML-escaped) with inline SVG charts, no
//! JavaScript, readable printed.

use crate::charts;
use crate::report::{DeliveryReport, FailingPipeline};
use chrono::NaiveDate;
use minijinja::{Environment, Value, context};

const TEMPLATE: &str = include_str!("../templates/report.html");

/// Why the page could not be made.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    /// The template failed.
    #[error("rendering the report page: {0}")]
    Template(#[from] minijinja::Error),
}

/// `0.25` → `25.0%`; none → `–`.
fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{:.1}%", 100.0 * v))
}

/// Seconds as a human duration: `45s`, `12.5 min`, `3.2 h`, `1.5 d`; none → `–`.
fn duration(seconds: Option<f64>) -> String {
    match seconds {
        None => "–".into(),
        Some(s) if s < 60.0 => format!("{s:.0}s"),
        Some(s) if s < 3600.0 => format!("{:.1} min", s / 60.0),
        Some(s) if s < 86400.0 => format!("{:.1} h", s / 3600.0),
        Some(s) => format!("{:.1} d", s / 86400.0),
    }
}

fn band(value: Option<String>) -> Value {
    match value {
        Some(name) => {
            Value::from_safe_string(format!("<span class=\"band band-{name}\">{name}</span>"))
        }
        None => Value::from(""),
    }
}

/// A pipeline as the selector it is in bitbucket-pipelines.yml: `branches: **`,
/// `custom: deploy`, `default`.
fn selector(pipeline: &FailingPipeline) -> String {
    let Some(name) = pipeline.pipeline.as_deref() else {
        return "(no pipeline name: bitbucket-pipelines.yml did not parse)".into();
    };
    let kinds: Vec<&str> = pipeline
        .selector_types
        .iter()
        .map(String::as_str)
        .filter(|kind| *kind != "default" && !kind.is_empty())
        .collect();
    if kinds.is_empty() {
        name.to_string()
    } else {
        format!("{}: {name}", kinds.join(" / "))
    }
}

/// The page for `report`, read from `source` (named in the page).
pub fn render(
    report: &DeliveryReport,
    mondays: &[NaiveDate],
    source: &str,
) -> Result<String, HtmlError> {
    let charts = charts::draw(report, mondays);
    let selectors: Vec<String> = report.failing_pipelines.iter().map(selector).collect();
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_function("percent", percent);
    env.add_function("duration", duration);
    env.add_function("band", band);
    env.add_template("report.html", TEMPLATE)?;
    let page = env.get_template("report.html")?.render(context! {
        report => Value::from_serialize(report),
        charts => Value::from_serialize(&charts),
        selectors => selectors,
        top => crate::metrics::TOP,
        source => source,
    })?;
    Ok(page)
}
