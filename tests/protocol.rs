//! Wire-level behaviour: EDNS, truncation, error rcodes, hostile packets, TCP.

mod common;
use std::io::Read;

use common::{header, query, tcp_connect, tcp_recv, tcp_send, wait_for, zone, Server};

/// `count` TXT records of about 100 bytes each at `name`.
fn txt_records(name: &str, count: usize) -> String {
    (0..count)
        .map(|i| format!("{name} TXT \"{i:03}-{}\"\n", "x".repeat(96)))
        .collect()
}

fn big_server(extra: &str) -> Server {
    let body = format!(
        "{}{}cname CNAME big\n",
        txt_records("medium", 8), // ~900 bytes of answer
        txt_records("big", 20),   // ~2,300 bytes
    );
    Server::start(&[("example.com.zone", &zone("example.com", &body))], extra)
}

#[test]
fn edns_is_echoed_only_when_asked() {
    let s = big_server("");
    let d = s.dig("example.com SOA");
    let edns = d.edns.expect("OPT in the answer to an EDNS query");
    assert!(
        edns.contains("version: 0") && edns.contains("udp: 1232"),
        "{edns}"
    );
    assert!(s.dig("example.com SOA +noedns").edns.is_none());
    // DO is copied back (RFC 3225); no other flags are set.
    let d = s.dig("example.com SOA +dnssec");
    assert!(d.edns.unwrap().contains("flags: do;"));
}

#[test]
fn answers_that_do_not_fit_set_tc_with_whole_rrsets() {
    let s = big_server("");
    // No EDNS: 512 bytes. The TXT set does not fit, so none of it is sent.
    let d = s.dig("medium.example.com TXT +noedns +ignore");
    assert!(d.has_flag("tc"), "{}", d.raw);
    assert!(d.answer.is_empty());
    // The client's EDNS size is honoured: 1232 fits the ~900-byte set, 600 does not.
    let d = s.dig("medium.example.com TXT +bufsize=1232 +ignore");
    assert!(!d.has_flag("tc"));
    assert_eq!(d.answer.len(), 8);
    let d = s.dig("medium.example.com TXT +bufsize=600 +ignore");
    assert!(d.has_flag("tc"));
    // A CNAME that fits is kept; the target's RRset that does not is left out whole.
    let raw = s.udp(&query(7, "cname.example.com", 16, false)).unwrap();
    let h = header(&raw);
    assert!(h.tc);
    assert_eq!(h.counts[1], 1, "only the CNAME");
    assert!(raw.len() <= 512);
    // Over TCP the answer comes whole; dig retries there by itself after TC.
    let d = s.dig("big.example.com TXT");
    assert_eq!(d.transport, "TCP");
    assert_eq!(d.answer.len(), 20);
    assert!(!d.has_flag("tc"));
}

#[test]
fn max_udp_payload_caps_what_clients_offer() {
    let s = big_server("max_udp_payload = 4096");
    let d = s.dig("big.example.com TXT +bufsize=4096 +ignore");
    assert_eq!(d.transport, "UDP");
    assert!(!d.has_flag("tc"));
    assert_eq!(d.answer.len(), 20);
    let d = s.dig("big.example.com TXT +bufsize=1232 +ignore");
    assert!(d.has_flag("tc"));
}

#[test]
fn unknown_edns_version_gets_badvers() {
    let s = big_server("");
    let d = s.dig("example.com SOA +edns=1 +noednsnegotiation");
    assert_eq!(d.status, "BADVERS", "{}", d.raw);
    assert!(d.edns.unwrap().contains("version: 0"));
    assert!(d.answer.is_empty());
}

#[test]
fn nsid_is_sent_when_configured_and_asked() {
    let s = big_server("nsid = \"ns-test-1\"");
    assert_eq!(
        s.dig("example.com SOA +nsid").nsid.as_deref(),
        Some("ns-test-1")
    );
    assert_eq!(s.dig("example.com SOA").nsid, None);
    let plain = big_server("");
    assert_eq!(plain.dig("example.com SOA +nsid").nsid, None);
}

#[test]
fn other_opcodes_get_notimp() {
    let s = big_server("");
    let d = s.dig("example.com SOA +opcode=notify");
    assert_eq!(d.status, "NOTIMP", "{}", d.raw);
    let mut status = query(9, "example.com", 6, false);
    status[2] = 2 << 3; // opcode STATUS
    let h = header(&s.udp(&status).unwrap());
    assert_eq!((h.id, h.rcode), (9, 4));
}

#[test]
fn malformed_queries_get_formerr_or_are_dropped() {
    let s = big_server("");
    // Two questions.
    let mut two = query(11, "example.com", 6, false);
    two[5] = 2;
    two.extend_from_slice(&common::wire_name("example.com"));
    two.extend_from_slice(&[0, 6, 0, 1]);
    let h = header(&s.udp(&two).unwrap());
    assert_eq!((h.id, h.qr, h.rcode), (11, true, 1));
    // No question at all.
    let mut none = query(12, "example.com", 6, false);
    none[5] = 0;
    assert_eq!(header(&s.udp(&none[..12]).unwrap()).rcode, 1);
    // A question cut short.
    let q = query(13, "example.com", 6, false);
    assert_eq!(header(&s.udp(&q[..q.len() - 3]).unwrap()).rcode, 1);
    // An OPT record whose length runs past the packet.
    let mut opt = query(14, "example.com", 6, true);
    let n = opt.len();
    opt[n - 1] = 40;
    assert_eq!(header(&s.udp(&opt).unwrap()).rcode, 1);
    // Not answered at all: a response, and a packet shorter than a header.
    let mut resp = query(15, "example.com", 6, false);
    resp[2] |= 0x80;
    assert!(s.udp(&resp).is_none());
    assert!(s.udp(&[1, 2, 3]).is_none());
    // Zone transfers are not offered.
    assert_eq!(
        header(&s.udp(&query(16, "example.com", 252, false)).unwrap()).rcode,
        5
    );
    let mut c = tcp_connect(s.addr());
    tcp_send(&mut c, &query(17, "example.com", 252, false));
    assert_eq!(header(&tcp_recv(&mut c).unwrap()).rcode, 5);
}

/// Thousands of random and mutated packets over UDP and TCP; the server must keep
/// answering and never hit an internal error.
#[test]
fn garbage_cannot_hurt_the_server() {
    let s = big_server("");
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let base = query(1, "medium.example.com", 16, true);
    let mut tcp = tcp_connect(s.addr());
    for i in 0..3000 {
        let packet: Vec<u8> = if i % 2 == 0 {
            let len = (rand() % 80) as usize;
            (0..len).map(|_| rand() as u8).collect()
        } else {
            let mut p = base.clone();
            for _ in 0..1 + rand() % 4 {
                let at = (rand() as usize) % p.len();
                p[at] = rand() as u8;
            }
            p.truncate(12 + (rand() as usize) % (p.len() - 11));
            p
        };
        sock.send_to(&packet, s.addr()).unwrap();
        if i % 100 == 1 && !packet.is_empty() {
            tcp_send(&mut tcp, &packet);
        }
    }
    wait_for("the server to answer after the garbage", || {
        s.dig("example.com SOA").status == "NOERROR"
    });
    let log = s.log();
    assert!(
        !log.contains("internal error") && !log.contains("panicked"),
        "{log}"
    );
}

#[test]
fn tcp_answers_pipelined_queries_in_order() {
    let s = big_server("");
    let mut c = tcp_connect(s.addr());
    let mut all = Vec::new();
    for (id, name) in [
        (101u16, "example.com"),
        (102, "nope.example.com"),
        (103, "big.example.com"),
    ] {
        let q = query(id, name, if id == 103 { 16 } else { 6 }, false);
        all.extend_from_slice(&(q.len() as u16).to_be_bytes());
        all.extend_from_slice(&q);
    }
    std::io::Write::write_all(&mut c, &all).unwrap();
    let ids: Vec<(u16, u8, u16)> = (0..3)
        .map(|_| {
            let h = header(&tcp_recv(&mut c).unwrap());
            (h.id, h.rcode, h.counts[1])
        })
        .collect();
    assert_eq!(ids, [(101, 0, 1), (102, 3, 0), (103, 0, 20)]);
}

#[test]
fn idle_tcp_connections_are_closed() {
    let s = big_server("tcp_idle_timeout = \"300ms\"");
    let mut c = tcp_connect(s.addr());
    tcp_send(&mut c, &query(1, "example.com", 6, false));
    assert!(tcp_recv(&mut c).is_some());
    // Then silence: the server hangs up (read sees EOF well before our own deadline).
    let mut b = [0u8; 1];
    assert_eq!(c.read(&mut b).unwrap_or(0), 0);
}

#[test]
fn tcp_connections_are_capped_and_the_oldest_idle_makes_room() {
    let s = big_server("tcp_max_connections = 2\ntcp_idle_timeout = \"60s\"");
    let mut held: Vec<_> = (0..2)
        .map(|i| {
            let mut c = tcp_connect(s.addr());
            tcp_send(&mut c, &query(i, "example.com", 6, false));
            assert!(tcp_recv(&mut c).is_some());
            c
        })
        .collect();
    // A third is answered: the connection idle longest (the first) made room for it
    // (RFC 7766 §6.2.3), and it alone was closed.
    let mut third = tcp_connect(s.addr());
    tcp_send(&mut third, &query(3, "example.com", 6, false));
    assert!(tcp_recv(&mut third).is_some());
    let mut b = [0u8; 1];
    assert_eq!(
        held[0].read(&mut b).unwrap_or(0),
        0,
        "the oldest idle was closed"
    );
    tcp_send(&mut held[1], &query(4, "example.com", 6, false));
    assert!(tcp_recv(&mut held[1]).is_some());
    assert_eq!(s.dig("example.com SOA +notcp").status, "NOERROR");
}
