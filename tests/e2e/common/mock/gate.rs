//! What the mock answers before it looks at the path: credentials (401), scopes (403), a
//! credential's rate limit (429) and the faults a test queued (429s, HTML 502s, resets).

use super::http::{Request, Response};
use super::{Fault, State};
use serde_json::json;

/// The answer that stops `request` before routing, if any.
pub fn check(state: &mut State, request: &Request) -> Option<Response> {
    let authorization = request.authorization.as_deref();
    if let Some(consumer) = state.oauth.as_mut() {
        if let Some(refused) = super::oauth::check(consumer, authorization) {
            return Some(refused);
        }
        return rate_limit(state, authorization).or_else(|| state.faults.pop_front().map(fault));
    }
    let accepted = authorization == Some(state.auth.header().as_str())
        || state
            .also_accepted
            .iter()
            .any(|t| authorization == Some(format!("Bearer {t}").as_str()));
    if !accepted {
        return Some(Response::error(
            "401 Unauthorized",
            "Invalid credentials",
            serde_json::Value::Null,
        ));
    }
    if !state.missing_scopes.is_empty() {
        let granted: Vec<&str> = ["repository", "pipeline"]
            .into_iter()
            .filter(|s| !state.missing_scopes.iter().any(|m| m == s))
            .collect();
        let detail = json!({"required": ["repository", "pipeline"], "granted": granted});
        return Some(Response::error(
            "403 Forbidden",
            "Your credentials lack one or more required privilege scopes.",
            detail,
        ));
    }
    if let Some(limited) = rate_limit(state, authorization) {
        return Some(limited);
    }
    state.faults.pop_front().map(fault)
}

/// Counts the credential's request; a 429 when its allowance says so.
fn rate_limit(state: &mut State, authorization: Option<&str>) -> Option<Response> {
    let header = authorization?.to_string();
    let seen = state.per_credential.entry(header).or_default();
    *seen += 1;
    let every = state.rate_limit_every_per_credential?;
    seen.is_multiple_of(every).then(too_many)
}

fn too_many() -> Response {
    Response::new(
        "429 Too Many Requests",
        "text/plain",
        "Rate limit for this resource has been exceeded",
    )
}

fn fault(fault: Fault) -> Response {
    match fault {
        Fault::RateLimited => too_many(),
        Fault::RetryAfter(value) => {
            let body = "Rate limit for this resource has been exceeded";
            let head = format!(
                "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nRetry-After: {value}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            Response::Raw {
                bytes: format!("{head}{body}").into_bytes(),
                reset: false,
            }
        }
        Fault::BadGatewayHtml => Response::new(
            "502 Bad Gateway",
            "text/html",
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        ),
        Fault::ResetMidBody => Response::Raw {
            bytes: b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n{\"values\": [".to_vec(),
            reset: true,
        },
    }
}
