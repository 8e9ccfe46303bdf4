//! The request journal: the last `/api/v1` and `/r/` requests the server answered, as
//! [`JournalEntry`] values, bounded in entries and in bytes (each body is kept up to
//! [`JOURNAL_BODY_LIMIT`] bytes and marked when cut; header values are cut at
//! [`JOURNAL_HEADER_LIMIT`] bytes; the oldest entries leave once the byte budget is spent). Ids
//! increase and are never reused, also across resets. The journal layer (`layers::journal`)
//! fills it; `GET /_mock/requests` and [`MockServer::requests`](crate::MockServer::requests)
//! read it.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;
use serde_json::Value;

/// The most bytes of a request or response body an entry keeps.
pub const JOURNAL_BODY_LIMIT: usize = 4 * 1024;
/// The most bytes of one header value an entry keeps.
pub const JOURNAL_HEADER_LIMIT: usize = 512;
/// The most headers of one message an entry keeps.
pub(crate) const JOURNAL_HEADER_COUNT: usize = 64;
/// What an entry costs besides its strings and bodies, for the byte budget.
const ENTRY_OVERHEAD: usize = 256;

/// One request the server answered, as the journal shows it.
///
/// ```
/// # async fn demo() -> std::io::Result<()> {
/// use heldqr_mock::{MockConfig, MockServer, RequestFilter};
///
/// let server = MockServer::start(MockConfig::default()).await?;
/// // ... a client sends requests to server.base_url() ...
/// let creates = server.requests(&RequestFilter::new().method("POST").path("/api/v1/codes"));
/// for entry in &creates {
///     println!("{} {} -> {} key={:?}", entry.id, entry.path, entry.status, entry.idempotency_key);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct JournalEntry {
    /// Increasing, never reused (also across resets).
    pub id: u64,
    /// When the request arrived, on the server clock (RFC 3339, UTC, to the millisecond).
    pub at: String,
    /// The request method.
    pub method: String,
    /// The request path, without the query.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// The status the server answered, also when a fault then dropped that answer.
    pub status: u16,
    /// The account of the request's token, when the token is known.
    pub account: Option<String>,
    /// The last four characters of the bearer token sent; none for a token of 8 characters or
    /// fewer (or no token).
    pub token: Option<String>,
    /// The `Idempotency-Key` sent, bytes that are not UTF-8 escaped as `\xNN` (and `\` as `\\`).
    pub idempotency_key: Option<String>,
    /// True when the answer was a stored response replayed (`Idempotent-Replay: true`).
    pub idempotent_replay: bool,
    /// The injected fault that met the request, if any: `connection_closed`,
    /// `connection_reset`, `internal_error`, `service_unavailable`, `unknown_code`,
    /// `rate_limit_burst` or `latency`.
    pub fault: Option<String>,
    /// The `X-Request-Id` of the answer.
    pub request_id: Option<String>,
    /// Time from the request's arrival to its answer, in milliseconds (wall clock).
    pub duration_ms: f64,
    /// The request's headers (the token masked) and body.
    pub request: JournalMessage,
    /// The answer's headers and body.
    pub response: JournalMessage,
}

/// The headers and body of a request or an answer in the journal.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct JournalMessage {
    /// Header names (lowercase) to values (repeated headers joined with `, `; bytes that are
    /// not UTF-8 escaped; values cut at [`JOURNAL_HEADER_LIMIT`] bytes end with `…`).
    pub headers: BTreeMap<String, String>,
    /// The body: its JSON value when it was whole JSON, else its text (escaped) up to
    /// [`JOURNAL_BODY_LIMIT`] bytes, or null when empty (or not read by the server).
    pub body: Value,
    /// True when the body was longer than [`JOURNAL_BODY_LIMIT`] bytes and was cut.
    pub body_truncated: bool,
}

/// Which journal entries to return: every given criterion must hold.
///
/// ```
/// use heldqr_mock::RequestFilter;
///
/// let filter = RequestFilter::new().account("acct_pro").status(201).since(10);
/// # let _ = filter;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestFilter {
    /// The method, case-insensitive.
    pub method: Option<String>,
    /// The exact path.
    pub path: Option<String>,
    /// The exact status.
    pub status: Option<u16>,
    /// The account id.
    pub account: Option<String>,
    /// The idempotency key, as the journal shows it.
    pub idempotency_key: Option<String>,
    /// Only entries with a larger id.
    pub since: Option<u64>,
    /// Only the newest this many of the entries the other criteria select (still returned
    /// oldest first).
    pub limit: Option<usize>,
}

impl RequestFilter {
    /// Every entry.
    pub fn new() -> Self {
        RequestFilter::default()
    }

    /// Only this method (case-insensitive).
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// Only this exact path.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Only this status.
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Only this account.
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// Only this idempotency key (as the journal shows it).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Only entries after this id.
    pub fn since(mut self, id: u64) -> Self {
        self.since = Some(id);
        self
    }

    /// Only the newest `n` matching entries (returned oldest first).
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    pub(crate) fn matches(&self, e: &JournalEntry) -> bool {
        self.method
            .as_ref()
            .is_none_or(|m| m.eq_ignore_ascii_case(&e.method))
            && self.path.as_ref().is_none_or(|p| *p == e.path)
            && self.status.is_none_or(|s| s == e.status)
            && self
                .account
                .as_ref()
                .is_none_or(|a| e.account.as_ref() == Some(a))
            && self
                .idempotency_key
                .as_ref()
                .is_none_or(|k| e.idempotency_key.as_ref() == Some(k))
            && self.since.is_none_or(|s| e.id > s)
    }
}

/// The bounded journal.
#[derive(Debug)]
pub(crate) struct Journal {
    entries: VecDeque<(usize, JournalEntry)>,
    bytes: usize,
    next_id: u64,
    max_entries: usize,
    max_bytes: usize,
}

fn message_bytes(m: &JournalMessage) -> usize {
    let headers: usize = m.headers.iter().map(|(k, v)| 48 + k.len() + v.len()).sum();
    headers + value_bytes(&m.body)
}

/// A generous estimate of the memory a JSON value holds: every node costs its enum slot and
/// map or vector overhead, plus its strings.
fn value_bytes(v: &Value) -> usize {
    const NODE: usize = 64;
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => NODE,
        Value::String(s) => NODE + s.len(),
        Value::Array(a) => NODE + a.iter().map(value_bytes).sum::<usize>(),
        Value::Object(o) => {
            NODE + o
                .iter()
                .map(|(k, v)| NODE + k.len() + value_bytes(v))
                .sum::<usize>()
        }
    }
}

/// The bytes an entry is charged against the journal's budget.
pub(crate) fn entry_bytes(e: &JournalEntry) -> usize {
    ENTRY_OVERHEAD
        + e.at.len()
        + e.method.len()
        + e.path.len()
        + e.query.as_ref().map_or(0, String::len)
        + e.account.as_ref().map_or(0, String::len)
        + e.idempotency_key.as_ref().map_or(0, String::len)
        + e.request_id.as_ref().map_or(0, String::len)
        + message_bytes(&e.request)
        + message_bytes(&e.response)
}

impl Journal {
    /// A journal of at most `max_entries` entries and about `max_bytes` bytes.
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Self {
        Journal {
            entries: VecDeque::new(),
            bytes: 0,
            next_id: 1,
            max_entries,
            max_bytes,
        }
    }

    /// The id the next entry gets.
    pub(crate) fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Records `entry` (its id from [`Journal::take_id`]), dropping the oldest entries over
    /// the bounds.
    pub(crate) fn push(&mut self, entry: JournalEntry) {
        let cost = entry_bytes(&entry);
        // Entries arrive in the order their answers finished; keep them ordered by id.
        let at = self
            .entries
            .iter()
            .rposition(|(_, e)| e.id < entry.id)
            .map_or(0, |p| p + 1);
        self.entries.insert(at, (cost, entry));
        self.bytes += cost;
        while self.entries.len() > self.max_entries || self.bytes > self.max_bytes {
            match self.entries.pop_front() {
                Some((c, _)) => self.bytes -= c,
                None => break,
            }
        }
    }

    /// The entries `filter` selects, oldest first.
    pub(crate) fn select(&self, filter: &RequestFilter) -> Vec<JournalEntry> {
        let mut out: Vec<JournalEntry> = self
            .entries
            .iter()
            .rev()
            .map(|(_, e)| e)
            .filter(|e| filter.matches(e))
            .take(filter.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect();
        out.reverse();
        out
    }

    /// The bytes the entries are charged.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Forgets every entry (ids go on increasing).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// Forgets the entries of `account`.
    pub(crate) fn clear_account(&mut self, account: &str) {
        self.entries
            .retain(|(_, e)| e.account.as_deref() != Some(account));
        self.bytes = self.entries.iter().map(|(c, _)| c).sum();
    }
}

/// `bytes` as text: UTF-8 as is, other bytes as `\xNN`, `\` as `\\`.
pub(crate) fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, account: &str, body: &str) -> JournalEntry {
        JournalEntry {
            id,
            at: "2026-06-01T09:00:00.000Z".into(),
            method: "POST".into(),
            path: "/api/v1/codes".into(),
            query: None,
            status: 201,
            account: Some(account.into()),
            token: None,
            idempotency_key: None,
            idempotent_replay: false,
            fault: None,
            request_id: None,
            duration_ms: 0.0,
            request: JournalMessage {
                headers: BTreeMap::new(),
                body: Value::String(body.into()),
                body_truncated: false,
            },
            response: JournalMessage {
                headers: BTreeMap::new(),
                body: Value::Null,
                body_truncated: false,
            },
        }
    }

    #[test]
    fn bounded_in_entries_and_bytes_oldest_out_first() {
        let mut j = Journal::new(3, usize::MAX);
        for _ in 0..5 {
            let id = j.take_id();
            j.push(entry(id, "a", "x"));
        }
        let ids: Vec<u64> = j
            .select(&RequestFilter::new())
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, [3, 4, 5]);
        let newest: Vec<u64> = j
            .select(&RequestFilter::new().limit(2))
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(newest, [4, 5], "the newest two, oldest first");

        let one = entry_bytes(&entry(0, "a", &"x".repeat(1000)));
        let mut j = Journal::new(1000, one * 4);
        for _ in 0..10 {
            let id = j.take_id();
            j.push(entry(id, "a", &"x".repeat(1000)));
        }
        assert!(j.bytes() <= one * 4);
        assert_eq!(j.select(&RequestFilter::new()).len(), 4);
        j.clear();
        let id = j.take_id();
        assert_eq!(id, 11, "ids are never reused");
    }

    #[test]
    fn a_json_body_is_charged_for_every_value_it_holds() {
        let small: Value = serde_json::from_str(&format!("[{}0]", "0,".repeat(2000))).unwrap();
        assert!(value_bytes(&small) > 2001 * 32, "{}", value_bytes(&small));
    }

    #[test]
    fn non_utf8_bytes_are_escaped() {
        assert_eq!(escape_bytes(b"caf\xe9"), "caf\\xE9");
        assert_eq!(escape_bytes("café".as_bytes()), "café");
        assert_eq!(escape_bytes(b"a\\b"), "a\\\\b");
    }
}
