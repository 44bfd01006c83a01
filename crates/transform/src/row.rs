//! What the row builders share: reading optional strings and timestamps, and their errors.

use crate::timestamp::parse_micros;
use bbpipe_model::bitbucket::{Str, shown};

/// Why a value could not become a row; the caller adds the page and the path prefix.
pub struct RowError {
    pub field: &'static str,
    pub message: String,
}

/// An optional JSON string as `Option<&str>`.
pub fn opt<'a>(value: &'a Option<Str<'_>>) -> Option<&'a str> {
    value.as_deref()
}

/// An optional RFC 3339 timestamp in microseconds; present but unparseable is an error naming
/// `field`.
pub fn timestamp(text: Option<&str>, field: &'static str) -> Result<Option<i64>, RowError> {
    match text {
        None => Ok(None),
        Some(text) => parse_micros(text).map(Some).ok_or_else(|| RowError {
            field,
            message: format!("not an RFC 3339 timestamp: {:?}", shown(text)),
        }),
    }
}
