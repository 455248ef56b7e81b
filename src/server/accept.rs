//! The accept loop of every TCP listener (DNS and the HTTP API): at most `max`
//! connections at once, each served on its own task; past that a new connection is
//! closed at once rather than left waiting.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Accepts on `listener` until the process ends; `what` names it in the log.
pub async fn accept_bounded<F, Fut>(listener: TcpListener, max: usize, what: &str, serve: F)
where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(max));
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
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue; // dropping the stream closes it
        };
        let connection = serve(stream, peer);
        tokio::spawn(async move {
            connection.await;
            drop(slot);
        });
    }
}
