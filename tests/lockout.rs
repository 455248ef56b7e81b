//! No client can lock the others out of DNS over TCP or the HTTP API (RFC 7766 §6.2.3):
//! connections from one address are capped, and when every place is taken the oldest
//! idle connection makes room for a newcomer.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use common::{query, tcp_recv, tcp_send, zone, Server};

/// A TCP connection to `to` from the loopback address `from`.
fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&SocketAddr::from((from, 0)).into()).unwrap();
    s.connect(&to.into()).unwrap();
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn server() -> Server {
    Server::start(
        &[("example.com.zone", &zone("example.com", "www A 192.0.2.1"))],
        "tcp_max_connections = 32\ntcp_max_connections_per_client = 4\ntcp_idle_timeout = \"30s\"\n",
    )
}

/// A query over a new connection from `from`: answered or not.
fn answered(from: [u8; 4], to: SocketAddr) -> bool {
    let mut c = connect_from(from, to);
    tcp_send(&mut c, &query(7, "www.example.com", 1, false));
    tcp_recv(&mut c).is_some_and(|r| r.len() > 12 && r[..2] == [0, 7])
}

#[test]
fn one_client_holding_connections_idle_locks_no_one_out_of_dns_over_tcp() {
    let s = server();
    let to = s.addr();
    // One address opens 100 idle connections: it keeps at most 4.
    let hog: Vec<TcpStream> = (0..100).map(|_| connect_from([127, 0, 0, 1], to)).collect();
    // Many addresses fill every place with idle connections, and keep coming.
    let crowd: Vec<TcpStream> = (0..60u8)
        .map(|i| connect_from([127, 0, 1, i + 1], to))
        .collect();
    // Every legitimate query is answered, each on a new connection.
    let ok = (0..30u8)
        .filter(|i| answered([127, 0, 2, i + 1], to))
        .count();
    assert_eq!(ok, 30, "{ok} of 30 answered");
    // Of the hog's connections, the oldest were closed: reading them ends at once.
    let closed = hog
        .into_iter()
        .filter(|c| {
            let mut c = c.try_clone().unwrap();
            let mut b = [0u8; 1];
            matches!(c.read(&mut b), Ok(0) | Err(_))
        })
        .count();
    assert!(closed >= 96, "{closed} of the hog's 100 connections closed");
    drop(crowd);
}

#[test]
fn one_client_holding_connections_idle_locks_no_one_out_of_the_api() {
    let s = server();
    let to = SocketAddr::from(([127, 0, 0, 1], s.http_port));
    // 100 idle connections from one address, then 100 from as many others.
    let hog: Vec<TcpStream> = (0..100).map(|_| connect_from([127, 0, 0, 1], to)).collect();
    let crowd: Vec<TcpStream> = (0..100u8)
        .map(|i| connect_from([127, 0, 1, i + 1], to))
        .collect();
    let ok = (0..20u8)
        .filter(|i| {
            let mut c = connect_from([127, 0, 2, i + 1], to);
            let _ = c.write_all(
                b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            );
            let mut reply = String::new();
            let _ = c.read_to_string(&mut reply);
            reply.starts_with("HTTP/1.1 200")
        })
        .count();
    assert_eq!(ok, 20, "{ok} of 20 /healthz answered");
    drop((hog, crowd));
    let _: IpAddr = to.ip();
}
