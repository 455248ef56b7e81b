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

/// Rewrites a file keeping its size and modification time, so only a SIGHUP notices.
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
