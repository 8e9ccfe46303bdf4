//! The request journal: the last `/api/v1` and `/r/` requests the server answered, as
//! [`JournalEntry`] values, bounded in entries and in bytes (each body is kept up to
//! [`JOURNAL_BODY_LIMIT`] bytes and marked when cut; header values are cut at
//! [`JOURNAL_HEADER_LIMIT`] bytes; the oldest entries leave once the byte budget is spent). Ids
//! increase and are never reused, also across resets. The journal layer (`layers::journal`)
//! fills it; `GET /_mock/requests` and [`MockServer::requests`](crate::MockServer::requests)
//! read it.
//!
//! On the request path an entry is recorded as a [`Recorded`]: the bytes as they came and went,
//! copied once and cut to the bounds (headers in one buffer each, the token already masked).
//! Turning them into a [`JournalEntry`] (escaping, JSON bodies, the timestamp's text) waits
//! until someone reads the journal.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

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
    /// Only entries with a larger id. An entry appears once its request is answered, so a
    /// slow request can appear after a later one with a larger id: to poll, use
    /// [`after`](Self::after).
    pub since: Option<u64>,
    /// Only entries recorded after the journal's cursor was at this value (see
    /// [`AppState::requests_with_cursor`](crate::AppState::requests_with_cursor)): polling with
    /// the last cursor returned gets every entry still kept once, a slow request included.
    /// With [`limit`](Self::limit), the first `limit` entries recorded after the cursor, and
    /// the cursor returned stops after them, so the next read goes on from there.
    pub after: Option<u64>,
    /// Only the newest this many of the entries the other criteria select (still returned
    /// oldest first); with [`after`](Self::after), the first this many recorded after it.
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

    /// Only entries recorded after the journal's cursor was at `cursor`.
    pub fn after(mut self, cursor: u64) -> Self {
        self.after = Some(cursor);
        self
    }

    /// Only the newest `n` matching entries (returned oldest first).
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }
}

/// Separates a header's name from its value, and one header from the next, in a
/// [`HeaderBlock`]: a byte no header name or value holds.
const SEP: u8 = 0;
/// Ends a header value that was cut at [`JOURNAL_HEADER_LIMIT`] bytes (another byte a value
/// never holds).
const CUT: u8 = 1;

/// How many bytes of `bytes` are [`SEP`] or [`CUT`]. Counted in runs of 255 with a byte-wide
/// count, so the compiler compares 16 or 32 bytes at a time.
fn separator_bytes(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|run| {
            usize::from(
                run.iter()
                    .fold(0u8, |n, b| n.wrapping_add(u8::from(*b <= CUT))),
            )
        })
        .sum()
}

/// One message as recorded, in one allocation: a lead (a request's target; nothing for an
/// answer), its headers (`name SEP value [CUT] SEP`, repeated: at most
/// [`JOURNAL_HEADER_COUNT`] names, each value cut at [`JOURNAL_HEADER_LIMIT`] bytes), then a
/// tail (an answer's body as recorded; nothing for a request, whose body streams in later).
#[derive(Debug, Default, Clone)]
pub(crate) struct HeaderBlock {
    bytes: Box<[u8]>,
    headers_at: u32,
    tail_at: u32,
}

impl HeaderBlock {
    /// Records `lead`, then the `(name, value)` pairs `pairs` makes, a name's values next to
    /// each other (as `HeaderMap` iterates), then `tail`; `shown` may write a replacement for a
    /// value into the buffer it is given (the token masked) and say so. `pairs` is called
    /// again, with the values filtered, in the rare case that a value held a separator byte.
    pub(crate) fn record<'a, I>(
        lead: &[u8],
        pairs: impl Fn() -> I,
        mut shown: impl FnMut(&str, &[u8], &mut Vec<u8>) -> bool,
        tail: &[u8],
    ) -> HeaderBlock
    where
        I: Iterator<Item = (&'a str, &'a [u8])>,
    {
        thread_local! {
            /// One pass into this buffer, then one allocation of the exact size.
            static SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
        }
        // Taken for the while (a nested call, were there one, would start from an empty
        // buffer), put back after.
        let mut out = SCRATCH.take();
        out.clear();
        out.extend_from_slice(lead);
        let marks = Self::record_headers(&mut out, pairs(), &mut shown, false);
        // Header names and values never hold the separators; a stray one is dropped, not
        // misread. Checked once over all the headers (counting every byte without stopping
        // early, so the compiler can do it many bytes at a time) rather than value by value.
        let strays = separator_bytes(&out[lead.len()..]) != marks;
        if strays {
            out.truncate(lead.len());
            Self::record_headers(&mut out, pairs(), &mut shown, true);
        }
        let tail_at = out.len();
        out.extend_from_slice(tail);
        let block = HeaderBlock {
            bytes: Box::from(&out[..]),
            // A lead is a request target, a message's headers are capped: both fit.
            headers_at: u32::try_from(lead.len()).unwrap_or(u32::MAX),
            tail_at: u32::try_from(tail_at).unwrap_or(u32::MAX),
        };
        // A rare message with many long headers does not keep its room on the thread.
        if out.capacity() <= 4 * 1024 {
            SCRATCH.set(out);
        }
        block
    }

    /// Appends the headers (`name SEP value [CUT] SEP`, at most [`JOURNAL_HEADER_COUNT`]
    /// names, values cut at [`JOURNAL_HEADER_LIMIT`] bytes) and returns how many separator
    /// bytes it wrote; with `filter`, drops any separator byte a value holds.
    fn record_headers<'a>(
        out: &mut Vec<u8>,
        pairs: impl Iterator<Item = (&'a str, &'a [u8])>,
        shown: &mut impl FnMut(&str, &[u8], &mut Vec<u8>) -> bool,
        filter: bool,
    ) -> usize {
        let mut names = 0;
        let mut marks = 0;
        let mut last: &str = "";
        for (name, value) in pairs {
            // A `HeaderMap` hands a name's values out with the same name: most names are told
            // apart by their length, the same one by its address.
            let same =
                names > 0 && last.len() == name.len() && (std::ptr::eq(last, name) || last == name);
            if !same {
                if names == JOURNAL_HEADER_COUNT {
                    break;
                }
                names += 1;
                last = name;
            }
            out.extend_from_slice(name.as_bytes());
            out.push(SEP);
            let at = out.len();
            let long = if shown(name, value, out) {
                out.len() - at > JOURNAL_HEADER_LIMIT
            } else {
                out.extend_from_slice(&value[..value.len().min(JOURNAL_HEADER_LIMIT)]);
                value.len() > JOURNAL_HEADER_LIMIT
            };
            out.truncate(at + JOURNAL_HEADER_LIMIT);
            if filter {
                let mut kept = at;
                for read in at..out.len() {
                    if out[read] > CUT {
                        out[kept] = out[read];
                        kept += 1;
                    }
                }
                out.truncate(kept);
            }
            if long {
                out.push(CUT);
                marks += 1;
            }
            out.push(SEP);
            marks += 2;
        }
        marks
    }

    /// The same message with `tail` in place of its tail.
    pub(crate) fn with_tail(&self, tail: &[u8]) -> HeaderBlock {
        let kept = &self.bytes[..self.tail_at as usize];
        let mut bytes = Vec::with_capacity(kept.len() + tail.len());
        bytes.extend_from_slice(kept);
        bytes.extend_from_slice(tail);
        HeaderBlock {
            bytes: bytes.into_boxed_slice(),
            ..*self
        }
    }

    /// The lead, as recorded.
    pub(crate) fn lead(&self) -> &[u8] {
        self.bytes
            .get(..self.headers_at as usize)
            .unwrap_or_default()
    }

    /// The tail, as recorded.
    pub(crate) fn tail(&self) -> &[u8] {
        self.bytes.get(self.tail_at as usize..).unwrap_or_default()
    }

    /// `(name, value bytes, cut)`, in the recorded order.
    fn iter(&self) -> impl Iterator<Item = (&str, &[u8], bool)> {
        let headers = self
            .bytes
            .get(self.headers_at as usize..self.tail_at as usize)
            .unwrap_or_default();
        let mut parts = headers.split(|b| *b == SEP);
        std::iter::from_fn(move || {
            let name = parts.next().filter(|n| !n.is_empty())?;
            let value = parts.next()?;
            let (value, cut) = match value.split_last() {
                Some((&CUT, rest)) => (rest, true),
                _ => (value, false),
            };
            Some((std::str::from_utf8(name).unwrap_or("?"), value, cut))
        })
    }

    /// The first value of `name`, as recorded (possibly cut).
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter().find(|(n, _, _)| *n == name).map(|(_, v, _)| v)
    }

    fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The headers as the journal shows them: values escaped, repeated names joined with `, `,
    /// cut values ending with `…`.
    fn shown(&self) -> BTreeMap<String, String> {
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        for (name, value, cut) in self.iter() {
            let mut shown = escape_bytes(value);
            if cut {
                shown.push('…');
            }
            out.entry(name.to_owned())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(&shown);
                })
                .or_insert(shown);
        }
        out
    }
}

/// A body as recorded: its first [`JOURNAL_BODY_LIMIT`] bytes, and whether it was longer.
#[derive(Debug, Default, Clone)]
pub(crate) struct RecordedBody {
    pub bytes: Bytes,
    pub truncated: bool,
}

/// A body as the journal shows it: its JSON value when whole and JSON, else its text.
fn shown_body(bytes: &[u8], truncated: bool) -> (Value, bool) {
    if bytes.is_empty() && !truncated {
        return (Value::Null, false);
    }
    if !truncated && let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return (v, false);
    }
    (Value::String(escape_bytes(bytes)), truncated)
}

/// The last four characters of a token (at most 16 bytes), kept inline.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LastFour {
    bytes: [u8; 16],
    len: u8,
}

impl LastFour {
    /// `last_four(token)` kept inline; none for a short token.
    pub(crate) fn of(token: &str) -> Option<LastFour> {
        let shown = super::last_four(token)?;
        let mut bytes = [0; 16];
        bytes
            .get_mut(..shown.len())?
            .copy_from_slice(shown.as_bytes());
        Some(LastFour {
            bytes,
            len: shown.len() as u8,
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

/// One request as recorded on the request path; [`Recorded::entry`] turns it into what the
/// journal shows.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub id: u64,
    /// When it arrived, in nanoseconds since the Unix epoch on the server clock.
    pub at: i128,
    pub method: axum::http::Method,
    pub status: u16,
    /// The account index of the request's token, when the token is known.
    pub account: Option<u32>,
    /// The last four characters of the bearer token, for a token longer than 8 characters.
    pub token: Option<LastFour>,
    /// The whole `Idempotency-Key` sent (its value is not cut like other headers).
    pub idempotency_key: Option<Box<[u8]>>,
    pub fault: Option<&'static str>,
    pub duration_ms: f64,
    /// The request's target (its path, and the query after `?` when there is one) and
    /// headers.
    pub request_headers: HeaderBlock,
    pub request_body: RecordedBody,
    /// The answer's headers and, as its tail, its body cut at [`JOURNAL_BODY_LIMIT`] bytes.
    pub response_headers: HeaderBlock,
    /// True when the answer's body was longer than [`JOURNAL_BODY_LIMIT`] bytes.
    pub response_truncated: bool,
}

impl Recorded {
    /// The path, and the query after `?` when there is one.
    fn target(&self) -> &str {
        std::str::from_utf8(self.request_headers.lead()).unwrap_or_default()
    }

    fn path(&self) -> &str {
        let target = self.target();
        target.split_once('?').map_or(target, |(p, _)| p)
    }

    fn idempotency_key(&self) -> Option<String> {
        self.idempotency_key.as_deref().map(escape_bytes)
    }

    /// The entry the journal shows; `accounts` names the account indexes.
    fn entry(&self, accounts: &[String]) -> JournalEntry {
        let at = OffsetDateTime::from_unix_timestamp_nanos(self.at)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let at = at
            .replace_nanosecond(u32::from(at.millisecond()) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default();
        let (request_body, request_truncated) =
            shown_body(&self.request_body.bytes, self.request_body.truncated);
        let (response_body, response_truncated) =
            shown_body(self.response_headers.tail(), self.response_truncated);
        JournalEntry {
            id: self.id,
            at,
            method: self.method.as_str().to_owned(),
            path: self.path().to_owned(),
            query: self.target().split_once('?').map(|(_, q)| q.to_owned()),
            status: self.status,
            account: self.account_name(accounts).map(str::to_owned),
            token: self.token.as_ref().map(|t| t.as_str().to_owned()),
            idempotency_key: self.idempotency_key(),
            idempotent_replay: self.response_headers.get("idempotent-replay") == Some(b"true"),
            fault: self.fault.map(str::to_owned),
            request_id: self
                .response_headers
                .get("x-request-id")
                .or_else(|| self.request_headers.get("x-request-id"))
                .map(escape_bytes),
            duration_ms: self.duration_ms,
            request: JournalMessage {
                headers: self.request_headers.shown(),
                body: request_body,
                body_truncated: request_truncated,
            },
            response: JournalMessage {
                headers: self.response_headers.shown(),
                body: response_body,
                body_truncated: response_truncated,
            },
        }
    }

    fn account_name<'a>(&self, accounts: &'a [String]) -> Option<&'a str> {
        self.account
            .and_then(|a| accounts.get(a as usize))
            .map(String::as_str)
    }

    fn matches(&self, seq: u64, filter: &RequestFilter, accounts: &[String]) -> bool {
        filter.after.is_none_or(|a| seq > a)
            && filter
                .method
                .as_ref()
                .is_none_or(|m| m.eq_ignore_ascii_case(self.method.as_str()))
            && filter.path.as_ref().is_none_or(|p| p == self.path())
            && filter.status.is_none_or(|s| s == self.status)
            && filter
                .account
                .as_ref()
                .is_none_or(|a| self.account_name(accounts) == Some(a.as_str()))
            && filter
                .idempotency_key
                .as_ref()
                .is_none_or(|k| self.idempotency_key().as_ref() == Some(k))
            && filter.since.is_none_or(|s| self.id > s)
    }
}

/// The bytes a recorded request is charged against the journal's budget: what it holds, and
/// a generous allowance for its fixed parts and allocations.
pub(crate) fn recorded_bytes(r: &Recorded) -> usize {
    ENTRY_OVERHEAD
        + r.idempotency_key.as_ref().map_or(0, |k| k.len())
        + r.request_headers.len()
        + r.response_headers.len()
        + r.request_body.bytes.len()
}

/// A kept entry: what it is charged, when it was recorded (the cursor it took), the entry.
#[derive(Debug)]
struct Slot {
    cost: usize,
    seq: u64,
    entry: Recorded,
}

/// The bounded journal. Ids are taken without its lock (one atomic step as a request
/// arrives); the entries are behind it.
#[derive(Debug)]
pub(crate) struct Journal {
    next_id: AtomicU64,
    kept: Mutex<Kept>,
    /// One permit per large read being sent ([`Journal::large_read`]).
    readers: Arc<tokio::sync::Semaphore>,
}

/// How many reads larger than one piece the journal sends at once: each holds buffers while
/// its client reads (more when a client reads slowly), so their number, not the clients,
/// bounds that memory.
pub(crate) const JOURNAL_LARGE_READS: usize = 4;

#[derive(Debug)]
struct Kept {
    entries: VecDeque<Slot>,
    bytes: usize,
    /// How many entries were ever recorded: the journal's cursor. Entries are numbered in the
    /// order they are recorded (their answers' order), under the lock that readers take.
    recorded: u64,
    max_entries: usize,
    max_bytes: usize,
}

impl Kept {
    /// The slots `filter` selects, in id order, and the cursor as they were read.
    fn selected(&self, filter: &RequestFilter, accounts: &[String]) -> (Vec<&Slot>, u64) {
        if let (Some(after), Some(limit)) = (filter.after, filter.limit) {
            // A page of the journal as it was recorded: the first `limit` recorded after the
            // cursor, and the cursor where they stop.
            let mut page: Vec<&Slot> = self
                .entries
                .iter()
                .filter(|slot| slot.entry.matches(slot.seq, filter, accounts))
                .collect();
            page.sort_unstable_by_key(|slot| slot.seq);
            let cursor = if page.len() > limit {
                page.truncate(limit);
                page.last().map_or(after, |slot| slot.seq)
            } else {
                self.recorded
            };
            page.sort_unstable_by_key(|slot| slot.entry.id);
            return (page, cursor);
        }
        // Newest first to stop at the limit, then back to oldest first.
        let mut out: Vec<&Slot> = self
            .entries
            .iter()
            .rev()
            .filter(|slot| slot.entry.matches(slot.seq, filter, accounts))
            .take(filter.limit.unwrap_or(usize::MAX))
            .collect();
        out.reverse();
        (out, self.recorded)
    }
}

impl Journal {
    /// A journal of at most `max_entries` entries and about `max_bytes` bytes.
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Self {
        Journal {
            next_id: AtomicU64::new(1),
            kept: Mutex::new(Kept {
                entries: VecDeque::new(),
                bytes: 0,
                recorded: 0,
                max_entries,
                max_bytes,
            }),
            readers: Arc::new(tokio::sync::Semaphore::new(JOURNAL_LARGE_READS)),
        }
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The id the next entry gets.
    pub(crate) fn take_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Records `entry` (its id from [`Journal::take_id`]), dropping the oldest entries over
    /// the bounds.
    pub(crate) fn push(&self, entry: Recorded) {
        let cost = recorded_bytes(&entry);
        let mut kept = self.kept();
        // Entries arrive in the order their answers finished; keep them ordered by id.
        let at = kept
            .entries
            .iter()
            .rposition(|slot| slot.entry.id < entry.id)
            .map_or(0, |p| p + 1);
        kept.recorded += 1;
        let seq = kept.recorded;
        kept.entries.insert(at, Slot { cost, seq, entry });
        kept.bytes += cost;
        while kept.entries.len() > kept.max_entries || kept.bytes > kept.max_bytes {
            match kept.entries.pop_front() {
                Some(slot) => kept.bytes -= slot.cost,
                None => break,
            }
        }
    }

    /// The entries `filter` selects, oldest first, and the cursor as they were read (a later
    /// read with [`RequestFilter::after`] this cursor returns the entries recorded since that
    /// are still kept); `accounts` names the account indexes.
    pub(crate) fn select(
        &self,
        filter: &RequestFilter,
        accounts: &[String],
    ) -> (Vec<JournalEntry>, u64) {
        let kept = self.kept();
        let (slots, cursor) = kept.selected(filter, accounts);
        (
            slots
                .iter()
                .map(|slot| slot.entry.entry(accounts))
                .collect(),
            cursor,
        )
    }

    /// What [`Journal::select`] would return, as ids only: a reader that sends a large
    /// selection turns it into entries a few at a time ([`Journal::entries_of`]), so a read
    /// never holds the whole journal as text at once.
    pub(crate) fn select_ids(
        &self,
        filter: &RequestFilter,
        accounts: &[String],
    ) -> (Vec<u64>, u64) {
        let kept = self.kept();
        let (slots, cursor) = kept.selected(filter, accounts);
        (slots.iter().map(|slot| slot.entry.id).collect(), cursor)
    }

    /// The entries of the first of `ids` (ascending), as many as the journal charged about
    /// `budget` bytes for (always at least one id), leaving out those no longer kept; and how
    /// many of `ids` that took.
    pub(crate) fn entries_of(
        &self,
        ids: &[u64],
        accounts: &[String],
        budget: usize,
    ) -> (Vec<JournalEntry>, usize) {
        let kept = self.kept();
        let mut out = Vec::new();
        let mut spent = 0;
        let mut used = 0;
        for id in ids {
            if used > 0 && spent >= budget {
                break;
            }
            used += 1;
            // Kept in id order (see `push`).
            if let Ok(at) = kept.entries.binary_search_by_key(id, |slot| slot.entry.id) {
                let slot = &kept.entries[at];
                spent += slot.cost;
                out.push(slot.entry.entry(accounts));
            }
        }
        (out, used)
    }

    /// A permit to send a read larger than one piece, held until it is sent or dropped;
    /// `None` while [`JOURNAL_LARGE_READS`] are under way.
    pub(crate) fn large_read(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.readers).try_acquire_owned().ok()
    }

    /// The bytes the entries are charged.
    pub(crate) fn bytes(&self) -> usize {
        self.kept().bytes
    }

    /// Forgets every entry (ids and the cursor go on increasing).
    pub(crate) fn clear(&self) {
        let mut kept = self.kept();
        kept.entries.clear();
        kept.bytes = 0;
    }

    /// Forgets the entries of the account with this index.
    pub(crate) fn clear_account(&self, account: u32) {
        let mut kept = self.kept();
        kept.entries
            .retain(|slot| slot.entry.account != Some(account));
        kept.bytes = kept.entries.iter().map(|slot| slot.cost).sum();
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

    fn entry(id: u64, account: u32, body: &str) -> Recorded {
        Recorded {
            id,
            at: 0,
            method: axum::http::Method::POST,
            status: 201,
            account: Some(account),
            token: None,
            idempotency_key: None,
            fault: None,
            duration_ms: 0.0,
            request_headers: HeaderBlock::record(
                b"/api/v1/codes?x=1",
                std::iter::empty,
                |_, _, _| false,
                b"",
            ),
            request_body: RecordedBody {
                bytes: Bytes::copy_from_slice(body.as_bytes()),
                truncated: false,
            },
            response_headers: HeaderBlock::default(),
            response_truncated: false,
        }
    }

    #[test]
    fn bounded_in_entries_and_bytes_oldest_out_first() {
        let accounts = ["a".to_owned()];
        let j = Journal::new(3, usize::MAX);
        for _ in 0..5 {
            let id = j.take_id();
            j.push(entry(id, 0, "x"));
        }
        let ids: Vec<u64> = j
            .select(&RequestFilter::new(), &accounts)
            .0
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, [3, 4, 5]);

        let one = recorded_bytes(&entry(0, 0, &"x".repeat(1000)));
        let j = Journal::new(1000, one * 4);
        for _ in 0..10 {
            let id = j.take_id();
            j.push(entry(id, 0, &"x".repeat(1000)));
        }
        assert!(j.bytes() <= one * 4);
        let (kept, _) = j.select(&RequestFilter::new().account("a"), &accounts);
        assert_eq!(kept.len(), 4);
        assert_eq!(
            (kept[0].path.as_str(), kept[0].query.as_deref()),
            ("/api/v1/codes", Some("x=1"))
        );
        assert_eq!(kept[0].account.as_deref(), Some("a"));
        assert_eq!(kept[0].at, "1970-01-01T00:00:00Z");
        j.clear();
        let id = j.take_id();
        assert_eq!(id, 11, "ids are never reused");
    }

    #[test]
    fn following_the_cursor_misses_no_slow_request() {
        let accounts = ["a".to_owned()];
        let j = Journal::new(100, usize::MAX);
        let ids = |entries: Vec<JournalEntry>| entries.iter().map(|e| e.id).collect::<Vec<_>>();
        let (none, start) = j.select(&RequestFilter::new(), &accounts);
        assert!(none.is_empty());
        assert_eq!(start, 0);

        // Request 1 is slow: request 2 arrives later and is answered first.
        let slow = j.take_id();
        let fast = j.take_id();
        j.push(entry(fast, 0, "fast"));
        let (seen, cursor) = j.select(&RequestFilter::new().after(start), &accounts);
        assert_eq!(ids(seen), [fast]);
        // By id, a poller that saw 2 asks for ids above 2 and never sees 1.
        j.push(entry(slow, 0, "slow"));
        let (by_id, _) = j.select(&RequestFilter::new().since(fast), &accounts);
        assert!(by_id.is_empty());
        // By cursor, it sees 1, once.
        let (seen, cursor) = j.select(&RequestFilter::new().after(cursor), &accounts);
        assert_eq!(ids(seen), [slow]);
        let (seen, again) = j.select(&RequestFilter::new().after(cursor), &accounts);
        assert!(seen.is_empty());
        assert_eq!(again, cursor);
        // A whole read is still ordered by id, and the cursor goes on after a clear.
        assert_eq!(
            ids(j.select(&RequestFilter::new(), &accounts).0),
            [slow, fast]
        );
        j.clear();
        let id = j.take_id();
        j.push(entry(id, 0, "after the clear"));
        let (seen, last) = j.select(&RequestFilter::new().after(cursor), &accounts);
        assert_eq!(ids(seen), [id]);
        assert_eq!(last, cursor + 1);
    }

    #[test]
    fn with_a_limit_the_cursor_pages_in_the_order_entries_were_recorded() {
        let accounts = ["a".to_owned()];
        let j = Journal::new(100, usize::MAX);
        let ids: Vec<u64> = (0..4).map(|_| j.take_id()).collect();
        // Answered, so recorded, in the order 3, 1, 4, 2.
        for &i in &[ids[2], ids[0], ids[3], ids[1]] {
            j.push(entry(i, 0, "x"));
        }
        let page = |after, limit| {
            let (entries, cursor) =
                j.select(&RequestFilter::new().after(after).limit(limit), &accounts);
            (entries.iter().map(|e| e.id).collect::<Vec<_>>(), cursor)
        };
        // The first two recorded (3 and 1), shown by id; the cursor stops after them.
        assert_eq!(page(0, 2), (vec![ids[0], ids[2]], 2));
        assert_eq!(page(2, 2), (vec![ids[1], ids[3]], 4));
        assert_eq!(page(4, 2), (vec![], 4));
        // A zero limit passes over nothing.
        assert_eq!(page(1, 0), (vec![], 1));
    }

    #[test]
    fn an_entry_is_charged_at_least_the_bytes_it_holds() {
        let mut e = entry(1, 0, &"y".repeat(3000));
        let long = "v".repeat(2 * JOURNAL_HEADER_LIMIT);
        e.request_headers = HeaderBlock::record(
            b"/api/v1/codes",
            || [("a", long.as_bytes()), ("b", b"c".as_slice())].into_iter(),
            |_, _, _| false,
            b"",
        );
        e.response_headers =
            HeaderBlock::record(b"", std::iter::empty, |_, _, _| false, &[b'z'; 900]);
        let held = e.request_headers.len() + e.request_body.bytes.len() + e.response_headers.len();
        assert!(held > 3000 + JOURNAL_HEADER_LIMIT + 900);
        assert!(recorded_bytes(&e) >= held, "{}", recorded_bytes(&e));
    }

    #[test]
    fn headers_are_cut_joined_and_bounded_as_shown() {
        let long = "v".repeat(JOURNAL_HEADER_LIMIT + 1);
        let names: Vec<String> = (0..JOURNAL_HEADER_COUNT + 5)
            .map(|i| format!("x-{i:03}"))
            .collect();
        let mut pairs: Vec<(&str, &[u8])> = vec![
            ("accept", b"a/b"),
            ("accept", b"c/d"),
            ("authorization", b"Bearer hkr_secret_token"),
            ("x-long", long.as_bytes()),
            ("x-bytes", b"caf\xe9\x00"),
        ];
        pairs.extend(names.iter().map(|n| (n.as_str(), b"1".as_slice())));
        let block = HeaderBlock::record(
            b"/lead",
            || pairs.iter().copied(),
            |name, _, out| {
                let masked = name == "authorization";
                if masked {
                    out.extend_from_slice(b"Bearer ...oken");
                }
                masked
            },
            b"tail",
        );
        assert_eq!((block.lead(), block.tail()), (&b"/lead"[..], &b"tail"[..]));
        assert_eq!(block.with_tail(b"longer tail").tail(), b"longer tail");
        let shown = block.shown();
        assert_eq!(shown["accept"], "a/b, c/d");
        assert_eq!(shown["authorization"], "Bearer ...oken");
        assert_eq!(
            shown["x-long"],
            format!("{}…", &long[..JOURNAL_HEADER_LIMIT])
        );
        assert_eq!(
            shown["x-bytes"], "caf\\xE9",
            "a stray separator byte is dropped"
        );
        assert_eq!(shown.len(), JOURNAL_HEADER_COUNT);
        assert!(!String::from_utf8_lossy(&block.bytes).contains("secret"));
        assert_eq!(block.get("accept"), Some(b"a/b".as_slice()));
    }

    #[test]
    fn non_utf8_bytes_are_escaped() {
        assert_eq!(escape_bytes(b"caf\xe9"), "caf\\xE9");
        assert_eq!(escape_bytes("café".as_bytes()), "café");
        assert_eq!(escape_bytes(b"a\\b"), "a\\\\b");
    }
}
