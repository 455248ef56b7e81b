//! TCP checks: healthy when the connection opens within the timeout (10 s by default).

use std::net::SocketAddr;
use std::time::Duration;

use super::{io_reason, resolve_v4, secs};
use crate::health::Target;

const TCP_CONNECT: Duration = Duration::from_secs(10);

pub struct TcpProbe {
    target: Target,
    port: u16,
    timeout: Duration,
}

impl TcpProbe {
    pub fn new(target: &Target, port: u16, timeout: Option<Duration>) -> Self {
        TcpProbe {
            target: target.clone(),
            port,
            timeout: timeout.unwrap_or(TCP_CONNECT),
        }
    }

    pub async fn probe(&self) -> (bool, String) {
        tokio::time::timeout(self.timeout, connect(&self.target, self.port))
            .await
            .unwrap_or_else(|_| {
                (
                    false,
                    format!("connect timeout after {}", secs(self.timeout)),
                )
            })
    }
}

async fn connect(target: &Target, port: u16) -> (bool, String) {
    let addr = match target {
        Target::Ip(ip) => SocketAddr::new(*ip, port),
        Target::Fqdn(name) => match resolve_v4(name, port).await {
            Ok(a) => a,
            Err(reason) => return (false, reason),
        },
    };
    match tokio::net::TcpStream::connect(addr).await {
        Ok(_) => (true, "connected".into()),
        Err(e) => (false, io_reason(&e)),
    }
}
