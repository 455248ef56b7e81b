//! `hadns import route53` and `hadns export route53`: Route 53's JSON in, files that
//! `check` accepts and a server answers from out; a change batch that Route 53's API
//! model accepts back; import → export → import gives the same files.
//!
//! The fixture (`tests/route53/`) has every routing policy, every kind of check and
//! something of each kind that cannot be carried over. Its checks probe 127.0.0.1:9,
//! ::1:9 and localhost:9, where nothing listens.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{config_dir, run_command, Server};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/route53")
        .join(name)
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn hadns(args: &[&str], paths: &[(&str, &Path)]) -> Run {
    let mut cmd = Command::new(common::hadns_bin());
    cmd.args(args);
    for (flag, path) in paths {
        cmd.arg(flag).arg(path);
    }
    let out = cmd.output().expect("hadns runs");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Imports the fixture (or `records`) into `out`.
fn import(records: &Path, checks: &Path, cidr: &Path, out: &Path) -> Run {
    hadns(
        &["import", "route53", "--origin", "example.com"],
        &[
            ("--records", records),
            ("--health-checks", checks),
            ("--cidr-blocks", cidr),
            ("--out", out),
        ],
    )
}

fn import_fixture(out: &Path) -> Run {
    import(
        &fixture("records.json"),
        &fixture("health-checks.json"),
        &fixture("cidr-blocks.json"),
        out,
    )
}

/// A config directory holding the import of the fixture, its regions in hadns.toml.
fn imported() -> (tempfile::TempDir, Run) {
    let dir = config_dir(&[], "");
    let run = import_fixture(&dir.path().join("zones"));
    assert!(run.ok, "{}", run.stderr);
    let config = dir.path().join("hadns.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&run.stdout);
    std::fs::write(&config, text).unwrap();
    (dir, run)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn import_carries_every_policy_check_is_clean_and_what_cannot_be_carried_is_listed() {
    let (dir, run) = imported();
    let (ok, out) = common::check(&dir.path().join("hadns.toml"));
    assert!(ok, "{out}");
    assert!(out.contains("ok: 1 zones"), "{out}");
    assert!(!out.contains("warning"), "{out}");

    let policy = read(&dir.path().join("zones/example.com.toml"));
    for field in [
        "failover = \"primary\"",
        "failover = \"secondary\"",
        "weight = 10",
        "region = \"us-east-1\"",
        "geo = { country = \"US\", subdivision = \"WA\" }",
        "geo = { country = \"*\" }",
        "geoproximity = { region = \"eu-west-3\", bias = 25 }",
        "geoproximity = { lat = -26.2, lon = 28.04 }",
        "multivalue = true",
        "cidr = { location = \"isp1\" }",
        "cidr = { location = \"*\" }",
        "alias = { target = \"use1.api\", evaluate_target_health = true }",
        "type = \"calculated\"",
        "children = [\"hc-web\", \"hc-tcp\"]",
        "search_string = \"OK\"",
        "inverted = true",
        "disabled = true",
        "fqdn = \"localhost\"",
        "networks = [\"198.51.100.0/24\", \"2001:db8:1::/48\"]",
    ] {
        assert!(policy.contains(field), "no {field:?} in\n{policy}");
    }
    // Only the checks this zone uses.
    assert!(!policy.contains("hc-other-zone"), "{policy}");
    let zone = read(&dir.path().join("zones/example.com.zone"));
    for line in [
        "*\t300\tIN\tTXT\t\"wildcard\"",
        "@\t300\tIN\tTXT\t\"caf\\195\\169\" \"two \\\"quoted\\\" strings\"",
        "use1.api\t60\tIN\tA\t192.0.2.12",
    ] {
        assert!(zone.contains(line), "no {line:?} in\n{zone}");
    }
    assert!(run.stdout.contains("id = \"eu-west-3\""), "{}", run.stdout);
    for note in [
        "www.example.com. A \"green\": an alias to dualstack.my-lb-1234.us-east-1.elb.amazonaws.com.",
        "geo.example.com. A \"default\": its health check hc-alarm (CLOUDWATCH_METRIC) cannot be carried over",
        "health check hc-calculated: its child hc-alarm (CLOUDWATCH_METRIC) cannot be carried over",
        "gp.example.com. A \"lax-lz\": geoproximity by AWS Local Zone group",
        "tp.example.com. AAAA: made by Traffic Flow",
        "db.example.com. CNAME: a health check on a record set without a routing policy",
        "the SOA and the apex NS name Route 53's nameservers",
        "health check hc-https-match: its checker Regions are not carried over",
    ] {
        assert!(run.stderr.contains(note), "no note {note:?} in\n{}", run.stderr);
    }
}

#[test]
fn an_imported_zone_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let run = import_fixture(dir.path());
    assert!(run.ok, "{}", run.stderr);
    let zone = read(&dir.path().join("example.com.zone"));
    let policy = read(&dir.path().join("example.com.toml"));
    let server = Server::start(
        &[("example.com.zone", &zone), ("example.com.toml", &policy)],
        &run.stdout,
    );
    // New checks start healthy (reference §4.2): every primary answers.
    assert_eq!(server.a("app.example.com"), ["192.0.2.1"]);
    assert_eq!(server.a("euw1.api.example.com"), ["192.0.2.21"]);
    assert_eq!(server.a("geo.example.com"), ["192.0.2.34"]);
    assert_eq!(server.a("ip.example.com"), ["192.0.2.62"]);
    let ecs = server.dig("ip.example.com A +subnet=198.51.100.7/32");
    assert_eq!(ecs.answer_data("A"), ["192.0.2.61"]);
    let apex = server.a("example.com");
    assert!(
        apex.iter()
            .all(|a| ["192.0.2.10", "192.0.2.9", "192.0.2.8"].contains(&a.as_str())),
        "{apex:?}"
    );
    let txt = server.dig("anything.example.com TXT");
    assert_eq!(txt.answer_data("TXT"), ["\"wildcard\""]);
    let apex_txt = server.dig("example.com TXT").answer_data("TXT");
    assert!(
        apex_txt.iter().any(|t| t.contains("\"caf\\195\\169\"")),
        "{apex_txt:?}"
    );
}

/// What Route 53 would list after taking the batch: its own SOA and apex NS (from the
/// fixture), then every set of the batch.
fn as_route53_lists(batch: &Path) -> String {
    let original: serde_json::Value =
        serde_json::from_str(&read(&fixture("records.json"))).unwrap();
    let batch: serde_json::Value = serde_json::from_str(&read(batch)).unwrap();
    let mut sets: Vec<serde_json::Value> = original["ResourceRecordSets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Name"] == "example.com." && (s["Type"] == "SOA" || s["Type"] == "NS"))
        .cloned()
        .collect();
    for c in batch["Changes"].as_array().unwrap() {
        assert_eq!(c["Action"], "UPSERT");
        sets.push(c["ResourceRecordSet"].clone());
    }
    serde_json::json!({ "ResourceRecordSets": sets }).to_string()
}

#[test]
fn import_export_import_is_stable_and_route53s_api_model_takes_the_export() {
    let (dir, first) = imported();
    let batch = dir.path().join("batch.json");
    let export = hadns(
        &["export", "route53", "--origin", "example.com"],
        &[
            ("--config", &dir.path().join("hadns.toml")),
            ("--out", &batch),
        ],
    );
    assert!(export.ok, "{}", export.stderr);
    for note in [
        "the SOA and the apex NS are left out",
        "aliases name the hosted zone as HOSTED_ZONE_ID",
        "create each check of the .health-checks.json file",
    ] {
        assert!(
            export.stderr.contains(note),
            "no {note:?} in\n{}",
            export.stderr
        );
    }

    // The AWS CLI's own check of a request (botocore's model of the Route 53 API).
    let botocore = Command::new("python3")
        .args(["-c", "import botocore"])
        .status()
        .is_ok_and(|s| s.success());
    if common::can_run("python3 with botocore (pip install botocore)", botocore) {
        let (ok, out) = run_command(
            Command::new("python3")
                .arg(fixture("validate.py"))
                .arg(&batch),
        );
        assert!(ok, "{out}");
        assert!(out.contains("valid: 9 requests"), "{out}");
    }

    let listed = dir.path().join("listed.json");
    std::fs::write(&listed, as_route53_lists(&batch)).unwrap();
    let again = dir.path().join("again");
    let second = import(
        &listed,
        &dir.path().join("batch.json.health-checks.json"),
        &dir.path().join("batch.json.cidr-collection.json"),
        &again,
    );
    assert!(second.ok, "{}", second.stderr);
    for file in ["example.com.zone", "example.com.toml"] {
        assert_eq!(
            read(&again.join(file)),
            read(&dir.path().join("zones").join(file)),
            "{file} changed on the way back"
        );
    }
    assert_eq!(second.stdout, first.stdout);
}

#[test]
fn export_lists_what_route53_cannot_take() {
    let dir = config_dir(
        &[
            (
                "example.com.zone",
                &common::zone(
                    "example.com",
                    "www A 192.0.2.1\nold DNAME new.example.net.\nbox HINFO \"pc\" \"linux\"",
                ),
            ),
            (
                "example.com.toml",
                r#"
[[health_check]]
id = "fast"
type = "http"
ip = "127.0.0.1"
port = 9
interval = "5s"
timeout = "1s"

[[record]]
name = "api"
type = "A"
set_id = "dub"
region = "eu-west"
ttl = 60
values = ["192.0.2.5"]
health_check = "fast"

[[record]]
name = "near"
type = "A"
set_id = "dub"
geoproximity = { region = "eu-west" }
ttl = 60
values = ["192.0.2.6"]
"#,
            ),
        ],
        "[[region]]\nid = \"eu-west\"\nlocation = { lat = 53.3, lon = -6.3 }\n",
    );
    let batch = dir.path().join("batch.json");
    let run = hadns(
        &[
            "export",
            "route53",
            "--origin",
            "example.com.",
            "--hosted-zone-id",
            "Z0EXAMPLE",
        ],
        &[
            ("--config", &dir.path().join("hadns.toml")),
            ("--out", &batch),
        ],
    );
    assert!(run.ok, "{}", run.stderr);
    for note in [
        "old.example.com. DNAME: Route 53 does not take DNAME records",
        "box.example.com. HINFO: Route 53 does not take HINFO records",
        "health check fast: interval 5s is not one of Route 53's (10 s, 30 s): exported as 10 s",
        "health check fast: Route 53's timeouts are fixed",
        "api.example.com. A \"dub\": region \"eu-west\" is not an AWS region",
        "near.example.com. A \"dub\": region \"eu-west\" is not an AWS region: exported as its coordinates",
    ] {
        assert!(run.stderr.contains(note), "no {note:?} in\n{}", run.stderr);
    }
    let text = read(&batch);
    assert!(text.contains("\"Latitude\": \"53.3\""), "{text}");
    assert!(!text.contains("\"SOA\""), "{text}");
    assert!(!text.contains("HOSTED_ZONE_ID"), "{text}");
}

#[test]
fn bad_input_is_refused_with_a_clear_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.json");
    let out = dir.path().join("zones");
    std::fs::create_dir(&out).unwrap();
    let soa = r#"{"Name": "example.com.", "Type": "SOA", "TTL": 900, "ResourceRecords": [{"Value": "ns. h. 1 2 3 4 5"}]}"#;
    let cases = [
        (
            format!("{{\"ResourceRecordSets\": [{soa},\n {{\"Name\": \"a.example.com.\", \"Type\": \"A\", \"Wieght\": 1}}]}}"),
            "records.json:2: unknown field `Wieght`",
        ),
        (
            format!("{{\"ResourceRecordSets\": [{soa}], \"IsTruncated\": true, \"NextRecordName\": \"b.example.com.\"}}"),
            "the list is cut short",
        ),
        (
            format!("{{\"ResourceRecordSets\": [{soa}, {{\"Name\": \"www.example.net.\", \"Type\": \"A\", \"TTL\": 60, \"ResourceRecords\": [{{\"Value\": \"192.0.2.1\"}}]}}]}}"),
            "record set www.example.net. A: www.example.net. is not in zone example.com.",
        ),
        (
            format!("{{\"ResourceRecordSets\": [{soa}, {{\"Name\": \"w.example.com.\", \"Type\": \"A\", \"SetIdentifier\": \"x\", \"Weight\": 1, \"TTL\": 60, \"ResourceRecords\": [{{\"Value\": \"192.0.2.1\"}}], \"HealthCheckId\": \"hc-nowhere\"}}]}}"),
            "record set w.example.com. A \"x\": health check hc-nowhere is not in the health checks given",
        ),
        (
            format!("{{\"ResourceRecordSets\": [{soa}, {{\"Name\": \"w.example.com.\", \"Type\": \"A\", \"SetIdentifier\": \"x\", \"Weight\": 1, \"Failover\": \"PRIMARY\", \"TTL\": 60, \"ResourceRecords\": [{{\"Value\": \"192.0.2.1\"}}]}}]}}"),
            "more than one routing policy",
        ),
        (
            format!("{{\"ResourceRecordSets\": [{soa}, {{\"Name\": \"l.example.com.\", \"Type\": \"A\", \"SetIdentifier\": \"x\", \"Region\": \"moon-1\", \"TTL\": 60, \"ResourceRecords\": [{{\"Value\": \"192.0.2.1\"}}]}}]}}"),
            "\"moon-1\" is not an AWS region",
        ),
        (
            "{\"ResourceRecordSets\": [{\"Name\": \"a.example.com.\", \"Type\": \"A\", \"TTL\": 60, \"ResourceRecords\": [{\"Value\": \"192.0.2.1\"}]}]}".to_string(),
            "no SOA at example.com.",
        ),
    ];
    for (json, expected) in cases {
        std::fs::write(&records, &json).unwrap();
        let run = hadns(
            &["import", "route53", "--origin", "example.com"],
            &[
                ("--health-checks", &fixture("health-checks.json")),
                ("--records", &records),
                ("--out", &out),
            ],
        );
        assert!(!run.ok, "accepted {json}");
        assert!(
            run.stderr.contains(expected),
            "no {expected:?} in\n{}",
            run.stderr
        );
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "{json}");
    }

    // A zone already there is not replaced without --force.
    std::fs::write(out.join("example.com.zone"), "; mine\n").unwrap();
    let run = import_fixture(&out);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("example.com.zone exists: give --force"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&out.join("example.com.zone")), "; mine\n");
}
