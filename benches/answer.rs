//! The answer path without sockets: a query's bytes in, the response's bytes out, for each
//! kind of answer and each routing policy. `cargo bench --bench answer`.
//!
//! Two groups: `fresh` builds every response (as a server that logs queries does),
//! `prepared` answers as the UDP and TCP workers do, replaying responses encoded once per
//! snapshot where the answer allows. The `unique_*` cases ask a different name each time
//! (a flood of random names): NXDOMAIN, a wildcard's, below a zone cut.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use hadns::dns::{Local, Responder, Transport};
use hadns::draw::Draw;
use hadns::health::HealthTable;
use hadns::load::load;
use hadns::metrics::Exporter;
use hadns::snapshot::Snapshot;

const ZONE: &str = "$ORIGIN bench.example.
$TTL 300
@      IN SOA ns1 hostmaster 1 3600 900 604800 300
@      IN NS  ns1
ns1    IN A   192.0.2.1
www    IN A   192.0.2.10
app    IN CNAME www
*.users IN TXT \"hello\"
child  IN NS  ns.child
ns.child IN A 192.0.2.53
@      IN MX  10 www
";

/// One group per policy, two sets each; `alias` is a failover of aliases to `web`/`www`.
fn policies() -> String {
    let pair = |name: &str, a: &str, b: &str| {
        format!(
            "[[record]]\nname = \"{name}\"\ntype = \"A\"\nttl = 60\nset_id = \"a\"\n{a}\nvalues = [\"192.0.2.21\"]\n\n\
             [[record]]\nname = \"{name}\"\ntype = \"A\"\nttl = 60\nset_id = \"b\"\n{b}\nvalues = [\"192.0.2.22\"]\n\n"
        )
    };
    let mut p = String::new();
    p += &pair("web", "failover = \"primary\"", "failover = \"secondary\"");
    p += &pair("weighted", "weight = 3", "weight = 1");
    p += &pair("latency", "region = \"eu-west\"", "region = \"us-east\"");
    p += &pair(
        "geo",
        "geo = { country = \"DE\" }",
        "geo = { country = \"*\" }",
    );
    p += &pair(
        "geoproximity",
        "geoproximity = { region = \"eu-west\" }",
        "geoproximity = { region = \"us-east\" }",
    );
    p += &pair("multivalue", "multivalue = true", "multivalue = true");
    p += &pair(
        "cidr",
        "cidr = { location = \"lab\" }",
        "cidr = { location = \"*\" }",
    );
    p += "[[cidr_location]]\nname = \"lab\"\nnetworks = [\"10.0.0.0/8\"]\n\n";
    p += "[[record]]\nname = \"alias\"\ntype = \"A\"\nset_id = \"to-web\"\nfailover = \"primary\"\n\
          alias = { target = \"web\", evaluate_target_health = true }\n\n\
          [[record]]\nname = \"alias\"\ntype = \"A\"\nset_id = \"to-www\"\nfailover = \"secondary\"\n\
          alias = { target = \"www\", evaluate_target_health = true }\n";
    p
}

const CONFIG: &str = "[server]\nlisten = [\"127.0.0.1:5353\"]\nzones_dir = \"zones\"\n\
    [[region]]\nid = \"eu-west\"\nlocation = { lat = 53.3, lon = -6.3 }\n\
    [[region]]\nid = \"us-east\"\nlocation = { lat = 38.9, lon = -77.0 }\n";

/// A query with EDNS (payload 1232), as resolvers send them; from 127.0.0.1.
fn query(name: &str, qtype: u16) -> Vec<u8> {
    let mut p = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in name.split('.') {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    p
}

fn snapshot() -> (tempfile::TempDir, Arc<Snapshot>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir(dir.path().join("zones")).unwrap();
    std::fs::write(dir.path().join("zones/bench.example.zone"), ZONE).unwrap();
    std::fs::write(dir.path().join("zones/bench.example.toml"), policies()).unwrap();
    std::fs::write(dir.path().join("hadns.toml"), CONFIG).unwrap();
    let loaded = load(&dir.path().join("hadns.toml"));
    let content = loaded
        .content
        .unwrap_or_else(|| panic!("the bench zone loads: {:?}", loaded.diags));
    let health = HealthTable::assumed(&content.checks);
    (dir, Arc::new(Snapshot::new(Arc::new(content), &health)))
}

fn answer_path(c: &mut Criterion) {
    // Counted as the server counts: the recorder in place before the zones load.
    let _exporter = Exporter::install().expect("the metrics recorder installs");
    let (_dir, data) = snapshot();
    let peer = std::net::IpAddr::from([127, 0, 0, 1]);
    let responder = Responder {
        nsid: None,
        max_udp_payload: 1232,
        log_queries: false,
        transfer_allow: Vec::new(),
        tsig: Default::default(),
        rate_limit: None,
        cookies: hadns::dns::cookie::Cookies::new(None),
    };
    let cases = [
        ("plain_a", "www.bench.example", 1),
        ("nxdomain", "nope.bench.example", 1),
        ("cname_chain", "app.bench.example", 1),
        ("wildcard", "anyone.users.bench.example", 16),
        ("referral", "host.child.bench.example", 1),
        ("mx_with_additional", "bench.example", 15),
        ("refused", "example.org", 1),
        ("policy_failover", "web.bench.example", 1),
        ("policy_weighted", "weighted.bench.example", 1),
        ("policy_latency", "latency.bench.example", 1),
        ("policy_geolocation", "geo.bench.example", 1),
        ("policy_geoproximity", "geoproximity.bench.example", 1),
        ("policy_multivalue", "multivalue.bench.example", 1),
        ("policy_cidr", "cidr.bench.example", 1),
        ("policy_alias_tree", "alias.bench.example", 1),
    ];
    for (group, prepare) in [("fresh", false), ("prepared", true)] {
        let mut g = c.benchmark_group(group);
        let unique = |under: &str, qtype| -> Vec<Vec<u8>> {
            (0..100_000u32)
                .map(|i| {
                    query(
                        &format!("u{:08x}.{under}", i.wrapping_mul(2_654_435_761)),
                        qtype,
                    )
                })
                .collect()
        };
        let floods = [
            ("unique_nxdomain", unique("bench.example", 1)),
            ("unique_wildcard", unique("users.bench.example", 16)),
            ("unique_referral", unique("child.bench.example", 1)),
        ];
        let single = cases
            .iter()
            .map(|&(case, name, qtype)| (case, vec![query(name, qtype)]));
        for (case, packets) in single.chain(floods) {
            let mut out = Vec::with_capacity(4096);
            let mut local = Local::new(Draw::new(1), prepare);
            let mut next = packets.iter().cycle();
            g.bench_function(case, |b| {
                b.iter(|| {
                    let packet = next.next().expect("a packet");
                    let sent = responder.handle(
                        std::hint::black_box(packet),
                        Transport::Udp,
                        peer,
                        &data,
                        &mut local,
                        &mut out,
                    );
                    assert!(sent);
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, answer_path);
criterion_main!(benches);
