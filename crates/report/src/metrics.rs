//! The numbers of the report, each computed exactly as docs/guides/report.md defines it (so that a reader can
//! reproduce it in SQL: percentiles are DuckDB's `quantile_cont`, weeks start on Monday as
//! `date_trunc('week', ...)` does).

use crate::collect::{Collected, Deployment, Filters, Run};
use crate::dora::{
    deployment_metrics, lead_time, lead_time_trend, restore_trend, successes, weekly_deployments,
};
use crate::report::{
    DeliveryReport, FailingPipeline, RepositoryReport, RunMetrics, ServiceReport, StepFigure,
    StepsReport, Trends, Unfinished, UnfinishedRun, WeekOfRuns, WindowReport,
};
use crate::window::{Window, day_of, week_of};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Rows in the "most" lists (failing pipelines, costly and slow steps, unfinished runs).
pub(crate) const TOP: usize = 10;

/// DuckDB's `quantile_cont`: linear interpolation between the closest ranks.
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let position = q * (values.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    let fraction = position - lower as f64;
    Some(values[lower] + (values[upper] - values[lower]) * fraction)
}

pub(crate) fn iso(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

/// Computes the report from the rows gathered.
pub fn compute(collected: &Collected, window: Window, filters: Filters) -> DeliveryReport {
    let in_window: Vec<&Deployment> = collected
        .deployments
        .iter()
        .filter(|d| window.contains(d.deployed_at))
        .collect();
    let successes = successes(&collected.deployments);
    let mut groups: BTreeMap<(&str, &str), Vec<&Deployment>> = BTreeMap::new();
    for d in &in_window {
        groups
            .entry((d.service.as_str(), d.environment.as_str()))
            .or_default()
            .push(d);
    }
    let deployments = groups
        .iter()
        .map(|((service, environment), group)| ServiceReport {
            service: service.to_string(),
            environment: environment.to_string(),
            metrics: deployment_metrics(group, &successes, &window),
        })
        .collect();
    let all_deployments =
        (!in_window.is_empty()).then(|| deployment_metrics(&in_window, &successes, &window));
    let weekly_deployments = weekly_deployments(&in_window);
    let mut by_repository: BTreeMap<&str, Vec<&Run>> = BTreeMap::new();
    for run in &collected.runs {
        by_repository.entry(&*run.repository).or_default().push(run);
    }
    let repositories = by_repository
        .iter()
        .map(|(repository, runs)| RepositoryReport {
            repository: repository.to_string(),
            runs: run_metrics(runs),
            weeks: weeks_of(runs),
        })
        .collect();
    let all_runs: Vec<&Run> = collected.runs.iter().collect();
    let failing_pipelines = failing_pipelines(&all_runs);
    let unfinished_runs = unfinished_runs(&all_runs);

    DeliveryReport {
        format: 1,
        window: WindowReport {
            from: window.from,
            to: window.to,
            weeks: window.weeks(),
        },
        filters,
        deployments,
        all_deployments,
        weekly_deployments,
        has_deployments: collected.has_deployments_table,
        lead_time: lead_time(collected.commits.as_deref()),
        repositories,
        weekly_runs: weeks_of(&all_runs),
        failing_pipelines,
        unfinished_runs,
        steps: collected.steps.as_ref().map(|steps| steps_report(steps)),
        tests: collected
            .tests
            .as_deref()
            .map(crate::test_figures::tests_report),
        trends: Trends {
            time_to_restore: restore_trend(&in_window, &successes),
            lead_time: lead_time_trend(collected.commits.as_deref().unwrap_or_default()),
        },
    }
}

/// The pipelines (repository, name) with the most failed runs, top ten.
fn failing_pipelines(all_runs: &[&Run]) -> Vec<FailingPipeline> {
    type Tally<'a> = (u64, u64, std::collections::BTreeSet<&'a str>);
    let mut failing: BTreeMap<(&str, Option<&str>), Tally> = BTreeMap::new();
    for run in all_runs {
        let entry = failing
            .entry((&*run.repository, run.pipeline.as_deref()))
            .or_default();
        entry.1 += 1;
        entry.0 += u64::from(&*run.status == "failure");
        if let Some(kind) = run.selector_type.as_deref() {
            entry.2.insert(kind);
        }
    }
    let mut failing_pipelines: Vec<FailingPipeline> = failing
        .into_iter()
        .filter(|(_, (failures, _, _))| *failures > 0)
        .map(
            |((repository, pipeline), (failures, runs, kinds))| FailingPipeline {
                repository: repository.to_string(),
                pipeline: pipeline.map(str::to_string),
                failures,
                runs,
                selector_types: kinds.into_iter().map(str::to_string).collect(),
            },
        )
        .collect();
    failing_pipelines.sort_by_key(|p| std::cmp::Reverse(p.failures));
    failing_pipelines.truncate(TOP);
    failing_pipelines
}

/// The runs of the window not completed, the newest ten listed.
fn unfinished_runs(all_runs: &[&Run]) -> Unfinished {
    let mut unfinished: Vec<&Run> = all_runs
        .iter()
        .copied()
        .filter(|r| r.state.as_deref() != Some("COMPLETED"))
        .collect();
    unfinished.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    Unfinished {
        count: unfinished.len() as u64,
        newest: unfinished
            .iter()
            .take(TOP)
            .map(|r| UnfinishedRun {
                repository: r.repository.to_string(),
                build_number: r.build_number,
                state: r.state.as_deref().map(str::to_string),
                created_at: iso(r.created_at),
            })
            .collect(),
    }
}

fn run_metrics(runs: &[&Run]) -> RunMetrics {
    let count = |status: &str| runs.iter().filter(|r| &*r.status == status).count() as u64;
    let (success, failure) = (count("success"), count("failure"));
    let mut durations: Vec<f64> = runs
        .iter()
        .filter(|r| r.completed_at.is_some())
        .filter_map(|r| r.duration_seconds)
        .map(|d| d as f64)
        .collect();
    RunMetrics {
        runs: runs.len() as u64,
        success,
        failure,
        cancelled: count("cancelled"),
        unfinished: runs
            .iter()
            .filter(|r| r.state.as_deref() != Some("COMPLETED"))
            .count() as u64,
        success_rate: (success + failure > 0).then(|| success as f64 / (success + failure) as f64),
        duration_p50_seconds: quantile(&mut durations, 0.5),
        duration_p90_seconds: quantile(&mut durations, 0.9),
        build_minutes: runs
            .iter()
            .filter_map(|r| r.build_seconds_used)
            .sum::<i64>() as f64
            / 60.0,
    }
}

fn weeks_of(runs: &[&Run]) -> Vec<WeekOfRuns> {
    let mut weeks: BTreeMap<NaiveDate, Vec<&Run>> = BTreeMap::new();
    for run in runs {
        weeks
            .entry(week_of(day_of(run.created_at)))
            .or_default()
            .push(run);
    }
    weeks
        .into_iter()
        .map(|(week, runs)| WeekOfRuns {
            week,
            runs: run_metrics(&runs),
        })
        .collect()
}

fn steps_report(steps: &[crate::collect::Step]) -> StepsReport {
    let mut groups: BTreeMap<(&str, Option<&str>), Vec<&crate::collect::Step>> = BTreeMap::new();
    for step in steps {
        groups
            .entry((&*step.repository, step.name.as_deref()))
            .or_default()
            .push(step);
    }
    let figures: Vec<StepFigure> = groups
        .into_iter()
        .map(|((repository, name), steps)| {
            let mut durations: Vec<f64> = steps
                .iter()
                .filter(|s| &*s.status == "success")
                .filter_map(|s| s.duration_seconds)
                .map(|d| d as f64)
                .collect();
            StepFigure {
                repository: repository.to_string(),
                name: name.map(str::to_string),
                steps: steps.len() as u64,
                build_minutes: steps
                    .iter()
                    .filter_map(|s| s.build_seconds_used)
                    .sum::<i64>() as f64
                    / 60.0,
                duration_p90_seconds: quantile(&mut durations, 0.9),
            }
        })
        .collect();
    let mut most = figures.clone();
    most.sort_by(|a, b| b.build_minutes.total_cmp(&a.build_minutes));
    most.truncate(TOP);
    let mut slowest: Vec<StepFigure> = figures
        .into_iter()
        .filter(|f| f.duration_p90_seconds.is_some())
        .collect();
    slowest.sort_by(|a, b| {
        b.duration_p90_seconds
            .unwrap_or(0.0)
            .total_cmp(&a.duration_p90_seconds.unwrap_or(0.0))
    });
    slowest.truncate(TOP);
    StepsReport {
        most_build_minutes: most,
        slowest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_as_duckdb_does() {
        let mut values = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&mut values, 0.5), Some(2.5));
        assert!((quantile(&mut values, 0.9).unwrap() - 3.7).abs() < 1e-12);
        assert_eq!(quantile(&mut [7.0], 0.9), Some(7.0));
        assert_eq!(quantile(&mut [], 0.5), None);
    }

    fn deployment(service: &str, environment: &str, day: u32, success: bool) -> Deployment {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_micros();
        Deployment {
            reference_id: format!("{service}-{environment}-{day}"),
            service: service.into(),
            environment: environment.into(),
            deployed_at: at,
            success,
        }
    }

    #[test]
    fn failures_are_restored_by_the_next_success_of_their_service_and_environment() {
        let window = Window {
            from: chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
            to: chrono::NaiveDate::from_ymd_opt(2026, 11, 15).unwrap(),
        };
        let collected = Collected {
            deployments: vec![
                deployment("api", "production", 3, false),
                deployment("api", "staging", 4, true), // another environment: no restore
                deployment("api", "production", 5, false),
                deployment("api", "production", 6, true),
                deployment("web", "production", 10, false), // never restored
                deployment("api", "staging", 14, false),
                deployment("api", "staging", 20, true), // after the window: still restores
            ],
            has_deployments_table: true,
            ..Collected::default()
        };
        let report = compute(&collected, window, Filters::default());
        let api = &report.deployments[0];
        assert_eq!(
            (api.service.as_str(), api.environment.as_str()),
            ("api", "production")
        );
        assert_eq!(api.metrics.deployments, 3);
        assert_eq!(api.metrics.change_failure_rate, Some(2.0 / 3.0));
        assert_eq!(api.metrics.deploy_frequency_per_week, 0.5);
        let restore = &api.metrics.time_to_restore;
        assert_eq!(restore.restored, 2);
        assert_eq!(restore.median_seconds, Some(2.0 * 86400.0)); // 3 days and 1 day
        let staging = &report.deployments[1];
        assert_eq!(
            staging.metrics.time_to_restore.median_seconds,
            Some(6.0 * 86400.0)
        );
        assert_eq!(
            staging.metrics.deployments, 2,
            "the one after the window is not counted"
        );
        let web = &report.deployments[2];
        assert_eq!(web.metrics.time_to_restore.open.len(), 1);
        assert_eq!(web.metrics.time_to_restore.median_seconds, None);
        assert_eq!(report.all_deployments.as_ref().unwrap().deployments, 6);
    }
}
