//! The HTTP client: credentials only to the API's origin, pacing, retries with backoff.

use super::auth::{Credentials, Secret};
use super::error::{ApiError, describe};
use super::lane::{CredentialStats, Lane, RequestStats};
use super::oauth::{Consumer, TokenCache};
use super::pace::Pacer;
use super::response::{Attempt, BodyError, read_body, unreachable};
use backon::{BackoffBuilder, ExponentialBuilder};
use bbpipe_model::{Activity, Wait, defaults};
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use url::Url;

/// Bitbucket Cloud's API.
pub const DEFAULT_API_URL: &str = "https://api.bitbucket.org/2.0";

/// Checks that `url` can be an API base: `http` or `https` with a host. Anything else
/// (`mailto:x`, `file:///`) could not carry request paths.
pub fn check_api_url(url: &Url) -> Result<(), ApiError> {
    let bad = |message: &str| ApiError::BadApiUrl {
        url: without_userinfo(url),
        message: message.to_string(),
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must start with http:// or https://"));
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(bad("must name a host, e.g. https://api.bitbucket.org/2.0"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "must not carry a user name or password: credentials come from the environment or files",
        ));
    }
    Ok(())
}

/// `url` as it may be shown: without a user name or password.
fn without_userinfo(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// The largest response body read by default: a page of 100 runs is about 200 KB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = (defaults::MAX_RESPONSE_MIB as usize) << 20;

/// How the client behaves.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The API base, e.g. `https://api.bitbucket.org/2.0`.
    pub api_url: Url,
    /// Requests per rolling hour (Bitbucket's default allowance is 1,000).
    pub max_requests_per_hour: u32,
    /// Retries of a 5xx, a timeout or a dropped connection.
    pub max_retries: usize,
    /// First backoff delay; it doubles (with jitter) up to `max_delay`.
    pub min_delay: Duration,
    /// Longest backoff delay.
    pub max_delay: Duration,
    /// Longest total wait on 429 responses for one request before giving up.
    pub rate_limit_patience: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// A response body larger than this is refused while it streams in (and retried like a
    /// 5xx): memory stays bounded whatever arrives.
    pub max_response_bytes: usize,
}

impl ClientOptions {
    /// The defaults (Bitbucket's 1,000 requests an hour, 5 retries) for `api_url`.
    pub fn new(api_url: Url) -> Self {
        ClientOptions {
            api_url,
            max_requests_per_hour: defaults::MAX_REQUESTS_PER_HOUR,
            max_retries: defaults::MAX_RETRIES as usize,
            min_delay: Duration::from_millis(defaults::RETRY_DELAY_MS),
            max_delay: Duration::from_secs(60),
            rate_limit_patience: Duration::from_secs(defaults::RATE_LIMIT_PATIENCE_SECONDS),
            timeout: Duration::from_secs(60),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// A Bitbucket Cloud API client: one or more credentials for one workspace. Each request goes
/// to a credential with budget left; one that answers 401 or 403 is set aside while others
/// remain.
pub struct Client {
    http: reqwest::Client,
    lanes: Vec<Lane>,
    /// Where the next search for a credential with budget starts: they take turns.
    turn: std::sync::atomic::AtomicUsize,
    options: ClientOptions,
    stats: Arc<RequestStats>,
}

/// What a 401 to an app password adds: the likely reason, and what to use instead.
const APP_PASSWORDS_GONE: &str = " (app passwords: Atlassian removed them on 2026-07-28, so \
    Bitbucket refuses every one; use an access token, an Atlassian API token or a workspace \
    OAuth consumer instead, see docs/guides/exporting.md)";

/// New access tokens one request may ask for after a 401 before the 401 stands (and sets the
/// credential aside, or fails the request).
const MAX_TOKEN_RENEWALS: u32 = 1;

impl Client {
    /// A client for the API at `options.api_url`; refuses an API URL that is not http(s).
    pub fn new(credentials: Credentials, options: ClientOptions) -> Result<Client, ApiError> {
        Client::with_credentials(vec![("default".to_string(), credentials)], options)
    }

    /// A client sharing the work among named credentials, each paced on its own
    /// `max_requests_per_hour` (raised by its own `X-RateLimit-Limit`).
    pub fn with_credentials(
        credentials: Vec<(String, Credentials)>,
        options: ClientOptions,
    ) -> Result<Client, ApiError> {
        check_api_url(&options.api_url)?;
        if credentials.is_empty() {
            return Err(ApiError::BadApiUrl {
                url: options.api_url.to_string(),
                message: "no credential to call it with".into(),
            });
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("bbpipe/", env!("CARGO_PKG_VERSION")))
            .timeout(options.timeout)
            // A `next` link is never followed blindly: redirects could carry the
            // Authorization header elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ApiError::Unreachable {
                url: options.api_url.to_string(),
                message: e.to_string(),
            })?;
        let lanes = credentials
            .into_iter()
            .map(|(name, credentials)| Lane {
                credentials,
                pacer: Pacer::new(options.max_requests_per_hour),
                stats: Arc::new(CredentialStats {
                    name,
                    ..CredentialStats::default()
                }),
                cooling_until: std::sync::Mutex::new(None),
                token: TokenCache::default(),
            })
            .collect();
        Ok(Client {
            http,
            lanes,
            turn: std::sync::atomic::AtomicUsize::new(0),
            options,
            stats: Arc::default(),
        })
    }

    /// What each credential did, in the order given.
    pub fn credential_stats(&self) -> Vec<Arc<CredentialStats>> {
        self.lanes.iter().map(|l| Arc::clone(&l.stats)).collect()
    }

    /// A credential with budget left, waiting for one if none has; `None` when every
    /// credential was set aside. The wait is a rate-limit wait to `activity`.
    async fn lane(&self, activity: Option<&Activity>) -> Option<(usize, Duration)> {
        let start = tokio::time::Instant::now();
        loop {
            let first = self.turn.fetch_add(1, Ordering::Relaxed);
            let mut soonest: Option<Duration> = None;
            for i in 0..self.lanes.len() {
                let index = (first + i) % self.lanes.len();
                let lane = &self.lanes[index];
                if lane.is_set_aside() {
                    continue;
                }
                let wait = match lane.cooling() {
                    Some(wait) => wait,
                    None => match lane.pacer.try_acquire().await {
                        Ok(()) => return Some((index, start.elapsed())),
                        Err(wait) => wait,
                    },
                };
                soonest = Some(soonest.map_or(wait, |s| s.min(wait)));
            }
            let _waiting = activity.map(|a| a.waiting(Wait::RateLimit));
            tokio::time::sleep(soonest?).await;
        }
    }

    /// Credentials not set aside.
    fn lanes_left(&self) -> usize {
        self.lanes.iter().filter(|l| !l.is_set_aside()).count()
    }

    /// Its request counters, shared with progress displays.
    pub fn stats(&self) -> &Arc<RequestStats> {
        &self.stats
    }

    /// `base` followed by `segments`, each percent-encoded as exactly one path segment:
    /// `endpoint(&["repositories", workspace, slug, "pipelines"])`. A value that cannot be one
    /// segment (empty, `.` or `..`, which URLs resolve away, and so on) is refused, so nothing
    /// from a response can change which endpoint is asked.
    pub fn endpoint<S: AsRef<str>>(&self, segments: &[S]) -> Result<Url, ApiError> {
        let mut url = self.options.api_url.clone();
        for segment in segments {
            let segment = segment.as_ref();
            if let Some(problem) = bbpipe_model::bitbucket::segment_problem(segment) {
                return Err(ApiError::BadSegment {
                    value: bbpipe_model::bitbucket::shown(segment),
                    problem,
                });
            }
        }
        // `new` accepted only http(s) URLs, which always have path segments.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(segments.iter().map(AsRef::as_ref));
        }
        Ok(url)
    }

    /// GETs `url` and returns the body, retrying what deserves it.
    pub async fn get(&self, url: &Url) -> Result<Bytes, ApiError> {
        self.get_watched(url, None).await
    }

    /// [`Client::get`], telling `activity` (the stall watchdog's) when it waits on the rate
    /// limit: a 429's backoff, a credential resting, or pacing under the hourly allowance.
    ///
    /// Long because it is the one retry loop: each arm of its `match` is what one kind of answer
    /// (success, an expired OAuth token, a refused credential, a 5xx, a 429) leads to.
    pub async fn get_watched(
        &self,
        url: &Url,
        activity: Option<&Activity>,
    ) -> Result<Bytes, ApiError> {
        let mut transient = ExponentialBuilder::default()
            .with_min_delay(self.options.min_delay)
            .with_max_delay(self.options.max_delay)
            .with_max_times(self.options.max_retries)
            .with_jitter()
            .build();
        let mut limited = ExponentialBuilder::default()
            .with_min_delay(self.options.min_delay * 2)
            .with_max_delay(Duration::from_secs(300))
            .without_max_times()
            .with_jitter()
            .build();
        let mut waited = Duration::ZERO;
        let mut refused: Option<ApiError> = None;
        let mut renewals = 0;
        loop {
            let Some((index, paced)) = self.lane(activity).await else {
                // Every credential was set aside: the last refusal says why.
                return Err(refused.unwrap_or_else(|| ApiError::Unreachable {
                    url: url.to_string(),
                    message: "no credential left".into(),
                }));
            };
            let lane = &self.lanes[index];
            RequestStats::add(&self.stats.rate_limit_wait_ms, paced.as_millis() as u64);
            RequestStats::add(&self.stats.requests, 1);
            RequestStats::add(&lane.stats.requests, 1);
            // A token only for the API's origin: a request elsewhere carries no credential.
            let bearer = match self.same_origin(url) {
                true => self.bearer(lane).await,
                false => Ok(None),
            };
            let (attempt, bearer) = match bearer {
                Ok(bearer) => (self.attempt(lane, url, bearer.as_ref()).await, bearer),
                Err(refused) => (refused, None),
            };
            if let Some(activity) = activity {
                // An answer, even a failure, is progress: retries are not a stall.
                activity.moved();
            }
            match attempt {
                Attempt::Done(body) => return Ok(body),
                // An OAuth access token expired (or was revoked) early: a new one, once.
                Attempt::Fatal(error)
                    if error.status() == Some(401)
                        && renewals < MAX_TOKEN_RENEWALS
                        && matches!(lane.credentials, Credentials::OAuthConsumer { .. }) =>
                {
                    tracing::debug!(%error, "the API refused the OAuth access token: renewing it");
                    lane.token.forget(bearer.as_ref()).await;
                    renewals += 1;
                }
                Attempt::Fatal(error) if error.refuses_credential() && self.lanes.len() > 1 => {
                    // A revoked or under-scoped credential: the others carry on without it.
                    let error = set_aside(lane, error);
                    if self.lanes_left() == 0 {
                        return Err(error);
                    }
                    refused = Some(error);
                }
                Attempt::Fatal(error) => return Err(error),
                Attempt::Transient(error) => match transient.next() {
                    Some(delay) => {
                        tracing::debug!(%error, ?delay, "retrying");
                        RequestStats::add(&self.stats.retries, 1);
                        RequestStats::add(&lane.stats.retries, 1);
                        let _waiting = activity.map(|a| a.waiting(Wait::Retry));
                        tokio::time::sleep(delay).await;
                    }
                    None => return Err(error),
                },
                Attempt::RateLimited(retry_after) => {
                    // Bitbucket rarely says how long: back off exponentially, and slow down.
                    // A `Retry-After` shorter than the backoff (`0` included) never makes
                    // bbpipe retry sooner than it would have anyway.
                    let backoff = limited.next().unwrap_or(self.options.max_delay);
                    let delay = retry_after.map_or(backoff, |r| r.max(backoff));
                    if waited.saturating_add(delay) > self.options.rate_limit_patience {
                        return Err(ApiError::RateLimited {
                            url: url.to_string(),
                            waited_secs: waited.as_secs(),
                        });
                    }
                    waited = waited.saturating_add(self.wait_out(lane, delay, activity).await);
                }
            }
        }
    }

    /// After a 429 on `lane`: with other credentials left, this one rests for `delay` while
    /// they go on; alone, the request waits `delay`. Returns the time that counts against the
    /// request's patience.
    async fn wait_out(
        &self,
        lane: &Lane,
        delay: Duration,
        activity: Option<&Activity>,
    ) -> Duration {
        RequestStats::add(&self.stats.rate_limited, 1);
        RequestStats::add(&lane.stats.rate_limited, 1);
        RequestStats::add(&self.stats.retries, 1);
        RequestStats::add(&lane.stats.retries, 1);
        if self.lanes_left() > 1 {
            // Each credential has its own allowance: this one rests, others go on.
            tracing::info!(credential = %lane.stats.name, ?delay, "rate limited by Bitbucket; this credential rests");
            *lane
                .cooling_until
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some(tokio::time::Instant::now() + delay);
            return delay / self.lanes_left() as u32;
        }
        tracing::info!(?delay, "rate limited by Bitbucket; waiting");
        RequestStats::add(&self.stats.rate_limit_wait_ms, delay.as_millis() as u64);
        self.stats
            .waiting_on_rate_limit
            .store(true, Ordering::Relaxed);
        {
            let _waiting = activity.map(|a| a.waiting(Wait::RateLimit));
            tokio::time::sleep(delay).await;
        }
        self.stats
            .waiting_on_rate_limit
            .store(false, Ordering::Relaxed);
        delay
    }

    /// An OAuth consumer's current access token; `None` for the other kinds of credential.
    async fn bearer(&self, lane: &Lane) -> Result<Option<Secret>, Attempt> {
        let Credentials::OAuthConsumer {
            client_id,
            secret,
            token_url,
        } = &lane.credentials
        else {
            return Ok(None);
        };
        let consumer = Consumer {
            client_id,
            secret,
            token_url,
        };
        lane.token.bearer(&self.http, &consumer).await.map(Some)
    }

    fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.options.api_url.origin()
    }

    /// One request with `lane`'s credential (`bearer`: an OAuth consumer's access token).
    async fn attempt(&self, lane: &Lane, url: &Url, bearer: Option<&Secret>) -> Attempt {
        let shown = url.to_string();
        let mut request = self
            .http
            .get(url.clone())
            .header("Accept", "application/json");
        if self.same_origin(url) {
            request = lane.credentials.apply(request, bearer);
        } else {
            tracing::warn!(url = %shown, "not the API's origin: requesting without credentials");
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Attempt::Transient(unreachable(&shown, &e)),
        };
        let status = response.status().as_u16();
        let advertised = response
            .headers()
            .get("X-RateLimit-Limit")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u32>().ok());
        let retry_after = response
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // A connection reset mid-body surfaces here, and is retried like any other; so is a
        // body over the limit, refused before more of it is read.
        let body = match read_body(response, self.options.max_response_bytes).await {
            Ok(body) => body,
            Err(BodyError::Read(e)) => return Attempt::Transient(unreachable(&shown, &e)),
            Err(BodyError::TooLarge) => {
                return Attempt::Transient(ApiError::TooLarge {
                    url: shown,
                    limit: self.options.max_response_bytes,
                });
            }
        };
        if let Some(limit) = advertised
            && lane.pacer.raise_to(limit).await
        {
            tracing::info!(
                limit,
                "Bitbucket allows more requests per hour; pacing to that"
            );
        }
        match status {
            200..=299 => Attempt::Done(body),
            429 => Attempt::RateLimited(retry_after),
            _ => {
                let (mut message, missing_scopes) = describe(&body);
                if status == 401 && matches!(lane.credentials, Credentials::AppPassword { .. }) {
                    message.push_str(APP_PASSWORDS_GONE);
                }
                let error = ApiError::Status {
                    url: shown,
                    status,
                    message,
                    missing_scopes,
                };
                if status >= 500 {
                    Attempt::Transient(error)
                } else {
                    Attempt::Fatal(error)
                }
            }
        }
    }
}

/// Sets a refused credential aside, by name, with a warning; returns the error naming it.
fn set_aside(lane: &Lane, error: ApiError) -> ApiError {
    let name = &lane.stats.name;
    let error = error.for_credential(name);
    tracing::warn!(credential = %name, %error, "credential refused: set aside");
    *lane
        .stats
        .set_aside
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error.to_string());
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(url: &str) -> Result<Client, ApiError> {
        let url = Url::parse(url).map_err(|e| ApiError::BadApiUrl {
            url: url.into(),
            message: e.to_string(),
        })?;
        Client::new(
            Credentials::AccessToken(super::super::Secret::new("t")),
            ClientOptions::new(url),
        )
    }

    #[test]
    fn api_urls_that_cannot_carry_paths_are_refused_not_panicked_on() {
        for url in ["mailto:x", "file:///tmp/api", "data:text/plain,x"] {
            let error = client(url).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.starts_with("API URL"), "{url}: {error}");
        }
        let ok = client("http://127.0.0.1:9/2.0").unwrap();
        assert_eq!(
            ok.endpoint(&["repositories", "acme"]).unwrap().as_str(),
            "http://127.0.0.1:9/2.0/repositories/acme"
        );
        // Each value is one segment, encoded; none that a URL would resolve away.
        assert_eq!(
            ok.endpoint(&["repositories", "acme", "a b", "pipelines", "{u-1}"])
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9/2.0/repositories/acme/a%20b/pipelines/%7Bu-1%7D"
        );
        for bad in ["..", ".", "", "a/b", "../../x"] {
            let error = ok.endpoint(&["repositories", bad]).unwrap_err().to_string();
            assert!(error.contains("one URL path segment"), "{bad}: {error}");
        }
        let with_password = client("http://ada:hunter2@127.0.0.1:9/2.0")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            with_password.contains("user name or password"),
            "{with_password}"
        );
        assert!(!with_password.contains("hunter2"), "{with_password}");
    }
}
