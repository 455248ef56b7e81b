//! systemd integration: the unit file verifies, and READY=1 reaches $NOTIFY_SOCKET only
//! once the zones are loaded and the sockets answer.

mod common;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{zone, DEADLINE};

#[test]
fn unit_file_passes_systemd_analyze_verify() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have systemd-analyze"
        );
        eprintln!("skipped: no systemd-analyze");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/hadns.service"
    ))
    .unwrap()
    .replace("/usr/bin/hadns", common::hadns_bin());
    let path = dir.path().join("hadns.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && text.trim().is_empty(), "{text}");
}

#[test]
fn ready_is_notified_once_serving() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("zones")).unwrap();
    std::fs::write(
        dir.path().join("zones/example.com.zone"),
        zone("example.com", "www A 192.0.2.1"),
    )
    .unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.path().join("hadns.toml"),
        format!("[server]\nlisten = [\"127.0.0.1:{sock}\"]\nzones_dir = \"zones\"\n"),
    )
    .unwrap();
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut child = Command::new(common::hadns_bin())
        .args(["serve", "--config"])
        .arg(dir.path().join("hadns.toml"))
        .env("NOTIFY_SOCKET", &notify_path)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).expect("READY=1 from hadns");
    assert_eq!(&buf[..n], b"READY=1");
    // Ready means serving: the first query after it is answered.
    let d = common::dig_at("127.0.0.1", sock, "www.example.com A +tries=1");
    assert_eq!(d.answer_data("A"), ["192.0.2.1"]);
    // And a clean stop says so.
    Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let n = notify.recv(&mut buf).expect("STOPPING=1 from hadns");
    assert_eq!(&buf[..n], b"STOPPING=1");
    assert!(child.wait().unwrap().success());
}
