use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::timeout;

use super::Shared;
use crate::dns::{Local, Transport};
use crate::policy::select::Draw;

/// Accepts connections while fewer than `max_connections` are open; past that a new
/// connection is closed at once rather than left waiting.
pub async fn serve_tcp(
    listener: TcpListener,
    shared: Arc<Shared>,
    idle_timeout: Duration,
    max_connections: usize,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors, most likely: back off rather than spin.
                tracing::warn!(error = %e, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            connection(stream, peer.ip(), &shared, idle_timeout).await;
            drop(slot);
        });
    }
}

/// RFC 7766: length-prefixed messages, any number per connection, answered in order;
/// the connection closes after `idle_timeout` without a complete query.
async fn connection(
    mut stream: TcpStream,
    peer: std::net::IpAddr,
    shared: &Shared,
    idle_timeout: Duration,
) {
    let _ = stream.set_nodelay(true);
    let mut packet = vec![0u8; 65535];
    let mut body = Vec::with_capacity(4096);
    let mut frame = Vec::with_capacity(4098);
    // TCP answers are built afresh: it is the rare path.
    let mut local = Local::new(Draw::from_entropy(), false);
    loop {
        let mut len = [0u8; 2];
        if !matches!(
            timeout(idle_timeout, stream.read_exact(&mut len)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        let len = u16::from_be_bytes(len) as usize;
        if len == 0
            || !matches!(
                timeout(idle_timeout, stream.read_exact(&mut packet[..len])).await,
                Ok(Ok(_))
            )
        {
            return;
        }
        let reply = {
            let data = shared.data.load();
            catch_unwind(AssertUnwindSafe(|| {
                shared.responder.handle(
                    &packet[..len],
                    Transport::Tcp,
                    peer,
                    &data,
                    &mut local,
                    &mut body,
                )
            }))
        };
        match reply {
            Ok(true) => {
                frame.clear();
                frame.extend_from_slice(&(body.len() as u16).to_be_bytes());
                frame.extend_from_slice(&body);
                if !matches!(
                    timeout(idle_timeout, stream.write_all(&frame)).await,
                    Ok(Ok(_))
                ) {
                    return;
                }
            }
            Ok(false) => {}
            Err(_) => {
                tracing::error!("internal error while answering a TCP query; connection closed");
                return;
            }
        }
    }
}
