//! Pacing: a token bucket that keeps a whole export under Bitbucket's hourly request limit.
//!
//! Bitbucket counts requests in a rolling hour. A bucket of capacity C refilled at r per hour
//! allows C + r requests in any hour, so with C = limit/10 and r = 0.9 × limit no hour ever
//! exceeds the limit, while short exports still start with a burst. (Hand-written rather than
//! `governor` because the rate must rise at run time when `X-RateLimit-Limit` says more.)

use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

pub struct Pacer {
    state: Mutex<Bucket>,
}

struct Bucket {
    per_hour: u32,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn capacity(&self) -> f64 {
        (f64::from(self.per_hour) / 10.0).max(1.0)
    }

    fn per_second(&self) -> f64 {
        f64::from(self.per_hour) * 0.9 / 3600.0
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second()).min(self.capacity());
        self.last = now;
    }
}

impl Pacer {
    pub fn new(per_hour: u32) -> Pacer {
        let per_hour = per_hour.max(1);
        let bucket = Bucket {
            per_hour,
            tokens: 0.0,
            last: Instant::now(),
        };
        let tokens = bucket.capacity();
        Pacer {
            state: Mutex::new(Bucket { tokens, ..bucket }),
        }
    }

    /// Waits until a request may go; returns how long it waited. (The client waits across
    /// its credentials instead, with [`Pacer::try_acquire`].)
    #[cfg(test)]
    pub async fn acquire(&self) -> Duration {
        let start = Instant::now();
        while let Err(wait) = self.try_acquire().await {
            tokio::time::sleep(wait).await;
        }
        start.elapsed()
    }

    /// Takes a token if one is there; otherwise says how long until one is.
    pub async fn try_acquire(&self) -> Result<(), Duration> {
        let mut bucket = self.state.lock().await;
        bucket.refill(Instant::now());
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64(
            (1.0 - bucket.tokens) / bucket.per_second(),
        ))
    }

    /// Raises the hourly limit (never lowers it): Bitbucket tells scaled limits in
    /// `X-RateLimit-Limit`.
    pub async fn raise_to(&self, per_hour: u32) -> bool {
        let mut bucket = self.state.lock().await;
        if per_hour <= bucket.per_hour {
            return false;
        }
        bucket.refill(Instant::now());
        bucket.per_hour = per_hour;
        true
    }

    #[cfg(test)]
    pub async fn per_hour(&self) -> u32 {
        self.state.lock().await.per_hour
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bursts_then_paces_under_the_hourly_limit() {
        let pacer = Pacer::new(3600); // burst 360, then 0.9 per second
        let start = Instant::now();
        for _ in 0..360 {
            pacer.acquire().await;
        }
        assert!(
            start.elapsed() < Duration::from_millis(1),
            "the burst is immediate"
        );
        for _ in 0..90 {
            pacer.acquire().await;
        }
        let paced = start.elapsed().as_secs_f64();
        assert!(
            (99.0..=101.0).contains(&paced),
            "90 more at 0.9/s take 100 s, took {paced}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_limit_in_an_hour() {
        let pacer = Pacer::new(1000);
        let start = Instant::now();
        let mut in_first_hour = 0;
        while start.elapsed() < Duration::from_secs(3600) {
            pacer.acquire().await;
            in_first_hour += 1;
        }
        assert!(
            in_first_hour <= 1001,
            "{in_first_hour} requests in the first hour"
        );
        assert!(
            in_first_hour >= 990,
            "{in_first_hour}: pacing should not waste the budget"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_higher_advertised_limit_speeds_up() {
        let pacer = Pacer::new(10);
        assert!(pacer.raise_to(36_000).await);
        assert!(!pacer.raise_to(100).await);
        assert_eq!(pacer.per_hour().await, 36_000);
    }
}
