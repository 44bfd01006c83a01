//! Reading a response: its body within the size limit, what a failed transfer says, and what
//! one request came to.

use super::error::ApiError;
use bytes::Bytes;
use std::time::Duration;

/// What one request came to, for the retry loop to decide on.
pub(super) enum Attempt {
    /// The body of a 2xx.
    Done(Bytes),
    /// A 429, with its `Retry-After` if it said one.
    RateLimited(Option<Duration>),
    /// Worth retrying: a 5xx, a dropped connection, a body over the limit.
    Transient(ApiError),
    /// Not worth retrying.
    Fatal(ApiError),
}

pub(super) enum BodyError {
    Read(reqwest::Error),
    TooLarge,
}

/// The body, chunk by chunk, refused as soon as it (or its announced length) passes `limit`.
pub(super) async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Bytes, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub(super) fn unreachable(url: &str, error: &reqwest::Error) -> ApiError {
    // The chain names the cause (DNS, TLS, refused, reset); never a header or credential.
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    ApiError::Unreachable {
        url: url.to_string(),
        message,
    }
}
