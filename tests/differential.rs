//! Differential test: hadns, NSD and Knot serve the same zone (tests/differential/) in a
//! private network namespace and are asked the same few thousand questions, over UDP
//! and TCP, with and without EDNS and DO. Wherever NSD and Knot give the same answer,
//! hadns must give it too, unless the difference is one of the deliberate ones listed in
//! `DELIBERATE` (and in the README). Also: zone files that both accept load in hadns,
//! and zone files that both refuse are refused by `hadns check`.
//!
//! Needs root (a network namespace per test thread), `nsd` and `knotd`; CI has them and
//! fails without them, elsewhere the test says it is skipped.

mod common;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, Record, RecordType};

const ZONE: &str = include_str!("differential/diff.example.zone");
const HADNS: &str = "127.0.0.1";
const NSD: &str = "127.0.0.2";
const KNOT: &str = "127.0.0.3";

/// A difference hadns keeps on purpose: what it is, and whether it explains one answer
/// (the question, hadns's normalised answer, NSD's and Knot's).
struct Deliberate {
    what: &'static str,
    explains: fn(&Asked, &str, &str) -> bool,
}

/// The differences hadns keeps on purpose (the README lists them too).
const DELIBERATE: &[Deliberate] = &[Deliberate {
    // NSD and Knot compress a name in record data against the question, case-blind,
    // so it comes back in the client's spelling (`ns1.DIFF.example.`); hadns writes
    // record data as the zone file spells it. Both are the same name (RFC 4343).
    what: "the case of names in record data when the question is not in lower case",
    explains: |q, h, n| {
        q.name.to_ascii() != q.name.to_ascii().to_lowercase()
            && h.to_lowercase() == n.to_lowercase()
    },
}];

struct Servers {
    _dir: tempfile::TempDir,
    children: Vec<Child>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn nsd_conf(dir: &Path, addr: &str, zone_file: &Path, origin: &str) -> String {
    let d = dir.display();
    format!(
        "server:\n  ip-address: {addr}\n  port: 53\n  username: \"\"\n  chroot: \"\"\n  \
         pidfile: \"{d}/nsd.pid\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  \
         xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  server-count: 1\n  \
         logfile: \"{d}/nsd.log\"\nremote-control:\n  control-enable: no\n\
         zone:\n  name: {origin}\n  zonefile: \"{}\"\n",
        zone_file.display()
    )
}

fn knot_conf(dir: &Path, addr: &str, zone_file: &Path, origin: &str) -> String {
    let d = dir.display();
    format!(
        "server:\n  listen: {addr}@53\n  rundir: {d}\n  user: root:root\n\
         log:\n  - target: {d}/knot.log\n    any: info\n\
         database:\n  storage: {d}/db\n\
         template:\n  - id: default\n    semantic-checks: off\n\
         zone:\n  - domain: {origin}\n    file: \"{}\"\n",
        zone_file.display()
    )
}

/// hadns, NSD and Knot serving `ZONE` on their addresses, port 53.
fn start_servers() -> Servers {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("zones")).unwrap();
    std::fs::create_dir_all(p.join("nsd")).unwrap();
    std::fs::create_dir_all(p.join("knot/db")).unwrap();
    let zone = p.join("zones/diff.example.zone");
    std::fs::write(&zone, ZONE).unwrap();
    std::fs::write(
        p.join("hadns.toml"),
        format!(
            "[server]\nlisten = [\"{HADNS}:53\"]\nzones_dir = \"zones\"\n\n[http]\nlisten = \"{HADNS}:9153\"\n\n[health]\nstate_file = \"state.json\"\n"
        ),
    )
    .unwrap();
    std::fs::write(
        p.join("nsd/nsd.conf"),
        nsd_conf(&p.join("nsd"), NSD, &zone, "diff.example"),
    )
    .unwrap();
    std::fs::write(
        p.join("knot/knot.conf"),
        knot_conf(&p.join("knot"), KNOT, &zone, "diff.example"),
    )
    .unwrap();
    let spawn = |cmd: &mut Command| {
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts")
    };
    let children = vec![
        spawn(
            Command::new(common::hadns_bin())
                .args(["serve", "--config"])
                .arg(p.join("hadns.toml")),
        ),
        spawn(
            Command::new("nsd")
                .arg("-d")
                .arg("-c")
                .arg(p.join("nsd/nsd.conf")),
        ),
        spawn(
            Command::new("knotd")
                .arg("-c")
                .arg(p.join("knot/knot.conf")),
        ),
    ];
    let servers = Servers {
        _dir: dir,
        children,
    };
    for addr in [HADNS, NSD, KNOT] {
        common::wait_for(&format!("{addr} to serve diff.example"), || {
            ask(
                addr,
                &Asked::new("diff.example.", RecordType::SOA, Variant::Edns),
            )
            .is_some_and(|m| {
                m.metadata.response_code == ResponseCode::NoError && !m.answers.is_empty()
            })
        });
    }
    servers
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Variant {
    /// UDP, no EDNS: 512 bytes.
    Plain,
    /// UDP with EDNS, payload 1232.
    Edns,
    /// UDP with EDNS and DO.
    Dnssec,
    /// TCP with EDNS.
    Tcp,
}

#[derive(Debug, Clone)]
struct Asked {
    name: Name,
    rtype: RecordType,
    variant: Variant,
}

impl Asked {
    fn new(name: &str, rtype: RecordType, variant: Variant) -> Self {
        Asked {
            // hickory's from_ascii refuses escaped labels; hadns's reader takes them.
            name: hadns::zone::text::name(name, &Name::root()).unwrap(),
            rtype,
            variant,
        }
    }

    fn packet(&self, id: u16) -> Vec<u8> {
        let mut m = Message::new(id, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(self.name.clone(), self.rtype));
        if self.variant != Variant::Plain {
            let mut edns = Edns::new();
            edns.set_max_payload(1232);
            edns.set_dnssec_ok(self.variant == Variant::Dnssec);
            m.set_edns(edns);
        }
        m.to_vec().unwrap()
    }
}

fn ask(server: &str, q: &Asked) -> Option<Message> {
    let addr: SocketAddr = format!("{server}:53").parse().unwrap();
    let packet = q.packet(0x4242);
    let bytes = if q.variant == Variant::Tcp {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        common::tcp_send(&mut s, &packet);
        common::tcp_recv(&mut s)?
    } else {
        let s = UdpSocket::bind("127.0.0.1:0").ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.send_to(&packet, addr).ok()?;
        let mut buf = vec![0u8; 65535];
        let n = s.recv(&mut buf).ok()?;
        buf.truncate(n);
        buf
    };
    Message::from_vec(&bytes).ok()
}

/// A response as compared: everything but what servers may spell differently (the
/// case of owner names, the order of records, the OPT's options and payload size).
fn normalised(m: Option<Message>) -> String {
    let Some(m) = m else {
        return "no answer".into();
    };
    let rr = |r: &Record| {
        format!(
            "{} {} {} {} {}",
            r.name.to_lowercase(),
            r.ttl,
            r.dns_class,
            r.record_type(),
            r.data
        )
    };
    let section = |records: &[Record]| {
        let mut lines: Vec<String> = records
            .iter()
            .filter(|r| r.record_type() != RecordType::OPT)
            .map(rr)
            .collect();
        lines.sort();
        lines.join(" | ")
    };
    let tc = m.metadata.truncation;
    format!(
        "{} aa={} tc={} opt={}\n  answer: {}\n  authority: {}\n  additional: {}",
        m.metadata.response_code,
        m.metadata.authoritative,
        tc,
        m.edns
            .as_ref()
            .map_or("none".into(), |e| format!("do={}", e.flags().dnssec_ok)),
        // A truncated answer's records are whatever fitted: not compared.
        if tc {
            String::new()
        } else {
            section(&m.answers)
        },
        if tc {
            String::new()
        } else {
            section(&m.authorities)
        },
        if tc {
            String::new()
        } else {
            section(&m.additionals)
        },
    )
}

/// Every question asked: each name of the zone and around it, each type, each variant.
fn questions() -> Vec<Asked> {
    let names = [
        "diff.example.",
        "DIFF.example.",
        "www",
        "WWW",
        "Mixed.Case",
        "mixed.case",
        "mail",
        "ns1",
        "ns2",
        "esc",
        "s23A",
        "s235",
        "a\\ b",
        "a\\;b",
        "a\\(b\\)",
        "a\\\\b",
        "\\200x",
        "nul\\000",
        "a*b",
        "-lead",
        "0/25.rev",
        "1.0/25.rev",
        "1.rev",
        "rev",
        "alias",
        "chain1",
        "chain2",
        "outside",
        "loop1",
        "deep",
        "old",
        "x.old",
        "api.old",
        "a.b.old",
        "new",
        "api.new",
        "nothere.new",
        "dloop",
        "q.dloop",
        "srv",
        "_sip._tcp",
        "_tcp",
        "svc",
        "svc2",
        "web",
        "web2",
        "comma",
        "naptr",
        "sshfp",
        "tlsa",
        "smimea",
        "hinfo",
        "caa",
        "cert",
        "pgp",
        "gen",
        "empty",
        "wild",
        "x.wild",
        "other.wild",
        "x.y.wild",
        "z.x.y.wild",
        "y.wild",
        "a.b.wild",
        "foo.star",
        "ent.a.b.c",
        "a.b.c",
        "b.c",
        "c",
        "big",
        "child",
        "ns.child",
        "x.child",
        "nodata",
        "nothere",
        "deep.nothere.www",
    ];
    let types = [
        RecordType::A,
        RecordType::AAAA,
        RecordType::TXT,
        RecordType::MX,
        RecordType::NS,
        RecordType::SOA,
        RecordType::CNAME,
        RecordType::DNAME,
        RecordType::SRV,
        RecordType::PTR,
        RecordType::SVCB,
        RecordType::HTTPS,
        RecordType::NAPTR,
        RecordType::SSHFP,
        RecordType::TLSA,
        RecordType::SMIMEA,
        RecordType::HINFO,
        RecordType::CERT,
        RecordType::OPENPGPKEY,
        RecordType::CAA,
        RecordType::DS,
        RecordType::Unknown(65000),
        RecordType::Unknown(65001),
    ];
    let mut out = Vec::new();
    for name in names {
        let fqdn = if name.ends_with('.') {
            name.to_string()
        } else {
            format!("{name}.diff.example.")
        };
        for rtype in types {
            for variant in [Variant::Plain, Variant::Edns, Variant::Dnssec, Variant::Tcp] {
                out.push(Asked::new(&fqdn, rtype, variant));
            }
        }
    }
    // Outside every zone, and other classes.
    for name in ["example.org.", "other.example.", "example."] {
        out.push(Asked::new(name, RecordType::A, Variant::Edns));
    }
    out
}

#[test]
fn hadns_answers_as_nsd_and_knot_agree() {
    let ready = common::is_root() && common::installed("nsd") && common::installed("knotd");
    if !common::can_run("root, nsd and knotd", ready) {
        return;
    }
    common::private_network();
    let _servers = start_servers();
    let questions = questions();
    let (mut agreed, mut compared) = (0, 0);
    let mut differences: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut deliberate: BTreeMap<&str, usize> = BTreeMap::new();
    for q in &questions {
        let [h, n, k] = [HADNS, NSD, KNOT].map(|s| normalised(ask(s, q)));
        if n != k {
            continue; // the references disagree: nothing to hold hadns to
        }
        compared += 1;
        if h == n {
            agreed += 1;
            continue;
        }
        let what = format!("{} {} {:?}", q.name, q.rtype, q.variant);
        if let Some(d) = DELIBERATE.iter().find(|d| (d.explains)(q, &h, &n)) {
            *deliberate.entry(d.what).or_default() += 1;
        } else {
            differences
                .entry(what)
                .or_default()
                .push(format!("hadns: {h}\n  nsd and knot: {n}"));
        }
    }
    println!(
        "{} questions; NSD and Knot agree on {compared}; hadns agrees on {agreed}",
        questions.len()
    );
    for (what, n) in &deliberate {
        println!("deliberate difference, {n} answers: {what}");
    }
    let report: Vec<String> = differences
        .iter()
        .map(|(q, d)| format!("{q}\n  {}", d.join("\n  ")))
        .collect();
    assert!(
        differences.is_empty(),
        "{} answers differ where NSD and Knot agree:\n{}",
        differences.len(),
        report.join("\n")
    );
    assert!(
        compared > questions.len() / 2,
        "too few answers to compare: {compared}"
    );
}

/// Zone files both references accept load in hadns; zone files both refuse are refused
/// by `hadns check`. Each case is a few records added to a valid zone.
#[test]
fn hadns_accepts_and_refuses_zone_files_as_nsd_and_knot_agree() {
    let ready = common::installed("nsd-checkzone") && common::installed("knotc");
    if !common::can_run("nsd-checkzone and knotc", ready) {
        return;
    }
    let cases: &[(&str, &str)] = &[
        (
            "escaped labels",
            "a\\ b A 192.0.2.1\na\\;b A 192.0.2.2\na\\(b\\) A 192.0.2.3\na\\\\b A 192.0.2.4",
        ),
        (
            "any octet in a label",
            "\\200x A 192.0.2.5\nnul\\000 A 192.0.2.6\na*b A 192.0.2.7\n-lead A 192.0.2.8",
        ),
        (
            "RFC 2317 reverse names",
            "0/25.2.0.192 PTR host.t.example.\n1.0/25.2.0.192 PTR host.t.example.",
        ),
        (
            "decimal escapes in TXT",
            "t TXT \"\\065\\066C\" \"\\000\\255\"",
        ),
        (
            "CERT mnemonics",
            "c CERT PKIX 12345 RSASHA256 MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A",
        ),
        (
            "split SSHFP",
            "s SSHFP 1 1 ( 123456789abcdef67890\n 123456789abcdef67890 )",
        ),
        (
            "split OPENPGPKEY",
            "p OPENPGPKEY ( mQENBFwBr2IBCADX\n WW0mZbX2hQ== )",
        ),
        (
            "RFC 3597 generic types",
            "g TYPE65000 \\# 4 0a000001\ng A \\# 4 c0000209\ne TYPE65001 \\# 0",
        ),
        (
            "SVCB keys out of order",
            "s SVCB 1 . port=8443 alpn=h2 ipv4hint=192.0.2.1",
        ),
        (
            "SVCB quoted values",
            "s SVCB 1 . alpn=\"h2,h3\" port=\"8443\"",
        ),
        (
            "SVCB escaped commas and keyNNNNN",
            "s SVCB 1 . alpn=\"a\\\\,b,c\" key65000=x key3=53",
        ),
        ("HTTPS alias form", "h HTTPS 0 www.t.example."),
        (
            "wildcards and DNAME",
            "*.w A 192.0.2.1\nold DNAME new.t.example.",
        ),
        (
            "data below a DNAME",
            "old DNAME new.t.example.\nx.old A 192.0.2.1",
        ),
        ("SVCB duplicate key", "s SVCB 1 . port=1 port=2"),
        (
            "SVCB mandatory key absent",
            "s SVCB 1 . mandatory=alpn port=1",
        ),
        ("SVCB key65535", "s SVCB 1 . key65535=1"),
        ("a CNAME beside other data", "c CNAME ns1\nc A 192.0.2.1"),
        ("two CNAMEs at a name", "c CNAME ns1\nc CNAME ns2"),
        ("a decimal escape past 255", "t TXT \"\\256\""),
        (
            "a label of 64 octets",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa A 192.0.2.1",
        ),
        ("a bad address", "a A 192.0.2.300"),
        (
            "a generic length that does not match",
            "g TYPE65000 \\# 3 0a000001",
        ),
        ("NS at a wildcard", "*.w NS ns1"),
        ("DNAME at a wildcard", "*.w DNAME new.t.example."),
        ("an unknown type mnemonic", "x FOO 1"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("zones")).unwrap();
    std::fs::create_dir_all(p.join("knot")).unwrap();
    std::fs::write(
        p.join("hadns.toml"),
        "[server]\nlisten = [\"127.0.0.1:5399\"]\nzones_dir = \"zones\"\n",
    )
    .unwrap();
    let zone_file = p.join("zones/t.example.zone");
    std::fs::write(
        p.join("knot/knot.conf"),
        format!(
            "server:\n  rundir: {d}\ndatabase:\n  storage: {d}\ntemplate:\n  - id: default\n    semantic-checks: on\nzone:\n  - domain: t.example\n    file: \"{z}\"\n",
            d = p.join("knot").display(),
            z = zone_file.display()
        ),
    )
    .unwrap();
    // Refused on purpose where NSD and Knot load it (README, "Zones"): RFC 4592 §4.2
    // leaves NS and DNAME at a wildcard without a meaning, so no answer could be right.
    let deliberate = ["NS at a wildcard", "DNAME at a wildcard"];
    let (mut held, mut disagreed, mut wrong) = (0, Vec::new(), Vec::new());
    for (what, body) in cases {
        let text = format!(
            "$ORIGIN t.example.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n  NS ns1\n  NS ns2\nns1 A 192.0.2.53\nns2 A 192.0.2.54\n{body}\n"
        );
        std::fs::write(&zone_file, text).unwrap();
        let ok = |cmd: &mut Command| cmd.output().is_ok_and(|o| o.status.success());
        let nsd = ok(Command::new("nsd-checkzone")
            .arg("t.example")
            .arg(&zone_file));
        let knot = ok(Command::new("knotc")
            .arg("-c")
            .arg(p.join("knot/knot.conf"))
            .args(["zone-check", "t.example"]));
        if nsd != knot {
            disagreed.push(format!("{what} (nsd {nsd}, knot {knot})"));
            continue;
        }
        let (hadns, out) = common::check(&p.join("hadns.toml"));
        if hadns == nsd || (deliberate.contains(what) && !hadns) {
            held += 1;
        } else {
            wrong.push(format!(
                "{what}: NSD and Knot {}, hadns {}: {out}",
                verdict(nsd),
                verdict(hadns)
            ));
        }
    }
    println!("{held} zone files judged as NSD and Knot do; they disagree on: {disagreed:?}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        held >= cases.len() / 2,
        "too few cases where NSD and Knot agree"
    );
}

fn verdict(accepted: bool) -> &'static str {
    if accepted {
        "accept"
    } else {
        "refuse"
    }
}
