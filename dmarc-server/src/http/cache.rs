//! The rollup answer cache: JSON bodies keyed by route and normalised parameters, valid for
//! one data generation (a number in the database that every committed ingest bumps, so
//! every `dmarc serve` on the database agrees when an answer is stale). Bounded by
//! `limits.cache_max_bytes`; the oldest entries go first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use axum::body::Bytes;

/// Cached answers of one generation.
#[derive(Debug, Default)]
struct Entries {
    generation: i64,
    bodies: HashMap<String, Bytes>,
    /// Keys, oldest first.
    order: VecDeque<String>,
    bytes: usize,
}

/// The cache of one process.
#[derive(Debug)]
pub struct ResponseCache {
    max_bytes: usize,
    entries: Mutex<Entries>,
}

impl ResponseCache {
    /// A cache of at most `max_bytes` of bodies (0: nothing is kept).
    pub fn new(max_bytes: usize) -> Self {
        ResponseCache {
            max_bytes,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// False when the cache keeps nothing (a bound of 0).
    pub fn enabled(&self) -> bool {
        self.max_bytes > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The body cached for `key` in `generation`. A newer generation empties the cache.
    pub fn get(&self, generation: i64, key: &str) -> Option<Bytes> {
        let mut entries = self.lock();
        if entries.generation != generation {
            if generation > entries.generation {
                *entries = Entries {
                    generation,
                    ..Entries::default()
                };
            }
            return None;
        }
        entries.bodies.get(key).cloned()
    }

    /// Keeps `body` for `key` if it was computed in the generation the cache holds.
    pub fn put(&self, generation: i64, key: String, body: Bytes) {
        if body.len() > self.max_bytes {
            return;
        }
        let mut entries = self.lock();
        if entries.generation != generation || entries.bodies.contains_key(&key) {
            return;
        }
        while entries.bytes + body.len() > self.max_bytes {
            let Some(oldest) = entries.order.pop_front() else {
                break;
            };
            if let Some(gone) = entries.bodies.remove(&oldest) {
                entries.bytes -= gone.len();
            }
        }
        entries.bytes += body.len();
        entries.order.push_back(key.clone());
        entries.bodies.insert(key, body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_live_for_one_generation_within_the_bound() {
        let cache = ResponseCache::new(10);
        assert_eq!(cache.get(1, "a"), None, "a new generation starts empty");
        cache.put(1, "a".into(), Bytes::from_static(b"12345"));
        cache.put(1, "b".into(), Bytes::from_static(b"67890"));
        assert_eq!(cache.get(1, "a").as_deref(), Some(&b"12345"[..]));
        cache.put(1, "c".into(), Bytes::from_static(b"xyz"));
        assert_eq!(cache.get(1, "a"), None, "the oldest made room");
        assert!(cache.get(1, "b").is_some() && cache.get(1, "c").is_some());
        cache.put(1, "big".into(), Bytes::from(vec![0u8; 11]));
        assert_eq!(cache.get(1, "big"), None, "larger than the whole cache");
        // An answer computed before a newer generation was seen is not kept.
        assert_eq!(cache.get(2, "b"), None);
        cache.put(1, "late".into(), Bytes::from_static(b"1"));
        assert_eq!(cache.get(2, "late"), None);
        assert_eq!(ResponseCache::new(0).get(0, "x"), None);
    }
}
