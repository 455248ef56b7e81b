//! A standard query: the answer from the cache when the question was asked before,
//! else looked up, encoded, and (where it can be replayed) cached.

use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use super::cache::{AnswerCache, Cached, Encoded, Key};
use super::edns::{append_opt, EdnsReply};
use super::lookup::{self, Reuse};
use super::response::{encode_answer, Echo};
use super::wire::{RCODE_FORMERR, RCODE_REFUSED};
use super::{Asked, Handled, Sink, Transport};
use crate::draw::Draw;
use crate::metrics::Outcome;
use crate::snapshot::Snapshot;

pub(super) fn answer(
    asked: &Asked<'_, '_>,
    snapshot: &std::sync::Arc<Snapshot>,
    draw: &mut Draw,
    cache: Option<&mut AnswerCache>,
    sink: &mut impl Sink,
) -> Handled {
    let (req, edns) = (asked.req, &asked.edns);
    let key = cache.as_ref().and_then(|_| {
        Key::new(
            req.qname,
            req.qtype,
            req.qclass,
            edns.room as u16,
            edns.dnssec_ok,
        )
    });
    let mut cache = cache.map(|c| c.for_snapshot(snapshot)).zip(key);
    let mut fresh = false;
    if let Some((cached, key)) = &mut cache {
        match cached.lookup(key) {
            (Some(Cached::Response(entry)), _) => {
                return replay(entry, asked, edns.reply, snapshot, sink)
            }
            (Some(Cached::PerChoice(outcomes)), chosen) => {
                let before = draw.clone();
                let scope = lookup::choose(
                    snapshot,
                    outcomes.zone,
                    outcomes.group,
                    &edns.client,
                    draw,
                    chosen,
                );
                if let Some(entry) = outcomes.get(chosen) {
                    let reply = edns.reply.map(|e| e.with_scope(scope));
                    return replay(entry, asked, reply, snapshot, sink);
                }
                // An outcome not cached yet: resolving with the same draw makes the
                // same choice, so that every outcome keeps its share.
                *draw = before;
                fresh = outcomes.is_full();
            }
            (Some(Cached::PerQuery), _) => fresh = true,
            (None, _) => {}
        }
    }
    if fresh {
        cache = None;
    }

    let Ok(qname) = Name::read(&mut BinDecoder::new(req.qname)) else {
        return asked.error(sink, RCODE_FORMERR);
    };
    let qtype = RecordType::from(req.qtype);
    let udp = asked.transport == Transport::Udp;
    let out = sink.next_message();
    if let Some((cache, key)) = &mut cache {
        // Encoded from the name in lower case, so that no client's spelling stays in
        // it; each replay writes the question as its client spelled it.
        let lower = qname.to_lowercase();
        let answer = lookup::resolve(snapshot, &edns.client, &lower, qtype, udp, draw, &mut ());
        let question = (&lower, req.qtype, req.qclass);
        let entry = match &answer.reuse {
            Reuse::Always => {
                let entry = encode(out, question, &answer, edns.room);
                match cache.insert(key, Cached::Response(entry)) {
                    Cached::Response(entry) => Some(entry),
                    _ => None,
                }
            }
            Reuse::PerChoice { group, sets } => {
                let zone = answer.zone.expect("a selection is made in a zone");
                let entry = encode(out, question, &answer, edns.room);
                cache.insert_choice(key, (zone, *group), &answer.sets[sets.clone()], entry)
            }
            Reuse::Never => {
                cache.insert(key, Cached::PerQuery);
                None
            }
        };
        if let Some(entry) = entry {
            let reply = edns.reply.map(|e| e.with_scope(answer.client_scope));
            return replay_into(entry, asked, reply, snapshot, out);
        }
    }
    let answer = lookup::resolve(snapshot, &edns.client, &qname, qtype, udp, draw, &mut ());
    if let Some(z) = answer.zone {
        snapshot.metrics[z].count_answers(&answer.sets);
    }
    let outcome = Outcome::Rcode(answer.rcode as u16);
    let reply = edns
        .reply
        .map(|e| declined(e.with_scope(answer.client_scope), outcome));
    encode_answer(
        out,
        asked.echo,
        (&qname, req.qtype, req.qclass),
        &answer,
        reply,
        edns.limit,
    );
    Handled {
        zone: answer.zone,
        qtype: Some(req.qtype),
        outcome,
    }
}

/// RFC 8914 §4.21: a name in no zone served here is REFUSED as Not Authoritative.
fn declined(reply: EdnsReply<'_>, outcome: Outcome) -> EdnsReply<'_> {
    match outcome {
        Outcome::Rcode(RCODE_REFUSED) => reply.with_ede(20, "not authoritative for this name"),
        _ => reply,
    }
}

/// Encodes `answer` for the cache: for the question in lower case, with a blank header
/// and no EDNS (both written per query by `replay`).
fn encode(
    out: &mut Vec<u8>,
    question: (&Name, u16, u16),
    answer: &lookup::Answer<'_>,
    room: usize,
) -> Encoded {
    encode_answer(out, Echo::default(), question, answer, None, room);
    Encoded {
        response: out.as_slice().into(),
        zone: answer.zone,
        outcome: Outcome::Rcode(answer.rcode as u16),
        sets: answer.sets.as_slice().into(),
    }
}

fn replay(
    entry: &Encoded,
    asked: &Asked<'_, '_>,
    edns: Option<EdnsReply<'_>>,
    snapshot: &Snapshot,
    sink: &mut impl Sink,
) -> Handled {
    replay_into(entry, asked, edns, snapshot, sink.next_message())
}

/// Writes a cached answer for this query: its ID, the flags it echoes, the question as
/// it spelled it, and its EDNS; counts the answer's policy sets.
fn replay_into(
    entry: &Encoded,
    asked: &Asked<'_, '_>,
    edns: Option<EdnsReply<'_>>,
    snapshot: &Snapshot,
    out: &mut Vec<u8>,
) -> Handled {
    let (echo, qname) = (asked.echo, asked.req.qname);
    out.clear();
    out.extend_from_slice(&entry.response);
    out[0..2].copy_from_slice(&echo.id.to_be_bytes());
    out[2] |= (echo.opcode << 3) | u8::from(echo.rd);
    out[3] |= u8::from(echo.cd) << 4;
    // Same name but for case, so the same length.
    out[12..12 + qname.len()].copy_from_slice(qname);
    if let Some(e) = edns {
        append_opt(out, declined(e, entry.outcome));
    }
    if let Some(z) = entry.zone {
        snapshot.metrics[z].count_answers(&entry.sets);
    }
    Handled {
        zone: entry.zone,
        qtype: Some(asked.req.qtype),
        outcome: entry.outcome,
    }
}
