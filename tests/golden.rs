//! Reference §9's golden cases through real DNS queries (the failover table, geolocation
//! and CIDR basics are in tests/policies.rs and tests/locations.rs): every weighted,
//! multivalue and alias-tree case, and IP-based routing over IPv6.

mod common;
use std::collections::HashMap;

use common::{answer_addresses, forced_check, query, zone, Server};

fn server_with(policy: &str, extra: &str, files: &[(&str, &[u8])]) -> Server {
    Server::start_with_files(
        &[
            ("example.com.zone", &zone("example.com", "")),
            ("example.com.toml", policy),
        ],
        extra,
        files,
    )
}

fn weighted(name: &str, sets: &[(&str, u8, Option<&str>)]) -> String {
    sets.iter()
        .enumerate()
        .map(|(i, (id, w, hc))| {
            format!(
                "[[record]]\nname = \"{name}\"\ntype = \"A\"\nttl = 60\nset_id = \"{id}\"\nweight = {w}\nvalues = [\"192.0.2.{}\"]\n{}",
                i + 1,
                hc.map(|h| format!("health_check = \"{h}\"\n")).unwrap_or_default()
            )
        })
        .collect()
}

/// Answers per address over `n` UDP queries.
fn tally(s: &Server, name: &str, n: u32) -> HashMap<String, u32> {
    let mut counts = HashMap::new();
    for i in 0..n {
        let resp = s.udp(&query(i as u16, name, 1, false)).expect("answered");
        for a in answer_addresses(&resp) {
            *counts.entry(a.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

/// |count - n·p| within five standard deviations (a correct server fails this about
/// once in two million runs).
fn near(count: u32, n: u32, p: f64) -> bool {
    let (n, c) = (f64::from(n), f64::from(count));
    (c - n * p).abs() <= 5.0 * (n * p * (1.0 - p)).sqrt() + 1.0
}

#[test]
fn golden_2_weighted() {
    let policy = forced_check("up", true)
        + &forced_check("down", false)
        + &weighted("w1", &[("a", 1, None), ("b", 255, None)])
        + &weighted("zeros", &[("a", 0, None), ("b", 0, None)])
        + &weighted(
            "third",
            &[("a", 10, None), ("b", 20, None), ("c", 20, Some("down"))],
        )
        + &weighted(
            "backup",
            &[
                ("a", 10, Some("down")),
                ("b", 20, Some("down")),
                ("z", 0, Some("up")),
            ],
        )
        + &weighted(
            "alldown",
            &[
                ("a", 10, Some("down")),
                ("b", 20, Some("down")),
                ("c", 20, Some("down")),
                ("z", 0, Some("down")),
            ],
        );
    let s = server_with(&policy, "", &[]);

    let n = 20_000;
    let c = tally(&s, "w1.example.com", n);
    assert!(
        near(c.get("192.0.2.1").copied().unwrap_or(0), n, 1.0 / 256.0),
        "1/255: {c:?}"
    );

    let n = 2_000;
    let c = tally(&s, "zeros.example.com", n);
    assert!(
        near(c["192.0.2.1"], n, 0.5),
        "all-zero weights are uniform: {c:?}"
    );

    let n = 3_000;
    let c = tally(&s, "third.example.com", n);
    assert!(
        near(c["192.0.2.1"], n, 1.0 / 3.0) && !c.contains_key("192.0.2.3"),
        "10/20/20, third down: {c:?}"
    );

    let c = tally(&s, "backup.example.com", 300);
    assert_eq!(
        c.keys().collect::<Vec<_>>(),
        ["192.0.2.3"],
        "only the zero weight: {c:?}"
    );

    let n = 3_000;
    let c = tally(&s, "alldown.example.com", n);
    assert!(
        near(c["192.0.2.1"], n, 0.2) && !c.contains_key("192.0.2.4"),
        "all down, by weight: {c:?}"
    );
}

#[test]
fn golden_4_multivalue() {
    let mut policy = forced_check("up", true) + &forced_check("down", false);
    for (name, healthy) in [("ten", 10), ("three", 3), ("none", 0)] {
        for i in 0..10 {
            let hc = if i < healthy { "up" } else { "down" };
            policy += &format!(
                "[[record]]\nname = \"{name}\"\ntype = \"A\"\nttl = 60\nset_id = \"m{i}\"\nmultivalue = true\nvalues = [\"192.0.2.{}\"]\nhealth_check = \"{hc}\"\n",
                i + 1
            );
        }
    }
    let s = server_with(&policy, "", &[]);
    let mut seen = std::collections::HashSet::new();
    for i in 0..50 {
        let got = answer_addresses(&s.udp(&query(i, "ten.example.com", 1, false)).unwrap());
        let distinct: std::collections::HashSet<_> = got.iter().collect();
        assert_eq!(
            (got.len(), distinct.len()),
            (8, 8),
            "10 healthy: 8 distinct"
        );
        seen.extend(got);
    }
    assert_eq!(seen.len(), 10, "different queries get different subsets");
    let mut three = s.dig("three.example.com A").answer_data("A");
    three.sort();
    assert_eq!(three, ["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
    assert_eq!(
        s.dig("none.example.com A").answer_data("A").len(),
        8,
        "none healthy: up to 8"
    );
}

/// Latency aliases (ETH) over weighted pools per region; the client's region order
/// comes from a latency table: region A first, then B.
#[test]
fn golden_5_alias_trees() {
    let tree = |a_leaves_up: bool, eth_a: bool, gate_up: bool| {
        forced_check("a-leaves", a_leaves_up)
            + &forced_check("b-leaves", true)
            + &forced_check("gate", gate_up)
            + &format!(
                "[[record]]\nname = \"top\"\ntype = \"A\"\nset_id = \"a\"\nregion = \"region-a\"\nhealth_check = \"gate\"\nalias = {{ target = \"pool-a\", evaluate_target_health = {eth_a} }}\n\
                 [[record]]\nname = \"top\"\ntype = \"A\"\nset_id = \"b\"\nregion = \"region-b\"\nalias = {{ target = \"pool-b\", evaluate_target_health = true }}\n"
            )
            + &weighted("pool-a", &[("a1", 1, Some("a-leaves")), ("a2", 1, Some("a-leaves"))])
            + &weighted("pool-b", &[("b1", 1, Some("b-leaves"))]).replace("192.0.2.1", "192.0.2.99")
    };
    let config = "[routing]\nlatency_table = \"latency.csv\"\n\
        [[region]]\nid = \"region-a\"\nlocation = { lat = 0.0, lon = 0.0 }\n\
        [[region]]\nid = \"region-b\"\nlocation = { lat = 0.0, lon = 90.0 }\n";
    let table: &[u8] = b"198.51.100.0/24,region-a,10\n198.51.100.0/24,region-b,50\n";
    let top = |s: &Server| {
        s.dig("top.example.com A +subnet=198.51.100.0/24")
            .answer_data("A")
    };
    let pool_a = |v: &Vec<String>| v == &["192.0.2.1"] || v == &["192.0.2.2"];

    let s = server_with(&tree(true, true, true), config, &[("latency.csv", table)]);
    assert!(pool_a(&top(&s)), "healthy: region A's pool, {:?}", top(&s));
    let s = server_with(&tree(false, true, true), config, &[("latency.csv", table)]);
    assert_eq!(
        top(&s),
        ["192.0.2.99"],
        "all A leaves down, ETH: backs out to B"
    );
    let s = server_with(&tree(false, false, true), config, &[("latency.csv", table)]);
    assert!(
        pool_a(&top(&s)),
        "ETH=false: A's leaves under last resort, {:?}",
        top(&s)
    );
    let s = server_with(&tree(true, true, false), config, &[("latency.csv", table)]);
    assert_eq!(
        top(&s),
        ["192.0.2.99"],
        "the alias's own check down: branch skipped"
    );
}

#[test]
fn golden_6_ipv6_client_prefix_shorter_than_the_block() {
    let policy = "[[cidr_location]]\nname = \"isp\"\nnetworks = [\"2001:db8:1::/48\"]\n\
        [[record]]\nname = \"ip\"\ntype = \"A\"\nttl = 60\nset_id = \"isp\"\ncidr = { location = \"isp\" }\nvalues = [\"192.0.2.1\"]\n\
        [[record]]\nname = \"ip\"\ntype = \"A\"\nttl = 60\nset_id = \"default\"\ncidr = { location = \"*\" }\nvalues = [\"192.0.2.2\"]\n";
    let s = server_with(policy, "", &[]);
    let ask = |subnet: &str| {
        s.dig(&format!("ip.example.com A +subnet={subnet}"))
            .answer_data("A")
    };
    assert_eq!(
        ask("2001:db8::/32"),
        ["192.0.2.2"],
        "/32 against a /48 block: the default"
    );
    assert_eq!(ask("2001:db8:1::/48"), ["192.0.2.1"]);
    assert_eq!(
        ask("2001:db8:1:2::/64"),
        ["192.0.2.1"],
        "/64 inside the /48"
    );
}
