//! A workspace OAuth consumer, as Bitbucket serves one: `POST /site/oauth2/access_token` with
//! HTTP Basic `key:secret` and `grant_type=client_credentials` answers an access token that
//! the API then takes as Bearer, until it expires ("Access token expired.", 401).

use super::State;
use super::http::Response;
use super::http::{Request, base64};
use serde_json::json;

/// Where the mock hands out tokens.
pub const TOKEN_PATH: &str = "/site/oauth2/access_token";

/// The consumer the mock knows, and the tokens it issued.
#[derive(Debug, Default)]
pub struct Consumer {
    pub client_id: String,
    pub secret: String,
    /// `expires_in` of the tokens it issues (Bitbucket's: 7200).
    pub lifetime_s: u64,
    /// A token expires after this many API requests with it (Bitbucket's expire by time; this
    /// makes one expire in the middle of an export).
    pub expire_after_requests: Option<usize>,
    /// Tokens issued, each with the API requests made with it and when it was issued.
    pub issued: Vec<(String, usize, std::time::Instant)>,
    /// Token requests, refused ones included.
    pub token_requests: usize,
}

/// The token endpoint.
pub fn token(state: &mut State, request: &Request) -> Response {
    let Some(consumer) = state.oauth.as_mut() else {
        return Response::not_found("There is no API hosted at this URL");
    };
    consumer.token_requests += 1;
    let refuse = |error: &str, description: &str| {
        let body = json!({"error": error, "error_description": description});
        Response::new("400 Bad Request", "application/json", body.to_string())
    };
    let expected = format!(
        "Basic {}",
        base64(&format!("{}:{}", consumer.client_id, consumer.secret))
    );
    if request.method != "POST" {
        return Response::error(
            "405 Method Not Allowed",
            "POST only",
            serde_json::Value::Null,
        );
    }
    if request.authorization.as_deref() != Some(expected.as_str()) {
        return refuse("invalid_client", "Invalid OAuth client credentials");
    }
    if !request
        .body
        .split('&')
        .any(|p| p == "grant_type=client_credentials")
    {
        return refuse("unsupported_grant_type", "Unsupported grant type");
    }
    let token = format!("oauth-access-{}", consumer.issued.len() + 1);
    consumer
        .issued
        .push((token.clone(), 0, std::time::Instant::now()));
    let body = json!({"access_token": token, "scopes": "pipeline repository",
        "expires_in": consumer.lifetime_s, "refresh_token": "refresh-not-used",
        "token_type": "bearer", "state": "client_credentials"});
    Response::new("200 OK", "application/json", body.to_string())
}

/// Whether an API request carries a live token: `None` if so, else the 401 to answer.
pub fn check(consumer: &mut Consumer, authorization: Option<&str>) -> Option<Response> {
    let presented = authorization.and_then(|a| a.strip_prefix("Bearer "));
    let limit = consumer.expire_after_requests;
    let lifetime = std::time::Duration::from_secs(consumer.lifetime_s);
    let Some((_, used, issued_at)) =
        (consumer.issued.iter_mut()).find(|(t, _, _)| Some(t.as_str()) == presented)
    else {
        return Some(Response::error(
            "401 Unauthorized",
            "Invalid access token",
            serde_json::Value::Null,
        ));
    };
    if limit.is_some_and(|limit| *used >= limit) || issued_at.elapsed() > lifetime {
        return Some(Response::error(
            "401 Unauthorized",
            "Access token expired.",
            serde_json::Value::Null,
        ));
    }
    *used += 1;
    None
}
