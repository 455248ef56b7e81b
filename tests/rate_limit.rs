//! Response rate limiting over UDP: a flood from one network gets its rate of full
//! answers plus slipped truncated ones, and nothing more; other networks, exempt ones
//! and TCP are not limited.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{header, query, tcp_connect, tcp_recv, tcp_send, zone, Server};

const RATE: usize = 5;

fn server() -> Server {
    Server::start(
        &[("example.com.zone", &zone("example.com", "www A 192.0.2.1"))],
        &format!(
            "[rate_limit]\nresponses_per_second = {RATE}\nslip = 2\nwindow = \"2s\"\nexempt = [\"127.0.0.3\"]\n"
        ),
    )
}

/// Sends `n` queries for `name` from `from` at once; returns (full answers, truncated)
/// and how long sending took.
fn flood(from: [u8; 4], to: SocketAddr, name: &str, n: u16) -> (usize, usize, Duration) {
    let socket = UdpSocket::bind(SocketAddr::from((from, 0))).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let start = Instant::now();
    for id in 0..n {
        socket.send_to(&query(id, name, 1, false), to).unwrap();
    }
    let took = start.elapsed();
    let (mut full, mut truncated) = (0, 0);
    let mut buf = [0u8; 1500];
    while let Ok((len, _)) = socket.recv_from(&mut buf) {
        let h = header(&buf[..len]);
        match h.tc {
            true => truncated += 1,
            false => full += 1,
        }
    }
    (full, truncated, took)
}

#[test]
fn a_flood_gets_its_rate_plus_slips_and_others_are_served() {
    if !common::can_run("rate limiting test needs 127.0.0.0/8 on loopback", true) {
        return;
    }
    let s = server();
    let to = s.addr();
    let (full, truncated, took) = flood([127, 0, 0, 1], to, "www.example.com", 200);
    // Full answers: the rate for each second the flood touched, and no more.
    let seconds = took.as_secs() as usize + 2;
    assert!(
        full >= RATE && full <= RATE * seconds,
        "{full} full answers in {took:?}"
    );
    // Of the limited, every second one slips (TC), the rest are dropped.
    let limited = 200 - full;
    assert!(
        truncated.abs_diff(limited / 2) <= 1,
        "{truncated} truncated of {limited} limited"
    );
    // A random-name flood (NXDOMAIN) is one account too.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    for id in 0..100u16 {
        let name = format!("r{id}x.example.com");
        socket.send_to(&query(id, &name, 1, false), to).unwrap();
    }
    let mut nx_full = 0;
    let mut buf = [0u8; 1500];
    while let Ok((len, _)) = socket.recv_from(&mut buf) {
        nx_full += usize::from(!header(&buf[..len]).tc);
    }
    assert!(nx_full <= RATE * 3, "{nx_full} full NXDOMAIN answers");

    // Another network, an exempt address, and TCP are answered in full meanwhile.
    let (other, _, _) = flood([127, 0, 1, 1], to, "www.example.com", 3);
    assert_eq!(other, 3);
    let (exempt, exempt_tc, _) = flood([127, 0, 0, 3], to, "www.example.com", 50);
    assert_eq!((exempt, exempt_tc), (50, 0));
    let mut c = tcp_connect(to);
    tcp_send(&mut c, &query(9, "www.example.com", 1, false));
    let reply = tcp_recv(&mut c).unwrap();
    assert!(!header(&reply).tc && common::answer_addresses(&reply).len() == 1);

    let (_, metrics) = s.http("GET", "/metrics", None, "");
    for action in ["dropped", "slipped"] {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(&format!("hadns_rate_limited_total{{action=\"{action}\"}}")))
            .unwrap_or_else(|| panic!("no {action} counter in {metrics}"));
        let n: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(n > 0.0, "{line}");
    }
}

/// A query for www.example.com with EDNS and a COOKIE option of these octets.
fn with_cookie(id: u16, cookie: &[u8]) -> Vec<u8> {
    let mut q = query(id, "www.example.com", 1, true);
    // The OPT record is last; its RDLENGTH is its last two octets.
    let at = q.len() - 2;
    let rdlen = u16::from_be_bytes([q[at], q[at + 1]]) + 4 + cookie.len() as u16;
    q[at..].copy_from_slice(&rdlen.to_be_bytes());
    q.extend_from_slice(&[0, 10]);
    q.extend_from_slice(&(cookie.len() as u16).to_be_bytes());
    q.extend_from_slice(cookie);
    q
}

/// The 24-octet COOKIE option of a response (client and server cookie).
fn cookie_of(reply: &[u8]) -> Vec<u8> {
    let at = reply
        .windows(4)
        .rposition(|w| w == [0, 10, 0, 24])
        .expect("a COOKIE option of 24 octets");
    reply[at + 4..at + 28].to_vec()
}

/// DNS Cookies (RFC 7873/9018): a client that returns the server cookie it was given
/// has shown its address is real, and is not rate limited; a made-up one is.
#[test]
fn a_client_with_a_good_server_cookie_is_not_limited() {
    let s = server();
    let to = s.addr();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let mut buf = [0u8; 1500];
    socket.send_to(&with_cookie(1, b"clientck"), to).unwrap();
    let (len, _) = socket.recv_from(&mut buf).unwrap();
    let full = cookie_of(&buf[..len]);
    assert_eq!(&full[..8], b"clientck");
    assert_eq!(full[8], 1, "RFC 9018 version 1");
    let mut count = |cookie: &[u8]| {
        for id in 0..60u16 {
            socket.send_to(&with_cookie(id, cookie), to).unwrap();
        }
        let mut answered = 0;
        while let Ok((len, _)) = socket.recv_from(&mut buf) {
            answered += usize::from(!header(&buf[..len]).tc);
        }
        answered
    };
    assert_eq!(
        count(&full),
        60,
        "every answer in full with the good cookie"
    );
    let mut forged = full.clone();
    forged[23] ^= 0xff;
    assert!(count(&forged) < 60, "a made-up server cookie is limited");
}
