//! The answer cache: a response encoded once and replayed for every query that asks the
//! same thing, until data or health change.
//!
//! Most queries ask for plain records or for a failover name, whose answer depends only
//! on the data and the health table — both fixed for the life of one `Snapshot`. Each UDP
//! worker keeps its own map (no lock) from the question to the encoded response without
//! its OPT record; a query then costs a parse, a hash lookup and a copy, with only the ID,
//! the flags it echoes, the question's case and its EDNS written per query.
//!
//! Where one selection is made per query (weighted, latency, geolocation, geoproximity,
//! IP-based, multivalue over eight), the question maps to the responses for each outcome
//! of that selection: per query only the selection runs, and its outcome picks the
//! response. Answers that cannot be told apart that way (`Reuse::Never`) are built afresh.
//!
//! Names that do not exist, wildcard matches and names below a zone cut are as many as
//! clients care to make up (a flood of random names), but their answers differ only in the
//! name: those questions are not kept one by one but by where they land
//! (`lookup::Landed`), as one [`Prepared`] response that each query respells with its
//! own name (`encode::respell`).

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::lookup::Landed;
use crate::metrics::Outcome;
use crate::snapshot::Snapshot;

/// Entries per worker before the map starts over: bounds memory when clients ask for
/// many distinct names (a 1M-name zone, random subdomains).
const MAX_ENTRIES: usize = 1 << 16;
/// Responses kept per question for the outcomes of its selection; past this (multivalue
/// over many sets) further outcomes are built per query.
const MAX_CHOICES: usize = 64;
/// Longest key: a 255-byte name, type, class, room and flags.
const MAX_KEY: usize = 255 + 7;

/// One worker's cached answers, all made from one snapshot.
#[derive(Default)]
pub struct AnswerCache {
    /// The [`Snapshot::id`] the entries were made from. Not the snapshot itself: an idle
    /// worker would hold one that a reload replaced, and its memory with it.
    snapshot: Option<u64>,
    /// Keyed by names clients choose: hashed with a seed of its own (no flooding one
    /// bucket with names made to collide).
    entries: HashMap<Box<[u8]>, Cached, foldhash::quality::RandomState>,
    /// Responses held, all questions and outcomes counted.
    held: usize,
    /// The outcome of the current query's selection, reused from query to query.
    chosen: Vec<(usize, usize)>,
    /// Responses by where their names land, keyed with the rest of the question.
    prepared: FxHashMap<(Landed, [u8; 7]), Prepared>,
    /// Where the pointers of the message being encoded are (see `encode`).
    pub pointers: Vec<u16>,
}

/// A response that serves every name landing in one place: prepared for one of them.
pub struct Prepared {
    pub encoded: Encoded,
    /// The length of the name it was prepared for, in wire form.
    pub qname_len: usize,
    /// Its compression pointers that move with the name's length.
    pub pointers: Box<[u16]>,
}

/// What a question gets.
pub enum Cached {
    /// This response, replayed.
    Response(Encoded),
    /// One selection decides among responses.
    PerChoice(ByOutcome),
    /// An answer built per query.
    PerQuery,
}

/// The responses to one question, by the outcome of its selection (`Reuse::PerChoice`).
pub struct ByOutcome {
    pub zone: usize,
    pub group: usize,
    by_sets: FxHashMap<Box<[(usize, usize)]>, Encoded>,
}

impl ByOutcome {
    fn new(zone: usize, group: usize) -> Self {
        ByOutcome {
            zone,
            group,
            by_sets: FxHashMap::default(),
        }
    }

    /// The response for the selection that chose `sets`.
    pub fn get(&self, sets: &[(usize, usize)]) -> Option<&Encoded> {
        self.by_sets.get(sets)
    }

    pub fn is_full(&self) -> bool {
        self.by_sets.len() >= MAX_CHOICES
    }
}

/// A response as `encode_answer` wrote it for the question in lower case, a blank
/// header and no EDNS, with what the metrics need to count it.
pub struct Encoded {
    pub response: Box<[u8]>,
    pub zone: Option<usize>,
    pub outcome: Outcome,
    /// The policy sets that supplied the answer, as (group, set).
    pub sets: Box<[(usize, usize)]>,
}

/// The cache key of a question: everything that changes the response's bytes beyond
/// what each replay writes (ID, echoed flags, the name's case, the OPT record): the name
/// in lower case, type, class, the room for records (truncation depends on it), DO, and
/// whether it came over UDP (where ANY is answered minimally).
pub struct Key {
    bytes: [u8; MAX_KEY],
    len: usize,
}

impl Key {
    /// `qname` in uncompressed wire form, as `request::parse` returns it.
    pub fn new(
        qname: &[u8],
        qtype: u16,
        qclass: u16,
        room: u16,
        (dnssec_ok, udp): (bool, bool),
    ) -> Option<Key> {
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
        bytes[n + 6] = u8::from(dnssec_ok) | u8::from(udp) << 1;
        Some(Key { bytes, len: n + 7 })
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The query name in lower-case wire form.
    pub fn qname(&self) -> &[u8] {
        &self.bytes[..self.len - 7]
    }

    /// Everything but the name: what a prepared response is kept by, with its landing.
    fn rest(&self) -> [u8; 7] {
        let mut rest = [0u8; 7];
        rest.copy_from_slice(&self.bytes[self.len - 7..self.len]);
        rest
    }
}

impl AnswerCache {
    /// The entries made from `snapshot`; those of an older one are dropped first.
    pub fn for_snapshot(&mut self, snapshot: &Arc<Snapshot>) -> &mut Self {
        if self.snapshot != Some(snapshot.id) {
            self.entries.clear();
            self.prepared.clear();
            self.snapshot = Some(snapshot.id);
        }
        self
    }

    /// The response prepared for questions like `key` that land at `landed`.
    pub fn prepared(&self, landed: Landed, key: &Key) -> Option<&Prepared> {
        self.prepared.get(&(landed, key.rest()))
    }

    pub fn insert_prepared(&mut self, landed: Landed, key: &Key, entry: Prepared) -> &Prepared {
        self.make_room();
        self.prepared
            .entry((landed, key.rest()))
            .insert_entry(entry)
            .into_mut()
    }

    /// What `key` gets, with the vector to write a selection's outcome in.
    pub fn lookup(&mut self, key: &Key) -> (Option<&Cached>, &mut Vec<(usize, usize)>) {
        (self.entries.get(key.as_bytes()), &mut self.chosen)
    }

    /// Remembers what a question gets.
    pub fn insert(&mut self, key: &Key, entry: Cached) -> &Cached {
        self.make_room();
        self.entries
            .entry(key.as_bytes().into())
            .insert_entry(entry)
            .into_mut()
    }

    /// Remembers the response to a question whose selection, at `group` of `zone`,
    /// chose `sets`. Nothing is kept past `MAX_CHOICES` outcomes.
    pub fn insert_choice(
        &mut self,
        key: &Key,
        (zone, group): (usize, usize),
        sets: &[(usize, usize)],
        entry: Encoded,
    ) -> Option<&Encoded> {
        self.make_room();
        let cached = self
            .entries
            .entry(key.as_bytes().into())
            .or_insert_with(|| Cached::PerChoice(ByOutcome::new(zone, group)));
        match cached {
            Cached::PerChoice(choices) if !choices.is_full() => Some(
                choices
                    .by_sets
                    .entry(sets.into())
                    .insert_entry(entry)
                    .into_mut(),
            ),
            _ => None,
        }
    }

    fn make_room(&mut self) {
        if self.held >= MAX_ENTRIES {
            self.entries.clear();
            self.prepared.clear();
            self.held = 0;
        }
        self.held += 1;
    }
}
