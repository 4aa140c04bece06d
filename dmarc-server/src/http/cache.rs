//! The rollup answer cache: JSON bodies keyed by route and normalised parameters, valid for
//! one data generation (a number in the database that every committed ingest bumps, so
//! every `dmarc serve` on the database agrees when an answer is stale). Bounded by
//! `limits.cache_max_bytes`; the oldest entries go first. One answer per key is computed
//! at a time ([`ResponseCache::flight`]): requests missing the same key meanwhile wait for
//! it and answer from the cache, instead of each computing it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, Weak};

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
    /// A lock per key being computed (gone once nobody holds or waits for it).
    flights: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl ResponseCache {
    /// A cache of at most `max_bytes` of bodies (0: nothing is kept).
    pub fn new(max_bytes: usize) -> Self {
        ResponseCache {
            max_bytes,
            entries: Mutex::new(Entries::default()),
            flights: Mutex::new(HashMap::new()),
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

    /// Waits until no other request computes the answer for `key`, and holds that place
    /// until the guard is dropped: the caller looks in the cache again, and computes only
    /// if the answer is still missing.
    pub async fn flight(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
            match flights.get(key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    flights.retain(|_, lock| lock.strong_count() > 0);
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    flights.insert(key.to_owned(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
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

    #[tokio::test]
    async fn one_request_at_a_time_computes_a_key() {
        let cache = Arc::new(ResponseCache::new(100));
        let first = cache.flight("a").await;
        // Another key is not held up.
        drop(cache.flight("b").await);
        let waiter = {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move {
                let _place = cache.flight("a").await;
                cache.get(1, "a")
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            !waiter.is_finished(),
            "the second request waits for the first"
        );
        assert_eq!(cache.get(1, "a"), None);
        cache.put(1, "a".into(), Bytes::from_static(b"answer"));
        drop(first);
        let found = waiter.await.expect("waiter");
        assert_eq!(
            found.as_deref(),
            Some(&b"answer"[..]),
            "and finds its answer"
        );
        // Nobody holds or waits for a key any more: its lock is gone with the next flight.
        drop(cache.flight("c").await);
        let flights = cache.flights.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(flights.keys().collect::<Vec<_>>(), ["c"]);
    }
}
