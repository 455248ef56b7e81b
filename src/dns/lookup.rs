//! Finding the answer: RFC 1034 §4.3.2 over one snapshot, with the later refinements an
//! authoritative server owes its clients — RFC 4592 wildcards, RFC 6672 DNAME, RFC 2308
//! negative answers, RFC 6604 rcodes for chains, RFC 8482 minimal ANY.
//!
//! The result is a list of RRsets per section; turning it into bytes is `response`'s job.

use std::borrow::Cow;
use std::ops::Range;

use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, RecordType};

use super::encode::QnameRefs;
use crate::client::{Client, Facts};
use crate::draw::Draw;
use crate::policy::select::{self, Leaf, Trace};
use crate::policy::{SetData, ZonePolicies};
use crate::snapshot::Snapshot;
use crate::zone::{dname_target, is_wildcard_key, label_offsets, name_key, Node, RRset, Zone};

/// CNAME/DNAME steps followed within a zone before giving up on a chain.
const MAX_CHAIN: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError = 0,
    NxDomain = 3,
    Refused = 5,
    YxDomain = 6,
}

impl Rcode {
    pub fn name(self) -> &'static str {
        match self {
            Rcode::NoError => "NOERROR",
            Rcode::NxDomain => "NXDOMAIN",
            Rcode::Refused => "REFUSED",
            Rcode::YxDomain => "YXDOMAIN",
        }
    }
}

/// One RRset as it will be written: the owner may be the query name (case as asked)
/// or a synthesised name, so it is carried with the data.
#[derive(Debug, Clone)]
pub struct RRsetOut<'z> {
    pub owner: Name,
    pub rtype: RecordType,
    pub ttl: u32,
    pub rdatas: Cow<'z, [RData]>,
    /// The zone node whose own RRset this is (its signature, in a signed zone, is made
    /// already); None for data made for the answer (a policy's pick, a synthesis).
    pub node: Option<&'z Node>,
    /// A CNAME synthesised from a DNAME: never signed (RFC 6672 §5.3.1).
    pub synthesized: bool,
}

impl<'z> RRsetOut<'z> {
    pub fn new(owner: Name, rtype: RecordType, ttl: u32, rdatas: Cow<'z, [RData]>) -> Self {
        RRsetOut {
            owner,
            rtype,
            ttl,
            rdatas,
            node: None,
            synthesized: false,
        }
    }

    /// The zone's own RRset `set` of `node`, under `owner`.
    pub fn of(owner: Name, node: &'z Node, set: &'z RRset) -> Self {
        RRsetOut {
            node: Some(node),
            ..RRsetOut::new(owner, set.rtype, set.ttl, Cow::Borrowed(&set.rdatas))
        }
    }
}

#[derive(Debug)]
pub struct Answer<'z> {
    pub rcode: Rcode,
    /// The zone that answered (an index into the zone set), if any.
    pub zone: Option<usize>,
    /// The length of that zone's apex in wire form (0 without a zone).
    pub apex_len: usize,
    /// The policy record sets that supplied data, as (group, set) of that zone.
    pub sets: Vec<(usize, usize)>,
    /// Set when a policy that depends on the client chose part of the answer: the ECS
    /// scope to return (RFC 7871 §7.2.1). Never longer than the client's prefix.
    pub client_scope: Option<u8>,
    /// Whether the same question always gets this answer, or what else decides it.
    pub reuse: Reuse,
    pub authoritative: bool,
    /// A referral: glue in additional is required, so it sets TC when it does not fit.
    pub referral: bool,
    pub answer: Vec<RRsetOut<'z>>,
    pub authority: Vec<RRsetOut<'z>>,
    pub additional: Vec<RRsetOut<'z>>,
    /// What a signed answer must prove besides its records, step by step of a chain.
    pub proofs: Vec<Proof<'z>>,
}

/// What DNSSEC must show of an answer beyond signing its RRsets (RFC 4035 §3.1.3).
#[derive(Debug, Clone)]
pub enum Proof<'z> {
    /// The name (lowercase wire form) does not exist, nor a wildcard for it.
    NxDomain(Box<[u8]>),
    /// The name exists (this node), without the type asked (the third).
    NoData(Box<[u8]>, &'z Node, RecordType),
    /// The answer was made from this wildcard: no closer name exists (and if the
    /// wildcard lacks the type, that too).
    Wildcard(Box<[u8]>, &'z Node),
    /// A referral to the zone cut at this node: its DS, or proof that it has none.
    Referral(&'z Node),
}

impl Answer<'_> {
    fn new(rcode: Rcode) -> Self {
        Answer {
            rcode,
            zone: None,
            apex_len: 0,
            sets: Vec::new(),
            client_scope: None,
            reuse: Reuse::Always,
            authoritative: false,
            referral: false,
            answer: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
            proofs: Vec::new(),
        }
    }
}

/// What an answer depends on beyond the question, the data and the health table: whether
/// it can be encoded once and replayed (see `cache`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reuse {
    /// Nothing else: the same question gets the same answer.
    Always,
    /// One selection made per query — a draw or the client decides it — at this policy
    /// group of the answering zone. Everything else follows from the sets it chose,
    /// `Answer::sets[sets]`: one answer per outcome of [`choose`].
    PerChoice { group: usize, sets: Range<usize> },
    /// More than one per-query selection, or a DNAME synthesis (which carries the
    /// client's spelling): built afresh every time.
    Never,
}

impl Reuse {
    /// A selection at `group` was made, `sets` being what it chose.
    fn selected(&mut self, group: usize, sets: Range<usize>) {
        *self = match self {
            Reuse::Always => Reuse::PerChoice { group, sets },
            _ => Reuse::Never,
        }
    }
}

/// Where a name lands inside a zone.
enum Landing<'z> {
    /// The node owning the name, exactly or through a wildcard.
    Node(&'z Node),
    /// Below (or at) a delegation point.
    Cut(&'z Node),
    /// Below a DNAME owner.
    Dname(&'z Node),
    NxDomain,
}

/// Answers `qname`/`qtype`. `minimal_any` is set for UDP, where ANY gets one RRset
/// (RFC 8482) instead of everything. `trace` sees every policy decision.
pub fn resolve<'z, T: Trace>(
    data: &'z Snapshot,
    client: &Client,
    qname: &Name,
    qtype: RecordType,
    minimal_any: bool,
    draw: &mut Draw,
    trace: &mut T,
) -> Answer<'z> {
    let zones = &data.zones;
    let key = name_key(qname);
    let mut offsets = Vec::with_capacity(8);
    label_offsets(&key, &mut offsets);

    // The most specific zone; but DS at a zone's apex belongs to its parent, when the
    // parent is served here too (RFC 4035 §3.1.4.1).
    let mut found = offsets
        .iter()
        .filter_map(|&o| zones.find(&key[o..]).map(|z| (z, o)));
    let zone = match found.next() {
        Some((z, 0)) if qtype == RecordType::DS => found.next().map(|(p, _)| p).or(Some(z)),
        other => other.map(|(z, _)| z),
    };
    let Some((zone_index, zone)) = zone else {
        return Answer::new(Rcode::Refused);
    };

    let mut step = Step {
        data,
        zone,
        policies: &data.policies[zone_index],
        zone_index,
        client,
        qtype,
        minimal_any,
        draw,
        trace,
    };
    let mut ans = Answer::new(Rcode::NoError);
    ans.authoritative = true;
    ans.zone = Some(zone_index);
    ans.apex_len = zone.origin_key.len();
    let mut name = qname.clone();
    let mut seen: Vec<Box<[u8]>> = Vec::new();
    for n in 0..=MAX_CHAIN {
        let key = name_key(&name);
        if seen.contains(&key) {
            break; // a loop: answer with the chain so far
        }
        label_offsets(&key, &mut offsets);
        let next = step.answer(&name, &key, &offsets, n == 0, &mut ans);
        seen.push(key);
        match next {
            Some(target) if zone.origin.zone_of(&target) => name = target,
            _ => break,
        }
    }
    ans
}

/// Where a name lands when every name that lands there gets the same answer but for the
/// name itself: an NXDOMAIN in a zone, a wildcard's synthesis, a referral from below a
/// zone cut. The answer prepared for one of them serves the rest (see `cache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Landed {
    zone: u32,
    kind: LandedKind,
    /// The wildcard's or the cut's node (its address: the snapshot holds it); 0 for an
    /// NXDOMAIN.
    node: usize,
    /// In a signed zone, for DO: which records of the denial chain prove the name's
    /// absence (see `dnssec::answer::Signer::proof_of`); names that land alike and are
    /// proved alike get the same response.
    proof: [u32; 2],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LandedKind {
    NxDomain,
    Wildcard,
    BelowCut,
}

impl Landed {
    /// The index of the zone it landed in.
    pub fn zone(&self) -> usize {
        self.zone as usize
    }

    pub fn kind(&self) -> LandedKind {
        self.kind
    }

    /// The same landing, told apart by the denial records that prove it.
    pub fn with_proof(self, proof: [u32; 2]) -> Landed {
        Landed { proof, ..self }
    }

    /// Which names of its prepared response may point at the query name: a wildcard's
    /// records are owned by it; elsewhere nothing is, though zone data may equal it.
    pub fn qname_refs(&self) -> QnameRefs {
        match self.kind {
            LandedKind::Wildcard => QnameRefs::Owners,
            LandedKind::NxDomain | LandedKind::BelowCut => QnameRefs::Never,
        }
    }
}

/// Where `key` (a query name in lower-case wire form) lands, if that is a [`Landed`];
/// found without building the answer.
pub fn landed(data: &Snapshot, key: &[u8], qtype: RecordType) -> Option<Landed> {
    // DS chooses between a parent and its child's apex; ANY and chains vary too much.
    if matches!(qtype, RecordType::DS | RecordType::ANY) {
        return None;
    }
    let mut at = [0usize; 128];
    let mut n = 0;
    let mut i = 0;
    while i < key.len() && n < at.len() {
        at[n] = i;
        n += 1;
        if key[i] == 0 {
            break;
        }
        i += usize::from(key[i]) + 1;
    }
    let offsets = &at[..n];
    let (zone_index, zone) = offsets.iter().find_map(|&o| data.zones.find(&key[o..]))?;
    let (kind, node) = match land(zone, key, offsets, qtype) {
        Landing::NxDomain => (LandedKind::NxDomain, 0),
        Landing::Node(node) if is_wildcard_key(zone.nodes.key_of(node)) => {
            (LandedKind::Wildcard, node as *const Node as usize)
        }
        // The cut is the name or an ancestor: above it when its key is shorter.
        Landing::Cut(node) if zone.nodes.key_of(node).len() < key.len() => {
            (LandedKind::BelowCut, node as *const Node as usize)
        }
        _ => return None,
    };
    Some(Landed {
        zone: zone_index as u32,
        kind,
        node,
        proof: [0; 2],
    })
}

/// The per-query selection of a `Reuse::PerChoice` answer, made again for another
/// query: the sets chosen at `group` of zone `zone_index` go into `sets` (cleared
/// first); returns the ECS scope, when the client decided.
pub fn choose(
    data: &Snapshot,
    zone_index: usize,
    group: usize,
    client: &Client,
    draw: &mut Draw,
    sets: &mut Vec<(usize, usize)>,
) -> Option<u8> {
    let policies = &data.policies[zone_index];
    let facts = Facts::new(&data.locator, &policies.cidr_locations, client);
    sets.clear();
    let mut emit = |l: Leaf<'_>| sets.push((l.group, l.set));
    select::select_each(
        &policies.groups,
        &data.choices[zone_index],
        group,
        &facts,
        draw,
        &mut (),
        &mut emit,
    );
    facts.scope()
}

/// What every step of a chain answers from.
struct Step<'z, 'q, T> {
    data: &'z Snapshot,
    zone: &'z Zone,
    policies: &'z ZonePolicies,
    zone_index: usize,
    client: &'q Client,
    qtype: RecordType,
    minimal_any: bool,
    draw: &'q mut Draw,
    trace: &'q mut T,
}

impl<'z, T: Trace> Step<'z, '_, T> {
    /// One step of a chain; returns the next name when the answer is an alias to follow.
    fn answer(
        &mut self,
        name: &Name,
        key: &[u8],
        offsets: &[usize],
        first: bool,
        ans: &mut Answer<'z>,
    ) -> Option<Name> {
        let (zone, qtype) = (self.zone, self.qtype);
        ans.rcode = Rcode::NoError;
        match land(zone, key, offsets, qtype) {
            Landing::Cut(cut) => {
                if first {
                    ans.authoritative = false;
                    ans.referral = true;
                }
                let ns = cut.rrset(RecordType::NS).expect("a cut has NS");
                ans.authority
                    .push(RRsetOut::of(zone.nodes.name_of(cut), cut, ns));
                ans.proofs.push(Proof::Referral(cut));
                add_addresses(zone, &ns.rdatas, true, ans);
                None
            }
            Landing::Dname(node) => {
                let dname = node.rrset(RecordType::DNAME).expect("DNAME node");
                let target = dname_target(&dname.rdatas[0])?;
                // RFC 2181 §5: each RRset once, however often a chain passes it.
                let owner = zone.nodes.name_of(node);
                let listed = ans
                    .answer
                    .iter()
                    .any(|s| s.rtype == RecordType::DNAME && s.owner == owner);
                let owner_labels = owner.iter().count();
                if !listed {
                    ans.answer.push(RRsetOut::of(owner, node, dname));
                }
                // Replace the DNAME owner's labels at the end of the name by the target.
                // Counted by iterating: `Name::num_labels` leaves out a leading `*`.
                let keep = name.iter().count() - owner_labels;
                let prefix = Name::from_labels(name.iter().take(keep)).ok()?;
                match prefix.append_domain(&target) {
                    Ok(synth) => {
                        // The synthesised CNAME carries the labels as asked: not reusable
                        // for another spelling of the name.
                        ans.reuse = Reuse::Never;
                        ans.answer.push(RRsetOut {
                            synthesized: true,
                            ..RRsetOut::new(
                                name.clone(),
                                RecordType::CNAME,
                                dname.ttl,
                                Cow::Owned(vec![RData::CNAME(CNAME(synth.clone()))]),
                            )
                        });
                        // RFC 6672 §3.2: a query for the CNAME itself is answered by it.
                        (qtype != RecordType::CNAME).then_some(synth)
                    }
                    Err(_) => {
                        // RFC 6672 §2.2: the substituted name is too long.
                        ans.rcode = Rcode::YxDomain;
                        None
                    }
                }
            }
            Landing::NxDomain => {
                ans.rcode = Rcode::NxDomain;
                add_soa(self.data, self.zone_index, ans);
                ans.proofs.push(Proof::NxDomain(key.into()));
                None
            }
            Landing::Node(node) => {
                // Made from a wildcard (asked for the wildcard itself, it is just a name).
                let node_key = zone.nodes.key_of(node);
                if is_wildcard_key(node_key) && node_key != key {
                    ans.proofs.push(Proof::Wildcard(key.into(), node));
                }
                if qtype == RecordType::ANY {
                    let sets = if self.minimal_any {
                        &node.rrsets[..node.rrsets.len().min(1)]
                    } else {
                        &node.rrsets[..]
                    };
                    ans.answer.extend(
                        sets.iter()
                            .map(|s| RRsetOut::of(name.clone(), node, self.served(s))),
                    );
                    if sets.is_empty() {
                        add_soa(self.data, self.zone_index, ans);
                        ans.proofs.push(Proof::NoData(key.into(), node, qtype));
                    }
                    return None;
                }
                if let Some(set) = self.rrset(node, qtype, name, ans) {
                    if matches!(qtype, RecordType::NS | RecordType::MX | RecordType::SRV) {
                        add_addresses(zone, &set.rdatas, false, ans);
                    }
                    ans.answer.push(set);
                    return None;
                }
                if let Some(cname) = self.rrset(node, RecordType::CNAME, name, ans) {
                    let next = match cname.rdatas.first() {
                        Some(RData::CNAME(target)) => Some(target.0.clone()),
                        _ => None,
                    };
                    ans.answer.push(cname);
                    return next;
                }
                add_soa(self.data, self.zone_index, ans);
                ans.proofs.push(Proof::NoData(key.into(), node, qtype));
                None
            }
        }
    }

    /// A zone-file RRset as served: the SOA is the snapshot's, its serial perhaps moved
    /// on from the file's (only the apex has one).
    fn served(&self, set: &'z RRset) -> &'z RRset {
        match set.rtype {
            RecordType::SOA => self.data.soa(self.zone_index),
            _ => set,
        }
    }

    /// The node's RRset of `rtype`: from the zone file, or chosen by its policy group.
    fn rrset(
        &mut self,
        node: &'z Node,
        rtype: RecordType,
        owner: &Name,
        ans: &mut Answer<'z>,
    ) -> Option<RRsetOut<'z>> {
        if let Some(set) = node.rrset(rtype) {
            return Some(RRsetOut::of(owner.clone(), node, self.served(set)));
        }
        let group = node.dynamic(rtype)? as usize;
        let facts = Facts::new(
            &self.data.locator,
            &self.policies.cidr_locations,
            self.client,
        );
        let choices = &self.data.choices[self.zone_index];
        let groups = &self.policies.groups;
        let leaves = select::select(groups, choices, group, &facts, self.draw, self.trace);
        let start = ans.sets.len();
        ans.sets.extend(leaves.iter().map(|l| (l.group, l.set)));
        if choices.varies(group) {
            ans.reuse.selected(group, start..ans.sets.len());
        }
        if let Some(scope) = facts.scope() {
            ans.client_scope = Some(ans.client_scope.map_or(scope, |s| s.max(scope)));
        }
        leaves_to_rrset(self.zone, &leaves, rtype, owner)
    }
}

/// Merges the chosen leaves into one RRset (several only for multivalue, whose TTL
/// is then the lowest). An alias answers with its target's TTL.
pub(crate) fn leaves_to_rrset<'z>(
    zone: &'z Zone,
    leaves: &[Leaf<'z>],
    rtype: RecordType,
    owner: &Name,
) -> Option<RRsetOut<'z>> {
    let mut parts = leaves.iter().filter_map(|leaf| match leaf.data {
        SetData::Values { ttl, rdatas } => Some((*ttl, &rdatas[..])),
        SetData::Alias { target, .. } => zone
            .node(&name_key(target))
            .and_then(|n| n.rrset(rtype))
            .map(|set| (set.ttl, &set.rdatas[..])),
    });
    let (ttl, first) = parts.next()?;
    let mut out = RRsetOut::new(owner.clone(), rtype, ttl, Cow::Borrowed(first));
    for (ttl, rdatas) in parts {
        out.ttl = out.ttl.min(ttl);
        let merged = out.rdatas.to_mut();
        merged.extend(rdatas.iter().filter(|r| !first.contains(r)).cloned());
    }
    Some(out)
}

/// Walks from the apex down towards the name, stopping at the first zone cut or DNAME
/// on the way, then falls back to the closest encloser's wildcard.
fn land<'z>(zone: &'z Zone, key: &[u8], offsets: &[usize], qtype: RecordType) -> Landing<'z> {
    let origin_len = zone.origin_key.len();
    // Index of the origin among the name's label offsets.
    let Some(origin_idx) = offsets.iter().position(|&o| key.len() - o == origin_len) else {
        return Landing::NxDomain;
    };
    let mut encloser = zone.apex();
    for idx in (0..=origin_idx).rev() {
        let node = if idx == origin_idx {
            encloser
        } else {
            match zone.node(&key[offsets[idx]..]) {
                Some(n) => n,
                None => return wildcard(zone, &key[offsets[idx + 1]..]),
            }
        };
        if idx != origin_idx && node.rrset(RecordType::NS).is_some() {
            // DS at the cut is the parent's data (RFC 4034 §5); all else is the child's.
            if !(idx == 0 && qtype == RecordType::DS) {
                return Landing::Cut(node);
            }
        }
        if idx == 0 {
            return Landing::Node(node);
        }
        if node.rrset(RecordType::DNAME).is_some() {
            return Landing::Dname(node);
        }
        encloser = node;
    }
    Landing::NxDomain
}

/// RFC 4592 §3.3.1: the name does not exist; the source of synthesis is `*` directly
/// below the closest encloser (`encloser`, its key), if that exists.
fn wildcard<'z>(zone: &'z Zone, encloser: &[u8]) -> Landing<'z> {
    let mut wkey = [0u8; 2 + 255];
    let len = 2 + encloser.len();
    if len > wkey.len() {
        return Landing::NxDomain;
    }
    wkey[..2].copy_from_slice(b"\x01*");
    wkey[2..len].copy_from_slice(encloser);
    match zone.node(&wkey[..len]) {
        Some(w) => Landing::Node(w),
        None => Landing::NxDomain,
    }
}

fn add_soa<'z>(data: &'z Snapshot, zone_index: usize, ans: &mut Answer<'z>) {
    let zone = &data.zones.zones[zone_index];
    let soa = data.soa(zone_index);
    ans.authority.push(RRsetOut {
        node: Some(zone.apex()),
        ..RRsetOut::new(
            zone.nodes.name_of(zone.apex()),
            RecordType::SOA,
            zone.negative_ttl,
            Cow::Borrowed(&soa.rdatas),
        )
    });
}

/// Additional-section A/AAAA for the in-zone targets of NS, MX and SRV records.
/// `glue` takes addresses from below zone cuts too, as a referral needs.
fn add_addresses<'z>(zone: &'z Zone, rdatas: &[RData], glue: bool, ans: &mut Answer<'z>) {
    for rdata in rdatas {
        let target = match rdata {
            RData::NS(ns) => &ns.0,
            RData::MX(mx) => &mx.exchange,
            RData::SRV(srv) => &srv.target,
            _ => continue,
        };
        if !zone.origin.zone_of(target) {
            continue;
        }
        let key = name_key(target);
        let node = if glue {
            zone.node(&key)
        } else {
            let mut offsets = Vec::new();
            label_offsets(&key, &mut offsets);
            match land(zone, &key, &offsets, RecordType::A) {
                Landing::Node(n) if zone.nodes.key_of(n) == &key[..] => Some(n),
                _ => None,
            }
        };
        let Some(node) = node else { continue };
        for rtype in [RecordType::A, RecordType::AAAA] {
            let Some(addrs) = node.rrset(rtype) else {
                continue;
            };
            let owner = zone.nodes.name_of(node);
            let dup = ans
                .additional
                .iter()
                .chain(&ans.answer)
                .any(|s| s.rtype == rtype && s.owner.eq_ignore_root(&owner));
            if !dup {
                ans.additional.push(RRsetOut::of(owner, node, addrs));
            }
        }
    }
}
