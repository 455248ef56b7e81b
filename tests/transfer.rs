//! Zone transfers out: AXFR of the view a client with no known location gets now, to
//! the addresses `[transfer] allow` lists, in as many messages as the zone needs; and a
//! real secondary (NSD) that serves what it transferred.

mod common;
use std::process::Command;

use common::{forced_check, zone, Server};

const ALLOW: &str = "\n[transfer]\nallow = [\"127.0.0.1\"]\n";
const REGIONS: &str = "\n[[region]]\nid = \"eu\"\nlocation = { lat = 53.3, lon = -6.3 }\n\n[[region]]\nid = \"us\"\nlocation = { lat = 38.9, lon = -77.0 }\n";

const ZONE: &str = "www A 192.0.2.80\nalias CNAME www";

fn set(name: &str, id: &str, policy: &str, value: &str, check: Option<&str>) -> String {
    let check = check.map_or(String::new(), |c| format!("health_check = \"{c}\"\n"));
    format!("[[record]]\nname = \"{name}\"\ntype = \"A\"\nttl = 60\nset_id = \"{id}\"\n{policy}\nvalues = [\"{value}\"]\n{check}")
}

/// Failover with the primary down, weighted, latency, IP-based and multivalue over ten.
fn policies() -> String {
    let mut p = forced_check("down", false) + &forced_check("up", true);
    p += "[[cidr_location]]\nname = \"office\"\nnetworks = [\"198.51.100.0/24\"]\n";
    p += &set(
        "fo",
        "p",
        "failover = \"primary\"",
        "192.0.2.1",
        Some("down"),
    );
    p += &set(
        "fo",
        "s",
        "failover = \"secondary\"",
        "192.0.2.2",
        Some("up"),
    );
    p += &set("w", "a", "weight = 3", "192.0.2.11", None);
    p += &set("w", "b", "weight = 1", "192.0.2.12", None);
    p += &set("w", "z", "weight = 0", "192.0.2.13", None);
    p += &set("lat", "eu", "region = \"eu\"", "192.0.2.21", Some("down"));
    p += &set("lat", "us", "region = \"us\"", "192.0.2.22", None);
    p += &set(
        "ip",
        "office",
        "cidr = { location = \"office\" }",
        "192.0.2.31",
        None,
    );
    p += &set(
        "ip",
        "rest",
        "cidr = { location = \"*\" }",
        "192.0.2.32",
        None,
    );
    for i in 0..10 {
        p += &set(
            "mv",
            &format!("m{i}"),
            "multivalue = true",
            &format!("192.0.2.{}", 40 + i),
            None,
        );
    }
    p
}

fn server(extra: &str) -> Server {
    Server::start(
        &[
            ("example.com.zone", &zone("example.com", ZONE)),
            ("example.com.toml", &policies()),
        ],
        &format!("{extra}{REGIONS}"),
    )
}

/// The records of an AXFR by dig, as sorted `name ttl type data` lines, and how many
/// messages carried them.
fn axfr(s: &Server, zone: &str) -> (Vec<String>, usize) {
    let d = s.dig(&format!("{zone} AXFR"));
    // dig prints a transfer's records without section headers.
    let mut lines: Vec<String> = d
        .raw
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {} {} {}", f[0], f[1], f[3], f[4..].join(" "))
        })
        .collect();
    lines.sort();
    let messages = d
        .raw
        .lines()
        .find_map(|l| l.split("messages ").nth(1))
        .and_then(|n| n.split(',').next()?.trim().parse().ok())
        .unwrap_or(0);
    (lines, messages)
}

#[test]
fn axfr_carries_the_view_of_a_client_with_no_known_location() {
    let s = server(ALLOW);
    let (lines, _) = axfr(&s, "example.com");
    let a = |name: &str, ttl: u32, addr: &str| format!("{name}.example.com. {ttl} A {addr}");
    for want in [
        a("www", 300, "192.0.2.80"),
        // The secondary: the primary's check is down.
        a("fo", 60, "192.0.2.2"),
        // Every set a draw can pick; never the zero weight.
        a("w", 60, "192.0.2.11"),
        a("w", 60, "192.0.2.12"),
        // Latency with no location: the first healthy region.
        a("lat", 60, "192.0.2.22"),
        // IP-based: the default location.
        a("ip", 60, "192.0.2.32"),
    ] {
        assert!(lines.contains(&want), "{want} missing from {lines:#?}");
    }
    for unwanted in [
        a("fo", 60, "192.0.2.1"),
        a("w", 60, "192.0.2.13"),
        a("ip", 60, "192.0.2.31"),
    ] {
        assert!(!lines.contains(&unwanted), "{unwanted} in {lines:#?}");
    }
    let multivalue = lines.iter().filter(|l| l.starts_with("mv.")).count();
    assert_eq!(multivalue, 8, "up to eight multivalue sets: {lines:#?}");
    // The SOA opens and closes the transfer.
    let soas = lines.iter().filter(|l| l.contains(" SOA ")).count();
    assert_eq!(soas, 2, "{lines:#?}");
}

#[test]
fn axfr_is_refused_outside_allow_and_for_names_that_are_not_a_zone() {
    let s = server("");
    let mut tcp = common::tcp_connect(s.addr());
    common::tcp_send(&mut tcp, &common::query(7, "example.com", 252, true));
    let r = common::tcp_recv(&mut tcp).expect("an answer");
    assert_eq!(r[3] & 0x0f, 5, "REFUSED without [transfer] allow");
    assert!(
        r.windows(6).any(|w| w[..2] == [0, 15] && w[4..] == [0, 18]),
        "EDE 18: {r:?}"
    );

    let s = server(ALLOW);
    let mut tcp = common::tcp_connect(s.addr());
    common::tcp_send(&mut tcp, &common::query(8, "www.example.com", 252, false));
    let r = common::tcp_recv(&mut tcp).expect("an answer");
    assert_eq!(
        r[3] & 0x0f,
        9,
        "NOTAUTH for a name that is not a zone's apex"
    );
    // Over UDP: truncated, to send the client to TCP.
    let r = s
        .udp(&common::query(9, "example.com", 252, false))
        .expect("an answer");
    assert_eq!(r[2] & 0x02, 0x02, "TC over UDP");
}

#[test]
fn a_large_zone_goes_in_several_messages() {
    let records: String = (0..3000)
        .map(|i| format!("host{i} A 192.0.{}.{}\n", i / 256, i % 256))
        .collect();
    let s = Server::start(
        &[("example.com.zone", &zone("example.com", &records))],
        ALLOW,
    );
    let (lines, messages) = axfr(&s, "example.com");
    assert_eq!(lines.iter().filter(|l| l.starts_with("host")).count(), 3000);
    assert!(messages > 1, "{messages} messages");
}

/// NSD, a standard secondary, transfers the policy zone from hadns (no key) and answers
/// from its copy as hadns does. Needs root (a network namespace of its own) and nsd.
#[test]
fn nsd_as_a_secondary_serves_the_transferred_view() {
    if !common::can_run(
        "root and nsd",
        common::is_root() && common::installed("nsd"),
    ) {
        return;
    }
    common::private_network();
    let hadns = server(ALLOW);
    let dir = tempfile::tempdir().unwrap();
    let mut nsd = start_secondary(Secondary::Nsd, dir.path(), hadns.port, false);
    let ask = |server: &str, port: u16, name: &str| {
        common::dig_at(server, port, &format!("{name}.example.com A")).answer_data("A")
    };
    common::wait_for("NSD to transfer the zone", || {
        !ask("127.0.0.2", 53, "www").is_empty()
    });
    for name in ["www", "fo", "lat", "ip"] {
        assert_eq!(
            ask("127.0.0.2", 53, name),
            ask("127.0.0.1", hadns.port, name),
            "{name}"
        );
    }
    assert_eq!(ask("127.0.0.2", 53, "w"), ["192.0.2.11", "192.0.2.12"]);
    let _ = nsd.kill();
    let _ = nsd.wait();
}

fn failover(primary_up: bool) -> String {
    forced_check("p", primary_up)
        + &set("fo", "p", "failover = \"primary\"", "192.0.2.1", Some("p"))
        + &set("fo", "s", "failover = \"secondary\"", "192.0.2.2", None)
}

fn soa_serial(server: &str, port: u16) -> u32 {
    let d = common::dig_at(server, port, "example.com SOA");
    let soa = d.answer_data("SOA");
    let serial = soa
        .first()
        .and_then(|s| s.split_whitespace().nth(2)?.parse().ok());
    serial.unwrap_or_else(|| panic!("no SOA serial from {server}: {}", d.raw))
}

/// An IXFR from the serial before a change carries only the change (RFC 1995 §4); from
/// the current serial, the SOA alone; from an unknown one, the whole zone.
#[test]
fn ixfr_carries_only_the_change() {
    let s = Server::start(
        &[
            ("example.com.zone", &zone("example.com", ZONE)),
            ("example.com.toml", &failover(true)),
        ],
        ALLOW,
    );
    let before = soa_serial("127.0.0.1", s.port);
    std::fs::write(s.zone_path("example.com.toml"), failover(false)).unwrap();
    common::wait_for("the failover", || {
        s.dig("fo.example.com A").answer_data("A") == ["192.0.2.2"]
    });
    let after = soa_serial("127.0.0.1", s.port);
    assert!(after > before, "{before} → {after}");
    let records = |args: &str| -> Vec<String> {
        s.dig(args)
            .raw
            .lines()
            .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    let diff = records(&format!("example.com IXFR={before}"));
    let soa = |serial: u32| format!("hostmaster.example.com. {serial} ");
    assert_eq!(diff.len(), 6, "{diff:#?}");
    assert!(
        diff[0].contains(&soa(after)) && diff[1].contains(&soa(before)),
        "{diff:#?}"
    );
    assert_eq!(
        diff[2], "fo.example.com. 60 IN A 192.0.2.1",
        "deleted: {diff:#?}"
    );
    assert!(diff[3].contains(&soa(after)), "{diff:#?}");
    assert_eq!(
        diff[4], "fo.example.com. 60 IN A 192.0.2.2",
        "added: {diff:#?}"
    );
    assert!(diff[5].contains(&soa(after)), "{diff:#?}");
    let current = records(&format!("example.com IXFR={after}"));
    assert_eq!(current.len(), 1, "the SOA alone: {current:#?}");
    let unknown = records(&format!("example.com IXFR={}", after + 1000));
    assert_eq!(
        unknown.len(),
        1,
        "a serial ahead of ours: the SOA: {unknown:#?}"
    );
    let old = records("example.com IXFR=0");
    assert!(old.len() > 6, "the whole zone: {old:#?}");
}

const SECRET: &str = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0";
const TSIG: &str = "\n[transfer]\nallow = [\"127.0.0.0/8\"]\ntsig_key = \"xfr\"\n# notify\n\n[[tsig_key]]\nname = \"xfr\"\nalgorithm = \"hmac-sha256\"\nsecret_file = \"xfr.tsig\"\n";

fn tsig_server(records: &str, policy: &str) -> Server {
    Server::start_with_files(
        &[
            ("example.com.zone", &zone("example.com", records)),
            ("example.com.toml", policy),
        ],
        TSIG,
        &[("xfr.tsig", SECRET.as_bytes())],
    )
}

/// With `tsig_key`, a transfer is signed message by message (the MACs chained, RFC 8945
/// §5.3.1), as dig verifies; a wrong key gets NOTAUTH/BADSIG, no signature REFUSED.
#[test]
fn transfers_are_signed_with_the_tsig_key_and_refused_without_it() {
    let records: String = (0..3000)
        .map(|i| format!("host{i} A 192.0.{}.{}\n", i / 256, i % 256))
        .collect();
    let s = tsig_server(&records, &failover(true));
    let d = s.dig(&format!("-y hmac-sha256:xfr:{SECRET} example.com AXFR"));
    assert!(
        !d.raw.contains("WARNING"),
        "every message verifies: {}",
        &d.raw[d.raw.len().saturating_sub(600)..]
    );
    assert!(
        !d.raw.contains("failed"),
        "{}",
        &d.raw[d.raw.len().saturating_sub(600)..]
    );
    let summary = d
        .raw
        .lines()
        .find(|l| l.contains("XFR size"))
        .unwrap_or_default()
        .to_string();
    assert!(
        summary.contains("records (messages") && !summary.contains("messages 1,"),
        "{summary}"
    );

    let wrong = s.dig("-y hmac-sha256:xfr:d3JvbmcgIHdyb25nICB3cm9uZw== example.com AXFR");
    assert!(wrong.raw.contains("BADSIG"), "{}", wrong.raw);
    let unsigned = s.dig("example.com AXFR");
    assert!(unsigned.raw.contains("Transfer failed"), "{}", unsigned.raw);
    let mut tcp = common::tcp_connect(s.addr());
    common::tcp_send(&mut tcp, &common::query(7, "example.com", 252, false));
    let r = common::tcp_recv(&mut tcp).expect("an answer");
    assert_eq!(r[3] & 0x0f, 5, "REFUSED without the key");
    // A signed query is answered signed.
    let q = s.dig(&format!("-y hmac-sha256:xfr:{SECRET} fo.example.com A"));
    assert_eq!(q.answer_data("A"), ["192.0.2.1"]);
    assert!(
        !q.raw.contains("WARNING") && !q.raw.contains("failure"),
        "{}",
        q.raw
    );
}

#[test]
fn tsig_keys_are_checked_at_their_line() {
    let dir = common::config_dir(&[("example.com.zone", &zone("example.com", ""))], "");
    // The same config with another `[transfer]`, written over the first.
    let config = |transfer: &str| {
        std::fs::write(
            dir.path().join("hadns.toml"),
            format!("[server]\nlisten = [\"127.0.0.1:5399\"]\nzones_dir = \"zones\"\n{transfer}"),
        )
        .unwrap();
        common::check(&dir.path().join("hadns.toml"))
    };
    let (ok, out) = config(TSIG);
    assert!(
        !ok && out.contains("hadns.toml:11:") && out.contains("cannot read secret_file"),
        "{out}"
    );
    std::fs::write(dir.path().join("xfr.tsig"), "not base64!").unwrap();
    let (ok, out) = config(TSIG);
    assert!(
        !ok && out.contains("does not hold a base64 secret"),
        "{out}"
    );
    assert!(
        !out.contains("not base64!"),
        "the secret's file is never quoted: {out}"
    );
    std::fs::write(dir.path().join("xfr.tsig"), SECRET).unwrap();
    let (ok, out) = config(&TSIG.replace("tsig_key = \"xfr\"", "tsig_key = \"other\""));
    assert!(
        !ok && out.contains("no [[tsig_key]] has that name"),
        "{out}"
    );
    let (ok, out) = config(&TSIG.replace("hmac-sha256", "hmac-md5"));
    assert!(
        !ok && out.contains("use hmac-sha256 or hmac-sha512"),
        "{out}"
    );
    let (ok, out) = config(TSIG);
    assert!(ok, "{out}");
}

#[derive(Clone, Copy, Debug)]
enum Secondary {
    Nsd,
    Knot,
}

/// A secondary on 127.0.0.2:53 of example.com at hadns on 127.0.0.1:`port`, with the
/// key when `signed`, taking NOTIFYs from hadns and giving AXFR to the test.
fn start_secondary(
    kind: Secondary,
    dir: &std::path::Path,
    port: u16,
    signed: bool,
) -> std::process::Child {
    let d = dir.display();
    let nsd_key = if signed { "xfr" } else { "NOKEY" };
    let knot_key = if signed { "\n    key: xfr" } else { "" };
    let (program, args, conf) = match kind {
        Secondary::Nsd => (
            "nsd",
            vec!["-d", "-c"],
            format!(
                "server:\n  ip-address: 127.0.0.2\n  port: 53\n  username: \"\"\n  chroot: \"\"\n  \
                 pidfile: \"{d}/nsd.pid\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  \
                 xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  zonesdir: \"{d}\"\n  \
                 logfile: \"{d}/log\"\nremote-control:\n  control-enable: no\n\
                 key:\n  name: xfr\n  algorithm: hmac-sha256\n  secret: \"{SECRET}\"\n\
                 zone:\n  name: example.com\n  zonefile: \"example.com.zone\"\n  \
                 request-xfr: 127.0.0.1@{port} {nsd_key}\n  allow-notify: 127.0.0.1 {nsd_key}\n  \
                 provide-xfr: 127.0.0.0/8 NOKEY\n"
            ),
        ),
        Secondary::Knot => (
            "knotd",
            vec!["-c"],
            format!(
                "server:\n  listen: 127.0.0.2@53\n  rundir: {d}\n  user: root:root\n\
                 log:\n  - target: {d}/log\n    any: debug\n\
                 database:\n  storage: {d}/db\n\
                 key:\n  - id: xfr\n    algorithm: hmac-sha256\n    secret: {SECRET}\n\
                 remote:\n  - id: primary\n    address: 127.0.0.1@{port}{knot_key}\n\
                 acl:\n  - id: from-primary\n    address: 127.0.0.1{knot_key}\n    action: notify\n\
                 \x20 - id: to-the-test\n    address: 127.0.0.0/8\n    action: transfer\n\
                 template:\n  - id: default\n    storage: {d}\n\
                 zone:\n  - domain: example.com\n    master: primary\n    acl: [from-primary, to-the-test]\n"
            ),
        ),
    };
    std::fs::write(dir.join("secondary.conf"), conf).unwrap();
    Command::new(program)
        .args(args)
        .arg(dir.join("secondary.conf"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the secondary starts")
}

/// A zone transfer's records by dig, sorted, the SOA's TTL and all: the copy compared
/// record for record.
fn transferred(server: &str, port: u16, key: &str) -> Vec<String> {
    let d = common::dig_at(server, port, &format!("{key} example.com AXFR"));
    let mut lines: Vec<String> = d
        .raw
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty() && !l.contains("\tTSIG\t"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    lines.sort();
    lines.dedup(); // the SOA opens and closes it
    lines
}

/// A standard secondary follows hadns: its copy equals hadns's view record for record;
/// when the primary's endpoint stops it answers the secondary's address (NOTIFY, then
/// an IXFR of only the change), and follows it back; a reload that changes a plain
/// record reaches it the same way; a restarted hadns never serves a serial below its.
fn secondary_follows_hadns(kind: Secondary) {
    if !common::can_run(
        "root, nsd and knotd",
        common::is_root() && common::installed("nsd") && common::installed("knotd"),
    ) {
        return;
    }
    common::private_network();
    let mut endpoint = common::endpoint::Endpoint::http(common::endpoint::status(200));
    let check = format!(
        "[[health_check]]\nid = \"p\"\ntype = \"tcp\"\nip = \"127.0.0.1\"\nport = {}\ninterval = \"200ms\"\nfailure_threshold = 1\n",
        endpoint.port
    );
    let policy = check
        + &set("fo", "p", "failover = \"primary\"", "192.0.2.1", Some("p"))
        + &set("fo", "s", "failover = \"secondary\"", "192.0.2.2", None);
    let mut hadns = Server::start_with_files(
        &[
            ("example.com.zone", &zone("example.com", ZONE)),
            ("example.com.toml", &policy),
        ],
        &TSIG.replace("# notify", "notify = [\"127.0.0.2\"]"),
        &[("xfr.tsig", SECRET.as_bytes())],
    );
    let dir = tempfile::tempdir().unwrap();
    let mut secondary = start_secondary(kind, dir.path(), hadns.port, true);
    let log = || std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
    let ask = |server: &str, port: u16, name: &str| {
        common::dig_at(server, port, &format!("{name}.example.com A")).answer_data("A")
    };
    let follow = |what: &str, name: &str, want: &str| {
        let start = std::time::Instant::now();
        while ask("127.0.0.2", 53, name) != [want] {
            assert!(
                start.elapsed() < common::DEADLINE,
                "{kind:?} did not {what}:\n{}",
                log()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        start.elapsed()
    };
    follow("transfer the zone", "fo", "192.0.2.1");
    let signed = format!("-y hmac-sha256:xfr:{SECRET}");
    let same = |what: &str| {
        let copy = transferred("127.0.0.2", 53, "");
        assert!(!copy.is_empty(), "{kind:?} gave no AXFR");
        assert_eq!(
            copy,
            transferred("127.0.0.1", hadns.port, &signed),
            "{what}"
        );
    };
    same("the first copy");

    endpoint.stop();
    common::wait_for("hadns to fail over", || {
        ask("127.0.0.1", hadns.port, "fo") == ["192.0.2.2"]
    });
    let took = follow("follow the failover", "fo", "192.0.2.2");
    println!("{kind:?} followed the failover {took:?} after hadns");
    let ixfr = hadns
        .log()
        .lines()
        .any(|l| l.contains("zone transfer") && l.contains("IXFR") && l.contains("records=6"));
    assert!(ixfr, "an IXFR of only the change: {}", hadns.log());

    endpoint.start();
    common::wait_for("hadns to fail back", || {
        ask("127.0.0.1", hadns.port, "fo") == ["192.0.2.1"]
    });
    follow("follow back", "fo", "192.0.2.1");

    // A plain record changes; the file's serial does not.
    std::fs::write(
        hadns.zone_path("example.com.zone"),
        zone("example.com", &ZONE.replace("192.0.2.80", "192.0.2.81")),
    )
    .unwrap();
    follow("take the reload", "www", "192.0.2.81");
    same("after the reload");

    let held = soa_serial("127.0.0.2", 53);
    hadns.restart();
    assert!(soa_serial("127.0.0.1", hadns.port) >= held);
    let _ = secondary.kill();
    let _ = secondary.wait();
}

#[test]
fn nsd_follows_hadns() {
    secondary_follows_hadns(Secondary::Nsd);
}

#[test]
fn knot_follows_hadns() {
    secondary_follows_hadns(Secondary::Knot);
}
