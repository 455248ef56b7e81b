//! Client-dependent policies — geolocation, geoproximity, latency — with a MaxMind-format
//! database written by the test and a latency table, clients given by ECS.

mod common;
use common::geo::{geo_db, CONFIG, LATENCY};
use common::{forced_check, wait_for, zone, Server};

fn geo_policy(down: &[&str]) -> String {
    let mut p = String::new();
    for (id, geo, ip) in [
        (
            "wa",
            "{ country = \"US\", subdivision = \"WA\" }",
            "192.0.2.1",
        ),
        ("us", "{ country = \"US\" }", "192.0.2.2"),
        ("na", "{ continent = \"NA\" }", "192.0.2.3"),
        ("de", "{ country = \"DE\" }", "192.0.2.4"),
        ("default", "{ country = \"*\" }", "192.0.2.5"),
    ] {
        p += &forced_check(id, !down.contains(&id));
        p += &format!(
            "[[record]]\nname = \"geo\"\ntype = \"A\"\nttl = 60\nset_id = \"{id}\"\ngeo = {geo}\nvalues = [\"{ip}\"]\nhealth_check = \"{id}\"\n"
        );
    }
    p + r#"
[[record]]
name = "near"
type = "A"
ttl = 60
set_id = "dublin"
geoproximity = { region = "eu-west" }
values = ["192.0.2.11"]

[[record]]
name = "near"
type = "A"
ttl = 60
set_id = "washington"
geoproximity = { region = "us-east" }
values = ["192.0.2.12"]

[[record]]
name = "fast"
type = "A"
ttl = 60
set_id = "eu"
region = "eu-west"
values = ["192.0.2.21"]

[[record]]
name = "fast"
type = "A"
ttl = 60
set_id = "us"
region = "us-east"
values = ["192.0.2.22"]
"#
}

fn server() -> Server {
    let db = geo_db();
    Server::start_with_files(
        &[
            ("example.com.zone", &zone("example.com", "")),
            ("example.com.toml", &geo_policy(&[])),
        ],
        CONFIG,
        &[("geo.mmdb", &db), ("latency.csv", LATENCY.as_bytes())],
    )
}

fn a(s: &Server, name: &str, subnet: &str) -> Vec<String> {
    s.dig(&format!("{name}.example.com A +subnet={subnet}"))
        .answer_data("A")
}

/// Reference §9 golden case 3 through DNS: the most specific location wins, an
/// unhealthy one falls back up the client's own chain only.
#[test]
fn geolocation_follows_the_clients_chain() {
    let s = server();
    assert_eq!(
        a(&s, "geo", "198.51.100.0/24"),
        ["192.0.2.1"],
        "Seattle: WA"
    );
    assert_eq!(
        a(&s, "geo", "198.51.101.0/24"),
        ["192.0.2.2"],
        "US without a state: US"
    );
    assert_eq!(a(&s, "geo", "203.0.113.0/24"), ["192.0.2.4"], "Berlin: DE");
    assert_eq!(
        a(&s, "geo", "192.0.2.0/24"),
        ["192.0.2.5"],
        "Tokyo: the default"
    );
    assert_eq!(
        a(&s, "geo", "100.64.0.0/16"),
        ["192.0.2.5"],
        "not in the database: the default"
    );
    // The scope is the database network that decided, never longer than the source.
    let d = s.dig("geo.example.com A +subnet=198.51.100.7/32");
    assert_eq!(
        d.client_subnet.as_deref(),
        Some("198.51.100.7/32/24"),
        "{}",
        d.raw
    );
    let d = s.dig("geo.example.com A +subnet=198.51.100.0/24");
    assert_eq!(d.client_subnet.as_deref(), Some("198.51.100.0/24/24"));

    for (down, want) in [
        (&["wa"][..], "192.0.2.2"),
        (&["wa", "us"][..], "192.0.2.3"),
        (&["wa", "us", "na"][..], "192.0.2.5"),
        (&["wa", "us", "na", "default"][..], "192.0.2.1"), // all down: the most specific
    ] {
        std::fs::write(s.zone_path("example.com.toml"), geo_policy(down)).unwrap();
        wait_for(&format!("Seattle with {down:?} down → {want}"), || {
            a(&s, "geo", "198.51.100.0/24") == [want]
        });
        // A German client never gets another country's record.
        if down.len() == 4 {
            assert_eq!(a(&s, "geo", "203.0.113.0/24"), ["192.0.2.4"]);
        }
    }
}

#[test]
fn geoproximity_picks_the_nearest_region() {
    let s = server();
    assert_eq!(
        a(&s, "near", "203.0.113.0/24"),
        ["192.0.2.11"],
        "Berlin is nearer Dublin"
    );
    assert_eq!(
        a(&s, "near", "198.51.101.0/24"),
        ["192.0.2.12"],
        "Kansas is nearer Washington"
    );
}

#[test]
fn latency_uses_the_table_then_distance() {
    let s = server();
    // Measured: from Berlin's network us-east is fastest.
    let d = s.dig("fast.example.com A +subnet=203.0.113.0/24");
    assert_eq!(d.answer_data("A"), ["192.0.2.22"]);
    assert_eq!(d.client_subnet.as_deref(), Some("203.0.113.0/24/24"));
    // Not in the table: great-circle distance from the GeoIP position.
    assert_eq!(
        a(&s, "fast", "198.51.100.0/24"),
        ["192.0.2.22"],
        "Seattle → us-east"
    );
    assert_eq!(
        a(&s, "fast", "192.0.2.0/24"),
        ["192.0.2.21"],
        "Tokyo is nearer Dublin than Washington"
    );
}

#[test]
fn a_bad_latency_table_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hadns.toml"),
        format!("[server]\nlisten = [\"127.0.0.1:5399\"]\n{CONFIG}"),
    )
    .unwrap();
    std::fs::write(dir.path().join("geo.mmdb"), geo_db()).unwrap();
    std::fs::write(
        dir.path().join("latency.csv"),
        "# header\n203.0.113.0/24,us-east,5\n203.0.113.0/24,mars,5\nnonsense\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("zones")).unwrap();
    let (ok, out) = common::check(&dir.path().join("hadns.toml"));
    assert!(!ok);
    assert!(
        out.contains("latency.csv:3: unknown region \"mars\""),
        "{out}"
    );
    assert!(
        out.contains("latency.csv:4: expected client_prefix,region,rtt_ms"),
        "{out}"
    );
    std::fs::write(dir.path().join("geo.mmdb"), b"not a database").unwrap();
    let (ok, out) = common::check(&dir.path().join("hadns.toml"));
    assert!(!ok);
    assert!(
        out.contains("geo.mmdb:1: cannot read the GeoIP database"),
        "{out}"
    );
}
