//! Zone transfers out (AXFR, RFC 5936; IXFR, RFC 1995): the zone as a client with no
//! known location gets it now — plain records as written, and for each policy name the
//! sets it can answer with (`select::every_leaf`) — as many messages over TCP as it
//! takes, to addresses that `[transfer] allow` lists. An IXFR from a serial still in the
//! snapshot's journal gets only the difference; one that is current gets the SOA; any
//! other the whole zone, as RFC 1995 §4 allows.

use std::borrow::Cow;

use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use super::lookup::{leaves_to_rrset, RRsetOut};
use super::response::{encode_error, encode_transfer_message};
use super::wire::{RCODE_NOTAUTH, RCODE_REFUSED};
use super::{Asked, Handled, Sink, Transport};
use crate::client::{Client, Facts};
use crate::metrics::Outcome;
use crate::policy::select;
use crate::snapshot::Snapshot;
use crate::zone::name_key;

/// Bytes of records per message: well under 64 KiB, so that a secondary reading a
/// message at a time keeps up.
const MESSAGE_ROOM: usize = 16 * 1024;
/// RFC 8914 §4.19: Prohibited.
const EDE_PROHIBITED: u16 = 18;

/// Who may transfer: from these networks, signed with this key when one is required.
pub(super) struct Allowed<'a> {
    pub networks: &'a [ipnet::IpNet],
    pub key: Option<&'a Name>,
    /// The key the query was signed with, if any.
    pub signed_by: Option<&'a Name>,
}

pub(super) fn answer(
    asked: &Asked<'_, '_>,
    snapshot: &Snapshot,
    allow: Allowed<'_>,
    sink: &mut impl Sink,
) -> Handled {
    let req = asked.req;
    if !allow.networks.iter().any(|n| n.contains(&asked.peer)) {
        let why = (
            EDE_PROHIBITED,
            "zone transfers are not allowed from this address",
        );
        return asked.declined(sink, RCODE_REFUSED, why);
    }
    if allow.key.is_some() && allow.signed_by != allow.key {
        let why = (
            EDE_PROHIBITED,
            "zone transfers must be signed with the transfer key",
        );
        return asked.declined(sink, RCODE_REFUSED, why);
    }
    if asked.transport == Transport::Udp {
        // RFC 5936 §4.2: over TCP only; an empty truncated answer sends the client there.
        let out = sink.next_message();
        let question = Some((req.qname, req.qtype, req.qclass));
        encode_error(out, asked.echo, question, 0, asked.edns.reply);
        out[2] |= 0x02;
        return Handled {
            zone: None,
            qtype: Some(req.qtype),
            outcome: Outcome::Rcode(0),
        };
    }
    let qname = Name::read(&mut BinDecoder::new(req.qname)).ok();
    let zone = qname
        .as_ref()
        .and_then(|q| snapshot.zones.find(&name_key(q)));
    let (Some(qname), Some((zone_index, _))) = (qname, zone) else {
        // Not the apex of a zone served here.
        return asked.error(sink, RCODE_NOTAUTH);
    };
    let signer = crate::dnssec::answer::signer(snapshot, zone_index);
    let incremental = match (RecordType::from(req.qtype), req.soa_serial) {
        // A signed zone's journal holds no signatures: its IXFR is the whole zone
        // (RFC 1995 §4 allows it).
        (RecordType::IXFR, Some(have)) if signer.is_none() => ixfr_view(snapshot, zone_index, have),
        _ => None,
    };
    let kind = if incremental.is_some() {
        "IXFR"
    } else {
        "AXFR"
    };
    let sets = incremental.unwrap_or_else(|| {
        let view = zone_view(snapshot, zone_index);
        match &signer {
            Some(signer) => signer.signed_view(view),
            None => view,
        }
    });
    let records: usize = sets.iter().map(|s| s.rdatas.len()).sum();
    tracing::info!(zone = %qname, peer = %asked.peer, kind, records, serial = snapshot.serial(zone_index), "zone transfer");
    let mut rest = &sets[..];
    let mut first = true;
    while !rest.is_empty() {
        let question = first.then_some((&qname, req.qtype, req.qclass));
        let taken = encode_transfer_message(
            sink.next_message(),
            asked.echo,
            question,
            rest,
            MESSAGE_ROOM,
        );
        rest = &rest[taken..];
        first = false;
    }
    Handled {
        zone: Some(zone_index),
        qtype: Some(req.qtype),
        outcome: Outcome::Rcode(0),
    }
}

/// RFC 1995 §4 for a client at serial `have`: the SOA alone when that is current; the
/// differences since, when the journal still holds `have`; else None (the whole zone).
fn ixfr_view(snapshot: &Snapshot, zone_index: usize, have: u32) -> Option<Vec<RRsetOut<'_>>> {
    let zone = &snapshot.zones.zones[zone_index];
    let soa = snapshot.soa(zone_index);
    fn soa_at<'z>(origin: &Name, ttl: u32, rdatas: Cow<'z, [RData]>) -> RRsetOut<'z> {
        RRsetOut::new(origin.clone(), RecordType::SOA, ttl, rdatas)
    }
    let current = soa_at(&zone.origin, soa.ttl, Cow::Borrowed(&soa.rdatas));
    let now = snapshot.serial(zone_index);
    if now == have || have.wrapping_sub(now) < 0x8000_0000 {
        return Some(vec![current]);
    }
    let (deleted, added) = snapshot.journal.since(&zone.origin.to_string(), have)?;
    let mut old = soa.rdatas.to_vec();
    if let Some(RData::SOA(s)) = old.first_mut() {
        s.serial = have;
    }
    let record = |r: &'_ crate::snapshot::ViewRecord| {
        RRsetOut::new(
            r.owner.clone(),
            r.rtype,
            r.ttl,
            Cow::Owned(vec![r.rdata.clone()]),
        )
    };
    let mut out = vec![
        current.clone(),
        soa_at(&zone.origin, soa.ttl, Cow::Owned(old)),
    ];
    out.extend(deleted.into_iter().map(record));
    out.push(current.clone());
    out.extend(added.into_iter().map(record));
    out.push(current);
    Some(out)
}

/// Every RRset of the zone's transferred view, in transfer order: the SOA, everything
/// else, the SOA again.
pub fn zone_view(snapshot: &Snapshot, zone_index: usize) -> Vec<RRsetOut<'_>> {
    let zone = &snapshot.zones.zones[zone_index];
    let policies = &snapshot.policies[zone_index];
    let choices = &snapshot.choices[zone_index];
    // A client that matches no location: no GeoIP entry, latency row or CIDR block.
    let nowhere = Client {
        addr: std::net::Ipv4Addr::UNSPECIFIED.into(),
        prefix: 0,
    };
    let facts = Facts::new(&snapshot.locator, &policies.cidr_locations, &nowhere);
    let soa = RRsetOut {
        node: Some(zone.apex()),
        ..RRsetOut::new(
            zone.origin.clone(),
            RecordType::SOA,
            snapshot.soa(zone_index).ttl,
            Cow::Borrowed(&snapshot.soa(zone_index).rdatas),
        )
    };
    let mut out = vec![soa.clone()];
    for (_, i, node) in zone.nodes.keyed() {
        let name = zone.nodes.name(i);
        for set in node.rrsets.iter().filter(|s| s.rtype != RecordType::SOA) {
            out.push(RRsetOut::of(name.clone(), node, set));
        }
        for &(rtype, group) in &node.dynamic {
            let mut leaves = Vec::new();
            select::every_leaf(
                &policies.groups,
                choices,
                group as usize,
                &facts,
                &mut |l| leaves.push(l),
            );
            out.extend(leaves_to_rrset(zone, &leaves, rtype, &name));
        }
    }
    out.push(soa);
    out
}
