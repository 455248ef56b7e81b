//! DNSSEC keys: `hadns keygen` writes what BIND's tools read, `hadns ds` prints what
//! `dnssec-dsfromkey` prints, keys made and timed by BIND's tools are read, and a
//! broken key file is refused at `check` and at reload with its file and line.

mod common;
use std::path::Path;
use std::process::Command;

use common::{check, hadns_bin, zone, Server};

const DNSSEC: &str = "[dnssec]\nkeys_dir = \"keys\"\n";

fn bind_tools() -> bool {
    common::can_run(
        "dnssec-keygen, dnssec-dsfromkey, dnssec-settime (Debian package bind9-utils)",
        common::installed("dnssec-dsfromkey"),
    )
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn hadns(dir: &Path, args: &[&str]) -> String {
    run(Command::new(hadns_bin())
        .args(args)
        .arg("--config")
        .arg(dir.join("hadns.toml")))
}

/// DS lines as a sorted set, spaces normalised.
fn lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    v.sort();
    v
}

fn dsfromkey(keys: &Path, base: &str) -> String {
    run(Command::new("dnssec-dsfromkey")
        .args(["-2"])
        .arg(keys.join(format!("{base}.key"))))
}

#[test]
fn keygen_writes_keys_that_bind_reads_and_ds_agrees_with_dsfromkey() {
    if !bind_tools() {
        return;
    }
    let dir = common::config_dir(
        &[("example.com.zone", &zone("example.com", "www A 192.0.2.1"))],
        DNSSEC,
    );
    let keys = dir.path().join("keys");
    let mut bind_ds = String::new();
    for (alg, role) in [("ecdsap256sha256", "ksk"), ("ed25519", "csk")] {
        let base = hadns(
            dir.path(),
            &["keygen", "example.com", "--algorithm", alg, "--role", role],
        );
        let base = base.trim();
        assert!(base.starts_with("Kexample.com.+01"), "{base}");
        let private = keys.join(format!("{base}.private"));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&private).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "the private key is its owner's alone");
        bind_ds += &dsfromkey(&keys, base);
    }
    let zsk = hadns(dir.path(), &["keygen", "example.com", "--role", "zsk"]);
    assert!(zsk.trim().starts_with("Kexample.com.+013+"), "{zsk}");
    // BIND reads both key files (it computes the DS from the public key and checks the
    // private one's algorithm); a ZSK has no DS.
    let ours = hadns(dir.path(), &["ds", "example.com"]);
    assert_eq!(lines(&ours), lines(&bind_ds));
    assert_eq!(lines(&ours).len(), 2, "{ours}");
    let (ok, out) = check(&dir.path().join("hadns.toml"));
    assert!(ok && out.contains("1 signed"), "{out}");
}

#[test]
fn keys_made_and_timed_by_bind_are_read() {
    if !bind_tools() {
        return;
    }
    let dir = common::config_dir(
        &[("example.com.zone", &zone("example.com", "www A 192.0.2.1"))],
        DNSSEC,
    );
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let keygen = |args: &[&str]| {
        let base = run(Command::new("dnssec-keygen")
            .args(["-q", "-K"])
            .arg(&keys)
            .args(args)
            .arg("example.com"));
        base.trim().to_string()
    };
    let ksk = keygen(&["-a", "ECDSAP256SHA256", "-f", "KSK"]);
    let zsk = keygen(&["-a", "ED25519"]);
    let ours = hadns(dir.path(), &["ds", "example.com"]);
    assert_eq!(lines(&ours), lines(&dsfromkey(&keys, &ksk)));
    let (ok, out) = check(&dir.path().join("hadns.toml"));
    assert!(ok && out.contains("1 signed"), "{out}");

    // The KSK retired (dnssec-settime): nothing signs the DNSKEY set, and check says so.
    run(Command::new("dnssec-settime")
        .args(["-I", "now", "-K"])
        .arg(&keys)
        .arg(&ksk));
    common::assert_check_error(
        &dir.path().join("hadns.toml"),
        &format!("{ksk}.key"),
        1,
        "none that signs now",
    );
    let _ = zsk;
}

#[test]
fn a_broken_key_file_is_refused_at_check_and_reload_and_the_old_data_keeps_serving() {
    let token = "reload-token-long-enough";
    let s = Server::start_with_files(
        &[("example.com.zone", &zone("example.com", "www A 192.0.2.10"))],
        &format!("{DNSSEC}[http]\ntoken_file = \"token\"\n"),
        &[("token", token.as_bytes())],
    );
    let config = s.config_path();
    let dir = config.parent().unwrap();
    let base = hadns(dir, &["keygen", "example.com"]);
    let (code, body) = s.http("POST", "/api/v1/reload", Some(token), "");
    assert_eq!(code, 200, "{body}");

    let private = dir.join("keys").join(format!("{}.private", base.trim()));
    let text = std::fs::read_to_string(&private).unwrap();
    let broken = text.replace("PrivateKey: ", "PrivateKey: AAAA");
    std::fs::write(&private, broken).unwrap();
    let file = format!("{}.private", base.trim());
    common::assert_check_error(&config, &file, 3, "PrivateKey: not 32 bytes of base64");

    std::fs::write(
        s.zone_path("example.com.zone"),
        zone("example.com", "www A 192.0.2.11"),
    )
    .unwrap();
    let (code, body) = s.http("POST", "/api/v1/reload", Some(token), "");
    assert_eq!(code, 422, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let e = &v["errors"][0];
    assert!(e["file"].as_str().unwrap().ends_with(&file), "{e}");
    assert_eq!(e["line"], 3, "{e}");
    assert_eq!(s.a("www.example.com"), ["192.0.2.10"]);

    // A private key of another key: refused too, at the PrivateKey line.
    let other = hadns(dir, &["keygen", "example.com"]);
    let other_text =
        std::fs::read_to_string(dir.join("keys").join(format!("{}.private", other.trim())))
            .unwrap();
    std::fs::write(&private, other_text).unwrap();
    common::assert_check_error(&config, &file, 3, "does not belong to the public key");
}

/// A zone with every kind of name: apex, plain data, a CNAME, a DNAME, a wildcard, an
/// empty non-terminal, a secure delegation (DS) and an insecure one with glue.
const SIGNED_ZONE: &str = "www A 192.0.2.1\nwww AAAA 2001:db8::1\nmail MX 10 www\n\
    alias CNAME www\nold DNAME new.example.net.\n*.users TXT \"any user\"\n\
    a.b.deep A 192.0.2.2\nsecure NS ns.secure\nsecure DS 12345 13 2 \
    2BB183AF5F22588179A53B0A98631FAD1A292118F1A2D1D1DDE5E1B2C3D4E5F6\n\
    ns.secure A 192.0.2.3\ninsecure NS ns.insecure\nns.insecure A 192.0.2.4\n";

/// The static data signed at load, written out whole, passes BIND's `dnssec-verify`
/// (every RRset signed by the zone's keys, the DNSKEY set by the KSK, the NSEC3 or NSEC
/// chain complete and its bitmaps true, glue left unsigned). A policy name is in the
/// chain with its type, whatever health decides (checked apart: its answers are not
/// static data that dnssec-verify could see).
#[test]
fn a_zone_signed_at_load_passes_dnssec_verify() {
    use hadns::config::Denial;
    use hadns::dnssec::zone::{generic_text, sign_zone, Signing};
    if !bind_tools() {
        return;
    }
    for (role, alg) in [("csk", "ecdsap256sha256"), ("ksk", "ed25519")] {
        let dir = common::config_dir(
            &[("example.com.zone", &zone("example.com", SIGNED_ZONE))],
            DNSSEC,
        );
        hadns(
            dir.path(),
            &["keygen", "example.com", "--role", role, "--algorithm", alg],
        );
        if role == "ksk" {
            hadns(
                dir.path(),
                &["keygen", "example.com", "--role", "zsk", "--algorithm", alg],
            );
        }
        let loaded = hadns::load::load(&dir.path().join("hadns.toml"));
        let content = loaded
            .content
            .unwrap_or_else(|| panic!("{:?}", loaded.diags));
        for denial in [Denial::Nsec3, Denial::Nsec] {
            let signing = Signing {
                keys: &content.keys[0],
                denial,
                now: hadns::dnssec::key::unix_now(),
                validity: 14 * 86400,
            };
            let mut z = (*content.zones.zones[0]).clone();
            let signed = sign_zone(&mut z, &signing);
            let file = dir.path().join("signed.zone");
            std::fs::write(&file, generic_text(&z, &signed)).unwrap();
            // -z: a combined key (257) signs everything; no separate ZSK is expected.
            let out = Command::new("dnssec-verify")
                .args(["-z", "-o", "example.com"])
                .arg(&file)
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{role} {alg} {denial:?}: {said}");
            assert!(said.contains("Zone fully signed"), "{said}");
        }
    }
}

/// A policy name's NSEC lists its policy type (and RRSIG, NSEC): a validator must not
/// learn from it that A does not exist there, whatever health decides.
#[test]
fn a_policy_name_is_in_the_chain_with_its_type() {
    use hadns::config::Denial;
    use hadns::dnssec::zone::{sign_zone, type_bitmap, Signing};
    use hickory_proto::rr::RecordType;
    let dir = common::config_dir(
        &[
            ("example.com.zone", &zone("example.com", "www A 192.0.2.1")),
            (
                "example.com.toml",
                "[[record]]\nname = \"lb\"\ntype = \"A\"\nttl = 60\nset_id = \"one\"\nweight = 1\nvalues = [\"192.0.2.9\"]\n",
            ),
        ],
        DNSSEC,
    );
    hadns(dir.path(), &["keygen", "example.com"]);
    let content = hadns::load::load(&dir.path().join("hadns.toml"))
        .content
        .unwrap();
    let signing = Signing {
        keys: &content.keys[0],
        denial: Denial::Nsec,
        now: hadns::dnssec::key::unix_now(),
        validity: 86400,
    };
    let signed = sign_zone(&mut (*content.zones.zones[0]).clone(), &signing);
    let lb = signed
        .chain
        .iter()
        .find(|a| a.owner.to_ascii() == "lb.example.com.")
        .expect("lb has an NSEC");
    let bitmap = type_bitmap(&[RecordType::A, RecordType::RRSIG, RecordType::NSEC]);
    let rdata = hadns::dnssec::sign::canonical_rdata(RecordType::NSEC, &lb.rdatas[0]);
    assert!(rdata.ends_with(&bitmap), "{lb:?}");
}
