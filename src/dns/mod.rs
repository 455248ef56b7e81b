//! The query path: bytes in, bytes out. Transport-agnostic; `server` owns the sockets.

pub mod lookup;
pub mod request;
pub mod response;

use std::net::IpAddr;

use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::config::ServerConfig;
use crate::load::Dataset;
use crate::policy::select::Draw;
use lookup::{Client, Rcode};
use request::{Reject, RCODE_FORMERR};
use response::{edns_reply, encode_answer, encode_error, Echo, EdnsReply};

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
}

impl Responder {
    pub fn new(server: &ServerConfig) -> Self {
        Responder {
            nsid: server.nsid.as_ref().map(|n| n.as_bytes().to_vec()),
            max_udp_payload: server.max_udp_payload,
        }
    }

    /// Answers one packet from `peer` into `out`. Returns false when the packet gets no
    /// reply at all (too short to carry an ID, or itself a response). `draw` is the
    /// caller's randomness for weighted and multivalue answers.
    pub fn handle(
        &self,
        packet: &[u8],
        transport: Transport,
        peer: IpAddr,
        data: &Dataset,
        draw: &mut Draw,
        out: &mut Vec<u8>,
    ) -> bool {
        let req = match request::parse(packet) {
            Ok(r) => r,
            Err(Reject::Drop) => return false,
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
                encode_error(out, echo, question, rcode, None);
                return true;
            }
        };
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

        if let Some(client) = &req.edns {
            if client.version != 0 {
                let reply = EdnsReply {
                    extended_rcode: BADVERS_HIGH,
                    nsid: None,
                    ..edns.expect("EDNS present")
                };
                encode_error(out, echo, question, 0, Some(reply));
                return true;
            }
        }
        let qtype = RecordType::from(req.qtype);
        if qtype == RecordType::OPT {
            encode_error(out, echo, question, RCODE_FORMERR, edns);
            return true;
        }
        // Other classes, and zone transfers, which hadns does not offer.
        if req.qclass != CLASS_IN || matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            encode_error(out, echo, question, Rcode::Refused as u16, edns);
            return true;
        }
        let Ok(qname) = Name::read(&mut BinDecoder::new(req.qname)) else {
            encode_error(out, echo, question, RCODE_FORMERR, edns);
            return true;
        };

        let limit = match (transport, &req.edns) {
            (Transport::Tcp, _) => MAX_MESSAGE,
            (Transport::Udp, None) => PLAIN_UDP,
            (Transport::Udp, Some(e)) => {
                usize::from(e.payload.min(self.max_udp_payload)).max(PLAIN_UDP)
            }
        };
        let client = match req.edns.and_then(|e| e.client_subnet) {
            Some(ecs) => Client {
                addr: ecs.addr,
                prefix: ecs.source_prefix,
            },
            None => Client {
                addr: peer,
                prefix: if peer.is_ipv4() { 32 } else { 128 },
            },
        };
        let answer = lookup::resolve(
            data,
            &client,
            &qname,
            qtype,
            transport == Transport::Udp,
            draw,
        );
        let edns = edns.map(|mut e| {
            if let Some((_, scope)) = &mut e.client_subnet {
                *scope = answer.client_scope.unwrap_or(0);
            }
            e
        });
        encode_answer(
            out,
            echo,
            (&qname, req.qtype, req.qclass),
            &answer,
            edns,
            limit,
        );
        true
    }
}
