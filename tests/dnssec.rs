//! DNSSEC keys: `hadns keygen` writes what BIND's tools read, `hadns ds` prints what
//! `dnssec-dsfromkey` prints, keys made and timed by BIND's tools are read, and a
//! broken key file is refused at `check` and at reload with its file and line.

mod common;
use std::path::Path;
use std::process::Command;

use common::{check, run_ok, zone, Server};

const DNSSEC: &str = "[dnssec]\nkeys_dir = \"keys\"\n";

fn bind_tools() -> bool {
    common::can_run(
        "dnssec-keygen, dnssec-dsfromkey, dnssec-settime (Debian package bind9-utils)",
        common::installed("dnssec-dsfromkey"),
    )
}

fn hadns(dir: &Path, args: &[&str]) -> String {
    common::hadns_ok(&dir.join("hadns.toml"), args)
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
    run_ok(
        Command::new("dnssec-dsfromkey")
            .args(["-2"])
            .arg(keys.join(format!("{base}.key"))),
    )
}

#[test]
fn keygen_writes_keys_that_bind_reads_and_ds_agrees_with_dsfromkey() {
    if !bind_tools() {
        return;
    }
    let dir = common::config_dir(
        &[
            ("example.com.zone", &zone("example.com", "www A 192.0.2.1")),
            ("example.net.zone", &zone("example.net", "www A 192.0.2.1")),
        ],
        DNSSEC,
    );
    let keys = dir.path().join("keys");
    // A KSK and a ZSK on ECDSA for one zone, a combined key on Ed25519 for the other.
    for (zone, alg, role) in [
        ("example.com", "ecdsap256sha256", "ksk"),
        ("example.com", "ecdsap256sha256", "zsk"),
        ("example.net", "ed25519", "csk"),
    ] {
        let base = hadns(
            dir.path(),
            &["keygen", zone, "--algorithm", alg, "--role", role],
        );
        let base = base.trim();
        assert!(base.starts_with(&format!("K{zone}.+01")), "{base}");
        let private = keys.join(format!("{base}.private"));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&private).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "the private key is its owner's alone");
        let ours = hadns(dir.path(), &["ds", zone]);
        if role != "zsk" {
            // BIND reads the key files (the DS from the public key; the private file's
            // algorithm checked); a ZSK has no DS.
            assert_eq!(lines(&ours), lines(&dsfromkey(&keys, base)), "{zone}");
        }
    }
    let (ok, out) = check(&dir.path().join("hadns.toml"));
    assert!(ok && out.contains("2 signed"), "{out}");
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
        let base = run_ok(
            Command::new("dnssec-keygen")
                .args(["-q", "-K"])
                .arg(&keys)
                .args(args)
                .arg("example.com"),
        );
        base.trim().to_string()
    };
    let ksk = keygen(&["-a", "ECDSAP256SHA256", "-f", "KSK"]);
    let zsk = keygen(&["-a", "ECDSAP256SHA256"]);
    let ours = hadns(dir.path(), &["ds", "example.com"]);
    assert_eq!(lines(&ours), lines(&dsfromkey(&keys, &ksk)));
    let (ok, out) = check(&dir.path().join("hadns.toml"));
    assert!(ok && out.contains("1 signed"), "{out}");

    // The KSK retired (dnssec-settime): nothing signs the DNSKEY set, and check says so.
    run_ok(
        Command::new("dnssec-settime")
            .args(["-I", "now", "-K"])
            .arg(&keys)
            .arg(&ksk),
    );
    let (ok, out) = check(&dir.path().join("hadns.toml"));
    assert!(
        !ok && out.contains(".key:1: ") && out.contains("none that signs now"),
        "{out}"
    );
    assert!(out.contains("Kexample.com.+013+"), "{out} ({ksk}, {zsk})");
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

const TOKEN: &str = "dnssec-test-token-long-enough";

/// A server for SIGNED_ZONE plus a failover pair at `lb` (its primary's check forced by
/// override), signed with a fresh combined key; returns it with the trust anchor file
/// made from `hadns ds`.
fn signed_server(denial: &str) -> (Server, std::path::PathBuf) {
    let policy = format!(
        "{}[[record]]\nname = \"lb\"\ntype = \"A\"\nttl = 60\nset_id = \"p\"\nfailover = \"primary\"\nvalues = [\"192.0.2.21\"]\nhealth_check = \"lb\"\n\
         [[record]]\nname = \"lb\"\ntype = \"A\"\nttl = 60\nset_id = \"s\"\nfailover = \"secondary\"\nvalues = [\"192.0.2.22\"]\n\
         [[record]]\nname = \"geo\"\ntype = \"A\"\nttl = 60\nset_id = \"de\"\ngeo = {{ country = \"DE\" }}\nvalues = [\"192.0.2.53\"]\n",
        common::forced_check("lb", true)
    );
    let s = Server::start_with_files(
        &[
            ("example.com.zone", &zone("example.com", SIGNED_ZONE)),
            ("example.com.toml", &policy),
        ],
        &format!(
            "[dnssec]\nkeys_dir = \"keys\"\ndenial = \"{denial}\"\n[http]\ntoken_file = \"token\"\n[transfer]\nallow = [\"127.0.0.1\"]\n"
        ),
        &[("token", TOKEN.as_bytes())],
    );
    let dir = s.config_path().parent().unwrap().to_path_buf();
    hadns(&dir, &["keygen", "example.com"]);
    let (code, body) = s.http("POST", "/api/v1/reload", Some(TOKEN), "");
    assert_eq!(code, 200, "{body}");
    let ds = hadns(&dir, &["ds", "example.com"]);
    let f: Vec<&str> = ds.split_whitespace().collect();
    let anchors = dir.join("anchors.conf");
    std::fs::write(
        &anchors,
        format!(
            "trust-anchors {{\n  example.com. static-ds {} {} {} \"{}\";\n}};\n",
            f[3], f[4], f[5], f[6]
        ),
    )
    .unwrap();
    (s, anchors)
}

/// `delv` against the server, with the zone's DS as its trust anchor: its verdict.
fn delv(s: &Server, anchors: &Path, question: &str) -> String {
    let out = Command::new("delv")
        .args(["@127.0.0.1", "-p", &s.addr().port().to_string(), "-a"])
        .arg(anchors)
        .arg("+root=example.com")
        .args(question.split_whitespace())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

/// Every kind of answer a validator meets, checked by delv with the DS as its trust
/// anchor, under NSEC3 and NSEC: positive, NODATA, NXDOMAIN (one and two labels below
/// anything), CNAME, wildcard and wildcard NODATA, an empty non-terminal, DS and its
/// absence at a delegation, the DNSKEY set, and a policy answer signed when it first
/// appears, and a policy name that answers this client NODATA. A DNAME's own record
/// validates (its target is elsewhere). Without DO the
/// answers carry no DNSSEC records.
#[test]
fn every_kind_of_answer_validates() {
    if !common::can_run("delv (bind9-dnsutils)", common::installed("delv")) || !bind_tools() {
        return;
    }
    let cases = [
        ("www.example.com A", "fully validated"),
        ("www.example.com TXT", "negative response, fully validated"),
        ("nope.example.com A", "negative response, fully validated"),
        ("a.nope.example.com A", "negative response, fully validated"),
        ("zzz.example.com MX", "negative response, fully validated"),
        ("alias.example.com A", "fully validated"),
        ("bob.users.example.com TXT", "fully validated"),
        ("x.y.users.example.com TXT", "fully validated"),
        (
            "bob.users.example.com A",
            "negative response, fully validated",
        ),
        ("deep.example.com A", "negative response, fully validated"),
        ("secure.example.com DS", "fully validated"),
        (
            "insecure.example.com DS",
            "negative response, fully validated",
        ),
        ("example.com DNSKEY", "fully validated"),
        ("example.com CDS", "fully validated"),
        ("lb.example.com A", "fully validated"),
        ("lb.example.com AAAA", "negative response, fully validated"),
        // Geolocation with no match and no default: NODATA for this client, though the
        // chain lists A at the name; its proof is made for the answer.
        ("geo.example.com A", "negative response, fully validated"),
    ];
    for denial in ["nsec3", "nsec", "compact"] {
        let (s, anchors) = signed_server(denial);
        for (q, want) in cases {
            let said = delv(&s, &anchors, q);
            assert!(said.contains(want), "{denial}: {q}: {said}");
        }
        assert!(delv(&s, &anchors, "x.old.example.com DNAME").contains("fully validated"));
        let plain = s.dig("www.example.com A");
        assert!(
            !common::Dig::types(&plain.answer).contains(&"RRSIG".to_string()),
            "{plain:?}"
        );
        let signed = s.dig("+dnssec www.example.com A");
        assert!(
            common::Dig::types(&signed.answer).contains(&"RRSIG".to_string()),
            "{signed:?}"
        );
    }
}

/// A failover watched through a validator: the primary's answer validates, the
/// override moves the answer to the secondary, and that validates too (signed when it
/// first appears), and so does the way back.
#[test]
fn a_failover_validates_before_and_after_the_switch() {
    if !common::can_run("delv (bind9-dnsutils)", common::installed("delv")) || !bind_tools() {
        return;
    }
    let (s, anchors) = signed_server("nsec3");
    let validated = |ip: &str| {
        let said = delv(&s, &anchors, "lb.example.com A");
        said.contains("fully validated") && said.contains(ip)
    };
    assert!(
        validated("192.0.2.21"),
        "{}",
        delv(&s, &anchors, "lb.example.com A")
    );
    let path = "/api/v1/health-checks/lb/override";
    let body = r#"{"status":"unhealthy","ttl":"1h","reason":"failover test"}"#;
    let (code, reply) = s.http("PUT", path, Some(TOKEN), body);
    assert_eq!(code, 200, "{reply}");
    assert!(
        validated("192.0.2.22"),
        "{}",
        delv(&s, &anchors, "lb.example.com A")
    );
    assert_eq!(s.http("DELETE", path, Some(TOKEN), "").0, 200);
    assert!(
        validated("192.0.2.21"),
        "{}",
        delv(&s, &anchors, "lb.example.com A")
    );
}

/// A signed zone goes out by AXFR whole, signatures and chain included (its IXFR too:
/// the journal holds no signatures), and what a secondary receives passes dnssec-verify.
#[test]
fn a_signed_zone_transfers_whole_and_passes_dnssec_verify() {
    if !bind_tools() {
        return;
    }
    let (s, _) = signed_server("nsec3");
    let axfr = s.dig("+onesoa example.com AXFR");
    let text: String = axfr
        .raw
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(text.contains("NSEC3") && text.contains("RRSIG"), "{text}");
    let dir = s.config_path().parent().unwrap().to_path_buf();
    let file = dir.join("axfr.zone");
    std::fs::write(&file, &text).unwrap();
    let out = Command::new("dnssec-verify")
        .args(["-z", "-o", "example.com"])
        .arg(&file)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.contains("Zone fully signed"),
        "{said}"
    );
}

/// `denial = "compact"` (RFC 9824): a name that does not exist gets NOERROR and one
/// NSEC at the name, whose next name is its immediate successor and whose bitmap holds
/// only RRSIG, NSEC and NXNAME; a name without the type asked gets an NSEC that lists
/// what it has; a wildcard's answer is signed as the name asked; a delegation without
/// DS gets an NSEC at the cut without DS; nothing of the rest of the zone is shown; and
/// NXNAME asked for is FORMERR. Without DO, NXDOMAIN stays NXDOMAIN.
#[test]
fn compact_denial_answers_as_rfc_9824_says() {
    if !bind_tools() {
        return;
    }
    let (s, _) = signed_server("compact");
    let nsec = |question: &str| {
        let d = s.dig(&format!("+dnssec {question}"));
        let nsecs: Vec<String> = d
            .authority
            .iter()
            .filter(|r| r.rtype == "NSEC")
            .map(|r| format!("{} {}", r.name, r.data))
            .collect();
        (d.status.clone(), nsecs, d)
    };
    let (status, nsecs, _) = nsec("nope.example.com A");
    assert_eq!(status, "NOERROR");
    assert_eq!(
        nsecs,
        ["nope.example.com. \\000.nope.example.com. RRSIG NSEC TYPE128"]
    );
    let (status, nsecs, _) = nsec("www.example.com TXT");
    assert_eq!(status, "NOERROR");
    assert_eq!(
        nsecs,
        ["www.example.com. \\000.www.example.com. A AAAA RRSIG NSEC"]
    );
    // An empty non-terminal exists, with nothing.
    let (_, nsecs, _) = nsec("deep.example.com A");
    assert_eq!(
        nsecs,
        ["deep.example.com. \\000.deep.example.com. RRSIG NSEC"]
    );
    let (_, nsecs, _) = nsec("insecure.example.com A");
    assert_eq!(
        nsecs,
        ["insecure.example.com. \\000.insecure.example.com. NS RRSIG NSEC"]
    );
    // The wildcard's TXT, signed with the labels of the name asked (4), no NSEC.
    let (status, nsecs, d) = nsec("bob.users.example.com TXT");
    assert_eq!(status, "NOERROR");
    assert!(nsecs.is_empty(), "{nsecs:?}");
    let sig = d
        .answer
        .iter()
        .find(|r| r.rtype == "RRSIG")
        .expect("signed");
    assert!(sig.data.starts_with("TXT 13 4 "), "{}", sig.data);
    assert_eq!(s.dig("nope.example.com A").status, "NXDOMAIN");
    assert_eq!(s.dig("+dnssec www.example.com TYPE128").status, "FORMERR");
}

/// Without DO, a signed zone answers byte for byte as the same zone unsigned: no
/// signature, no chain, no other size; only the types signing adds (DNSKEY, CDS,
/// CDNSKEY, NSEC3PARAM at the apex) are new.
#[test]
fn answers_without_do_are_those_of_the_zone_unsigned() {
    let policy = "[[record]]\nname = \"lb\"\ntype = \"A\"\nttl = 60\nset_id = \"a\"\nweight = 1\nvalues = [\"192.0.2.9\"]\n";
    let zones = [
        ("example.com.zone", zone("example.com", SIGNED_ZONE)),
        ("example.com.toml", policy.to_string()),
    ];
    let zones: Vec<(&str, &str)> = zones.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let plain = Server::start(&zones, "");
    let signed = {
        let s = Server::start(&zones, DNSSEC);
        let dir = s.config_path().parent().unwrap().to_path_buf();
        hadns(&dir, &["keygen", "example.com"]);
        s.sighup();
        common::wait_for("the zone signed", || {
            !s.dig("+dnssec example.com DNSKEY").answer.is_empty()
        });
        s
    };
    let questions = [
        ("www.example.com", 1),
        ("www.example.com", 16),
        ("nope.example.com", 1),
        ("a.nope.example.com", 28),
        ("deep.example.com", 1),
        ("alias.example.com", 1),
        ("x.old.example.com", 1),
        ("bob.users.example.com", 16),
        ("bob.users.example.com", 1),
        ("x.secure.example.com", 1),
        ("insecure.example.com", 43),
        ("example.com", 6),
        ("example.com", 2),
        ("lb.example.com", 1),
        ("lb.example.com", 28),
    ];
    for (i, (name, qtype)) in questions.iter().enumerate() {
        for edns in [false, true] {
            let q = common::query(i as u16, name, *qtype, edns);
            assert_eq!(
                signed.udp(&q),
                plain.udp(&q),
                "{name} type {qtype}, EDNS {edns}"
            );
        }
    }
    assert!(plain.dig("example.com DNSKEY").answer.is_empty());
    assert!(!signed.dig("example.com DNSKEY").answer.is_empty());
}
