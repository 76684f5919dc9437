//! Per-caller rate limiting: a token bucket per caller, refilled continuously. A caller over its
//! rate is told `RESOURCE_EXHAUSTED`; the others are not slowed by it.

use std::collections::HashMap;
use std::time::Instant;

/// Rate and burst of every caller's bucket.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Calls per second, sustained.
    pub per_second: f64,
    /// Calls allowed at once after a quiet spell.
    pub burst: f64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// The buckets of all callers.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: HashMap<String, Bucket>,
}

/// Buckets kept before idle ones are dropped (a full bucket is the same as no bucket).
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    /// Limits every caller to `limit`.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: HashMap::new(),
        }
    }

    /// Takes one call from `caller`'s bucket at `now`; false when the bucket is empty.
    pub fn try_acquire(&mut self, caller: &str, now: Instant) -> bool {
        if self.buckets.len() >= MAX_BUCKETS {
            let limit = self.limit;
            self.buckets.retain(|_, b| {
                b.tokens + elapsed(b.refilled, now) * limit.per_second < limit.burst
            });
        }
        let limit = self.limit;
        let bucket = self.buckets.entry(caller.to_owned()).or_insert(Bucket {
            tokens: limit.burst,
            refilled: now,
        });
        bucket.tokens =
            (bucket.tokens + elapsed(bucket.refilled, now) * limit.per_second).min(limit.burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn elapsed(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_sustained_rate_per_caller() {
        let mut limiter = RateLimiter::new(RateLimit {
            per_second: 10.0,
            burst: 3.0,
        });
        let start = Instant::now();
        assert!((0..3).all(|_| limiter.try_acquire("a", start)));
        assert!(!limiter.try_acquire("a", start), "burst used up");
        assert!(
            limiter.try_acquire("b", start),
            "another caller is not affected"
        );
        assert!(limiter.try_acquire("a", start + Duration::from_millis(100)));
        assert!(!limiter.try_acquire("a", start + Duration::from_millis(100)));
    }
}
