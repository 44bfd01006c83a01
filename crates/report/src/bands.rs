//! DORA performance bands, with the thresholds docs/guides/report.md states (after the software delivery
//! performance clusters of DORA's Accelerate State of DevOps Report 2023).

use serde::Serialize;

/// A DORA performance band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    /// The best cluster.
    Elite,
    /// The second.
    High,
    /// The third.
    Medium,
    /// The last.
    Low,
}

impl Band {
    /// Its name, lower-case.
    pub fn name(self) -> &'static str {
        match self {
            Band::Elite => "elite",
            Band::High => "high",
            Band::Medium => "medium",
            Band::Low => "low",
        }
    }
}

const HOUR: f64 = 3600.0;
const DAY: f64 = 24.0 * HOUR;

/// Successful deployments per week: elite daily or more (≥ 7), high weekly (≥ 1), medium
/// monthly (≥ 12/52), low less often.
pub fn deploy_frequency(per_week: f64) -> Band {
    if per_week >= 7.0 {
        Band::Elite
    } else if per_week >= 1.0 {
        Band::High
    } else if per_week >= 12.0 / 52.0 {
        Band::Medium
    } else {
        Band::Low
    }
}

/// Share of failed deployments: elite ≤ 5%, high ≤ 10%, medium ≤ 15%, low above.
pub fn change_failure_rate(rate: f64) -> Band {
    if rate <= 0.05 {
        Band::Elite
    } else if rate <= 0.10 {
        Band::High
    } else if rate <= 0.15 {
        Band::Medium
    } else {
        Band::Low
    }
}

/// Median time to restore: elite under an hour, high under a day, medium under a week, low more.
pub fn time_to_restore(seconds: f64) -> Band {
    if seconds < HOUR {
        Band::Elite
    } else if seconds < DAY {
        Band::High
    } else if seconds < 7.0 * DAY {
        Band::Medium
    } else {
        Band::Low
    }
}

/// Median lead time for changes: elite under a day, high under a week, medium under a month
/// (30 days), low more.
pub fn lead_time(seconds: f64) -> Band {
    if seconds < DAY {
        Band::Elite
    } else if seconds < 7.0 * DAY {
        Band::High
    } else if seconds < 30.0 * DAY {
        Band::Medium
    } else {
        Band::Low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_fall_where_readme_says() {
        assert_eq!(deploy_frequency(7.0), Band::Elite);
        assert_eq!(deploy_frequency(6.9), Band::High);
        assert_eq!(deploy_frequency(0.25), Band::Medium);
        assert_eq!(deploy_frequency(0.2), Band::Low);
        assert_eq!(change_failure_rate(0.05), Band::Elite);
        assert_eq!(change_failure_rate(0.151), Band::Low);
        assert_eq!(time_to_restore(3599.0), Band::Elite);
        assert_eq!(time_to_restore(6.0 * DAY), Band::Medium);
        assert_eq!(time_to_restore(7.0 * DAY), Band::Low);
        assert_eq!(lead_time(DAY - 1.0), Band::Elite);
        assert_eq!(lead_time(DAY), Band::High);
        assert_eq!(lead_time(29.0 * DAY), Band::Medium);
        assert_eq!(lead_time(30.0 * DAY), Band::Low);
    }
}
