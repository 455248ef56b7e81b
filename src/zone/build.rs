//! Assembles one zone from its source records and checks it the way a careful
//! authoritative server must: one SOA at the apex, NS at the apex, no data outside the
//! zone, CNAME alone at its name, no NS or DNAME at a wildcard.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use hickory_proto::rr::{Name, RData, RecordType};

use super::parse::{RecordSink, SourceRecord};
use super::{
    is_at_or_below, name_key, pushed, write_name_key, Nodes, PlainIndex, RRset, Rdatas, Zone,
};
use crate::diag::{Diagnostic, Diagnostics};
use crate::memory;

/// Where an RRset was first written: for error messages that name both sides, and for
/// the policy file's references to plain records.
#[derive(Debug, Clone, Copy)]
struct Written {
    node: u32,
    rtype: RecordType,
    file: u32,
    line: u32,
}

/// Records between two looks at the memory left (a few µs each).
const CHECK_MEMORY_EVERY: usize = 1 << 16;

/// Builds one zone from its records as the reader produces them, in place: no list of
/// every record is ever held, so reading a zone costs little more than serving it.
pub struct ZoneBuilder {
    /// Records taken so far.
    records: usize,
    origin: Name,
    origin_key: Box<[u8]>,
    nodes: Nodes,
    /// One per RRset, in the order they were first written (sorted by node at `finish`).
    written: Vec<Written>,
    files: Vec<Arc<Path>>,
    /// The first record that had no TTL from anywhere.
    untimed: Option<(Arc<Path>, usize)>,
    errors: usize,
    key: Vec<u8>,
    /// The key of the last record's parent (see [`Nodes::entry`]).
    parent: Vec<u8>,
    /// The records of an RRset after its first, by node and type, until `finish` joins
    /// them to it (an RRset's records are an exact slice).
    more: HashMap<(u32, RecordType), Vec<RData>>,
}

impl ZoneBuilder {
    pub fn new(origin: &Name) -> Self {
        ZoneBuilder {
            records: 0,
            origin: origin.clone(),
            origin_key: name_key(origin),
            nodes: Nodes::default(),
            written: Vec::new(),
            files: Vec::new(),
            untimed: None,
            errors: 0,
            key: Vec::new(),
            parent: Vec::new(),
            more: HashMap::new(),
        }
    }

    fn error(&mut self, diags: &mut Diagnostics, file: &Path, line: usize, m: String) {
        self.errors += 1;
        diags.push(Diagnostic::error(file, line, m));
    }

    fn file_index(&mut self, file: &Arc<Path>) -> u32 {
        if !self.files.last().is_some_and(|f| Arc::ptr_eq(f, file)) {
            match self.files.iter().position(|f| Arc::ptr_eq(f, file)) {
                Some(i) => return i as u32,
                None => self.files.push(file.clone()),
            }
        }
        (self.files.len() - 1) as u32
    }

    /// Where the `rtype` RRset of node `node` was first written (`written` sorted).
    fn at(&self, node: u32, rtype: RecordType) -> (&Path, usize) {
        let i = self
            .written
            .binary_search_by_key(&(node, u16::from(rtype)), |w| (w.node, u16::from(w.rtype)))
            .unwrap_or(0);
        let w = &self.written[i];
        (&self.files[w.file as usize], w.line as usize)
    }

    /// For each of `keys` (name keys) that owns plain records: where each of its types
    /// was first written.
    pub fn plain_index(&self, keys: Vec<Box<[u8]>>) -> PlainIndex {
        let wanted: HashMap<u32, Box<[u8]>> = keys
            .into_iter()
            .filter_map(|k| Some((self.nodes.index_of(&k)?, k)))
            .collect();
        let mut index = PlainIndex::new();
        if wanted.is_empty() {
            return index;
        }
        for w in &self.written {
            if let Some(k) = wanted.get(&w.node) {
                index.entry(k.clone()).or_default().push((
                    w.rtype,
                    self.files[w.file as usize].clone(),
                    w.line as usize,
                ));
            }
        }
        index
    }

    /// The zone, checked whole, or None after pushing at least one error to `diags`.
    pub fn finish(mut self, file: &Path, diags: &mut Diagnostics) -> Option<Zone> {
        for ((i, rtype), more) in std::mem::take(&mut self.more) {
            let node = &mut self.nodes.nodes[i as usize];
            if let Some(set) = node.rrsets.iter_mut().find(|r| r.rtype == rtype) {
                set.rdatas.extend(more);
            }
        }
        // The apex: one SOA and an NS set.
        let apex = self.nodes.get(&self.origin_key);
        let soa = apex.and_then(|a| a.rrset(RecordType::SOA));
        let soa_minimum = soa.and_then(|set| match &set.rdatas[0] {
            RData::SOA(soa) => Some(soa.minimum),
            _ => None,
        });
        let (has_soa, apex_has_ns) = (
            soa.is_some(),
            apex.is_some_and(|a| a.rrset(RecordType::NS).is_some()),
        );
        if !has_soa {
            let m = format!("missing SOA record at the zone apex {}", self.origin);
            self.error(diags, file, 1, m);
        }
        if !apex_has_ns {
            let m = format!("no NS records at the zone apex {}", self.origin);
            self.error(diags, file, 1, m);
        }
        // Records without any TTL fall back to the SOA minimum, as BIND does.
        if let (Some(min), Some((f, l))) = (soa_minimum, &self.untimed) {
            diags.push(Diagnostic::warning(
                f,
                *l,
                format!("no TTL given (no $TTL and no earlier TTL); using the SOA minimum {min}"),
            ));
        }
        // Written in node order but for a few: a stable sort takes the runs as they are.
        self.written.sort_by_key(|w| (w.node, u16::from(w.rtype)));
        for node in &mut self.nodes.nodes {
            for set in &mut node.rrsets {
                if set.ttl == u32::MAX {
                    set.ttl = soa_minimum.unwrap_or(0);
                }
            }
            node.rrsets.sort_by_key(|r| u16::from(r.rtype));
        }
        self.nodes.nodes.shrink_to_fit();
        for i in 0..self.nodes.nodes.len() {
            self.check_exclusive_types(i as u32, diags);
        }
        self.check_below_dnames(diags);
        if self.errors > 0 {
            return None;
        }
        let apex = self.nodes.get(&self.origin_key)?;
        let soa_set = apex.rrset(RecordType::SOA)?;
        let RData::SOA(soa) = &soa_set.rdatas[0] else {
            return None;
        };
        Some(Zone {
            origin: self.origin,
            origin_key: self.origin_key,
            serial: soa.serial,
            negative_ttl: soa_set.ttl.min(soa.minimum),
            nodes: self.nodes,
        })
    }
}

impl RecordSink for ZoneBuilder {
    fn record(&mut self, rec: SourceRecord, diags: &mut Diagnostics) -> ControlFlow<()> {
        self.records += 1;
        if self.records % CHECK_MEMORY_EVERY == 0 {
            if let Err(m) = memory::fits(self.next_growth()) {
                let m = format!("{m}; the zones in service keep serving");
                self.error(diags, &rec.file, rec.line, m);
                return ControlFlow::Break(());
            }
        }
        self.add(rec, diags);
        ControlFlow::Continue(())
    }
}

impl ZoneBuilder {
    /// What the next stretch of records may take at once: the doubling of any table,
    /// and the records themselves.
    fn next_growth(&self) -> u64 {
        let written = self.written.capacity() * std::mem::size_of::<Written>();
        (self.nodes.growth_bytes() + written + CHECK_MEMORY_EVERY * 1024) as u64
    }

    fn add(&mut self, rec: SourceRecord, diags: &mut Diagnostics) {
        let cased = write_name_key(&rec.name, &mut self.key);
        let origin = &self.origin;
        if !is_at_or_below(&self.key, &self.origin_key) {
            let m = format!("out-of-zone data: {} is not in zone {origin}", rec.name);
            return self.error(diags, &rec.file, rec.line, m);
        }
        let rtype = rec.rdata.record_type();
        if rtype == RecordType::SOA && rec.name != *origin {
            let m = format!(
                "SOA record at {} is not at the zone apex {origin}",
                rec.name
            );
            return self.error(diags, &rec.file, rec.line, m);
        }
        if rec.name.is_wildcard() && matches!(rtype, RecordType::NS | RecordType::DNAME) {
            let m = format!(
                "{rtype} record at the wildcard name {} (RFC 4592 §4)",
                rec.name
            );
            return self.error(diags, &rec.file, rec.line, m);
        }
        let ttl = rec.ttl.unwrap_or(u32::MAX);
        if rec.ttl.is_none() && self.untimed.is_none() {
            self.untimed = Some((rec.file.clone(), rec.line));
        }
        let i = self.nodes.entry(
            self.origin_key.len(),
            &rec.name,
            &self.key,
            cased,
            &mut self.parent,
        );
        let node = &mut self.nodes.nodes[i as usize];
        match node.rrsets.iter_mut().find(|r| r.rtype == rtype) {
            Some(set) => {
                if rtype == RecordType::SOA {
                    let first = self
                        .written
                        .iter()
                        .rfind(|w| w.node == i && w.rtype == rtype)
                        .map(|w| (self.files[w.file as usize].clone(), w.line));
                    let (f, l) = first.unwrap_or((rec.file.clone(), 0));
                    let m = format!("a second SOA record (the first is at {}:{l})", f.display());
                    return self.error(diags, &rec.file, rec.line, m);
                }
                if ttl != set.ttl && rec.ttl.is_some() && set.ttl != u32::MAX {
                    // RFC 2181 §5.2: one TTL per RRset; serve the lowest so no cache
                    // holds any record longer than the operator allowed.
                    diags.push(Diagnostic::warning(
                        &rec.file,
                        rec.line,
                        format!(
                            "TTL {ttl} differs from {} for the {rtype} records of {}; using the lower",
                            set.ttl, rec.name
                        ),
                    ));
                }
                set.ttl = set.ttl.min(ttl);
                let more = self.more.entry((i, rtype)).or_default();
                if !set.rdatas.contains(&rec.rdata) && !more.contains(&rec.rdata) {
                    more.push(rec.rdata);
                }
            }
            None => {
                if node.rrsets.is_empty() {
                    // Spelled as its own records write it, not as a child's ancestor.
                    self.nodes.rename(i, cased.then_some(rec.name));
                }
                let node = &mut self.nodes.nodes[i as usize];
                let set = RRset {
                    rtype,
                    ttl,
                    rdatas: Rdatas::One(rec.rdata),
                };
                pushed(&mut node.rrsets, set);
                let file = self.file_index(&rec.file);
                self.written.push(Written {
                    node: i,
                    rtype,
                    file,
                    line: rec.line as u32,
                });
            }
        }
    }
}

impl ZoneBuilder {
    /// RFC 6672 §2.4: no data below a DNAME, where no query could ever reach it.
    fn check_below_dnames(&mut self, diags: &mut Diagnostics) {
        let nodes = &self.nodes;
        let dnames: Vec<(&[u8], u32)> = nodes
            .keyed()
            .filter(|(_, _, n)| n.rrset(RecordType::DNAME).is_some())
            .map(|(k, i, _)| (k, i))
            .collect();
        if dnames.is_empty() {
            return;
        }
        let mut offsets = Vec::new();
        let mut found = Vec::new();
        for (key, i, _) in nodes.keyed() {
            super::label_offsets(key, &mut offsets);
            let below = offsets[1..]
                .iter()
                .find_map(|&o| dnames.iter().find(|(k, _)| *k == &key[o..]));
            if let (Some(&(_, owner)), Some(set)) = (below, nodes.nodes[i as usize].rrsets.first())
            {
                found.push((i, set.rtype, owner));
            }
        }
        for (i, rtype, owner) in found {
            let (file, line) = self.at(i, rtype);
            let m = format!(
                "{} {rtype} is below the DNAME at {}, where no query can reach it (RFC 6672 §2.4)",
                self.nodes.name(i),
                self.nodes.name(owner)
            );
            let file = file.to_path_buf();
            self.error(diags, &file, line, m);
        }
    }

    /// RFC 1034 §3.6.2 and RFC 6672 §2.4: a CNAME owns its name alone and holds one
    /// target; a name holds at most one DNAME.
    fn check_exclusive_types(&mut self, i: u32, diags: &mut Diagnostics) {
        let mut found = Vec::new();
        let d = &self.nodes.nodes[i as usize];
        for set in &d.rrsets {
            let single = matches!(set.rtype, RecordType::CNAME | RecordType::DNAME);
            if single && set.rdatas.len() > 1 {
                let (file, line) = self.at(i, set.rtype);
                found.push((
                    file.to_path_buf(),
                    line,
                    format!(
                        "{} has {} {} records; only one is allowed",
                        self.nodes.name(i),
                        set.rdatas.len(),
                        set.rtype
                    ),
                ));
            }
        }
        if d.rrset(RecordType::CNAME).is_some() {
            let (cname_file, cname_line) = self.at(i, RecordType::CNAME);
            for other in d.rrsets.iter().filter(|r| r.rtype != RecordType::CNAME) {
                let (file, line) = self.at(i, other.rtype);
                // Report at whichever of the two comes later in the file: that is the
                // one added by mistake, more often than not.
                let report = if file == cname_file && line < cname_line {
                    (cname_file, cname_line)
                } else {
                    (file, line)
                };
                found.push((
                    report.0.to_path_buf(),
                    report.1,
                    format!(
                        "CNAME beside other data at {}: CNAME at {}:{} and {} at {}:{}",
                        self.nodes.name(i),
                        cname_file.display(),
                        cname_line,
                        other.rtype,
                        file.display(),
                        line,
                    ),
                ));
            }
        }
        for (file, line, m) in found {
            self.error(diags, &file, line, m);
        }
    }
}
