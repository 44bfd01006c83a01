//! The report's window: whole UTC days, by default the 13 full weeks (Monday to Sunday) that end
//! with the week of the newest activity in the dataset.

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;

/// Weeks in the default window.
pub const DEFAULT_WEEKS: i64 = 13;

/// An inclusive range of UTC days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    /// The first day.
    pub from: NaiveDate,
    /// The last day (inclusive).
    pub to: NaiveDate,
}

/// The Monday of the ISO week of `day`, as DuckDB's `date_trunc('week', ...)` gives it.
pub fn week_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

impl Window {
    /// The default window: [`DEFAULT_WEEKS`] full weeks ending with the week of `newest`.
    pub fn ending_with_week_of(newest: NaiveDate) -> Window {
        let monday = week_of(newest);
        Window {
            from: monday - Duration::weeks(DEFAULT_WEEKS - 1),
            to: monday + Duration::days(6),
        }
    }

    /// Days in the window.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// Weeks in the window, fractional when it is not whole weeks: deploy frequency divides by it.
    pub fn weeks(&self) -> f64 {
        self.days() as f64 / 7.0
    }

    /// First microsecond of the window.
    pub fn start_micros(&self) -> i64 {
        micros_of(self.from)
    }

    /// First microsecond after the window.
    pub fn end_micros(&self) -> i64 {
        micros_of(self.to + Duration::days(1))
    }

    /// Whether `micros` falls in the window.
    pub fn contains(&self, micros: i64) -> bool {
        micros >= self.start_micros() && micros < self.end_micros()
    }

    /// The Mondays of the weeks the window touches, in order.
    pub fn mondays(&self) -> Vec<NaiveDate> {
        let mut weeks = Vec::new();
        let mut monday = week_of(self.from);
        while monday <= self.to {
            weeks.push(monday);
            monday += Duration::weeks(1);
        }
        weeks
    }
}

/// Microseconds since the epoch of midnight UTC starting `day`.
pub fn micros_of(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_micros())
}

/// The UTC day of `micros`.
pub fn day_of(micros: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_micros(micros).map_or(NaiveDate::MIN, |t| t.date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_window_is_thirteen_whole_weeks() {
        let newest = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(); // a Friday
        let window = Window::ending_with_week_of(newest);
        assert_eq!(window.to, NaiveDate::from_ymd_opt(2026, 11, 22).unwrap());
        assert_eq!(window.from, NaiveDate::from_ymd_opt(2026, 8, 24).unwrap());
        assert_eq!(window.days(), 91);
        assert_eq!(window.mondays().len(), 13);
        assert!(window.contains(window.end_micros() - 1));
        assert!(!window.contains(window.end_micros()));
    }
}
