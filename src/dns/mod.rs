//! The query path: bytes in, bytes out. Transport-agnostic; `server` owns the sockets.

pub mod explain;
pub mod lookup;
pub mod prepared;
pub mod request;
pub mod response;

use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::config::ServerConfig;
use crate::load::Dataset;
use crate::metrics::{Outcome, ZoneQueries};
use crate::policy::select::Draw;
use lookup::{Client, Rcode, Reuse};
use prepared::{AnswerCache, Entry, Key, Prepared};
use request::{Reject, RCODE_FORMERR};
use response::{edns_reply, encode_answer, encode_error, push_opt, Echo, EdnsReply};

const CLASS_IN: u16 = 1;
/// Largest DNS message; TCP responses may use all of it.
const MAX_MESSAGE: usize = 65535;
/// RFC 1035 §4.2.1: UDP without EDNS.
const PLAIN_UDP: usize = 512;
/// RFC 6891 §7: BADVERS is 16: 1 in the OPT's extended rcode, 0 in the header.
const BADVERS_HIGH: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// The settings that shape responses.
#[derive(Debug, Clone)]
pub struct Responder {
    pub nsid: Option<Vec<u8>>,
    pub max_udp_payload: u16,
    /// Log a line per query (`--log-queries`).
    pub log_queries: bool,
}

/// What one worker (a UDP thread, a TCP connection) keeps from query to query.
pub struct Local {
    /// Randomness for weighted and multivalue answers.
    pub draw: Draw,
    /// Prepared answers (see [`prepared`]), where the worker keeps them.
    pub prepared: Option<AnswerCache>,
}

impl Local {
    pub fn new(draw: Draw, prepare: bool) -> Self {
        Local {
            draw,
            prepared: prepare.then(AnswerCache::default),
        }
    }
}

/// What one packet got, for the metrics and the query log.
struct Handled {
    zone: Option<usize>,
    qtype: Option<u16>,
    outcome: Outcome,
}

impl Responder {
    pub fn new(server: &ServerConfig, log_queries: bool) -> Self {
        Responder {
            nsid: server.nsid.as_ref().map(|n| n.as_bytes().to_vec()),
            max_udp_payload: server.max_udp_payload,
            log_queries,
        }
    }

    /// Answers one packet from `peer` into `out`, and counts it. Returns false when the
    /// packet gets no reply at all (too short to carry an ID, or itself a response).
    pub fn handle(
        &self,
        packet: &[u8],
        transport: Transport,
        peer: IpAddr,
        data: &Arc<Dataset>,
        local: &mut Local,
        out: &mut Vec<u8>,
    ) -> bool {
        let draw = &mut local.draw;
        // Logged queries take the full path, which knows the name.
        let cache = local.prepared.as_mut().filter(|_| !self.log_queries);
        let handled = self.respond(packet, transport, peer, data, draw, cache, out);
        let queries = match handled.zone {
            Some(z) => &data.metrics[z].queries,
            None => ZoneQueries::other(),
        };
        queries.count(handled.qtype, handled.outcome, transport == Transport::Tcp);
        if self.log_queries {
            log_query(packet, transport, peer, data, &handled);
        }
        handled.outcome != Outcome::Dropped
    }

    #[allow(clippy::too_many_arguments)]
    fn respond(
        &self,
        packet: &[u8],
        transport: Transport,
        peer: IpAddr,
        data: &Arc<Dataset>,
        draw: &mut Draw,
        cache: Option<&mut AnswerCache>,
        out: &mut Vec<u8>,
    ) -> Handled {
        let mut handled = Handled {
            zone: None,
            qtype: None,
            outcome: Outcome::Dropped,
        };
        let req = match request::parse(packet) {
            Ok(r) => r,
            Err(Reject::Drop) => return handled,
            Err(Reject::Error {
                id,
                opcode,
                rd,
                rcode,
                question,
            }) => {
                let echo = Echo {
                    id,
                    opcode,
                    rd,
                    cd: false,
                };
                handled.qtype = question.map(|(_, qtype, _)| qtype);
                handled.outcome = Outcome::Rcode(rcode);
                encode_error(out, echo, question, rcode, None);
                return handled;
            }
        };
        handled.qtype = Some(req.qtype);
        let echo = Echo {
            id: req.id,
            opcode: req.opcode,
            rd: req.rd,
            cd: req.cd,
        };
        let question = Some((req.qname, req.qtype, req.qclass));
        let edns = req
            .edns
            .as_ref()
            .map(|e| edns_reply(e, self.max_udp_payload, self.nsid.as_deref()));
        let mut error = |rcode: u16, edns: Option<EdnsReply<'_>>| {
            let extended = edns.map_or(0, |e| u16::from(e.extended_rcode) << 4);
            encode_error(out, echo, question, rcode, edns);
            Outcome::Rcode(extended | rcode)
        };

        if let Some(client) = &req.edns {
            if client.version != 0 {
                let reply = EdnsReply {
                    extended_rcode: BADVERS_HIGH,
                    nsid: None,
                    ..edns.expect("EDNS present")
                };
                handled.outcome = error(0, Some(reply));
                return handled;
            }
        }
        let qtype = RecordType::from(req.qtype);
        if qtype == RecordType::OPT {
            handled.outcome = error(RCODE_FORMERR, edns);
            return handled;
        }
        // Other classes, and zone transfers, which hadns does not offer.
        if req.qclass != CLASS_IN || matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            handled.outcome = error(Rcode::Refused as u16, edns);
            return handled;
        }
        let limit = match (transport, &req.edns) {
            (Transport::Tcp, _) => MAX_MESSAGE,
            (Transport::Udp, None) => PLAIN_UDP,
            (Transport::Udp, Some(e)) => {
                usize::from(e.payload.min(self.max_udp_payload)).max(PLAIN_UDP)
            }
        };
        // Room for records: the OPT record is written after them.
        let room = limit.saturating_sub(edns.map_or(0, |e| e.wire_len()));
        let client = match req.edns.as_ref().and_then(|e| e.client_subnet) {
            Some(ecs) => Client {
                addr: ecs.addr,
                prefix: ecs.source_prefix,
            },
            None => Client {
                addr: peer,
                prefix: if peer.is_ipv4() { 32 } else { 128 },
            },
        };
        let key = cache
            .as_ref()
            .and_then(|_| Key::new(req.qname, req.qtype, req.qclass, room as u16));
        let mut cache = cache.map(|c| c.for_dataset(data)).zip(key);
        let mut fresh = false;
        if let Some((prepared, key)) = &mut cache {
            match prepared.lookup(key) {
                (Some(Prepared::Response(entry)), _) => {
                    return replay(entry, echo, req.qname, req.qtype, edns, data, out)
                }
                (Some(Prepared::PerChoice(choices)), chosen) => {
                    let before = draw.clone();
                    let scope =
                        lookup::choose(data, choices.zone, choices.group, &client, draw, chosen);
                    if let Some(entry) = choices.get(chosen) {
                        let edns = with_scope(edns, scope);
                        return replay(entry, echo, req.qname, req.qtype, edns, data, out);
                    }
                    // An outcome not prepared yet: resolving with the same draw makes the
                    // same choice, so that every outcome keeps its share.
                    *draw = before;
                    fresh = choices.is_full();
                }
                (Some(Prepared::PerQuery), _) => fresh = true,
                (None, _) => {}
            }
        }
        if fresh {
            cache = None;
        }

        let Ok(qname) = Name::read(&mut BinDecoder::new(req.qname)) else {
            handled.outcome = error(RCODE_FORMERR, edns);
            return handled;
        };
        let udp = transport == Transport::Udp;
        if let Some((cache, key)) = &mut cache {
            // Prepared from the name in lower case, so that no client's spelling stays
            // in it; each replay writes the question as its client spelled it.
            let lower = qname.to_lowercase();
            let answer = lookup::resolve(data, &client, &lower, qtype, udp, draw, &mut ());
            let question = (&lower, req.qtype, req.qclass);
            let entry = match &answer.reuse {
                Reuse::Always => {
                    let entry = prepare(out, question, &answer, room);
                    match cache.insert(key, Prepared::Response(entry)) {
                        Prepared::Response(entry) => Some(entry),
                        _ => None,
                    }
                }
                Reuse::PerChoice { group, sets } => {
                    let zone = answer.zone.expect("a selection is made in a zone");
                    let entry = prepare(out, question, &answer, room);
                    cache.insert_choice(key, (zone, *group), &answer.sets[sets.clone()], entry)
                }
                Reuse::Never => {
                    cache.insert(key, Prepared::PerQuery);
                    None
                }
            };
            if let Some(entry) = entry {
                let edns = with_scope(edns, answer.client_scope);
                return replay(entry, echo, req.qname, req.qtype, edns, data, out);
            }
        }
        let answer = lookup::resolve(data, &client, &qname, qtype, udp, draw, &mut ());
        if let Some(z) = answer.zone {
            data.metrics[z].count_answers(&answer.sets);
        }
        let edns = with_scope(edns, answer.client_scope);
        encode_answer(
            out,
            echo,
            (&qname, req.qtype, req.qclass),
            &answer,
            edns,
            limit,
        );
        Handled {
            zone: answer.zone,
            qtype: Some(req.qtype),
            outcome: Outcome::Rcode(answer.rcode as u16),
        }
    }
}

/// Encodes `answer` for a prepared entry: for the question in lower case, with a blank
/// header and no EDNS (both written per query by `replay`).
fn prepare(
    out: &mut Vec<u8>,
    question: (&Name, u16, u16),
    answer: &lookup::Answer<'_>,
    room: usize,
) -> Entry {
    encode_answer(out, Echo::default(), question, answer, None, room);
    Entry {
        response: out.as_slice().into(),
        zone: answer.zone,
        outcome: Outcome::Rcode(answer.rcode as u16),
        sets: answer.sets.as_slice().into(),
    }
}

/// The EDNS reply with the ECS scope the answer earned (0: the client did not decide).
fn with_scope(edns: Option<EdnsReply<'_>>, scope: Option<u8>) -> Option<EdnsReply<'_>> {
    edns.map(|mut e| {
        if let Some((_, s)) = &mut e.client_subnet {
            *s = scope.unwrap_or(0);
        }
        e
    })
}

/// Writes a prepared answer for this query: its ID, the flags it echoes, the question
/// as it spelled it, and its EDNS; counts the answer's policy sets.
fn replay(
    entry: &Entry,
    echo: Echo,
    qname: &[u8],
    qtype: u16,
    edns: Option<EdnsReply<'_>>,
    data: &Dataset,
    out: &mut Vec<u8>,
) -> Handled {
    out.clear();
    out.extend_from_slice(&entry.response);
    out[0..2].copy_from_slice(&echo.id.to_be_bytes());
    out[2] |= (echo.opcode << 3) | u8::from(echo.rd);
    out[3] |= u8::from(echo.cd) << 4;
    // Same name but for case, so the same length.
    out[12..12 + qname.len()].copy_from_slice(qname);
    if let Some(e) = edns {
        push_opt(out, e);
        let ar = u16::from_be_bytes([out[10], out[11]]) + 1;
        out[10..12].copy_from_slice(&ar.to_be_bytes());
    }
    if let Some(z) = entry.zone {
        data.metrics[z].count_answers(&entry.sets);
    }
    Handled {
        zone: entry.zone,
        qtype: Some(qtype),
        outcome: entry.outcome,
    }
}

/// One line per query, for `--log-queries`: off the fast path, so it re-reads the name.
fn log_query(packet: &[u8], transport: Transport, peer: IpAddr, data: &Dataset, h: &Handled) {
    let qname = request::parse(packet)
        .ok()
        .and_then(|r| Name::read(&mut BinDecoder::new(r.qname)).ok())
        .map_or_else(|| "-".to_owned(), |n| n.to_string());
    let qtype = h
        .qtype
        .map_or_else(|| "-".to_owned(), |t| RecordType::from(t).to_string());
    let zone = h.zone.map_or_else(
        || "-".to_owned(),
        |z| data.zones.zones[z].origin.to_string(),
    );
    tracing::info!(
        client = %peer,
        qname,
        qtype,
        zone,
        rcode = h.outcome.name(),
        transport = if transport == Transport::Tcp { "tcp" } else { "udp" },
        "query"
    );
}
