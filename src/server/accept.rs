//! The accept loop of every TCP listener (DNS and the HTTP API), so that no client can
//! lock the others out (RFC 7766 §6.2.3):
//! - at most `per_client` connections from one address: past that, that client's oldest
//!   idle connection is closed for the new one, or else the new one is refused;
//! - at most `max` in all: past that, the oldest idle connection of any client is closed
//!   for the new one, or else the new one is refused.
//!
//! A connection is idle while it waits for a request; its task says so through its
//! [`Slot`], and ends when the slot is told to close.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// How many connections a listener serves.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max: usize,
    pub per_client: usize,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    connections: HashMap<u64, Connection>,
    per_client: HashMap<IpAddr, usize>,
}

struct Connection {
    client: IpAddr,
    /// Since when it has waited for a request; None while it serves one.
    idle_since: Option<Instant>,
    close: Arc<Notify>,
}

/// One connection's place: tells the listener when it is idle, and hears when to close.
pub struct Slot {
    id: u64,
    registry: Arc<Mutex<Registry>>,
    close: Arc<Notify>,
}

impl Slot {
    /// Waiting for the next request: may be closed for a newcomer.
    pub fn idle(&self) {
        self.set_idle(Some(Instant::now()));
    }

    /// Serving a request: not closed until it is idle again.
    pub fn busy(&self) {
        self.set_idle(None);
    }

    fn set_idle(&self, since: Option<Instant>) {
        let mut r = lock(&self.registry);
        if let Some(c) = r.connections.get_mut(&self.id) {
            c.idle_since = since;
        }
    }

    /// Completes when the listener needs this connection's place.
    pub async fn closing(&self) {
        self.close.notified().await
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut r = lock(&self.registry);
        if let Some(c) = r.connections.remove(&self.id) {
            if let Some(n) = r.per_client.get_mut(&c.client) {
                *n -= 1;
                if *n == 0 {
                    r.per_client.remove(&c.client);
                }
            }
        }
    }
}

fn lock(r: &Mutex<Registry>) -> std::sync::MutexGuard<'_, Registry> {
    r.lock().unwrap_or_else(|p| p.into_inner())
}

impl Registry {
    /// A place for a connection from `client`, making room by closing an idle one if
    /// need be; None when there is none to close.
    fn admit(&mut self, client: IpAddr, limits: Limits) -> Option<(u64, Arc<Notify>)> {
        let from_client = self.per_client.get(&client).copied().unwrap_or(0);
        if from_client >= limits.per_client {
            self.close_oldest_idle(Some(client))?;
        } else if self.connections.len() >= limits.max {
            self.close_oldest_idle(None)?;
        }
        self.next_id += 1;
        let close = Arc::new(Notify::new());
        self.connections.insert(
            self.next_id,
            Connection {
                client,
                idle_since: Some(Instant::now()),
                close: close.clone(),
            },
        );
        *self.per_client.entry(client).or_insert(0) += 1;
        Some((self.next_id, close))
    }

    /// Closes the connection idle longest (of `client`, if given): it leaves the
    /// registry now, and its task ends at once.
    fn close_oldest_idle(&mut self, client: Option<IpAddr>) -> Option<()> {
        let (&id, _) = self
            .connections
            .iter()
            .filter(|(_, c)| client.is_none_or(|ip| c.client == ip))
            .filter_map(|(id, c)| Some((id, c.idle_since?)))
            // Idle longest; of two idle since the same instant, the older connection.
            .min_by_key(|(id, since)| (*since, **id))?;
        let c = self.connections.remove(&id).expect("found above");
        c.close.notify_one();
        if let Some(n) = self.per_client.get_mut(&c.client) {
            *n -= 1;
            if *n == 0 {
                self.per_client.remove(&c.client);
            }
        }
        Some(())
    }
}

/// Accepts on `listener` until the process ends; `what` names it in the log.
pub async fn accept_bounded<F, Fut>(listener: TcpListener, limits: Limits, what: &str, serve: F)
where
    F: Fn(TcpStream, SocketAddr, Slot) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let registry = Arc::new(Mutex::new(Registry::default()));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors, most likely: back off rather than spin.
                tracing::warn!(listener = what, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let admitted = lock(&registry).admit(peer.ip(), limits);
        let Some((id, close)) = admitted else {
            continue; // dropping the stream closes it
        };
        let slot = Slot {
            id,
            registry: registry.clone(),
            close,
        };
        tokio::spawn(serve(stream, peer, slot));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newcomers_take_the_place_of_the_oldest_idle() {
        let limits = Limits {
            max: 3,
            per_client: 2,
        };
        let mut r = Registry::default();
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        let (a1, _) = r.admit(a, limits).unwrap();
        let (a2, _) = r.admit(a, limits).unwrap();
        // A third from `a` replaces a's oldest idle one.
        let (_a3, _) = r.admit(a, limits).unwrap();
        assert!(!r.connections.contains_key(&a1) && r.connections.contains_key(&a2));
        assert_eq!(r.per_client[&a], 2);
        // `b` fills the last place; then `c` finds every place taken, and the oldest
        // idle connection of all (a2) makes room.
        r.admit(b, limits).unwrap();
        assert_eq!(r.connections.len(), 3);
        let c: IpAddr = [192, 0, 2, 3].into();
        r.admit(c, limits).unwrap();
        assert_eq!(r.connections.len(), 3);
        assert!(!r.connections.contains_key(&a2));
        assert_eq!(r.per_client.get(&a), Some(&1));
        // Nothing idle: refused.
        for c in r.connections.values_mut() {
            c.idle_since = None;
        }
        assert!(r.admit(b, limits).is_none());
        assert_eq!(r.connections.len(), 3);
    }
}
