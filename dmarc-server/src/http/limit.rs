//! Per-key rate limits (token buckets): login attempts per client and per address, uploads
//! and exports per user; and requests in flight per user ([`InFlight`]). In memory, per
//! process.
//!
//! Written here rather than with governor: a failed login takes a token first and a
//! successful one gives it back ([`RateLimiter::give_back`]), so concurrent attempts stay
//! within the limit while only failures count; governor's GCRA cells cannot be given back,
//! and its keyed limiters hold one quota each where these buckets take theirs from the
//! configuration at each call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
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
        self.use_bucket(key, f64::from(per_minute), 60.0, Instant::now())
    }

    /// Like [`check`](Self::check) for a bucket of `capacity` tokens refilled over
    /// `window` seconds.
    pub fn take(&self, key: &str, capacity: u32, window: u32) -> Result<(), u64> {
        let (capacity, window) = (f64::from(capacity), f64::from(window));
        self.use_bucket(key, capacity, window, Instant::now())
    }

    /// Gives back a token [`take`](Self::take) took, when what it guarded went well (only
    /// failed logins count): taking first and giving back after keeps concurrent attempts
    /// within the limit.
    pub fn give_back(&self, key: &str, capacity: u32) {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(bucket) = buckets.get_mut(key) {
            bucket.tokens = (bucket.tokens + 1.0).min(f64::from(capacity));
        }
    }

    #[cfg(test)]
    fn check_at(&self, key: &str, per_minute: u32, now: Instant) -> Result<(), u64> {
        self.use_bucket(key, f64::from(per_minute), 60.0, now)
    }

    fn use_bucket(&self, key: &str, capacity: f64, window: f64, now: Instant) -> Result<(), u64> {
        if capacity < 1.0 || window <= 0.0 {
            return Err(window.max(1.0) as u64);
        }
        let per_second = capacity / window;
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
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

/// Requests in flight per key (a user), at most a given number each.
#[derive(Debug, Default, Clone)]
pub struct InFlight {
    counts: Arc<Mutex<HashMap<i64, usize>>>,
}

/// One request in flight; leaving its scope ends it.
#[derive(Debug)]
pub struct InFlightGuard {
    counts: Arc<Mutex<HashMap<i64, usize>>>,
    key: i64,
}

impl InFlight {
    /// Starts a request for `key` unless `limit` are in flight already.
    pub fn enter(&self, key: i64, limit: usize) -> Option<InFlightGuard> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key).or_default();
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(InFlightGuard {
            counts: Arc::clone(&self.counts),
            key,
        })
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn requests_in_flight_are_counted_per_key_until_they_end() {
        let flight = InFlight::default();
        let a = flight.enter(1, 2).expect("first");
        let b = flight.enter(1, 2).expect("second");
        assert!(flight.enter(1, 2).is_none(), "a third waits for one to end");
        assert!(flight.enter(2, 2).is_some(), "other keys are separate");
        drop(a);
        let c = flight.enter(1, 2).expect("room again");
        drop((b, c));
        assert!(
            flight.counts.lock().unwrap().is_empty(),
            "no key left behind"
        );
    }

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
