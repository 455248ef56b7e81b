//! `hadns status` and `hadns explain`: the local server's API, read for a person at a
//! terminal. The address (and token, if reads need it) come from the config.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

use crate::config::Config;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Every check (status, since, last result, override, observers) and the cluster.
pub fn status(config: &Config) -> Result<String, String> {
    let mut out = String::new();
    let ready = get(config, "/healthz").map(|(code, _)| code == 200)?;
    out.push_str(&format!(
        "hadns at {}: {}\n",
        config.http.listen,
        if ready {
            "ready"
        } else {
            "starting (first round of health checks)"
        }
    ));
    let checks = get_json(config, "/api/v1/health-checks")?;
    let checks = checks["health_checks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let width = checks
        .iter()
        .filter_map(|c| c["id"].as_str())
        .map(str::len)
        .max()
        .unwrap_or(5)
        .max(5);
    out.push_str(&format!(
        "\n{:width$}  {:9}  {:20}  {:>9}  LAST RESULT\n",
        "CHECK", "STATUS", "SINCE", "LATENCY"
    ));
    for c in &checks {
        let last = &c["last_result"];
        let latency = last["latency_ms"]
            .as_f64()
            .map_or("-".to_string(), |ms| format!("{ms:.1} ms"));
        out.push_str(&format!(
            "{:width$}  {:9}  {:20}  {:>9}  {}\n",
            s(&c["id"]),
            s(&c["status"]),
            s(&c["since"]),
            latency,
            last["reason"].as_str().unwrap_or("(not probed here)")
        ));
        if let Some(f) = c["forced"].as_object() {
            out.push_str(&format!(
                "{:width$}  forced {} until {}: {}\n",
                "",
                s(&f["status"]),
                s(&f["expires"]),
                s(&f["reason"])
            ));
        }
        if let Some(observers) = c["observers"].as_array() {
            let seen: Vec<String> = observers
                .iter()
                .map(|o| format!("{} {}", s(&o["node"]), s(&o["status"])))
                .collect();
            out.push_str(&format!("{:width$}  observers: {}\n", "", seen.join(", ")));
        }
    }
    if let Ok((200, body)) = get(config, "/api/v1/cluster") {
        let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        let nodes = v["nodes"].as_array().cloned().unwrap_or_default();
        out.push_str(&format!(
            "\ncluster, as {} sees it{}:\n",
            s(&v["node"]),
            if v["alone"] == true {
                " (ALONE: no peer heard from)"
            } else {
                ""
            }
        ));
        for n in &nodes {
            out.push_str(&format!(
                "  {:12} {:22} {:5}  last seen {}\n",
                s(&n["name"]),
                s(&n["address"]),
                if n["alive"] == true { "alive" } else { "DEAD" },
                s(&n["last_seen"])
            ));
        }
        for (what, key) in [("zones", "divergent_zones"), ("checks", "divergent_checks")] {
            let list: Vec<&str> = v[key]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            if !list.is_empty() {
                out.push_str(&format!(
                    "  {what} that differ between nodes: {}\n",
                    list.join(", ")
                ));
            }
        }
    }
    Ok(out)
}

/// The answer a client would get now, and the path to it.
pub fn explain(
    config: &Config,
    name: &str,
    rtype: &str,
    client: Option<&str>,
) -> Result<String, String> {
    let mut query: Vec<(&str, &str)> = vec![("name", name), ("type", rtype)];
    if let Some(c) = client {
        query.push(("client", c));
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    let v = get_json(config, &format!("/api/v1/explain?{query}"))?;
    let mut out = format!(
        "{} {} for {}: {} (zone {})\n",
        s(&v["query"]["name"]),
        s(&v["query"]["type"]),
        s(&v["query"]["client"]),
        s(&v["rcode"]),
        v["zone"].as_str().unwrap_or("none")
    );
    for section in ["answer", "authority", "additional"] {
        for rr in v[section].as_array().into_iter().flatten() {
            out.push_str(&format!("  {section:10} {}\n", rr.as_str().unwrap_or("")));
        }
    }
    for step in v["path"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\n{} {}: {} policy\n",
            s(&step["name"]),
            s(&step["type"]),
            s(&step["policy"])
        ));
        for c in step["candidates"].as_array().into_iter().flatten() {
            let check = c["health_check"]
                .as_str()
                .map_or(String::new(), |id| format!(" check {id}"));
            out.push_str(&format!(
                "  {} set {} ({}){}: {}\n",
                if c["picked"] == true { "→" } else { " " },
                s(&c["set_id"]),
                c["routing"].to_string().trim_matches('"'),
                check,
                if c["healthy"] == true {
                    "healthy"
                } else {
                    "unhealthy"
                }
            ));
        }
        out.push_str(&format!("  rule: {}\n", s(&step["rule"])));
        if step["last_resort"] == true {
            out.push_str("  (every candidate unhealthy: all answered, as Route 53 does)\n");
        }
    }
    for c in v["health_checks"].as_array().into_iter().flatten() {
        out.push_str(&format!("\ncheck {}: {}", s(&c["id"]), s(&c["status"])));
        if let Some(f) = c["forced"].as_object() {
            out.push_str(&format!(" (forced: {})", s(&f["reason"])));
        }
        if let Some(observers) = c["observers"].as_array() {
            let seen: Vec<String> = observers
                .iter()
                .map(|o| format!("{} {}", s(&o["node"]), s(&o["status"])))
                .collect();
            out.push_str(&format!(", observers: {}", seen.join(", ")));
        }
        out.push('\n');
    }
    Ok(out)
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

fn get_json(config: &Config, path: &str) -> Result<Value, String> {
    let (code, body) = get(config, path)?;
    let v: Value = serde_json::from_str(&body)
        .map_err(|e| format!("GET {path}: {code}, not JSON ({e}): {body}"))?;
    match code {
        200 => Ok(v),
        _ => Err(format!(
            "GET {path}: {code}: {}",
            v["error"].as_str().unwrap_or(&body)
        )),
    }
}

/// A GET on the local API: (status, body).
fn get(config: &Config, path: &str) -> Result<(u16, String), String> {
    let mut addr = config.http.listen;
    // A listener on every address is reached on loopback.
    match addr.ip() {
        IpAddr::V4(a) if a.is_unspecified() => addr.set_ip(Ipv4Addr::LOCALHOST.into()),
        IpAddr::V6(a) if a.is_unspecified() => addr.set_ip(Ipv6Addr::LOCALHOST.into()),
        _ => {}
    }
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| {
        format!("cannot reach the API at {addr} ([http] listen): {e}; is hadns serving?")
    })?;
    s.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let auth = config.http.token.as_ref().map_or(String::new(), |t| {
        format!(
            "Authorization: Bearer {}\r\n",
            String::from_utf8_lossy(&t.0)
        )
    });
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
        host(addr)
    )
    .map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).map_err(|e| e.to_string())?;
    let reply = String::from_utf8_lossy(&reply);
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP reply from {addr}"))?;
    Ok((code, body.to_string()))
}

fn host(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}
