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
use std::sync::atomic::{AtomicU64, Ordering};
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

struct Registry {
    /// What idle times count from.
    epoch: Instant,
    next_id: u64,
    connections: HashMap<u64, Connection>,
    per_client: HashMap<IpAddr, usize>,
}

struct Connection {
    client: IpAddr,
    idle: Arc<IdleSince>,
    close: Arc<Notify>,
}

/// Since when (µs after the registry's epoch, plus 1) a connection has waited for a
/// request; 0 while it serves one. An atomic of its own, so that a connection marks
/// each query without taking the listener's lock.
#[derive(Default)]
struct IdleSince(AtomicU64);

impl IdleSince {
    fn mark(&self, epoch: Instant) {
        self.0
            .store(epoch.elapsed().as_micros() as u64 + 1, Ordering::Relaxed);
    }

    fn get(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&t| t != 0)
    }
}

/// One connection's place: tells the listener when it is idle, and hears when to close.
pub struct Slot {
    id: u64,
    registry: Arc<Mutex<Registry>>,
    epoch: Instant,
    idle: Arc<IdleSince>,
    close: Arc<Notify>,
}

impl Slot {
    /// Waiting for the next request: may be closed for a newcomer.
    pub fn idle(&self) {
        self.idle.mark(self.epoch);
    }

    /// Serving a request: not closed until it is idle again.
    pub fn busy(&self) {
        self.idle.0.store(0, Ordering::Relaxed);
    }

    /// Completes when the listener needs this connection's place.
    pub async fn closing(&self) {
        self.close.notified().await
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.registry).forget(self.id);
    }
}

/// A connection let in: its id, its idle mark, and how it is told to close.
type Admitted = (u64, Arc<IdleSince>, Arc<Notify>);

fn lock(r: &Mutex<Registry>) -> std::sync::MutexGuard<'_, Registry> {
    r.lock().unwrap_or_else(|p| p.into_inner())
}

impl Registry {
    fn new() -> Registry {
        Registry {
            epoch: Instant::now(),
            next_id: 0,
            connections: HashMap::new(),
            per_client: HashMap::new(),
        }
    }

    /// A place for a connection from `client`, making room by closing an idle one if
    /// need be; None when there is none to close.
    fn admit(&mut self, client: IpAddr, limits: Limits) -> Option<Admitted> {
        let from_client = self.per_client.get(&client).copied().unwrap_or(0);
        if from_client >= limits.per_client {
            self.close_oldest_idle(Some(client))?;
        } else if self.connections.len() >= limits.max {
            self.close_oldest_idle(None)?;
        }
        self.next_id += 1;
        let close = Arc::new(Notify::new());
        let idle = Arc::new(IdleSince::default());
        idle.mark(self.epoch);
        self.connections.insert(
            self.next_id,
            Connection {
                client,
                idle: idle.clone(),
                close: close.clone(),
            },
        );
        *self.per_client.entry(client).or_insert(0) += 1;
        Some((self.next_id, idle, close))
    }

    /// Takes a connection out of the registry and out of its client's count.
    fn forget(&mut self, id: u64) -> Option<Connection> {
        let c = self.connections.remove(&id)?;
        if let Some(n) = self.per_client.get_mut(&c.client) {
            *n -= 1;
            if *n == 0 {
                self.per_client.remove(&c.client);
            }
        }
        Some(c)
    }

    /// Closes the connection idle longest (of `client`, if given): it leaves the
    /// registry now, and its task ends at once.
    fn close_oldest_idle(&mut self, client: Option<IpAddr>) -> Option<()> {
        let (&id, _) = self
            .connections
            .iter()
            .filter(|(_, c)| client.is_none_or(|ip| c.client == ip))
            .filter_map(|(id, c)| Some((id, c.idle.get()?)))
            // Idle longest; of two idle since the same instant, the older connection.
            .min_by_key(|(id, since)| (*since, **id))?;
        self.forget(id).expect("found above").close.notify_one();
        Some(())
    }
}

/// Accepts on `listener` until the process ends; `what` names it in the log.
pub async fn accept_bounded<F, Fut>(listener: TcpListener, limits: Limits, what: &str, serve: F)
where
    F: Fn(TcpStream, SocketAddr, Slot) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let registry = Arc::new(Mutex::new(Registry::new()));
    let epoch = lock(&registry).epoch;
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
        let Some((id, idle, close)) = admitted else {
            continue; // dropping the stream closes it
        };
        let slot = Slot {
            id,
            registry: registry.clone(),
            epoch,
            idle,
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
        let mut r = Registry::new();
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        let (a1, _, _) = r.admit(a, limits).unwrap();
        let (a2, _, _) = r.admit(a, limits).unwrap();
        // A third from `a` replaces a's oldest idle one.
        let (_a3, _, _) = r.admit(a, limits).unwrap();
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
        for c in r.connections.values() {
            c.idle.0.store(0, Ordering::Relaxed);
        }
        assert!(r.admit(b, limits).is_none());
        assert_eq!(r.connections.len(), 3);
    }
}
