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
