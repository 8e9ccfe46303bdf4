//! The server's shared state: the validated configuration, the token table, one sliding log per
//! token, and behind one mutex the codes, the idempotency store and the shortcode generator.
//! Handlers take the mutex briefly and never hold it across an `.await`; holding it for a whole
//! create is what serializes two requests with the same idempotency key. Nothing here knows
//! about requests: the layers and handlers read and change the state through these types.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::clock::MockClock;
use crate::config::{ConfigError, MockConfig};
use crate::model::Plan;

mod faults;
mod idempotency;
mod journal;
mod overview;
mod ratelimit;
mod store;

pub use faults::FaultCounts;
pub(crate) use faults::{DropKind, Fault, Faults};
pub(crate) use idempotency::{
    Fingerprint, IDEMPOTENCY_KEY, IdempotencyStore, Lookup, StoredResponse,
};
pub(crate) use journal::{
    HeaderBlock, JOURNAL_HEADER_COUNT, JOURNAL_LARGE_READS, Journal, LastFour, Recorded,
    RecordedBody,
};
pub use journal::{
    JOURNAL_BODY_LIMIT, JOURNAL_HEADER_LIMIT, JournalEntry, JournalMessage, RequestFilter,
};
pub(crate) use overview::{AccountOverview, RateBudget, last_four};
pub(crate) use ratelimit::{RateDecision, SlidingLog};
pub(crate) use store::Store;

const SHORTCODE_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Length of generated shortcodes.
pub(crate) const GENERATED_SHORTCODE_LEN: usize = 7;

/// Everything a mock server holds: pass it to [`app`](crate::app).
///
/// Cheap to clone (an `Arc` inside); clones share the same state.
///
/// ```
/// use heldqr_mock::{AppState, MockConfig, app};
///
/// let state = AppState::new(MockConfig::default()).expect("valid config");
/// let router = app(state.clone());
/// # let _ = router;
/// assert_eq!(state.code_count(), 0);
/// ```
#[derive(Clone)]
pub struct AppState {
    pub(crate) shared: Arc<Shared>,
}

/// The caller of an authenticated request, put in the request extensions by the auth layer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller {
    pub token: u32,
    pub account: u32,
    pub plan: Plan,
    /// Set by the rate limit on an `/api/v1` request whose credit was over the cap: the
    /// seconds until the window has room (the 429's `Retry-After`).
    pub over_limit: Option<u64>,
}

pub(crate) struct TokenInfo {
    pub plan: Plan,
    pub account: u32,
}

pub(crate) struct Shared {
    pub config: MockConfig,
    pub tokens: HashMap<Box<str>, u32>,
    pub token_info: Vec<TokenInfo>,
    pub accounts: Vec<String>,
    pub rate: Vec<Mutex<SlidingLog>>,
    pub data: Mutex<Data>,
    pub base_url: OnceLock<String>,
    pub request_seq: AtomicU64,
    /// The fault generator, `None` when no fault is configured.
    pub faults: Option<Faults>,
    /// The request journal, `None` when turned off (size 0).
    pub journal: Option<Journal>,
    /// The value of the inspector's session cookie, which stands for the admin token: random,
    /// made at start when an admin token is configured (`None` otherwise, or when the system
    /// has no randomness to give).
    pub admin_session: Option<Box<str>>,
}

/// The mutable data behind the one state lock.
pub(crate) struct Data {
    pub store: Store,
    pub idempotency: IdempotencyStore,
    pub rng: fastrand::Rng,
}

fn new_rng(seed: Option<u64>) -> fastrand::Rng {
    match seed {
        Some(s) => fastrand::Rng::with_seed(s),
        None => fastrand::Rng::new(),
    }
}

impl AppState {
    /// Validates `config` and builds an empty server state.
    pub fn new(config: MockConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let specs = config.tokens();
        let mut accounts: Vec<String> = Vec::new();
        let mut tokens = HashMap::new();
        let mut token_info = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let account = match accounts.iter().position(|a| *a == spec.account) {
                Some(p) => p,
                None => {
                    accounts.push(spec.account.clone());
                    accounts.len() - 1
                }
            };
            tokens.insert(Box::from(spec.token.as_str()), i as u32);
            token_info.push(TokenInfo {
                plan: spec.plan,
                account: account as u32,
            });
        }
        let data = Data {
            store: Store::new(accounts.len()),
            idempotency: IdempotencyStore::default(),
            rng: new_rng(config.seed),
        };
        let faults = Faults::new(&config.faults, specs.len());
        let journal = (config.journal_size > 0)
            .then(|| Journal::new(config.journal_size, config.journal_max_bytes));
        let admin_session = config.admin_token.as_ref().and_then(|_| random_hex::<16>());
        let base_url = OnceLock::new();
        if let Some(url) = &config.public_url {
            let _ = base_url.set(url.clone());
        }
        Ok(AppState {
            shared: Arc::new(Shared {
                rate: specs
                    .iter()
                    .map(|_| Mutex::new(SlidingLog::default()))
                    .collect(),
                config,
                tokens,
                token_info,
                accounts,
                data: Mutex::new(data),
                base_url,
                request_seq: AtomicU64::new(fastrand::u64(..) >> 16),
                faults,
                journal,
                admin_session,
            }),
        })
    }

    /// The clock this state reads.
    pub fn clock(&self) -> &MockClock {
        &self.shared.config.clock
    }

    /// The configuration this state was built from.
    pub fn config(&self) -> &MockConfig {
        &self.shared.config
    }

    /// How many codes are stored, over every account.
    pub fn code_count(&self) -> usize {
        self.lock().store.len()
    }

    /// How many idempotency keys are held (expired ones are reclaimed as requests arrive and
    /// on a schedule).
    pub fn idempotency_key_count(&self) -> usize {
        self.lock().idempotency.len()
    }

    /// The idempotency retention in server-clock nanoseconds.
    pub(crate) fn idempotency_ttl_nanos(&self) -> i128 {
        i128::try_from(self.shared.config.idempotency_ttl.as_nanos()).unwrap_or(i128::MAX / 4)
    }

    /// Drops every idempotency entry that expired by the server clock. A running
    /// [`MockServer`](crate::MockServer) calls it every few seconds and after
    /// `POST /_mock/clock/advance`, so expired keys go away even when no request passes by.
    pub fn reclaim_expired(&self) {
        let now = self.clock().now_nanos();
        let ttl = self.idempotency_ttl_nanos();
        self.lock().idempotency.reclaim(now, ttl);
    }

    /// An estimate of the heap bytes held by stored codes and idempotency entries, from their
    /// sizes: what the document's worst-case memory figures are checked against.
    pub fn stored_bytes(&self) -> usize {
        let data = self.lock();
        data.store.heap_bytes() + data.idempotency.heap_bytes()
    }

    /// What the fault injection did so far (all zero when no fault is configured).
    pub fn fault_counts(&self) -> FaultCounts {
        self.faults().map(Faults::counts).unwrap_or_default()
    }

    /// The seed of the fault generator (the configured one, or the random one chosen at
    /// start), `None` when no fault is configured. Pass it to `FaultConfig::seed` (or
    /// `--fault-seed`) to replay a run.
    pub fn fault_seed(&self) -> Option<u64> {
        self.faults().map(Faults::seed)
    }

    /// Turns configured faults on or off at run time (they start on), e.g. to check the
    /// server's state through the API after a faulty run. No effect without faults.
    pub fn set_faults_enabled(&self, on: bool) {
        if let Some(f) = self.faults() {
            f.set_enabled(on);
        }
    }

    /// The journal entries `filter` selects, oldest first (empty when the journal is off).
    pub fn requests(&self, filter: &RequestFilter) -> Vec<JournalEntry> {
        self.requests_with_cursor(filter).0
    }

    /// [`requests`](Self::requests), and the journal's cursor as they were read: how many
    /// entries were ever recorded (0 when the journal is off). To follow the journal, pass
    /// the last cursor to [`RequestFilter::after`]: each read returns the entries recorded
    /// since the one before that are still kept (a full journal drops its oldest), each once,
    /// a slow request that finished after a later one included (which
    /// [`RequestFilter::since`], by id, can miss). With a [`RequestFilter::limit`] too, a read
    /// returns at most that many and its cursor stops after them.
    ///
    /// ```
    /// use heldqr_mock::{AppState, MockConfig, RequestFilter};
    ///
    /// # fn demo(state: &AppState) {
    /// let (_, mut cursor) = state.requests_with_cursor(&RequestFilter::new());
    /// // ... later, and again:
    /// let (new, next) = state.requests_with_cursor(&RequestFilter::new().after(cursor));
    /// cursor = next;
    /// # let _ = (new, cursor);
    /// # }
    /// ```
    pub fn requests_with_cursor(&self, filter: &RequestFilter) -> (Vec<JournalEntry>, u64) {
        self.journal()
            .map(|j| j.select(filter, &self.shared.accounts))
            .unwrap_or_default()
    }

    /// The ids of the journal entries `filter` selects, oldest first, and the cursor as they
    /// were read (nothing, 0, when the journal is off):
    /// [`requests_with_cursor`](Self::requests_with_cursor) without making the entries yet.
    pub(crate) fn request_ids(&self, filter: &RequestFilter) -> (Vec<u64>, u64) {
        self.journal()
            .map(|j| j.select_ids(filter, &self.shared.accounts))
            .unwrap_or_default()
    }

    /// The entries of the first of `ids` the journal charged about `budget` bytes for (at
    /// least one id), those no longer kept left out, and how many of `ids` that took.
    pub(crate) fn requests_of(&self, ids: &[u64], budget: usize) -> (Vec<JournalEntry>, usize) {
        match self.journal() {
            Some(j) => j.entries_of(ids, &self.shared.accounts, budget),
            None => (Vec::new(), ids.len()),
        }
    }

    /// A permit to send a journal read larger than one piece (see
    /// [`JOURNAL_LARGE_READS`]); `None` while that many are under
    /// way, or when the journal is off.
    pub(crate) fn large_journal_read(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.journal().and_then(Journal::large_read)
    }

    /// Forgets every journal entry (ids go on increasing).
    pub fn clear_requests(&self) {
        if let Some(j) = self.journal() {
            j.clear();
        }
    }

    /// The bytes the journal's entries are charged against its budget.
    pub fn journal_bytes(&self) -> usize {
        self.journal().map_or(0, Journal::bytes)
    }

    pub(crate) fn journal(&self) -> Option<&Journal> {
        self.shared.journal.as_ref()
    }

    /// The account index of an account id.
    pub(crate) fn account_index(&self, account: &str) -> Option<u32> {
        self.shared
            .accounts
            .iter()
            .position(|a| a == account)
            .and_then(|i| u32::try_from(i).ok())
    }

    /// Forgets one account's codes and scans, the idempotency keys and rate windows of its
    /// tokens and its journal entries; other accounts, the clock and the shortcode sequence
    /// stay. False when the account is unknown.
    pub(crate) fn reset_account(&self, account: &str) -> bool {
        let Some(index) = self.account_index(account) else {
            return false;
        };
        let tokens: Vec<u32> = self
            .shared
            .token_info
            .iter()
            .enumerate()
            .filter(|(_, t)| t.account == index)
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect();
        {
            let mut data = self.lock();
            data.store.clear_account(index);
            data.idempotency.forget_tokens(&tokens);
        }
        for &t in &tokens {
            if let Some(log) = self.shared.rate.get(t as usize) {
                lock(log).clear();
            }
        }
        if let Some(j) = self.journal() {
            j.clear_account(index);
        }
        true
    }

    /// The inspector's session cookie value (see `Shared::admin_session`).
    pub(crate) fn admin_session(&self) -> Option<&str> {
        self.shared.admin_session.as_deref()
    }

    pub(crate) fn faults(&self) -> Option<&Faults> {
        self.shared.faults.as_ref()
    }

    /// Sets the base URL of `scan_url`s unless a public URL is configured (first call wins).
    pub(crate) fn set_base_url(&self, url: &str) {
        let _ = self
            .shared
            .base_url
            .set(url.trim_end_matches('/').to_owned());
    }

    /// The base of `scan_url`: the public URL, else the server's base URL, else
    /// `http://localhost` (a state served without a port, as in `oneshot` tests).
    pub(crate) fn public_base(&self) -> &str {
        self.shared
            .base_url
            .get()
            .map_or("http://localhost", String::as_str)
    }

    /// Takes the state lock. A panic while holding it cannot leave the data half-changed in a
    /// way that matters to a mock, so a poisoned lock is taken over.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Data> {
        self.shared.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The token's index and caller, if the token is known.
    pub(crate) fn caller(&self, token: &str) -> Option<Caller> {
        let &idx = self.shared.tokens.get(token)?;
        let info = self.shared.token_info.get(idx as usize)?;
        Some(Caller {
            token: idx,
            account: info.account,
            plan: info.plan,
            over_limit: None,
        })
    }

    /// The account id of an account index.
    pub(crate) fn account_name(&self, account: u32) -> &str {
        self.shared
            .accounts
            .get(account as usize)
            .map_or("?", String::as_str)
    }

    /// The propagation delay in nanoseconds (see `MockConfig::propagation_delay`).
    pub(crate) fn propagation_delay_nanos(&self) -> i128 {
        i128::try_from(self.shared.config.propagation_delay.as_nanos()).unwrap_or(i128::MAX / 4)
    }

    /// Spends one credit of `token` now, or says how long to wait.
    pub(crate) fn spend_credit(&self, token: u32) -> RateDecision {
        let now = self.clock().now_nanos();
        let cfg = self.shared.config.rate_limit;
        // `token` comes from a `Caller`, which only `caller` makes, from an index of `tokens`;
        // `rate` holds one log per token, so the index is in range.
        self.shared.rate[token as usize]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .check(now, cfg)
    }

    /// A fresh request id, `req_` and 16 hex digits.
    pub(crate) fn next_request_id(&self) -> [u8; 20] {
        let n = self.shared.request_seq.fetch_add(1, Ordering::Relaxed);
        let mut id = *b"req_0000000000000000";
        for (i, digit) in id[4..].iter_mut().enumerate() {
            *digit = b"0123456789abcdef"[((n >> (60 - 4 * i)) & 0xf) as usize];
        }
        id
    }

    /// Forgets all codes, scans, idempotency keys, rate windows and journal entries; restarts
    /// the shortcode sequence of a seeded server. Tokens and the clock stay.
    pub(crate) fn reset(&self) {
        {
            let mut data = self.lock();
            data.store.clear();
            data.idempotency.clear();
            data.rng = new_rng(self.shared.config.seed);
        }
        for log in &self.shared.rate {
            log.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
        if let Some(f) = self.faults() {
            f.reset_bursts();
        }
        self.clear_requests();
    }
}

/// `N` random bytes from the operating system, in hex.
fn random_hex<const N: usize>() -> Option<Box<str>> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Takes a lock; a poisoned one is taken over (see [`AppState::lock`]).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Data {
    /// A generated shortcode no account holds: 7 characters of `[a-z0-9]`.
    pub(crate) fn generate_shortcode(&mut self) -> String {
        loop {
            let s: String = (0..GENERATED_SHORTCODE_LEN)
                .map(|_| SHORTCODE_ALPHABET[self.rng.usize(..SHORTCODE_ALPHABET.len())] as char)
                .collect();
            if !self.store.contains(&s) {
                return s;
            }
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("accounts", &self.shared.accounts)
            .field("base_url", &self.shared.base_url.get())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_req_and_sixteen_hex_digits_of_the_sequence() {
        let state = AppState::new(MockConfig::default()).unwrap();
        state
            .shared
            .request_seq
            .store(0x0123_4567_89ab_cdef, Ordering::Relaxed);
        assert_eq!(&state.next_request_id(), b"req_0123456789abcdef");
        assert_eq!(&state.next_request_id(), b"req_0123456789abcdf0");
        state.shared.request_seq.store(u64::MAX, Ordering::Relaxed);
        assert_eq!(&state.next_request_id(), b"req_ffffffffffffffff");
    }
}
