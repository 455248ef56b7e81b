//! Prometheus metrics: every name and label set in one place. A leaf: callers hand it
//! plain values (names, numbers); it knows nothing of DNS, zones or health.
//!
//! Counters and the probe histogram are recorded as things happen, through handles
//! registered once, so the query path pays one atomic add per counter and allocates
//! nothing. Gauges describe state that lives elsewhere (check statuses, zone serials,
//! overrides): they are set from that state at each scrape, so they can never drift
//! from it, and a gauge not set by the last scrape (a check or zone removed by a
//! reload) is dropped from the output.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

use ::metrics::{counter, gauge, Counter};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;

const QUERIES: &str = "hadns_queries_total";
const ANSWERS: &str = "hadns_answers_total";
const CHECK_STATUS: &str = "hadns_health_check_status";
const CHECK_DURATION: &str = "hadns_health_check_duration_seconds";
const CHECK_TRANSITIONS: &str = "hadns_health_check_transitions_total";
const RELOADS: &str = "hadns_zone_reloads_total";
const ZONE_SERIAL: &str = "hadns_zone_serial";
const OVERRIDES: &str = "hadns_overrides_active";
const CHECK_OBSERVERS: &str = "hadns_health_check_observers";
const CLUSTER_NODES: &str = "hadns_cluster_nodes";
const CLUSTER_ALONE: &str = "hadns_cluster_alone";
const CLUSTER_DIVERGENT: &str = "hadns_cluster_divergent_zones";
const CLUSTER_MESSAGES: &str = "hadns_cluster_messages_total";
const CLUSTER_BYTES: &str = "hadns_cluster_bytes_total";
const RATE_LIMITED: &str = "hadns_rate_limited_total";

/// The `zone` label of queries outside every zone served (and of malformed ones).
pub const OTHER: &str = "other";

/// Probe durations: from a fast loopback answer to Route 53's 10 s TCP limit.
const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// The same bounds as `le` labels.
const DURATION_LE: [&str; 12] = [
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "10",
];

const CHECK_STATUS_HELP: &str = "Health check status in effect: 1 healthy, 0 unhealthy";
const CHECK_TRANSITIONS_HELP: &str = "Health check status changes, by new status";
const CHECK_DURATION_HELP: &str = "Health check probe duration";
const CHECK_OBSERVERS_HELP: &str =
    "Cluster nodes whose fresh observation of the check counts, by what they observe";

/// The installed recorder's output.
pub struct Exporter {
    handle: PrometheusHandle,
    /// Setting the gauges and rendering happen as one step: a scrape between another's
    /// two halves would see its gauges as stale and drop them. Holds the last render and
    /// when it was finished.
    scrape: Mutex<Option<(Instant, Bytes)>>,
}

/// The state the gauges show, read by the caller at each scrape.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Each check and whether its status in effect is healthy.
    pub checks: Vec<(String, bool)>,
    /// Each zone served and its SOA serial.
    pub zones: Vec<(String, u32)>,
    pub overrides_active: usize,
    /// In a cluster: each check and how many observers say healthy, unhealthy.
    pub observers: Vec<(String, usize, usize)>,
    pub cluster: Option<ClusterGauges>,
}

#[derive(Debug, Default)]
pub struct ClusterGauges {
    pub alive: usize,
    pub dead: usize,
    pub alone: bool,
    pub divergent_zones: usize,
}

impl Exporter {
    /// Installs the process-wide recorder. Until this runs (as in benches and unit
    /// tests) every metric is a no-op.
    pub fn install() -> Result<Exporter, String> {
        let handle = PrometheusBuilder::new()
            .idle_timeout(MetricKindMask::GAUGE, Some(Duration::ZERO))
            .install_recorder()
            .map_err(|e| format!("cannot set up metrics: {e}"))?;
        describe();
        // Every label set known from the start is exported from the first scrape, at 0:
        // rate() and increase() then see the first event (Prometheus's advice).
        for result in ["success", "error"] {
            counter!(RELOADS, "result" => result).increment(0);
        }
        Ok(Exporter {
            handle,
            scrape: Mutex::new(None),
        })
    }

    /// The Prometheus text exposition, gauges set from `gauges()` first. Scrapes that
    /// arrive while one renders wait for it and take its output: with 100,000 checks a
    /// render takes seconds, and parallel scrapers (several Prometheus servers) must
    /// not multiply that. A scrape never gets a render finished before it arrived.
    pub fn render(&self, gauges: impl FnOnce() -> Gauges) -> Bytes {
        self.render_for(Instant::now(), gauges)
    }

    /// [`Exporter::render`] for a scrape that arrived at `asked`.
    fn render_for(&self, asked: Instant, gauges: impl FnOnce() -> Gauges) -> Bytes {
        let mut last = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((finished, body)) = &*last {
            if *finished >= asked {
                return body.clone();
            }
        }
        let gauges = gauges();
        for (zone, serial) in &gauges.zones {
            gauge!(ZONE_SERIAL, "zone" => zone.clone()).set(f64::from(*serial));
        }
        gauge!(OVERRIDES).set(gauges.overrides_active as f64);
        if let Some(c) = &gauges.cluster {
            gauge!(CLUSTER_NODES, "state" => "alive").set(c.alive as f64);
            gauge!(CLUSTER_NODES, "state" => "dead").set(c.dead as f64);
            gauge!(CLUSTER_ALONE).set(f64::from(u8::from(c.alone)));
            gauge!(CLUSTER_DIVERGENT).set(c.divergent_zones as f64);
        }
        let mut out = self.handle.render().into_bytes();
        render_checks(&mut out, &gauges);
        let body = Bytes::from(out);
        *last = Some((Instant::now(), body.clone()));
        body
    }

    /// Folds recorded probe durations into the histograms; without it they pile up
    /// between scrapes. Call every few seconds.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

fn describe() {
    use ::metrics::{describe_counter, describe_gauge};
    describe_counter!(
        QUERIES,
        "DNS queries answered, by zone, qtype, rcode and transport"
    );
    describe_counter!(
        ANSWERS,
        "Answers by the policy record set that supplied them"
    );
    describe_counter!(RELOADS, "Zone reloads, by result (success or error)");
    describe_gauge!(ZONE_SERIAL, "SOA serial of each zone served");
    describe_gauge!(OVERRIDES, "Health check overrides in effect");
    describe_gauge!(
        CLUSTER_NODES,
        "Cluster nodes known, by state (alive or dead)"
    );
    describe_gauge!(
        CLUSTER_ALONE,
        "1 when this node hears no peer and decides alone"
    );
    describe_gauge!(
        CLUSTER_DIVERGENT,
        "Zones whose files differ between nodes of the cluster"
    );
    describe_counter!(
        CLUSTER_MESSAGES,
        "Gossip messages received, by result (accepted, or rejected: not sealed with the key, too old, replayed)"
    );
    describe_counter!(
        RATE_LIMITED,
        "UDP responses held back by rate limiting, by action (dropped, or slipped: sent truncated)"
    );
    describe_counter!(
        CLUSTER_BYTES,
        "Gossip bytes on the wire (UDP payload), by direction (sent, received)"
    );
}

/// The query types named in the `qtype` label; any other folds into `OTHER`.
const QTYPES: [(u16, &str); 24] = [
    (1, "A"),
    (2, "NS"),
    (5, "CNAME"),
    (6, "SOA"),
    (12, "PTR"),
    (13, "HINFO"),
    (15, "MX"),
    (16, "TXT"),
    (28, "AAAA"),
    (29, "LOC"),
    (33, "SRV"),
    (35, "NAPTR"),
    (39, "DNAME"),
    (41, "OPT"),
    (43, "DS"),
    (44, "SSHFP"),
    (48, "DNSKEY"),
    (52, "TLSA"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (251, "IXFR"),
    (252, "AXFR"),
    (255, "ANY"),
    (257, "CAA"),
];

/// Response codes by value (16 is BADVERS, carried in EDNS); the last is for queries
/// that got no response at all.
const RCODES: [&str; 13] = [
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE", "BADVERS", "DROPPED",
];
const BADVERS: u16 = 16;

/// What a query got back, for the `rcode` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A response with this (extended) rcode.
    Rcode(u16),
    /// No response: not a query, or too short to answer.
    Dropped,
}

impl Outcome {
    /// As the `rcode` label has it: `NOERROR`, `NXDOMAIN`, … or `DROPPED`.
    pub fn name(self) -> &'static str {
        RCODES[self.index()]
    }

    fn index(self) -> usize {
        match self {
            Outcome::Rcode(r) if usize::from(r) < 11 => usize::from(r),
            Outcome::Rcode(BADVERS) => 11,
            Outcome::Rcode(_) => 2, // nothing else is sent; SERVFAIL is the safe bucket
            Outcome::Dropped => 12,
        }
    }
}

const CELLS: usize = (QTYPES.len() + 1) * RCODES.len() * 2;

/// The query counters of one zone: a cell per (qtype, rcode, transport), registered
/// the first time it counts, so unused combinations stay out of the output.
pub struct ZoneQueries {
    zone: String,
    cells: Box<[OnceLock<Counter>]>,
}

impl std::fmt::Debug for ZoneQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoneQueries")
            .field("zone", &self.zone)
            .finish()
    }
}

impl ZoneQueries {
    /// `zone` as it is labelled: the origin with its final dot, or `OTHER`.
    pub fn new(zone: &str) -> Self {
        ZoneQueries {
            zone: zone.to_owned(),
            cells: (0..CELLS).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The counters of queries outside every zone served.
    pub fn other() -> &'static ZoneQueries {
        static OTHER_ZONE: OnceLock<ZoneQueries> = OnceLock::new();
        OTHER_ZONE.get_or_init(|| ZoneQueries::new(OTHER))
    }

    /// The counter a query of this type, outcome and transport goes to.
    pub fn cell(qtype: Option<u16>, outcome: Outcome, tcp: bool) -> usize {
        let q = qtype
            .and_then(|t| QTYPES.iter().position(|&(v, _)| v == t))
            .unwrap_or(QTYPES.len());
        let (r, t) = (outcome.index(), usize::from(tcp));
        (q * RCODES.len() + r) * 2 + t
    }

    /// Counts `n` queries in `cell` (see [`ZoneQueries::cell`]).
    pub fn add(&self, cell: usize, n: u64) {
        let tcp = cell % 2 == 1;
        let (q, r) = ((cell / 2) / RCODES.len(), (cell / 2) % RCODES.len());
        self.cells[cell]
            .get_or_init(|| {
                let qtype = QTYPES.get(q).map_or(OTHER, |&(_, name)| name);
                counter!(QUERIES,
                    "zone" => self.zone.clone(),
                    "qtype" => qtype,
                    "rcode" => RCODES[r],
                    "transport" => if tcp { "tcp" } else { "udp" })
            })
            .increment(n);
    }
}

/// The counter of answers supplied by one policy record set.
pub fn answer_counter(zone: &str, name: &str, rtype: &str, set_id: &str) -> Counter {
    counter!(ANSWERS,
        "zone" => zone.to_owned(),
        "name" => name.to_owned(),
        "type" => rtype.to_owned(),
        "set_id" => set_id.to_owned())
}

/// One health check's series: its probe durations and its transitions. Kept and
/// rendered here, not by the exporter: with 100,000 checks the exporter's general path
/// (a keyed registry, label sets cloned and sorted per scrape) took seconds and a GiB
/// per scrape; this is a few atomics per check and one pass that writes text.
#[derive(Debug, Default)]
pub struct CheckSeries {
    /// Probes per duration bucket, not cumulative; the last above every bound.
    buckets: [AtomicU64; DURATION_BUCKETS.len() + 1],
    nanos: AtomicU64,
    /// To healthy, to unhealthy.
    transitions: [AtomicU64; 2],
}

impl CheckSeries {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let bucket = DURATION_BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(DURATION_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.nanos
            .fetch_add(d.as_nanos().min(u64::MAX.into()) as u64, Ordering::Relaxed);
    }

    pub fn transition(&self, healthy: bool) {
        self.transitions[usize::from(!healthy)].fetch_add(1, Ordering::Relaxed);
    }
}

type CheckRegistry = Mutex<HashMap<String, Arc<CheckSeries>>>;

fn check_registry() -> &'static CheckRegistry {
    static CHECKS: OnceLock<CheckRegistry> = OnceLock::new();
    CHECKS.get_or_init(Default::default)
}

/// The series of check `check`, created at 0 if new. A check keeps them across reloads
/// while it exists; the render drops those of checks no longer configured.
pub fn check_series(check: &str) -> Arc<CheckSeries> {
    let mut checks = check_registry().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = checks.get(check) {
        return s.clone();
    }
    let s = Arc::new(CheckSeries::default());
    checks.insert(check.to_owned(), s.clone());
    s
}

/// Appends the per-check families for the checks in `gauges`, in the text exposition
/// format, and forgets the series of any other check.
fn render_checks(out: &mut Vec<u8>, gauges: &Gauges) {
    use std::io::Write;
    let series: Vec<(&str, Arc<CheckSeries>)> = {
        let mut registry = check_registry().lock().unwrap_or_else(|p| p.into_inner());
        let wanted: std::collections::HashSet<&str> =
            gauges.checks.iter().map(|(id, _)| id.as_str()).collect();
        registry.retain(|id, _| wanted.contains(id.as_str()));
        gauges
            .checks
            .iter()
            .map(|(id, _)| {
                let s = registry.entry(id.clone()).or_default().clone();
                (id.as_str(), s)
            })
            .collect()
    };
    let mut label = String::new();
    let family = |out: &mut Vec<u8>, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    family(out, CHECK_STATUS, "gauge", CHECK_STATUS_HELP);
    for (id, healthy) in &gauges.checks {
        escape(id, &mut label);
        let _ = writeln!(
            out,
            "{CHECK_STATUS}{{check=\"{label}\"}} {}",
            u8::from(*healthy)
        );
    }
    family(out, CHECK_TRANSITIONS, "counter", CHECK_TRANSITIONS_HELP);
    for (id, s) in &series {
        escape(id, &mut label);
        for (to, n) in ["healthy", "unhealthy"].iter().zip(&s.transitions) {
            let n = n.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{CHECK_TRANSITIONS}{{check=\"{label}\",to=\"{to}\"}} {n}"
            );
        }
    }
    family(out, CHECK_DURATION, "histogram", CHECK_DURATION_HELP);
    for (id, s) in &series {
        escape(id, &mut label);
        let mut total = 0;
        for (i, n) in s.buckets.iter().enumerate() {
            total += n.load(Ordering::Relaxed);
            let le = DURATION_LE.get(i).copied().unwrap_or("+Inf");
            let _ = writeln!(
                out,
                "{CHECK_DURATION}_bucket{{check=\"{label}\",le=\"{le}\"}} {total}"
            );
        }
        let secs = s.nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{CHECK_DURATION}_sum{{check=\"{label}\"}} {secs}");
        let _ = writeln!(out, "{CHECK_DURATION}_count{{check=\"{label}\"}} {total}");
    }
    if !gauges.observers.is_empty() {
        family(out, CHECK_OBSERVERS, "gauge", CHECK_OBSERVERS_HELP);
        for (id, up, down) in &gauges.observers {
            escape(id, &mut label);
            for (status, n) in [("healthy", up), ("unhealthy", down)] {
                let _ = writeln!(
                    out,
                    "{CHECK_OBSERVERS}{{check=\"{label}\",status=\"{status}\"}} {n}"
                );
            }
        }
    }
}

/// A label value as the text format writes it: backslash, quote and newline escaped.
fn escape(value: &str, out: &mut String) {
    out.clear();
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Responses held back by rate limiting: [dropped, slipped], registered at 0.
pub fn rate_limited() -> [Counter; 2] {
    ["dropped", "slipped"].map(|action| counter!(RATE_LIMITED, "action" => action))
}

/// The gossip counters, registered at 0: messages [accepted, rejected], then bytes
/// [sent, received].
pub fn cluster_messages() -> [Counter; 4] {
    let [a, r] =
        ["accepted", "rejected"].map(|result| counter!(CLUSTER_MESSAGES, "result" => result));
    let [s, v] = ["sent", "received"].map(|d| counter!(CLUSTER_BYTES, "direction" => d));
    [a, r, s, v]
}

pub fn reload_done(success: bool) {
    let result = if success { "success" } else { "error" };
    counter!(RELOADS, "result" => result).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scrapes that arrived before a render finished share it; a later one renders anew.
    #[test]
    fn scrapes_waiting_for_a_render_share_it() {
        let exporter = Exporter::install().unwrap();
        let renders = std::cell::Cell::new(0);
        let gauges = || {
            renders.set(renders.get() + 1);
            Gauges::default()
        };
        let together = Instant::now();
        let first = exporter.render_for(together, gauges);
        for _ in 0..7 {
            assert_eq!(exporter.render_for(together, gauges), first);
        }
        assert_eq!(renders.get(), 1);
        exporter.render(gauges);
        assert_eq!(renders.get(), 2);
    }

    /// The per-check families in the text format: cumulative buckets, escaped labels,
    /// and no series of a check that is gone.
    #[test]
    fn check_series_render_as_prometheus_text() {
        let s = check_series("a\"b");
        s.observe(Duration::from_millis(3));
        s.observe(Duration::from_secs(20));
        s.transition(false);
        check_series("gone");
        let gauges = Gauges {
            checks: vec![("a\"b".into(), false)],
            ..Gauges::default()
        };
        let mut out = Vec::new();
        render_checks(&mut out, &gauges);
        let text = String::from_utf8(out).unwrap();
        for line in [
            "# TYPE hadns_health_check_duration_seconds histogram",
            "hadns_health_check_status{check=\"a\\\"b\"} 0",
            "hadns_health_check_transitions_total{check=\"a\\\"b\",to=\"unhealthy\"} 1",
            "hadns_health_check_duration_seconds_bucket{check=\"a\\\"b\",le=\"0.0025\"} 0",
            "hadns_health_check_duration_seconds_bucket{check=\"a\\\"b\",le=\"0.005\"} 1",
            "hadns_health_check_duration_seconds_bucket{check=\"a\\\"b\",le=\"10\"} 1",
            "hadns_health_check_duration_seconds_bucket{check=\"a\\\"b\",le=\"+Inf\"} 2",
            "hadns_health_check_duration_seconds_sum{check=\"a\\\"b\"} 20.003",
            "hadns_health_check_duration_seconds_count{check=\"a\\\"b\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        assert!(!text.contains("gone"), "{text}");
    }
}
