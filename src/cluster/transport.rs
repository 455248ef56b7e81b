//! Gossip over UDP, every datagram sealed ([`Seal`]): chitchat's transport, so that
//! nothing chitchat reads was not sent by a holder of the cluster key.

use std::net::SocketAddr;
use std::sync::Arc;

use ::metrics::Counter;
use async_trait::async_trait;
use chitchat::transport::{Socket, Transport};
use chitchat::{ChitchatMessage, Deserializable, Serializable};

use super::seal::{Refused, Seal};

/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_507;

pub struct SealedUdp {
    pub key: Vec<u8>,
    /// Messages accepted, rejected; bytes sent, received.
    pub counters: Arc<[Counter; 4]>,
}

#[async_trait]
impl Transport for SealedUdp {
    async fn open(&self, listen: SocketAddr) -> anyhow::Result<Box<dyn Socket>> {
        let socket = tokio::net::UdpSocket::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen} ([cluster] listen): {e}"))?;
        Ok(Box::new(SealedSocket {
            socket,
            seal: Seal::new(&self.key),
            counters: self.counters.clone(),
            buf: vec![0; MAX_DATAGRAM],
            opened: 0,
        }))
    }
}

struct SealedSocket {
    socket: tokio::net::UdpSocket,
    seal: Seal,
    /// Messages accepted, rejected; bytes sent, received.
    counters: Arc<[Counter; 4]>,
    buf: Vec<u8>,
    /// Datagrams opened since the replay memory was last pruned.
    opened: usize,
}

#[async_trait]
impl Socket for SealedSocket {
    async fn send(&mut self, to: SocketAddr, message: ChitchatMessage) -> anyhow::Result<()> {
        let datagram = self.seal.seal(&message.serialize_to_vec());
        if datagram.len() > MAX_DATAGRAM {
            // Only an error that stops all gossip may be returned: drop this one.
            tracing::warn!(bytes = datagram.len(), %to, "gossip message too large; not sent");
            return Ok(());
        }
        // A peer's unreachable network is not a broken transport.
        match self.socket.send_to(&datagram, to).await {
            Ok(n) => self.counters[2].increment(n as u64),
            Err(e) => tracing::debug!(%to, "gossip not sent: {e}"),
        }
        Ok(())
    }

    async fn recv(&mut self) -> anyhow::Result<(SocketAddr, ChitchatMessage)> {
        loop {
            let (n, from) = match self.socket.recv_from(&mut self.buf).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!("gossip receive: {e}");
                    continue;
                }
            };
            self.counters[3].increment(n as u64);
            self.opened += 1;
            if self.opened >= 10_000 {
                self.opened = 0;
                self.seal.forget_old();
            }
            let refused = |why: Refused, counters: &[Counter; 4]| {
                counters[1].increment(1);
                tracing::debug!(%from, bytes = n, "gossip message refused: {}", why.as_str());
            };
            let message = match self.seal.open(&self.buf[..n]) {
                Ok(m) => m,
                Err(why) => {
                    refused(why, &self.counters);
                    continue;
                }
            };
            match ChitchatMessage::deserialize(&mut message.as_slice()) {
                Ok(message) => {
                    self.counters[0].increment(1);
                    return Ok((from, message));
                }
                Err(_) => refused(Refused::Malformed, &self.counters),
            }
        }
    }
}
