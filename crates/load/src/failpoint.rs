//! Crash injection for tests of commit safety, compiled only with the `failpoints` feature
//! (which the workspace's tests turn on and release builds never do).
//!
//! `BBPIPE_FAILPOINT=after-file:N` kills the process right after the Nth data file is written;
//! `BBPIPE_FAILPOINT=after-manifest` right after the manifest; `checkpoint:N` at the Nth
//! checkpoint. The process aborts as a kill would: no destructor runs, nothing is cleaned up.
//! `BBPIPE_FAILPOINT=stall-load:N` stops load for ever at its Nth batch (the stall watchdog's
//! test).

#[cfg(feature = "failpoints")]
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(feature = "failpoints")]
static HITS: AtomicU64 = AtomicU64::new(0);

/// Whether `BBPIPE_FAILPOINT` names this point and its count is reached: the hit's number.
#[cfg(feature = "failpoints")]
fn reached(name: &str) -> Option<u64> {
    let spec = std::env::var("BBPIPE_FAILPOINT").ok()?;
    let (wanted, after) = spec.split_once(':').unwrap_or((spec.as_str(), "1"));
    if wanted != name {
        return None;
    }
    let hits = HITS.fetch_add(1, Ordering::SeqCst) + 1;
    after
        .parse::<u64>()
        .is_ok_and(|n| hits >= n)
        .then_some(hits)
}

/// Aborts the process here if `BBPIPE_FAILPOINT` names this point (and its count is reached).
#[cfg(feature = "failpoints")]
pub fn failpoint(name: &str) {
    if let Some(hits) = reached(name) {
        eprintln!("BBPIPE_FAILPOINT: aborting at {name} #{hits}");
        std::process::abort();
    }
}

/// Without the `failpoints` feature: nothing.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn failpoint(_name: &str) {}

/// Never returns if `BBPIPE_FAILPOINT` names this point (and its count is reached): a stage
/// that stops moving without failing.
#[cfg(feature = "failpoints")]
pub async fn stall_point(name: &str) {
    if let Some(hits) = reached(name) {
        eprintln!("BBPIPE_FAILPOINT: {name} #{hits}: stopping here for ever");
        std::future::pending::<()>().await;
    }
}

/// Without the `failpoints` feature: nothing.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub async fn stall_point(_name: &str) {}
