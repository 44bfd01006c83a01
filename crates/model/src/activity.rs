//! What the stages of one run are doing right now, for the stall watchdog.
//!
//! Each stage counts its progress ([`Activity::moved`]) and holds a [`Waiting`] guard while it
//! waits on something; the watchdog reads both. Nothing moved for its timeout, and no rate-limit
//! wait under way, is a stall, and the gauges say what each stage was waiting for. A guard
//! undoes its count when dropped, so a task cancelled mid-wait leaves the gauges right.
//!
//! ```
//! use bbpipe_model::{Activity, Wait};
//!
//! let activity = Activity::default();
//! {
//!     let _waiting = activity.waiting(Wait::Response);
//!     assert_eq!(activity.now(Wait::Response), 1);
//! }
//! activity.moved();
//! assert_eq!((activity.now(Wait::Response), activity.moves()), (0, 1));
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

/// Something a stage waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Extract: a request waiting for one of the `--concurrency` request slots.
    RequestSlot,
    /// Extract: a request sent, its response not in yet.
    Response,
    /// Extract: a request held back by Bitbucket's rate limit or bbpipe's own pacing. Not a
    /// stall, however long.
    RateLimit,
    /// Extract: a request waiting to be retried (a 5xx, a timeout, a dropped connection): a
    /// wait bbpipe scheduled itself, not a stall.
    Retry,
    /// Extract: a page waiting for room in the channel to transform.
    SendPage,
    /// Transform: a page being decoded.
    Decode,
    /// Transform: a batch waiting for room in the channel to load.
    SendBatch,
    /// Load: waiting for the next batch.
    NextBatch,
    /// Load: writing a batch into its partitions (files written, uploaded, merged).
    Write,
    /// Load: committing a checkpoint or the end (manifest, Delta log).
    Commit,
}

impl Wait {
    /// Every kind, in pipeline order.
    pub const ALL: [Wait; 10] = [
        Wait::RequestSlot,
        Wait::Response,
        Wait::RateLimit,
        Wait::Retry,
        Wait::SendPage,
        Wait::Decode,
        Wait::SendBatch,
        Wait::NextBatch,
        Wait::Write,
        Wait::Commit,
    ];

    /// The stage that waits so: `extract`, `transform` or `load`.
    pub fn stage(self) -> &'static str {
        match self {
            Wait::RequestSlot | Wait::Response | Wait::RateLimit | Wait::Retry | Wait::SendPage => {
                "extract"
            }
            Wait::Decode | Wait::SendBatch => "transform",
            Wait::NextBatch | Wait::Write | Wait::Commit => "load",
        }
    }

    /// What `n` waits of this kind are, in words.
    pub fn describe(self, n: u64) -> String {
        let s = if n == 1 { "" } else { "s" };
        match self {
            Wait::RequestSlot => format!("{n} request{s} waiting for a free request slot"),
            Wait::Response => format!("{n} request{s} waiting for Bitbucket's response"),
            Wait::RateLimit => format!("{n} request{s} waiting on the rate limit"),
            Wait::Retry => format!("{n} request{s} waiting to be retried"),
            Wait::SendPage => format!("{n} page{s} waiting for room in the channel to transform"),
            Wait::Decode => format!("decoding {n} page{s}"),
            Wait::SendBatch => format!(
                "{n} batch{} waiting for room in the channel to load",
                if n == 1 { "" } else { "es" }
            ),
            Wait::NextBatch => "waiting for the next batch".to_string(),
            Wait::Write => "writing a batch into its partitions".to_string(),
            Wait::Commit => "committing".to_string(),
        }
    }

    /// A wait bbpipe scheduled itself (the rate limit, a retry's backoff): however long it
    /// lasts, the run is not stalled.
    pub fn is_scheduled(self) -> bool {
        matches!(self, Wait::RateLimit | Wait::Retry)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Progress and waits of one run's stages, shared by them and the watchdog.
#[derive(Debug, Default)]
pub struct Activity {
    moves: AtomicU64,
    waits: [AtomicU64; Wait::ALL.len()],
}

impl Activity {
    /// Something moved: a response, a page sent, a batch written, a commit.
    pub fn moved(&self) {
        self.moves.fetch_add(1, Ordering::Relaxed);
    }

    /// How many times anything moved so far.
    pub fn moves(&self) -> u64 {
        self.moves.load(Ordering::Relaxed)
    }

    /// Counts one wait of `kind` until the guard is dropped.
    pub fn waiting(&self, kind: Wait) -> Waiting<'_> {
        self.waits[kind.index()].fetch_add(1, Ordering::Relaxed);
        Waiting {
            activity: self,
            kind,
        }
    }

    /// Waits of `kind` under way.
    pub fn now(&self, kind: Wait) -> u64 {
        self.waits[kind.index()].load(Ordering::Relaxed)
    }

    /// Whether a wait bbpipe scheduled itself is under way (see [`Wait::is_scheduled`]).
    pub fn resting(&self) -> bool {
        Wait::ALL
            .into_iter()
            .any(|kind| kind.is_scheduled() && self.now(kind) > 0)
    }

    /// The waits under way, stage by stage: `extract: 4 requests waiting for ...; load: ...`,
    /// or `None` when nothing waits.
    pub fn describe(&self) -> Option<String> {
        let mut stages: Vec<(&str, Vec<String>)> = Vec::new();
        for kind in Wait::ALL {
            let n = self.now(kind);
            if n == 0 {
                continue;
            }
            let text = kind.describe(n);
            match stages.last_mut() {
                Some((stage, texts)) if *stage == kind.stage() => texts.push(text),
                _ => stages.push((kind.stage(), vec![text])),
            }
        }
        (!stages.is_empty()).then(|| {
            stages
                .iter()
                .map(|(stage, texts)| format!("{stage}: {}", texts.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// One wait under way; dropping it ends the wait.
#[must_use = "the wait ends when this is dropped"]
#[derive(Debug)]
pub struct Waiting<'a> {
    activity: &'a Activity,
    kind: Wait,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.activity.waits[self.kind.index()].fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_described_by_stage_in_pipeline_order() {
        let activity = Activity::default();
        assert_eq!(activity.describe(), None);
        let _a = activity.waiting(Wait::Write);
        let _b = activity.waiting(Wait::SendPage);
        let _c = activity.waiting(Wait::RequestSlot);
        let _d = activity.waiting(Wait::RequestSlot);
        assert_eq!(
            activity.describe().as_deref(),
            Some(
                "extract: 2 requests waiting for a free request slot, 1 page waiting for room \
                 in the channel to transform; load: writing a batch into its partitions"
            )
        );
    }
}
