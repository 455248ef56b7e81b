//! `hadns check`: every problem reported as file:line: message, non-zero exit on errors.

mod common;
use std::path::Path;

use common::{check, zone};

/// Writes a config and zone files into a fresh directory.
fn setup(zones: &[(&str, &str)]) -> tempfile::TempDir {
    common::config_dir(zones, "")
}

fn run(dir: &Path) -> (bool, String) {
    check(&dir.join("hadns.toml"))
}

/// Asserts that check fails and reports `file:line: ...message...`.
fn assert_error(zones: &[(&str, &str)], file: &str, line: usize, message: &str) {
    let dir = setup(zones);
    common::assert_check_error(&dir.path().join("hadns.toml"), file, line, message);
}

#[test]
fn a_valid_config_passes() {
    let dir = setup(&[("example.com.zone", &zone("example.com", "www A 192.0.2.1"))]);
    let (ok, out) = run(dir.path());
    assert!(ok, "{out}");
    assert!(out.contains("ok: 1 zones"), "{out}");
}

#[test]
fn missing_soa() {
    assert_error(
        &[(
            "example.com.zone",
            "$ORIGIN example.com.\n@ 300 NS ns1\nns1 300 A 192.0.2.1\n",
        )],
        "example.com.zone",
        1,
        "missing SOA",
    );
}

#[test]
fn missing_apex_ns() {
    assert_error(
        &[(
            "example.com.zone",
            "$TTL 60\n@ SOA ns1 h 1 2 3 4 5\nns1 A 192.0.2.1\n",
        )],
        "example.com.zone",
        1,
        "no NS records",
    );
}

#[test]
fn cname_beside_other_data() {
    // zone() adds 5 lines; the body starts at line 6.
    assert_error(
        &[(
            "example.com.zone",
            &zone("example.com", "www A 192.0.2.1\nwww CNAME other"),
        )],
        "example.com.zone",
        7,
        "CNAME beside other data",
    );
}

#[test]
fn out_of_zone_data() {
    assert_error(
        &[(
            "example.com.zone",
            &zone(
                "example.com",
                "ok A 192.0.2.1\nwww.example.org. A 192.0.2.1",
            ),
        )],
        "example.com.zone",
        7,
        "out-of-zone data",
    );
}

#[test]
fn bad_syntax() {
    for (body, line, msg) in [
        ("www A 192.0.2.300", 6, "bad A record data"),
        ("www BOGUS 1", 6, "unknown record type BOGUS"),
        (
            "ok A 192.0.2.1\nwww MX ( 10\n mail",
            7,
            "'(' is never closed",
        ),
        ("www TXT \"open", 6, "unterminated quoted string"),
        ("www A", 6, "has no data"),
        ("$GENERATE 1-10 a$ A 192.0.2.$", 6, "unknown directive"),
        ("www CH A 192.0.2.1", 6, "class CH is not supported"),
    ] {
        assert_error(
            &[("example.com.zone", &zone("example.com", body))],
            "example.com.zone",
            line,
            msg,
        );
    }
}

#[test]
fn duplicate_zones() {
    let z = zone("example.com", "");
    assert_error(
        &[("example.com.zone", &z), ("EXAMPLE.COM.zone", &z)],
        "example.com.zone",
        1,
        "duplicate zone example.com.",
    );
}

#[test]
fn errors_in_included_files_name_that_file() {
    let dir = setup(&[
        (
            "example.com.zone",
            &zone("example.com", "$INCLUDE hosts.inc"),
        ),
        ("hosts.inc", "a A 192.0.2.1\nb A nonsense\n"),
    ]);
    let (ok, out) = run(dir.path());
    assert!(!ok);
    assert!(out.contains("hosts.inc:2: bad A record data"), "{out}");
}

#[test]
fn every_error_is_reported_in_one_run() {
    let dir = setup(&[
        (
            "a.test.zone",
            &zone("a.test", "x A 1.2.3\ny CNAME x\ny TXT \"t\""),
        ),
        ("b.test.zone", "$ORIGIN b.test.\n@ 60 NS ns1\n"),
    ]);
    let (ok, out) = run(dir.path());
    assert!(!ok);
    for want in ["a.test.zone:6:", "a.test.zone:8:", "b.test.zone:1:"] {
        assert!(out.contains(want), "{want} missing from:\n{out}");
    }
}

#[test]
fn config_errors_name_the_line() {
    let dir = setup(&[]);
    std::fs::write(
        dir.path().join("hadns.toml"),
        "[server]\nlisten = [\"127.0.0.1:5399\"]\nzone_dir = \"zones\"\n",
    )
    .unwrap();
    let (ok, out) = run(dir.path());
    assert!(!ok);
    assert!(
        out.contains("hadns.toml:3:") && out.contains("zone_dir"),
        "{out}"
    );
}

#[test]
fn serve_refuses_to_start_on_invalid_zones() {
    let dir = setup(&[("example.com.zone", &zone("example.com", "www A nonsense"))]);
    let out = std::process::Command::new(common::hadns_bin())
        .args(["serve", "--config"])
        .arg(dir.path().join("hadns.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("example.com.zone:6:"));
}

/// A zone file that is a link to nothing is an error, not a zone quietly left out.
#[test]
fn a_dangling_link_is_an_error() {
    let dir = setup(&[("example.com.zone", &zone("example.com", "www A 192.0.2.1"))]);
    std::os::unix::fs::symlink(
        dir.path().join("gone.zone"),
        dir.path().join("zones/example.org.zone"),
    )
    .unwrap();
    let (ok, out) = run(dir.path());
    assert!(!ok, "{out}");
    assert!(
        out.contains("example.org.zone:1: a link to a file that does not exist"),
        "{out}"
    );
}

/// The API token is judged at load, by `check` as by `serve`: a missing, short, or
/// world-readable token file is an error at the config's line.
#[test]
fn the_token_file_is_checked_like_a_key() {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::config_dir(
        &[("example.com.zone", &zone("example.com", ""))],
        "\n[http]\ntoken_file = \"token\"\n",
    );
    let token = dir.path().join("token");
    let mode =
        |m: u32| std::fs::set_permissions(&token, std::fs::Permissions::from_mode(m)).unwrap();
    let (ok, out) = run(dir.path());
    assert!(
        !ok && out.contains("hadns.toml:6: token_file") && out.contains("cannot read"),
        "{out}"
    );
    std::fs::write(&token, "0123456789abcdef0123").unwrap();
    mode(0o644);
    let (ok, out) = run(dir.path());
    assert!(!ok && out.contains("chmod 600"), "{out}");
    std::fs::write(&token, "x").unwrap();
    mode(0o600);
    let (ok, out) = run(dir.path());
    assert!(!ok && out.contains("at least 16 characters"), "{out}");
    assert!(!out.contains("\"x\""), "the token is never quoted: {out}");
    std::fs::write(&token, "0123456789abcdef0123\n").unwrap();
    let (ok, out) = run(dir.path());
    assert!(ok, "{out}");
}

/// `$INCLUDE` reaches only regular files inside the zones directory: whoever writes zone
/// files cannot read the rest of the machine through the server, nor see it quoted.
#[test]
fn an_include_outside_the_zones_directory_is_refused_without_quoting_it() {
    let dir = setup(&[(
        "example.com.zone",
        &zone("example.com", "$INCLUDE ../secret\n$INCLUDE /etc/passwd"),
    )]);
    std::fs::write(dir.path().join("secret"), "s3cr3t A 192.0.2.1\n").unwrap();
    let (ok, out) = run(dir.path());
    assert!(!ok, "{out}");
    assert!(
        out.contains("example.com.zone:6: $INCLUDE ../secret: outside the zones directory"),
        "{out}"
    );
    assert!(
        out.contains("example.com.zone:7: $INCLUDE /etc/passwd: outside the zones directory"),
        "{out}"
    );
    assert!(!out.contains("s3cr3t") && !out.contains("root:"), "{out}");
    // A link inside that points outside is outside.
    std::os::unix::fs::symlink(dir.path().join("secret"), dir.path().join("zones/in.inc")).unwrap();
    std::fs::write(
        dir.path().join("zones/example.com.zone"),
        zone("example.com", "$INCLUDE in.inc"),
    )
    .unwrap();
    let (ok, out) = run(dir.path());
    assert!(!ok && out.contains("outside the zones directory"), "{out}");
}

/// A FIFO would block the reader for ever, a device never end: neither is read.
#[test]
fn fifos_and_devices_are_not_read() {
    let dir = setup(&[(
        "example.com.zone",
        &zone("example.com", "$INCLUDE pipe.inc"),
    )]);
    common::mkfifo(&dir.path().join("zones/pipe.inc"));
    common::mkfifo(&dir.path().join("zones/example.net.zone"));
    let (ok, out) = run(dir.path());
    assert!(!ok, "{out}");
    assert!(out.contains("pipe.inc:1: not a regular file"), "{out}");
    assert!(
        out.contains("example.net.zone:1: not a regular file"),
        "{out}"
    );
}

#[test]
fn a_zone_file_over_the_size_limit_is_refused() {
    let big = zone("example.com", &"www A 192.0.2.1\n".repeat(100));
    let dir = common::config_dir(
        &[("example.com.zone", &big)],
        "max_zone_file_size = \"1K\"\n",
    );
    let (ok, out) = check(&dir.path().join("hadns.toml"));
    assert!(!ok, "{out}");
    assert!(
        out.contains("example.com.zone:1: ")
            && out.contains("more than [server] max_zone_file_size (1024 bytes)"),
        "{out}"
    );
    let dir = common::config_dir(
        &[("example.com.zone", &big)],
        "max_zone_file_size = \"1M\"\n",
    );
    let (ok, out) = check(&dir.path().join("hadns.toml"));
    assert!(ok, "{out}");
    let dir = common::config_dir(
        &[("example.com.zone", &big)],
        "max_zone_file_size = \"lots\"\n",
    );
    common::assert_check_error(
        &dir.path().join("hadns.toml"),
        "hadns.toml",
        4,
        "write a size like",
    );
}
