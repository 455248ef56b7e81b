//! TSIG (RFC 8945), a step before any handler: a signed message is answered only when
//! its key is known and its MAC verifies. No keys are configured yet, so every signed
//! message names a key the server does not know: NOTAUTH with a TSIG record whose error
//! is BADKEY, itself unsigned (§5.2.2), and the question is not answered.

use super::edns::append_opt;
use super::request::Tsig;
use super::response::encode_error;
use super::wire::{CLASS_ANY, RCODE_NOTAUTH, TSIG_BADKEY, TYPE_TSIG};
use super::{Asked, Handled, Sink};
use crate::metrics::Outcome;

pub(super) fn unknown_key(asked: &Asked<'_, '_>, tsig: &Tsig<'_>, sink: &mut impl Sink) -> Handled {
    let req = asked.req;
    let out = sink.next_message();
    let question = Some((req.qname, req.qtype, req.qclass));
    encode_error(out, asked.echo, question, RCODE_NOTAUTH, None);
    if let Some(e) = asked.edns.reply {
        append_opt(out, e);
    }
    // The TSIG record goes last.
    out.extend_from_slice(tsig.key);
    out.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    let rdlen = tsig.algorithm.len() + 6 + 2 + 2 + 2 + 2 + 2;
    out.extend_from_slice(&(rdlen as u16).to_be_bytes());
    out.extend_from_slice(tsig.algorithm);
    out.extend_from_slice(&tsig.time_signed);
    out.extend_from_slice(&tsig.fudge.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes()); // MAC size: no MAC
    out.extend_from_slice(&req.id.to_be_bytes()); // original ID
    out.extend_from_slice(&TSIG_BADKEY.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes()); // other len
    let ar = u16::from_be_bytes([out[10], out[11]]) + 1;
    out[10..12].copy_from_slice(&ar.to_be_bytes());
    Handled {
        zone: None,
        qtype: Some(req.qtype),
        outcome: Outcome::Rcode(RCODE_NOTAUTH),
    }
}
