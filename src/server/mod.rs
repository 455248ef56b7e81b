//! Sockets. UDP is served by plain threads, one `SO_REUSEPORT` socket each, in tight
//! blocking loops: no task or lock per query. TCP runs on tokio, one task per connection.

pub mod accept;
mod tcp;
mod udp;

use std::net::SocketAddr;
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};

use crate::dns::Responder;
use crate::snapshot::Live;

pub use tcp::serve_tcp;
pub use udp::spawn_udp_workers;

/// What every DNS listener answers with: the snapshot in service and the settings that
/// shape responses.
pub struct DnsService {
    pub live: Arc<Live>,
    pub responder: Responder,
}

fn socket_for(addr: SocketAddr, ty: Type, protocol: Protocol) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), ty, Some(protocol))?;
    if addr.is_ipv6() {
        // "[::]:53" means IPv6 only; IPv4 is listed separately.
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    Ok(socket)
}

/// `count` UDP sockets bound to the same address, the kernel spreading queries
/// between them.
pub fn bind_udp(addr: SocketAddr, count: usize) -> std::io::Result<Vec<std::net::UdpSocket>> {
    (0..count.max(1))
        .map(|_| {
            let socket = socket_for(addr, Type::DGRAM, Protocol::UDP)?;
            socket.set_reuse_port(true)?;
            // Room for bursts while a worker is busy.
            let _ = socket.set_recv_buffer_size(4 << 20);
            no_path_mtu_discovery(&socket, addr);
            socket.bind(&addr.into())?;
            Ok(socket.into())
        })
        .collect()
}

/// UDP answers ignore path MTUs learned from ICMP and go without DF
/// (`IP_PMTUDISC_OMIT`, which Linux added for DNS servers; gdnsd sets it too): a forged
/// "fragmentation needed" cannot make the kernel cut our answers into fragments, the
/// way into poisoning by fragments, and their size is EDNS's to decide. Best effort: an
/// answer goes out either way.
#[cfg(target_os = "linux")]
fn no_path_mtu_discovery(socket: &Socket, addr: SocketAddr) {
    use std::os::fd::AsRawFd;
    let (level, name, value) = match addr {
        SocketAddr::V4(_) => (
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            libc::IP_PMTUDISC_OMIT,
        ),
        SocketAddr::V6(_) => (
            libc::IPPROTO_IPV6,
            libc::IPV6_MTU_DISCOVER,
            libc::IPV6_PMTUDISC_OMIT,
        ),
    };
    // SAFETY: a live socket, and an int option given by pointer and size.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn no_path_mtu_discovery(_: &Socket, _: SocketAddr) {}

pub fn bind_tcp(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = socket_for(addr, Type::STREAM, Protocol::TCP)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn option(fd: i32, level: i32, name: i32) -> i32 {
        let mut value: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: a live socket, an int and its size.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                level,
                name,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        value
    }

    #[test]
    fn udp_sockets_ignore_path_mtu_and_send_without_df() {
        let v4 = bind_udp("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        for s in &v4 {
            let got = option(s.as_raw_fd(), libc::IPPROTO_IP, libc::IP_MTU_DISCOVER);
            assert_eq!(got, libc::IP_PMTUDISC_OMIT);
        }
        let v6 = bind_udp("[::1]:0".parse().unwrap(), 1).unwrap();
        let got = option(
            v6[0].as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_MTU_DISCOVER,
        );
        assert_eq!(got, libc::IPV6_PMTUDISC_OMIT);
    }
}
