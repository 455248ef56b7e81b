//! Test harness: starts the real `hadns` binary on a loopback port with zones the test
//! writes, and queries it with `dig` (parsed here) or raw packets.
#![allow(dead_code)]

pub mod endpoint;
pub mod geo;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const DEADLINE: Duration = Duration::from_secs(15);

pub struct Server {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// The HTTP API's port.
    pub http_port: u16,
    /// Arguments after `serve --config FILE`, and environment variables.
    args: Vec<String>,
    env: Vec<(String, String)>,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free for both UDP and TCP on 127.0.0.1 right now.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub fn hadns_bin() -> &'static str {
    env!("CARGO_BIN_EXE_hadns")
}

/// Polls `cond` until it holds or the deadline passes.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

impl Server {
    /// Writes `zones` (file name, text) and starts a server with `[server]` settings
    /// `extra` added; returns once it answers.
    pub fn start(zones: &[(&str, &str)], extra: &str) -> Server {
        Server::start_with_files(zones, extra, &[])
    }

    /// As [`Server::start`], with `files` (name, bytes) written beside the config.
    pub fn start_with_files(
        zones: &[(&str, &str)],
        extra: &str,
        files: &[(&str, &[u8])],
    ) -> Server {
        Server::launch(zones, extra, files, true, Launch::default())
    }

    /// As [`Server::start_with_files`], with more command-line arguments and environment.
    pub fn start_with_args(
        zones: &[(&str, &str)],
        extra: &str,
        files: &[(&str, &[u8])],
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let launch = Launch {
            args: args.iter().map(|a| a.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        Server::launch(zones, extra, files, true, launch)
    }

    /// As [`Server::start_with_files`], but returns as soon as the HTTP API listens,
    /// which is before DNS answers.
    pub fn start_http_only(zones: &[(&str, &str)], extra: &str) -> Server {
        Server::launch(zones, extra, &[], false, Launch::default())
    }

    fn launch(
        zones: &[(&str, &str)],
        extra: &str,
        files: &[(&str, &[u8])],
        wait_for_dns: bool,
        launch: Launch,
    ) -> Server {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            // Tokens and keys: readable by their owner only, as hadns demands.
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::create_dir(dir.path().join("zones")).unwrap();
        for (name, text) in zones {
            std::fs::write(dir.path().join("zones").join(name), text).unwrap();
        }
        for _attempt in 0..5 {
            let port = free_port();
            let http_port = free_port();
            // The HTTP listener on a port of its own, in the test's [http] if it has one.
            let listen = format!("[http]\nlisten = \"127.0.0.1:{http_port}\"\n");
            let (extra, http) = match extra.contains("[http]\n") {
                true => (extra.replace("[http]\n", &listen), String::new()),
                false => (extra.to_string(), listen),
            };
            std::fs::write(
                dir.path().join("hadns.toml"),
                format!(
                    "[server]\nlisten = [\"127.0.0.1:{port}\", \"[::1]:{port}\"]\nzones_dir = \"zones\"\nthreads = 2\n{extra}\n{http}"
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.path().join("hadns.log")).unwrap();
            let mut child = launch.spawn(&dir.path().join("hadns.toml"), log);
            let start = Instant::now();
            while start.elapsed() < DEADLINE {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // port taken between our probe and its bind: try another
                }
                let up = match wait_for_dns {
                    true => ready(port),
                    false => TcpStream::connect(("127.0.0.1", http_port)).is_ok(),
                };
                if up {
                    return Server {
                        dir,
                        port,
                        http_port,
                        args: launch.args,
                        env: launch.env,
                        child,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "hadns did not start: {}",
            std::fs::read_to_string(dir.path().join("hadns.log")).unwrap_or_default()
        );
    }

    /// Stops the server and starts it again on the same directory and config.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("hadns.log"))
            .unwrap();
        let launch = Launch {
            args: self.args.clone(),
            env: self.env.clone(),
        };
        self.child = launch.spawn(&self.config_path(), log);
        let port = self.port;
        wait_for("hadns to answer after a restart", || ready(port));
    }

    /// An HTTP request to the API: (status, body).
    pub fn http(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
        http_request(self.http_port, method, path, token, body)
    }

    /// `GET /api/v1/health-checks`, the entry of check `id`.
    pub fn check_status(&self, id: &str) -> serde_json::Value {
        let (code, body) = self.http("GET", "/api/v1/health-checks", None, "");
        assert_eq!(code, 200, "{body}");
        let all: serde_json::Value = serde_json::from_str(&body).unwrap();
        all["health_checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no check {id} in {body}"))
            .clone()
    }

    /// The status in effect of check `id`: "healthy" or "unhealthy".
    pub fn status_of(&self, id: &str) -> String {
        self.check_status(id)["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The A records `dig` gets for `name`.
    pub fn a(&self, name: &str) -> Vec<String> {
        self.dig(&format!("{name} A")).answer_data("A")
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn zone_path(&self, file: &str) -> PathBuf {
        self.dir.path().join("zones").join(file)
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("hadns.toml")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hadns.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn sighup(&self) {
        let ok = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// `dig @127.0.0.1 -p PORT +norec ARGS...`
    pub fn dig(&self, args: &str) -> Dig {
        dig_at("127.0.0.1", self.port, args)
    }

    pub fn udp(&self, packet: &[u8]) -> Option<Vec<u8>> {
        udp_exchange(self.addr(), packet)
    }
}

/// How the binary is started, beyond `serve --config FILE`.
#[derive(Default)]
struct Launch {
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Launch {
    fn spawn(&self, config: &Path, log: std::fs::File) -> Child {
        Command::new(hadns_bin())
            .args(["serve", "--config"])
            .arg(config)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    }
}

fn ready(port: u16) -> bool {
    // Any well-formed answer means the UDP workers are up; TCP is bound before them.
    udp_exchange(
        SocketAddr::from(([127, 0, 0, 1], port)),
        &query(1, ".", 6, false),
    )
    .is_some()
}

pub fn udp_exchange(addr: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    sock.send_to(packet, addr).ok()?;
    let mut buf = vec![0u8; 65535];
    let (n, _) = sock.recv_from(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

pub fn tcp_connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s
}

pub fn tcp_send(s: &mut TcpStream, packet: &[u8]) {
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    s.write_all(&framed).unwrap();
}

/// Reads one framed message; None on EOF.
pub fn tcp_recv(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// A plain query in wire form: `name` in presentation form, optional EDNS (4096, no options).
pub fn query(id: u16, name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, edns as u8]);
    p.extend_from_slice(&wire_name(name));
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    if edns {
        p.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
    }
    p
}

pub fn wire_name(name: &str) -> Vec<u8> {
    let mut w = Vec::new();
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        w.push(label.len() as u8);
        w.extend_from_slice(label.as_bytes());
    }
    w.push(0);
    w
}

/// The IPv4 addresses in the answer section of a raw response.
pub fn answer_addresses(p: &[u8]) -> Vec<std::net::Ipv4Addr> {
    let skip_name = |mut i: usize| -> usize {
        loop {
            let len = p[i] as usize;
            if len == 0 {
                return i + 1;
            }
            if len & 0xc0 == 0xc0 {
                return i + 2;
            }
            i += len + 1;
        }
    };
    let ancount = u16::from_be_bytes([p[6], p[7]]);
    let mut i = skip_name(12) + 4;
    let mut out = Vec::new();
    for _ in 0..ancount {
        i = skip_name(i);
        let rtype = u16::from_be_bytes([p[i], p[i + 1]]);
        let rdlen = u16::from_be_bytes([p[i + 8], p[i + 9]]) as usize;
        i += 10;
        if rtype == 1 && rdlen == 4 {
            out.push(std::net::Ipv4Addr::new(p[i], p[i + 1], p[i + 2], p[i + 3]));
        }
        i += rdlen;
    }
    out
}

/// Header fields of a raw response.
pub struct Header {
    pub id: u16,
    pub qr: bool,
    pub aa: bool,
    pub tc: bool,
    pub rcode: u8,
    pub counts: [u16; 4],
}

pub fn header(p: &[u8]) -> Header {
    assert!(p.len() >= 12, "short response {p:?}");
    let c = |i: usize| u16::from_be_bytes([p[i], p[i + 1]]);
    Header {
        id: c(0),
        qr: p[2] & 0x80 != 0,
        aa: p[2] & 0x04 != 0,
        tc: p[2] & 0x02 != 0,
        rcode: p[3] & 0x0f,
        counts: [c(4), c(6), c(8), c(10)],
    }
}

/// One record line of dig's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rr {
    pub name: String,
    pub ttl: u32,
    pub rtype: String,
    pub data: String,
}

/// dig's output, parsed.
#[derive(Debug, Default)]
pub struct Dig {
    pub raw: String,
    pub status: String,
    pub flags: Vec<String>,
    pub question: String,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    pub additional: Vec<Rr>,
    /// `; EDNS: version: 0, flags:; udp: 1232`, when present.
    pub edns: Option<String>,
    pub nsid: Option<String>,
    /// `; CLIENT-SUBNET: 198.51.100.0/24/24` → `198.51.100.0/24/24`.
    pub client_subnet: Option<String>,
    pub transport: String,
}

impl Dig {
    pub fn has_flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }

    pub fn answer_data(&self, rtype: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .answer
            .iter()
            .filter(|r| r.rtype == rtype)
            .map(|r| r.data.clone())
            .collect();
        v.sort();
        v
    }

    pub fn types(section: &[Rr]) -> Vec<String> {
        section.iter().map(|r| r.rtype.clone()).collect()
    }
}

pub fn dig_at(server: &str, port: u16, args: &str) -> Dig {
    let out = Command::new("dig")
        .arg(format!("@{server}"))
        .args(["-p", &port.to_string(), "+norec", "+time=2", "+tries=2"])
        .args(args.split_whitespace())
        .output()
        .expect("dig is installed (bind9-dnsutils)");
    parse_dig(&String::from_utf8_lossy(&out.stdout))
}

pub fn parse_dig(text: &str) -> Dig {
    let mut d = Dig {
        raw: text.to_string(),
        ..Dig::default()
    };
    let mut section = "";
    for line in text.lines() {
        if let Some(rest) = line.split("status: ").nth(1) {
            d.status = rest.split(',').next().unwrap().to_string();
        } else if let Some(rest) = line.strip_prefix(";; flags: ") {
            d.flags = rest
                .split(';')
                .next()
                .unwrap()
                .split_whitespace()
                .map(String::from)
                .collect();
        } else if line.starts_with("; EDNS:") {
            d.edns = Some(line.to_string());
        } else if let Some(rest) = line.strip_prefix("; NSID: ") {
            d.nsid = rest
                .split('"')
                .nth(1)
                .map(String::from)
                .or(Some(rest.to_string()));
        } else if let Some(rest) = line.strip_prefix("; CLIENT-SUBNET: ") {
            d.client_subnet = Some(rest.trim().to_string());
        } else if let Some(rest) = line.strip_prefix(";; SERVER: ") {
            d.transport = rest
                .rsplit('(')
                .next()
                .unwrap_or("")
                .trim_end_matches(')')
                .to_string();
        } else if line.starts_with(";; QUESTION SECTION") {
            section = "q";
        } else if line.starts_with(";; ANSWER SECTION") {
            section = "an";
        } else if line.starts_with(";; AUTHORITY SECTION") {
            section = "ns";
        } else if line.starts_with(";; ADDITIONAL SECTION") {
            section = "ar";
        } else if line.trim().is_empty() {
            section = "";
        } else if section == "q" {
            d.question = line
                .trim_start_matches(';')
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
        } else if !line.starts_with(';') && !section.is_empty() {
            let mut f = line.split_whitespace();
            let name = f.next().unwrap_or("").to_string();
            let ttl = f.next().and_then(|t| t.parse().ok()).unwrap_or(0);
            let _class = f.next();
            let rtype = f.next().unwrap_or("").to_string();
            let data = f.collect::<Vec<_>>().join(" ");
            let rr = Rr {
                name,
                ttl,
                rtype,
                data,
            };
            match section {
                "an" => d.answer.push(rr),
                "ns" => d.authority.push(rr),
                _ => d.additional.push(rr),
            }
        }
    }
    d
}

/// A plain HTTP/1.1 request on loopback: (status, body).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    http_request_to(
        SocketAddr::from(([127, 0, 0, 1], port)),
        method,
        path,
        token,
        body,
    )
}

/// A plain HTTP/1.1 request: (status, body).
pub fn http_request_to(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP reply: {reply}"));
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}

/// Runs a command to completion; returns (success, stderr + stdout).
pub fn run_command(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("command runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    (out.status.success(), text)
}

/// Runs a command to completion and asserts that it succeeds; returns its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `hadns ARGS --config CONFIG` and asserts that it succeeds; returns its stdout.
pub fn hadns_ok(config: &Path, args: &[&str]) -> String {
    run_ok(
        Command::new(hadns_bin())
            .args(args)
            .arg("--config")
            .arg(config),
    )
}

/// A directory for `hadns check`: `hadns.toml` (`[server]` on 127.0.0.1:5399, zones in
/// `zones/`, then `extra`) and these zone files.
pub fn config_dir(zones: &[(&str, &str)], extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hadns.toml"),
        format!("[server]\nlisten = [\"127.0.0.1:5399\"]\nzones_dir = \"zones\"\n{extra}"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("zones")).unwrap();
    for (name, text) in zones {
        std::fs::write(dir.path().join("zones").join(name), text).unwrap();
    }
    dir
}

/// Runs `hadns check --config FILE`; returns (success, stderr + stdout).
pub fn check(config: &Path) -> (bool, String) {
    run_command(
        Command::new(hadns_bin())
            .args(["check", "--config"])
            .arg(config),
    )
}

/// Asserts that `hadns check` on `config` fails and reports `file:line: …message…`.
pub fn assert_check_error(config: &Path, file: &str, line: usize, message: &str) {
    let (ok, out) = check(config);
    assert!(!ok, "check passed but should fail: {out}");
    let want = format!("{file}:{line}: ");
    assert!(
        out.lines()
            .any(|l| l.contains(&want) && l.contains(message)),
        "expected {want}…{message} in:\n{out}"
    );
}

/// A health check fixed healthy or unhealthy the way Route 53 allows without probing:
/// disabled reports healthy, disabled and inverted unhealthy.
pub fn forced_check(id: &str, healthy: bool) -> String {
    format!(
        "[[health_check]]\nid = \"{id}\"\ntype = \"tcp\"\nip = \"127.0.0.1\"\nport = 9\ndisabled = true\ninverted = {}\n",
        !healthy
    )
}

/// True when the test may use what it names (root, installed programs); otherwise it
/// says it is skipped, and under CI, where everything must run, it fails instead.
pub fn can_run(what: &str, ok: bool) -> bool {
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run this test: it needs {what}"
        );
        eprintln!("skipped: needs {what}");
    }
    ok
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Whether `program` runs here.
pub fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Moves the calling test's thread into a network namespace of its own, with loopback
/// up: the servers it starts from then on are alone there, on any 127.0.0.0/8 address
/// and port they like. Needs root.
pub fn private_network() {
    // SAFETY: unshare only changes the calling thread's namespaces.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "unshare(CLONE_NEWNET): {}",
        std::io::Error::last_os_error()
    );
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(up, "ip link set lo up");
}

/// Makes a FIFO at `path` (a file a reader would wait on for ever).
pub fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// A small valid zone file for `origin` with the given extra records.
pub fn zone(origin: &str, body: &str) -> String {
    format!(
        "$ORIGIN {origin}.\n$TTL 300\n@ 3600 IN SOA ns1 hostmaster ( 1 14400 3600 1209600 300 )\n  3600 NS ns1\nns1 A 192.0.2.1\n{body}\n"
    )
}
