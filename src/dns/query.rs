//! A standard query: the answer from the cache when the question was asked before,
//! else looked up, encoded, and (where it can be replayed) cached.

use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use super::cache::{AnswerCache, Cached, Encoded, Key, Prepared};
use super::edns::{append_opt, EdnsReply};
use super::encode::{self, QnameRefs};
use super::lookup::{self, Reuse};
use super::response::{encode_answer, Echo};
use super::tally::Tally;
use super::wire::{RCODE_FORMERR, RCODE_REFUSED};
use super::{Asked, Handled, Sink, Transport};
use crate::draw::Draw;
use crate::metrics::Outcome;
use crate::snapshot::Snapshot;
use std::sync::Arc;

pub(super) fn answer(
    asked: &Asked<'_, '_>,
    snapshot: &Arc<Snapshot>,
    (draw, tally): (&mut Draw, &mut Tally),
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
            (edns.dnssec_ok, asked.transport == Transport::Udp),
        )
    });
    let mut cache = cache.map(|c| c.for_snapshot(snapshot)).zip(key);
    let mut fresh = false;
    // Where a question not asked before lands, when its answer can be respelled.
    let mut landed = None;
    if let Some((cached, key)) = &mut cache {
        match cached.lookup(key) {
            (Some(Cached::Response(entry)), _) => {
                return replay(entry, asked, edns.reply, (snapshot, tally), sink)
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
                    return replay(entry, asked, reply, (snapshot, tally), sink);
                }
                // An outcome not cached yet: resolving with the same draw makes the
                // same choice, so that every outcome keeps its share.
                *draw = before;
                fresh = outcomes.is_full();
            }
            (Some(Cached::PerQuery), _) => fresh = true,
            (None, _) => {
                // With DO, a signed zone's denial records depend on the name too.
                let qname = key.qname();
                landed =
                    lookup::landed(snapshot, qname, RecordType::from(req.qtype)).and_then(|l| {
                        match crate::dnssec::answer::signer(snapshot, l.zone()) {
                            Some(signer) if edns.dnssec_ok => {
                                signer.proof_of(&l, qname).map(|p| l.with_proof(p))
                            }
                            _ => Some(l),
                        }
                    });
                if let Some(prepared) = landed.and_then(|l| cached.prepared(l, key)) {
                    let out = sink.next_message();
                    if let Some(handled) =
                        respelled(prepared, asked, edns.reply, (snapshot, tally), out)
                    {
                        return handled;
                    }
                    // Too long for the room or for a pointer: this one is built afresh.
                    fresh = true;
                }
            }
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
        let mut answer = lookup::resolve(snapshot, &edns.client, &lower, qtype, udp, draw, &mut ());
        if edns.dnssec_ok {
            signed(snapshot, &mut answer);
        }
        let question = (&lower, req.qtype, req.qclass);
        let entry = match &answer.reuse {
            Reuse::Always => {
                let refs = landed.map_or(QnameRefs::Any, |l| l.qname_refs());
                let entry = encode(
                    out,
                    &mut cache.pointers,
                    question,
                    &answer,
                    (edns.room, refs),
                );
                let truncated = entry.response[2] & 0x02 != 0;
                match landed {
                    // Kept by where it landed, for every name that lands there.
                    Some(l) if !truncated => {
                        let prepared = Prepared {
                            qname_len: key.qname().len(),
                            pointers: cache.pointers.as_slice().into(),
                            encoded: entry,
                        };
                        Some(&cache.insert_prepared(l, key, prepared).encoded)
                    }
                    _ => match cache.insert(key, Cached::Response(entry)) {
                        Cached::Response(entry) => Some(entry),
                        _ => None,
                    },
                }
            }
            Reuse::PerChoice { group, sets } => {
                let zone = answer.zone.expect("a selection is made in a zone");
                let room = (edns.room, QnameRefs::Any);
                let entry = encode(out, &mut cache.pointers, question, &answer, room);
                cache.insert_choice(key, (zone, *group), &answer.sets[sets.clone()], entry)
            }
            Reuse::Never => {
                cache.insert(key, Cached::PerQuery);
                None
            }
        };
        if let Some(entry) = entry {
            let reply = edns.reply.map(|e| e.with_scope(answer.client_scope));
            return replay_into(entry, asked, reply, (snapshot, tally), out);
        }
    }
    let mut answer = lookup::resolve(snapshot, &edns.client, &qname, qtype, udp, draw, &mut ());
    if edns.dnssec_ok {
        signed(snapshot, &mut answer);
    }
    if let Some(z) = answer.zone {
        tally.answers(snapshot, z, &answer.sets);
    }
    let outcome = Outcome::Rcode(answer.rcode as u16);
    let reply = edns
        .reply
        .map(|e| declined(e.with_scope(answer.client_scope), outcome));
    encode_answer(
        out,
        &mut Vec::new(),
        asked.echo,
        (&qname, req.qtype, req.qclass),
        &answer,
        reply,
        (edns.limit, QnameRefs::Any),
    );
    Handled {
        zone: answer.zone,
        qtype: Some(req.qtype),
        outcome,
    }
}

/// In a signed zone, what a DO query's answer carries besides (see `dnssec::answer`).
fn signed<'z>(snapshot: &'z Snapshot, answer: &mut lookup::Answer<'z>) {
    if let Some(signer) = answer
        .zone
        .and_then(|z| crate::dnssec::answer::signer(snapshot, z))
    {
        signer.complete(answer);
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
    pointers: &mut Vec<u16>,
    question: (&Name, u16, u16),
    answer: &lookup::Answer<'_>,
    room: (usize, QnameRefs),
) -> Encoded {
    encode_answer(out, pointers, Echo::default(), question, answer, None, room);
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
    (snapshot, tally): (&Arc<Snapshot>, &mut Tally),
    sink: &mut impl Sink,
) -> Handled {
    replay_into(entry, asked, edns, (snapshot, tally), sink.next_message())
}

/// Writes a cached answer for this query: its ID, the flags it echoes, the question as
/// it spelled it, and its EDNS; counts the answer's policy sets.
fn replay_into(
    entry: &Encoded,
    asked: &Asked<'_, '_>,
    edns: Option<EdnsReply<'_>>,
    (snapshot, tally): (&Arc<Snapshot>, &mut Tally),
    out: &mut Vec<u8>,
) -> Handled {
    let qname = asked.req.qname;
    out.clear();
    out.extend_from_slice(&entry.response);
    // Same name but for case, so the same length.
    out[12..12 + qname.len()].copy_from_slice(qname);
    finish_replay(entry, asked, edns, (snapshot, tally), out)
}

/// A prepared response for this query's name (see `cache`); None when it cannot be
/// respelled into the room the query has.
fn respelled(
    prepared: &Prepared,
    asked: &Asked<'_, '_>,
    edns: Option<EdnsReply<'_>>,
    (snapshot, tally): (&Arc<Snapshot>, &mut Tally),
    out: &mut Vec<u8>,
) -> Option<Handled> {
    let entry = &prepared.encoded;
    let name = asked.req.qname;
    encode::respell(
        &entry.response,
        prepared.qname_len,
        &prepared.pointers,
        name,
        out,
    )?;
    if out.len() > asked.edns.room {
        return None;
    }
    Some(finish_replay(entry, asked, edns, (snapshot, tally), out))
}

/// Completes a replayed response in `out`: the query's ID, the flags it echoes and its
/// EDNS; counts the answer's policy sets.
fn finish_replay(
    entry: &Encoded,
    asked: &Asked<'_, '_>,
    edns: Option<EdnsReply<'_>>,
    (snapshot, tally): (&Arc<Snapshot>, &mut Tally),
    out: &mut Vec<u8>,
) -> Handled {
    let echo = asked.echo;
    out[0..2].copy_from_slice(&echo.id.to_be_bytes());
    out[2] |= (echo.opcode << 3) | u8::from(echo.rd);
    out[3] |= u8::from(echo.cd) << 4;
    if let Some(e) = edns {
        append_opt(out, declined(e, entry.outcome));
    }
    if let Some(z) = entry.zone {
        tally.answers(snapshot, z, &entry.sets);
    }
    Handled {
        zone: entry.zone,
        qtype: Some(asked.req.qtype),
        outcome: entry.outcome,
    }
}
