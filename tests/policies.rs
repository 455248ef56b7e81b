//! Routing policies answered through real DNS queries. Health is set the way Route 53
//! allows without probes (issue 4 adds those): a disabled check reports healthy, a
//! disabled and inverted one unhealthy; a reload swaps the definitions.

mod common;
use std::collections::HashMap;

use common::{answer_addresses, forced_check, query, wait_for, zone, Server};

const ZONE: &str = "west-pool 120 A 192.0.2.20\nplain A 192.0.2.99";

fn failover(primary_up: bool, secondary: Option<bool>) -> String {
    let mut p = forced_check("p", primary_up);
    if let Some(up) = secondary {
        p += &forced_check("s", up);
    }
    p += "[[record]]\nname = \"www\"\ntype = \"A\"\nttl = 60\nset_id = \"p\"\nfailover = \"primary\"\nvalues = [\"192.0.2.1\"]\nhealth_check = \"p\"\n";
    p += "[[record]]\nname = \"www\"\ntype = \"A\"\nttl = 60\nset_id = \"s\"\nfailover = \"secondary\"\nvalues = [\"192.0.2.2\"]\n";
    if secondary.is_some() {
        p += "health_check = \"s\"\n";
    }
    p
}

fn server(policy: &str) -> Server {
    Server::start(
        &[
            ("example.com.zone", &zone("example.com", ZONE)),
            ("example.com.toml", policy),
        ],
        "",
    )
}

fn www(s: &Server) -> Vec<String> {
    s.dig("www.example.com A").answer_data("A")
}

/// Reference §9 golden case 1, and the answer moving when health changes.
#[test]
fn failover_follows_health() {
    let s = server(&failover(true, Some(true)));
    let d = s.dig("www.example.com A");
    assert!(d.has_flag("aa"));
    assert_eq!(d.answer_data("A"), ["192.0.2.1"]);
    assert_eq!(d.answer[0].ttl, 60);
    for (p, sec, want) in [
        (true, Some(false), "192.0.2.1"),
        (false, Some(true), "192.0.2.2"),
        (false, Some(false), "192.0.2.1"), // both down: the primary (last resort)
        (false, None, "192.0.2.2"),        // a secondary without a check is healthy
        (true, Some(true), "192.0.2.1"),   // and back
    ] {
        std::fs::write(s.zone_path("example.com.toml"), failover(p, sec)).unwrap();
        wait_for(
            &format!("www → {want} (primary up {p}, secondary {sec:?})"),
            || www(&s) == [want],
        );
    }
}

/// Golden case 2 over real UDP: weights 1 and 3 with a statistical bound, and the
/// unhealthy and zero-weight rules.
#[test]
fn weighted_shares() {
    let set = |id: &str, w: u8, ip: &str, hc: Option<&str>| {
        format!(
            "[[record]]\nname = \"api\"\ntype = \"A\"\nttl = 60\nset_id = \"{id}\"\nweight = {w}\nvalues = [\"{ip}\"]\n{}",
            hc.map(|h| format!("health_check = \"{h}\"\n")).unwrap_or_default()
        )
    };
    let policy = |c_up: bool| {
        forced_check("c", c_up)
            + &set("a", 1, "192.0.2.1", None)
            + &set("b", 3, "192.0.2.2", None)
            + &set("c", 4, "192.0.2.3", Some("c"))
            + &set("z", 0, "192.0.2.4", None)
    };
    let s = server(&policy(false));
    let n = 4000;
    let mut counts: HashMap<String, u32> = HashMap::new();
    for i in 0..n {
        let resp = s
            .udp(&query(i as u16, "api.example.com", 1, false))
            .unwrap();
        let addrs = answer_addresses(&resp);
        assert_eq!(addrs.len(), 1);
        *counts.entry(addrs[0].to_string()).or_default() += 1;
    }
    // c is down and z has weight 0: a gets 1/4, b 3/4. Bound: 5 standard deviations.
    let sd = (f64::from(n) * 0.25 * 0.75).sqrt();
    let a = f64::from(counts.get("192.0.2.1").copied().unwrap_or(0));
    assert!((a - f64::from(n) * 0.25).abs() < 5.0 * sd, "{counts:?}");
    assert!(
        !counts.contains_key("192.0.2.3") && !counts.contains_key("192.0.2.4"),
        "{counts:?}"
    );
}

/// Golden case 4: up to eight healthy sets, merged into one RRset.
#[test]
fn multivalue_answers_up_to_eight_healthy() {
    let mut p = forced_check("down", false);
    for i in 0..10 {
        p += &format!(
            "[[record]]\nname = \"mv\"\ntype = \"A\"\nttl = 30\nset_id = \"m{i}\"\nmultivalue = true\nvalues = [\"192.0.2.{}\"]\n{}",
            10 + i,
            if i >= 7 { "health_check = \"down\"\n" } else { "" }
        );
    }
    let s = server(&p);
    let d = s.dig("mv.example.com A");
    let got = d.answer_data("A");
    assert_eq!(got.len(), 7, "the 7 healthy ones: {got:?}");
    assert!(got.iter().all(|a| a.as_str() < "192.0.2.17"), "{got:?}");
    assert!(d.answer.iter().all(|r| r.ttl == 30));
}

/// IP-based routing with ECS (golden case 6), the echoed scope, and FORMERR for a
/// malformed option.
#[test]
fn cidr_routing_by_client_subnet() {
    let p = "[[cidr_location]]\nname = \"office\"\nnetworks = [\"198.51.100.0/24\"]\n\
        [[record]]\nname = \"ip\"\ntype = \"A\"\nttl = 60\nset_id = \"office\"\ncidr = { location = \"office\" }\nvalues = [\"192.0.2.31\"]\n\
        [[record]]\nname = \"ip\"\ntype = \"A\"\nttl = 60\nset_id = \"rest\"\ncidr = { location = \"*\" }\nvalues = [\"192.0.2.32\"]\n";
    let s = server(p);
    let office = s.dig("ip.example.com A +subnet=198.51.100.0/24");
    assert_eq!(office.answer_data("A"), ["192.0.2.31"]);
    assert_eq!(
        office.client_subnet.as_deref(),
        Some("198.51.100.0/24/24"),
        "{}",
        office.raw
    );
    // A /16 source is shorter than the /24 block: the default (reference §2.8).
    let wide = s.dig("ip.example.com A +subnet=198.51.0.0/16");
    assert_eq!(wide.answer_data("A"), ["192.0.2.32"]);
    // A longer source inside the block matches.
    assert_eq!(
        s.dig("ip.example.com A +subnet=198.51.100.7/32")
            .answer_data("A"),
        ["192.0.2.31"]
    );
    // Without ECS the source address (127.0.0.1) decides: the default.
    assert_eq!(s.dig("ip.example.com A").answer_data("A"), ["192.0.2.32"]);
    // Answers that do not depend on the client say scope 0.
    let plain = s.dig("plain.example.com A +subnet=198.51.100.0/24");
    assert_eq!(plain.client_subnet.as_deref(), Some("198.51.100.0/24/0"));
    // An ECS option with bits set past its prefix is FORMERR (RFC 7871 §6).
    let mut q = query(77, "ip.example.com", 1, false);
    q[11] = 1;
    q.extend_from_slice(&[
        0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 23, 0, 198, 51, 101,
    ]);
    assert_eq!(common::header(&s.udp(&q).unwrap()).rcode, 1);
}

/// An alias answers with its target's records and TTL; an alias with ETH to a group
/// whose sets are all down is passed over.
#[test]
fn aliases_take_the_target_and_its_ttl() {
    let p = forced_check("p", false)
        + "[[record]]\nname = \"www\"\ntype = \"A\"\nttl = 60\nset_id = \"p\"\nfailover = \"primary\"\nvalues = [\"192.0.2.1\"]\nhealth_check = \"p\"\n\
           [[record]]\nname = \"www\"\ntype = \"A\"\nset_id = \"s\"\nfailover = \"secondary\"\nalias = { target = \"west-pool\", evaluate_target_health = true }\n";
    let s = server(&p);
    let d = s.dig("www.example.com A");
    assert_eq!(d.answer_data("A"), ["192.0.2.20"]);
    assert_eq!(d.answer[0].ttl, 120, "the target's TTL");
    assert_eq!(d.answer[0].name, "www.example.com.");
}

#[test]
fn latency_without_data_follows_region_order_and_geo_without_a_database_uses_the_default() {
    let p = "[[record]]\nname = \"lat\"\ntype = \"A\"\nttl = 60\nset_id = \"us\"\nregion = \"us-east\"\nvalues = [\"192.0.2.41\"]\n\
        [[record]]\nname = \"lat\"\ntype = \"A\"\nttl = 60\nset_id = \"eu\"\nregion = \"eu-west\"\nvalues = [\"192.0.2.42\"]\n\
        [[record]]\nname = \"geo\"\ntype = \"A\"\nttl = 60\nset_id = \"de\"\ngeo = { country = \"DE\" }\nvalues = [\"192.0.2.51\"]\n\
        [[record]]\nname = \"geo\"\ntype = \"A\"\nttl = 60\nset_id = \"any\"\ngeo = { country = \"*\" }\nvalues = [\"192.0.2.52\"]\n\
        [[record]]\nname = \"nodefault\"\ntype = \"A\"\nttl = 60\nset_id = \"de\"\ngeo = { country = \"DE\" }\nvalues = [\"192.0.2.53\"]\n";
    let s = Server::start(
        &[
            ("example.com.zone", &zone("example.com", ZONE)),
            ("example.com.toml", p),
        ],
        "[[region]]\nid = \"eu-west\"\nlocation = { lat = 53.3, lon = -6.3 }\n[[region]]\nid = \"us-east\"\nlocation = { lat = 38.9, lon = -77.0 }",
    );
    assert_eq!(s.dig("lat.example.com A").answer_data("A"), ["192.0.2.42"]);
    assert_eq!(s.dig("geo.example.com A").answer_data("A"), ["192.0.2.52"]);
    // No match and no default: NODATA, never NXDOMAIN.
    let d = s.dig("nodefault.example.com A");
    assert_eq!(d.status, "NOERROR");
    assert!(d.answer.is_empty());
    assert_eq!(common::Dig::types(&d.authority), ["SOA"]);
    // Names only in the policy file exist: other types are NODATA too.
    assert_eq!(s.dig("lat.example.com TXT").status, "NOERROR");
}
