//! Class CH: `id.server` and `hostname.bind` TXT (RFC 4892), so that an operator of
//! several nameservers can ask each which one answered: the NSID when one is configured,
//! else REFUSED. Every other CH question (`version.bind` included) is REFUSED.

use super::edns::append_opt;
use super::response::encode_error;
use super::wire::{CLASS_CH, RCODE_REFUSED};
use super::{Asked, Handled, Sink};
use crate::metrics::Outcome;

const TYPE_TXT: u16 = 16;
const TYPE_ANY: u16 = 255;
/// RFC 8914 §4.22: Not Supported.
const EDE_NOT_SUPPORTED: u16 = 21;

pub(super) fn answer(asked: &Asked<'_, '_>, nsid: Option<&[u8]>, sink: &mut impl Sink) -> Handled {
    let req = asked.req;
    let asks_identity = [&b"\x02id\x06server\x00"[..], b"\x08hostname\x04bind\x00"]
        .iter()
        .any(|n| req.qname.eq_ignore_ascii_case(n));
    let identity = nsid.filter(|n| n.len() <= 255);
    let (true, true, Some(identity)) = (
        asks_identity,
        matches!(req.qtype, TYPE_TXT | TYPE_ANY),
        identity,
    ) else {
        let out = sink.next_message();
        let question = Some((req.qname, req.qtype, req.qclass));
        let reply = asked
            .edns
            .reply
            .map(|e| e.with_ede(EDE_NOT_SUPPORTED, "only id.server and hostname.bind TXT"));
        encode_error(out, asked.echo, question, RCODE_REFUSED, reply);
        return Handled {
            zone: None,
            qtype: Some(req.qtype),
            outcome: Outcome::Rcode(RCODE_REFUSED),
        };
    };
    let out = sink.next_message();
    let question = Some((req.qname, req.qtype, req.qclass));
    encode_error(out, asked.echo, question, 0, None);
    // The answer: the question's name (a pointer to it), TXT CH, TTL 0.
    out.extend_from_slice(&[0xc0, 12]);
    out.extend_from_slice(&TYPE_TXT.to_be_bytes());
    out.extend_from_slice(&CLASS_CH.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&(identity.len() as u16 + 1).to_be_bytes());
    out.push(identity.len() as u8);
    out.extend_from_slice(identity);
    out[2] |= 0x04; // AA
    out[6..8].copy_from_slice(&1u16.to_be_bytes());
    if let Some(e) = asked.edns.reply {
        append_opt(out, e);
    }
    Handled {
        zone: None,
        qtype: Some(req.qtype),
        outcome: Outcome::Rcode(0),
    }
}
