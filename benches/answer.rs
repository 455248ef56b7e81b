//! The answer path without sockets: a query's bytes in, the response's bytes out, for
//! each kind of answer the demo zone gives. `cargo bench --bench answer`.

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use hadns::config::Config;
use hadns::dns::{Local, Responder, Transport};
use hadns::health::HealthTable;
use hadns::load::{load, Dataset};
use hadns::metrics::Exporter;
use hadns::policy::select::Draw;

/// A query with EDNS (payload 1232), as resolvers send them; from 127.0.0.1 it matches
/// no CIDR block or latency-table prefix, so client-dependent policies take their fallback.
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

fn answer_path(c: &mut Criterion) {
    // Counted as the server counts: the recorder in place before the zones load.
    let _exporter = Exporter::install().expect("the metrics recorder installs");
    let config = Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("hadns.toml"))
        .expect("the demo config loads");
    let content = load(&config).content.expect("the demo zone loads");
    let health = HealthTable::assumed(&content.checks);
    let data = Arc::new(Dataset::new(Arc::new(content), health));
    let peer = std::net::IpAddr::from([127, 0, 0, 1]);
    let mut local = Local::new(Draw::new(1), false);
    let responder = Responder {
        nsid: None,
        max_udp_payload: 1232,
        log_queries: false,
    };
    let mut group = c.benchmark_group("answer");
    for (case, name, qtype) in [
        ("plain_a", "www.demo.example", 1),
        ("nxdomain", "nope.demo.example", 1),
        ("cname_chain", "app.demo.example", 1),
        ("wildcard", "anyone.users.demo.example", 16),
        ("referral", "host.child.demo.example", 1),
        ("mx_with_additional", "demo.example", 15),
        ("refused", "example.org", 1),
        ("policy_failover", "web.demo.example", 1),
        ("policy_weighted", "api.demo.example", 1),
        ("policy_latency_table", "lat.demo.example", 1),
        ("policy_cidr", "office.demo.example", 1),
    ] {
        let packet = query(name, qtype);
        let mut out = Vec::with_capacity(4096);
        group.bench_function(case, |b| {
            b.iter(|| {
                let sent = responder.handle(
                    std::hint::black_box(&packet),
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
    group.finish();
}

criterion_group!(benches, answer_path);
criterion_main!(benches);
