//! Errors of the Bitbucket API, with what Bitbucket said about them.

use serde::Deserialize;

/// A request that did not succeed, after any retries it deserved.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bitbucket answered with an error status (4xx, or 5xx after the retries ran out).
    #[error("GET {url}: HTTP {status}: {message}")]
    Status {
        /// The request.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What Bitbucket said.
        message: String,
        /// Scopes the error detail says are required but not granted.
        missing_scopes: Vec<String>,
    },
    /// DNS, TLS, connection or timeout failures, after the retries ran out.
    #[error("GET {url}: unreachable: {message}")]
    /// The request, and what failed.
    Unreachable {
        /// The request.
        url: String,
        /// What failed.
        message: String,
    },
    /// Still rate limited after waiting as long as allowed.
    #[error("GET {url}: still rate limited (HTTP 429) after waiting {waited_secs} s in all")]
    /// The request, and how long it waited in all.
    RateLimited {
        /// The request.
        url: String,
        /// Seconds waited in all.
        waited_secs: u64,
    },
    /// An API base URL that is not `http(s)://host/...`: requests could not be built from it.
    #[error("API URL {url:?}: {message}")]
    /// The URL, and what is wrong with it.
    BadApiUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// A value (a workspace, a slug, a uuid from a response) that cannot be one URL path
    /// segment: asking with it could reach another endpoint.
    #[error("{value:?} cannot be one URL path segment ({problem}): not requested")]
    BadSegment {
        /// The value, cut if long.
        value: String,
        /// Why not.
        problem: &'static str,
    },
    /// A response body over the limit, refused while it streamed in.
    #[error("GET {url}: the response is larger than {limit} bytes (--max-response-mib): refused")]
    TooLarge {
        /// The request.
        url: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The OAuth token URL refused the consumer (a wrong key or secret, a consumer deleted or
    /// not private): no access token, so no request of the API can be made.
    #[error("POST {url}: HTTP {status}: {message} (asking for an OAuth consumer's access token)")]
    Token {
        /// The token URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What the token URL said (`error_description`, else `error`).
        message: String,
    },
    /// A body that is not what the endpoint returns.
    #[error("GET {url}: unexpected response at {path}: {message}")]
    Body {
        /// The request.
        url: String,
        /// JSON path of the problem.
        path: String,
        /// What was wrong there.
        message: String,
    },
}

impl ApiError {
    /// The HTTP status, for errors that have one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the error refuses the credential itself (401, 403, or a token URL's refusal),
    /// so that another credential may carry on.
    pub fn refuses_credential(&self) -> bool {
        matches!(
            self,
            ApiError::Status {
                status: 401 | 403,
                ..
            } | ApiError::Token {
                status: 400 | 401,
                ..
            }
        )
    }

    /// The error, its message naming the credential that met it (by name, never value).
    pub fn for_credential(self, name: &str) -> ApiError {
        match self {
            ApiError::Status {
                url,
                status,
                message,
                missing_scopes,
            } => ApiError::Status {
                url,
                status,
                message: format!("{message} (credential {name})"),
                missing_scopes,
            },
            ApiError::Token {
                url,
                status,
                message,
            } => ApiError::Token {
                url,
                status,
                message: format!("{message} (credential {name})"),
            },
            other => other,
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorInner,
}

#[derive(Deserialize)]
struct ErrorInner {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    detail: Option<serde_json::Value>,
}

/// Bitbucket's message and missing scopes from an error body; for a body that is not Bitbucket's
/// JSON (a proxy's HTML page, the 429 text), its first line without markup.
pub(crate) fn describe(body: &[u8]) -> (String, Vec<String>) {
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
        let mut message = parsed.error.message.unwrap_or_default();
        let mut missing = Vec::new();
        match parsed.error.detail {
            Some(serde_json::Value::String(detail)) if !detail.is_empty() => {
                message = format!("{message} ({detail})");
            }
            Some(serde_json::Value::Object(detail)) => {
                let list = |key: &str| -> Vec<String> {
                    detail
                        .get(key)
                        .and_then(|v| v.as_array())
                        .map_or_else(Vec::new, |a| {
                            a.iter()
                                .filter_map(|s| s.as_str().map(str::to_string))
                                .collect()
                        })
                };
                let granted = list("granted");
                missing = list("required")
                    .into_iter()
                    .filter(|s| !granted.contains(s))
                    .collect();
            }
            _ => {}
        }
        return (bbpipe_model::bitbucket::shown(&message), missing);
    }
    let text = String::from_utf8_lossy(body);
    let mut plain = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                plain.push(' ');
            }
            _ if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = plain.split_whitespace().collect();
    let mut line = words.join(" ");
    if line.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|&i| line.is_char_boundary(i))
            .unwrap_or(0);
        line.truncate(cut);
        line.push('…');
    }
    (line, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn bitbucket_json_html_and_text_bodies() {
        let scope = br#"{"type": "error", "error": {"message": "Your credentials lack one or more required privilege scopes.", "detail": {"granted": ["repository"], "required": ["repository", "pipeline"]}}}"#;
        let (message, missing) = describe(scope);
        assert!(message.starts_with("Your credentials lack"));
        assert_eq!(missing, ["pipeline"]);
        let (message, _) = describe(br#"{"type": "error", "error": {"message": "Bad request", "detail": "pagelen too large"}}"#);
        assert_eq!(message, "Bad request (pagelen too large)");
        let (message, _) = describe(b"<html><body><h1>502 Bad Gateway</h1>\n</body></html>");
        assert_eq!(message, "502 Bad Gateway");
        let (message, _) = describe(b"Rate limit for this resource has been exceeded");
        assert_eq!(message, "Rate limit for this resource has been exceeded");
    }
}
