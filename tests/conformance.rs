//! Zone files read as NSD and Knot read them, and the protocol corners they get right:
//! one test per point, against the real server with `dig` and raw packets.
//! (`tests/differential.rs` holds hadns to NSD's and Knot's answers as a whole.)

mod common;
use common::{check, zone, Server};

fn serve(body: &str) -> Server {
    Server::start(&[("example.com.zone", &zone("example.com", body))], "")
}

fn check_zone(body: &str) -> (bool, String) {
    let dir = common::config_dir(&[("example.com.zone", &zone("example.com", body))], "");
    check(&dir.path().join("hadns.toml"))
}

#[test]
fn decimal_escapes_are_one_octet_in_strings_and_names() {
    let s = serve("t TXT \"\\065\\066C\"\ns23\\065 A 192.0.2.23\nm MX 10 s23\\065");
    assert_eq!(s.dig("t.example.com TXT").answer_data("TXT"), ["\"ABC\""]);
    let d = s.dig("s23A.example.com A");
    assert_eq!(d.answer_data("A"), ["192.0.2.23"], "{}", d.raw);
    assert_eq!(s.dig("s235.example.com A").status, "NXDOMAIN");
    let d = s.dig("m.example.com MX");
    assert_eq!(d.answer_data("MX"), ["10 s23A.example.com."], "{}", d.raw);
}

#[test]
fn labels_with_any_octet_load_and_answer() {
    let s = serve(
        "a\\ b A 192.0.2.1\na\\;b A 192.0.2.2\na\\(b\\) A 192.0.2.3\na\\\\b A 192.0.2.4\n\
         \\200x A 192.0.2.5\nnul\\000 A 192.0.2.6\na*b A 192.0.2.7\n-lead A 192.0.2.8\n\
         0/25.2.0.192 PTR host.example.com.",
    );
    for (name, addr) in [
        ("a\\032b", "192.0.2.1"),
        ("a\\;b", "192.0.2.2"),
        ("a\\(b\\)", "192.0.2.3"),
        ("a\\\\b", "192.0.2.4"),
        ("\\200x", "192.0.2.5"),
        ("nul\\000", "192.0.2.6"),
        ("a*b", "192.0.2.7"),
        // dig would take a bare "-lead…" for an option.
        ("-q -lead", "192.0.2.8"),
    ] {
        let d = s.dig(&format!("{name}.example.com A"));
        assert_eq!(d.answer_data("A"), [addr], "{name}: {}", d.raw);
    }
    let d = s.dig("0/25.2.0.192.example.com PTR");
    assert_eq!(d.answer_data("PTR"), ["host.example.com."], "{}", d.raw);
}

#[test]
fn a_cname_query_below_a_dname_gets_the_dname_and_the_synthesised_cname() {
    let s = serve("old DNAME new.example.com.\nx.new A 192.0.2.9");
    let d = s.dig("x.old.example.com CNAME");
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert_eq!(Dig::types(&d.answer), ["DNAME", "CNAME"], "{}", d.raw);
    assert_eq!(d.answer_data("CNAME"), ["x.new.example.com."]);
}

use common::Dig;

#[test]
fn a_dname_is_answered_once_however_often_a_chain_passes_it() {
    let s = serve("loop DNAME sub.loop.example.com.");
    let d = s.dig("q.loop.example.com A");
    let dnames = d.answer.iter().filter(|r| r.rtype == "DNAME").count();
    assert_eq!(dnames, 1, "{}", d.raw);
}

#[test]
fn data_below_a_dname_is_refused_at_its_line() {
    let (ok, out) = check_zone("old DNAME new.example.com.\nx.old A 192.0.2.1");
    assert!(!ok, "{out}");
    assert!(
        out.contains("example.com.zone:7: x.old.example.com. A is below the DNAME"),
        "{out}"
    );
}

#[test]
fn svcb_keys_in_any_order_quoted_escaped_and_generic() {
    let s = serve(
        "web HTTPS 1 . port=443 alpn=h3,h2\nq SVCB 1 . alpn=\"h2\" port=\"8443\"\n\
         c SVCB 1 . alpn=\"a\\\\,b,c\" key65000=x\ng SVCB 1 . key3=8443",
    );
    for transport in ["", "+tcp"] {
        let d = s.dig(&format!("web.example.com HTTPS {transport}"));
        assert!(!d.has_flag("tc"), "{}", d.raw);
        assert_eq!(
            d.answer_data("HTTPS"),
            ["1 . alpn=\"h3,h2\" port=443"],
            "{}",
            d.raw
        );
    }
    assert_eq!(
        s.dig("q.example.com SVCB").answer_data("SVCB"),
        ["1 . alpn=\"h2\" port=8443"]
    );
    let d = s.dig("c.example.com SVCB");
    assert_eq!(
        d.answer_data("SVCB"),
        ["1 . alpn=\"a\\\\,b,c\" key65000=\"x\""],
        "{}",
        d.raw
    );
    assert_eq!(
        s.dig("g.example.com SVCB").answer_data("SVCB"),
        ["1 . port=8443"]
    );
}

#[test]
fn invalid_svcb_sets_are_refused_at_their_line() {
    for (body, message) in [
        ("s SVCB 1 . port=1 port=2", "appears twice"),
        ("s SVCB 1 . mandatory=alpn port=1", "does not have"),
        ("s SVCB 1 . alpn=", "an empty item"),
    ] {
        let (ok, out) = check_zone(body);
        assert!(!ok, "{body}: {out}");
        assert!(
            out.contains("example.com.zone:6:") && out.contains(message),
            "{body}: {out}"
        );
    }
}

#[test]
fn cert_mnemonics_split_data_and_generic_syntax_load() {
    let s = serve(
        "cert CERT PKIX 12345 RSASHA256 ( MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n MIIBCgKCAQEA )\n\
         sshfp SSHFP 1 1 ( 123456789abcdef67890\n 123456789abcdef67890 )\n\
         pgp OPENPGPKEY ( mQENBFwBr2IBCADX\n WW0mZbX2hQ== )\n\
         gen TYPE65000 \\# 4 0a000001\ngen A \\# 4 c0000209\nempty TYPE65001 \\# 0",
    );
    let d = s.dig("cert.example.com CERT");
    assert_eq!(d.answer.len(), 1, "{}", d.raw);
    assert!(
        d.answer[0].data.starts_with("PKIX 12345 RSASHA256"),
        "{}",
        d.raw
    );
    let d = s.dig("sshfp.example.com SSHFP");
    assert_eq!(
        d.answer_data("SSHFP"),
        ["1 1 123456789ABCDEF67890123456789ABCDEF67890"],
        "{}",
        d.raw
    );
    assert_eq!(s.dig("pgp.example.com OPENPGPKEY").answer.len(), 1);
    let d = s.dig("gen.example.com TYPE65000");
    assert_eq!(d.answer_data("TYPE65000"), ["\\# 4 0A000001"], "{}", d.raw);
    assert_eq!(s.dig("gen.example.com A").answer_data("A"), ["192.0.2.9"]);
    let d = s.dig("empty.example.com TYPE65001");
    assert_eq!(d.answer_data("TYPE65001"), ["\\# 0"], "{}", d.raw);
}

/// A query with no question but a valid OPT: FORMERR, with an OPT (RFC 6891 §7).
#[test]
fn formerr_keeps_a_valid_opt() {
    let s = serve("");
    let mut q = vec![0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    let r = s.udp(&q).expect("an answer");
    assert_eq!(r[3] & 0x0f, 1, "FORMERR");
    assert_eq!(
        u16::from_be_bytes([r[10], r[11]]),
        1,
        "one additional: the OPT"
    );
    assert_eq!(&r[r.len() - 11..r.len() - 8], &[0, 0, 41]);
}

#[test]
fn a_query_signed_with_an_unknown_key_gets_notauth_badkey() {
    let s = serve("www A 192.0.2.1");
    let d = s.dig("-y hmac-sha256:nokey:c2VjcmV0c2VjcmV0c2VjcmV0 www.example.com A");
    assert_eq!(d.status, "NOTAUTH", "{}", d.raw);
    assert!(d.answer.is_empty(), "{}", d.raw);
    assert!(d.raw.contains("BADKEY"), "{}", d.raw);
}

#[test]
fn id_server_answers_the_nsid_or_is_refused() {
    let with = Server::start(
        &[("example.com.zone", &zone("example.com", ""))],
        "nsid = \"ns-a\"",
    );
    for name in ["id.server", "hostname.bind", "ID.SERVER"] {
        let d = with.dig(&format!("{name} CH TXT"));
        assert_eq!(d.status, "NOERROR", "{}", d.raw);
        assert!(d.raw.contains("CH\tTXT\t\"ns-a\""), "{}", d.raw);
    }
    assert_eq!(with.dig("version.bind CH TXT").status, "REFUSED");
    let without = serve("");
    let d = without.dig("id.server CH TXT");
    assert_eq!(d.status, "REFUSED", "{}", d.raw);
    assert!(d.raw.contains("EDE: 21"), "{}", d.raw);
}

#[test]
fn refusals_say_why_in_an_extended_dns_error() {
    let s = serve("");
    let d = s.dig("example.org A");
    assert_eq!(d.status, "REFUSED");
    assert!(d.raw.contains("EDE: 20 (Not Authoritative)"), "{}", d.raw);
    // dig says only "Transfer failed" of a refused AXFR: read the OPT ourselves.
    let mut tcp = common::tcp_connect(s.addr());
    common::tcp_send(&mut tcp, &common::query(7, "example.com", 252, true));
    let r = common::tcp_recv(&mut tcp).expect("an answer");
    assert_eq!(r[3] & 0x0f, 5, "REFUSED");
    let prohibited = |w: &[u8]| w[..2] == [0, 15] && w[4..] == [0, 18];
    assert!(r.windows(6).any(prohibited), "EDE 18 in {r:?}");
    // Without EDNS there is nowhere to say it.
    let d = s.dig("+noedns example.org A");
    assert_eq!(d.status, "REFUSED");
    assert!(!d.raw.contains("EDE"), "{}", d.raw);
}

/// RFC 7873 §5.2.2: a COOKIE option of a length no cookie has is a FORMERR (with the
/// OPT); a client cookie alone, or with a server cookie, is answered.
#[test]
fn a_malformed_cookie_gets_formerr() {
    let s = serve("www A 192.0.2.1");
    let with_cookie = |len: u16| {
        let mut q = common::query(9, "www.example.com", 1, false);
        q[11] = 1; // ARCOUNT
        q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
        q.extend_from_slice(&(4 + len).to_be_bytes());
        q.extend_from_slice(&[0, 10]);
        q.extend_from_slice(&len.to_be_bytes());
        q.extend(std::iter::repeat_n(7u8, len as usize));
        s.udp(&q).expect("an answer")
    };
    for bad in [0, 5, 9, 15, 41] {
        let r = with_cookie(bad);
        assert_eq!(r[3] & 0x0f, 1, "FORMERR for a {bad}-octet cookie");
        assert_eq!(u16::from_be_bytes([r[10], r[11]]), 1, "with the OPT");
    }
    for good in [8, 16, 40] {
        let r = with_cookie(good);
        assert_eq!(r[3] & 0x0f, 0, "NOERROR for a {good}-octet cookie");
    }
}
