//! Access tokens of a workspace OAuth consumer (the client credentials grant).
//!
//! The consumer's key and secret go, as HTTP Basic, to the token URL only, never to the API;
//! the access token it answers with goes to the API as Bearer. A token is renewed before it
//! expires (a tenth of its life, at most 5 minutes, ahead) and once when the API answers 401
//! (it says "Access token expired." for one that did). One token per credential, shared by its
//! concurrent requests: the lock makes one of them ask while the others wait for its answer.

use super::auth::Secret;
use super::error::ApiError;
use super::response::{Attempt, BodyError, read_body, unreachable};
use serde::Deserialize;
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

/// A token answer is a small JSON object: anything bigger is not one.
const MAX_TOKEN_ANSWER: usize = 64 << 10;

/// The access token held for one consumer.
#[derive(Default)]
pub(super) struct TokenCache {
    current: tokio::sync::Mutex<Option<Issued>>,
}

struct Issued {
    token: Secret,
    renew_at: Instant,
}

/// What the token URL answers (RFC 6749 section 5.1; Bitbucket adds scopes and a refresh
/// token, which the client credentials grant does not need).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// What the token URL answers when it refuses (RFC 6749 section 5.2).
#[derive(Deserialize)]
struct TokenRefusal {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// The consumer a token is asked for.
pub(super) struct Consumer<'a> {
    pub(super) client_id: &'a str,
    pub(super) secret: &'a Secret,
    pub(super) token_url: &'a Url,
}

impl TokenCache {
    /// The access token to send: the one held while it is fresh, else a new one.
    pub(super) async fn bearer(
        &self,
        http: &reqwest::Client,
        consumer: &Consumer<'_>,
    ) -> Result<Secret, Attempt> {
        let mut current = self.current.lock().await;
        if let Some(issued) = current.as_ref().filter(|i| Instant::now() < i.renew_at) {
            return Ok(issued.token.clone());
        }
        let (token, lifetime) = ask(http, consumer).await?;
        tracing::debug!(lifetime_s = lifetime.as_secs(), "new OAuth access token");
        let now = Instant::now();
        *current = Some(Issued {
            token: token.clone(),
            renew_at: now + renew_after(lifetime),
        });
        Ok(token)
    }

    /// Drops the token held if it is `refused` (the API refused it): the next request asks
    /// for a new one. A token another request renewed meanwhile is kept.
    pub(super) async fn forget(&self, refused: Option<&Secret>) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|i| Some(&i.token) == refused) {
            *current = None;
        }
    }
}

/// How long a token is used before it is renewed: until a tenth of its life is left, at most
/// five minutes (requests in flight then still carry a live token).
fn renew_after(lifetime: Duration) -> Duration {
    lifetime - (lifetime / 10).min(Duration::from_secs(300))
}

/// One token request: `POST token_url` with `grant_type=client_credentials`.
async fn ask(
    http: &reqwest::Client,
    consumer: &Consumer<'_>,
) -> Result<(Secret, Duration), Attempt> {
    let url = consumer.token_url.as_str();
    let response = http
        .post(consumer.token_url.clone())
        .basic_auth(consumer.client_id, Some(consumer.secret.expose()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json")
        .body("grant_type=client_credentials")
        .send()
        .await
        .map_err(|e| Attempt::Transient(unreachable(url, &e)))?;
    let status = response.status().as_u16();
    let body = match read_body(response, MAX_TOKEN_ANSWER).await {
        Ok(body) => body,
        Err(BodyError::Read(e)) => return Err(Attempt::Transient(unreachable(url, &e))),
        Err(BodyError::TooLarge) => {
            return Err(Attempt::Transient(ApiError::TooLarge {
                url: url.to_string(),
                limit: MAX_TOKEN_ANSWER,
            }));
        }
    };
    let refused = |message: String| ApiError::Token {
        url: url.to_string(),
        status,
        message,
    };
    match status {
        200..=299 => match serde_json::from_slice::<TokenAnswer>(&body) {
            Ok(answer) if !answer.access_token.trim().is_empty() => {
                // Bitbucket's tokens live two hours; an answer that does not say is taken as one.
                let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
                Ok((Secret::new(answer.access_token), lifetime))
            }
            _ => Err(Attempt::Fatal(refused(
                "the answer holds no access_token".into(),
            ))),
        },
        429 => Err(Attempt::RateLimited(None)),
        500.. => Err(Attempt::Transient(refused(format!(
            "server error {status}"
        )))),
        _ => {
            let said = serde_json::from_slice::<TokenRefusal>(&body).ok();
            let message = said
                .and_then(|s| s.error_description.or(s.error))
                .unwrap_or_else(|| "refused".into());
            Err(Attempt::Fatal(refused(message)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::renew_after;
    use std::time::Duration;

    #[test]
    fn a_token_is_renewed_ahead_of_its_expiry() {
        let secs = |s| Duration::from_secs(s);
        // Bitbucket's two hours: renewed 5 minutes early.
        assert_eq!(renew_after(secs(7200)), secs(6900));
        assert_eq!(renew_after(secs(120)), secs(108));
        assert_eq!(renew_after(secs(1)), Duration::from_millis(900));
        assert_eq!(renew_after(Duration::ZERO), Duration::ZERO);
    }
}
