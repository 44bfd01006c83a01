//! The DORA metrics of deployments: deploy frequency, change failure rate and time to restore
//! per service and environment, lead time from the commits shipped, and their weekly cuts.

use crate::bands;
use crate::collect::{Deployment, ShippedCommit};
use crate::metrics::{iso, quantile};
use crate::report::{
    DeploymentMetrics, LeadTime, OpenFailure, ServiceLeadTime, TimeToRestore, WeekOfLeadTime,
    WeeklyDeployments, WeeklyMedian,
};
use crate::window::{Window, day_of, week_of};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Successful and failed deployments per week, service and environment.
pub(crate) fn weekly_deployments(in_window: &[&Deployment]) -> Vec<WeeklyDeployments> {
    let mut weekly: BTreeMap<(NaiveDate, &str, &str), (u64, u64)> = BTreeMap::new();
    for d in in_window {
        let entry = weekly
            .entry((
                week_of(day_of(d.deployed_at)),
                d.service.as_str(),
                d.environment.as_str(),
            ))
            .or_default();
        if d.success {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    weekly
        .into_iter()
        .map(
            |((week, service, environment), (successful, failed))| WeeklyDeployments {
                week,
                service: service.to_string(),
                environment: environment.to_string(),
                successful,
                failed,
            },
        )
        .collect()
}

/// Lead time over the commits the window's deployments shipped: overall, per service and
/// environment, per week.
pub(crate) fn lead_time(commits: Option<&[ShippedCommit]>) -> LeadTime {
    let Some(commits) = commits else {
        return LeadTime {
            available: false,
            reason: Some(
                "needs the commits each deployment shipped: export or replay with \
                 --with commits (deployment_commits)"
                    .into(),
            ),
            commits: 0,
            median_seconds: None,
            p90_seconds: None,
            band: None,
            services: Vec::new(),
            weeks: Vec::new(),
        };
    };
    let seconds = |of: &[&ShippedCommit]| -> Vec<f64> {
        of.iter().map(|c| c.lead_time_seconds as f64).collect()
    };
    let all: Vec<&ShippedCommit> = commits.iter().collect();
    let mut values = seconds(&all);
    let median = quantile(&mut values, 0.5);
    let mut groups: BTreeMap<(&str, &str), Vec<&ShippedCommit>> = BTreeMap::new();
    let mut weeks: BTreeMap<NaiveDate, Vec<&ShippedCommit>> = BTreeMap::new();
    for commit in commits {
        groups
            .entry((&*commit.service, &*commit.environment))
            .or_default()
            .push(commit);
        weeks
            .entry(week_of(day_of(commit.deployed_at)))
            .or_default()
            .push(commit);
    }
    LeadTime {
        available: true,
        reason: None,
        commits: commits.len() as u64,
        median_seconds: median,
        p90_seconds: quantile(&mut values, 0.9),
        band: median.map(bands::lead_time),
        services: groups
            .into_iter()
            .map(|((service, environment), group)| {
                let mut values = seconds(&group);
                let median = quantile(&mut values, 0.5);
                ServiceLeadTime {
                    service: service.to_string(),
                    environment: environment.to_string(),
                    commits: group.len() as u64,
                    median_seconds: median,
                    p90_seconds: quantile(&mut values, 0.9),
                    band: median.map(bands::lead_time),
                }
            })
            .collect(),
        weeks: weeks
            .into_iter()
            .map(|(week, group)| WeekOfLeadTime {
                week,
                commits: group.len() as u64,
                median_seconds: quantile(&mut seconds(&group), 0.5),
            })
            .collect(),
    }
}

/// The times of the successful deployments of each service and environment, sorted: the next
/// success after a failure is a binary search away.
pub(crate) type Successes<'a> = BTreeMap<(&'a str, &'a str), Vec<i64>>;

pub(crate) fn successes(every: &[Deployment]) -> Successes<'_> {
    let mut times: Successes = BTreeMap::new();
    for d in every.iter().filter(|d| d.success) {
        times
            .entry((d.service.as_str(), d.environment.as_str()))
            .or_default()
            .push(d.deployed_at);
    }
    for list in times.values_mut() {
        list.sort_unstable();
    }
    times
}

pub(crate) fn deployment_metrics(
    group: &[&Deployment],
    successes: &Successes<'_>,
    window: &Window,
) -> DeploymentMetrics {
    let successful = group.iter().filter(|d| d.success).count() as u64;
    let failed = group.len() as u64 - successful;
    let frequency = successful as f64 / window.weeks();
    let rate = (!group.is_empty()).then(|| failed as f64 / group.len() as f64);
    let mut restore = Vec::new();
    let mut open = Vec::new();
    for failure in group.iter().filter(|d| !d.success) {
        match restore_seconds(failure, successes) {
            Some(seconds) => restore.push(seconds),
            None => open.push(OpenFailure {
                reference_id: failure.reference_id.clone(),
                service: failure.service.clone(),
                environment: failure.environment.clone(),
                deployed_at: iso(failure.deployed_at),
            }),
        }
    }
    let restored = restore.len() as u64;
    let median = quantile(&mut restore, 0.5);
    DeploymentMetrics {
        deployments: group.len() as u64,
        successful,
        failed,
        deploy_frequency_per_week: frequency,
        deploy_frequency_band: bands::deploy_frequency(frequency),
        change_failure_rate: rate,
        change_failure_rate_band: rate.map(bands::change_failure_rate),
        time_to_restore: TimeToRestore {
            restored,
            median_seconds: median,
            band: median.map(bands::time_to_restore),
            open,
        },
    }
}

/// Medians of `seconds` per week, per group and over all groups.
pub(crate) fn weekly_medians<'a>(
    seconds: impl Iterator<Item = (NaiveDate, (&'a str, &'a str), f64)>,
) -> Vec<WeeklyMedian> {
    type Key<'a> = (NaiveDate, Option<(&'a str, &'a str)>);
    let mut groups: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    for (week, group, value) in seconds {
        groups.entry((week, Some(group))).or_default().push(value);
        groups.entry((week, None)).or_default().push(value);
    }
    groups
        .into_iter()
        .filter_map(|((week, group), mut values)| {
            Some(WeeklyMedian {
                week,
                group: group.map(|(s, e)| (s.to_string(), e.to_string())),
                median_seconds: quantile(&mut values, 0.5)?,
            })
        })
        .collect()
}

/// Time to restore, week by week of the failures.
pub(crate) fn restore_trend(
    in_window: &[&Deployment],
    successes: &Successes<'_>,
) -> Vec<WeeklyMedian> {
    weekly_medians(
        in_window
            .iter()
            .filter(|d| !d.success)
            .filter_map(|failure| {
                let restored = restore_seconds(failure, successes)?;
                Some((
                    week_of(day_of(failure.deployed_at)),
                    (failure.service.as_str(), failure.environment.as_str()),
                    restored,
                ))
            }),
    )
}

/// Lead time, week by week of the deployments.
pub(crate) fn lead_time_trend(commits: &[ShippedCommit]) -> Vec<WeeklyMedian> {
    weekly_medians(commits.iter().map(|c| {
        (
            week_of(day_of(c.deployed_at)),
            (&*c.service, &*c.environment),
            c.lead_time_seconds as f64,
        )
    }))
}

/// Seconds from a failed deployment to the next success of its service and environment.
pub(crate) fn restore_seconds(failure: &Deployment, successes: &Successes<'_>) -> Option<f64> {
    let times = successes.get(&(failure.service.as_str(), failure.environment.as_str()))?;
    let after = times.partition_point(|t| *t <= failure.deployed_at);
    let at = times.get(after)?;
    Some((at - failure.deployed_at) as f64 / 1e6)
}
