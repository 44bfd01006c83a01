//! Bitbucket timestamps: RFC 3339, UTC, with 0 to 9 fractional digits.

use chrono::DateTime;

/// Parses an RFC 3339 timestamp into microseconds since the epoch.
///
/// Digits beyond the sixth are truncated, never rounded: `…59.9999999Z` stays in second 59, so a
/// run never moves into the next second, minute or day (and so into the next partition).
pub fn parse_micros(text: &str) -> Option<i64> {
    let parsed = DateTime::parse_from_rfc3339(text).ok()?;
    // `timestamp_micros` divides the (always non-negative) nanosecond part: a truncation.
    Some(parsed.timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::parse_micros;

    const SECOND: i64 = 1_700_000_000 * 1_000_000; // 2023-11-14T22:13:20Z

    #[test]
    fn every_precision_and_offset_style() {
        let cases = [
            ("2023-11-14T22:13:20Z", SECOND),
            ("2023-11-14T22:13:20+00:00", SECOND),
            ("2023-11-14T22:13:20.123Z", SECOND + 123_000),
            ("2023-11-14T22:13:20.12345+00:00", SECOND + 123_450),
            ("2023-11-14T22:13:20.123456Z", SECOND + 123_456),
            ("2023-11-14T22:13:20.123456789Z", SECOND + 123_456),
            ("2023-11-14T22:13:20.123456789+00:00", SECOND + 123_456),
        ];
        for (text, want) in cases {
            assert_eq!(parse_micros(text), Some(want), "{text}");
        }
    }

    #[test]
    fn truncates_instead_of_rounding_into_the_next_day() {
        let last = parse_micros("2026-03-31T23:59:59.9999999Z").unwrap();
        let next_day = parse_micros("2026-04-01T00:00:00Z").unwrap();
        assert_eq!(next_day - last, 1);
    }

    #[test]
    fn non_utc_offsets_are_converted() {
        assert_eq!(parse_micros("2023-11-14T23:13:20+01:00"), Some(SECOND));
    }

    #[test]
    fn garbage_is_rejected() {
        for text in [
            "",
            "yesterday",
            "2023-11-14",
            "2023-11-14T22:13:20",
            "2023-13-14T22:13:20Z",
        ] {
            assert_eq!(parse_micros(text), None, "{text}");
        }
    }
}
