//! HTTP and HTTPS checks: HTTP/1.1 GET without following redirects, healthy on
//! 200-399, the body read only as far as a search string needs (5,120 bytes at most).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use super::{io_reason, secs};
use crate::health::{HealthCheck, Probe, Target};

/// Route 53's limits: connect within 4 s, the status within 2 s after, the body within
/// 2 s after the status.
const HTTP_CONNECT: Duration = Duration::from_secs(4);
const HTTP_STATUS: Duration = Duration::from_secs(2);
const HTTP_BODY: Duration = Duration::from_secs(2);
/// A search string must lie within this many bytes of the (decoded) body.
pub const SEARCH_WINDOW: usize = 5120;
const USER_AGENT: &str = concat!("hadns-health-check/", env!("CARGO_PKG_VERSION"));

pub struct HttpProbe {
    client: reqwest::Client,
    url: String,
    /// Set when the URL does not already carry the right Host.
    host_header: Option<String>,
    search: Option<String>,
    /// Connect + status (+ body) when a `timeout` is configured.
    overall: Option<Duration>,
}

impl HttpProbe {
    /// `check` is an http or https check.
    pub fn new(check: &HealthCheck) -> Result<HttpProbe, String> {
        let Probe::Http {
            tls,
            target,
            port,
            path,
            host,
            search_string,
            verify_tls,
        } = &check.probe
        else {
            return Err(format!("a {} check is not an HTTP probe", check.kind()));
        };
        let scheme = if *tls { "https" } else { "http" };
        let path = if path.starts_with('/') {
            path.clone()
        } else {
            format!("/{path}")
        };
        let connect = check.timeout.map_or(HTTP_CONNECT, |t| t.min(HTTP_CONNECT));
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config(*verify_tls))
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .no_proxy()
            .pool_max_idle_per_host(0)
            .connect_timeout(connect)
            .user_agent(USER_AGENT);
        // Route 53's Host rule (§4.4): the name, with ":port" unless the port is
        // the scheme's default; with no name, the address. reqwest writes exactly
        // that from the URL, so the URL carries the name and, for an address
        // target, the name is pinned to the address (which also sends it as SNI).
        let default_port = if *tls { 443 } else { 80 };
        let (url_host, host_header) = match (target, host) {
            (Target::Ip(ip), Some(name)) => {
                builder = builder.resolve(name, SocketAddr::new(*ip, *port));
                (name.clone(), None)
            }
            (Target::Ip(ip), None) => (url_ip(*ip), None),
            (Target::Fqdn(name), None) => (name.clone(), None),
            // The endpoint is resolved from the fqdn; the Host header names `host`.
            (Target::Fqdn(name), Some(h)) => (
                name.clone(),
                Some(match *port == default_port {
                    true => h.clone(),
                    false => format!("{h}:{port}"),
                }),
            ),
        };
        let client = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(HttpProbe {
            client,
            url: format!("{scheme}://{url_host}:{port}{path}"),
            host_header,
            search: search_string.clone(),
            overall: check.timeout,
        })
    }

    pub async fn probe(&self) -> (bool, String) {
        match self.overall {
            Some(limit) => tokio::time::timeout(limit, self.request())
                .await
                .unwrap_or_else(|_| (false, format!("timeout after {}", secs(limit)))),
            None => self.request().await,
        }
    }

    async fn request(&self) -> (bool, String) {
        let mut request = self.client.get(&self.url);
        if let Some(h) = &self.host_header {
            request = request.header(reqwest::header::HOST, h);
        }
        // reqwest's connect timeout bounds the connect; the status must follow within
        // 2 s of it, so the request as a whole gets both.
        let status_limit = self.overall.unwrap_or(HTTP_CONNECT + HTTP_STATUS);
        let response = match tokio::time::timeout(status_limit, request.send()).await {
            Err(_) => {
                return (
                    false,
                    format!("timeout: no status within {}", secs(status_limit)),
                )
            }
            Ok(Err(e)) => return (false, describe(&e)),
            Ok(Ok(r)) => r,
        };
        let code = response.status().as_u16();
        if !(200..400).contains(&code) {
            return (false, format!("HTTP {code}"));
        }
        let Some(search) = &self.search else {
            return (true, format!("HTTP {code}"));
        };
        let body_limit = self.overall.unwrap_or(HTTP_BODY);
        match tokio::time::timeout(body_limit, find_in_body(response, search)).await {
            Err(_) => (
                false,
                format!("timeout: body not read within {}", secs(body_limit)),
            ),
            Ok(Err(e)) => (false, format!("body: {}", describe(&e))),
            Ok(Ok(true)) => (true, format!("HTTP {code}, search string found")),
            Ok(Ok(false)) => (
                false,
                format!("HTTP {code}, search string not in the first {SEARCH_WINDOW} bytes"),
            ),
        }
    }
}

/// Reads the (decoded) body until `search` shows up within its first 5,120 bytes, and no
/// further: an endless body costs nothing past the window.
async fn find_in_body(mut response: reqwest::Response, search: &str) -> reqwest::Result<bool> {
    let needle = search.as_bytes();
    let mut window = Vec::with_capacity(SEARCH_WINDOW);
    while window.len() < SEARCH_WINDOW {
        let Some(chunk) = response.chunk().await? else {
            break;
        };
        let room = SEARCH_WINDOW - window.len();
        window.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if contains(&window, needle) {
            return Ok(true);
        }
    }
    Ok(contains(&window, needle))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn url_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// The most telling cause of a failed request, in a few words.
fn describe(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut innermost = e.to_string();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() != std::io::ErrorKind::Other {
                return io_reason(io);
            }
        }
        if let Some(tls) = s.downcast_ref::<rustls::Error>() {
            return format!("TLS: {tls}");
        }
        innermost = s.to_string();
        source = s.source();
    }
    if e.is_timeout() || innermost.contains("timed out") {
        return format!("connect timeout after {}", secs(HTTP_CONNECT));
    }
    innermost
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// TLS as Route 53 probes: any certificate is accepted (§4.6) unless the check asks for
/// verification, which uses the system's roots.
fn tls_config(verify: bool) -> ClientConfig {
    static CONFIGS: OnceLock<[ClientConfig; 2]> = OnceLock::new();
    let [lax, strict] = CONFIGS.get_or_init(|| {
        let builder = || {
            ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
        };
        let lax = builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())))
            .with_no_client_auth();
        let strict = {
            use rustls_platform_verifier::BuilderVerifierExt;
            builder()
                .with_platform_verifier()
                .map(|b| b.with_no_client_auth())
                .unwrap_or_else(|e| {
                    tracing::warn!(
                        "no system certificate roots ({e}): verify_tls checks will fail"
                    );
                    builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                })
        };
        [lax, strict]
    });
    if verify { strict } else { lax }.clone()
}

/// Accepts whatever certificate the endpoint shows, but still checks that the handshake
/// is signed by it.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
