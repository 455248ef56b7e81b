//! Sockets. UDP is served by plain threads, one `SO_REUSEPORT` socket each, in tight
//! blocking loops: no task or lock per query. TCP runs on tokio, one task per connection.

mod tcp;
mod udp;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use socket2::{Domain, Protocol, Socket, Type};

use crate::dns::Responder;
use crate::health::{Engine, HealthTable};
use crate::load::{Content, Dataset};

pub use tcp::serve_tcp;
pub use udp::spawn_udp_workers;

/// What every listener reads: the current dataset (swapped whole on reload and on
/// health change) and the response settings.
pub struct Shared {
    pub data: ArcSwap<Dataset>,
    pub responder: Responder,
    /// Makes swaps one at a time, so none undoes a newer one.
    swapping: Mutex<()>,
}

impl Shared {
    pub fn new(data: Dataset, responder: Responder) -> Arc<Self> {
        Arc::new(Shared {
            data: ArcSwap::from_pointee(data),
            responder,
            swapping: Mutex::new(()),
        })
    }

    /// Serves `content` (or the current content) with answers prepared from `health`,
    /// which is read under the swap lock: the latest health always wins.
    pub fn swap(&self, content: Option<Arc<Content>>, health: impl FnOnce() -> HealthTable) {
        let _one_at_a_time = self.swapping.lock().unwrap_or_else(|p| p.into_inner());
        let content = content.unwrap_or_else(|| self.data.load().content.clone());
        self.data.store(Arc::new(Dataset::new(content, health())));
    }
}

/// Re-prepares the answers on every health change.
pub async fn follow_health(shared: Arc<Shared>, engine: Arc<Engine>) {
    let mut changes = engine.subscribe();
    while changes.changed().await.is_ok() {
        let (shared, engine) = (shared.clone(), engine.clone());
        // Preparing walks every policy group: keep it off the async workers.
        let _ = tokio::task::spawn_blocking(move || shared.swap(None, || engine.table())).await;
    }
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
