//! The health-check engine against real endpoints that the tests start and stop on
//! loopback: statuses, thresholds, string match, TLS, calculated/inverted/disabled, warm
//! start, overrides, slow endpoints, and failover seen through `dig`.

mod common;

use common::endpoint::{status, Behaviour, Endpoint};
use common::{wait_for, zone, Server};

const TOKEN: &str = "s3cret-token-for-health";

/// `web.example.` fails over from 192.0.2.1 (guarded by check `primary`) to 192.0.2.2;
/// `checks` declares `primary` and any others.
fn failover_server(checks: &str, extra: &str) -> Server {
    let policy = format!(
        "{checks}\n\
         [[record]]\nname = \"web\"\ntype = \"A\"\nttl = 10\nset_id = \"p\"\nfailover = \"primary\"\nvalues = [\"192.0.2.1\"]\nhealth_check = \"primary\"\n\
         [[record]]\nname = \"web\"\ntype = \"A\"\nttl = 10\nset_id = \"s\"\nfailover = \"secondary\"\nvalues = [\"192.0.2.2\"]\n"
    );
    let zone_text = zone("example", "");
    Server::start_with_files(
        &[("example.zone", &zone_text), ("example.toml", &policy)],
        extra,
        &[("token", TOKEN.as_bytes())],
    )
}

/// An endpoint check probed every 100 ms; `more` adds fields.
fn check(id: &str, kind: &str, port: u16, more: &str) -> String {
    format!(
        "[[health_check]]\nid = \"{id}\"\ntype = \"{kind}\"\nip = \"127.0.0.1\"\nport = {port}\ninterval = \"100ms\"\n{more}\n"
    )
}

fn primary(s: &Server) -> bool {
    s.a("web.example") == ["192.0.2.1"]
}

/// Sets the endpoint to answer `code` and waits until it has, twice.
fn settle(ep: &Endpoint, code: u16) {
    ep.set(status(code));
    let from = ep.hits();
    wait_for("two probes", || ep.hits() >= from + 2);
}

fn wait_status(s: &Server, id: &str, want: &str) {
    wait_for(&format!("check {id} to be {want}"), || {
        s.status_of(id) == want
    });
}

#[test]
fn http_status_200_to_399_is_healthy_and_400_is_not() {
    let ep = Endpoint::http(status(200));
    let s = failover_server(
        &check(
            "primary",
            "http",
            ep.port,
            "path = \"/health\"\nfailure_threshold = 1",
        ),
        "",
    );
    assert!(primary(&s));
    ep.set(status(399));
    wait_for("a probe answered 399", || {
        s.check_status("primary")["last_result"]["reason"] == "HTTP 399"
    });
    assert_eq!(s.status_of("primary"), "healthy");
    assert!(primary(&s));
    ep.set(status(400));
    wait_status(&s, "primary", "unhealthy");
    assert_eq!(
        s.check_status("primary")["last_result"]["reason"],
        "HTTP 400"
    );
    wait_for("dig to see the secondary", || {
        s.a("web.example") == ["192.0.2.2"]
    });
    assert!(ep.last_request().starts_with("GET /health HTTP/1.1\r\n"));
}

#[test]
fn end_to_end_failover_and_back() {
    let mut ep = Endpoint::http(status(200));
    let s = failover_server(
        &check("primary", "http", ep.port, "failure_threshold = 2"),
        "",
    );
    assert!(primary(&s));
    ep.stop();
    wait_for("dig to see the secondary", || {
        s.a("web.example") == ["192.0.2.2"]
    });
    let c = s.check_status("primary");
    assert_eq!(c["last_result"]["reason"], "connection refused", "{c}");
    ep.start();
    wait_for("dig to see the primary again", || primary(&s));
    // Each change is logged with the check, both statuses and the reason.
    let log = s.log();
    assert!(
        log.lines()
            .any(|l| l.contains("health check status changed")
                && l.contains("check=\"primary\"")
                && l.contains("from=\"healthy\"")
                && l.contains("to=\"unhealthy\"")
                && l.contains("connection refused")),
        "{log}"
    );
    assert!(log
        .lines()
        .any(|l| l.contains("health check status changed")
            && l.contains("from=\"unhealthy\"")
            && l.contains("to=\"healthy\"")
            && l.contains("HTTP 200")));
}

#[test]
fn tcp_checks_connect() {
    let mut ep = Endpoint::http(status(200));
    let s = failover_server(
        &check("primary", "tcp", ep.port, "failure_threshold = 1"),
        "",
    );
    assert_eq!(s.status_of("primary"), "healthy");
    assert_eq!(
        s.check_status("primary")["last_result"]["reason"],
        "connected"
    );
    ep.stop();
    wait_status(&s, "primary", "unhealthy");
    assert!(!primary(&s));
}

#[test]
fn search_string_must_lie_in_the_first_5120_bytes() {
    let body = |at: usize, text: &str| {
        let mut b = vec![b'.'; at];
        b.extend_from_slice(text.as_bytes());
        b.extend_from_slice(&[b'.'; 100]);
        b
    };
    let respond = |body: Vec<u8>, gzip: bool| Behaviour::Respond {
        status: 200,
        body,
        gzip,
    };
    let inside = Endpoint::http(respond(body(5118, "OK"), false)); // ends at byte 5120
    let straddling = Endpoint::http(respond(body(5119, "OK"), false));
    let past = Endpoint::http(respond(body(6000, "OK"), false));
    let wrong_case = Endpoint::http(respond(body(10, "ok"), false));
    let gzipped = Endpoint::http(respond(body(4000, "OK"), true));
    let endless = Endpoint::http(Behaviour::Endless);
    let search = "search_string = \"OK\"\nfailure_threshold = 1";
    let checks = [
        check("primary", "http", inside.port, search),
        check("straddling", "http", straddling.port, search),
        check("past", "http", past.port, search),
        check("wrong-case", "http", wrong_case.port, search),
        check("gzipped", "http", gzipped.port, search),
        check("endless", "http", endless.port, search),
    ]
    .concat();
    let s = failover_server(&checks, "");
    assert_eq!(s.status_of("primary"), "healthy");
    assert_eq!(s.status_of("gzipped"), "healthy");
    for id in ["straddling", "past", "wrong-case", "endless"] {
        assert_eq!(s.status_of(id), "unhealthy", "{id}");
        let reason = s.check_status(id)["last_result"]["reason"].clone();
        // The endless body is read only as far as the window, not until a timeout.
        assert_eq!(
            reason, "HTTP 200, search string not in the first 5120 bytes",
            "{id}"
        );
    }
}

#[test]
fn https_accepts_any_certificate_unless_told_to_verify() {
    let ep = Endpoint::https(status(200), "www.example.test");
    let checks = [
        check(
            "primary",
            "https",
            ep.port,
            "host = \"www.example.test\"\npath = \"/tls\"\nfailure_threshold = 1",
        ),
        check(
            "verified",
            "https",
            ep.port,
            "host = \"www.example.test\"\nverify_tls = true\nfailure_threshold = 1",
        ),
    ]
    .concat();
    let s = failover_server(&checks, "");
    assert_eq!(s.status_of("primary"), "healthy");
    assert!(primary(&s));
    let verified = s.check_status("verified");
    assert_eq!(verified["status"], "unhealthy", "{verified}");
    let reason = verified["last_result"]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("certificate") || reason.contains("TLS"),
        "{reason}"
    );
    // Host carries the name and the port (not the default 443), like Route 53.
    let req = ep.last_request();
    assert!(
        req.to_ascii_lowercase()
            .contains(&format!("host: www.example.test:{}\r\n", ep.port)),
        "{req}"
    );
}

#[test]
fn thresholds_count_consecutive_results_both_ways() {
    let ep = Endpoint::http(status(200));
    let s = failover_server(
        &check("primary", "http", ep.port, "failure_threshold = 3"),
        "",
    );
    // Two failures in three, over and over: never three in a row, so never unhealthy.
    ep.set(Behaviour::Cycle(vec![500, 500, 200]));
    let from = ep.hits();
    wait_for("30 probes of the cycle", || ep.hits() >= from + 30);
    assert_eq!(s.status_of("primary"), "healthy");
    // Three in a row flip it, and not fewer (after a success, so no failure of the cycle
    // counts).
    settle(&ep, 200);
    ep.set(status(500));
    let from = ep.hits();
    wait_status(&s, "primary", "unhealthy");
    assert!(
        ep.hits() - from >= 3,
        "flipped after {} failures",
        ep.hits() - from
    );
    // Back: two successes in three never recover it; three in a row do.
    ep.set(Behaviour::Cycle(vec![200, 200, 500]));
    let from = ep.hits();
    wait_for("30 probes of the cycle", || ep.hits() >= from + 30);
    assert_eq!(s.status_of("primary"), "unhealthy");
    settle(&ep, 500);
    ep.set(status(200));
    let from = ep.hits();
    wait_status(&s, "primary", "healthy");
    assert!(
        ep.hits() - from >= 3,
        "recovered after {} successes",
        ep.hits() - from
    );
}

#[test]
fn calculated_inverted_and_disabled() {
    let up = Endpoint::http(status(200));
    let mut down = Endpoint::http(status(200));
    down.stop();
    let t = "failure_threshold = 1";
    let checks = [
        check("up", "http", up.port, t),
        check("down", "http", down.port, t),
        check("down-inverted", "http", down.port, &format!("{t}\ninverted = true")),
        check("down-disabled", "http", down.port, &format!("{t}\ndisabled = true")),
        check(
            "down-disabled-inverted",
            "http",
            down.port,
            &format!("{t}\ndisabled = true\ninverted = true"),
        ),
        "[[health_check]]\nid = \"primary\"\ntype = \"calculated\"\nchildren = [\"up\", \"down\", \"down-disabled\"]\nthreshold = 2\n".into(),
        "[[health_check]]\nid = \"all\"\ntype = \"calculated\"\nchildren = [\"up\", \"down\", \"down-disabled\"]\nthreshold = 3\n".into(),
        "[[health_check]]\nid = \"none-of-them\"\ntype = \"calculated\"\nchildren = [\"up\", \"down-disabled-inverted\"]\nthreshold = 2\ninverted = true\n".into(),
    ]
    .concat();
    let s = failover_server(&checks, "");
    let want = [
        ("up", "healthy"),
        ("down", "unhealthy"),
        ("down-inverted", "healthy"),
        ("down-disabled", "healthy"),
        ("down-disabled-inverted", "unhealthy"),
        ("primary", "healthy"), // up + disabled child = 2 of 3
        ("all", "unhealthy"),
        ("none-of-them", "healthy"), // 1 of 2 < 2, inverted
    ];
    for (id, status) in want {
        assert_eq!(s.status_of(id), status, "{id}");
    }
    assert!(primary(&s));
    // The calculated check follows its children.
    down.start();
    wait_status(&s, "all", "healthy");
    wait_status(&s, "down-inverted", "unhealthy");
    assert_eq!(s.status_of("down-disabled-inverted"), "unhealthy");
}

#[test]
fn first_round_before_answers_and_warm_start_from_the_state_file() {
    let mut ep = Endpoint::http(status(200));
    ep.stop();
    // Slow checks: only the first round or the state file can have set the status.
    let slow = "interval = \"1h\"\nfailure_threshold = 3";
    let checks = format!(
        "[[health_check]]\nid = \"primary\"\ntype = \"http\"\nip = \"127.0.0.1\"\nport = {}\n{slow}\n",
        ep.port
    );
    let mut s = failover_server(&checks, "");
    // The very first answer already knows the primary is down: no flap at start.
    assert_eq!(s.a("web.example"), ["192.0.2.2"]);
    let state = s.dir.path().join("state/health.json");
    wait_for("the state file", || {
        std::fs::read_to_string(&state).is_ok_and(|t| t.contains("\"healthy\": false"))
    });
    // Restart with the endpoint up: the saved status holds (no probe within the hour
    // could have changed it, and three would be needed).
    ep.start();
    s.restart();
    assert_eq!(s.a("web.example"), ["192.0.2.2"]);
    assert_eq!(s.status_of("primary"), "unhealthy");
    // Without the state file, the first round decides before anything is answered.
    std::fs::remove_file(&state).unwrap();
    s.restart();
    assert_eq!(s.a("web.example"), ["192.0.2.1"]);
}

#[test]
fn reload_keeps_the_state_of_unchanged_checks() {
    let mut ep = Endpoint::http(status(200));
    ep.stop();
    let slow = "interval = \"1h\"\nfailure_threshold = 3";
    let checks = |port: u16| {
        format!("[[health_check]]\nid = \"primary\"\ntype = \"http\"\nip = \"127.0.0.1\"\nport = {port}\n{slow}\n")
    };
    let s = failover_server(&checks(ep.port), "");
    let since = s.check_status("primary")["since"].clone();
    ep.start();
    // An unrelated change: the check keeps its (down) state.
    let zone_path = s.zone_path("example.zone");
    let text = std::fs::read_to_string(&zone_path).unwrap();
    std::fs::write(&zone_path, format!("{text}other A 192.0.2.99\n")).unwrap();
    s.sighup();
    wait_for("the reload", || s.a("other.example") == ["192.0.2.99"]);
    assert_eq!(s.status_of("primary"), "unhealthy");
    assert_eq!(s.check_status("primary")["since"], since);
    // A changed definition is a new check: it gets its own first round.
    let policy_path = s.zone_path("example.toml");
    let policy = std::fs::read_to_string(&policy_path).unwrap();
    std::fs::write(
        &policy_path,
        policy.replace("interval = \"1h\"", "interval = \"2h\""),
    )
    .unwrap();
    s.sighup();
    wait_status(&s, "primary", "healthy");
    assert!(primary(&s));
}

#[test]
fn overrides_need_the_token_expire_and_survive_restarts() {
    let ep = Endpoint::http(status(200));
    let checks = check("primary", "http", ep.port, "failure_threshold = 1");
    let mut s = failover_server(&checks, "[http]\ntoken_file = \"token\"\n");
    let path = "/api/v1/health-checks/primary/override";
    let body = r#"{"status":"unhealthy","ttl":"2s","reason":"maintenance window"}"#;
    assert_eq!(s.http("PUT", path, None, body).0, 403);
    assert_eq!(s.http("PUT", path, Some("wrong"), body).0, 403);
    assert_eq!(s.http("DELETE", path, None, "").0, 403);
    assert!(primary(&s));
    let (code, reply) = s.http("PUT", path, Some(TOKEN), body);
    assert_eq!(code, 200, "{reply}");
    assert!(!primary(&s), "the override reaches the answers at once");
    let c = s.check_status("primary");
    assert_eq!(c["status"], "unhealthy");
    assert_eq!(c["real_status"], "healthy");
    assert_eq!(c["forced"]["status"], "unhealthy");
    assert_eq!(c["forced"]["reason"], "maintenance window");
    // It ends by itself.
    wait_for("the override to expire", || primary(&s));
    assert!(s.check_status("primary")["forced"].is_null());
    assert!(s.log().contains("override expired"));

    // A long one survives a restart, through the overrides file; DELETE ends it.
    let long = r#"{"status":"unhealthy","ttl":"1h","reason":"decommissioning"}"#;
    assert_eq!(s.http("PUT", path, Some(TOKEN), long).0, 200);
    s.restart();
    assert!(!primary(&s));
    assert_eq!(
        s.check_status("primary")["forced"]["reason"],
        "decommissioning"
    );
    let (code, reply) = s.http("DELETE", path, Some(TOKEN), "");
    assert_eq!(
        (code, reply.contains("\"cleared\": true")),
        (200, true),
        "{reply}"
    );
    assert!(primary(&s));

    // The file itself is an interface: an edit takes effect.
    let file = s.dir.path().join("state/overrides.json");
    std::fs::write(
        &file,
        r#"{"primary": {"status": "unhealthy", "reason": "edited by hand", "expires": "2100-01-01T00:00:00Z"}}"#,
    )
    .unwrap();
    wait_for("the hand-written override", || !primary(&s));
    // Bad requests are refused with a reason.
    let (code, reply) = s.http(
        "PUT",
        path,
        Some(TOKEN),
        r#"{"status":"down","ttl":"1m","reason":"x"}"#,
    );
    assert_eq!(code, 400, "{reply}");
    let (code, _) = s.http(
        "PUT",
        "/api/v1/health-checks/nope/override",
        Some(TOKEN),
        long,
    );
    assert_eq!(code, 404);
}

#[test]
fn without_a_token_file_writes_are_forbidden() {
    let ep = Endpoint::http(status(200));
    let s = failover_server(&check("primary", "http", ep.port, ""), "");
    let body = r#"{"status":"unhealthy","ttl":"1m","reason":"x"}"#;
    let (code, reply) = s.http(
        "PUT",
        "/api/v1/health-checks/primary/override",
        Some(TOKEN),
        body,
    );
    assert_eq!(code, 403, "{reply}");
    assert!(primary(&s));
    assert_eq!(s.http("GET", "/healthz", None, "").0, 200);
    assert_eq!(s.http("GET", "/nope", None, "").0, 404);
}

#[test]
fn bad_endpoints_cost_only_their_own_check() {
    let silent = Endpoint::http(Behaviour::Silent);
    let trickle = Endpoint::http(Behaviour::Trickle);
    let endless = Endpoint::http(Behaviour::Endless);
    let stalled_tls = Endpoint::https(Behaviour::Silent, "stall.example.test");
    let mut good = Endpoint::http(status(200));
    let slow = "timeout = \"1s\"\nfailure_threshold = 1";
    let checks = [
        check("primary", "http", good.port, "failure_threshold = 1"),
        check("silent", "http", silent.port, slow),
        check("trickle", "http", trickle.port, slow),
        check(
            "endless",
            "http",
            endless.port,
            &format!("{slow}\nsearch_string = \"never\""),
        ),
        check("stalled-tls", "https", stalled_tls.port, slow),
    ]
    .concat();
    // Two probes at a time: the four bad ones must still not starve the good one.
    let s = failover_server(&checks, "[health]\nmax_concurrent_probes = 2\n");
    for id in ["silent", "trickle", "stalled-tls"] {
        let c = s.check_status(id);
        assert_eq!(c["status"], "unhealthy", "{c}");
        assert!(
            c["last_result"]["reason"]
                .as_str()
                .unwrap()
                .contains("timeout"),
            "{c}"
        );
    }
    assert_eq!(s.status_of("endless"), "unhealthy");
    // The good check still follows its endpoint, both ways.
    good.stop();
    wait_for("the secondary", || !primary(&s));
    good.start();
    wait_for("the primary", || primary(&s));
}

#[test]
fn identical_checks_are_probed_once() {
    let ep = Endpoint::http(status(200));
    // Hourly: only the first round probes, so the hits count the probes.
    let hourly = |id: &str| {
        format!(
            "[[health_check]]\nid = \"{id}\"\ntype = \"http\"\nip = \"127.0.0.1\"\nport = {}\ninterval = \"1h\"\n",
            ep.port
        )
    };
    let s = failover_server(
        &[hourly("primary"), hourly("twin"), hourly("triplet")].concat(),
        "",
    );
    assert_eq!(s.status_of("twin"), "healthy");
    assert_eq!(
        s.check_status("triplet")["last_result"]["reason"],
        "HTTP 200"
    );
    assert_eq!(ep.hits(), 1);
}

#[test]
fn a_check_id_means_one_check_across_zones() {
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("zones");
    std::fs::create_dir(&zones).unwrap();
    std::fs::write(
        dir.path().join("hadns.toml"),
        "[server]\nlisten = [\"127.0.0.1:5399\"]\nzones_dir = \"zones\"\n",
    )
    .unwrap();
    let tcp = |port: u16| {
        format!("\n[[health_check]]\nid = \"shared\"\ntype = \"tcp\"\nip = \"127.0.0.1\"\nport = {port}\n")
    };
    for origin in ["a.example", "b.example"] {
        std::fs::write(zones.join(format!("{origin}.zone")), zone(origin, "")).unwrap();
    }
    std::fs::write(zones.join("a.example.toml"), tcp(80)).unwrap();
    // The same definition in both files: one check.
    std::fs::write(zones.join("b.example.toml"), tcp(80)).unwrap();
    let (ok, out) = common::check(&dir.path().join("hadns.toml"));
    assert!(ok, "{out}");
    // A different one under the same id: an error at the second, naming the first.
    std::fs::write(zones.join("b.example.toml"), tcp(81)).unwrap();
    common::assert_check_error(
        &dir.path().join("hadns.toml"),
        "b.example.toml",
        2,
        "is also declared, differently, at",
    );
}

#[test]
fn nothing_is_answered_or_ready_before_the_first_round() {
    // An endpoint that never answers holds the first round for its timeout.
    let silent = Endpoint::http(Behaviour::Silent);
    let checks = check(
        "primary",
        "http",
        silent.port,
        "timeout = \"3s\"\nfailure_threshold = 1",
    );
    let policy = format!(
        "{checks}\n[[record]]\nname = \"web\"\ntype = \"A\"\nttl = 10\nset_id = \"p\"\nfailover = \"primary\"\nvalues = [\"192.0.2.1\"]\nhealth_check = \"primary\"\n\
         [[record]]\nname = \"web\"\ntype = \"A\"\nttl = 10\nset_id = \"s\"\nfailover = \"secondary\"\nvalues = [\"192.0.2.2\"]\n"
    );
    let zone_text = zone("example", "");
    let s = Server::start_http_only(
        &[("example.zone", &zone_text), ("example.toml", &policy)],
        "",
    );
    let (code, body) = s.http("GET", "/healthz", None, "");
    assert_eq!(code, 503, "{body}");
    let early = s.udp(&common::query(7, "web.example", 1, false));
    assert!(early.is_none(), "answered before the first round");
    wait_for("/healthz to say ready", || {
        s.http("GET", "/healthz", None, "").0 == 200
    });
    // The first answer already reflects the first round: the primary timed out.
    wait_for("an answer", || {
        s.udp(&common::query(8, "web.example", 1, false)).is_some()
    });
    assert_eq!(s.a("web.example"), ["192.0.2.2"]);
}

/// The reason logged for a calculated check counts its children as they are now, not as
/// they were: a flip to unhealthy never says "1 of 1 children healthy".
#[test]
fn a_calculated_check_logs_the_children_that_decided() {
    let mut ep = Endpoint::http(status(200));
    let checks = check("child", "tcp", ep.port, "failure_threshold = 1")
        + "[[health_check]]\nid = \"primary\"\ntype = \"calculated\"\nchildren = [\"child\"]\nthreshold = 1\n";
    let s = failover_server(&checks, "");
    assert_eq!(s.status_of("primary"), "healthy");
    ep.stop();
    wait_status(&s, "primary", "unhealthy");
    wait_for("the calculated check's transition in the log", || {
        s.log()
            .lines()
            .any(|l| l.contains("check=\"primary\"") && l.contains("to=\"unhealthy\""))
    });
    let line = s
        .log()
        .lines()
        .find(|l| l.contains("check=\"primary\"") && l.contains("to=\"unhealthy\""))
        .unwrap_or_default()
        .to_string();
    assert!(
        line.contains("0 of 1 children healthy, threshold 1"),
        "{line}"
    );
}

/// An override's ttl is bounded: one that would end past the year 9999 is a 400, and
/// the API keeps answering.
#[test]
fn an_endless_override_is_refused() {
    let ep = Endpoint::http(status(200));
    let checks = check("primary", "http", ep.port, "failure_threshold = 1");
    let s = failover_server(&checks, "[http]\ntoken_file = \"token\"\n");
    let path = "/api/v1/health-checks/primary/override";
    for ttl in ["87601h", "99999999999h", "999999999999999999999s"] {
        let body = format!(r#"{{"status":"unhealthy","ttl":"{ttl}","reason":"forever"}}"#);
        let (code, reply) = s.http("PUT", path, Some(TOKEN), &body);
        assert_eq!(code, 400, "{ttl}: {reply}");
    }
    let body = r#"{"status":"unhealthy","ttl":"87600h","reason":"long maintenance"}"#;
    assert_eq!(s.http("PUT", path, Some(TOKEN), body).0, 200);
    assert!(!primary(&s));
}

/// An override in the file for a check that no policy file declares does nothing, and
/// the log says so rather than taking it silently.
#[test]
fn an_override_of_an_unknown_check_is_reported() {
    let ep = Endpoint::http(status(200));
    let checks = check("primary", "http", ep.port, "failure_threshold = 1");
    let s = failover_server(&checks, "");
    let file = s.dir.path().join("state/overrides.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        r#"{"primray": {"status": "unhealthy", "reason": "typo", "expires": "2100-01-01T00:00:00Z"}}"#,
    )
    .unwrap();
    wait_for("the warning", || {
        s.log()
            .lines()
            .any(|l| l.contains("check=\"primray\"") && l.contains("no policy file declares"))
    });
    assert!(primary(&s), "nothing changed");
}
