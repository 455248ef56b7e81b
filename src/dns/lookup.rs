//! Finding the answer: RFC 1034 §4.3.2 over one snapshot, with the later refinements an
//! authoritative server owes its clients — RFC 4592 wildcards, RFC 6672 DNAME, RFC 2308
//! negative answers, RFC 6604 rcodes for chains, RFC 8482 minimal ANY.
//!
//! The result is a list of RRsets per section; turning it into bytes is `response`'s job.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::net::IpAddr;
use std::ops::Range;

use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, RecordType};

use crate::config::Coordinates;
use crate::geo::{Location, Measured};
use crate::load::Dataset;
use crate::policy::select::{self, Draw, Leaf, Trace};
use crate::policy::{GeoKey, SetData, ZonePolicies};
use crate::zone::parse::dname_target;
use crate::zone::{label_offsets, name_key, Node, RRset, Zone};

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
}

impl<'z> RRsetOut<'z> {
    fn borrowed(owner: Name, set: &'z RRset) -> Self {
        RRsetOut {
            owner,
            rtype: set.rtype,
            ttl: set.ttl,
            rdatas: Cow::Borrowed(&set.rdatas),
        }
    }
}

/// Who is asking, for policies that depend on it: the EDNS Client Subnet when the query
/// has one, else the source address (with a full-length prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub addr: IpAddr,
    pub prefix: u8,
}

#[derive(Debug)]
pub struct Answer<'z> {
    pub rcode: Rcode,
    /// The zone that answered (an index into the zone set), if any.
    pub zone: Option<usize>,
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
}

impl Answer<'_> {
    fn new(rcode: Rcode) -> Self {
        Answer {
            rcode,
            zone: None,
            sets: Vec::new(),
            client_scope: None,
            reuse: Reuse::Always,
            authoritative: false,
            referral: false,
            answer: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }
}

/// What an answer depends on beyond the question, the data and the health table: whether
/// it can be encoded once and replayed (see `prepared`).
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
    data: &'z Dataset,
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

/// The per-query selection of a `Reuse::PerChoice` answer, made again for another
/// query: the sets chosen at `group` of zone `zone_index` go into `sets` (cleared
/// first); returns the ECS scope, when the client decided.
pub fn choose(
    data: &Dataset,
    zone_index: usize,
    group: usize,
    client: &Client,
    draw: &mut Draw,
    sets: &mut Vec<(usize, usize)>,
) -> Option<u8> {
    let policies = &data.policies[zone_index];
    let cx = PolicyContext::new(data, policies, client);
    let prepared = &data.prepared[zone_index];
    sets.clear();
    let mut emit = |l: Leaf<'_>| sets.push((l.group, l.set));
    select::select_each(
        &policies.groups,
        prepared,
        group,
        &cx,
        draw,
        &mut (),
        &mut emit,
    );
    cx.scope.get()
}

/// What every step of a chain answers from.
struct Step<'z, 'q, T> {
    data: &'z Dataset,
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
                ans.authority.push(RRsetOut::borrowed(cut.name.clone(), ns));
                add_addresses(zone, &ns.rdatas, true, ans);
                None
            }
            Landing::Dname(node) => {
                let dname = node.rrset(RecordType::DNAME).expect("DNAME node");
                let target = dname_target(&dname.rdatas[0])?;
                ans.answer
                    .push(RRsetOut::borrowed(node.name.clone(), dname));
                // Replace the DNAME owner's labels at the end of the name by the target.
                // Counted by iterating: `Name::num_labels` leaves out a leading `*`.
                let keep = name.iter().count() - node.name.iter().count();
                let prefix = Name::from_labels(name.iter().take(keep)).ok()?;
                match prefix.append_domain(&target) {
                    Ok(synth) => {
                        // The synthesised CNAME carries the labels as asked: not reusable
                        // for another spelling of the name.
                        ans.reuse = Reuse::Never;
                        ans.answer.push(RRsetOut {
                            owner: name.clone(),
                            rtype: RecordType::CNAME,
                            ttl: dname.ttl,
                            rdatas: Cow::Owned(vec![RData::CNAME(CNAME(synth.clone()))]),
                        });
                        Some(synth)
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
                add_soa(zone, ans);
                None
            }
            Landing::Node(node) => {
                if qtype == RecordType::ANY {
                    let sets = if self.minimal_any {
                        &node.rrsets[..node.rrsets.len().min(1)]
                    } else {
                        &node.rrsets[..]
                    };
                    ans.answer
                        .extend(sets.iter().map(|s| RRsetOut::borrowed(name.clone(), s)));
                    if sets.is_empty() {
                        add_soa(zone, ans);
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
                add_soa(zone, ans);
                None
            }
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
            return Some(RRsetOut::borrowed(owner.clone(), set));
        }
        let group = node.dynamic(rtype)? as usize;
        let cx = PolicyContext::new(self.data, self.policies, self.client);
        let prepared = &self.data.prepared[self.zone_index];
        let groups = &self.policies.groups;
        let leaves = select::select(groups, prepared, group, &cx, self.draw, self.trace);
        let start = ans.sets.len();
        ans.sets.extend(leaves.iter().map(|l| (l.group, l.set)));
        if prepared.varies(group) {
            ans.reuse.selected(group, start..ans.sets.len());
        }
        if let Some(scope) = cx.scope.get() {
            ans.client_scope = Some(ans.client_scope.map_or(scope, |s| s.max(scope)));
        }
        self.leaves_to_rrset(&leaves, rtype, owner)
    }

    /// Merges the chosen leaves into one RRset (several only for multivalue, whose TTL
    /// is then the lowest). An alias answers with its target's TTL.
    fn leaves_to_rrset(
        &self,
        leaves: &[Leaf<'z>],
        rtype: RecordType,
        owner: &Name,
    ) -> Option<RRsetOut<'z>> {
        let mut parts = leaves.iter().filter_map(|leaf| match leaf.data {
            SetData::Values { ttl, rdatas } => Some((*ttl, &rdatas[..])),
            SetData::Alias { target, .. } => self
                .zone
                .node(&name_key(target))
                .and_then(|n| n.rrset(rtype))
                .map(|set| (set.ttl, &set.rdatas[..])),
        });
        let (ttl, first) = parts.next()?;
        let mut out = RRsetOut {
            owner: owner.clone(),
            rtype,
            ttl,
            rdatas: Cow::Borrowed(first),
        };
        for (ttl, rdatas) in parts {
            out.ttl = out.ttl.min(ttl);
            let merged = out.rdatas.to_mut();
            merged.extend(rdatas.iter().filter(|r| !first.contains(r)).cloned());
        }
        Some(out)
    }
}

/// The selection engine's view of one query: this zone's policies and health, and the
/// client. Records the ECS scope: the longest prefix of any network that decided.
struct PolicyContext<'z, 'q> {
    data: &'z Dataset,
    policies: &'z ZonePolicies,
    client: &'q Client,
    /// The GeoIP location, looked up once, when first needed.
    location: OnceCell<Option<Location<'z>>>,
    /// The latency table's rows for the client's longest covering prefix.
    measured: OnceCell<Option<Measured<'z>>>,
    scope: Cell<Option<u8>>,
}

impl<'z, 'q> PolicyContext<'z, 'q> {
    fn new(data: &'z Dataset, policies: &'z ZonePolicies, client: &'q Client) -> Self {
        PolicyContext {
            data,
            policies,
            client,
            location: OnceCell::new(),
            measured: OnceCell::new(),
            scope: Cell::new(None),
        }
    }

    /// The answer depends on the client's network of this length.
    fn decided_by(&self, prefix: u8) {
        let p = prefix.min(self.client.prefix);
        self.scope
            .set(Some(self.scope.get().map_or(p, |s| s.max(p))));
    }

    fn location(&self) -> Option<&Location<'z>> {
        let loc = self
            .location
            .get_or_init(|| self.data.geo.as_ref()?.locate(self.client.addr))
            .as_ref();
        if self.data.geo.is_some() {
            // Known or not, the database's network for the address decided.
            self.decided_by(loc.map_or(self.client.prefix, |l| l.prefix));
        }
        loc
    }
}

impl select::Context for PolicyContext<'_, '_> {
    /// Measured RTT when the latency table covers the client; else the distance from
    /// the client's GeoIP position; else the order of [[region]] in hadns.toml.
    fn latency(&self, region: &str) -> f64 {
        let regions = &self.data.regions;
        let measured = self.measured.get_or_init(|| {
            self.data
                .latency
                .lookup(self.client.addr, self.client.prefix)
        });
        if let Some(m) = measured {
            self.decided_by(m.prefix);
            return m.rtt(region).unwrap_or(f64::INFINITY);
        }
        let Some(at) = regions.iter().find(|r| r.id == region) else {
            return f64::INFINITY;
        };
        match self.position() {
            Some(client) => select::great_circle_km(client, at.location),
            None => regions.iter().position(|r| r.id == region).unwrap_or(0) as f64,
        }
    }

    /// Route 53's order: the subdivision, then the country, then the continent, then
    /// the default location.
    fn geo_rank(&self, key: &GeoKey) -> Option<f64> {
        let here = self.location();
        let country = here.and_then(|l| l.country);
        let matched = match key {
            GeoKey::Subdivision {
                country: c,
                subdivision,
            } => {
                country == Some(c.as_str())
                    && here.and_then(|l| l.subdivision) == Some(subdivision.as_str())
            }
            GeoKey::Country(c) => country == Some(c.as_str()),
            GeoKey::Continent(c) => here.and_then(|l| l.continent) == Some(c.as_str()),
            GeoKey::Default => true,
        };
        let rank = match key {
            GeoKey::Subdivision { .. } => 0.0,
            GeoKey::Country(_) => 1.0,
            GeoKey::Continent(_) => 2.0,
            GeoKey::Default => 3.0,
        };
        matched.then_some(rank)
    }

    fn position(&self) -> Option<Coordinates> {
        self.location()?.position
    }

    fn cidr_location(&self) -> Option<&str> {
        let client = self.client;
        let best = self
            .policies
            .cidr_locations
            .iter()
            .flat_map(|l| l.networks.iter().map(move |n| (n, l)))
            .filter(|(net, _)| net.prefix_len() <= client.prefix && net.contains(&client.addr))
            .max_by_key(|(net, _)| net.prefix_len());
        self.decided_by(best.map_or(client.prefix, |(net, _)| net.prefix_len()));
        best.map(|(_, l)| l.name.as_str())
    }
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
                None => return wildcard(zone, encloser),
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
/// below the closest encloser, if that exists.
fn wildcard<'z>(zone: &'z Zone, encloser: &Node) -> Landing<'z> {
    let mut wkey = Vec::with_capacity(zone.origin_key.len() + 64);
    wkey.extend_from_slice(b"\x01*");
    wkey.extend_from_slice(&name_key(&encloser.name));
    match zone.node(&wkey) {
        Some(w) => Landing::Node(w),
        None => Landing::NxDomain,
    }
}

fn add_soa<'z>(zone: &'z Zone, ans: &mut Answer<'z>) {
    let soa = zone.soa();
    ans.authority.push(RRsetOut {
        owner: zone.apex().name.clone(),
        rtype: RecordType::SOA,
        ttl: zone.negative_ttl,
        rdatas: Cow::Borrowed(&soa.rdatas),
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
                Landing::Node(n) if n.name.eq_ignore_root(target) => Some(n),
                _ => None,
            }
        };
        let Some(node) = node else { continue };
        for rtype in [RecordType::A, RecordType::AAAA] {
            let Some(addrs) = node.rrset(rtype) else {
                continue;
            };
            let dup = ans
                .additional
                .iter()
                .chain(&ans.answer)
                .any(|s| s.rtype == rtype && s.owner.eq_ignore_root(&node.name));
            if !dup {
                ans.additional
                    .push(RRsetOut::borrowed(node.name.clone(), addrs));
            }
        }
    }
}
