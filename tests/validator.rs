//! Unbound, a validating resolver, in front of hadns in a private network namespace:
//! a stand-in root (127.0.0.2) delegates example.com to hadns (127.0.0.3), which signs
//! it and delegates a signed child (DS in the parent) and an unsigned one to a second
//! hadns (127.0.0.5). Unbound (127.0.0.1) starts from the stand-in root and trusts
//! example.com's DS, as `hadns ds` prints it; it follows the referrals itself, which a
//! stub validator such as delv cannot. Needs root, Unbound and BIND's tools.

mod common;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{dig_at, hadns_bin, Dig};

/// An authoritative hadns on port 53 of `ip` in the test's namespace, its API on 8053.
struct Authority {
    ip: &'static str,
    dir: tempfile::TempDir,
    child: Child,
}

impl Drop for Authority {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TOKEN: &str = "validator-test-token-long-enough";

impl Authority {
    /// Writes `zones` and a config for `ip` with `extra` appended, lets `make_keys` put
    /// keys in (it is given the config's directory, keys go in `keys/`), and starts the
    /// server.
    fn start(
        ip: &'static str,
        zones: &[(&str, String)],
        make_keys: impl FnOnce(&Path),
        denial: &str,
        extra: &str,
    ) -> Authority {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("zones")).unwrap();
        for (name, text) in zones {
            std::fs::write(dir.path().join("zones").join(name), text).unwrap();
        }
        let token = dir.path().join("token");
        std::fs::write(&token, TOKEN).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(
            dir.path().join("hadns.toml"),
            format!(
                "[server]\nlisten = [\"{ip}:53\"]\nzones_dir = \"zones\"\nthreads = 1\n\
                 [dnssec]\nkeys_dir = \"keys\"\ndenial = \"{denial}\"\n\
                 [http]\nlisten = \"{ip}:8053\"\ntoken_file = \"token\"\n{extra}"
            ),
        )
        .unwrap();
        make_keys(dir.path());
        let log = std::fs::File::create(dir.path().join("hadns.log")).unwrap();
        let child = Command::new(hadns_bin())
            .args(["serve", "--config"])
            .arg(dir.path().join("hadns.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut a = Authority { ip, dir, child };
        common::wait_for(&format!("hadns on {ip}"), || {
            if let Ok(Some(status)) = a.child.try_wait() {
                let log = std::fs::read_to_string(a.dir.path().join("hadns.log"));
                panic!(
                    "hadns on {ip} stopped ({status}): {}",
                    log.unwrap_or_default()
                );
            }
            !dig_at(ip, 53, ". SOA").status.is_empty()
        });
        a
    }

    fn ds(&self, zone: &str) -> String {
        hadns(self.dir.path(), &["ds", zone])
    }

    fn http(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let addr = format!("{}:8053", self.ip).parse().unwrap();
        common::http_request_to(addr, method, path, Some(TOKEN), body)
    }
}

/// Gives `zone` a fresh combined key (`hadns keygen`).
fn keygen(zone: &str) -> impl FnOnce(&Path) + '_ {
    move |dir| {
        hadns(dir, &["keygen", zone]);
    }
}

fn hadns(config_dir: &Path, args: &[&str]) -> String {
    common::hadns_ok(&config_dir.join("hadns.toml"), args)
}

/// Unbound, validating, on 127.0.0.1:53; stopped on drop.
struct Unbound {
    dir: tempfile::TempDir,
    child: Child,
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Unbound {
    /// Starts Unbound with the stand-in root as its hints and `ds` (a line of
    /// `hadns ds`) as its only trust anchor.
    fn start(ds: &str) -> Unbound {
        let dir = tempfile::tempdir().unwrap();
        let hints = dir.path().join("root.hints");
        std::fs::write(
            &hints,
            ". 3600000 NS a.root-servers.test.\na.root-servers.test. 3600000 A 127.0.0.2\n",
        )
        .unwrap();
        let conf = dir.path().join("unbound.conf");
        std::fs::write(
            &conf,
            format!(
                "server:\n  interface: 127.0.0.1\n  port: 53\n  do-ip6: no\n  \
                 do-not-query-localhost: no\n  access-control: 127.0.0.0/8 allow\n  \
                 username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"\"\n  \
                 use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n  val-log-level: 2\n  \
                 module-config: \"validator iterator\"\n  root-hints: \"{h}\"\n  \
                 trust-anchor: \"{ds}\"\n",
                d = dir.path().display(),
                h = hints.display(),
                ds = ds.trim()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("unbound.log")).unwrap();
        let child = Command::new("unbound")
            .args(["-d", "-c"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let u = Unbound { dir, child };
        common::wait_for("unbound to answer", || {
            u.ask("example.com SOA").status == "NOERROR"
        });
        u
    }

    /// A recursive query with DO, as a validating stub would send it.
    fn ask(&self, question: &str) -> Dig {
        dig_at("127.0.0.1", 53, &format!("+rec +dnssec {question}"))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("unbound.log")).unwrap_or_default()
    }
}

const PARENT: &str = "$ORIGIN example.com.\n$TTL 300\n\
    @ 3600 SOA ns1 hostmaster ( 1 14400 3600 1209600 300 )\n  3600 NS ns1\n\
    ns1 A 127.0.0.3\nwww A 192.0.2.1\nwww AAAA 2001:db8::1\nmail MX 10 www\n\
    alias CNAME alias2\nalias2 CNAME www\nold DNAME new\nhost.new A 192.0.2.40\n\
    *.users TXT \"any user\"\na.b.deep A 192.0.2.2\n\
    secure NS ns.secure\nns.secure A 127.0.0.5\n\
    insecure NS ns.insecure\nns.insecure A 127.0.0.5\n";

/// One record set per routing policy, and a failover pair whose primary is forced by
/// override.
fn policies() -> String {
    let set = |name: &str, id: &str, policy: &str, value: &str| {
        format!(
            "[[record]]\nname = \"{name}\"\ntype = \"A\"\nttl = 1\nset_id = \"{id}\"\n{policy}\nvalues = [\"{value}\"]\n"
        )
    };
    [
        common::forced_check("lb", true),
        set(
            "lb",
            "p",
            "failover = \"primary\"\nhealth_check = \"lb\"",
            "192.0.2.21",
        ),
        set("lb", "s", "failover = \"secondary\"", "192.0.2.22"),
        set("api", "blue", "weight = 3", "192.0.2.31"),
        set("api", "green", "weight = 1", "192.0.2.32"),
        set("lat", "eu", "region = \"eu-west\"", "192.0.2.41"),
        set("lat", "us", "region = \"us-east\"", "192.0.2.42"),
        set("geo", "de", "geo = { country = \"DE\" }", "192.0.2.51"),
        set("geo", "any", "geo = { country = \"*\" }", "192.0.2.52"),
        set("nogeo", "de", "geo = { country = \"DE\" }", "192.0.2.53"),
        set(
            "prox",
            "eu",
            "geoproximity = { region = \"eu-west\" }",
            "192.0.2.61",
        ),
        set(
            "prox",
            "us",
            "geoproximity = { region = \"us-east\" }",
            "192.0.2.62",
        ),
        set("mv", "one", "multivalue = true", "192.0.2.71"),
        set("mv", "two", "multivalue = true", "192.0.2.72"),
        set("office", "lab", "cidr = { location = \"lab\" }", "192.0.2.81"),
        set("office", "rest", "cidr = { location = \"*\" }", "192.0.2.82"),
        "[[cidr_location]]\nname = \"lab\"\nnetworks = [\"198.51.100.0/24\"]\n".into(),
        "[[record]]\nname = \"al\"\ntype = \"A\"\nset_id = \"only\"\nweight = 1\nalias = { target = \"api\", evaluate_target_health = false }\n"
            .into(),
    ]
    .concat()
}

const REGIONS: &str = "[[region]]\nid = \"eu-west\"\nlocation = { lat = 53.3, lon = -6.3 }\n\
    [[region]]\nid = \"us-east\"\nlocation = { lat = 38.9, lon = -77.0 }\n";

fn child_zone(origin: &str) -> String {
    format!(
        "$ORIGIN {origin}.\n$TTL 300\n@ 3600 SOA ns hostmaster ( 1 14400 3600 1209600 300 )\n  \
         3600 NS ns\nns A 127.0.0.5\nwww A 192.0.2.90\n"
    )
}

fn ready() -> bool {
    common::can_run(
        "root (a private network), unbound and dnssec-keygen (Debian packages unbound, bind9-utils)",
        common::is_root() && common::installed("unbound") && common::installed("dnssec-keygen"),
    )
}

/// The stand-in root, the signed parent (`denial` as given, its keys made by
/// `parent_keys`) and the children, and Unbound trusting the parent's DS. The parent
/// comes first, for overrides.
fn network(denial: &str, parent_keys: impl FnOnce(&Path)) -> (Vec<Authority>, Unbound) {
    common::private_network();
    let children = Authority::start(
        "127.0.0.5",
        &[
            ("secure.example.com.zone", child_zone("secure.example.com")),
            (
                "insecure.example.com.zone",
                child_zone("insecure.example.com"),
            ),
        ],
        keygen("secure.example.com"),
        denial,
        "",
    );
    let child_ds = children.ds("secure.example.com");
    let ds_rdata: Vec<&str> = child_ds.split_whitespace().skip(3).collect();
    let parent = Authority::start(
        "127.0.0.3",
        &[
            (
                "example.com.zone",
                format!("{PARENT}secure DS {}\n", ds_rdata.join(" ")),
            ),
            ("example.com.toml", policies()),
        ],
        parent_keys,
        denial,
        REGIONS,
    );
    let root = Authority::start(
        "127.0.0.2",
        &[("..zone", ROOT.to_string())],
        |_| {},
        denial,
        "",
    );
    let unbound = Unbound::start(&parent.ds("example.com"));
    (vec![parent, root, children], unbound)
}

const ROOT: &str = "$ORIGIN .\n$TTL 86400\n\
    @ SOA a.root-servers.test. nstld.root-servers.test. ( 1 1800 900 604800 86400 )\n\
    @ NS a.root-servers.test.\na.root-servers.test. A 127.0.0.2\n\
    example.com. NS ns1.example.com.\nns1.example.com. A 127.0.0.3\n";

/// What Unbound must say of a question: its status, whether it is validated (AD), and
/// the addresses or text the answer holds (any one of them, for a weighted draw).
struct Case {
    question: &'static str,
    status: &'static str,
    secure: bool,
    data: &'static [&'static str],
}

const fn case(
    question: &'static str,
    status: &'static str,
    secure: bool,
    data: &'static [&'static str],
) -> Case {
    Case {
        question,
        status,
        secure,
        data,
    }
}

const CASES: &[Case] = &[
    case("www.example.com A", "NOERROR", true, &["192.0.2.1"]),
    case("www.example.com TXT", "NOERROR", true, &[]),
    case("nope.example.com A", "NXDOMAIN", true, &[]),
    case("a.nope.example.com A", "NXDOMAIN", true, &[]),
    case("deep.example.com A", "NOERROR", true, &[]),
    case(
        "bob.users.example.com TXT",
        "NOERROR",
        true,
        &["\"any user\""],
    ),
    case("bob.users.example.com A", "NOERROR", true, &[]),
    case("alias.example.com A", "NOERROR", true, &["192.0.2.1"]),
    case("host.old.example.com A", "NOERROR", true, &["192.0.2.40"]),
    case("example.com DNSKEY", "NOERROR", true, &[]),
    // A secure referral: the child is signed and its DS is in the parent.
    case("www.secure.example.com A", "NOERROR", true, &["192.0.2.90"]),
    case("nope.secure.example.com A", "NXDOMAIN", true, &[]),
    // An insecure referral: the parent proves there is no DS; the answer is insecure,
    // not bogus.
    case(
        "www.insecure.example.com A",
        "NOERROR",
        false,
        &["192.0.2.90"],
    ),
    // Every routing policy.
    case("lb.example.com A", "NOERROR", true, &["192.0.2.21"]),
    case("lb.example.com AAAA", "NOERROR", true, &[]),
    case(
        "api.example.com A",
        "NOERROR",
        true,
        &["192.0.2.31", "192.0.2.32"],
    ),
    case(
        "lat.example.com A",
        "NOERROR",
        true,
        &["192.0.2.41", "192.0.2.42"],
    ),
    case("geo.example.com A", "NOERROR", true, &["192.0.2.52"]),
    // Geolocation with no match and no default: NODATA for this client.
    case("nogeo.example.com A", "NOERROR", true, &[]),
    case(
        "prox.example.com A",
        "NOERROR",
        true,
        &["192.0.2.61", "192.0.2.62"],
    ),
    case("mv.example.com A", "NOERROR", true, &["192.0.2.71"]),
    case("office.example.com A", "NOERROR", true, &["192.0.2.82"]),
    case(
        "al.example.com A",
        "NOERROR",
        true,
        &["192.0.2.31", "192.0.2.32"],
    ),
];

/// What Unbound says of `c`, checked; the reason when it is wrong.
fn verdict(u: &Unbound, c: &Case, denial: &str) -> Result<(), String> {
    let d = u.ask(c.question);
    let data: Vec<String> = d.answer.iter().map(|r| r.data.clone()).collect();
    // RFC 9824: a name that does not exist is NOERROR with an NSEC that says so
    // (NXNAME), for a resolver that does not ask for the NXDOMAIN back.
    let status = match (denial, c.status) {
        ("compact", "NXDOMAIN") => "NOERROR",
        _ => c.status,
    };
    let ok = d.status == status
        && d.has_flag("ad") == c.secure
        && (c.data.is_empty() || c.data.iter().any(|v| data.contains(&v.to_string())));
    match ok {
        true => Ok(()),
        false => Err(format!("{}: {}", c.question, d.raw)),
    }
}

/// Every kind of answer, under NSEC3, NSEC and compact denial, validated by Unbound that reached it
/// from the root by referrals.
#[test]
fn unbound_validates_every_kind_of_answer_and_every_policy() {
    if !ready() {
        return;
    }
    for denial in ["nsec3", "nsec", "compact"] {
        let (_servers, unbound) = network(denial, keygen("example.com"));
        for c in CASES {
            if let Err(why) = verdict(&unbound, c, denial) {
                panic!("{denial}: {why}\nunbound log:\n{}", unbound.log());
            }
        }
    }
}

/// A failover watched through Unbound: the primary's answer validates, an override
/// moves it to the secondary, which validates once the TTL of 1 s has run out, and so
/// does the way back. Every answer seen on the way is validated.
#[test]
fn a_failover_validates_through_unbound_before_during_and_after() {
    if !ready() {
        return;
    }
    let (servers, unbound) = network("nsec3", keygen("example.com"));
    let parent = &servers[0];
    let watch = |want: &'static str| {
        common::wait_for(&format!("unbound to answer {want}"), || {
            let d = unbound.ask("lb.example.com A");
            assert!(
                d.status == "NOERROR" && d.has_flag("ad"),
                "not validated: {}\n{}",
                d.raw,
                unbound.log()
            );
            d.answer_data("A") == [want]
        })
    };
    watch("192.0.2.21");
    let path = "/api/v1/health-checks/lb/override";
    let body = r#"{"status":"unhealthy","ttl":"1h","reason":"failover test"}"#;
    let (code, reply) = parent.http("PUT", path, body);
    assert_eq!(code, 200, "{reply}");
    watch("192.0.2.22");
    assert_eq!(parent.http("DELETE", path, "").0, 200);
    watch("192.0.2.21");
}

/// A ZSK rollover by pre-publication, driven only by the timing metadata that BIND's
/// `dnssec-keygen` writes: the KSK stays; ZSK1 signs until T1 and is deleted at T2;
/// ZSK2 is published from the start and signs from T1. hadns re-signs at each event on
/// its own. Unbound, whose cache holds the DNSKEY set it fetched at the start, validates
/// every answer throughout: a policy answer (TTL 1 s) and a fresh NXDOMAIN each time.
/// What it sees moves from ZSK1's signatures to ZSK2's, then ZSK1 leaves the DNSKEY set.
#[test]
fn a_zsk_rollover_by_timing_metadata_validates_throughout() {
    use hadns::dnssec::key::{format_time, unix_now};
    use std::time::{Duration, Instant};
    if !ready() {
        return;
    }
    let now = unix_now();
    let (t1, t2) = (format_time(now + 6), format_time(now + 12));
    let mut zsks = (String::new(), String::new());
    let (servers, unbound) = network("nsec3", |dir| {
        let keys = dir.join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        bind_keygen(&keys, &["-f", "KSK"]);
        zsks.0 = bind_keygen(&keys, &["-I", &t1, "-D", &t2]);
        zsks.1 = bind_keygen(&keys, &["-P", "now", "-A", &t1]);
    });
    let authority = servers[0].ip;
    let mut seen: Vec<(String, bool)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    for i in 0.. {
        assert!(
            Instant::now() < deadline,
            "the rollover did not finish: {seen:?}"
        );
        let lb = unbound.ask("lb.example.com A");
        let nx = unbound.ask(&format!("r{i}.example.com A"));
        for (d, status) in [(&lb, "NOERROR"), (&nx, "NXDOMAIN")] {
            assert!(
                d.status == status && d.has_flag("ad"),
                "not validated during the rollover ({seen:?}): {}\n{}",
                d.raw,
                unbound.log()
            );
        }
        // The key that signed the answer, and whether ZSK1 is still in the DNSKEY set.
        let signer = lb
            .answer
            .iter()
            .find(|r| r.rtype == "RRSIG")
            .and_then(|r| r.data.split_whitespace().nth(6).map(String::from))
            .expect("the answer carries its RRSIG");
        let dnskeys = dig_at(authority, 53, "+multi example.com DNSKEY").raw;
        let phase = (signer, dnskeys.contains(&format!("key id = {}", zsks.0)));
        if seen.last() != Some(&phase) {
            seen.push(phase);
        }
        if seen.last() == Some(&(zsks.1.clone(), false)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (zsk1, zsk2) = zsks;
    assert_eq!(seen, [(zsk1, true), (zsk2.clone(), true), (zsk2, false)]);
}

/// `dnssec-keygen` for example.com (ECDSA P-256) into `keys` with `args`; the new key's
/// tag.
fn bind_keygen(keys: &Path, args: &[&str]) -> String {
    let out = Command::new("dnssec-keygen")
        .args(["-q", "-a", "ECDSAP256SHA256", "-K"])
        .arg(keys)
        .args(args)
        .arg("example.com")
        .output()
        .unwrap();
    let base = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && !base.is_empty(),
        "dnssec-keygen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tag = base.rsplit('+').next().unwrap();
    tag.trim_start_matches('0').to_string()
}
