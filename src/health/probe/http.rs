//! HTTP and HTTPS checks: HTTP/1.1 GET without following redirects, healthy on
//! 200-399, the body read only as far as a search string needs (5,120 bytes at most,
//! decoded). One connection per probe, straight over hyper's HTTP/1 connection (and
//! rustls): no pool, no URL to parse, nothing a probe does not need.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use flate2::write::{GzDecoder, ZlibDecoder};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use super::{io_reason, resolve_v4, secs};
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
    tls: Option<TlsConnector>,
    target: Target,
    port: u16,
    /// The name sent as SNI (the host, else the fqdn); None for an address alone.
    server_name: Option<ServerName<'static>>,
    /// Route 53's Host rule (§4.4): the name, with ":port" unless the port is the
    /// scheme's default; with no name, the address.
    host_header: HeaderValue,
    path: String,
    search: Option<String>,
    connect_limit: Duration,
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
        let path = if path.starts_with('/') {
            path.clone()
        } else {
            format!("/{path}")
        };
        let default_port = if *tls { 443 } else { 80 };
        let name = match (target, host) {
            (_, Some(h)) => Some(h.clone()),
            (Target::Fqdn(f), None) => Some(f.clone()),
            (Target::Ip(_), None) => None,
        };
        let host = name.clone().unwrap_or_else(|| match target {
            Target::Ip(ip) => url_ip(*ip),
            Target::Fqdn(f) => f.clone(),
        });
        let host = match *port == default_port {
            true => host,
            false => format!("{host}:{port}"),
        };
        let host_header = HeaderValue::from_str(&host)
            .map_err(|_| format!("{host:?} cannot be a Host header"))?;
        // SNI names the endpoint the way the URL would: the fqdn it was resolved from,
        // else the host; an address alone sends none.
        let sni = match target {
            Target::Fqdn(f) => Some(f.clone()),
            Target::Ip(_) => name,
        };
        let server_name = sni
            .map(|n| ServerName::try_from(n).map_err(|e| format!("not a server name: {e}")))
            .transpose()?;
        Ok(HttpProbe {
            tls: tls.then(|| TlsConnector::from(Arc::new(tls_config(*verify_tls)))),
            target: target.clone(),
            port: *port,
            server_name,
            host_header,
            path,
            search: search_string.clone(),
            connect_limit: check.timeout.map_or(HTTP_CONNECT, |t| t.min(HTTP_CONNECT)),
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
        let addr = match &self.target {
            Target::Ip(ip) => SocketAddr::new(*ip, self.port),
            Target::Fqdn(name) => match resolve_v4(name, self.port).await {
                Ok(a) => a,
                Err(reason) => return (false, reason),
            },
        };
        // The connection (and TLS) within the connect limit; the status within 2 s
        // after; the body within 2 s after that.
        let connected = tokio::time::timeout(self.connect_limit, self.connect(addr)).await;
        let mut sender = match connected {
            Err(_) => {
                return (
                    false,
                    format!("connect timeout after {}", secs(self.connect_limit)),
                )
            }
            Ok(Err(reason)) => return (false, reason),
            Ok(Ok(s)) => s,
        };
        let request = Request::get(self.path.as_str())
            .header(header::HOST, self.host_header.clone())
            .header(header::USER_AGENT, USER_AGENT)
            .header(header::ACCEPT, "*/*")
            .header(header::ACCEPT_ENCODING, "gzip, deflate")
            .header(header::CONNECTION, "close")
            .body(Empty::<Bytes>::new());
        let Ok(request) = request else {
            return (false, format!("cannot request {:?}", self.path));
        };
        let status_limit = self.overall.unwrap_or(HTTP_STATUS);
        let response = match tokio::time::timeout(status_limit, sender.send_request(request)).await
        {
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
            Ok(Err(e)) => (false, format!("body: {e}")),
            Ok(Ok(true)) => (true, format!("HTTP {code}, search string found")),
            Ok(Ok(false)) => (
                false,
                format!("HTTP {code}, search string not in the first {SEARCH_WINDOW} bytes"),
            ),
        }
    }

    /// A connection to `addr` (TLS when https), ready for one request.
    async fn connect(&self, addr: SocketAddr) -> Result<SendRequest<Empty<Bytes>>, String> {
        let tcp = TcpStream::connect(addr).await.map_err(|e| io_reason(&e))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => handshake(tcp).await,
            Some(tls) => {
                let name = self
                    .server_name
                    .clone()
                    .unwrap_or_else(|| ServerName::IpAddress(addr.ip().into()));
                let stream = tls.connect(name, tcp).await.map_err(|e| {
                    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                        Some(tls) => format!("TLS: {tls}"),
                        None => io_reason(&e),
                    }
                })?;
                handshake(stream).await
            }
        }
    }
}

/// HTTP/1.1 over `io`: the connection is driven by a task of its own, which ends when
/// the request and its body are done with (the request asks the endpoint to close).
async fn handshake<T>(io: T) -> Result<SendRequest<Empty<Bytes>>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| describe(&e))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Reads the body, decoded (gzip, deflate), until `search` shows up within its first
/// 5,120 bytes, and no further: an endless body costs nothing past the window.
async fn find_in_body(response: Response<Incoming>, search: &str) -> Result<bool, String> {
    let encoding = response
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    let mut window = Window {
        decoded: Vec::with_capacity(SEARCH_WINDOW),
        decoder: match encoding.as_deref() {
            Some("gzip" | "x-gzip") => Decoder::Gzip(Box::new(GzDecoder::new(Limited::default()))),
            Some("deflate") => Decoder::Deflate(Box::new(ZlibDecoder::new(Limited::default()))),
            _ => Decoder::Identity,
        },
    };
    let needle = search.as_bytes();
    let mut body = response.into_body();
    while window.len() < SEARCH_WINDOW {
        let Some(frame) = body.frame().await else {
            break;
        };
        let frame = frame.map_err(|e| describe(&e))?;
        if let Ok(data) = frame.into_data() {
            window
                .push(&data)
                .map_err(|e| format!("cannot decode the body: {e}"))?;
            if contains(window.bytes(), needle) {
                return Ok(true);
            }
        }
    }
    Ok(contains(window.bytes(), needle))
}

/// The first 5,120 decoded bytes of a body.
struct Window {
    decoded: Vec<u8>,
    decoder: Decoder,
}

enum Decoder {
    Identity,
    Gzip(Box<GzDecoder<Limited>>),
    Deflate(Box<ZlibDecoder<Limited>>),
}

/// A decoder's output, kept up to the window: a small body that inflates without end
/// costs nothing past it.
#[derive(Default)]
struct Limited(Vec<u8>);

impl Write for Limited {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = SEARCH_WINDOW.saturating_sub(self.0.len());
        self.0.extend_from_slice(&buf[..buf.len().min(room)]);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Window {
    fn push(&mut self, data: &[u8]) -> std::io::Result<()> {
        match &mut self.decoder {
            Decoder::Identity => {
                let room = SEARCH_WINDOW - self.decoded.len();
                self.decoded
                    .extend_from_slice(&data[..data.len().min(room)]);
            }
            // Flushed so that what is decoded so far is in the window.
            Decoder::Gzip(d) => d.write_all(data).and_then(|()| d.flush())?,
            Decoder::Deflate(d) => d.write_all(data).and_then(|()| d.flush())?,
        }
        Ok(())
    }

    fn bytes(&self) -> &[u8] {
        match &self.decoder {
            Decoder::Identity => &self.decoded,
            Decoder::Gzip(d) => &d.get_ref().0,
            Decoder::Deflate(d) => &d.get_ref().0,
        }
    }

    fn len(&self) -> usize {
        self.bytes().len()
    }
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
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
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

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{GzEncoder, ZlibEncoder};
    use flate2::Compression;

    /// A body as the probe reads it: in `chunk`-byte pieces, decoded as `decoder` says.
    fn window(decoder: Decoder, encoded: &[u8], chunk: usize) -> Vec<u8> {
        let mut w = Window {
            decoded: Vec::new(),
            decoder,
        };
        for piece in encoded.chunks(chunk) {
            w.push(piece).unwrap();
        }
        w.bytes().to_vec()
    }

    #[test]
    fn gzip_and_deflate_bodies_are_decoded_up_to_the_window() {
        let mut body = vec![b'.'; 5000];
        body.extend_from_slice(b"OK");
        body.extend(std::iter::repeat_n(b'x', 100_000));
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&body).unwrap();
        let gz = gz.finish().unwrap();
        let mut zlib = ZlibEncoder::new(Vec::new(), Compression::default());
        zlib.write_all(&body).unwrap();
        let zlib = zlib.finish().unwrap();
        for chunk in [7, 100, 1 << 20] {
            let gzip = Decoder::Gzip(Box::new(GzDecoder::new(Limited::default())));
            let deflate = Decoder::Deflate(Box::new(ZlibDecoder::new(Limited::default())));
            for (decoded, what) in [
                (window(gzip, &gz, chunk), "gzip"),
                (window(deflate, &zlib, chunk), "deflate"),
            ] {
                assert_eq!(
                    decoded,
                    &body[..SEARCH_WINDOW],
                    "{what} in {chunk}-byte pieces"
                );
                assert!(contains(&decoded, b"OK"));
            }
            assert_eq!(
                window(Decoder::Identity, &body, chunk),
                &body[..SEARCH_WINDOW]
            );
        }
    }
}
