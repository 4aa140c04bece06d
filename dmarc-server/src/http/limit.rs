//! Per-key rate limits (token buckets): login attempts per client and per address, uploads
//! and exports per user. In memory, per process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets kept before idle ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by a string such as `login-ip:192.0.2.1` or `csv:17`.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Takes one token from `key`'s bucket of `per_minute` tokens (refilled evenly over a
    /// minute). `Err(seconds)` says when the next token is there.
    pub fn check(&self, key: &str, per_minute: u32) -> Result<(), u64> {
        self.check_at(key, per_minute, Instant::now())
    }

    fn check_at(&self, key: &str, per_minute: u32, now: Instant) -> Result<(), u64> {
        if per_minute == 0 {
            return Err(60);
        }
        let capacity = f64::from(per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > PRUNE_ABOVE {
            // A bucket that has refilled holds no information.
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < capacity
            });
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let refilled = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_second)
            .min(capacity);
        *bucket = Bucket {
            tokens: refilled,
            at: now,
        };
        if refilled >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - refilled) / per_second;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_is_allowed_then_refused_until_a_token_refills() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert_eq!(limiter.check_at("pdf:1", 5, t0), Ok(()));
        }
        // 5 per minute: one token every 12 s.
        assert_eq!(limiter.check_at("pdf:1", 5, t0), Err(12));
        assert_eq!(
            limiter.check_at("pdf:2", 5, t0),
            Ok(()),
            "other keys are separate"
        );
        assert_eq!(
            limiter.check_at("pdf:1", 5, t0 + Duration::from_secs(6)),
            Err(6)
        );
        assert_eq!(
            limiter.check_at("pdf:1", 5, t0 + Duration::from_secs(12)),
            Ok(())
        );
    }
}
