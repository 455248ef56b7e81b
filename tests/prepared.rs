//! Prepared answers: UDP and TCP replay responses encoded once per dataset, and names
//! that land alike (NXDOMAIN, a wildcard, below a zone cut) share one response, respelled
//! per name. A server that logs queries builds every response afresh: the two must never
//! differ, whatever the query's name, spelling, flags and EDNS, and a health change must
//! reach the very next answer.

mod common;

use common::endpoint::{status, Endpoint};
use common::{query, tcp_connect, tcp_recv, tcp_send, wait_for, wire_name, zone, Server};
use hickory_proto::op::Message;

fn policies(port: u16) -> String {
    let many: String = (0..10)
        .map(|i| {
            format!(
                "[[record]]\nname = \"many\"\ntype = \"A\"\nttl = 30\nset_id = \"m{i}\"\nmultivalue = true\nvalues = [\"192.0.2.{}\"]\n",
                70 + i
            )
        })
        .collect();
    many + &format!(
        r#"
[[cidr_location]]
name = "office"
networks = ["198.51.100.0/24"]

[[record]]
name = "near"
type = "A"
ttl = 30
set_id = "office"
cidr = {{ location = "office" }}
values = ["192.0.2.61"]

[[record]]
name = "near"
type = "A"
ttl = 30
set_id = "rest"
cidr = {{ location = "*" }}
values = ["192.0.2.62"]

[[health_check]]
id = "primary"
type = "http"
ip = "127.0.0.1"
port = {port}
interval = "100ms"
failure_threshold = 1

[[record]]
name = "web"
type = "A"
ttl = 30
set_id = "p"
failover = "primary"
health_check = "primary"
values = ["192.0.2.1"]

[[record]]
name = "web"
type = "A"
ttl = 30
set_id = "s"
failover = "secondary"
values = ["192.0.2.2"]

[[record]]
name = "spread"
type = "A"
ttl = 30
set_id = "one"
weight = 1
values = ["192.0.2.51"]

[[record]]
name = "spread"
type = "A"
ttl = 30
set_id = "two"
weight = 1
values = ["192.0.2.52"]
"#
    )
}

const RECORDS: &str = "www A 192.0.2.10\napp CNAME www\nvia CNAME near\n*.users TXT \"hi\"\nold DNAME new\nx.new A 192.0.2.20\nmx MX 10 www\n";

/// The query variants a resolver may send: flags, EDNS with DO, ECS.
fn variants(id: u16, name: &str, qtype: u16) -> Vec<Vec<u8>> {
    let plain = query(id, name, qtype, false);
    let mut rd_cd = plain.clone();
    rd_cd[2] |= 0x01;
    rd_cd[3] |= 0x10;
    let edns = query(id, name, qtype, true);
    let mut dnssec_ok = edns.clone();
    let ttl = dnssec_ok.len() - 4;
    dnssec_ok[ttl] |= 0x80;
    let mut ecs = edns.clone();
    let rdlen = ecs.len() - 2;
    ecs[rdlen..].copy_from_slice(&11u16.to_be_bytes());
    // Option 8, length 7: family 1, source /24, scope 0, 198.51.100.
    ecs.extend_from_slice(&[0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100]);
    vec![plain, rd_cd, edns, dnssec_ok, ecs]
}

#[test]
fn replayed_answers_are_what_is_built_afresh() {
    let ep = Endpoint::http(status(200));
    let s = Server::start(
        &[
            (
                "example.zone",
                &zone("example", &format!("{RECORDS}{LANDINGS}")),
            ),
            ("example.toml", &policies(ep.port)),
        ],
        "",
    );
    let reference = reference(ep.port);
    let mut stream = tcp_connect(s.addr());
    let questions = [
        ("www.example", 1),
        ("WwW.ExAmple", 1),
        ("www.example", 28), // NODATA
        ("nope.example", 1),
        ("NoPe.EXAMPLE", 1),
        ("app.example", 1),
        ("APP.example", 1),
        ("bob.users.example", 16),
        ("mx.example", 15),
        ("x.OLD.example", 1), // DNAME: the synthesised CNAME keeps this spelling
        ("x.old.example", 1),
        ("web.example", 1),
        ("WEB.example", 1),
        // Chosen per query by the client's subnet (the ECS variant is in the office's):
        // one prepared response per choice, the scope written per query.
        ("near.example", 1),
        ("NEAR.example", 1),
        ("via.example", 1),
        ("elsewhere.test", 1),
    ];
    let mut id = 1;
    for (name, qtype) in questions {
        for q in variants(id, name, qtype) {
            tcp_send(&mut stream, &q);
            let fresh = tcp_recv(&mut stream).expect("a TCP answer");
            let parsed = |m: &[u8]| Message::from_vec(m).expect("a valid message");
            let built = reference.udp(&q).expect("an answer built afresh");
            // The weighted and multivalue draws differ between servers.
            if !["many.example", "spread.example"].contains(&name) {
                assert_eq!(
                    parsed(&fresh),
                    parsed(&built),
                    "{name} type {qtype} over TCP"
                );
            }
            // The first UDP answer prepares, the next ones replay. Names other than the
            // question may differ in case (both spellings are the same name): compared parsed.
            for round in 0..3 {
                let udp = s.udp(&q).expect("a UDP answer");
                assert_eq!(
                    parsed(&udp),
                    parsed(&fresh),
                    "{name} type {qtype}, round {round}, query {q:?}"
                );
                if name == name.to_ascii_lowercase() {
                    assert_eq!(udp, fresh, "{name} type {qtype}, round {round}");
                }
            }
            // The question as spelled, in both.
            let question = 12..12 + wire_name(name).len() + 4;
            assert_eq!(fresh[question.clone()], q[question.clone()], "{name}");
            let udp = s.udp(&q).expect("a UDP answer");
            assert_eq!(udp[question.clone()], q[question], "{name}");
            id += 1;
        }
    }
}

/// The same zone and policies, served by a server that builds every answer afresh
/// (`--log-queries` turns prepared answers off).
fn reference(port: u16) -> Server {
    Server::start_with_args(
        &[
            (
                "example.zone",
                &zone("example", &format!("{RECORDS}{LANDINGS}")),
            ),
            ("example.toml", &policies(port)),
        ],
        "",
        &[],
        &["--log-queries"],
        &[],
    )
}

/// Names that land alike, and zone data that equals some of the names asked.
const LANDINGS: &str = "child NS ns.child\nchild NS ns.elsewhere.test.\nns.child A 192.0.2.30\n*.w MX 10 foo.w\n*.w TXT \"any\"\n";

#[test]
fn names_that_land_alike_get_their_own_answers() {
    let ep = Endpoint::http(status(200));
    let zones = [
        (
            "example.zone",
            zone("example", &format!("{RECORDS}{LANDINGS}")),
        ),
        ("example.toml", policies(ep.port)),
    ];
    let zones: Vec<(&str, &str)> = zones.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let s = Server::start(&zones, "");
    let fresh = reference(ep.port);
    let mut stream = tcp_connect(s.addr());
    let names = [
        // NXDOMAIN, the SOA's own names among them (zone() writes ns1 and hostmaster).
        "nope.example",
        "hostmaster.example",
        "a.much-longer-name-than-the-first-one.example",
        "N.example",
        // Below the cut: the glue's own name, then others.
        "ns.child.example",
        "x.child.example",
        "Deep.Below.The.Child.example",
        // The wildcard, with its MX naming one of the names asked.
        "foo.w.example",
        "bar.w.example",
        "a.b.c.W.example",
    ];
    let mut id = 1;
    for qtype in [1, 15, 16] {
        for name in names {
            for q in variants(id, name, qtype) {
                let expected = fresh.udp(&q).expect("an answer");
                let parsed = |m: &[u8]| Message::from_vec(m).expect("a valid message");
                for round in 0..2 {
                    let udp = s.udp(&q).expect("a UDP answer");
                    assert_eq!(
                        parsed(&udp),
                        parsed(&expected),
                        "{name} {qtype} UDP {round}"
                    );
                    tcp_send(&mut stream, &q);
                    let tcp = tcp_recv(&mut stream).expect("a TCP answer");
                    assert_eq!(
                        parsed(&tcp),
                        parsed(&expected),
                        "{name} {qtype} TCP {round}"
                    );
                }
                id += 1;
            }
        }
    }
}

#[test]
fn a_health_change_reaches_the_next_udp_answer() {
    let mut ep = Endpoint::http(status(200));
    let s = Server::start(
        &[
            ("example.zone", &zone("example", RECORDS)),
            ("example.toml", &policies(ep.port)),
        ],
        "",
    );
    for _ in 0..5 {
        assert_eq!(s.a("web.example"), ["192.0.2.1"]);
    }
    ep.stop();
    wait_for("the secondary", || s.a("web.example") == ["192.0.2.2"]);
    // From then on, never the primary again: no stale prepared answer.
    for _ in 0..20 {
        assert_eq!(s.a("web.example"), ["192.0.2.2"]);
    }
    // Weighted and multivalue answers are drawn per query, whether the response for
    // the draw was prepared or not.
    wait_for("both weighted sets", || {
        let seen: std::collections::HashSet<_> =
            (0..40).flat_map(|_| s.a("spread.example")).collect();
        seen.len() == 2
    });
    let mut subsets = std::collections::HashSet::new();
    wait_for("several multivalue subsets", || {
        let mut got = s.a("many.example");
        assert_eq!(got.len(), 8, "eight of ten: {got:?}");
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 8, "distinct: {got:?}");
        subsets.insert(got);
        subsets.len() >= 3
    });
}

/// A zone signed with one key, its files given to both servers, so that a reference
/// that builds every answer afresh signs as the one that prepares.
fn signed_pair(denial: &str) -> (Server, Server) {
    use hadns::dnssec::key::{generate, unix_now, Algorithm};
    let keys = tempfile::tempdir().unwrap();
    let origin = hickory_proto::rr::Name::from_ascii("example.").unwrap();
    generate(keys.path(), &origin, Algorithm::Ed25519, 257, unix_now()).unwrap();
    let files: Vec<(String, Vec<u8>)> = std::fs::read_dir(keys.path())
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    let files: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let zones = [(
        "example.zone",
        zone("example", &format!("{RECORDS}{LANDINGS}{SPREAD}")),
    )];
    let zones: Vec<(&str, &str)> = zones.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let extra = format!("[dnssec]\nkeys_dir = \".\"\ndenial = \"{denial}\"\n");
    let prepares = Server::start_with_files(&zones, &extra, &files);
    let fresh = Server::start_with_args(&zones, &extra, &files, &["--log-queries"], &[]);
    (prepares, fresh)
}

/// Names spread over the chain, and an empty non-terminal (b.deep) with a name below.
const SPREAD: &str = "a1 A 192.0.2.1\nm5 A 192.0.2.1\nq7 A 192.0.2.1\nz9 A 192.0.2.1\n\
    a.b.deep A 192.0.2.1\nx.users A 192.0.2.1\n";

/// What `dig +dnssec` gets for `question`, as a validator reads it: signatures
/// compared by what they cover and who made them, not by their bytes or times (each
/// server signs on its own).
fn readable(s: &Server, question: &str) -> Vec<String> {
    let d = s.dig(&format!("+dnssec +nocookie {question}"));
    let mut out = vec![d.status.clone(), d.flags.join(" ")];
    for (i, section) in [&d.answer, &d.authority, &d.additional].iter().enumerate() {
        for r in section.iter() {
            let data = match r.rtype.as_str() {
                "RRSIG" => {
                    let f: Vec<&str> = r.data.split_whitespace().collect();
                    format!("{} {} {} {} {} {}", f[0], f[1], f[2], f[3], f[6], f[7])
                }
                _ => r.data.clone(),
            };
            out.push(format!("{i} {} {} {} {data}", r.name, r.ttl, r.rtype));
        }
    }
    out
}

/// With DO in a signed zone, names that land alike share a prepared response only
/// when the same denial records prove them: each name, prepared or respelled, gets
/// exactly the proof a fresh build gives it, under NSEC3 and NSEC, NXDOMAIN under every
/// closest encloser, wildcard answers and wildcard NODATA, below a cut.
#[test]
fn signed_names_that_land_alike_get_their_own_proofs() {
    for denial in ["nsec3", "nsec"] {
        let (s, fresh) = signed_pair(denial);
        let mut names: Vec<String> = [
            "nope",
            "b1",
            "n2",
            "r3",
            "zz",
            "ZZZ",
            "a.nope",
            "x.b.deep",
            "y.a.b.deep",
            "x.www",
            "q.ns1",
            "x.hostmaster",
            "foo.w",
            "bar.w",
            "a.b.c.w",
            "bob.users",
            "a.bob.users",
            "x.child",
            "deep.below.child",
        ]
        .iter()
        .map(|n| format!("{n}.example"))
        .collect();
        names.extend((0..16).map(|i| format!("r{i}x{}.example", i * 7919 % 97)));
        for qtype in ["A", "TXT"] {
            for name in &names {
                let question = format!("{name} {qtype}");
                let expected = readable(&fresh, &question);
                for round in 0..2 {
                    let got = readable(&s, &question);
                    assert_eq!(got, expected, "{denial}: {question}, round {round}");
                }
            }
        }
    }
}
