//! Policy files (`zones/<origin>.toml`): what `hadns check` accepts, and every rule it
//! enforces, each reported at `file:line`.

mod common;
use common::{check, zone};

const CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:5399"]
zones_dir = "zones"

[[region]]
id = "eu-west"
location = { lat = 53.3, lon = -6.3 }

[[region]]
id = "us-east"
location = { lat = 38.9, lon = -77.0 }
"#;

const ZONE: &str = "plain A 192.0.2.99\nwest-pool A 192.0.2.20\nold CNAME plain";

/// A policy file that uses every policy, alias and check kind.
const VALID: &str = r#"
[[health_check]]
id = "web-east"
type = "http"
ip = "127.0.0.1"
port = 8080
path = "/health"
search_string = "OK"
interval = "10s"
failure_threshold = 3

[[health_check]]
id = "tcp-west"
type = "tcp"
ip = "127.0.0.1"
port = 8443

[[health_check]]
id = "any-web"
type = "calculated"
children = ["web-east", "tcp-west"]
threshold = 1

[[cidr_location]]
name = "office"
networks = ["198.51.100.0/24", "2001:db8:1::/48"]

[[record]]
name = "www"
type = "A"
ttl = 60
set_id = "east"
failover = "primary"
values = ["192.0.2.10"]
health_check = "web-east"

[[record]]
name = "www"
type = "A"
set_id = "west"
failover = "secondary"
alias = { target = "west-pool", evaluate_target_health = true }

[[record]]
name = "api"
type = "A"
ttl = 60
set_id = "blue"
weight = 10
values = ["192.0.2.30", "192.0.2.31"]

[[record]]
name = "api"
type = "A"
ttl = 60
set_id = "green"
weight = 0
values = ["192.0.2.32"]

[[record]]
name = "lat"
type = "AAAA"
ttl = 60
set_id = "eu"
region = "eu-west"
values = ["2001:db8::1"]

[[record]]
name = "geo"
type = "TXT"
ttl = 60
set_id = "wa"
geo = { country = "US", subdivision = "WA" }
values = ["\"washington\""]

[[record]]
name = "geo"
type = "TXT"
ttl = 60
set_id = "default"
geo = { country = "*" }
values = ["\"elsewhere\""]

[[record]]
name = "gp.example.com."
type = "A"
ttl = 60
set_id = "dublin"
geoproximity = { region = "eu-west", bias = 25 }
values = ["192.0.2.40"]

[[record]]
name = "mv"
type = "A"
ttl = 60
set_id = "mv1"
multivalue = true
values = ["192.0.2.50"]
health_check = "any-web"

[[record]]
name = "ip"
type = "MX"
ttl = 60
set_id = "office"
cidr = { location = "office" }
values = ["10 mail.example.net."]

[[record]]
name = "ip"
type = "MX"
ttl = 60
set_id = "rest"
cidr = { location = "*" }
values = ["20 mail.example.net."]
"#;

fn setup(policy: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hadns.toml"), CONFIG).unwrap();
    std::fs::create_dir(dir.path().join("zones")).unwrap();
    std::fs::write(
        dir.path().join("zones/example.com.zone"),
        zone("example.com", ZONE),
    )
    .unwrap();
    std::fs::write(dir.path().join("zones/example.com.toml"), policy).unwrap();
    dir
}

/// A one-set failover pair around `record`'s extra fields, for the error cases.
fn record(fields: &str) -> String {
    format!("[[record]]\nname = \"r\"\ntype = \"A\"\nttl = 60\nset_id = \"a\"\n{fields}\n")
}

/// Check fails with `example.com.toml:LINE: …MESSAGE…`.
fn assert_error(policy: &str, line: usize, message: &str) {
    let dir = setup(policy);
    common::assert_check_error(
        &dir.path().join("hadns.toml"),
        "example.com.toml",
        line,
        message,
    );
}

#[test]
fn a_policy_file_with_every_policy_passes() {
    let dir = setup(VALID);
    let (ok, out) = check(&dir.path().join("hadns.toml"));
    assert!(ok, "{out}");
}

#[test]
fn unknown_and_duplicate_fields() {
    assert_error(
        &record("weight = 1\nvalues = [\"192.0.2.1\"]\ncolour = \"red\""),
        8,
        "unknown field `colour`",
    );
    assert_error(
        &record("weight = 1\nweight = 2\nvalues = [\"192.0.2.1\"]"),
        7,
        "duplicate key",
    );
}

#[test]
fn one_policy_field_per_set() {
    assert_error(
        &record("weight = 1\nfailover = \"primary\"\nvalues = [\"192.0.2.1\"]"),
        1,
        "more than one policy field",
    );
    assert_error(&record("values = [\"192.0.2.1\"]"), 1, "no policy field");
}

#[test]
fn two_policies_in_one_group() {
    let p = record("weight = 1\nvalues = [\"192.0.2.1\"]")
        + &record("multivalue = true\nvalues = [\"192.0.2.2\"]").replace("\"a\"", "\"b\"");
    assert_error(
        &p,
        8,
        "mixes policies: multivalue here and weight at line 1",
    );
}

#[test]
fn a_policy_set_beside_a_plain_record_of_the_same_name_and_type() {
    let p =
        record("weight = 1\nvalues = [\"192.0.2.1\"]").replace("name = \"r\"", "name = \"plain\"");
    assert_error(
        &p,
        1,
        "a policy set beside a plain record of the same name and type (A at ",
    );
    // The message names the zone file line too.
    let dir = setup(&p);
    let (_, out) = check(&dir.path().join("hadns.toml"));
    assert!(out.contains("example.com.zone:6"), "{out}");
    // A CNAME in the zone file excludes any policy set at that name.
    let p =
        record("weight = 1\nvalues = [\"192.0.2.1\"]").replace("name = \"r\"", "name = \"old\"");
    assert_error(&p, 1, "a CNAME beside other data");
}

#[test]
fn duplicate_set_id() {
    let p = record("weight = 1\nvalues = [\"192.0.2.1\"]")
        + &record("weight = 2\nvalues = [\"192.0.2.2\"]");
    assert_error(&p, 8, "duplicate set_id \"a\"");
}

#[test]
fn failover_needs_one_primary_and_one_secondary() {
    let p = record("failover = \"primary\"\nvalues = [\"192.0.2.1\"]");
    assert_error(&p, 1, "exactly one primary and one secondary");
    let p = p.clone()
        + &record("failover = \"primary\"\nvalues = [\"192.0.2.2\"]").replace("\"a\"", "\"b\"");
    assert_error(&p, 1, "exactly one primary and one secondary");
    assert_error(
        &record("failover = \"tertiary\"\nvalues = [\"192.0.2.1\"]"),
        1,
        "failover must be",
    );
}

#[test]
fn weight_out_of_range() {
    assert_error(
        &record("weight = 256\nvalues = [\"192.0.2.1\"]"),
        1,
        "weight 256 is out of range",
    );
    assert_error(
        &record("weight = -1\nvalues = [\"192.0.2.1\"]"),
        1,
        "out of range",
    );
}

#[test]
fn unknown_health_check_region_or_location() {
    assert_error(
        &record("weight = 1\nvalues = [\"192.0.2.1\"]\nhealth_check = \"nope\""),
        1,
        "unknown health check \"nope\"",
    );
    assert_error(
        &record("region = \"mars\"\nvalues = [\"192.0.2.1\"]"),
        1,
        "unknown region \"mars\"",
    );
    assert_error(
        &record("geoproximity = { region = \"mars\" }\nvalues = [\"192.0.2.1\"]"),
        1,
        "unknown region",
    );
    assert_error(
        &record("cidr = { location = \"nowhere\" }\nvalues = [\"192.0.2.1\"]"),
        1,
        "unknown cidr_location \"nowhere\"",
    );
}

#[test]
fn alias_to_a_missing_name_or_another_type() {
    let alias = |target: &str| {
        format!("[[record]]\nname = \"r\"\ntype = \"A\"\nset_id = \"a\"\nweight = 1\nalias = {{ target = \"{target}\", evaluate_target_health = true }}\n")
    };
    assert_error(
        &alias("missing"),
        1,
        "alias target missing.example.com. has no A records",
    );
    // `old` exists, but as a CNAME.
    assert_error(&alias("old"), 1, "has no A records");
    assert_error(&alias("www.example.org."), 1, "is not in zone");
}

#[test]
fn alias_cycles() {
    let set = |name: &str, target: &str, line_hint: &str| {
        format!("[[record]] # {line_hint}\nname = \"{name}\"\ntype = \"A\"\nset_id = \"s\"\nweight = 1\nalias = {{ target = \"{target}\", evaluate_target_health = true }}\n")
    };
    let p = set("a", "b", "1") + &set("b", "c", "7") + &set("c", "a", "13");
    let dir = setup(&p);
    let (ok, out) = check(&dir.path().join("hadns.toml"));
    assert!(!ok);
    assert!(out.contains("alias cycle through"), "{out}");
    assert!(out.contains("example.com.toml:"), "{out}");
}

#[test]
fn more_than_100_sets_in_a_group() {
    let p: String = (0..101)
        .map(|i| format!("[[record]]\nname = \"r\"\ntype = \"A\"\nttl = 60\nset_id = \"s{i}\"\nweight = 1\nvalues = [\"192.0.2.1\"]\n"))
        .collect();
    assert_error(&p, 701, "more than 100 sets");
}

#[test]
fn health_check_rules() {
    let hc = |fields: &str| format!("[[health_check]]\nid = \"h\"\n{fields}\n");
    assert_error(&hc("type = \"http\""), 1, "exactly one of ip and fqdn");
    assert_error(&hc("type = \"tcp\"\nip = \"127.0.0.1\""), 1, "needs a port");
    assert_error(
        &hc("type = \"http\"\nip = \"127.0.0.1\"\ninterval = \"50ms\""),
        1,
        "at least 100ms",
    );
    assert_error(
        &hc("type = \"http\"\nip = \"127.0.0.1\"\nfailure_threshold = 11"),
        1,
        "1 to 10",
    );
    assert_error(
        &hc("type = \"calculated\"\nchildren = [\"x\"]"),
        1,
        "unknown child \"x\"",
    );
    assert_error(
        &hc("type = \"icmp\"\nip = \"127.0.0.1\""),
        1,
        "unknown type",
    );
    let nested = hc("type = \"calculated\"\nchildren = []")
        + "[[health_check]]\nid = \"top\"\ntype = \"calculated\"\nchildren = [\"h\"]\n";
    assert_error(&nested, 5, "calculated checks cannot nest");
}

#[test]
fn a_policy_file_without_its_zone() {
    let dir = setup(VALID);
    std::fs::write(dir.path().join("zones/example.org.toml"), VALID).unwrap();
    let (ok, out) = check(&dir.path().join("hadns.toml"));
    assert!(!ok);
    assert!(
        out.contains("example.org.toml:1: a policy file without its zone file"),
        "{out}"
    );
}
