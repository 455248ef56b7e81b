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

pub use load::{load_zones, Kept, PlainIndex, ZoneFiles, ZoneSource};

/// All the records of one name and type.
#[derive(Debug, Clone)]
pub struct RRset {
    pub rtype: RecordType,
    pub ttl: u32,
    pub rdatas: Vec<RData>,
}

/// The data at one name. A node that owns nothing is an empty non-terminal: it exists
/// (its descendants do) but answers NODATA.
#[derive(Debug, Clone)]
pub struct Node {
    /// As written in the zone file (case kept).
    pub name: Name,
    /// Sorted by type code.
    pub rrsets: Vec<RRset>,
    /// RRsets chosen per query by a routing policy: the type, and the policy group's
    /// index in the zone's policies. The zone only knows that they exist.
    pub dynamic: Vec<(RecordType, u32)>,
}

impl Node {
    fn new(name: Name) -> Self {
        Node {
            name,
            rrsets: Vec::new(),
            dynamic: Vec::new(),
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
    index: hashbrown::HashTable<u32>,
    /// Every node's key, in node order, end to end.
    keys: Vec<u8>,
    /// Where each node's key ends in `keys`.
    key_ends: Vec<u32>,
    nodes: Vec<Node>,
}

fn key_hash(key: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(key)
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
            + 2 * self.index.capacity() * (4 + 1)
    }

    pub fn get(&self, key: &[u8]) -> Option<&Node> {
        self.index_of(key).map(|i| &self.nodes[i as usize])
    }

    fn key(&self, i: u32) -> &[u8] {
        key_at(&self.keys, &self.key_ends, i)
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
        self.index
            .find(key_hash(key), |&i| self.key(i) == key)
            .copied()
    }

    pub fn values(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter()
    }

    /// The index of the node for `name` (which must be in the zone of `origin`; `key`
    /// is its [`name_key`]), created with every missing ancestor between it and the apex
    /// as an empty non-terminal. Ancestors are found by slicing the key: nothing is
    /// allocated unless a node is missing.
    fn entry(&mut self, origin: &Name, name: &Name, key: &[u8]) -> u32 {
        if let Some(i) = self.index_of(key) {
            return i;
        }
        let mut offsets = Vec::with_capacity(8);
        label_offsets(key, &mut offsets);
        // Labels counted from the key: `Name::num_labels` leaves out a leading `*`.
        let labels = offsets.len() - 1;
        let depth = labels.saturating_sub(usize::from(origin.num_labels()));
        for up in 1..=depth {
            let ancestor = &key[offsets[up]..];
            if self.index_of(ancestor).is_some() {
                break;
            }
            let ancestor_name = name.trim_to(labels - up);
            self.push(ancestor, ancestor_name);
        }
        self.push(key, name.clone())
    }

    fn push(&mut self, key: &[u8], name: Name) -> u32 {
        let i = self.nodes.len() as u32;
        self.nodes.push(Node::new(name));
        self.keys.extend_from_slice(key);
        self.key_ends.push(self.keys.len() as u32);
        let (keys, ends) = (&self.keys, &self.key_ends);
        self.index
            .insert_unique(key_hash(key), i, |&j| key_hash(key_at(keys, ends, j)));
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
        node.rrsets.retain(|r| !types.contains(&r.rtype));
        node.rrsets.extend(sets);
        node.rrsets.sort_by_key(|r| u16::from(r.rtype));
    }

    /// Declares that `name` has an RRset of `rtype` chosen by policy group `group`.
    pub fn add_dynamic(&mut self, name: &Name, rtype: RecordType, group: u32) {
        let i = self.nodes.entry(&self.origin, name, &name_key(name));
        self.nodes.nodes[i as usize].dynamic.push((rtype, group));
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
        } => {
            let mut d = hickory_proto::serialize::binary::BinDecoder::new(&rdata.anything);
            <Name as hickory_proto::serialize::binary::BinDecodable>::read(&mut d).ok()
        }
        _ => None,
    }
}

/// The lowercased wire form of a name, e.g. `\3www\7example\3com\0`.
pub fn name_key(name: &Name) -> Box<[u8]> {
    let mut key = Vec::with_capacity(name.len() + 2);
    write_name_key(name, &mut key);
    key.into_boxed_slice()
}

/// [`name_key`] into a buffer that is reused (cleared first).
pub fn write_name_key(name: &Name, key: &mut Vec<u8>) {
    key.clear();
    for label in name.iter() {
        key.push(label.len() as u8);
        key.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    key.push(0);
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
}
