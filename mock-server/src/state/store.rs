//! The codes of every account: a map from shortcode (unique across all accounts) to the code,
//! plus, per account, its shortcodes in creation order for pagination. Each code carries its
//! aggregated scans. Kept small: one stored code costs a few hundred bytes.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::CodeRecord;

/// All codes, globally unique by shortcode, indexed per account in creation order.
#[derive(Debug)]
pub(crate) struct Store {
    codes: HashMap<Arc<str>, CodeRecord>,
    by_account: Vec<Vec<Arc<str>>>,
}

impl Store {
    /// An empty store for `accounts` accounts (ids `0..accounts`).
    pub(crate) fn new(accounts: usize) -> Self {
        Store {
            codes: HashMap::new(),
            by_account: vec![Vec::new(); accounts],
        }
    }

    /// True when some account holds `shortcode`.
    pub(crate) fn contains(&self, shortcode: &str) -> bool {
        self.codes.contains_key(shortcode)
    }

    /// Inserts a code whose shortcode is free (checked by the caller with [`Store::contains`]).
    pub(crate) fn insert(&mut self, record: CodeRecord) -> &CodeRecord {
        let key = record.shortcode.clone();
        if let Some(list) = self.by_account.get_mut(record.account as usize) {
            list.push(key.clone());
        }
        self.codes.entry(key).or_insert(record)
    }

    /// Any account's code, mutable (for the scan URL and the mock routes). Like every mutable
    /// borrow of a code, it forgets the code's kept answer first, so no change can leave it
    /// stale.
    pub(crate) fn get_any_mut(&mut self, shortcode: &str) -> Option<&mut CodeRecord> {
        self.codes.get_mut(shortcode).map(forgetting)
    }

    /// `account`'s code; another account's code is invisible.
    pub(crate) fn get(&self, account: u32, shortcode: &str) -> Option<&CodeRecord> {
        self.codes.get(shortcode).filter(|c| c.account == account)
    }

    /// `account`'s code, mutable; it forgets the code's kept answer first.
    pub(crate) fn get_mut(&mut self, account: u32, shortcode: &str) -> Option<&mut CodeRecord> {
        self.codes
            .get_mut(shortcode)
            .filter(|c| c.account == account)
            .map(forgetting)
    }

    /// An estimate of the heap bytes the codes hold: each record and its map slot, its strings,
    /// its place in its account's list, its scans and earlier targets.
    pub(crate) fn heap_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(Arc<str>, CodeRecord)>() + 1;
        let per_code: usize = self
            .codes
            .values()
            .map(|c| {
                // The shortcode's Arc (two counters and the text), shared with the list.
                2 * std::mem::size_of::<usize>()
                    + c.shortcode.len()
                    + c.target_url.len()
                    + c.label.as_ref().map_or(0, |l| l.len())
                    + c.scans.heap_bytes()
                    + c.earlier_targets.heap_bytes()
                    + c.shown.get().map_or(0, |b| b.len())
            })
            .sum();
        let lists: usize = self
            .by_account
            .iter()
            .map(|l| l.capacity() * std::mem::size_of::<Arc<str>>())
            .sum();
        per_code + self.codes.capacity() * slot + lists
    }

    /// How many codes `account` holds.
    pub(crate) fn count(&self, account: u32) -> usize {
        self.by_account.get(account as usize).map_or(0, Vec::len)
    }

    /// `account`'s codes from index `offset`, at most `limit`, oldest first.
    pub(crate) fn page(
        &self,
        account: u32,
        offset: u64,
        limit: usize,
    ) -> impl Iterator<Item = &CodeRecord> {
        let list = self
            .by_account
            .get(account as usize)
            .map_or(&[][..], Vec::as_slice);
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(list.len());
        list[start..]
            .iter()
            .take(limit)
            .filter_map(|s| self.codes.get(s))
    }

    /// Total codes on every account.
    pub(crate) fn len(&self) -> usize {
        self.codes.len()
    }

    /// Forgets `account`'s codes and scans.
    pub(crate) fn clear_account(&mut self, account: u32) {
        if let Some(list) = self.by_account.get_mut(account as usize) {
            for sc in list.drain(..) {
                self.codes.remove(&sc);
            }
        }
    }

    /// Forgets every code and scan.
    pub(crate) fn clear(&mut self) {
        let accounts = self.by_account.len();
        *self = Store::new(accounts);
    }
}

/// `record`, its kept answer forgotten: the caller may change what the answer shows.
fn forgetting(record: &mut CodeRecord) -> &mut CodeRecord {
    record.changed();
    record
}
