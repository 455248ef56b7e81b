//! DNS over TCP (RFC 7766): length-prefixed messages, any number per connection,
//! answered in order, each query's responses (one, or many for a zone transfer) framed
//! and written before the next query is read.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use super::accept::{accept_bounded, Limits, Slot};
use super::DnsService;
use crate::dns::{Local, Sink, Transport};
use crate::draw::Draw;

/// The messages of one query's response, framed for TCP: each behind its two-octet
/// length.
#[derive(Default)]
struct Frames {
    /// Framed messages, ready to write.
    framed: Vec<u8>,
    /// The message being written, framed when the next one starts or on `finish`.
    current: Vec<u8>,
    open: bool,
}

impl Frames {
    fn frame_current(&mut self) {
        if std::mem::take(&mut self.open) {
            self.framed
                .extend_from_slice(&(self.current.len() as u16).to_be_bytes());
            self.framed.extend_from_slice(&self.current);
        }
    }

    /// Every message, framed; empty when nothing is to be sent.
    fn finish(&mut self) -> &[u8] {
        self.frame_current();
        &self.framed
    }

    fn clear(&mut self) {
        self.framed.clear();
        self.open = false;
    }
}

impl Sink for Frames {
    fn next_message(&mut self) -> &mut Vec<u8> {
        self.frame_current();
        self.current.clear();
        self.open = true;
        &mut self.current
    }
}

/// Serves DNS over TCP on `listener`, within `limits` (see [`accept_bounded`]).
pub async fn serve_tcp(
    listener: TcpListener,
    service: Arc<DnsService>,
    idle_timeout: Duration,
    limits: Limits,
) {
    accept_bounded(listener, limits, "dns", |stream, peer, slot| {
        let service = service.clone();
        async move { connection(stream, peer.ip(), &service, idle_timeout, slot).await }
    })
    .await
}

/// RFC 7766: length-prefixed messages, any number per connection, answered in order;
/// the connection closes after `idle_timeout` without a complete query, or when, idle,
/// its slot is needed by a newcomer.
async fn connection(
    mut stream: TcpStream,
    peer: std::net::IpAddr,
    service: &DnsService,
    idle_timeout: Duration,
    slot: Slot,
) {
    let _ = stream.set_nodelay(true);
    let mut packet = vec![0u8; 65535];
    let mut frames = Frames::default();
    // TCP answers are built afresh: it is the rare path.
    let mut local = Local::new(Draw::from_entropy(), false);
    loop {
        let mut len = [0u8; 2];
        slot.idle();
        tokio::select! {
            read = timeout(idle_timeout, stream.read_exact(&mut len)) => {
                if !matches!(read, Ok(Ok(_))) {
                    return;
                }
            }
            _ = slot.closing() => return,
        }
        slot.busy();
        let len = u16::from_be_bytes(len) as usize;
        if len == 0
            || !matches!(
                timeout(idle_timeout, stream.read_exact(&mut packet[..len])).await,
                Ok(Ok(_))
            )
        {
            return;
        }
        frames.clear();
        let reply = {
            let snapshot = service.live.load();
            catch_unwind(AssertUnwindSafe(|| {
                service.responder.handle(
                    &packet[..len],
                    Transport::Tcp,
                    peer,
                    &snapshot,
                    &mut local,
                    &mut frames,
                )
            }))
        };
        match reply {
            Ok(true) => {
                if !matches!(
                    timeout(idle_timeout, stream.write_all(frames.finish())).await,
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
