//! Signing a zone's static data, once, when it is loaded: a transform from a [`Zone`] and
//! its keys to what DNSSEC adds beside it. RRSIGs for every authoritative RRset; the
//! DNSKEY set (signed by the key-signing keys) with CDS and CDNSKEY; the denial chain,
//! NSEC3 (RFC 5155 with RFC 9276's parameters: no salt, no extra iterations) or NSEC,
//! whose type bitmaps list every type that can be answered at a name, policy types
//! included, whatever health decides. Nothing here is done per query.

use std::cmp::Ordering;
use std::collections::HashMap;

use hickory_proto::rr::{Name, RData, RecordType};

use super::key::Key;
use super::sign::{canonical_rdata, rrsig};
use crate::config::Denial;
use crate::zone::{label_offsets, Node, RRset, Zone};

/// One record of the denial chain, with its signatures.
#[derive(Debug, Clone, PartialEq)]
pub struct Added {
    pub owner: Name,
    pub rtype: RecordType,
    pub ttl: u32,
    /// Its RDATA, as RFC 3597 data (written as it is).
    pub rdatas: Vec<RData>,
    /// RRSIGs over it, one per signing key.
    pub sigs: Vec<RData>,
}

/// What signing adds to one zone besides the records it puts at the apex.
#[derive(Debug, Default)]
pub struct SignedZone {
    /// RRSIGs of the zone's own RRsets, by node index and type covered.
    pub sigs: HashMap<(u32, RecordType), Vec<RData>>,
    /// The denial chain in canonical order: NSEC3 by hashed owner, or NSEC by owner.
    pub chain: Vec<Added>,
    /// For NSEC3: each chain entry's hash, in the chain's order (binary search).
    pub hashes: Vec<[u8; 20]>,
    /// For NSEC: each chain entry's owner key, in the chain's order.
    pub owners: Vec<Box<[u8]>>,
    pub denial: Denial,
}

/// RDATA kept as the bytes it is (RFC 3597), for types hadns makes itself.
pub fn raw_rdata(rtype: RecordType, bytes: Vec<u8>) -> RData {
    RData::Unknown {
        code: rtype,
        rdata: hickory_proto::rr::rdata::NULL::with(bytes),
    }
}

/// When signatures start and end, and with which keys.
pub struct Signing<'a> {
    pub keys: &'a [Key],
    pub denial: Denial,
    /// Seconds since the epoch.
    pub now: u64,
    pub validity: u64,
}

/// An hour back: clocks of validators run slow too (RFC 6781 §4.4.2.2's advice).
const INCEPTION_SLACK: u64 = 3600;

impl Signing<'_> {
    /// Keys that sign the DNSKEY set, and keys that sign the rest. A zone without an
    /// active zone-signing key signs everything with its key-signing keys (a combined key).
    pub fn signers(&self) -> (Vec<&Key>, Vec<&Key>) {
        let active: Vec<&Key> = self
            .keys
            .iter()
            .filter(|k| k.timing.active(self.now))
            .collect();
        let sep: Vec<&Key> = active.iter().copied().filter(|k| k.is_sep()).collect();
        let zsk: Vec<&Key> = active.iter().copied().filter(|k| !k.is_sep()).collect();
        let zsk = if zsk.is_empty() { sep.clone() } else { zsk };
        (sep, zsk)
    }

    /// RRSIGs by each of `by` over an RRset.
    pub fn sign(
        &self,
        by: &[&Key],
        owner: &Name,
        rtype: RecordType,
        ttl: u32,
        rdatas: &[RData],
    ) -> Vec<RData> {
        let inception = self.now.saturating_sub(INCEPTION_SLACK);
        let expiration = self.now + self.validity;
        by.iter()
            .map(|k| {
                let sig = rrsig(k, owner, rtype, ttl, rdatas, inception, expiration);
                raw_rdata(RecordType::RRSIG, sig)
            })
            .collect()
    }
}

/// RFC 4034 §6.1: names ordered label by label from the root, each label's lowercase
/// bytes compared as unsigned strings (`a`, `b` are lowercase wire keys).
pub fn canonical_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut la, mut lb) = (Vec::new(), Vec::new());
    label_offsets(a, &mut la);
    label_offsets(b, &mut lb);
    // Skip the root (the last offset), then walk from the top label down.
    let (ia, ib) = (
        la[..la.len() - 1].iter().rev(),
        lb[..lb.len() - 1].iter().rev(),
    );
    for (x, y) in ia.zip(ib) {
        match label(a, *x).cmp(label(b, *y)) {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    la.len().cmp(&lb.len())
}

/// RFC 5155 §5 with no salt and no extra iterations: SHA-1 of the name's canonical
/// wire form.
pub fn nsec3_hash(key: &[u8]) -> [u8; 20] {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, key);
    d.as_ref().try_into().expect("SHA-1 is 20 bytes")
}

/// RFC 4648 base32 with the extended hex alphabet, lowercase, unpadded (RFC 5155 §3.3).
pub fn base32hex(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            out.push(ALPHABET[((n >> (35 - 5 * i)) & 31) as usize] as char);
        }
    }
    out
}

/// RFC 4034 §4.1.2: a type bitmap in windows of 256 types.
pub fn type_bitmap(types: &[RecordType]) -> Vec<u8> {
    let mut codes: Vec<u16> = types.iter().map(|t| u16::from(*t)).collect();
    codes.sort_unstable();
    codes.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < codes.len() {
        let window = (codes[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut len = 0;
        while i < codes.len() && (codes[i] >> 8) as u8 == window {
            let low = (codes[i] & 0xff) as usize;
            bits[low / 8] |= 0x80 >> (low % 8);
            len = low / 8 + 1;
            i += 1;
        }
        out.push(window);
        out.push(len as u8);
        out.extend_from_slice(&bits[..len]);
    }
    out
}

/// The types a bitmap (RFC 4034 §4.1.2) lists.
pub fn bitmap_types(mut bitmap: &[u8]) -> Vec<RecordType> {
    let mut types = Vec::new();
    while bitmap.len() >= 2 {
        let (window, len) = (u16::from(bitmap[0]), usize::from(bitmap[1]));
        let bits = &bitmap[2..(2 + len).min(bitmap.len())];
        for (i, b) in bits.iter().enumerate() {
            for bit in 0..8 {
                if b & (0x80 >> bit) != 0 {
                    types.push(RecordType::from(window << 8 | (i * 8 + bit) as u16));
                }
            }
        }
        bitmap = &bitmap[(2 + len).min(bitmap.len())..];
    }
    types
}

/// Where a node stands in the signed zone.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Authoritative data: every RRset signed.
    Authoritative,
    /// A delegation: only DS (if any) is signed.
    Cut,
    /// Below a delegation (glue): neither signed nor in the chain.
    Occluded,
}

fn standing(zone: &Zone, key: &[u8], node: &Node) -> Standing {
    let mut offsets = Vec::new();
    label_offsets(key, &mut offsets);
    let apex_at = key.len() - zone.origin_key.len();
    // Ancestors strictly between the node and the apex.
    for &o in offsets[1..].iter().take_while(|&&o| o < apex_at) {
        if zone
            .node(&key[o..])
            .is_some_and(|n| n.rrset(RecordType::NS).is_some())
        {
            return Standing::Occluded;
        }
    }
    if key.len() != zone.origin_key.len() && node.rrset(RecordType::NS).is_some() {
        Standing::Cut
    } else {
        Standing::Authoritative
    }
}

fn label(key: &[u8], at: usize) -> &[u8] {
    &key[at + 1..at + 1 + key[at] as usize]
}

/// Puts the DNSKEY, CDS, CDNSKEY and (for NSEC3) NSEC3PARAM sets at `zone`'s apex and
/// signs its static data with `signing`'s keys.
pub fn sign_zone(zone: &mut Zone, signing: &Signing) -> SignedZone {
    let (sep, zsk) = signing.signers();
    let apex_index = zone.nodes.index_of(&zone.origin_key).unwrap_or(0);
    let dnskey_ttl = zone.soa().ttl;
    let dnskeys: Vec<RData> = signing
        .keys
        .iter()
        .filter(|k| k.timing.published(signing.now))
        .map(|k| raw_rdata(RecordType::DNSKEY, k.dnskey_rdata()))
        .collect();
    let cdnskeys: Vec<RData> = sep
        .iter()
        .map(|k| raw_rdata(RecordType::CDNSKEY, k.dnskey_rdata()))
        .collect();
    let cds: Vec<RData> = sep
        .iter()
        .map(|k| {
            let mut r = k.tag.to_be_bytes().to_vec();
            r.push(k.algorithm.number());
            r.push(2);
            r.extend_from_slice(&k.ds_digest());
            raw_rdata(RecordType::CDS, r)
        })
        .collect();
    let mut added = vec![
        (RecordType::DNSKEY, dnskeys),
        (RecordType::CDS, cds),
        (RecordType::CDNSKEY, cdnskeys),
    ];
    if signing.denial == Denial::Nsec3 {
        let param = raw_rdata(RecordType::NSEC3PARAM, vec![1, 0, 0, 0, 0]);
        added.push((RecordType::NSEC3PARAM, vec![param]));
    }
    // What an earlier signing put there goes (a zone copied to be signed again).
    let apex_sets = [
        RecordType::DNSKEY,
        RecordType::CDS,
        RecordType::CDNSKEY,
        RecordType::NSEC3PARAM,
    ];
    let sets = added
        .into_iter()
        .filter(|(_, r)| !r.is_empty())
        .map(|(rtype, rdatas)| RRset {
            rtype,
            ttl: dnskey_ttl,
            rdatas: rdatas.into(),
        })
        .collect();
    zone.replace_rrsets(apex_index, &apex_sets, sets);
    let zone = &*zone;
    let mut signed = SignedZone {
        denial: signing.denial,
        ..SignedZone::default()
    };
    let negative_ttl = zone.negative_ttl;

    // The names in the chain: all but glue below zone cuts.
    let mut names: Vec<(&[u8], u32, &Node, Standing)> = zone
        .nodes
        .keyed()
        .map(|(k, i, n)| (k, i, n, standing(zone, k, n)))
        .filter(|(_, _, _, s)| *s != Standing::Occluded)
        .collect();
    names.sort_by(|a, b| canonical_cmp(a.0, b.0));

    let mut jobs = Vec::new();
    for &(_, i, node, standing) in &names {
        for set in &node.rrsets {
            let by = match (standing, set.rtype) {
                (Standing::Authoritative, t) if is_key_set(t) => &sep,
                (Standing::Authoritative, _) | (Standing::Cut, RecordType::DS) => &zsk,
                _ => continue,
            };
            jobs.push((i, node, set, by));
        }
    }
    let sigs = par_map(&jobs, |(i, _, set, by)| {
        let owner = zone.nodes.name(*i);
        signing.sign(by, &owner, set.rtype, set.ttl, &set.rdatas)
    });
    signed.sigs.reserve(jobs.len());
    for ((i, _, set, _), sigs) in jobs.iter().zip(sigs) {
        signed.sigs.insert((*i, set.rtype), sigs);
    }

    // Types at each name: its own (the apex's new sets included), its policy types, and
    // RRSIG where anything there is signed.
    let types_at = |node: &Node, standing: Standing, own: RecordType| {
        let mut t: Vec<RecordType> = node.rrsets.iter().map(|r| r.rtype).collect();
        t.extend(node.dynamic.iter().map(|(t, _)| *t));
        let signed_here = standing == Standing::Authoritative
            || node.rrset(RecordType::DS).is_some()
            || own == RecordType::NSEC;
        if signed_here && !t.is_empty() {
            t.push(RecordType::RRSIG);
        }
        if own == RecordType::NSEC {
            t.push(RecordType::NSEC);
        }
        t
    };

    // The chain's records, signed together once all are made.
    let mut unsigned: Vec<(Name, RecordType, Vec<u8>)> = Vec::new();
    let mut push = |owner: Name, rtype: RecordType, rdata: Vec<u8>| {
        unsigned.push((owner, rtype, rdata));
    };
    match signing.denial {
        Denial::Nsec3 => {
            // Every name and every empty non-terminal; glue below cuts left out.
            let mut entries: Vec<([u8; 20], Vec<u8>)> = names
                .iter()
                .map(|&(k, _, n, s)| {
                    let types = types_at(n, s, RecordType::NSEC3);
                    (nsec3_hash(k), type_bitmap(&types))
                })
                .collect();
            entries.sort_by_key(|e| e.0);
            entries.dedup_by(|a, b| a.0 == b.0);
            for (j, (hash, bitmap)) in entries.iter().enumerate() {
                let next = &entries[(j + 1) % entries.len()].0;
                let mut rdata = vec![1, 0, 0, 0, 0, 20];
                rdata.extend_from_slice(next);
                rdata.extend_from_slice(bitmap);
                let owner = Name::from_ascii(format!("{}.{}", base32hex(hash), zone.origin))
                    .expect("a base32hex label under the zone is a name");
                push(owner, RecordType::NSEC3, rdata);
                signed.hashes.push(*hash);
            }
        }
        // RFC 9824: every NSEC is made per query, for the name asked.
        Denial::Compact => {}
        Denial::Nsec => {
            // Names that own something; empty non-terminals are not in an NSEC chain.
            let owners: Vec<_> = names
                .iter()
                .filter(|(_, _, n, _)| !n.rrsets.is_empty() || !n.dynamic.is_empty())
                .collect();
            for (j, &&(key, i, node, standing)) in owners.iter().enumerate() {
                let mut rdata = owners[(j + 1) % owners.len()].0.to_vec();
                let types = types_at(node, standing, RecordType::NSEC);
                rdata.extend_from_slice(&type_bitmap(&types));
                push(zone.nodes.name(i), RecordType::NSEC, rdata);
                signed.owners.push(key.into());
            }
        }
    }
    signed.chain = par_map(&unsigned, |(owner, rtype, rdata)| {
        let rdatas = vec![raw_rdata(*rtype, rdata.clone())];
        let sigs = signing.sign(&zsk, owner, *rtype, negative_ttl, &rdatas);
        Added {
            owner: owner.clone(),
            rtype: *rtype,
            ttl: negative_ttl,
            rdatas,
            sigs,
        }
    });
    signed
}

/// `f` of each item, in order, on every core: signing a large zone is most of its load.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads == 1 || items.len() < 1024 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("a signing thread does not panic"))
            .collect()
    })
}

/// The sets the key-signing keys sign (RFC 7344 §4.1 for CDS and CDNSKEY).
fn is_key_set(rtype: RecordType) -> bool {
    matches!(
        rtype,
        RecordType::DNSKEY | RecordType::CDS | RecordType::CDNSKEY
    )
}

/// Every record of the signed zone, static and added, in RFC 3597's generic text form
/// (`owner ttl IN TYPEn \# len hex`): what any zone tool reads, for checking a signed
/// zone with `dnssec-verify` or `ldns-verify-zone`.
pub fn generic_text(zone: &Zone, signed: &SignedZone) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut line = |owner: &Name, rtype: RecordType, ttl: u32, rdata: &[u8]| {
        let hex: String = rdata.iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(
            out,
            "{owner} {ttl} IN TYPE{} \\# {} {hex}",
            u16::from(rtype),
            rdata.len()
        );
    };
    for (_, i, node) in zone.nodes.keyed() {
        let name = zone.nodes.name(i);
        for set in &node.rrsets {
            for r in &set.rdatas {
                line(&name, set.rtype, set.ttl, &canonical_rdata(set.rtype, r));
            }
            for sig in signed.sigs.get(&(i, set.rtype)).into_iter().flatten() {
                let sig = canonical_rdata(RecordType::RRSIG, sig);
                line(&name, RecordType::RRSIG, set.ttl, &sig);
            }
        }
    }
    for a in &signed.chain {
        for r in &a.rdatas {
            line(&a.owner, a.rtype, a.ttl, &canonical_rdata(a.rtype, r));
        }
        for sig in &a.sigs {
            let sig = canonical_rdata(RecordType::RRSIG, sig);
            line(&a.owner, RecordType::RRSIG, a.ttl, &sig);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::name_key;

    fn key(s: &str) -> Box<[u8]> {
        name_key(&Name::from_ascii(s).unwrap())
    }

    /// A lowercase wire key from its labels, top label last.
    fn raw(labels: &[&[u8]]) -> Box<[u8]> {
        let mut k = Vec::new();
        for l in labels {
            k.push(l.len() as u8);
            k.extend(l.iter().map(u8::to_ascii_lowercase));
        }
        k.push(0);
        k.into()
    }

    /// RFC 4034 §6.1's example order.
    #[test]
    fn names_sort_canonically() {
        let sorted = [
            raw(&[b"example"]),
            raw(&[b"a", b"example"]),
            raw(&[b"yljkjljk", b"a", b"example"]),
            raw(&[b"Z", b"a", b"example"]),
            raw(&[b"zABC", b"a", b"EXAMPLE"]),
            raw(&[b"z", b"example"]),
            raw(&[b"\x01", b"z", b"example"]),
            raw(&[b"*", b"z", b"example"]),
            raw(&[b"\x80", b"z", b"example"]),
        ];
        let mut keys: Vec<Box<[u8]>> = sorted.iter().rev().cloned().collect();
        keys.sort_by(|a, b| canonical_cmp(a, b));
        assert_eq!(keys, sorted);
    }

    /// RFC 5155 Appendix A's hashes need salt and iterations; with none (RFC 9276) the
    /// hash is SHA-1 of the name (`base64.b32hexencode(sha1(b"\x07example\x00"))`).
    #[test]
    fn nsec3_hashes_with_no_salt_or_iterations() {
        assert_eq!(
            base32hex(&nsec3_hash(&key("example."))),
            "3msev9usmd4br9s97v51r2tdvmr9iqo1"
        );
        assert_eq!(base32hex(&[0xff; 5]), "vvvvvvvv");
    }

    #[test]
    fn bitmaps_as_rfc_4034_writes_them() {
        // RFC 4034 §4.3: A MX RRSIG NSEC TYPE1234.
        let types = [
            RecordType::A,
            RecordType::MX,
            RecordType::RRSIG,
            RecordType::NSEC,
            RecordType::Unknown(1234),
        ];
        let mut want = vec![0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b];
        want.extend([0; 26]);
        want.push(0x20);
        assert_eq!(type_bitmap(&types), want);
        assert_eq!(bitmap_types(&want), types);
    }
}
