//! What an answer to a DO query carries in a signed zone (RFC 4035 §3.1): the RRSIGs of
//! its RRsets, and the NSEC3 or NSEC records that prove what does not exist. Signatures
//! of the zone's own data were made at load; an RRset made for the answer (a policy's
//! pick, an SOA whose serial moved on) is signed here, once per answer built, and the
//! answer cache keeps it from then on.

use std::borrow::Cow;

use hickory_proto::rr::{RData, RecordType};

use super::key::unix_now;
use super::zone::{canonical_cmp, nsec3_hash, Added, SignedZone, Signing};
use crate::config::{Denial, DnssecConfig};
use crate::dns::lookup::{Answer, Landed, LandedKind, Proof, RRsetOut};
use crate::dnssec::key::Key;
use crate::zone::{is_wildcard_key, label_offsets, name_key, Node, Zone};

/// Where the type bitmap of an NSEC3 or NSEC RDATA starts.
fn bitmap_start(rtype: RecordType, rdata: &[u8]) -> usize {
    let start = match rtype {
        RecordType::NSEC3 => 6 + usize::from(*rdata.get(5).unwrap_or(&0)),
        _ => {
            let mut i = 0;
            while i < rdata.len() && rdata[i] != 0 {
                i += usize::from(rdata[i]) + 1;
            }
            i + 1
        }
    };
    start.min(rdata.len())
}

/// base32hex (RFC 4648 §7), either case, to bytes.
fn base32hex_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut bits) = (0u64, 0);
    for c in text {
        let v = match c.to_ascii_lowercase() {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'a'..=b'v' => c - b'a' + 10,
            _ => continue,
        };
        acc = acc << 5 | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// RFC 9824's NXNAME meta-type, in the bitmap of a name that does not exist.
pub const NXNAME: u16 = 128;

/// The types at `node` (its records and its policy types) but `qtype`: what a compact
/// NSEC at the name lists, besides RRSIG and NSEC.
fn types_of(node: &crate::zone::Node, qtype: RecordType) -> Vec<RecordType> {
    node.rrsets
        .iter()
        .map(|r| r.rtype)
        .chain(node.dynamic.iter().map(|(t, _)| *t))
        .filter(|t| *t != qtype)
        .collect()
}

/// The name whose lower-case wire form is `key`.
fn name_of(key: &[u8]) -> Option<hickory_proto::rr::Name> {
    let mut labels = Vec::new();
    let mut i = 0;
    while i < key.len() && key[i] != 0 {
        let end = i + 1 + usize::from(key[i]);
        labels.push(key.get(i + 1..end)?);
        i = end;
    }
    hickory_proto::rr::Name::from_labels(labels).ok()
}

/// The signer of zone `zone` of `content`, if it is signed.
pub fn signer(content: &crate::load::Content, zone: usize) -> Option<Signer<'_>> {
    Some(Signer {
        zone: &content.zones.zones[zone],
        signed: content.signed.get(zone)?.as_ref()?,
        keys: &content.keys[zone],
        config: content.dnssec.as_ref()?,
    })
}

/// A signed zone, as an answer needs it.
pub struct Signer<'z> {
    pub zone: &'z Zone,
    pub signed: &'z SignedZone,
    pub keys: &'z [Key],
    pub config: &'z DnssecConfig,
}

impl<'z> Signer<'z> {
    /// Adds the RRSIGs and denial records to `ans`.
    pub fn complete(&self, ans: &mut Answer<'z>) {
        let proofs = std::mem::take(&mut ans.proofs);
        let mut authority_extra: Vec<RRsetOut<'z>> = Vec::new();
        for proof in &proofs {
            match self.signed.denial {
                Denial::Compact => self.prove_compact(proof, ans, &mut authority_extra),
                _ => self.prove(proof, &mut authority_extra),
            }
        }
        ans.answer = self.with_sigs(std::mem::take(&mut ans.answer));
        let mut authority = self.with_sigs(std::mem::take(&mut ans.authority));
        // The proofs' records come in pairs, each with its RRSIGs.
        let mut pairs = authority_extra.into_iter();
        while let (Some(set), Some(sigs)) = (pairs.next(), pairs.next()) {
            let dup = authority
                .iter()
                .any(|s| s.rtype == set.rtype && s.owner == set.owner);
            if !dup {
                authority.push(set);
                authority.push(sigs);
            }
        }
        ans.authority = authority;
        ans.additional = self.with_sigs(std::mem::take(&mut ans.additional));
        ans.proofs = proofs;
    }

    /// A zone transfer's view (SOA, RRsets, SOA) with every signature, and the denial
    /// chain before the closing SOA: the signed zone as a secondary must serve it.
    pub fn signed_view(&self, view: Vec<RRsetOut<'z>>) -> Vec<RRsetOut<'z>> {
        // Policy types the view has no records for (a geolocation without a default
        // chose nothing for it). A name left with nothing at all, and nothing below
        // it, is not in the transferred zone: its chain record goes, and the one before
        // it points past it; otherwise its record is made without those types.
        let mut missing: Vec<(Box<[u8]>, RecordType)> = Vec::new();
        let mut absent: Vec<Box<[u8]>> = Vec::new();
        for (key, i, node) in self.zone.nodes.keyed() {
            if node.dynamic.is_empty() {
                continue;
            }
            let before = missing.len();
            let name = self.zone.nodes.name(i);
            for &(rtype, _) in &node.dynamic {
                let there = view
                    .iter()
                    .any(|s| s.rtype == rtype && s.owner.eq_ignore_root(&name));
                if !there {
                    missing.push((key.into(), rtype));
                }
            }
            let all_gone = missing.len() - before == node.dynamic.len();
            if all_gone && node.rrsets.is_empty() && !self.has_below(key) {
                absent.push(key.into());
            }
        }
        let mut out = self.with_sigs(view);
        // The closing SOA and its RRSIGs: the last two.
        let tail = out.split_off(out.len().saturating_sub(2));
        let chain = &self.signed.chain;
        let gone_at: Vec<bool> = (0..chain.len())
            .map(|i| self.entry_of_any(i, &absent))
            .collect();
        for (i, added) in chain.iter().enumerate() {
            if gone_at[i] {
                continue;
            }
            let gone: Vec<RecordType> = missing
                .iter()
                .filter(|(k, _)| self.entry_of_any(i, std::slice::from_ref(k)))
                .map(|(_, t)| *t)
                .collect();
            // The next entry still in the chain.
            let mut next = (i + 1) % chain.len();
            while gone_at[next] && next != i {
                next = (next + 1) % chain.len();
            }
            let skips = next != (i + 1) % chain.len();
            if gone.is_empty() && !skips {
                for (rtype, rdatas) in [
                    (added.rtype, &added.rdatas),
                    (RecordType::RRSIG, &added.sigs),
                ] {
                    out.push(RRsetOut::new(
                        added.owner.clone(),
                        rtype,
                        added.ttl,
                        Cow::Borrowed(&rdatas[..]),
                    ));
                }
                continue;
            }
            out.extend(self.remade(added, &gone, skips.then(|| &chain[next])));
        }
        // A transfer ends with the SOA alone.
        out.extend(tail.into_iter().take(1));
        out
    }

    /// Whether the zone has a name below `key`.
    fn has_below(&self, key: &[u8]) -> bool {
        self.zone
            .nodes
            .keyed()
            .any(|(k, _, _)| k.len() > key.len() && k.ends_with(key))
    }

    /// Whether chain entry `i` is the record of one of the names `keys`.
    fn entry_of_any(&self, i: usize, keys: &[Box<[u8]>]) -> bool {
        keys.iter().any(|k| match self.signed.denial {
            Denial::Nsec3 => self.signed.hashes.get(i) == Some(&nsec3_hash(k)),
            _ => self.signed.owners.get(i).is_some_and(|o| o == k),
        })
    }

    /// Each RRset followed by its RRSIGs, where it has them.
    fn with_sigs(&self, sets: Vec<RRsetOut<'z>>) -> Vec<RRsetOut<'z>> {
        let mut out = Vec::with_capacity(sets.len() * 2);
        for set in sets {
            let sigs = self.sigs_of(&set);
            out.push(set);
            if let Some(sigs) = sigs {
                out.push(sigs);
            }
        }
        out
    }

    fn sigs_of(&self, set: &RRsetOut<'z>) -> Option<RRsetOut<'z>> {
        if set.synthesized || set.rtype == RecordType::RRSIG {
            return None;
        }
        let sigs: Cow<'z, [RData]> = match set.node {
            // RFC 9824: a wildcard's records are signed as the name asked, which then
            // needs no proof that it does not exist.
            Some(node) if self.compact() && self.is_wildcard(node) => {
                Cow::Owned(self.sign_now(set, node.rrset(set.rtype)?.ttl))
            }
            Some(node) => {
                let own = node.rrset(set.rtype)?;
                let i = self.zone.nodes.index_of_node(node)?;
                match self.signed.sigs.get(&(i, set.rtype)) {
                    // The zone's own data as signed at load.
                    Some(sigs) if own.rdatas[..] == set.rdatas[..] => Cow::Borrowed(sigs),
                    // Glue, or a delegation's NS: not signed.
                    None => return None,
                    // Served otherwise than loaded (the SOA's serial moved on).
                    Some(_) => Cow::Owned(self.sign_now(set, own.ttl)),
                }
            }
            // Chosen by a policy for this answer.
            None => Cow::Owned(self.sign_now(set, set.ttl)),
        };
        Some(RRsetOut::new(
            set.owner.clone(),
            RecordType::RRSIG,
            set.ttl,
            sigs,
        ))
    }

    fn sign_now(&self, set: &RRsetOut<'z>, original_ttl: u32) -> Vec<RData> {
        let signing = Signing {
            keys: self.keys,
            denial: self.config.denial,
            now: unix_now(),
            validity: self.config.signature_validity.as_secs(),
        };
        let (_, zsk) = signing.signers();
        // Signed as the zone spells the name, in lower case: the owner in an answer may
        // carry the asker's case, which a signature does not depend on.
        let owner = set.owner.to_lowercase();
        signing.sign(&zsk, &owner, set.rtype, original_ttl, &set.rdatas)
    }

    fn push(&self, added: &'z Added, out: &mut Vec<RRsetOut<'z>>) {
        if out
            .iter()
            .any(|s| s.rtype == added.rtype && s.owner == added.owner)
        {
            return;
        }
        let rec = |rtype, rdatas: &'z [RData]| {
            RRsetOut::new(added.owner.clone(), rtype, added.ttl, Cow::Borrowed(rdatas))
        };
        out.push(rec(added.rtype, &added.rdatas));
        out.push(rec(RecordType::RRSIG, &added.sigs));
    }

    /// `added` (an NSEC or NSEC3 of a policy name) with `gone` left out of its
    /// bitmap, signed now: the chain lists a policy's type whatever health decides, and
    /// this client's answer has none. Kept with the answer in the cache.
    fn without_types(&self, added: &'z Added, gone: &[RecordType]) -> Vec<RRsetOut<'z>> {
        self.remade(added, gone, None)
    }

    /// `added` made again: without the types `gone` in its bitmap, and pointing to
    /// `next` (for a transfer whose zone lacks the names in between), signed now.
    fn remade(
        &self,
        added: &'z Added,
        gone: &[RecordType],
        next: Option<&Added>,
    ) -> Vec<RRsetOut<'z>> {
        let rdata = super::sign::canonical_rdata(added.rtype, &added.rdatas[0]);
        // The bitmap follows the next name (NSEC) or the fixed fields (NSEC3).
        let start = bitmap_start(added.rtype, &rdata);
        let types: Vec<RecordType> = super::zone::bitmap_types(&rdata[start..])
            .into_iter()
            .filter(|t| !gone.contains(t))
            .collect();
        let mut bytes = match next {
            Some(next) => {
                match added.rtype {
                    // Fixed fields, then the next entry's own hash (its owner's label).
                    RecordType::NSEC3 => {
                        let mut b = rdata[..6].to_vec();
                        let label = next.owner.iter().next().unwrap_or_default();
                        b.extend_from_slice(&base32hex_decode(label));
                        b
                    }
                    _ => name_key(&next.owner).into_vec(),
                }
            }
            None => rdata[..start].to_vec(),
        };
        bytes.extend_from_slice(&super::zone::type_bitmap(&types));
        let rdatas = vec![super::zone::raw_rdata(added.rtype, bytes)];
        let set = RRsetOut::new(
            added.owner.clone(),
            added.rtype,
            added.ttl,
            Cow::Owned(rdatas),
        );
        let sigs = self.sign_now(&set, added.ttl);
        let sigs = RRsetOut::new(
            added.owner.clone(),
            RecordType::RRSIG,
            added.ttl,
            Cow::Owned(sigs),
        );
        vec![set, sigs]
    }

    /// Whether `node` is a wildcard of this zone.
    fn is_wildcard(&self, node: &Node) -> bool {
        let nodes = &self.zone.nodes;
        nodes
            .index_of_node(node)
            .is_some_and(|i| is_wildcard_key(nodes.key(i)))
    }

    fn compact(&self) -> bool {
        self.signed.denial == Denial::Compact
    }

    /// RFC 9824: what `proof` needs, made and signed for this answer. A name that does
    /// not exist is answered as one that exists without the type asked: NOERROR, and an
    /// NSEC at the name whose next name is the name's immediate successor and whose
    /// bitmap holds NXNAME; a name without the type gets its own such NSEC listing what
    /// it has. One NSEC, one signature, and nothing about the rest of the zone.
    fn prove_compact(&self, proof: &Proof<'z>, ans: &mut Answer<'z>, out: &mut Vec<RRsetOut<'z>>) {
        let (key, types): (&[u8], Vec<RecordType>) = match proof {
            Proof::NxDomain(key) => {
                ans.rcode = crate::dns::lookup::Rcode::NoError;
                (key, vec![RecordType::Unknown(NXNAME)])
            }
            // From a wildcard too: the name asked, with the wildcard's types.
            Proof::NoData(key, node, qtype) => (key, types_of(node, *qtype)),
            Proof::Referral(cut) if cut.rrset(RecordType::DS).is_none() => {
                (self.zone.nodes.key_of(cut), types_of(cut, RecordType::DS))
            }
            // Signed at the name asked instead (`sigs_of`), or the DS is there.
            Proof::Wildcard(..) | Proof::Referral(_) => return,
        };
        // The immediate successor: the name with a \000 label in front (RFC 4471 §3.1.2).
        if key.len() + 2 > 255 {
            return;
        }
        let Some(owner) = name_of(key) else { return };
        let mut rdata = vec![1, 0];
        rdata.extend_from_slice(key);
        let mut types = types;
        types.extend([RecordType::RRSIG, RecordType::NSEC]);
        rdata.extend_from_slice(&super::zone::type_bitmap(&types));
        let ttl = self.zone.negative_ttl;
        let set = RRsetOut::new(
            owner.clone(),
            RecordType::NSEC,
            ttl,
            Cow::Owned(vec![super::zone::raw_rdata(RecordType::NSEC, rdata)]),
        );
        let sigs = self.sign_now(&set, ttl);
        out.push(set);
        out.push(RRsetOut::new(
            owner,
            RecordType::RRSIG,
            ttl,
            Cow::Owned(sigs),
        ));
    }

    /// What the proof in a DO answer for `key` (lower-case wire form), which landed at
    /// `landed`, depends on besides: its closest encloser (node index) and the chain
    /// record covering its next closer name (NSEC3) or itself (NSEC). Every name alike
    /// in these gets the same denial records, so one response, respelled, serves them.
    pub fn proof_of(&self, landed: &Landed, key: &[u8]) -> Option<[u32; 2]> {
        match landed.kind() {
            // RFC 9824: every such answer is made for its name.
            _ if self.compact() => None,
            // The cut's DS, or the record proving it has none: the cut decides.
            LandedKind::BelowCut => Some([0; 2]),
            LandedKind::NxDomain | LandedKind::Wildcard => {
                let (ce, nc) = self.closest_encloser(key);
                let cover = match self.nsec3() {
                    true => self.covering_index(&key[nc..])?,
                    false => self.covering_index(key)?,
                };
                let encloser = self.zone.nodes.index_of(&key[ce..])?;
                Some([encloser, u32::try_from(cover).ok()?])
            }
        }
    }

    /// The closest encloser of `key` (a name that does not exist): the longest of its
    /// ancestors in the zone, as a suffix offset, and the next closer name's offset.
    fn closest_encloser(&self, key: &[u8]) -> (usize, usize) {
        let mut here = 0;
        while here < key.len() && key[here] != 0 {
            let parent = here + 1 + usize::from(key[here]);
            if parent >= key.len() {
                break;
            }
            if self.zone.node(&key[parent..]).is_some() {
                return (parent, here);
            }
            here = parent;
        }
        let apex = key.len().saturating_sub(self.zone.origin_key.len());
        (apex, 0)
    }

    // --- the denial chain: NSEC3 (RFC 5155 §7.2) or NSEC (RFC 4035 §3.1.3) ---------

    fn nsec3(&self) -> bool {
        self.signed.denial == Denial::Nsec3
    }

    /// The chain's record of the name `key`: its NSEC3, or its NSEC (for a name without
    /// one, an empty non-terminal, the NSEC that covers it).
    fn at(&self, key: &[u8]) -> Option<&'z Added> {
        if self.nsec3() {
            let i = self.signed.hashes.binary_search(&nsec3_hash(key)).ok()?;
            self.signed.chain.get(i)
        } else {
            self.covering(key)
        }
    }

    /// The chain's record that covers `key` (its own, if it has one).
    fn covering(&self, key: &[u8]) -> Option<&'z Added> {
        self.signed.chain.get(self.covering_index(key)?)
    }

    /// Where in the chain the record that covers `key` is.
    fn covering_index(&self, key: &[u8]) -> Option<usize> {
        let found = if self.nsec3() {
            self.signed.hashes.binary_search(&nsec3_hash(key))
        } else {
            let owners = &self.signed.owners;
            owners.binary_search_by(|o| canonical_cmp(o, key))
        };
        match found {
            Ok(i) => Some(i),
            // Before the first: the last one's span wraps round to it.
            Err(0) => self.signed.chain.len().checked_sub(1),
            Err(i) => Some(i - 1),
        }
    }

    fn wildcard_of(encloser: &[u8]) -> Vec<u8> {
        let mut w = b"\x01*".to_vec();
        w.extend_from_slice(encloser);
        w
    }

    /// The chain's records `proof` needs, each with its RRSIGs, into `out`.
    fn prove(&self, proof: &Proof<'z>, out: &mut Vec<RRsetOut<'z>>) {
        let mut put = |a: Option<&'z Added>| {
            if let Some(a) = a {
                self.push(a, out);
            }
        };
        match proof {
            Proof::NxDomain(key) => {
                let (ce, nc) = self.closest_encloser(key);
                if self.nsec3() {
                    // The closest encloser, and the next closer name's cover.
                    put(self.at(&key[ce..]));
                    put(self.covering(&key[nc..]));
                } else {
                    put(self.covering(key));
                }
                put(self.covering(&Self::wildcard_of(&key[ce..])));
            }
            Proof::NoData(key, node, qtype) => {
                let wkey = self.zone.nodes.key_of(node);
                if is_wildcard_key(wkey) && wkey != &key[..] {
                    // From a wildcard without the type: it (and, for NSEC3, where it
                    // stands).
                    if self.nsec3() {
                        put(self.at(&wkey[2..]));
                    }
                    put(self.at(wkey));
                } else if node.dynamic(*qtype).is_some() {
                    // A policy type that chose nothing for this client.
                    if let Some(a) = self.at(key) {
                        out.extend(self.without_types(a, &[*qtype]));
                    }
                } else {
                    put(self.at(key));
                }
            }
            Proof::Wildcard(key, wildcard) => {
                if self.nsec3() {
                    // The next closer name: one label below the wildcard's encloser.
                    let encloser_len = self.zone.nodes.key_of(wildcard).len() - 2;
                    let mut offsets = Vec::new();
                    label_offsets(key, &mut offsets);
                    let nc = offsets
                        .windows(2)
                        .find(|w| key.len() - w[1] == encloser_len)
                        .map_or(0, |w| w[0]);
                    put(self.covering(&key[nc..]));
                } else {
                    put(self.covering(key));
                }
            }
            Proof::Referral(cut) => {
                if cut.rrset(RecordType::DS).is_none() {
                    put(self.at(self.zone.nodes.key_of(cut)));
                }
            }
        }
    }
}
