//! What an operator sees: Prometheus metrics (parsed as Prometheus parses them), the
//! explain endpoint, logs as text or JSON, and an HTTP listener that outlives bad clients.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::endpoint::{status, Endpoint};
use common::{query, tcp_connect, tcp_recv, tcp_send, wait_for, zone, Server};
use prometheus_parse::{Sample, Scrape, Value};
use serde_json::Value as Json;

const TOKEN: &str = "ops-token-long-enough";

/// `web.example.` fails over from 192.0.2.1 (check `primary`, probing `port`) to
/// 192.0.2.2; `www` is weighted between two sets, `edge` aliases `web` and then `www`.
fn policies(port: u16) -> String {
    format!(
        r#"
[[health_check]]
id = "primary"
type = "http"
ip = "127.0.0.1"
port = {port}
interval = "100ms"
failure_threshold = 1

[[record]]
name = "web"
type = "A"
ttl = 10
set_id = "p"
failover = "primary"
values = ["192.0.2.1"]
health_check = "primary"

[[record]]
name = "web"
type = "A"
ttl = 10
set_id = "s"
failover = "secondary"
values = ["192.0.2.2"]

[[record]]
name = "www"
type = "A"
ttl = 20
set_id = "heavy"
weight = 200
values = ["192.0.2.10"]

[[record]]
name = "www"
type = "A"
ttl = 20
set_id = "none"
weight = 0
values = ["192.0.2.11"]

[[record]]
name = "edge"
type = "A"
set_id = "to-web"
failover = "primary"
alias = {{ target = "web", evaluate_target_health = true }}

[[record]]
name = "edge"
type = "A"
set_id = "to-www"
failover = "secondary"
alias = {{ target = "www", evaluate_target_health = true }}

[[cidr_location]]
name = "lab"
networks = ["10.1.0.0/16"]

[[record]]
name = "office"
type = "A"
ttl = 30
set_id = "lab"
cidr = {{ location = "lab" }}
values = ["192.0.2.30"]

[[record]]
name = "office"
type = "A"
ttl = 30
set_id = "rest"
cidr = {{ location = "*" }}
values = ["192.0.2.31"]
"#
    )
}

fn ops_server(port: u16) -> Server {
    Server::start_with_files(
        &[
            ("example.zone", &zone("example", "")),
            ("example.toml", &policies(port)),
        ],
        "[http]\ntoken_file = \"token\"\n",
        &[("token", TOKEN.as_bytes())],
    )
}

/// `GET /metrics`, parsed by a Prometheus text-format parser.
fn scrape(s: &Server) -> Vec<Sample> {
    let (code, body) = s.http("GET", "/metrics", None, "");
    assert_eq!(code, 200, "{body}");
    Scrape::parse(body.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("not Prometheus text: {e}\n{body}"))
        .samples
}

/// The value of the one sample of `metric` whose labels include `labels`; None if
/// there is none.
fn value(samples: &[Sample], metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect();
    assert!(found.len() <= 1, "{metric} {labels:?} matches {found:?}");
    found.first().map(|s| match &s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        other => panic!("{metric}: not a single value: {other:?}"),
    })
}

fn queries(samples: &[Sample], zone: &str, qtype: &str, rcode: &str, transport: &str) -> f64 {
    let labels = [
        ("zone", zone),
        ("qtype", qtype),
        ("rcode", rcode),
        ("transport", transport),
    ];
    value(samples, "hadns_queries_total", &labels).unwrap_or(0.0)
}

fn answers(samples: &[Sample], name: &str, set_id: &str) -> f64 {
    let labels = [
        ("zone", "example."),
        ("name", name),
        ("type", "A"),
        ("set_id", set_id),
    ];
    value(samples, "hadns_answers_total", &labels).unwrap_or(0.0)
}

#[test]
fn metrics_count_queries_answers_checks_reloads_and_overrides() {
    let mut ep = Endpoint::http(status(200));
    let s = ops_server(ep.port);
    let samples = scrape(&s);
    // Every metric family is typed as the spec has it, before any traffic.
    let zone_serial = [("zone", "example.")];
    assert_eq!(
        value(&samples, "hadns_zone_serial", &zone_serial),
        Some(1.0)
    );
    assert_eq!(value(&samples, "hadns_overrides_active", &[]), Some(0.0));
    // Counters with a known label set exist from the first scrape, at 0.
    for result in ["success", "error"] {
        let labels = [("result", result)];
        assert_eq!(
            value(&samples, "hadns_zone_reloads_total", &labels),
            Some(0.0),
            "{result}"
        );
    }
    for to in ["healthy", "unhealthy"] {
        let labels = [("check", "primary"), ("to", to)];
        assert_eq!(
            value(&samples, "hadns_health_check_transitions_total", &labels),
            Some(0.0),
            "{to}"
        );
    }
    // Every policy set, before any answer from it.
    for set in ["p", "s"] {
        let labels = [("name", "web.example."), ("set_id", set)];
        assert_eq!(
            value(&samples, "hadns_answers_total", &labels),
            Some(0.0),
            "{set}"
        );
    }
    let primary = [("check", "primary")];
    assert_eq!(
        value(&samples, "hadns_health_check_status", &primary),
        Some(1.0)
    );
    let kind = |metric: &str| {
        let v = &samples
            .iter()
            .find(|x| x.metric == metric)
            .expect(metric)
            .value;
        std::mem::discriminant(v)
    };
    let (counter, gauge) = (Value::Counter(0.0), Value::Gauge(0.0));
    assert_eq!(
        kind("hadns_answers_total"),
        std::mem::discriminant(&counter)
    );
    assert_eq!(kind("hadns_zone_serial"), std::mem::discriminant(&gauge));

    // Queries of every kind, each counted once under bounded labels.
    for _ in 0..3 {
        assert_eq!(s.a("web.example"), ["192.0.2.1"]);
    }
    assert_eq!(s.dig("nope.example A").status, "NXDOMAIN");
    assert_eq!(s.dig("www.elsewhere.test A").status, "REFUSED");
    assert_eq!(s.dig("web.example TYPE4321").status, "NOERROR");
    assert_eq!(s.dig("+tcp web.example A").status, "NOERROR");
    // A query with a broken question: FORMERR, zone unknown.
    let mut broken = query(7, "web.example", 1, false);
    broken.truncate(broken.len() - 3);
    let reply = s.udp(&broken).expect("FORMERR comes back");
    assert_eq!(reply[3] & 0xf, 1);
    // A response sent to us: dropped, yet counted.
    let mut response = query(8, "web.example", 1, false);
    response[2] |= 0x80;
    assert_eq!(s.udp(&response), None);
    let mut stream = tcp_connect(s.addr());
    tcp_send(&mut stream, &query(9, "www.example", 1, false));
    assert!(tcp_recv(&mut stream).is_some());

    let samples = scrape(&s);
    assert_eq!(queries(&samples, "example.", "A", "NOERROR", "udp"), 3.0);
    assert_eq!(queries(&samples, "example.", "A", "NOERROR", "tcp"), 2.0);
    assert_eq!(queries(&samples, "example.", "A", "NXDOMAIN", "udp"), 1.0);
    assert_eq!(queries(&samples, "other", "A", "REFUSED", "udp"), 1.0);
    assert_eq!(
        queries(&samples, "example.", "other", "NOERROR", "udp"),
        1.0
    );
    assert_eq!(queries(&samples, "other", "other", "FORMERR", "udp"), 1.0);
    assert_eq!(queries(&samples, "other", "other", "DROPPED", "udp"), 1.0);
    assert_eq!(answers(&samples, "web.example.", "p"), 4.0);
    assert_eq!(answers(&samples, "web.example.", "s"), 0.0);
    assert_eq!(answers(&samples, "www.example.", "heavy"), 1.0);
    // The ids a TYPE4321 query brings cannot grow the label set (SOA: the readiness probe).
    let qtypes: std::collections::HashSet<_> = samples
        .iter()
        .filter(|x| x.metric == "hadns_queries_total")
        .map(|x| x.labels.get("qtype").unwrap().to_owned())
        .collect();
    assert!(
        qtypes
            .iter()
            .all(|q| ["A", "SOA", "other"].contains(&q.as_str())),
        "{qtypes:?}"
    );

    // The probe histogram: cumulative buckets ending at +Inf = count.
    let h = samples
        .iter()
        .find(|x| {
            x.metric == "hadns_health_check_duration_seconds"
                && x.labels.get("check") == Some("primary")
        })
        .expect("a histogram for the check");
    let Value::Histogram(buckets) = &h.value else {
        panic!("not a histogram: {h:?}");
    };
    assert!(
        buckets.windows(2).all(|w| w[0].count <= w[1].count),
        "{buckets:?}"
    );
    let count = value(
        &samples,
        "hadns_health_check_duration_seconds_count",
        &primary,
    )
    .unwrap();
    assert!(count >= 1.0);
    assert_eq!(
        buckets.last().map(|b| (b.less_than, b.count)),
        Some((f64::INFINITY, count))
    );

    // A failover: status gauge, one transition, the secondary's answers.
    ep.stop();
    wait_for("failover", || s.a("web.example") == ["192.0.2.2"]);
    let samples = scrape(&s);
    assert_eq!(
        value(&samples, "hadns_health_check_status", &primary),
        Some(0.0)
    );
    let to_unhealthy = [("check", "primary"), ("to", "unhealthy")];
    assert_eq!(
        value(
            &samples,
            "hadns_health_check_transitions_total",
            &to_unhealthy
        ),
        Some(1.0)
    );
    // No transition back yet: exported all the same, at 0.
    assert_eq!(
        value(
            &samples,
            "hadns_health_check_transitions_total",
            &[("check", "primary"), ("to", "healthy")]
        ),
        Some(0.0)
    );
    assert!(answers(&samples, "web.example.", "s") >= 1.0);

    // An override: counted while it lasts, and the status it forces.
    let body = r#"{"status":"healthy","ttl":"5m","reason":"maintenance"}"#;
    let path = "/api/v1/health-checks/primary/override";
    assert_eq!(s.http("PUT", path, Some(TOKEN), body).0, 200);
    let samples = scrape(&s);
    assert_eq!(value(&samples, "hadns_overrides_active", &[]), Some(1.0));
    assert_eq!(
        value(&samples, "hadns_health_check_status", &primary),
        Some(1.0)
    );
    assert_eq!(s.http("DELETE", path, Some(TOKEN), "").0, 200);
    assert_eq!(value(&scrape(&s), "hadns_overrides_active", &[]), Some(0.0));

    // Reloads by result; the serial follows the zone; a check removed leaves the output.
    let reload = || s.http("POST", "/api/v1/reload", Some(TOKEN), "").0;
    std::fs::write(s.zone_path("example.toml"), "[[record]]\nbroken").unwrap();
    assert_eq!(reload(), 422);
    let samples = scrape(&s);
    assert_eq!(
        value(&samples, "hadns_zone_reloads_total", &[("result", "error")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            "hadns_zone_reloads_total",
            &[("result", "success")]
        ),
        Some(0.0)
    );
    std::fs::write(s.zone_path("example.toml"), "").unwrap();
    let newer = zone("example", "").replace("( 1 ", "( 2026112201 ");
    std::fs::write(s.zone_path("example.zone"), newer).unwrap();
    assert_eq!(reload(), 200);
    let samples = scrape(&s);
    assert_eq!(
        value(
            &samples,
            "hadns_zone_reloads_total",
            &[("result", "success")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "hadns_zone_serial", &zone_serial),
        Some(2026112201.0)
    );
    assert_eq!(value(&samples, "hadns_health_check_status", &primary), None);
    // Counters carry on across the reload.
    assert_eq!(queries(&samples, "example.", "A", "NXDOMAIN", "udp"), 1.0);
}

fn explain(s: &Server, query: &str) -> Json {
    let (code, body) = s.http("GET", &format!("/api/v1/explain?{query}"), None, "");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// (set_id, healthy, picked) of each candidate of a path step.
fn candidates(step: &Json) -> Vec<(String, bool, bool)> {
    step["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["set_id"].as_str().unwrap().to_owned(),
                c["healthy"].as_bool().unwrap(),
                c["picked"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn c(id: &str, healthy: bool, picked: bool) -> (String, bool, bool) {
    (id.to_owned(), healthy, picked)
}

#[test]
fn explain_shows_the_answer_the_groups_visited_and_the_rule() {
    let mut ep = Endpoint::http(status(200));
    let s = ops_server(ep.port);

    let e = explain(&s, "name=web.example&type=A&client=192.0.2.7");
    assert_eq!(e["rcode"], "NOERROR");
    assert_eq!(e["zone"], "example.");
    assert_eq!(e["query"]["client"], "192.0.2.7/32");
    assert_eq!(
        e["answer"],
        serde_json::json!(["web.example. 10 IN A 192.0.2.1"])
    );
    let step = &e["path"][0];
    assert_eq!(step["policy"], "failover");
    assert_eq!(candidates(step), [c("p", true, true), c("s", true, false)]);
    assert_eq!(step["candidates"][0]["health_check"], "primary");
    assert_eq!(step["rule"], "the primary is healthy");
    assert_eq!(step["last_resort"], false);

    // The alias tree: edge → web (failover), each group a step.
    let e = explain(&s, "name=EDGE.example.&type=a");
    let path = e["path"].as_array().unwrap();
    assert_eq!(path.len(), 2, "{e:#}");
    assert_eq!(path[0]["name"], "edge.example.");
    assert_eq!(path[0]["candidates"][0]["alias"], "web.example.");
    assert_eq!(path[1]["name"], "web.example.");
    assert_eq!(
        e["answer"],
        serde_json::json!(["EDGE.example. 10 IN A 192.0.2.1"])
    );

    // Primary down: web answers from the secondary; edge still goes through web,
    // which has a healthy set.
    ep.stop();
    wait_for("failover", || s.a("web.example") == ["192.0.2.2"]);
    let e = explain(&s, "name=web.example");
    assert_eq!(
        candidates(&e["path"][0]),
        [c("p", false, false), c("s", true, true)]
    );
    assert_eq!(
        e["path"][0]["rule"],
        "the primary is unhealthy and the secondary healthy"
    );
    // What explain says is what dig gets.
    let dig = s.a("web.example");
    let said: Vec<String> = e["answer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().rsplit(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(said, dig);

    // Weighted: the healthy set with weight above 0; the zero-weight one is not drawn.
    let e = explain(&s, "name=www.example");
    assert_eq!(e["path"][0]["policy"], "weighted");
    assert_eq!(e["path"][0]["candidates"][0]["routing"], "weight 200");
    assert_eq!(
        candidates(&e["path"][0]),
        [c("heavy", true, true), c("none", true, false)]
    );
    assert_eq!(
        e["path"][0]["rule"],
        "a weighted draw among the healthy sets"
    );

    // IP-based, by the client's prefix as if sent in ECS: its location, ranked first,
    // and the scope of the network that decided.
    let e = explain(&s, "name=office.example&client=10.1.2.0/24");
    assert_eq!(e["query"]["client"], "10.1.2.0/24");
    assert_eq!(e["ecs_scope"], 16);
    assert_eq!(
        e["answer"],
        serde_json::json!(["office.example. 30 IN A 192.0.2.30"])
    );
    assert_eq!(
        candidates(&e["path"][0]),
        [c("lab", true, true), c("rest", true, false)]
    );
    assert_eq!(e["path"][0]["candidates"][0]["rank"], 0.0);
    let e = explain(&s, "name=office.example&client=2001:db8::/48");
    assert_eq!(candidates(&e["path"][0]), [c("rest", true, true)]);

    // The last resort, named as such.
    let all_down = policies(ep.port).replace(
        "values = [\"192.0.2.2\"]",
        "values = [\"192.0.2.2\"]\nhealth_check = \"primary\"",
    );
    std::fs::write(s.zone_path("example.toml"), all_down).unwrap();
    assert_eq!(s.http("POST", "/api/v1/reload", Some(TOKEN), "").0, 200);
    let e = explain(&s, "name=web.example");
    assert_eq!(
        candidates(&e["path"][0]),
        [c("p", false, true), c("s", false, false)]
    );
    assert_eq!(e["path"][0]["last_resort"], true);
    assert_eq!(
        e["answer"],
        serde_json::json!(["web.example. 10 IN A 192.0.2.1"])
    );

    // Plain data has no path; names outside the zones are refused.
    let e = explain(&s, "name=ns1.example");
    assert_eq!(e["path"], serde_json::json!([]));
    assert_eq!(
        e["answer"],
        serde_json::json!(["ns1.example. 300 IN A 192.0.2.1"])
    );
    let e = explain(&s, "name=nope.example");
    assert_eq!(e["rcode"], "NXDOMAIN");
    assert!(e["authority"][0].as_str().unwrap().contains(" IN SOA "));
    assert_eq!(explain(&s, "name=a.elsewhere.test")["rcode"], "REFUSED");

    // Bad requests say what is wrong.
    for (q, says) in [
        ("", "give a name"),
        ("name=web.example&type=NOPE", "not a record type"),
        (
            "name=web.example&client=10.1.2.300",
            "give an address or a prefix",
        ),
        ("name=web..example", "name \"web..example\""),
        (
            "name=web.example&clinet=10.0.0.1",
            "unknown parameter \"clinet\"",
        ),
        // The server refuses or transfers these; a lookup would say NODATA.
        ("name=example&type=AXFR", "not a question explain answers"),
        ("name=example&type=IXFR", "IXFR"),
    ] {
        let (code, body) = s.http("GET", &format!("/api/v1/explain?{q}"), None, "");
        assert_eq!(code, 400, "{q}: {body}");
        let msg: Json = serde_json::from_str(&body).unwrap();
        assert!(msg["error"].as_str().unwrap().contains(says), "{q}: {body}");
    }
    assert_eq!(s.http("POST", "/api/v1/explain?name=x", None, "").0, 405);
}

fn json_lines(log: &str) -> Vec<Json> {
    log.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn logs_are_json_when_asked_and_queries_are_logged_only_when_asked() {
    let mut ep = Endpoint::http(status(200));
    let files = [
        ("example.zone", zone("example", "")),
        ("example.toml", policies(ep.port)),
    ];
    let zones: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let s = Server::start_with_args(&zones, "", &[], &["--log-format", "json"], &[]);
    assert_eq!(s.a("web.example"), ["192.0.2.1"]);
    ep.stop();
    wait_for("failover", || s.a("web.example") == ["192.0.2.2"]);
    wait_for("the transition to be logged", || {
        s.log().contains("health check status changed")
    });
    let lines = json_lines(&s.log());
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert!(messages.contains(&"serving"), "{messages:?}");
    // The transition, once, with its reason; and no line per query.
    let changes: Vec<&Json> = lines
        .iter()
        .filter(|l| l["message"] == "health check status changed")
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["check"], "primary");
    assert_eq!(changes[0]["to"], "unhealthy");
    assert_eq!(changes[0]["reason"], "connection refused");
    assert_eq!(changes[0]["level"], "INFO");
    assert!(!messages.contains(&"query"));
    drop(s);

    // --log-queries: a line per query, with what was asked and what it got.
    let s = Server::start_with_args(
        &zones,
        "",
        &[],
        &["--log-format", "json", "--log-queries"],
        &[],
    );
    assert_eq!(s.dig("nope.example AAAA").status, "NXDOMAIN");
    wait_for("the query line", || s.log().contains("nope.example."));
    let line = json_lines(&s.log())
        .into_iter()
        .find(|l| l["message"] == "query" && l["qname"] == "nope.example.")
        .unwrap();
    assert_eq!(line["qtype"], "AAAA");
    assert_eq!(line["rcode"], "NXDOMAIN");
    assert_eq!(line["zone"], "example.");
    assert_eq!(line["transport"], "udp");
    assert_eq!(line["client"], "127.0.0.1");
    drop(s);

    // RUST_LOG sets the level: at warn, the info lines are gone; text is the default.
    let s = Server::start_with_args(&zones, "", &[], &[], &[("RUST_LOG", "warn")]);
    assert_eq!(s.a("web.example"), ["192.0.2.2"]);
    std::fs::write(s.zone_path("example.toml"), "[[record]]\nbroken").unwrap();
    s.sighup();
    wait_for("the rejected reload", || {
        s.log().contains("reload rejected")
    });
    let log = s.log();
    assert!(!log.contains("serving"), "{log}");
    assert!(log.contains(" WARN ") || log.contains("ERROR"), "{log}");
    assert!(log.lines().all(|l| !l.starts_with('{')), "{log}");
}

/// Sends `bytes` on a new connection and returns what comes back before the server
/// closes it (or the read times out).
fn raw_exchange(port: u16, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let _ = s.write_all(bytes);
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).into_owned()
}

#[test]
fn the_listener_survives_slow_and_garbage_clients() {
    let ep = Endpoint::http(status(200));
    let s = ops_server(ep.port);
    // Slow clients holding connections with half a request.
    let slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut c = TcpStream::connect(("127.0.0.1", s.http_port)).unwrap();
            c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            c
        })
        .collect();
    // Garbage, binary, a request line without end, a huge header, a bad length.
    let garbage: [&[u8]; 5] = [
        b"\x00\x01\x02\xff\xfe garbage\r\n\r\n",
        b"HELLO WORLD\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        &[b'A'; 200_000],
        b"GET /api/v1/explain?name=%ZZ%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ];
    for g in garbage {
        let reply = raw_exchange(s.http_port, g);
        // Either a 4xx or a closed connection: never a 200, never a hang.
        assert!(
            reply.is_empty() || reply.starts_with("HTTP/1.1 4"),
            "{:?}",
            &reply[..reply.len().min(200)]
        );
    }
    // Unknown paths, wrong methods, writes without the token.
    assert_eq!(s.http("GET", "/nope", None, "").0, 404);
    assert_eq!(s.http("DELETE", "/metrics", None, "").0, 405);
    assert_eq!(s.http("POST", "/api/v1/reload", None, "").0, 403);
    assert_eq!(s.http("POST", "/api/v1/reload", Some("wrong"), "").0, 403);
    let path = "/api/v1/health-checks/primary/override";
    let (code, body) = s.http("PUT", path, Some(TOKEN), "{not json");
    assert_eq!(code, 400, "{body}");
    // The listener still serves every read endpoint, and DNS still answers.
    let mut codes = HashMap::new();
    for path in [
        "/metrics",
        "/healthz",
        "/api/v1/health-checks",
        "/api/v1/explain?name=web.example",
    ] {
        codes.insert(path, s.http("GET", path, None, "").0);
    }
    assert!(codes.values().all(|&c| c == 200), "{codes:?}");
    assert_eq!(s.a("web.example"), ["192.0.2.1"]);
    drop(slow);
}

/// A request's status line, sent with this `Host` header (and token, if any).
fn status_with_host(port: u16, path: &str, host: &str, token: Option<&str>) -> String {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let reply = raw_exchange(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n")
            .as_bytes(),
    );
    reply.lines().next().unwrap_or("").to_string()
}

/// DNS rebinding: a web page whose name was made to point at the API sends its own name
/// as `Host`. Only addresses, localhost and the names configured are answered.
#[test]
fn the_api_answers_only_its_own_names_and_can_need_the_token_for_reads() {
    let s = Server::start_with_files(
        &[("example.zone", &zone("example", ""))],
        "[http]\ntoken_file = \"token\"\nhosts = [\"dns-admin.example.net\"]\n",
        &[("token", TOKEN.as_bytes())],
    );
    let port = s.http_port;
    for host in [
        "127.0.0.1",
        &format!("127.0.0.1:{port}"),
        &format!("[::1]:{port}"),
        "localhost",
        "DNS-Admin.example.net:9153",
    ] {
        let line = status_with_host(port, "/api/v1/health-checks", host, None);
        assert!(line.contains(" 200 "), "Host {host}: {line}");
    }
    let line = status_with_host(port, "/api/v1/health-checks", "attacker.example:9153", None);
    assert!(line.contains(" 421 "), "{line}");
    let line = status_with_host(port, "/metrics", "rebind.attacker.example", None);
    assert!(line.contains(" 421 "), "{line}");

    // Reads behind the token, /healthz still open.
    let s = Server::start_with_files(
        &[("example.zone", &zone("example", ""))],
        "[http]\ntoken_file = \"token\"\ntoken_for_reads = true\n",
        &[("token", TOKEN.as_bytes())],
    );
    for path in [
        "/metrics",
        "/api/v1/health-checks",
        "/api/v1/explain?name=example&type=SOA",
    ] {
        assert_eq!(s.http("GET", path, None, "").0, 403, "{path}");
        assert_eq!(s.http("GET", path, Some(TOKEN), "").0, 200, "{path}");
    }
    assert_eq!(s.http("GET", "/healthz", None, "").0, 200);
    // Without a token file the option cannot be on.
    let dir = common::config_dir(
        &[("example.zone", &zone("example", ""))],
        "[http]\ntoken_for_reads = true\n",
    );
    common::assert_check_error(
        &dir.path().join("hadns.toml"),
        "hadns.toml",
        5,
        "needs a token_file",
    );
}

/// `hadns status` and `hadns explain`, on the box, read the running server's API.
#[test]
fn status_and_explain_on_the_command_line() {
    let ep = Endpoint::http(status(200));
    let s = ops_server(ep.port);
    wait_for("the check healthy", || s.status_of("primary") == "healthy");
    let run = |args: &[&str]| common::hadns_ok(&s.config_path(), args);
    let shown = run(&["status"]);
    assert!(shown.contains(": ready"), "{shown}");
    let line = shown
        .lines()
        .find(|l| l.starts_with("primary "))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(
        line.contains("healthy") && line.contains("HTTP 200"),
        "{line}"
    );

    let body = r#"{"status":"unhealthy","ttl":"5m","reason":"maintenance"}"#;
    let path = "/api/v1/health-checks/primary/override";
    assert_eq!(s.http("PUT", path, Some(TOKEN), body).0, 200);
    let shown = run(&["status"]);
    assert!(
        shown.contains("forced unhealthy until") && shown.contains("maintenance"),
        "{shown}"
    );

    let explained = run(&["explain", "web.example", "A", "--client", "192.0.2.99"]);
    assert!(
        explained.contains("web.example. A for 192.0.2.99/32: NOERROR"),
        "{explained}"
    );
    assert!(
        explained.contains("answer     web.example. ") && explained.contains("192.0.2.2"),
        "{explained}"
    );
    assert!(
        explained.contains("failover policy") && explained.contains("rule: "),
        "{explained}"
    );
    assert!(
        explained.contains("check primary: unhealthy (forced: maintenance)"),
        "{explained}"
    );
    // A server that is not running is a clear error.
    drop(s);
}
