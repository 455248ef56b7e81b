//! The UDP answer path allocates nothing once its answers are prepared: counted by a
//! global allocator around `Responder::handle`, for plain data and every routing policy,
//! with the clients' networks in a GeoIP database and a latency table.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::IpAddr;
use std::sync::Arc;

use common::geo::{geo_db, CONFIG, LATENCY};
use hadns::dns::{Local, Responder, Transport};
use hadns::draw::Draw;
use hadns::health::HealthTable;
use hadns::load::load;
use hadns::metrics::Exporter;
use hadns::snapshot::Snapshot;

/// Counts the allocations of the thread that asks, while it asks.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    COUNT.with(Cell::get)
}

const ZONE: &str = "$ORIGIN example.
$TTL 300
@      IN SOA ns1 hostmaster 1 3600 900 604800 300
@      IN NS  ns1
ns1    IN A   192.0.2.1
www    IN A   192.0.2.10
app    IN CNAME www
child  IN NS  ns.child
ns.child IN A 192.0.2.53
";

/// Two sets per policy (ten for multivalue, so that a draw picks eight of them).
fn policies() -> String {
    let set = |name: &str, id: &str, how: &str, value: &str| {
        format!(
            "[[record]]\nname = \"{name}\"\ntype = \"A\"\nttl = 60\nset_id = \"{id}\"\n{how}\nvalues = [\"{value}\"]\n\n"
        )
    };
    let mut p = String::new();
    p += &set("web", "a", "failover = \"primary\"", "192.0.2.21");
    p += &set("web", "b", "failover = \"secondary\"", "192.0.2.22");
    p += &set("weighted", "a", "weight = 3", "192.0.2.21");
    p += &set("weighted", "b", "weight = 1", "192.0.2.22");
    p += &set("latency", "a", "region = \"eu-west\"", "192.0.2.21");
    p += &set("latency", "b", "region = \"us-east\"", "192.0.2.22");
    p += &set(
        "geo",
        "wa",
        "geo = { country = \"US\", subdivision = \"WA\" }",
        "192.0.2.21",
    );
    p += &set("geo", "de", "geo = { country = \"DE\" }", "192.0.2.22");
    p += &set("geo", "eu", "geo = { continent = \"EU\" }", "192.0.2.23");
    p += &set("geo", "any", "geo = { country = \"*\" }", "192.0.2.24");
    p += &set(
        "near",
        "a",
        "geoproximity = { region = \"eu-west\" }",
        "192.0.2.21",
    );
    p += &set(
        "near",
        "b",
        "geoproximity = { region = \"us-east\" }",
        "192.0.2.22",
    );
    p += &set("cidr", "lab", "cidr = { location = \"lab\" }", "192.0.2.21");
    p += &set("cidr", "rest", "cidr = { location = \"*\" }", "192.0.2.22");
    p += "[[cidr_location]]\nname = \"lab\"\nnetworks = [\"203.0.113.0/24\"]\n\n";
    for i in 0..10 {
        p += &set(
            "many",
            &format!("m{i}"),
            "multivalue = true",
            &format!("192.0.2.{}", 30 + i),
        );
    }
    p += "[[record]]\nname = \"tree\"\ntype = \"A\"\nset_id = \"to-web\"\nweight = 1\n\
          alias = { target = \"web\", evaluate_target_health = true }\n\n\
          [[record]]\nname = \"tree\"\ntype = \"A\"\nset_id = \"to-latency\"\nweight = 1\n\
          alias = { target = \"latency\", evaluate_target_health = true }\n";
    p
}

fn snapshot() -> (tempfile::TempDir, Arc<Snapshot>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = |p: &str| dir.path().join(p);
    std::fs::create_dir(path("zones")).unwrap();
    std::fs::write(path("zones/example.zone"), ZONE).unwrap();
    std::fs::write(path("zones/example.toml"), policies()).unwrap();
    std::fs::write(path("geo.mmdb"), geo_db()).unwrap();
    std::fs::write(path("latency.csv"), LATENCY).unwrap();
    let config =
        format!("[server]\nlisten = [\"127.0.0.1:5353\"]\nzones_dir = \"zones\"\n{CONFIG}");
    std::fs::write(path("hadns.toml"), config).unwrap();
    let loaded = load(&path("hadns.toml"));
    let content = loaded
        .content
        .unwrap_or_else(|| panic!("the zone loads: {:?}", loaded.diags));
    let health = HealthTable::assumed(&content.checks);
    (dir, Arc::new(Snapshot::new(Arc::new(content), &health)))
}

/// A query with EDNS, and an ECS option for `subnet` (a /24) when given.
fn query(name: &str, subnet: Option<[u8; 3]>) -> Vec<u8> {
    let mut p = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in name.split('.') {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.extend_from_slice(&[0, 0, 1, 0, 1]);
    p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
    match subnet {
        Some(net) => {
            p.extend_from_slice(&[0, 11, 0, 8, 0, 7, 0, 1, 24, 0]);
            p.extend_from_slice(&net);
        }
        None => p.extend_from_slice(&[0, 0]),
    }
    p
}

#[test]
fn prepared_udp_answers_allocate_nothing() {
    let _exporter = Exporter::install().expect("the metrics recorder installs");
    let (_dir, data) = snapshot();
    let responder = Responder {
        nsid: None,
        max_udp_payload: 1232,
        log_queries: false,
        transfer_allow: Vec::new(),
        tsig: Default::default(),
        rate_limit: None,
        cookies: hadns::dns::cookie::Cookies::new(None),
    };
    let peer = IpAddr::from([127, 0, 0, 1]);
    let mut local = Local::new(Draw::new(1), true);
    let mut out = Vec::with_capacity(4096);
    let names = [
        "www",
        "WwW",
        "app",
        "nope",
        "host.child",
        "web",
        "weighted",
        "latency",
        "geo",
        "near",
        "cidr",
        "many",
        "tree",
    ];
    // Berlin (in the latency table, the lab's network), Seattle (a US state), Tokyo,
    // an address the database does not know, and no ECS at all.
    let subnets = [
        Some([203, 0, 113]),
        Some([198, 51, 100]),
        Some([192, 0, 2]),
        Some([10, 1, 2]),
        None,
    ];
    for name in names {
        for subnet in subnets {
            let packet = query(&format!("{name}.example"), subnet);
            let mut answer = || {
                let sent =
                    responder.handle(&packet, Transport::Udp, peer, &data, &mut local, &mut out);
                assert!(sent, "{name}: an answer");
            };
            // Enough draws to have prepared every outcome (45 subsets for `many`).
            for _ in 0..5000 {
                answer();
            }
            let n = allocations(|| {
                for _ in 0..1000 {
                    answer();
                }
            });
            assert_eq!(n, 0, "{name} from {subnet:?}: allocations in 1000 answers");
        }
    }
}
