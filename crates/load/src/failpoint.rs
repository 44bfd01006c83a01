//! Crash injection for tests of commit safety.
//!
//! `BBPIPE_FAILPOINT=after-file:N` kills the process right after the Nth data file is written;
//! `BBPIPE_FAILPOINT=after-manifest` right after the manifest. The process aborts as a kill
//! would: no destructor runs, nothing is cleaned up. Unset (always, outside tests) it costs one
//! environment lookup per file.

use std::sync::atomic::{AtomicU64, Ordering};

static HITS: AtomicU64 = AtomicU64::new(0);

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
