//! Writes a response: header, the question as asked, then whole RRsets while they fit.
//!
//! Truncation (RFC 2181 §9, RFC 9471): an RRset is never split. When an answer or
//! authority RRset — or a referral's glue — does not fit, the message stops there and
//! TC is set, so the client retries over TCP. Other additional data is simply left out.

use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use super::edns::{push_opt, EdnsReply};
use super::encode::{QnameRefs, Writer};
use super::lookup::{Answer, RRsetOut};
use super::wire::{CLASS_IN, HEADER_LEN};

/// Header fields copied from the query (all zero: the blank header of a cached answer).
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo {
    pub id: u16,
    pub opcode: u8,
    pub rd: bool,
    pub cd: bool,
}

/// Encodes a full answer into `out` (cleared first), using at most `limit` bytes.
/// `pointers` gets where the compression pointers that a respelling moves are (see
/// `encode`).
pub fn encode_answer(
    out: &mut Vec<u8>,
    pointers: &mut Vec<u16>,
    echo: Echo,
    question: (&Name, u16, u16),
    ans: &Answer<'_>,
    edns: Option<EdnsReply<'_>>,
    (limit, qname_refs): (usize, QnameRefs),
) {
    let records_limit = limit.saturating_sub(edns.map_or(0, |e| e.wire_len()));
    let mut counts = [0u16; 3];
    let mut truncated = false;
    {
        let mut w = Writer::new(
            out,
            pointers,
            header(echo),
            question,
            ans.apex_len,
            qname_refs,
        );
        let sections: [(&[RRsetOut<'_>], bool); 3] = [
            (&ans.answer, true),
            (&ans.authority, true),
            (&ans.additional, ans.referral),
        ];
        'sections: for (i, (sets, required)) in sections.into_iter().enumerate() {
            for set in sets {
                let mark = w.mark();
                match w.rrset(set) {
                    Some(n) if w.len() <= records_limit => counts[i] += n,
                    _ => {
                        w.reset(mark);
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

/// Encodes as many of `sets` as fit in `limit` bytes into one message of a zone transfer
/// (AA set; the question only in the first message, RFC 5936 §2.2.1); returns how many
/// it took, at least one. `out` is cleared first.
pub fn encode_transfer_message(
    out: &mut Vec<u8>,
    echo: Echo,
    question: Option<(&Name, u16, u16)>,
    sets: &[RRsetOut<'_>],
    limit: usize,
) -> usize {
    out.clear();
    let mut records = 0u16;
    let mut taken = 0;
    {
        let mut enc = BinEncoder::new(out);
        write_header(&mut enc, echo);
        if let Some((qname, qtype, qclass)) = question {
            let ok = qname.emit(&mut enc).is_ok()
                && enc.emit_u16(qtype).is_ok()
                && enc.emit_u16(qclass).is_ok();
            debug_assert!(ok, "a parsed question always re-encodes");
        }
        for set in sets {
            let mark = enc.offset();
            match emit_rrset(&mut enc, set) {
                // The first RRset goes whatever its size: a message holds at least one.
                Ok(n) if taken == 0 || enc.offset() <= limit => {
                    records += n;
                    taken += 1;
                }
                _ => {
                    enc.set_offset(mark);
                    enc.trim();
                    break;
                }
            }
        }
    }
    out[2] |= 0x04;
    out[4..6].copy_from_slice(&u16::from(question.is_some()).to_be_bytes());
    out[6..8].copy_from_slice(&records.to_be_bytes());
    taken
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
    // Writing into an empty buffer with room for 64 KiB cannot fail.
    let _ = enc.emit_vec(&header(echo));
}

/// A response's header: QR, the opcode and the flags echoed; counts zero.
fn header(echo: Echo) -> [u8; HEADER_LEN] {
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
    header
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
