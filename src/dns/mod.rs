//! The DNS service: bytes in, bytes out, transport-agnostic (`server` owns the sockets).
//!
//! One packet goes: `request` (parse) → `edns` (negotiate) → `tsig` (verify) → the
//! dispatch by opcode, class and query type → a handler: `query` (answers, from `lookup`
//! and the `cache`, encoded by `response` through `encode`), `transfer` (AXFR/IXFR), `notify` (NOTIFY) or
//! `chaos` (CH), each writing its messages into a [`Sink`].

pub mod cache;
mod chaos;
pub mod cookie;
pub mod edns;
pub mod encode;
pub mod explain;
pub mod lookup;
mod notify;
mod query;
pub mod request;
pub mod response;
pub mod rrl;
pub mod tally;
pub mod transfer;
pub mod tsig;
pub mod wire;

use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::config::Config;
use crate::draw::Draw;
use crate::metrics::{Outcome, ZoneQueries};
use crate::snapshot::Snapshot;
use cache::AnswerCache;
use edns::EdnsReply;
use request::{Reject, Request};
use response::{encode_error, Echo};
use wire::{CLASS_CH, CLASS_IN, OPCODE_NOTIFY, RCODE_FORMERR, RCODE_REFUSED, TYPE_OPT};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Where a handler writes its responses: one message over UDP; over TCP as many as it
/// needs (a zone transfer), each framed by the transport.
pub trait Sink {
    /// An empty buffer for the next message; asking again ends the one before.
    fn next_message(&mut self) -> &mut Vec<u8>;
}

/// A UDP reply: exactly one message, in this buffer.
impl Sink for Vec<u8> {
    fn next_message(&mut self) -> &mut Vec<u8> {
        self.clear();
        self
    }
}

/// The settings that shape responses.
#[derive(Debug, Clone)]
pub struct Responder {
    pub nsid: Option<Vec<u8>>,
    pub max_udp_payload: u16,
    /// Log a line per query (`--log-queries`).
    pub log_queries: bool,
    /// Who may transfer zones (`[transfer] allow`).
    pub transfer_allow: Vec<ipnet::IpNet>,
    /// TSIG keys, and the one transfers need.
    pub tsig: tsig::Keys,
    /// DNS Cookies: the server cookies given and checked.
    pub cookies: cookie::Cookies,
    /// Response rate limiting of UDP answers; None when off.
    pub rate_limit: Option<Arc<rrl::RateLimiter>>,
}

/// What one worker (a UDP thread, a TCP connection) keeps from query to query.
pub struct Local {
    /// Randomness for weighted and multivalue answers.
    pub draw: Draw,
    /// Cached answers (see [`cache`]), where the worker keeps them.
    pub cache: Option<AnswerCache>,
    /// Whether the last query came with a good server cookie (its source is real):
    /// rate limiting spares it. Only set while rate limiting is on.
    pub good_cookie: bool,
    /// Counts not yet handed to the shared counters: the worker calls
    /// [`Local::flush_counts`] after each batch.
    pub tally: tally::Tally,
}

impl Local {
    pub fn new(draw: Draw, cache: bool) -> Self {
        Local {
            draw,
            cache: cache.then(AnswerCache::default),
            good_cookie: false,
            tally: tally::Tally::default(),
        }
    }

    /// Hands what this worker counted to the shared counters.
    pub fn flush_counts(&mut self) {
        self.tally.flush();
    }
}

/// What one packet got, for the metrics and the query log.
struct Handled {
    zone: Option<usize>,
    qtype: Option<u16>,
    outcome: Outcome,
}

/// Which handler a query goes to.
enum Route {
    Query,
    Transfer,
    Notify,
    Chaos,
    /// Answered with this rcode and no records, and why (an Extended DNS Error).
    Error(u16, Option<(u16, &'static str)>),
}

/// RFC 8914 §4.22: Not Supported.
const EDE_NOT_SUPPORTED: u16 = 21;
/// RFC 9824 §9: Invalid Query Type.
const EDE_INVALID_QUERY_TYPE: u16 = 30;

/// The dispatch: by opcode, then by query type and class.
fn route(req: &Request<'_>) -> Route {
    if req.opcode == OPCODE_NOTIFY {
        return Route::Notify;
    }
    match RecordType::from(req.qtype) {
        _ if req.qtype == TYPE_OPT => Route::Error(RCODE_FORMERR, None),
        // RFC 9824 §3.5: NXNAME only ever appears in a compact denial's bitmap.
        _ if req.qtype == crate::dnssec::answer::NXNAME => Route::Error(
            RCODE_FORMERR,
            Some((EDE_INVALID_QUERY_TYPE, "NXNAME is not a type to ask for")),
        ),
        _ if req.qclass == CLASS_CH => Route::Chaos,
        // Other classes: hadns serves IN only.
        _ if req.qclass != CLASS_IN => Route::Error(
            RCODE_REFUSED,
            Some((EDE_NOT_SUPPORTED, "only class IN is served")),
        ),
        RecordType::AXFR | RecordType::IXFR => Route::Transfer,
        _ => Route::Query,
    }
}

/// One query in a handler's hands.
#[derive(Clone, Copy)]
struct Asked<'q, 'r> {
    req: &'q Request<'q>,
    /// Where the query came from (not its client subnet).
    peer: IpAddr,
    echo: Echo,
    edns: edns::Negotiated<'r>,
    transport: Transport,
}

impl Asked<'_, '_> {
    /// A response with no records but the question: `rcode`, with the query's EDNS.
    fn error(&self, sink: &mut impl Sink, rcode: u16) -> Handled {
        error_reply(sink, self.echo, self.req, rcode, self.edns.reply)
    }

    /// The same, saying why in an Extended DNS Error (RFC 8914) when the query has EDNS.
    fn declined(&self, sink: &mut impl Sink, rcode: u16, ede: (u16, &'static str)) -> Handled {
        let reply = self.edns.reply.map(|e| e.with_ede(ede.0, ede.1));
        error_reply(sink, self.echo, self.req, rcode, reply)
    }
}

impl Responder {
    pub fn new(config: &Config, log_queries: bool) -> Result<Self, String> {
        Ok(Responder {
            nsid: config.server.nsid.as_ref().map(|n| n.as_bytes().to_vec()),
            max_udp_payload: config.server.max_udp_payload,
            log_queries,
            transfer_allow: config.transfer.allow.clone(),
            tsig: tsig::Keys::new(config)?,
            rate_limit: rrl::RateLimiter::new(&config.rate_limit).map(Arc::new),
            cookies: cookie::Cookies::new(config.cluster.as_ref().map(|c| c.key.0.as_slice())),
        })
    }

    /// Answers one packet from `peer` into `sink`, and counts it. Returns false when the
    /// packet gets no reply at all (too short to carry an ID, or itself a response).
    pub fn handle(
        &self,
        packet: &[u8],
        transport: Transport,
        peer: IpAddr,
        snapshot: &Arc<Snapshot>,
        local: &mut Local,
        sink: &mut impl Sink,
    ) -> bool {
        let handled = self.respond(packet, transport, peer, snapshot, local, sink);
        let cell = ZoneQueries::cell(handled.qtype, handled.outcome, transport == Transport::Tcp);
        local.tally.query(snapshot, handled.zone, cell);
        if self.log_queries {
            log_query(packet, transport, peer, snapshot, &handled);
        }
        handled.outcome != Outcome::Dropped
    }

    fn respond(
        &self,
        packet: &[u8],
        transport: Transport,
        peer: IpAddr,
        snapshot: &Arc<Snapshot>,
        local: &mut Local,
        sink: &mut impl Sink,
    ) -> Handled {
        local.good_cookie = false;
        let req = match request::parse(packet) {
            Ok(r) => r,
            Err(Reject::Drop) => {
                return Handled {
                    zone: None,
                    qtype: None,
                    outcome: Outcome::Dropped,
                }
            }
            Err(Reject::Error {
                id,
                opcode,
                rd,
                rcode,
                question,
                edns,
            }) => {
                let echo = Echo {
                    id,
                    opcode,
                    rd,
                    cd: false,
                };
                let reply = edns.map(|e| edns::for_rejected(&e, self));
                encode_error(sink.next_message(), echo, question, rcode, reply);
                return Handled {
                    zone: None,
                    qtype: question.map(|(_, qtype, _)| qtype),
                    outcome: Outcome::Rcode(rcode),
                };
            }
        };
        let echo = Echo {
            id: req.id,
            opcode: req.opcode,
            rd: req.rd,
            cd: req.cd,
        };
        // Only rate limiting asks, so only then is the cookie checked.
        local.good_cookie = self.rate_limit.is_some()
            && req
                .edns
                .and_then(|e| e.cookie)
                .is_some_and(|c| self.cookies.is_good(&c, peer));
        let edns = match edns::negotiate(&req, self, transport, peer) {
            Ok(e) => e,
            Err(badvers) => return error_reply(sink, echo, &req, 0, Some(badvers)),
        };
        let asked = Asked {
            req: &req,
            peer,
            echo,
            edns,
            transport,
        };
        match tsig::verify(&self.tsig, &asked, packet, sink) {
            tsig::Verdict::Rejected(handled) => handled,
            tsig::Verdict::Unsigned => self.dispatch(&asked, None, snapshot, local, sink),
            tsig::Verdict::Signed(signing) => {
                let key = signing.key().clone();
                let mut signed = tsig::SignedSink::new(sink, signing);
                let handled = self.dispatch(&asked, Some(&key), snapshot, local, &mut signed);
                signed.finish();
                handled
            }
        }
    }

    /// Hands the query to its handler; `signed_by` is the TSIG key it was signed with.
    fn dispatch(
        &self,
        asked: &Asked<'_, '_>,
        signed_by: Option<&Name>,
        snapshot: &Arc<Snapshot>,
        local: &mut Local,
        sink: &mut impl Sink,
    ) -> Handled {
        let asked = *asked;
        match route(asked.req) {
            Route::Query => {
                // Logged queries take the full path, which knows the name; signed answers
                // are not cached.
                let cache = local
                    .cache
                    .as_mut()
                    .filter(|_| !self.log_queries && signed_by.is_none());
                query::answer(
                    &asked,
                    snapshot,
                    (&mut local.draw, &mut local.tally),
                    cache,
                    sink,
                )
            }
            Route::Transfer => {
                let allow = transfer::Allowed {
                    networks: &self.transfer_allow,
                    key: self.tsig.required(),
                    signed_by,
                };
                transfer::answer(&asked, snapshot, allow, sink)
            }
            Route::Notify => notify::answer(&asked, sink),
            Route::Chaos => chaos::answer(&asked, self.nsid.as_deref(), sink),
            Route::Error(rcode, None) => asked.error(sink, rcode),
            Route::Error(rcode, Some(ede)) => asked.declined(sink, rcode, ede),
        }
    }
}

/// Writes a response with no records: `rcode` (its high bits in the OPT, if any).
fn error_reply(
    sink: &mut impl Sink,
    echo: Echo,
    req: &Request<'_>,
    rcode: u16,
    edns: Option<EdnsReply<'_>>,
) -> Handled {
    let extended = edns.map_or(0, |e| u16::from(e.extended_rcode) << 4);
    let question = Some((req.qname, req.qtype, req.qclass));
    encode_error(sink.next_message(), echo, question, rcode, edns);
    Handled {
        zone: None,
        qtype: Some(req.qtype),
        outcome: Outcome::Rcode(extended | rcode),
    }
}

/// One line per query, for `--log-queries`: off the fast path, so it re-reads the name.
fn log_query(packet: &[u8], transport: Transport, peer: IpAddr, snapshot: &Snapshot, h: &Handled) {
    let qname = request::parse(packet)
        .ok()
        .and_then(|r| Name::read(&mut BinDecoder::new(r.qname)).ok())
        .map_or_else(|| "-".to_owned(), |n| n.to_string());
    let qtype = h
        .qtype
        .map_or_else(|| "-".to_owned(), |t| RecordType::from(t).to_string());
    let zone = h.zone.map_or_else(
        || "-".to_owned(),
        |z| snapshot.zones.zones[z].origin.to_string(),
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
