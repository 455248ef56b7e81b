use std::net::UdpSocket;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::Shared;
use crate::dns::Transport;
use crate::policy::select::Draw;

/// One thread per socket, each answering in a loop until the process ends.
pub fn spawn_udp_workers(sockets: Vec<UdpSocket>, shared: &Arc<Shared>) -> std::io::Result<()> {
    for (i, socket) in sockets.into_iter().enumerate() {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name(format!("udp-{i}"))
            .spawn(move || worker(socket, shared))?;
    }
    Ok(())
}

fn worker(socket: UdpSocket, shared: Arc<Shared>) {
    let mut packet = vec![0u8; 65535];
    let mut out = Vec::with_capacity(4096);
    let mut draw = Draw::from_entropy();
    loop {
        let (len, peer) = match socket.recv_from(&mut packet) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(error = %e, "UDP receive failed");
                continue;
            }
        };
        let data = shared.data.load();
        // A bug must cost one answer, never the worker.
        let reply = catch_unwind(AssertUnwindSafe(|| {
            shared.responder.handle(
                &packet[..len],
                Transport::Udp,
                peer.ip(),
                &data,
                &mut draw,
                &mut out,
            )
        }));
        match reply {
            Ok(true) => {
                let _ = socket.send_to(&out, peer);
            }
            Ok(false) => {}
            Err(_) => tracing::error!(%peer, "internal error while answering a UDP query; dropped"),
        }
    }
}
