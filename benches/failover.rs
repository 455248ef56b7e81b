//! Health-check figures, against the release binary and endpoints started here on loopback:
//!
//! 1. Failover time: the primary's endpoint stops → the answer changes (and back), for a
//!    few intervals and thresholds. Route 53's bound is interval × failure_threshold.
//! 2. The CPU cost of 10,000 HTTP checks every 10 s (1,000 probes a second): hadns's own
//!    CPU time (from /proc) over a measured window, and its resident memory.
//!
//! `cargo bench --bench failover` (set `HADNS_BENCH_QUICK=1` for a shorter run).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs us with no such flag.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let quick = std::env::var_os("HADNS_BENCH_QUICK").is_some();
    failover_time(quick);
    cpu_of_many_checks(quick);
}

/// A loopback HTTP endpoint answering 200 to everything, `threads` accept loops.
struct Endpoint {
    port: u16,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Endpoint {
    fn start(port: u16, threads: usize) -> Endpoint {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let listener = Arc::new(listener);
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..threads)
            .map(|_| {
                let (listener, hits, stop) = (listener.clone(), hits.clone(), stop.clone());
                std::thread::spawn(move || {
                    for stream in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        if let Ok(s) = stream {
                            answer(s);
                            hits.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        Endpoint {
            port,
            hits,
            stop,
            threads,
        }
    }

    fn stop(self) -> u16 {
        self.stop.store(true, Ordering::SeqCst);
        for _ in &self.threads {
            let _ = TcpStream::connect(("127.0.0.1", self.port));
        }
        for t in self.threads {
            t.join().unwrap();
        }
        self.port
    }
}

fn answer(mut s: TcpStream) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 2048];
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nOK\n");
}

struct Hadns {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Hadns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const ZONE: &str = "$ORIGIN example.\n$TTL 300\n@ SOA ns1 hostmaster 1 14400 3600 1209600 300\n  NS ns1\nns1 A 192.0.2.53\n";
const FAILOVER: &str = "[[record]]\nname = \"web\"\ntype = \"A\"\nttl = 10\nset_id = \"p\"\nfailover = \"primary\"\nvalues = [\"192.0.2.1\"]\nhealth_check = \"primary\"\n\
[[record]]\nname = \"web\"\ntype = \"A\"\nttl = 10\nset_id = \"s\"\nfailover = \"secondary\"\nvalues = [\"192.0.2.2\"]\n";

fn start_hadns(policy: &str) -> Hadns {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("zones")).unwrap();
    std::fs::write(dir.path().join("zones/example.zone"), ZONE).unwrap();
    std::fs::write(dir.path().join("zones/example.toml"), policy).unwrap();
    let (port, http) = (free_port(), free_port());
    std::fs::write(
        dir.path().join("hadns.toml"),
        format!("[server]\nlisten = [\"127.0.0.1:{port}\"]\nzones_dir = \"zones\"\nthreads = 1\n[http]\nlisten = \"127.0.0.1:{http}\"\n"),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_hadns"))
        .args(["serve", "--config"])
        .arg(dir.path().join("hadns.toml"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let h = Hadns {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while answer_of(h.port).is_none() {
        assert!(Instant::now() < deadline, "hadns did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    h
}

/// The last octet of the A record for web.example., if any answer came.
fn answer_of(port: u16) -> Option<u8> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    q.extend_from_slice(b"\x03web\x07example\x00\x00\x01\x00\x01");
    sock.send_to(&q, SocketAddr::from(([127, 0, 0, 1], port)))
        .ok()?;
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).ok()?;
    (n >= 4 && u16::from_be_bytes([buf[6], buf[7]]) > 0).then(|| buf[n - 1])
}

/// Time from `t0` until the answer's last octet is `want`, polling every millisecond.
fn until_answer(port: u16, want: u8, t0: Instant) -> Duration {
    loop {
        if answer_of(port) == Some(want) {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the answer never changed"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn failover_time(quick: bool) {
    println!("failover time: the primary's endpoint stops (connections refused) → dig-level answer changes");
    println!(
        "{:>9} {:>9} {:>7} | {:>28} | {:>28}",
        "interval",
        "threshold",
        "bound",
        "down: min / median / max",
        "up again: min / median / max"
    );
    let rounds = if quick { 3 } else { 10 };
    for (interval_ms, threshold) in [(100u64, 1u8), (100, 3), (1000, 1), (1000, 3)] {
        let mut ep = Endpoint::start(0, 1);
        let policy = format!(
            "[[health_check]]\nid = \"primary\"\ntype = \"http\"\nip = \"127.0.0.1\"\nport = {}\ninterval = \"{interval_ms}ms\"\nfailure_threshold = {threshold}\n{FAILOVER}",
            ep.port
        );
        let h = start_hadns(&policy);
        let (mut down, mut up) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t0 = Instant::now();
            let port = ep.stop();
            down.push(until_answer(h.port, 2, t0));
            let t0 = Instant::now();
            ep = Endpoint::start(port, 1);
            up.push(until_answer(h.port, 1, t0));
        }
        let fmt = |v: &mut Vec<Duration>| {
            v.sort();
            format!(
                "{:>7.0} / {:>7.0} / {:>7.0} ms",
                v[0].as_secs_f64() * 1e3,
                v[v.len() / 2].as_secs_f64() * 1e3,
                v[v.len() - 1].as_secs_f64() * 1e3
            )
        };
        println!(
            "{:>7}ms {:>9} {:>5}ms | {:>28} | {:>28}",
            interval_ms,
            threshold,
            interval_ms * u64::from(threshold),
            fmt(&mut down),
            fmt(&mut up)
        );
        ep.stop();
    }
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    kb / 1024.0
}

fn cpu_of_many_checks(quick: bool) {
    const CHECKS: usize = 10_000;
    let ep = Endpoint::start(0, 4);
    let mut policy = String::new();
    for i in 0..CHECKS {
        // Distinct paths: 10,000 distinct probes, none grouped with another.
        policy.push_str(&format!(
            "[[health_check]]\nid = \"c{i}\"\ntype = \"http\"\nip = \"127.0.0.1\"\nport = {}\npath = \"/c/{i}\"\ninterval = \"10s\"\n",
            ep.port
        ));
    }
    policy.push_str(&format!(
        "[[health_check]]\nid = \"primary\"\ntype = \"tcp\"\nip = \"127.0.0.1\"\nport = {}\ninterval = \"10s\"\n{FAILOVER}",
        ep.port
    ));
    let started = Instant::now();
    let h = start_hadns(&policy);
    let pid = h.child.id();
    println!(
        "\n{CHECKS} HTTP checks every 10 s: ready (first round done) after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Let the start-up round settle into the steady state, then measure.
    std::thread::sleep(Duration::from_secs(if quick { 5 } else { 15 }));
    let window = Duration::from_secs(if quick { 10 } else { 60 });
    let (cpu0, hits0, t0) = (
        cpu_seconds(pid),
        ep.hits.load(Ordering::Relaxed),
        Instant::now(),
    );
    std::thread::sleep(window);
    let (cpu1, hits1, wall) = (
        cpu_seconds(pid),
        ep.hits.load(Ordering::Relaxed),
        t0.elapsed(),
    );
    let cpu = cpu1 - cpu0;
    let probes = hits1 - hits0;
    println!(
        "over {:.0} s: {} probes ({:.0}/s), hadns CPU {:.2} s = {:.1}% of one core, {:.0} µs CPU per probe, RSS {:.0} MiB",
        wall.as_secs_f64(),
        probes,
        probes as f64 / wall.as_secs_f64(),
        cpu,
        100.0 * cpu / wall.as_secs_f64(),
        1e6 * cpu / probes.max(1) as f64,
        rss_mib(pid)
    );
    assert!(answer_of(h.port).is_some(), "hadns still answers");
    drop(h);
    ep.stop();
}
