//! Crash injection for tests of commit safety, compiled only with the `failpoints` feature
//! (which the workspace's tests turn on and release builds never do).
//!
//! `BBPIPE_FAILPOINT=after-file:N` kills the process right after the Nth data file is written;
//! `BBPIPE_FAILPOINT=after-manifest` right after the manifest; `checkpoint:N` at the Nth
//! checkpoint. The process aborts as a kill would: no destructor runs, nothing is cleaned up.

#[cfg(feature = "failpoints")]
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(feature = "failpoints")]
static HITS: AtomicU64 = AtomicU64::new(0);

/// Aborts the process here if `BBPIPE_FAILPOINT` names this point (and its count is reached).
#[cfg(feature = "failpoints")]
pub fn failpoint(name: &str) {
    let Ok(spec) = std::env::var("BBPIPE_FAILPOINT") else {
        return;
    };
    let (wanted, after) = spec.split_once(':').unwrap_or((spec.as_str(), "1"));
    if wanted != name {
        return;
    }
    let hits = HITS.fetch_add(1, Ordering::SeqCst) + 1;
    if after.parse::<u64>().is_ok_and(|n| hits >= n) {
        eprintln!("BBPIPE_FAILPOINT: aborting at {name} #{hits}");
        std::process::abort();
    }
}

/// Without the `failpoints` feature: nothing.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn failpoint(_name: &str) {}
