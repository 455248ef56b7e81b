//! Endpoints for health checks to probe: a small HTTP(S) server on loopback whose
//! behaviour a test sets, stops and starts again on the same port.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Answer with this status and body; gzip-encoded when `gzip`.
    Respond {
        status: u16,
        body: Vec<u8>,
        gzip: bool,
    },
    /// Answer the statuses in turn, over and over.
    Cycle(Vec<u16>),
    /// Accept, read the request, never answer (for TLS: never finish the handshake).
    Silent,
    /// Send the status line one byte per second.
    Trickle,
    /// 200 and a body that never ends.
    Endless,
}

pub fn status(code: u16) -> Behaviour {
    Behaviour::Respond {
        status: code,
        body: b"OK\n".to_vec(),
        gzip: false,
    }
}

struct Shared {
    behaviour: Mutex<Behaviour>,
    /// Requests answered (or connections taken, for Silent).
    hits: AtomicUsize,
    /// The last request's head.
    last_request: Mutex<String>,
    tls: Option<Arc<rustls::ServerConfig>>,
}

pub struct Endpoint {
    pub port: u16,
    /// The address it listens on.
    ip: std::net::IpAddr,
    shared: Arc<Shared>,
    running: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Endpoint {
    pub fn http(b: Behaviour) -> Endpoint {
        Endpoint::start_new(b, None, [127, 0, 0, 1].into())
    }

    /// HTTP on every address of the network it runs in (a test's own network).
    pub fn http_any(b: Behaviour) -> Endpoint {
        Endpoint::start_new(b, None, [0, 0, 0, 0].into())
    }

    /// HTTPS with a self-signed certificate for `name`, made here.
    pub fn https(b: Behaviour, name: &str) -> Endpoint {
        let key = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
        let cert = key.cert.der().clone();
        let private =
            rustls::pki_types::PrivateKeyDer::try_from(key.signing_key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], private)
        .unwrap();
        Endpoint::start_new(b, Some(Arc::new(config)), [127, 0, 0, 1].into())
    }

    fn start_new(
        b: Behaviour,
        tls: Option<Arc<rustls::ServerConfig>>,
        ip: std::net::IpAddr,
    ) -> Endpoint {
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(b),
            hits: AtomicUsize::new(0),
            last_request: Mutex::new(String::new()),
            tls,
        });
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut e = Endpoint {
            port,
            ip,
            shared,
            running: None,
        };
        e.serve(listener);
        e
    }

    fn serve(&mut self, listener: TcpListener) {
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, flag) = (self.shared.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return; // dropping the listener: connections are refused again
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || handle(stream, &shared));
            }
        });
        self.running = Some((stop, thread));
    }

    /// Closes the port: connections are refused.
    pub fn stop(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(("127.0.0.1", self.port));
            thread.join().unwrap();
        }
    }

    /// Listens again on the same port.
    pub fn start(&mut self) {
        if self.running.is_none() {
            let listener = TcpListener::bind((self.ip, self.port)).unwrap();
            self.serve(listener);
        }
    }

    pub fn set(&self, b: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = b;
    }

    pub fn hits(&self) -> usize {
        self.shared.hits.load(Ordering::SeqCst)
    }

    pub fn last_request(&self) -> String {
        self.shared.last_request.lock().unwrap().clone()
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop();
    }
}

fn handle(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let behaviour = shared.behaviour.lock().unwrap().clone();
    match &shared.tls {
        None => exchange(stream, shared, &behaviour),
        Some(_) if matches!(behaviour, Behaviour::Silent) => {
            // Stall the handshake: hold the connection, say nothing.
            shared.hits.fetch_add(1, Ordering::SeqCst);
            let mut stream = stream;
            let _ = stream.read(&mut [0u8; 1]);
            std::thread::sleep(Duration::from_secs(30));
        }
        Some(config) => {
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            exchange(rustls::StreamOwned::new(conn, stream), shared, &behaviour);
        }
    }
}

fn exchange(mut s: impl Read + Write, shared: &Shared, behaviour: &Behaviour) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16384 {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    *shared.last_request.lock().unwrap() = String::from_utf8_lossy(&head).into_owned();
    let n = shared.hits.fetch_add(1, Ordering::SeqCst);
    match behaviour {
        Behaviour::Respond { status, body, gzip } => respond(&mut s, *status, body, *gzip),
        Behaviour::Cycle(codes) => respond(&mut s, codes[n % codes.len()], b"", false),
        Behaviour::Silent => std::thread::sleep(Duration::from_secs(30)),
        Behaviour::Trickle => {
            for b in b"HTTP/1.1 200 OK\r\n".iter().cycle() {
                if s.write_all(&[*b]).and_then(|_| s.flush()).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Behaviour::Endless => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            let chunk = format!("{:x}\r\n{}\r\n", 1024, "x".repeat(1024));
            while s
                .write_all(chunk.as_bytes())
                .and_then(|_| s.flush())
                .is_ok()
            {}
        }
    }
}

fn respond(s: &mut impl Write, status: u16, body: &[u8], gzip: bool) {
    let body = match gzip {
        true => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(body).unwrap();
            e.finish().unwrap()
        }
        false => body.to_vec(),
    };
    let encoding = if gzip {
        "Content-Encoding: gzip\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {status} Status\r\nContent-Length: {}\r\n{encoding}Connection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(&body);
    let _ = s.flush();
}
