//! Zonemaster, the DNS community's zone checker, against the demo zone served by hadns
//! (tests/zonemaster/run.sh: a private network namespace, a stand-in root on 127.0.0.2,
//! the demo zone on 127.0.0.3 and 127.0.0.4). Needs root and `zonemaster-cli`; CI has
//! both and fails without them, elsewhere the test says it is skipped.

mod common;
use std::process::Command;

#[test]
fn zonemaster_finds_no_error_in_the_demo_zone() {
    let ready = common::installed("zonemaster-cli") && common::is_root();
    if !common::can_run("zonemaster-cli and root (unshare -n)", ready) {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/zonemaster/run.sh");
    let (ok, text) = common::run_command(Command::new(script).arg(env!("CARGO_BIN_EXE_hadns")));
    println!("{text}");
    assert!(ok, "Zonemaster reported errors:\n{text}");
    assert!(text.contains("no ERROR or CRITICAL"), "{text}");
}
