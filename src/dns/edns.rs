//! EDNS (RFC 6891), a step of its own: from the query's OPT record to the OPT of the
//! response — version, payload size and the room it leaves, DO, NSID (RFC 5001), and the
//! Client Subnet (RFC 7871) that says who the client is and gets its scope back.

use std::net::IpAddr;

use super::request::{ClientSubnet, Edns, Request};
use super::wire::{
    BADVERS_HIGH, MAX_MESSAGE, OPT_CLIENT_SUBNET, OPT_COOKIE, OPT_EDE, OPT_NSID, PLAIN_UDP,
    TYPE_OPT,
};
use super::{Responder, Transport};
use crate::client::Client;

/// What EDNS settled for one query.
#[derive(Debug, Clone, Copy)]
pub struct Negotiated<'a> {
    /// The OPT of the response; None when the query had none.
    pub reply: Option<EdnsReply<'a>>,
    /// The largest response: 64 KiB over TCP, else 512 without EDNS, else the client's
    /// payload size up to `max_udp_payload`.
    pub limit: usize,
    /// Room for records: the limit less the OPT record, which is written after them.
    pub room: usize,
    /// The client: its subnet when it sent one, else its address.
    pub client: Client,
    /// DO (RFC 3225): DNSSEC records are wanted.
    pub dnssec_ok: bool,
}

/// The OPT of an answer to a query that failed to parse but had a valid OPT.
pub fn for_rejected<'a>(edns: &Edns, responder: &'a Responder) -> EdnsReply<'a> {
    edns_reply(edns, responder.max_udp_payload, None)
}

/// Settles EDNS for `req`; Err is the BADVERS reply to a version we do not speak.
pub fn negotiate<'a>(
    req: &Request<'_>,
    responder: &'a Responder,
    transport: Transport,
    peer: IpAddr,
) -> Result<Negotiated<'a>, EdnsReply<'a>> {
    let reply = req.edns.as_ref().map(|e| EdnsReply {
        cookie: e.cookie.map(|c| responder.cookies.answer(&c.client, peer)),
        ..edns_reply(e, responder.max_udp_payload, responder.nsid.as_deref())
    });
    if let (Some(client), Some(reply)) = (&req.edns, reply) {
        if client.version != 0 {
            return Err(EdnsReply {
                extended_rcode: BADVERS_HIGH,
                nsid: None,
                ..reply
            });
        }
    }
    let limit = match (transport, &req.edns) {
        (Transport::Tcp, _) => MAX_MESSAGE,
        (Transport::Udp, None) => PLAIN_UDP,
        (Transport::Udp, Some(e)) => {
            usize::from(e.payload.min(responder.max_udp_payload)).max(PLAIN_UDP)
        }
    };
    let client = match req.edns.as_ref().and_then(|e| e.client_subnet) {
        Some(ecs) => Client {
            addr: ecs.addr,
            prefix: ecs.source_prefix,
        },
        None => Client::from_addr(peer),
    };
    Ok(Negotiated {
        reply,
        limit,
        room: limit.saturating_sub(reply.map_or(0, |e| e.wire_len())),
        client,
        dnssec_ok: req.edns.is_some_and(|e| e.dnssec_ok),
    })
}

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
    /// An Extended DNS Error (RFC 8914): the info-code and its text.
    pub ede: Option<(u16, &'static str)>,
    /// The COOKIE option to send: the client's cookie and a fresh server cookie.
    pub cookie: Option<[u8; 24]>,
}

impl EdnsReply<'_> {
    /// The OPT record's size on the wire.
    pub fn wire_len(&self) -> usize {
        11 + self.nsid.map_or(0, |n| 4 + n.len())
            + self.cookie.map_or(0, |c| 4 + c.len())
            + self.ede.map_or(0, |(_, text)| 6 + text.len())
            + self
                .client_subnet
                .map_or(0, |(c, _)| 8 + ecs_address_len(&c))
    }

    /// The reply with the ECS scope the answer earned (0: the client did not decide).
    pub fn with_scope(mut self, scope: Option<u8>) -> Self {
        if let Some((_, s)) = &mut self.client_subnet {
            *s = scope.unwrap_or(0);
        }
        self
    }

    /// The reply with an Extended DNS Error.
    pub fn with_ede(self, code: u16, text: &'static str) -> Self {
        EdnsReply {
            ede: Some((code, text)),
            ..self
        }
    }
}

fn ecs_address_len(c: &ClientSubnet) -> usize {
    usize::from(c.source_prefix).div_ceil(8)
}

/// Appends the OPT record to a finished message and counts it in ARCOUNT.
pub fn append_opt(out: &mut Vec<u8>, e: EdnsReply<'_>) {
    push_opt(out, e);
    let ar = u16::from_be_bytes([out[10], out[11]]) + 1;
    out[10..12].copy_from_slice(&ar.to_be_bytes());
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
    if let Some(cookie) = e.cookie {
        out.extend_from_slice(&OPT_COOKIE.to_be_bytes());
        out.extend_from_slice(&(cookie.len() as u16).to_be_bytes());
        out.extend_from_slice(&cookie);
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
    if let Some((code, text)) = e.ede {
        out.extend_from_slice(&OPT_EDE.to_be_bytes());
        out.extend_from_slice(&(2 + text.len() as u16).to_be_bytes());
        out.extend_from_slice(&code.to_be_bytes());
        out.extend_from_slice(text.as_bytes());
    }
}

/// Our answer to an EDNS query, given what the client sent.
fn edns_reply<'a>(client: &Edns, payload: u16, nsid: Option<&'a [u8]>) -> EdnsReply<'a> {
    EdnsReply {
        payload,
        extended_rcode: 0,
        dnssec_ok: client.dnssec_ok,
        nsid: if client.nsid_requested { nsid } else { None },
        client_subnet: client.client_subnet.map(|c| (c, 0)),
        ede: None,
        cookie: None,
    }
}
