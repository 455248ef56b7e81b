//! Zonemaster, the DNS community's zone checker, against the demo zone served by hadns
//! (tests/zonemaster/run.sh: a private network namespace, a stand-in root on 127.0.0.2,
//! the demo zone on 127.0.0.3 and 127.0.0.4). Needs root and `zonemaster-cli`; CI has
//! both and fails without them, elsewhere the test says it is skipped.

mod common;
use std::process::Command;

#[test]
fn zonemaster_finds_no_error_in_the_demo_zone() {
    let installed = Command::new("zonemaster-cli")
        .arg("--version")
        .output()
        .is_ok();
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !(installed && root) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run Zonemaster: needs zonemaster-cli and root"
        );
        eprintln!("skipped: Zonemaster needs zonemaster-cli and root (unshare -n)");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/zonemaster/run.sh");
    let (ok, text) = common::run_command(Command::new(script).arg(env!("CARGO_BIN_EXE_hadns")));
    println!("{text}");
    assert!(ok, "Zonemaster reported errors:\n{text}");
    assert!(text.contains("no ERROR or CRITICAL"), "{text}");
}
