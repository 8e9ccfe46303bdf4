//! The idempotency store: per (token, key bytes), a fixed-size fingerprint of the request body
//! and the response it got, kept for the configured retention. Expired entries are reclaimed by
//! an insertion-ordered queue, swept on every lookup and on a schedule (see
//! [`AppState::reclaim_expired`](crate::AppState::reclaim_expired)), so what a key costs is
//! bounded by the key, the response and the retention, never by the request body. Callers hold
//! the state lock across lookup, processing and store, which serializes requests with the same
//! key.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hasher};
use std::sync::Arc;

use axum::http::{HeaderName, StatusCode};
use bytes::Bytes;
use serde_json::{Map, Value};

/// The request header that names a create's idempotency key.
pub(crate) static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// 128 bits that stand for a request body: two independent 64-bit hashes of its canonical JSON
/// (object keys sorted, as `serde_json::Map` keeps them, so key order and whitespace do not
/// matter). Two different bodies under one key collide with probability about 2^-128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint([u64; 2]);

impl Fingerprint {
    pub(crate) fn of(body: &Map<String, Value>) -> Fingerprint {
        /// Feeds the serialized JSON to two hashers without building the text.
        struct Sink([DefaultHasher; 2]);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                for h in &mut self.0 {
                    h.write(buf);
                }
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut second = DefaultHasher::new();
        second.write_u64(0x6865_6c64_7172_2d31); // a fixed, different starting state
        let mut sink = Sink([DefaultHasher::new(), second]);
        // Writing to a hasher cannot fail, and a JSON map always serializes.
        let _ = serde_json::to_writer(&mut sink, body);
        let [a, b] = sink.0;
        Fingerprint([a.finish(), b.finish()])
    }
}

/// A response stored for a key.
#[derive(Debug, Clone)]
pub(crate) struct StoredResponse {
    pub status: StatusCode,
    pub body: Bytes,
}

#[derive(Debug)]
struct Entry {
    request: Fingerprint,
    response: StoredResponse,
    stored_at: i128,
}

/// A key's bytes, shared by the map and the expiry queue.
type Key = Arc<[u8]>;

/// What a key says about a request.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// Never seen (or expired): process the request.
    Fresh,
    /// Same body as stored: answer with the stored response.
    Replay(StoredResponse),
    /// Different body: 409 `idempotency_key_conflict`.
    Conflict,
}

/// Stored responses by (token index, key), with their expiry queue.
#[derive(Debug, Default)]
pub(crate) struct IdempotencyStore {
    entries: HashMap<(u32, Key), Entry>,
    /// (stored_at, token, key) in the order stored.
    queue: VecDeque<(i128, u32, Key)>,
}

impl IdempotencyStore {
    /// Looks `key` of `token` up for a request with body `request` at `now` (Unix nanoseconds).
    pub(crate) fn lookup(
        &mut self,
        token: u32,
        key: &[u8],
        request: Fingerprint,
        now: i128,
        ttl: i128,
    ) -> Lookup {
        self.reclaim(now, ttl);
        match self.entries.get(&(token, Key::from(key))) {
            Some(e) if e.stored_at.saturating_add(ttl) > now => {
                if e.request == request {
                    Lookup::Replay(e.response.clone())
                } else {
                    Lookup::Conflict
                }
            }
            _ => Lookup::Fresh,
        }
    }

    /// Stores the response to `key` of `token`.
    pub(crate) fn store(
        &mut self,
        token: u32,
        key: &[u8],
        request: Fingerprint,
        response: StoredResponse,
        now: i128,
    ) {
        let key = Key::from(key);
        self.queue.push_back((now, token, key.clone()));
        self.entries.insert(
            (token, key),
            Entry {
                request,
                response,
                stored_at: now,
            },
        );
    }

    /// Drops every entry stored at least `ttl` before `now`.
    pub(crate) fn reclaim(&mut self, now: i128, ttl: i128) {
        while let Some((at, _, _)) = self.queue.front() {
            if at.saturating_add(ttl) > now {
                break;
            }
            if let Some((at, token, key)) = self.queue.pop_front() {
                let id = (token, key);
                // Only drop the entry this queue slot stands for (not a newer one for the key).
                if self.entries.get(&id).is_some_and(|e| e.stored_at == at) {
                    self.entries.remove(&id);
                }
            }
        }
    }

    /// Forgets the entries of `tokens` (their expiry slots then find nothing to drop).
    pub(crate) fn forget_tokens(&mut self, tokens: &[u32]) {
        self.entries.retain(|(t, _), _| !tokens.contains(t));
        self.queue.retain(|(_, t, _)| !tokens.contains(t));
    }

    /// Entries currently held.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The heap bytes the entries hold (keys, responses, the map's and queue's slots): what the
    /// worst-case figures in the document are checked against.
    pub(crate) fn heap_bytes(&self) -> usize {
        let slot = std::mem::size_of::<((u32, Key), Entry)>() + 1;
        let queue_slot = std::mem::size_of::<(i128, u32, Key)>();
        let held: usize = self
            .entries
            .iter()
            .map(|((_, k), e)| k.len() + 2 * std::mem::size_of::<usize>() + e.response.body.len())
            .sum();
        held + self.entries.capacity() * slot + self.queue.capacity() * queue_slot
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        *self = IdempotencyStore::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    fn created() -> StoredResponse {
        StoredResponse {
            status: StatusCode::CREATED,
            body: Bytes::from_static(b"{}"),
        }
    }

    #[test]
    fn replays_conflicts_and_expires() {
        let mut s = IdempotencyStore::default();
        let body = Fingerprint::of(&obj(
            json!({"target_url": "https://example.com", "label": "a"}),
        ));
        assert!(matches!(s.lookup(0, b"k", body, 0, 100), Lookup::Fresh));
        s.store(0, b"k", body, created(), 0);
        let reordered: Map<String, Value> =
            serde_json::from_str(r#"{ "label":"a", "target_url":"https://example.com" }"#).unwrap();
        assert!(matches!(
            s.lookup(0, b"k", Fingerprint::of(&reordered), 99, 100),
            Lookup::Replay(_)
        ));
        let other = Fingerprint::of(&obj(json!({"target_url": "https://x.org"})));
        assert!(matches!(
            s.lookup(0, b"k", other, 99, 100),
            Lookup::Conflict
        ));
        assert!(matches!(s.lookup(1, b"k", body, 99, 100), Lookup::Fresh));
        assert!(matches!(s.lookup(0, b"k", body, 100, 100), Lookup::Fresh));
        assert_eq!(s.len(), 0, "expired entries are reclaimed");
    }

    #[test]
    fn fingerprints_ignore_key_order_and_tell_values_apart() {
        let a: Map<String, Value> = serde_json::from_str(r#"{"x":1,"y":"b"}"#).unwrap();
        let b: Map<String, Value> = serde_json::from_str(r#"{ "y" : "b", "x" : 1 }"#).unwrap();
        let c: Map<String, Value> = serde_json::from_str(r#"{"x":1,"y":"c"}"#).unwrap();
        let d: Map<String, Value> = serde_json::from_str(r#"{"x":1.0,"y":"b"}"#).unwrap();
        assert_eq!(Fingerprint::of(&a), Fingerprint::of(&b));
        assert_ne!(Fingerprint::of(&a), Fingerprint::of(&c));
        assert_ne!(Fingerprint::of(&a), Fingerprint::of(&d));
    }

    #[test]
    fn reclaiming_an_old_slot_keeps_a_newer_entry_for_the_same_key() {
        let mut s = IdempotencyStore::default();
        let body = Fingerprint::of(&obj(json!({"a": 1})));
        s.store(0, b"k", body, created(), 0);
        s.reclaim(100, 100);
        s.store(0, b"k", body, created(), 100);
        s.queue.push_front((0, 0, Key::from(&b"k"[..])));
        s.reclaim(150, 100);
        assert_eq!(s.len(), 1);
    }
}
