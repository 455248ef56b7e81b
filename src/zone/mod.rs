//! Zones in memory: the immutable snapshot the query path answers from.
//!
//! Every name is keyed by its lowercased wire form, so a query name, once lowercased,
//! finds its node, its ancestors and its zone by slicing — no parsing or allocation per
//! lookup. A [`ZoneSet`] is built whole from files ([`load`]) and swapped in whole.

pub mod build;
pub mod file;
pub mod lexer;
pub mod load;
pub mod parse;
pub mod svcb;
pub mod text;

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, DecodeError};

pub use load::{load_zones, Kept, PlainIndex, ZoneFiles, ZoneSource};

/// All the records of one name and type.
#[derive(Debug, Clone)]
pub struct RRset {
    pub rtype: RecordType,
    pub ttl: u32,
    pub rdatas: Rdatas,
}

/// An RRset's records. Most RRsets hold one record, kept in place: an allocation of its
/// own, or a spare slot or a capacity field, would cost a million-name zone a million
/// times (an exact slice otherwise, as [`Node`]'s are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rdatas {
    One(RData),
    Many(Box<[RData]>),
}

impl Rdatas {
    /// The records with `more` added at the end.
    pub fn extend(&mut self, more: Vec<RData>) {
        if more.is_empty() {
            return;
        }
        let mut all = std::mem::replace(self, Rdatas::Many(Box::default())).into_vec();
        all.reserve_exact(more.len());
        all.extend(more);
        *self = Rdatas::from(all);
    }

    pub fn into_vec(self) -> Vec<RData> {
        match self {
            Rdatas::One(r) => vec![r],
            Rdatas::Many(all) => all.into_vec(),
        }
    }
}

impl From<Vec<RData>> for Rdatas {
    fn from(mut all: Vec<RData>) -> Self {
        match all.len() {
            1 => Rdatas::One(all.pop().expect("one record")),
            _ => Rdatas::Many(all.into_boxed_slice()),
        }
    }
}

impl std::ops::Deref for Rdatas {
    type Target = [RData];
    fn deref(&self) -> &[RData] {
        match self {
            Rdatas::One(r) => std::slice::from_ref(r),
            Rdatas::Many(all) => all,
        }
    }
}

impl std::ops::DerefMut for Rdatas {
    fn deref_mut(&mut self) -> &mut [RData] {
        match self {
            Rdatas::One(r) => std::slice::from_mut(r),
            Rdatas::Many(all) => all,
        }
    }
}

impl<'a> IntoIterator for &'a Rdatas {
    type Item = &'a RData;
    type IntoIter = std::slice::Iter<'a, RData>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The data at one name (its name is kept by [`Nodes`]: see [`Nodes::name_of`]). A node
/// that owns nothing is an empty non-terminal: it exists
/// (its descendants do) but answers NODATA.
#[derive(Debug, Clone)]
pub struct Node {
    /// Sorted by type code.
    pub rrsets: Box<[RRset]>,
    /// RRsets chosen per query by a routing policy: the type, and the policy group's
    /// index in the zone's policies. The zone only knows that they exist.
    pub dynamic: Box<[(RecordType, u32)]>,
}

/// `items` with `item` added at the end, still an exact slice.
pub fn pushed<T>(items: &mut Box<[T]>, item: T) {
    let mut v = std::mem::take(items).into_vec();
    v.reserve_exact(1);
    v.push(item);
    *items = v.into_boxed_slice();
}

impl Node {
    fn new() -> Self {
        Node {
            rrsets: Box::default(),
            dynamic: Box::default(),
        }
    }

    pub fn rrset(&self, rtype: RecordType) -> Option<&RRset> {
        self.rrsets.iter().find(|r| r.rtype == rtype)
    }

    pub fn dynamic(&self, rtype: RecordType) -> Option<u32> {
        self.dynamic
            .iter()
            .find(|(t, _)| *t == rtype)
            .map(|&(_, i)| i)
    }
}

/// A zone's nodes by [`name_key`]: the nodes in one vector, their keys end to end in
/// another, and a table of node indexes beside them, so that a large zone costs no
/// allocation per name and a few bytes of table per name.
#[derive(Debug, Clone, Default)]
pub struct Nodes {
    /// Node indexes, found by the hash of their key. Keys come from zone files, not from
    /// clients: a fast hash is safe here.
    index: hashbrown::HashTable<Slot>,
    /// Every node's key, in node order, end to end.
    keys: Vec<u8>,
    /// Where each node's key ends in `keys`.
    key_ends: Vec<u32>,
    nodes: Vec<Node>,
    /// The names written with capitals, as written; every other name is its key.
    cased: HashMap<u32, Name, rustc_hash::FxBuildHasher>,
}

/// One entry of the node table: a node and its key's hash, so that growing the table
/// reads no key again.
#[derive(Debug, Clone, Copy)]
struct Slot {
    node: u32,
    hash: u32,
}

fn key_hash(key: &[u8]) -> u32 {
    use std::hash::BuildHasher;
    let h = rustc_hash::FxBuildHasher.hash_one(key);
    (h ^ (h >> 32)) as u32
}

/// The table's hash from the 32 bits kept, spread over every bit the table reads (the
/// low ones choose the bucket, the top seven tag it).
fn spread(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Node `i`'s key in `keys`, given where each ends.
fn key_at<'k>(keys: &'k [u8], ends: &[u32], i: u32) -> &'k [u8] {
    let i = i as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &keys[start..ends[i] as usize]
}

impl Nodes {
    /// The most the next growth of the node vector, its keys and its table can take at
    /// once.
    fn growth_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.keys.capacity()
            + self.key_ends.capacity() * 4
            + 2 * self.index.capacity() * (std::mem::size_of::<Slot>() + 1)
    }

    pub fn get(&self, key: &[u8]) -> Option<&Node> {
        self.index_of(key).map(|i| &self.nodes[i as usize])
    }

    /// Node `i`'s [`name_key`].
    pub fn key(&self, i: u32) -> &[u8] {
        key_at(&self.keys, &self.key_ends, i)
    }

    /// Node `i`'s name as written in the zone file (case kept).
    pub fn name(&self, i: u32) -> Name {
        match self.cased.get(&i) {
            Some(name) => name.clone(),
            None => key_name(self.key(i)),
        }
    }

    /// Spells node `i`'s name as `spelled` (the same name, in other case), or as its key
    /// when None (written without capitals).
    fn rename(&mut self, i: u32, spelled: Option<Name>) {
        if let Some(name) = spelled {
            self.cased.insert(i, name);
        } else if !self.cased.is_empty() {
            self.cased.remove(&i);
        }
    }

    /// The index of `node` if it is one of these nodes: found from where it lies, so
    /// that a node needs no field for its name.
    pub fn index_of_node(&self, node: &Node) -> Option<u32> {
        let at = (node as *const Node as usize).wrapping_sub(self.nodes.as_ptr() as usize)
            / std::mem::size_of::<Node>();
        let ours = self.nodes.get(at).is_some_and(|n| std::ptr::eq(n, node));
        ours.then_some(at as u32)
    }

    fn position(&self, node: &Node) -> u32 {
        self.index_of_node(node).expect("a node of this zone")
    }

    /// The [`name_key`] of `node`, one of these nodes.
    pub fn key_of(&self, node: &Node) -> &[u8] {
        self.key(self.position(node))
    }

    /// The name of `node`, one of these nodes, as written (case kept).
    pub fn name_of(&self, node: &Node) -> Name {
        self.name(self.position(node))
    }

    /// Every node with its key and index, in the order they were made.
    pub fn keyed(&self) -> impl Iterator<Item = (&[u8], u32, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (self.key(i as u32), i as u32, n))
    }

    /// The index of the node at `key`.
    pub fn index_of(&self, key: &[u8]) -> Option<u32> {
        self.find(key, key_hash(key))
    }

    fn find(&self, key: &[u8], hash: u32) -> Option<u32> {
        let found = self
            .index
            .find(spread(hash), |s| s.hash == hash && self.key(s.node) == key);
        found.map(|s| s.node)
    }

    pub fn values(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter()
    }

    /// The index of the node for `name` (at or below the apex, whose key is
    /// `origin_len` long; `key` is its [`name_key`]), created with every missing ancestor
    /// between it and the apex as an empty non-terminal. Ancestors are found by slicing
    /// the key: nothing is allocated unless a node is missing. `cased`: whether `name` is
    /// written with capitals. `parent`: the key of a node known to exist, kept by the
    /// caller from one call to the next; most names hang below the last name's parent,
    /// which is then not looked up again.
    fn entry(
        &mut self,
        origin_len: usize,
        name: &Name,
        key: &[u8],
        cased: bool,
        parent: &mut Vec<u8>,
    ) -> u32 {
        let hash = key_hash(key);
        if let Some(i) = self.find(key, hash) {
            return i;
        }
        // Labels counted from the key: `Name::num_labels` leaves out a leading `*`.
        let labels = key_labels(key);
        let mut at = 0;
        for up in 1.. {
            if key.len() - at <= origin_len {
                break;
            }
            at += usize::from(key[at]) + 1;
            let ancestor = &key[at..];
            if ancestor == &parent[..] {
                break;
            }
            let ancestor_hash = key_hash(ancestor);
            if self.find(ancestor, ancestor_hash).is_some() {
                break;
            }
            let spelled = cased.then(|| name.trim_to(labels - up));
            self.push(ancestor, ancestor_hash, spelled.filter(has_capitals));
        }
        if key.len() > origin_len {
            parent.clear();
            parent.extend_from_slice(&key[usize::from(key[0]) + 1..]);
        }
        self.push(key, hash, cased.then(|| name.clone()))
    }

    /// A new node for `key`; `spelled`: its name as written, when written with capitals.
    fn push(&mut self, key: &[u8], hash: u32, spelled: Option<Name>) -> u32 {
        let i = self.nodes.len() as u32;
        self.nodes.push(Node::new());
        self.rename(i, spelled);
        self.keys.extend_from_slice(key);
        self.key_ends.push(self.keys.len() as u32);
        let slot = Slot { node: i, hash };
        self.index
            .insert_unique(spread(hash), slot, |s| spread(s.hash));
        i
    }
}

#[derive(Debug, Clone)]
pub struct Zone {
    pub origin: Name,
    pub origin_key: Box<[u8]>,
    pub nodes: Nodes,
    /// For the `zone_serial` metric.
    pub serial: u32,
    /// RFC 2308 §5: negative answers are cached for min(SOA TTL, SOA minimum), and the
    /// SOA they carry has that TTL.
    pub negative_ttl: u32,
}

impl Zone {
    pub fn node(&self, key: &[u8]) -> Option<&Node> {
        self.nodes.get(key)
    }

    pub fn apex(&self) -> &Node {
        self.nodes
            .get(&self.origin_key)
            .expect("a zone is built with its apex")
    }

    /// Replaces node `node`'s RRsets of the types in `types` by `sets` (the apex's
    /// DNSSEC sets), kept in type order.
    pub fn replace_rrsets(&mut self, node: u32, types: &[RecordType], sets: Vec<RRset>) {
        let node = &mut self.nodes.nodes[node as usize];
        let mut rrsets = std::mem::take(&mut node.rrsets).into_vec();
        rrsets.retain(|r| !types.contains(&r.rtype));
        rrsets.extend(sets);
        rrsets.sort_by_key(|r| u16::from(r.rtype));
        node.rrsets = rrsets.into_boxed_slice();
    }

    /// Declares that `name` has an RRset of `rtype` chosen by policy group `group`.
    pub fn add_dynamic(&mut self, name: &Name, rtype: RecordType, group: u32) {
        let mut key = Vec::new();
        let cased = write_name_key(name, &mut key);
        let origin_len = self.origin_key.len();
        let i = self
            .nodes
            .entry(origin_len, name, &key, cased, &mut Vec::new());
        pushed(&mut self.nodes.nodes[i as usize].dynamic, (rtype, group));
    }

    pub fn soa(&self) -> &RRset {
        self.apex()
            .rrset(RecordType::SOA)
            .expect("a zone is built only with an apex SOA")
    }
}

/// Every zone served, by origin.
#[derive(Debug, Default)]
pub struct ZoneSet {
    /// Shared: a reload keeps each zone whose files did not change.
    pub zones: Vec<Arc<Zone>>,
    by_origin: HashMap<Box<[u8]>, usize, rustc_hash::FxBuildHasher>,
}

impl ZoneSet {
    pub fn new(zones: Vec<Arc<Zone>>) -> Self {
        let by_origin = zones
            .iter()
            .enumerate()
            .map(|(i, z)| (z.origin_key.clone(), i))
            .collect();
        ZoneSet { zones, by_origin }
    }

    /// The zone with this origin (a lowercased wire-form key), with its index.
    pub fn find(&self, key: &[u8]) -> Option<(usize, &Zone)> {
        self.by_origin.get(key).map(|&i| (i, &*self.zones[i]))
    }

    pub fn record_count(&self) -> usize {
        self.zones
            .iter()
            .flat_map(|z| z.nodes.values())
            .flat_map(|n| &n.rrsets)
            .map(|r| r.rdatas.len())
            .sum()
    }
}

/// The target of a DNAME record as stored by [`parse::parse_rdata`].
pub fn dname_target(rdata: &RData) -> Option<Name> {
    match rdata {
        RData::Unknown {
            code: RecordType::DNAME,
            rdata,
        } => wire_name(&rdata.anything).ok(),
        _ => None,
    }
}

/// The lowercased wire form of a name, e.g. `\3www\7example\3com\0`.
pub fn name_key(name: &Name) -> Box<[u8]> {
    let mut key = Vec::with_capacity(name.len() + 2);
    write_name_key(name, &mut key);
    key.into_boxed_slice()
}

/// [`name_key`] into a buffer that is reused (cleared first); true when the name is
/// written with capitals.
pub fn write_name_key(name: &Name, key: &mut Vec<u8>) -> bool {
    key.clear();
    let mut cased = false;
    for label in name.iter() {
        key.push(label.len() as u8);
        cased |= label.iter().any(u8::is_ascii_uppercase);
        key.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    key.push(0);
    cased
}

/// Whether a name is written with capitals.
fn has_capitals(name: &Name) -> bool {
    name.iter().flatten().any(u8::is_ascii_uppercase)
}

/// Whether a key is a wildcard's (its first label `*`).
pub fn is_wildcard_key(key: &[u8]) -> bool {
    key.starts_with(b"\x01*")
}

/// The name written in `wire` (wire form without compression).
pub fn wire_name(wire: &[u8]) -> Result<Name, DecodeError> {
    Name::read(&mut BinDecoder::new(wire))
}

/// The name whose [`name_key`] is `key`.
pub fn key_name(key: &[u8]) -> Name {
    wire_name(key).expect("a key is a name in wire form")
}

/// Whether the name of `key` is the name of `ancestor` or below it (both keys).
pub fn is_at_or_below(key: &[u8], ancestor: &[u8]) -> bool {
    let mut at = 0;
    while at < key.len() && key.len() - at > ancestor.len() {
        at += usize::from(key[at]) + 1;
    }
    key.get(at..) == Some(ancestor)
}

/// The number of labels of a wire-form name, the root's left out.
fn key_labels(key: &[u8]) -> usize {
    let (mut at, mut labels) = (0, 0);
    while at < key.len() && key[at] != 0 {
        at += usize::from(key[at]) + 1;
        labels += 1;
    }
    labels
}

/// Start offsets of every label of a wire-form name (the last one is the root's zero).
/// Slicing the key at each offset gives the name and then each of its ancestors.
pub fn label_offsets(key: &[u8], out: &mut Vec<usize>) {
    out.clear();
    let mut i = 0;
    while i < key.len() {
        out.push(i);
        if key[i] == 0 {
            break;
        }
        i += key[i] as usize + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn keys_are_lowercase_wire_and_slice_into_ancestors() {
        let k = name_key(&Name::from_str("WWW.Example.com.").unwrap());
        assert_eq!(&*k, b"\x03www\x07example\x03com\x00");
        let mut offs = Vec::new();
        label_offsets(&k, &mut offs);
        assert_eq!(offs, [0, 4, 12, 16]);
        assert_eq!(&k[4..], b"\x07example\x03com\x00");
        assert_eq!(&*name_key(&Name::root()), b"\x00");
    }

    #[test]
    fn nodes_keep_names_as_written_and_find_them_by_key() {
        let origin = Name::from_str("example.com.").unwrap();
        let mut nodes = Nodes::default();
        let (mut key, mut parent) = (Vec::new(), Vec::new());
        let origin_len = name_key(&origin).len();
        for name in [
            "example.com.",
            "a.Mixed.Example.com.",
            "b.lower.example.com.",
            // Below the last parent, below a missing child of it, below the apex.
            "c.lower.example.com.",
            "x.y.lower.example.com.",
            "d.example.com.",
        ] {
            let name = Name::from_ascii(name).unwrap(); // from_str lowercases
            let cased = write_name_key(&name, &mut key);
            nodes.entry(origin_len, &name, &key, cased, &mut parent);
        }
        let spelled = |k: &str| {
            let i = nodes
                .index_of(&name_key(&Name::from_str(k).unwrap()))
                .unwrap();
            let node = &nodes.nodes[i as usize];
            assert_eq!(nodes.index_of_node(node), Some(i));
            assert_eq!(nodes.key_of(node), nodes.key(i));
            nodes.name(i).to_string()
        };
        assert_eq!(spelled("a.mixed.example.com."), "a.Mixed.Example.com.");
        // Empty non-terminals made on the way, spelled as the name below them.
        assert_eq!(spelled("mixed.example.com."), "Mixed.Example.com.");
        assert_eq!(spelled("lower.example.com."), "lower.example.com.");
        assert_eq!(spelled("y.lower.example.com."), "y.lower.example.com.");
        assert_eq!(
            nodes.nodes.len(),
            9,
            "every name and empty non-terminal once"
        );
        assert_eq!(nodes.cased.len(), 2);
        assert_eq!(nodes.index_of(b"\x01c\x07example\x03com\x00"), None);
        assert_eq!(nodes.index_of_node(&Node::new()), None);
    }

    #[test]
    fn a_key_is_at_or_below_its_ancestors_only() {
        let key = |n: &str| name_key(&Name::from_str(n).unwrap());
        let www = key("www.example.com.");
        assert!(is_at_or_below(&www, &key("example.com.")));
        assert!(is_at_or_below(&www, &www));
        assert!(is_at_or_below(&www, &key(".")));
        assert!(
            !is_at_or_below(&www, &key("ample.com.")),
            "a label boundary"
        );
        assert!(!is_at_or_below(&key("example.com."), &www));
        assert!(!is_at_or_below(&www, &key("example.net.")));
    }
}
