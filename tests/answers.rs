//! What an authoritative server answers, through real `dig` queries against a real
//! hadns on loopback.

mod common;
use common::{zone, Server};

fn example_server() -> Server {
    let body = r#"
www        A     192.0.2.10
           AAAA  2001:db8::10
mixed      A     192.0.2.11
a.b.c      A     192.0.2.12          ; b.c and c are empty non-terminals
mail       A     192.0.2.25
@          MX    10 mail
_sip._tcp  SRV   10 60 5060 sip
sip        A     192.0.2.30
           AAAA  2001:db8::30
alias1     CNAME alias2
alias2     CNAME www
loop1      CNAME loop2
loop2      CNAME loop1
outside    CNAME www.elsewhere.test.
dangling   CNAME nothing-here
old        DNAME new
api.new    A     192.0.2.40
far        DNAME a.very.long.name.with.many.labels.to.overflow.the.limit.of.255.octets.when.substituted.into.a.long.query.name.example.net.
child      NS    ns1.child
child      NS    ns.elsewhere.test.
ns1.child  A     192.0.2.53
child      DS    60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118
nods       NS    ns1.nods
ns1.nods   A     192.0.2.54
"#;
    Server::start(
        &[
            ("example.com.zone", &zone("example.com", body)),
            (
                "sub.example.com.zone",
                &zone("sub.example.com", "www A 192.0.2.99"),
            ),
        ],
        "",
    )
}

#[test]
fn authoritative_answer_sets_aa_and_echoes_question_case() {
    let s = example_server();
    let d = s.dig("WwW.ExAmPlE.cOm A");
    assert_eq!(d.status, "NOERROR");
    assert!(d.has_flag("aa"), "{}", d.raw);
    assert_eq!(d.question, "WwW.ExAmPlE.cOm.");
    assert_eq!(d.answer_data("A"), ["192.0.2.10"]);
}

#[test]
fn nxdomain_and_nodata_carry_soa_with_negative_ttl() {
    // SOA TTL 3600, minimum 300: negative answers say 300.
    let s = example_server();
    let nx = s.dig("nope.example.com A");
    assert_eq!(nx.status, "NXDOMAIN");
    assert!(nx.has_flag("aa"));
    assert!(nx.answer.is_empty());
    assert_eq!(nx.authority.len(), 1);
    assert_eq!(nx.authority[0].rtype, "SOA");
    assert_eq!(nx.authority[0].name, "example.com.");
    assert_eq!(nx.authority[0].ttl, 300);

    let nodata = s.dig("www.example.com TXT");
    assert_eq!(nodata.status, "NOERROR");
    assert!(nodata.answer.is_empty());
    assert_eq!(nodata.authority[0].rtype, "SOA");
    assert_eq!(nodata.authority[0].ttl, 300);

    // SOA TTL 60 below its minimum 300: the SOA TTL wins.
    let low = Server::start(
        &[(
            "low.test.zone",
            "$ORIGIN low.test.\n@ 60 SOA ns1 h 1 2 3 4 300\n@ 60 NS ns1\nns1 60 A 192.0.2.1\n",
        )],
        "",
    );
    let nx = low.dig("x.low.test A");
    assert_eq!(nx.status, "NXDOMAIN");
    assert_eq!(nx.authority[0].ttl, 60);
}

#[test]
fn empty_non_terminals_answer_nodata() {
    let s = example_server();
    for name in ["b.c.example.com", "c.example.com"] {
        let d = s.dig(&format!("{name} A"));
        assert_eq!(d.status, "NOERROR", "{name}: {}", d.raw);
        assert!(d.answer.is_empty());
        assert_eq!(Server::types_of(&d.authority), ["SOA"]);
    }
    assert_eq!(s.dig("x.b.c.example.com A").status, "NXDOMAIN");
}

trait Types {
    fn types_of(section: &[common::Rr]) -> Vec<String>;
}
impl Types for Server {
    fn types_of(section: &[common::Rr]) -> Vec<String> {
        common::Dig::types(section)
    }
}

#[test]
fn names_below_a_cut_get_a_referral_with_glue() {
    let s = example_server();
    for q in [
        "child.example.com A",
        "host.child.example.com A",
        "child.example.com NS",
    ] {
        let d = s.dig(q);
        assert_eq!(d.status, "NOERROR", "{q}");
        assert!(!d.has_flag("aa"), "{q}: a referral is not authoritative");
        assert!(d.answer.is_empty(), "{q}");
        let mut ns: Vec<_> = d
            .authority
            .iter()
            .map(|r| (r.rtype.as_str(), r.data.as_str()))
            .collect();
        ns.sort();
        assert_eq!(
            ns,
            [
                ("NS", "ns.elsewhere.test."),
                ("NS", "ns1.child.example.com.")
            ],
            "{q}"
        );
        // Glue for the in-zone name server only.
        assert_eq!(d.additional.len(), 1, "{q}: {}", d.raw);
        assert_eq!(d.additional[0].name, "ns1.child.example.com.");
        assert_eq!(d.additional[0].data, "192.0.2.53");
    }
}

#[test]
fn ds_at_a_cut_is_answered_by_the_parent() {
    let s = example_server();
    let d = s.dig("child.example.com DS");
    assert!(d.has_flag("aa"), "{}", d.raw);
    assert_eq!(d.answer.len(), 1);
    assert!(
        d.answer[0].data.starts_with("60485 5 1 2BB183AF"),
        "{}",
        d.raw
    );

    let none = s.dig("nods.example.com DS");
    assert!(none.has_flag("aa"));
    assert_eq!(none.status, "NOERROR");
    assert!(none.answer.is_empty());
    assert_eq!(Server::types_of(&none.authority), ["SOA"]);

    // sub.example.com is its own zone here, so its DS is answered from example.com.
    let apex = s.dig("sub.example.com DS");
    assert_eq!(apex.authority[0].name, "example.com.", "{}", apex.raw);
    // Every other type at sub.example.com comes from the child zone.
    assert_eq!(
        s.dig("www.sub.example.com A").answer_data("A"),
        ["192.0.2.99"]
    );
}

#[test]
fn cname_chains_are_followed_inside_the_zone() {
    let s = example_server();
    let d = s.dig("alias1.example.com A");
    assert_eq!(d.status, "NOERROR");
    let chain: Vec<_> = d
        .answer
        .iter()
        .map(|r| (r.name.as_str(), r.rtype.as_str(), r.data.as_str()))
        .collect();
    assert_eq!(
        chain,
        [
            ("alias1.example.com.", "CNAME", "alias2.example.com."),
            ("alias2.example.com.", "CNAME", "www.example.com."),
            ("www.example.com.", "A", "192.0.2.10"),
        ]
    );
    // The CNAME itself when asked for.
    assert_eq!(s.dig("alias1.example.com CNAME").answer.len(), 1);
    // A loop ends; each CNAME appears once.
    let l = s.dig("loop1.example.com A");
    assert_eq!(l.status, "NOERROR");
    assert_eq!(l.answer.len(), 2, "{}", l.raw);
    // Out of the zone: the CNAME alone.
    let o = s.dig("outside.example.com A");
    assert_eq!(o.answer.len(), 1);
    assert!(o.authority.is_empty());
    // To a name that does not exist: RFC 6604, the rcode of the last step.
    let n = s.dig("dangling.example.com A");
    assert_eq!(n.status, "NXDOMAIN");
    assert_eq!(n.answer.len(), 1);
    assert_eq!(Server::types_of(&n.authority), ["SOA"]);
}

#[test]
fn dname_synthesises_a_cname() {
    let s = example_server();
    let d = s.dig("api.old.example.com A");
    assert_eq!(d.status, "NOERROR");
    let got: Vec<_> = d
        .answer
        .iter()
        .map(|r| (r.name.as_str(), r.rtype.as_str(), r.data.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("old.example.com.", "DNAME", "new.example.com."),
            ("api.old.example.com.", "CNAME", "api.new.example.com."),
            ("api.new.example.com.", "A", "192.0.2.40"),
        ]
    );
    // A literal `*` label is carried over like any other.
    let star = s.dig("*.api.old.example.com A");
    assert_eq!(
        star.answer_data("CNAME"),
        ["*.api.new.example.com."],
        "{}",
        star.raw
    );
    // The DNAME owner itself is not redirected.
    assert_eq!(s.dig("old.example.com DNAME").answer.len(), 1);
    assert_eq!(s.dig("old.example.com A").answer.len(), 0);
    // A substitution that would exceed 255 octets is YXDOMAIN (RFC 6672 §2.2).
    let long = format!(
        "{}.far.example.com",
        ["abcdefghijklmnopqrstuvwxyz0123456789"; 5].join(".")
    );
    let y = s.dig(&format!("{long} A"));
    assert_eq!(y.status, "YXDOMAIN", "{}", y.raw);
}

/// The example zone of RFC 4592 §2.2.1 and the answers of §2.2.1/§3.3.
#[test]
fn wildcards_follow_rfc4592() {
    let z = "$ORIGIN example.\n$TTL 3600\n\
        @ SOA ns.example.com. hostmaster 1 2 3 4 300\n\
        @ NS ns.example.com.\n@ NS ns.example.net.\n\
        *.example. TXT \"this is a wildcard\"\n\
        *.example. MX 10 host1.example.\n\
        sub.*.example. TXT \"this is not a wildcard\"\n\
        host1.example. A 192.0.2.1\n\
        _ssh._tcp.host1.example. SRV 0 0 22 host1.example.\n\
        _ssh._tcp.host2.example. SRV 0 0 22 host2.example.\n\
        subdel.example. NS ns.example.com.\n\
        subdel.example. NS ns.example.net.\n\
        *.users.deep.example. TXT \"a user\"\n";
    let s = Server::start(&[("example.zone", z)], "");
    // A wildcard below empty non-terminals (users.deep, deep): they exist, with no data,
    // and the wildcard answers for the names below them.
    assert_eq!(
        s.dig("bob.users.deep.example TXT").answer_data("TXT"),
        ["\"a user\""]
    );
    for ent in ["users.deep.example TXT", "deep.example TXT"] {
        let d = s.dig(ent);
        assert_eq!((d.status.as_str(), d.answer.len()), ("NOERROR", 0), "{ent}");
    }
    // Synthesised from the wildcard, owner = the query name.
    let mx = s.dig("host3.example MX");
    assert_eq!(mx.status, "NOERROR");
    assert_eq!(mx.answer.len(), 1);
    assert_eq!(mx.answer[0].name, "host3.example.");
    assert_eq!(mx.answer[0].data, "10 host1.example.");
    // The wildcard exists but not with this type: NODATA.
    let a = s.dig("host3.example A");
    assert_eq!((a.status.as_str(), a.answer.len()), ("NOERROR", 0));
    assert_eq!(Server::types_of(&a.authority), ["SOA"]);
    // Several labels deep.
    assert_eq!(
        s.dig("foo.bar.example TXT").answer_data("TXT"),
        ["\"this is a wildcard\""]
    );
    // Existing names are never matched through the wildcard.
    assert_eq!(s.dig("host1.example MX").answer.len(), 0);
    assert_eq!(s.dig("sub.*.example MX").answer.len(), 0);
    assert_eq!(s.dig("sub.*.example MX").status, "NOERROR");
    // Closest encloser _tcp.host1.example has no wildcard child: NXDOMAIN.
    assert_eq!(s.dig("_telnet._tcp.host1.example SRV").status, "NXDOMAIN");
    // `*.example` exists, so ghost.*.example looks for *.*.example, which does not.
    assert_eq!(s.dig("ghost.*.example MX").status, "NXDOMAIN");
    // Below a cut: a referral, not the wildcard.
    let r = s.dig("host.subdel.example A");
    assert!(!r.has_flag("aa"));
    assert_eq!(r.authority.len(), 2);
}

#[test]
fn any_is_minimal_over_udp_and_full_over_tcp() {
    let s = example_server();
    let udp = s.dig("example.com ANY +notcp");
    assert_eq!(udp.transport, "UDP");
    let types: std::collections::BTreeSet<_> = udp.answer.iter().map(|r| r.rtype.clone()).collect();
    assert_eq!(
        types.len(),
        1,
        "RFC 8482: one RRset over UDP, got {}",
        udp.raw
    );
    let tcp = s.dig("example.com ANY +tcp");
    let types: std::collections::BTreeSet<_> = tcp.answer.iter().map(|r| r.rtype.clone()).collect();
    assert_eq!(types.into_iter().collect::<Vec<_>>(), ["MX", "NS", "SOA"]);
}

#[test]
fn names_outside_every_zone_are_refused() {
    let s = example_server();
    for q in ["example.org A", "com SOA", ". NS"] {
        let d = s.dig(q);
        assert_eq!(d.status, "REFUSED", "{q}");
        assert!(!d.has_flag("aa"));
        assert!(d.answer.is_empty());
    }
}

#[test]
fn additional_addresses_for_ns_mx_and_srv_targets() {
    let s = example_server();
    let mx = s.dig("example.com MX");
    assert_eq!(
        mx.additional
            .iter()
            .map(|r| (r.name.as_str(), r.data.as_str()))
            .collect::<Vec<_>>(),
        [("mail.example.com.", "192.0.2.25")]
    );
    let srv = s.dig("_sip._tcp.example.com SRV");
    let mut add: Vec<_> = srv
        .additional
        .iter()
        .map(|r| (r.rtype.as_str(), r.data.as_str()))
        .collect();
    add.sort();
    assert_eq!(add, [("A", "192.0.2.30"), ("AAAA", "2001:db8::30")]);
    let ns = s.dig("example.com NS");
    assert_eq!(ns.additional.len(), 1);
    assert_eq!(ns.additional[0].name, "ns1.example.com.");
}

#[test]
fn serves_ipv6_and_tcp_listeners() {
    let s = example_server();
    let v6 = common::dig_at("::1", s.port, "www.example.com AAAA");
    assert_eq!(v6.answer_data("AAAA"), ["2001:db8::10"]);
    let tcp = s.dig("www.example.com A +tcp");
    assert_eq!(tcp.transport, "TCP");
    assert_eq!(tcp.answer_data("A"), ["192.0.2.10"]);
}

#[test]
fn every_required_record_type_loads_and_answers() {
    let body = r#"
t  A      192.0.2.1
t  AAAA   2001:db8::1
t  CAA    0 issue "letsencrypt.org"
t  TXT    "hello world" "second string"
t  MX     10 mail
t  SRV    1 2 3 target
t  PTR    host.example.net.
t  NAPTR  100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .
t  SSHFP  1 1 dd465c09cfa51fb45020cc83316fff21b9ec74ac
t  TLSA   3 1 1 0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6
t  HTTPS  1 . alpn=h2,h3
t  SVCB   1 svc port=8443
t  DS     12345 13 2 ( 2BB183AF5F22588179A53B0A98631FAD1A292118
                      2BB183AF5F22588179A53B0A )
cn CNAME  t
dn DNAME  t
"#;
    let s = Server::start(&[("types.test.zone", &zone("types.test", body))], "");
    for (t, want) in [
        ("A", "192.0.2.1"),
        ("AAAA", "2001:db8::1"),
        ("CAA", "0 issue \"letsencrypt.org\""),
        ("TXT", "\"hello world\" \"second string\""),
        ("MX", "10 mail.types.test."),
        ("SRV", "1 2 3 target.types.test."),
        ("PTR", "host.example.net."),
        ("SSHFP", "1 1 DD465C09CFA51FB45020CC83316FFF21B9EC74AC"),
        ("HTTPS", "1 . alpn=\"h2,h3\""),
        ("SVCB", "1 svc.types.test. port=8443"),
    ] {
        let d = s.dig(&format!("t.types.test {t}"));
        assert_eq!(d.answer_data(t), [want], "{t}: {}", d.raw);
    }
    for t in ["NAPTR", "TLSA", "DS"] {
        assert_eq!(
            s.dig(&format!("t.types.test {t}")).answer_data(t).len(),
            1,
            "{t}"
        );
    }
    assert_eq!(
        s.dig("cn.types.test CNAME").answer_data("CNAME"),
        ["t.types.test."]
    );
    assert_eq!(
        s.dig("dn.types.test DNAME").answer_data("DNAME"),
        ["t.types.test."]
    );
    assert_eq!(s.dig("types.test SOA").answer.len(), 1);
    assert_eq!(s.dig("types.test NS").answer.len(), 1);
}
