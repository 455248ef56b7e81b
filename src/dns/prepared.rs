//! Prepared answers: a response encoded once and replayed for every query that asks the
//! same thing, until data or health change.
//!
//! Most queries ask for plain records or for a failover name, whose answer depends only
//! on the data and the health table — both fixed for the life of one `Dataset`. Each UDP
//! worker keeps its own map (no lock) from the question to the encoded response without
//! its OPT record; a query then costs a parse, a hash lookup and a copy, with only the ID,
//! the flags it echoes, the question's case and its EDNS written per query. Answers that
//! a draw or the client decides (`Answer::varies`) are marked `PerQuery` and built afresh.

use std::collections::HashMap;
use std::sync::Arc;

use crate::load::Dataset;
use crate::metrics::Outcome;

/// Entries per worker before the map starts over: bounds memory when clients ask for
/// many distinct names (a 1M-name zone, random subdomains).
const MAX_ENTRIES: usize = 1 << 16;
/// Longest key: a 255-byte name, type, class and room.
const MAX_KEY: usize = 255 + 6;

/// One worker's prepared answers, all made from one dataset.
#[derive(Default)]
pub struct AnswerCache {
    /// Held so that its address cannot be reused by a newer dataset while entries made
    /// from it remain.
    dataset: Option<Arc<Dataset>>,
    entries: HashMap<Box<[u8]>, Prepared>,
}

/// What a question gets.
pub enum Prepared {
    /// This response, replayed.
    Response(Entry),
    /// An answer built per query: a draw or the client decides it.
    PerQuery,
}

/// A response as `encode_answer` wrote it for the question in lower case, a blank
/// header and no EDNS, with what the metrics need to count it.
pub struct Entry {
    pub response: Box<[u8]>,
    pub zone: Option<usize>,
    pub outcome: Outcome,
    /// The policy sets that supplied the answer, as (group, set).
    pub sets: Box<[(usize, usize)]>,
}

/// The cache key of a question: the name in lower case, type, class, and the room for
/// records (truncation depends on it).
pub struct Key {
    bytes: [u8; MAX_KEY],
    len: usize,
}

impl Key {
    /// `qname` in uncompressed wire form, as `request::parse` returns it.
    pub fn new(qname: &[u8], qtype: u16, qclass: u16, room: u16) -> Option<Key> {
        if qname.len() > 255 {
            return None;
        }
        let mut bytes = [0u8; MAX_KEY];
        let n = qname.len();
        // Length octets are below 64, never ASCII letters, so lowering them is harmless.
        for (d, s) in bytes.iter_mut().zip(qname) {
            *d = s.to_ascii_lowercase();
        }
        bytes[n..n + 2].copy_from_slice(&qtype.to_be_bytes());
        bytes[n + 2..n + 4].copy_from_slice(&qclass.to_be_bytes());
        bytes[n + 4..n + 6].copy_from_slice(&room.to_be_bytes());
        Some(Key { bytes, len: n + 6 })
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl AnswerCache {
    /// The entries made from `data`; those of an older dataset are dropped first.
    pub fn for_dataset(&mut self, data: &Arc<Dataset>) -> &mut Self {
        if !self.dataset.as_ref().is_some_and(|d| Arc::ptr_eq(d, data)) {
            self.entries.clear();
            self.dataset = Some(data.clone());
        }
        self
    }

    pub fn get(&self, key: &Key) -> Option<&Prepared> {
        self.entries.get(key.as_bytes())
    }

    pub fn insert(&mut self, key: &Key, entry: Prepared) -> &Prepared {
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries
            .entry(key.as_bytes().into())
            .insert_entry(entry)
            .into_mut()
    }
}
