//! The status page at `/`, loaded by a real browser (Debian's chromium, headless, in a
//! network of the test's own with loopback only): every check's status is there, and a
//! failover appears on the next load.

mod common;

use std::process::Command;

use common::endpoint::{status, Endpoint};
use common::{wait_for, zone, Server};

const POLICY: &str = r#"
[[health_check]]
id = "primary"
type = "http"
ip = "127.0.0.1"
port = PORT
interval = "1s"
failure_threshold = 1

[[health_check]]
id = "spare"
type = "tcp"
ip = "127.0.0.1"
port = 9
disabled = true

[[record]]
name = "web"
type = "A"
ttl = 5
set_id = "p"
failover = "primary"
values = ["192.0.2.1"]
health_check = "primary"

[[record]]
name = "web"
type = "A"
ttl = 5
set_id = "s"
failover = "secondary"
values = ["192.0.2.2"]
health_check = "spare"
"#;

/// The page's DOM, as the browser built it.
fn browse(url: &str, profile: &std::path::Path) -> String {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=390,844", // a phone
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("chromium runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The status a check's row shows.
fn shown_status(dom: &str, check: &str) -> Option<String> {
    let row = &dom[dom.find(&format!("id=\"check-{check}\""))?..];
    let at = row.find("class=\"status ")? + "class=\"status ".len();
    Some(row[at..].split('"').next()?.to_string())
}

#[test]
fn a_browser_sees_every_check_and_a_failover_appear() {
    if !common::can_run(
        "status page test needs root and chromium",
        common::is_root() && common::installed("chromium"),
    ) {
        return;
    }
    common::private_network();
    let mut ep = Endpoint::http(status(200));
    let policy = POLICY.replace("PORT", &ep.port.to_string());
    let s = Server::start(
        &[
            ("example.com.zone", &zone("example.com", "")),
            ("example.com.toml", &policy),
        ],
        "",
    );
    wait_for("healthy", || s.status_of("primary") == "healthy");
    let profile = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/", s.http_port);
    let dom = browse(&url, profile.path());
    assert!(dom.contains("name=\"viewport\""), "{dom}");
    assert_eq!(
        shown_status(&dom, "primary").as_deref(),
        Some("healthy"),
        "{dom}"
    );
    assert_eq!(
        shown_status(&dom, "spare").as_deref(),
        Some("healthy"),
        "{dom}"
    );
    assert!(dom.contains("example.com."), "the zone is listed: {dom}");

    ep.stop();
    wait_for("the failover", || s.a("web.example.com") == ["192.0.2.2"]);
    let dom = browse(&url, profile.path());
    assert_eq!(
        shown_status(&dom, "primary").as_deref(),
        Some("unhealthy"),
        "{dom}"
    );
    assert!(
        dom.contains("→ <span class=\"unhealthy\">unhealthy</span>"),
        "the transition: {dom}"
    );
    assert!(dom.contains("1 unhealthy"), "{dom}");
}
