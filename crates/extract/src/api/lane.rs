//! A client's credentials, each a lane with its own hourly allowance and counters, and the
//! counters of the client as a whole.

use super::auth::Credentials;
use super::pace::Pacer;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counters of what the client did, readable while it works (progress) and after (summary).
#[derive(Debug, Default)]
pub struct RequestStats {
    /// Requests sent, retries included.
    pub requests: AtomicU64,
    /// Retries of transient failures and rate limits.
    pub retries: AtomicU64,
    /// Responses with HTTP 429.
    pub rate_limited: AtomicU64,
    /// Milliseconds spent waiting on 429s and on pacing.
    pub rate_limit_wait_ms: AtomicU64,
    /// True while a 429 backoff is under way.
    pub waiting_on_rate_limit: std::sync::atomic::AtomicBool,
}

impl RequestStats {
    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// What one credential of a client did, by its name (never its value).
#[derive(Debug, Default)]
pub struct CredentialStats {
    /// The credential's name (from the config file; `default` for the environment's).
    pub name: String,
    /// Requests it sent, retries included.
    pub requests: AtomicU64,
    /// Its retries (transient failures and 429s).
    pub retries: AtomicU64,
    /// Its responses with HTTP 429.
    pub rate_limited: AtomicU64,
    /// Why it was set aside (401 or 403), if it was.
    pub set_aside: std::sync::Mutex<Option<String>>,
}

impl CredentialStats {
    /// Why it was set aside, if it was.
    pub fn set_aside_because(&self) -> Option<String> {
        self.set_aside
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// One credential, with its own hourly allowance (each access token has its own).
pub(super) struct Lane {
    pub(super) credentials: Credentials,
    pub(super) pacer: Pacer,
    pub(super) stats: Arc<CredentialStats>,
    /// After a 429: not used again before this.
    pub(super) cooling_until: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// An OAuth consumer's access token (unused by the other kinds).
    pub(super) token: super::oauth::TokenCache,
}

impl Lane {
    pub(super) fn is_set_aside(&self) -> bool {
        // On every request: look, do not copy the reason.
        self.stats
            .set_aside
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }

    pub(super) fn cooling(&self) -> Option<Duration> {
        let until = *self
            .cooling_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        until.and_then(|u| u.checked_duration_since(tokio::time::Instant::now()))
    }
}
