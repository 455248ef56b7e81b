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
            socket.bind(&addr.into())?;
            Ok(socket.into())
        })
        .collect()
}

pub fn bind_tcp(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = socket_for(addr, Type::STREAM, Protocol::TCP)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}
