//! The idempotency store: per (token, key bytes), the parsed request body and the response it got,
//! kept for the configured retention. Entries are reclaimed when they expire (an
//! insertion-ordered queue is swept on every store), so memory does not grow without bound.
//! Callers hold the state lock across lookup, processing and store, which serializes requests
//! with the same key.

use std::collections::{HashMap, VecDeque};

use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{Map, Value};

/// A response stored for a key.
#[derive(Debug, Clone)]
pub(crate) struct StoredResponse {
    pub status: StatusCode,
    pub body: Bytes,
}

#[derive(Debug)]
struct Entry {
    request: Map<String, Value>,
    response: StoredResponse,
    stored_at: i128,
}

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
    entries: HashMap<(u32, Box<[u8]>), Entry>,
    /// (stored_at, token, key) in the order stored.
    queue: VecDeque<(i128, u32, Box<[u8]>)>,
}

impl IdempotencyStore {
    /// Looks `key` of `token` up for a request with body `request` at `now` (Unix nanoseconds).
    pub(crate) fn lookup(
        &mut self,
        token: u32,
        key: &[u8],
        request: &Map<String, Value>,
        now: i128,
        ttl: i128,
    ) -> Lookup {
        self.reclaim(now, ttl);
        match self.entries.get(&(token, Box::from(key))) {
            Some(e) if e.stored_at.saturating_add(ttl) > now => {
                if e.request == *request {
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
        request: Map<String, Value>,
        response: StoredResponse,
        now: i128,
    ) {
        let key: Box<[u8]> = Box::from(key);
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
        let body = obj(json!({"target_url": "https://example.com", "label": "a"}));
        assert!(matches!(s.lookup(0, b"k", &body, 0, 100), Lookup::Fresh));
        s.store(0, b"k", body.clone(), created(), 0);
        let reordered: Map<String, Value> =
            serde_json::from_str(r#"{ "label":"a", "target_url":"https://example.com" }"#).unwrap();
        assert!(matches!(
            s.lookup(0, b"k", &reordered, 99, 100),
            Lookup::Replay(_)
        ));
        assert!(matches!(
            s.lookup(
                0,
                b"k",
                &obj(json!({"target_url": "https://x.org"})),
                99,
                100
            ),
            Lookup::Conflict
        ));
        assert!(matches!(s.lookup(1, b"k", &body, 99, 100), Lookup::Fresh));
        assert!(matches!(s.lookup(0, b"k", &body, 100, 100), Lookup::Fresh));
        assert_eq!(s.len(), 0, "expired entries are reclaimed");
    }

    #[test]
    fn reclaiming_an_old_slot_keeps_a_newer_entry_for_the_same_key() {
        let mut s = IdempotencyStore::default();
        let body = obj(json!({"a": 1}));
        s.store(0, b"k", body.clone(), created(), 0);
        s.reclaim(100, 100);
        s.store(0, b"k", body.clone(), created(), 100);
        s.queue.push_front((0, 0, Box::from(&b"k"[..])));
        s.reclaim(150, 100);
        assert_eq!(s.len(), 1);
    }
}
