//! Writes a response: header, the question as asked, then whole RRsets while they fit.
//!
//! Truncation (RFC 2181 §9, RFC 9471): an RRset is never split. When an answer or
//! authority RRset — or a referral's glue — does not fit, the message stops there and
//! TC is set, so the client retries over TCP. Other additional data is simply left out.

use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use std::net::IpAddr;

use super::lookup::{Answer, RRsetOut};
use super::request::{ClientSubnet, Edns};

const HEADER_LEN: usize = 12;
const CLASS_IN: u16 = 1;
const TYPE_OPT: u16 = 41;
const OPT_NSID: u16 = 3;
const OPT_CLIENT_SUBNET: u16 = 8;

/// The EDNS part of a response (RFC 6891): sent only when the query had EDNS.
#[derive(Debug, Clone, Copy)]
pub struct EdnsReply<'a> {
    /// The payload size we advertise.
    pub payload: u16,
    /// The upper 8 bits of a 12-bit rcode (BADVERS = 16 is 1 here, 0 in the header).
    pub extended_rcode: u8,
    pub dnssec_ok: bool,
    pub nsid: Option<&'a [u8]>,
    /// The query's ECS option, echoed with a scope (RFC 7871 §7.2.1).
    pub client_subnet: Option<(ClientSubnet, u8)>,
}

impl EdnsReply<'_> {
    /// The OPT record's size on the wire.
    pub fn wire_len(&self) -> usize {
        11 + self.nsid.map_or(0, |n| 4 + n.len())
            + self
                .client_subnet
                .map_or(0, |(c, _)| 8 + ecs_address_len(&c))
    }
}

fn ecs_address_len(c: &ClientSubnet) -> usize {
    usize::from(c.source_prefix).div_ceil(8)
}

/// Header fields copied from the query (all zero: the blank header of a prepared answer).
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo {
    pub id: u16,
    pub opcode: u8,
    pub rd: bool,
    pub cd: bool,
}

/// Encodes a full answer into `out` (cleared first), using at most `limit` bytes.
pub fn encode_answer(
    out: &mut Vec<u8>,
    echo: Echo,
    question: (&Name, u16, u16),
    ans: &Answer<'_>,
    edns: Option<EdnsReply<'_>>,
    limit: usize,
) {
    out.clear();
    let records_limit = limit.saturating_sub(edns.map_or(0, |e| e.wire_len()));
    let mut counts = [0u16; 3];
    let mut truncated = false;
    {
        let mut enc = BinEncoder::new(out);
        write_header(&mut enc, echo);
        // Through hickory's encoder so later names can point into it; case is kept.
        let (qname, qtype, qclass) = question;
        let ok = qname.emit(&mut enc).is_ok()
            && enc.emit_u16(qtype).is_ok()
            && enc.emit_u16(qclass).is_ok();
        debug_assert!(ok, "a parsed question always re-encodes");

        let sections: [(&[RRsetOut<'_>], bool); 3] = [
            (&ans.answer, true),
            (&ans.authority, true),
            (&ans.additional, ans.referral),
        ];
        'sections: for (i, (sets, required)) in sections.into_iter().enumerate() {
            for set in sets {
                let mark = enc.offset();
                match emit_rrset(&mut enc, set) {
                    Ok(n) if enc.offset() <= records_limit => counts[i] += n,
                    _ => {
                        enc.set_offset(mark);
                        enc.trim();
                        truncated = required;
                        break 'sections;
                    }
                }
            }
        }
    }
    if let Some(e) = edns {
        push_opt(out, e);
        counts[2] += 1;
    }
    out[2] |= if ans.authoritative { 0x04 } else { 0 } | if truncated { 0x02 } else { 0 };
    out[3] |= ans.rcode as u8 & 0x0f;
    out[4..6].copy_from_slice(&1u16.to_be_bytes());
    out[6..8].copy_from_slice(&counts[0].to_be_bytes());
    out[8..10].copy_from_slice(&counts[1].to_be_bytes());
    out[10..12].copy_from_slice(&counts[2].to_be_bytes());
}

/// A response with no records: an error rcode, the question echoed when there is one.
pub fn encode_error(
    out: &mut Vec<u8>,
    echo: Echo,
    question: Option<(&[u8], u16, u16)>,
    rcode: u16,
    edns: Option<EdnsReply<'_>>,
) {
    out.clear();
    let mut enc = BinEncoder::new(out);
    write_header(&mut enc, echo);
    let mut qd = 0u16;
    if let Some((qname, qtype, qclass)) = question {
        if enc.emit_vec(qname).is_ok()
            && enc.emit_u16(qtype).is_ok()
            && enc.emit_u16(qclass).is_ok()
        {
            qd = 1;
        }
    }
    drop(enc);
    let ar = match edns {
        Some(e) => {
            push_opt(out, e);
            1u16
        }
        None => 0,
    };
    out[3] |= (rcode & 0x0f) as u8;
    out[4..6].copy_from_slice(&qd.to_be_bytes());
    out[10..12].copy_from_slice(&ar.to_be_bytes());
}

fn write_header(enc: &mut BinEncoder<'_>, echo: Echo) {
    let mut flags: u16 = 0x8000 | (u16::from(echo.opcode) << 11);
    if echo.rd {
        flags |= 0x0100;
    }
    if echo.cd {
        flags |= 0x0010;
    }
    let mut header = [0u8; HEADER_LEN];
    header[0..2].copy_from_slice(&echo.id.to_be_bytes());
    header[2..4].copy_from_slice(&flags.to_be_bytes());
    // Writing into an empty buffer with room for 64 KiB cannot fail.
    let _ = enc.emit_vec(&header);
}

/// Writes every record of the set; returns how many.
fn emit_rrset(enc: &mut BinEncoder<'_>, set: &RRsetOut<'_>) -> Result<u16, ()> {
    let e = |_| ();
    for rdata in set.rdatas.iter() {
        set.owner.emit(enc).map_err(e)?;
        enc.emit_u16(set.rtype.into()).map_err(e)?;
        enc.emit_u16(CLASS_IN).map_err(e)?;
        enc.emit_u32(set.ttl).map_err(e)?;
        let place = enc.place::<u16>().map_err(e)?;
        rdata.emit(enc).map_err(e)?;
        let len = enc.len_since_place(&place);
        place.replace(enc, len as u16).map_err(e)?;
    }
    Ok(set.rdatas.len() as u16)
}

/// Appends the OPT record (RFC 6891 §6.1.2) to a message; the caller counts it.
pub fn push_opt(out: &mut Vec<u8>, e: EdnsReply<'_>) {
    out.push(0); // root owner
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&e.payload.to_be_bytes());
    // Extended rcode, version 0, DO copied from the query (RFC 3225 §3); other flags zero.
    let ttl = (u32::from(e.extended_rcode) << 24) | if e.dnssec_ok { 0x8000 } else { 0 };
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&((e.wire_len() - 11) as u16).to_be_bytes());
    if let Some(nsid) = e.nsid {
        out.extend_from_slice(&OPT_NSID.to_be_bytes());
        out.extend_from_slice(&(nsid.len() as u16).to_be_bytes());
        out.extend_from_slice(nsid);
    }
    if let Some((c, scope)) = e.client_subnet {
        let n = ecs_address_len(&c);
        let (family, octets) = match c.addr {
            IpAddr::V4(a) => (1u16, a.to_ipv6_mapped().octets()),
            IpAddr::V6(a) => (2u16, a.octets()),
        };
        // An IPv4 address sits in the last four octets of its mapped form.
        let octets = if family == 1 {
            &octets[12..]
        } else {
            &octets[..]
        };
        out.extend_from_slice(&OPT_CLIENT_SUBNET.to_be_bytes());
        out.extend_from_slice(&(4 + n as u16).to_be_bytes());
        out.extend_from_slice(&family.to_be_bytes());
        out.push(c.source_prefix);
        out.push(scope.min(c.source_prefix));
        out.extend_from_slice(&octets[..n]);
    }
}

/// Our answer to an EDNS query, given what the client sent.
pub fn edns_reply<'a>(client: &Edns, payload: u16, nsid: Option<&'a [u8]>) -> EdnsReply<'a> {
    EdnsReply {
        payload,
        extended_rcode: 0,
        dnssec_ok: client.dnssec_ok,
        nsid: if client.nsid_requested { nsid } else { None },
        client_subnet: client.client_subnet.map(|c| (c, 0)),
    }
}
