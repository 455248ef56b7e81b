//! Zonemaster, the DNS community's zone checker, against the demo zone served by hadns
//! (tests/zonemaster/run.sh: a private network namespace, a stand-in root on 127.0.0.2,
//! the demo zone on 127.0.0.3 and 127.0.0.4), as it ships and signed; DNSViz judges the
//! signed one too. Needs root, `zonemaster-cli` and `dnsviz`; CI has them and fails
//! without them, elsewhere the test says it is skipped.

mod common;
use std::process::Command;

#[test]
fn zonemaster_finds_no_error_in_the_demo_zone() {
    let ready = common::installed("zonemaster-cli") && common::is_root();
    if !common::can_run("zonemaster-cli and root (unshare -n)", ready) {
        return;
    }
    let text = run(&[]);
    assert!(text.contains("zonemaster: no ERROR or CRITICAL"), "{text}");
}

/// The demo zone signed with a fresh key, its DS in the stand-in root: Zonemaster's
/// DNSSEC tests (DS against DNSKEY, signatures, NSEC3 parameters, CDS and CDNSKEY…) and
/// DNSViz, over the apex, plain names, a wildcard, a CNAME, a DNAME, names that do not
/// exist and the policy names, find no error.
#[test]
fn zonemaster_and_dnsviz_find_no_error_in_the_signed_demo_zone() {
    let ready =
        common::installed("zonemaster-cli") && common::installed("dnsviz") && common::is_root();
    if !common::can_run("zonemaster-cli, dnsviz and root (unshare -n)", ready) {
        return;
    }
    let text = run(&["--signed"]);
    assert!(text.contains("zonemaster: no ERROR or CRITICAL"), "{text}");
    assert!(text.contains("dnsviz: no error or warning"), "{text}");
}

/// tests/zonemaster/run.sh with `args` and the binary under test; its output, once it
/// has succeeded.
fn run(args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/zonemaster/run.sh");
    let (ok, text) = common::run_command(
        Command::new(script)
            .args(args)
            .arg(env!("CARGO_BIN_EXE_hadns")),
    );
    println!("{text}");
    assert!(ok, "Zonemaster or DNSViz reported errors:\n{text}");
    text
}
