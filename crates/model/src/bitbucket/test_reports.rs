//! Test reports, as `GET .../steps/{step_uuid}/test_reports` and `.../test_reports/test_cases`
//! give them. Atlassian documents the paths, not the bodies: every field is optional, counts
//! that are not integers read as absent, and a duration is kept as the text it was.

use super::{Str, Text};
use serde::Deserialize;
use std::borrow::Cow;

/// The counts of a step's test report.
#[derive(Debug, Default, Deserialize)]
pub struct TestReport {
    /// All test cases.
    #[serde(default, deserialize_with = "count")]
    pub number_of_test_cases: Option<i64>,
    /// Those that passed.
    #[serde(default, deserialize_with = "count")]
    pub number_of_successful_test_cases: Option<i64>,
    /// Those that failed.
    #[serde(default, deserialize_with = "count")]
    pub number_of_failed_test_cases: Option<i64>,
    /// Those that ended in an error.
    #[serde(default, deserialize_with = "count")]
    pub number_of_error_test_cases: Option<i64>,
    /// Those skipped.
    #[serde(default, deserialize_with = "count")]
    pub number_of_skipped_test_cases: Option<i64>,
}

/// One test case of a step's report.
#[derive(Deserialize)]
pub struct TestCase<'a> {
    /// Its uuid, with braces.
    #[serde(borrow)]
    pub uuid: Str<'a>,
    /// The test's name.
    #[serde(borrow, default)]
    pub name: Text<'a>,
    /// `package.Class.test`, or however the report names it.
    #[serde(borrow, default)]
    pub fully_qualified_name: Text<'a>,
    /// Its package or class.
    #[serde(borrow, default)]
    pub package_name: Text<'a>,
    /// SUCCESSFUL, FAILED, ERROR, SKIPPED.
    #[serde(borrow, default)]
    pub status: Text<'a>,
    /// How long it took: a string of no documented format (a number is kept as its text).
    #[serde(borrow, default, deserialize_with = "raw_text")]
    pub duration: Option<Cow<'a, str>>,
}

/// An integer, or `None` for anything else.
fn count<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(value.as_i64())
}

/// A string as it is, a number as its text, anything else `None`.
fn raw_text<'de: 'a, 'a, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw<'a> {
        Text(#[serde(borrow)] Str<'a>),
        Number(serde_json::Number),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Raw::deserialize(deserializer)? {
        Raw::Text(text) => Some(text.0),
        Raw::Number(n) => Some(Cow::Owned(n.to_string())),
        Raw::Other(_) => None,
    })
}

/// Seconds in a duration given as ISO 8601 (`PT1.25S`, `PT2M3S`, `P1DT1H`) or as plain
/// seconds (`1.25`); `None` for anything else (negative, empty, another format).
pub fn duration_seconds(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then_some(seconds);
    }
    let rest = text.strip_prefix('P').or_else(|| text.strip_prefix('p'))?;
    let mut total = 0.0;
    let mut in_time = false;
    let mut number = String::new();
    let mut any = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            'T' if number.is_empty() && !in_time => in_time = true,
            '0'..='9' | '.' | ',' => number.push(if c == ',' { '.' } else { c }),
            unit => {
                let value: f64 = number.parse().ok()?;
                number.clear();
                let scale = match (unit, in_time) {
                    ('W', false) => 604_800.0,
                    ('D', false) => 86_400.0,
                    ('H', true) => 3_600.0,
                    ('M', true) => 60.0,
                    ('S', true) => 1.0,
                    _ => return None, // years and months have no fixed length
                };
                total += value * scale;
                any = true;
            }
        }
    }
    (any && number.is_empty() && total.is_finite()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_iso_8601_and_plain_seconds_are_read_and_others_are_not() {
        assert_eq!(duration_seconds("PT1.25S"), Some(1.25));
        assert_eq!(duration_seconds("PT2M3S"), Some(123.0));
        assert_eq!(duration_seconds("P1DT1H"), Some(90_000.0));
        assert_eq!(duration_seconds("pt0,5s"), Some(0.5));
        assert_eq!(duration_seconds("0.042"), Some(0.042));
        assert_eq!(duration_seconds(" 3 "), Some(3.0));
        for bad in [
            "", "P", "PT", "PT1.5", "P1M", "1.2s", "-1", "NaN", "PTxS", "inf",
        ] {
            assert_eq!(duration_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn counts_and_durations_of_odd_types_are_absent_not_errors() {
        let report: TestReport = serde_json::from_str(
            r#"{"number_of_test_cases": 3, "number_of_failed_test_cases": "2",
                "number_of_error_test_cases": null, "extra": {}}"#,
        )
        .unwrap();
        assert_eq!(report.number_of_test_cases, Some(3));
        assert_eq!(report.number_of_failed_test_cases, None);
        let case: TestCase = serde_json::from_str(r#"{"uuid": "{c}", "duration": 1.5}"#).unwrap();
        assert_eq!(case.duration.as_deref(), Some("1.5"));
        let case: TestCase = serde_json::from_str(r#"{"uuid": "{c}", "duration": {}}"#).unwrap();
        assert!(case.duration.is_none());
    }
}
