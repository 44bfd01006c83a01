//! The stall watchdog: an export in which nothing moves for `--stall-timeout` fails, saying what
//! each stage was waiting for, instead of waiting for ever.
//!
//! "Moves" are what the stages count in their [`Activity`]: an answer from Bitbucket (a failure
//! included), a page sent to transform, a page decoded, a batch received by load, a partition
//! file written or a committed file read back for a merge, a manifest committed, a workspace
//! published to Delta. A long final commit of a large workspace moves with every partition. A wait bbpipe scheduled itself (the rate limit, pacing under the hourly allowance, a
//! retry's backoff) is not a stall however long it lasts: the clock starts again after it.
//! The longest quiet time of a healthy export outside those waits is one request (a minute at
//! most, the client's timeout), so a timeout of minutes never fires on one.

use bbpipe_model::Activity;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{Sender, WeakSender};
use tokio::time::Instant;

/// Watch a run with this timeout, through the stages' shared `activity`.
#[derive(Debug, Clone)]
pub(crate) struct Watch {
    /// Nothing moved for this long: a stall.
    pub(crate) timeout: Duration,
    /// What the stages report to.
    pub(crate) activity: Arc<Activity>,
}

/// A channel's fill, read without keeping it open.
trait Fill: Send + Sync {
    /// (queued, capacity), or `None` once the channel is closed.
    fn fill(&self) -> Option<(usize, usize)>;
}

impl<T: Send> Fill for WeakSender<T> {
    fn fill(&self) -> Option<(usize, usize)> {
        let sender = self.upgrade()?;
        Some((
            sender.max_capacity() - sender.capacity(),
            sender.max_capacity(),
        ))
    }
}

/// Watches one run of the stages.
pub(crate) struct Watchdog {
    watch: Watch,
    channels: Vec<(&'static str, Box<dyn Fill>)>,
}

impl Watchdog {
    pub(crate) fn new(watch: Watch) -> Watchdog {
        Watchdog {
            watch,
            channels: Vec::new(),
        }
    }

    /// The timeout it watches with.
    pub(crate) fn timeout(&self) -> Duration {
        self.watch.timeout
    }

    /// Also says how full `sender`'s channel is, as `name`.
    pub(crate) fn channel<T: Send + 'static>(
        mut self,
        name: &'static str,
        sender: &Sender<T>,
    ) -> Self {
        self.channels.push((name, Box::new(sender.downgrade())));
        self
    }

    /// Returns once nothing moved for the timeout outside a scheduled wait (never otherwise),
    /// with what each stage was waiting for then.
    pub(crate) async fn stalled(&self) -> String {
        let Watch { timeout, activity } = &self.watch;
        let tick = (*timeout / 10).clamp(Duration::from_millis(20), Duration::from_secs(5));
        let mut seen = activity.moves();
        let mut since = Instant::now();
        loop {
            tokio::time::sleep(tick).await;
            let moves = activity.moves();
            if moves != seen || activity.resting() {
                seen = moves;
                since = Instant::now();
            } else if since.elapsed() >= *timeout {
                return self.waits();
            }
        }
    }

    /// What each stage waits for, with the channels' fill between them.
    fn waits(&self) -> String {
        let mut parts = vec![
            self.watch
                .activity
                .describe()
                .unwrap_or_else(|| "no stage said what it waits for".to_string()),
        ];
        for (name, channel) in &self.channels {
            if let Some((queued, capacity)) = channel.fill() {
                parts.push(format!("{name}: {queued} of {capacity} queued"));
            }
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bbpipe_model::Wait;

    #[tokio::test(start_paused = true)]
    async fn a_run_that_moves_or_rests_is_not_stalled_and_one_that_stops_is() {
        let activity = Arc::new(Activity::default());
        let (tx, _rx) = tokio::sync::mpsc::channel::<u8>(4);
        tx.send(1).await.unwrap();
        let watchdog = Watchdog::new(Watch {
            timeout: Duration::from_secs(60),
            activity: Arc::clone(&activity),
        })
        .channel("pages", &tx);
        let mover = {
            let activity = Arc::clone(&activity);
            async move {
                // Moves every 30 s for 5 minutes, then rests on the rate limit for 10.
                for _ in 0..10 {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    activity.moved();
                }
                let _resting = activity.waiting(Wait::RateLimit);
                tokio::time::sleep(Duration::from_secs(600)).await;
            }
        };
        let start = Instant::now();
        let (stall, ()) = tokio::join!(watchdog.stalled(), mover);
        let _blocked = activity.waiting(Wait::SendPage);
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_secs(960) && elapsed <= Duration::from_secs(970),
            "stalled a minute after the rest ended, not before: {elapsed:?}"
        );
        assert_eq!(
            stall,
            "no stage said what it waits for; pages: 1 of 4 queued"
        );
        assert_eq!(
            watchdog.waits(),
            "extract: 1 page waiting for room in the channel to transform; pages: 1 of 4 queued"
        );
    }
}
