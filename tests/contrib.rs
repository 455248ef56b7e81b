//! `contrib/`: the Grafana dashboard and the Prometheus alerting rules. Every metric they
//! name is one hadns exports; the rules pass `promtool check rules` and their unit tests
//! (`promtool test rules`).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `hadns_…` name in `text`, histogram series folded into their metric.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("hadns_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        let name = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .map_or(name.clone(), str::to_string);
        names.insert(name);
    }
    names
}

/// The metric names hadns defines (src/metrics.rs holds every one).
fn exported() -> BTreeSet<String> {
    let src = std::fs::read_to_string(root().join("src/metrics.rs")).unwrap();
    src.lines()
        .filter(|l| l.starts_with("const ") && l.contains(": &str = \"hadns_"))
        .flat_map(metric_names)
        .collect()
}

#[test]
fn the_dashboard_and_the_rules_name_only_metrics_hadns_exports() {
    let exported = exported();
    assert!(exported.len() >= 10, "{exported:?}");
    let dashboard = std::fs::read_to_string(root().join("contrib/grafana/hadns.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).expect("valid JSON");
    assert!(parsed["panels"].as_array().is_some_and(|p| p.len() >= 8));
    let rules = std::fs::read_to_string(root().join("contrib/prometheus/hadns-rules.yml")).unwrap();
    for (file, text) in [("hadns.json", &dashboard), ("hadns-rules.yml", &rules)] {
        let named = metric_names(text);
        let unknown: Vec<_> = named.difference(&exported).collect();
        assert!(
            unknown.is_empty(),
            "{file} names metrics hadns does not export: {unknown:?}"
        );
    }
    // The dashboard shows what the issue asks for.
    for m in [
        "hadns_queries_total",
        "hadns_answers_total",
        "hadns_health_check_status",
        "hadns_health_check_duration_seconds",
        "hadns_health_check_transitions_total",
        "hadns_zone_reloads_total",
        "hadns_cluster_nodes",
    ] {
        assert!(dashboard.contains(m), "the dashboard lacks {m}");
    }
}

#[test]
fn the_alerting_rules_pass_promtool() {
    if !common::can_run(
        "promtool (Debian package prometheus)",
        common::installed("promtool"),
    ) {
        return;
    }
    let dir = root().join("contrib/prometheus");
    for args in [
        vec!["check", "rules", "hadns-rules.yml"],
        vec!["test", "rules", "hadns-rules.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
