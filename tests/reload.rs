//! Reload: SIGHUP and file changes swap in new zones whole; anything invalid leaves the
//! serving data alone; queries during a reload are all answered.

mod common;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{header, query, wait_for, zone, Server};

fn www(s: &Server) -> Vec<String> {
    s.dig("www.example.com A").answer_data("A")
}

/// Rewrites a file keeping its size and modification time, so the watcher takes no
/// notice until its change time (which no one can set back) is seen.
fn rewrite_unnoticed(path: &std::path::Path, text: &str) {
    let reference = path.with_extension("ref");
    assert!(Command::new("touch")
        .arg("-r")
        .arg(path)
        .arg(&reference)
        .status()
        .unwrap()
        .success());
    assert_eq!(std::fs::metadata(path).unwrap().len() as usize, text.len());
    std::fs::write(path, text).unwrap();
    assert!(Command::new("touch")
        .arg("-r")
        .arg(&reference)
        .arg(path)
        .status()
        .unwrap()
        .success());
    std::fs::remove_file(reference).unwrap();
}

#[test]
fn sighup_reloads() {
    let s = Server::start(
        &[("example.com.zone", &zone("example.com", "www A 192.0.2.10"))],
        "",
    );
    assert_eq!(www(&s), ["192.0.2.10"]);
    rewrite_unnoticed(
        &s.zone_path("example.com.zone"),
        &zone("example.com", "www A 192.0.2.11"),
    );
    s.sighup();
    wait_for("the SIGHUP reload", || www(&s) == ["192.0.2.11"]);
    assert!(s.log().contains("SIGHUP"), "{}", s.log());
}

#[test]
fn a_changed_zone_file_is_reloaded_without_a_signal() {
    let s = Server::start(
        &[("example.com.zone", &zone("example.com", "www A 192.0.2.10"))],
        "",
    );
    std::fs::write(
        s.zone_path("example.com.zone"),
        zone("example.com", "www A 192.0.2.20"),
    )
    .unwrap();
    wait_for("the file-change reload", || www(&s) == ["192.0.2.20"]);

    // A new zone file is picked up, and a removed one stops being served.
    std::fs::write(
        s.zone_path("example.net.zone"),
        zone("example.net", "www A 192.0.2.30"),
    )
    .unwrap();
    wait_for("the new zone", || {
        s.dig("www.example.net A").answer_data("A") == ["192.0.2.30"]
    });
    std::fs::remove_file(s.zone_path("example.net.zone")).unwrap();
    wait_for("the removed zone", || {
        s.dig("www.example.net A").status == "REFUSED"
    });
}

#[test]
fn a_changed_included_file_is_reloaded() {
    let s = Server::start(
        &[
            (
                "example.com.zone",
                &zone("example.com", "$INCLUDE hosts.inc"),
            ),
            ("hosts.inc", "www A 192.0.2.10\n"),
        ],
        "",
    );
    assert_eq!(www(&s), ["192.0.2.10"]);
    std::fs::write(s.zone_path("hosts.inc"), "www A 192.0.2.12\n").unwrap();
    wait_for("the include reload", || www(&s) == ["192.0.2.12"]);
}

#[test]
fn an_invalid_change_keeps_the_old_data_serving() {
    let s = Server::start(
        &[
            ("example.com.zone", &zone("example.com", "www A 192.0.2.10")),
            ("example.net.zone", &zone("example.net", "www A 192.0.2.30")),
        ],
        "",
    );
    // One bad change and one good one: nothing at all changes. (Bad first, so that no
    // reload can land between the two writes with the good one alone.)
    std::fs::write(
        s.zone_path("example.com.zone"),
        zone("example.com", "www A 192.0.2.10\nbad A nonsense"),
    )
    .unwrap();
    std::fs::write(
        s.zone_path("example.net.zone"),
        zone("example.net", "www A 192.0.2.31"),
    )
    .unwrap();
    wait_for("the rejected reload in the log", || {
        s.log().contains("reload rejected")
    });
    assert!(
        s.log().contains("example.com.zone:7: bad A record data"),
        "{}",
        s.log()
    );
    assert_eq!(www(&s), ["192.0.2.10"]);
    assert_eq!(s.dig("www.example.net A").answer_data("A"), ["192.0.2.30"]);
    // A SIGHUP with the error still there changes nothing either.
    s.sighup();
    wait_for("the second rejection", || {
        s.log().matches("reload rejected").count() >= 2
    });
    assert_eq!(s.dig("www.example.net A").answer_data("A"), ["192.0.2.30"]);
    // Fixed: both changes land together.
    std::fs::write(
        s.zone_path("example.com.zone"),
        zone("example.com", "www A 192.0.2.11"),
    )
    .unwrap();
    wait_for("the fixed reload", || www(&s) == ["192.0.2.11"]);
    assert_eq!(s.dig("www.example.net A").answer_data("A"), ["192.0.2.31"]);
}

#[test]
fn queries_in_flight_during_reloads_are_all_answered() {
    let s = Arc::new(Server::start(
        &[("example.com.zone", &zone("example.com", "www A 192.0.2.10"))],
        "",
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (s, stop) = (s.clone(), stop.clone());
        std::thread::spawn(move || {
            let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            sock.set_read_timeout(Some(common::DEADLINE)).unwrap();
            let mut buf = [0u8; 512];
            let mut answered = 0u32;
            let mut id = 0u16;
            while !stop.load(Ordering::Relaxed) || answered < 500 {
                id = id.wrapping_add(1);
                sock.send_to(&query(id, "www.example.com", 1, false), s.addr())
                    .unwrap();
                let (n, _) = sock.recv_from(&mut buf).expect("every query is answered");
                let h = header(&buf[..n]);
                assert_eq!((h.id, h.rcode, h.counts[1]), (id, 0, 1));
                answered += 1;
            }
            answered
        })
    };
    for i in 0..10 {
        let ip = format!("192.0.2.{}", 100 + i);
        std::fs::write(
            s.zone_path("example.com.zone"),
            zone("example.com", &format!("www A {ip}")),
        )
        .unwrap();
        s.sighup();
        wait_for("each reload", || www(&s) == [ip.clone()]);
    }
    stop.store(true, Ordering::Relaxed);
    let answered = client.join().unwrap();
    assert!(answered >= 500);
}

#[test]
fn a_sighup_as_soon_as_it_answers_reloads_instead_of_killing() {
    let s = Server::start(
        &[("example.com.zone", &zone("example.com", "www A 192.0.2.10"))],
        "",
    );
    s.sighup();
    wait_for("the SIGHUP reload", || s.log().contains("SIGHUP"));
    assert_eq!(www(&s), ["192.0.2.10"]);
}

#[test]
fn an_invalid_policy_file_is_rejected_like_a_zone_file() {
    let s = Server::start(
        &[("example.com.zone", &zone("example.com", "www A 192.0.2.10"))],
        "",
    );
    // A policy file appearing beside the zone is read; this one has a bad weight.
    std::fs::write(
        s.zone_path("example.com.toml"),
        "[[record]]\nname = \"api\"\ntype = \"A\"\nttl = 60\nset_id = \"a\"\nweight = 300\nvalues = [\"192.0.2.1\"]\n",
    )
    .unwrap();
    wait_for("the rejected reload", || {
        s.log().contains("reload rejected")
    });
    assert!(
        s.log()
            .contains("example.com.toml:1: weight 300 is out of range"),
        "{}",
        s.log()
    );
    assert_eq!(www(&s), ["192.0.2.10"]);
}

#[test]
fn the_reload_endpoint_needs_the_token_and_answers_with_the_result() {
    let token = "reload-token-long-enough";
    let s = Server::start_with_files(
        &[("example.zone", &zone("example", "www A 192.0.2.10"))],
        "[http]\ntoken_file = \"token\"\n",
        &[("token", token.as_bytes())],
    );
    let post = |t: Option<&str>| s.http("POST", "/api/v1/reload", t, "");
    assert_eq!(post(None).0, 403);
    assert_eq!(post(Some("nope")).0, 403);
    assert_eq!(s.http("GET", "/api/v1/reload", Some(token), "").0, 405);
    let (code, body) = post(Some(token));
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["result"].as_str(), v["zones"].as_u64()),
        (Some("reloaded"), Some(1))
    );

    // A broken zone: the errors come back with file and line; the old data stays.
    let path = s.zone_path("example.zone");
    std::fs::write(&path, zone("example", "www A 192.0.2.10\nbad A 999.1.1.1")).unwrap();
    let (code, body) = post(Some(token));
    assert_eq!(code, 422, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["result"], "rejected");
    let e = &v["errors"][0];
    assert!(e["file"].as_str().unwrap().ends_with("example.zone"), "{e}");
    assert_eq!(e["line"], 7, "{e}");
    assert_eq!(s.a("www.example"), ["192.0.2.10"]);

    std::fs::write(&path, zone("example", "www A 192.0.2.11")).unwrap();
    assert_eq!(post(Some(token)).0, 200);
    assert_eq!(s.a("www.example"), ["192.0.2.11"]);
}

/// A FIFO included by a running server fails that reload at once, with the reason, and
/// the next reload works: nothing blocks.
#[test]
fn an_included_fifo_fails_the_reload_and_the_next_one_works() {
    let s = Server::start(
        &[("example.com.zone", &zone("example.com", "www A 192.0.2.10"))],
        "",
    );
    common::mkfifo(&s.zone_path("pipe.inc"));
    std::fs::write(
        s.zone_path("example.com.zone"),
        zone("example.com", "www A 192.0.2.11\n$INCLUDE pipe.inc"),
    )
    .unwrap();
    wait_for("the rejected reload", || {
        s.log().contains("pipe.inc:1: not a regular file")
    });
    assert_eq!(www(&s), ["192.0.2.10"]);
    std::fs::write(
        s.zone_path("example.com.zone"),
        zone("example.com", "www A 192.0.2.12"),
    )
    .unwrap();
    wait_for("the next reload", || www(&s) == ["192.0.2.12"]);
}

/// A zone file rewritten in place, slowly (truncated, then filled in pieces with pauses,
/// as a slow editor or copy over a network does), is not read half-way: every name that
/// exists before and after is answered throughout, and the new data arrives once the
/// file has stayed still.
#[test]
fn a_file_written_slowly_in_place_is_not_read_half_way() {
    let names: Vec<String> = (0..200).map(|i| format!("h{i}")).collect();
    let body = |last: u8| {
        names
            .iter()
            .map(|n| format!("{n} A 192.0.2.{last}\n"))
            .collect::<String>()
    };
    let s = Server::start(&[("example.com.zone", &zone("example.com", &body(1)))], "");
    let new = zone("example.com", &body(2));
    let path = s.zone_path("example.com.zone");
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut f = std::fs::File::create(&path).unwrap(); // truncated
        for chunk in new.as_bytes().chunks(new.len() / 6 + 1) {
            f.write_all(chunk).unwrap();
            f.flush().unwrap();
            // A writer that pauses: the time between pieces is the scenario itself.
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    });
    let mut answers = 0;
    while !writer.is_finished() {
        let d = s.dig("h199.example.com A");
        assert_eq!(d.status, "NOERROR", "h199 answered {} mid-write", d.status);
        answers += 1;
    }
    writer.join().unwrap();
    assert!(answers > 10, "{answers} answers during the write");
    wait_for("the new data", || {
        s.dig("h199.example.com A").answer_data("A") == ["192.0.2.2"]
    });
}

fn weighted(name: &str, ip: &str) -> String {
    format!("[[record]]\nname = \"{name}\"\ntype = \"A\"\nttl = 60\nset_id = \"one\"\nweight = 1\nvalues = [\"{ip}\"]\n")
}

/// A reload reads again only the zones whose files changed (zone file, included file or
/// policy file; all of them when the config changed); the others are kept as they are,
/// policies included, and every zone answers as its files say.
#[test]
fn a_reload_reads_only_the_zones_whose_files_changed() {
    let token = "reload-token-long-enough";
    let s = Server::start_with_files(
        &[
            (
                "a.example.zone",
                &zone("a.example", "www A 192.0.2.1\n$INCLUDE a.inc"),
            ),
            ("a.inc", "inc A 192.0.2.2\n"),
            ("b.example.zone", &zone("b.example", "www A 192.0.2.3")),
            ("c.example.zone", &zone("c.example", "www A 192.0.2.4")),
            ("c.example.toml", &weighted("lb", "192.0.2.5")),
        ],
        "[http]\ntoken_file = \"token\"\n",
        &[("token", token.as_bytes())],
    );
    let reload = || {
        let (code, body) = s.http("POST", "/api/v1/reload", Some(token), "");
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        (v["zones"].as_u64().unwrap(), v["read"].as_u64().unwrap())
    };
    assert_eq!(reload(), (3, 0), "nothing changed, nothing is read");

    std::fs::write(s.zone_path("a.inc"), "inc A 192.0.2.7\n").unwrap();
    std::fs::write(s.zone_path("c.example.toml"), weighted("lb", "192.0.2.6")).unwrap();
    assert_eq!(reload(), (3, 2), "a (its include) and c (its policy file)");
    assert_eq!(s.a("inc.a.example"), ["192.0.2.7"]);
    assert_eq!(s.a("lb.c.example"), ["192.0.2.6"]);
    assert_eq!(s.a("www.b.example"), ["192.0.2.3"]);

    std::fs::write(
        s.zone_path("b.example.zone"),
        zone("b.example", "www A 192.0.2.8"),
    )
    .unwrap();
    assert_eq!(reload(), (3, 1));
    assert_eq!(s.a("www.b.example"), ["192.0.2.8"]);
    // The kept zones answer as before, the kept policy included.
    assert_eq!(s.a("lb.c.example"), ["192.0.2.6"]);
    assert_eq!(s.a("inc.a.example"), ["192.0.2.7"]);

    let config = std::fs::read_to_string(s.config_path()).unwrap();
    std::fs::write(s.config_path(), config + "\n# touched\n").unwrap();
    assert_eq!(reload(), (3, 3), "the config says how zones are read");
}

/// A reload that would not fit under the process's memory limit stops reading before
/// an allocation fails (which would abort the process): the reload is refused with the
/// file, line and reason, the old data keeps serving, and a reload that fits works.
#[test]
fn a_reload_that_would_not_fit_in_memory_is_refused_and_the_old_data_keeps_serving() {
    let token = "reload-token-long-enough";
    let s = Server::start_with_files(
        &[("example.com.zone", &zone("example.com", "www A 192.0.2.10"))],
        "[http]\ntoken_file = \"token\"\n",
        &[("token", token.as_bytes())],
    );
    // Room for some 200 MiB more than it uses now; a million records need about 450.
    let statm = std::fs::read_to_string(format!("/proc/{}/statm", s.pid())).unwrap();
    let pages: u64 = statm.split_whitespace().next().unwrap().parse().unwrap();
    let limit = pages * 4096 + (200 << 20);
    let rlim = libc::rlimit {
        rlim_cur: limit,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: sets one limit of a process this test started.
    let set =
        unsafe { libc::prlimit(s.pid() as i32, libc::RLIMIT_AS, &rlim, std::ptr::null_mut()) };
    assert_eq!(set, 0, "prlimit: {}", std::io::Error::last_os_error());

    let mut big = zone("example.com", "www A 192.0.2.11");
    for i in 0..1_000_000u32 {
        use std::fmt::Write;
        let _ = writeln!(big, "h{i} A 10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
    }
    std::fs::write(s.zone_path("example.com.zone"), &big).unwrap();
    let (code, body) = s.http("POST", "/api/v1/reload", Some(token), "");
    assert_eq!(code, 422, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let e = &v["errors"][0];
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("reading stopped") && message.contains("address-space limit"),
        "{e}"
    );
    assert!(
        e["file"].as_str().unwrap().ends_with("example.com.zone"),
        "{e}"
    );
    assert!(e["line"].as_u64().unwrap() > 1000, "{e}");
    assert_eq!(www(&s), ["192.0.2.10"]);
    assert!(s.log().contains("reading stopped"), "{}", s.log());

    std::fs::write(
        s.zone_path("example.com.zone"),
        zone("example.com", "www A 192.0.2.12"),
    )
    .unwrap();
    let (code, body) = s.http("POST", "/api/v1/reload", Some(token), "");
    assert_eq!(code, 200, "{body}");
    assert_eq!(www(&s), ["192.0.2.12"]);
}
