//! One probe of one endpoint, the way Route 53's checkers do it (reference §4): a fresh
//! connection each time, and a result with its reason in a few words. One module per
//! probe kind; a [`Prober`] is built once per check group and probed every interval.

mod http;
mod tcp;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{HealthCheck, Probe};

/// What one probe found: the contract every probe kind keeps.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub healthy: bool,
    /// Why, in a few words: "HTTP 200", "connection refused", "timeout after 4s"…
    pub reason: String,
    pub latency: Duration,
}

/// A prepared probe: everything that does not change between rounds is built once.
pub enum Prober {
    Http(http::HttpProbe),
    Tcp(tcp::TcpProbe),
}

impl Prober {
    /// The probe of an endpoint check; calculated checks have none.
    pub fn new(check: &HealthCheck) -> Result<Prober, String> {
        Ok(match &check.probe {
            Probe::Calculated { .. } => return Err("a calculated check is not probed".into()),
            Probe::Tcp { target, port } => {
                Prober::Tcp(tcp::TcpProbe::new(target, *port, check.timeout))
            }
            Probe::Http { .. } => Prober::Http(http::HttpProbe::new(check)?),
        })
    }

    pub async fn probe(&self) -> Outcome {
        let start = Instant::now();
        let (healthy, reason) = match self {
            Prober::Http(h) => h.probe().await,
            Prober::Tcp(t) => t.probe().await,
        };
        Outcome {
            healthy,
            reason,
            latency: start.elapsed(),
        }
    }
}

/// Route 53 resolves a check's name once per interval, IPv4 only (§4.4).
async fn resolve_v4(name: &str, port: u16) -> Result<SocketAddr, String> {
    let addrs = tokio::net::lookup_host((name, port))
        .await
        .map_err(|e| format!("DNS resolution failed: {e}"))?;
    addrs
        .into_iter()
        .find(|a| a.is_ipv4())
        .ok_or_else(|| "DNS resolution failed: no A record".to_string())
}

fn secs(d: Duration) -> String {
    format!("{:?}", d)
}

fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset".into(),
        TimedOut => "timed out".into(),
        UnexpectedEof => "connection closed early".into(),
        _ => e.to_string(),
    }
}
