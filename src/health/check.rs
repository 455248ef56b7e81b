//! Health-check definitions: the `[[health_check]]` schema of policy files, validated
//! into [`HealthCheck`]s. Each probe kind's own fields are read here; how it probes is
//! in `probe/`.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::config::parse_duration;

const MAX_CHILDREN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Http {
        tls: bool,
        /// The address to probe, or a name resolved each interval.
        target: Target,
        port: u16,
        path: String,
        /// Host header and SNI.
        host: Option<String>,
        search_string: Option<String>,
        verify_tls: bool,
    },
    Tcp {
        target: Target,
        port: u16,
    },
    Calculated {
        children: Vec<String>,
        threshold: u16,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Ip(IpAddr),
    Fqdn(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub id: String,
    pub probe: Probe,
    pub interval: Duration,
    pub failure_threshold: u8,
    pub timeout: Option<Duration>,
    pub inverted: bool,
    pub disabled: bool,
    pub line: usize,
}

impl HealthCheck {
    /// The `type` it was declared with.
    pub fn kind(&self) -> &'static str {
        match &self.probe {
            Probe::Http { tls: false, .. } => "http",
            Probe::Http { tls: true, .. } => "https",
            Probe::Tcp { .. } => "tcp",
            Probe::Calculated { .. } => "calculated",
        }
    }

    /// Where it looks, as a URL or address (a calculated check: its children).
    pub fn target(&self) -> String {
        let host = |t: &Target| match t {
            Target::Ip(IpAddr::V6(v6)) => format!("[{v6}]"),
            Target::Ip(ip) => ip.to_string(),
            Target::Fqdn(name) => name.clone(),
        };
        match &self.probe {
            Probe::Http {
                tls,
                target,
                port,
                path,
                ..
            } => format!(
                "{}://{}:{port}{path}",
                if *tls { "https" } else { "http" },
                host(target)
            ),
            Probe::Tcp { target, port } => format!("{}:{port}", host(target)),
            Probe::Calculated { children, .. } => children.join(","),
        }
    }

    /// Everything that defines it, `line` aside: its saved state is kept while this
    /// stays the same.
    pub fn fingerprint(&self) -> String {
        format!(
            "{:?} every {:?} timeout {:?} threshold {} inverted {} disabled {}",
            self.probe,
            self.interval,
            self.timeout,
            self.failure_threshold,
            self.inverted,
            self.disabled
        )
    }

    /// The fingerprint, short: what a node tells its peers of its definition.
    pub fn digest(&self) -> String {
        let d = ring::digest::digest(&ring::digest::SHA256, self.fingerprint().as_bytes());
        d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Its probe group: checks with the same endpoint, interval and timeout are probed
    /// once and each reads the result. None when it is not probed.
    pub(crate) fn probe_key(&self) -> Option<String> {
        match (&self.probe, self.disabled) {
            (Probe::Calculated { .. }, _) | (_, true) => None,
            (probe, false) => Some(format!(
                "{probe:?} every {:?} timeout {:?}",
                self.interval, self.timeout
            )),
        }
    }
}

/// A `[[health_check]]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDef {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    ip: Option<IpAddr>,
    fqdn: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    path: Option<String>,
    search_string: Option<String>,
    interval: Option<String>,
    failure_threshold: Option<i64>,
    timeout: Option<String>,
    #[serde(default)]
    inverted: bool,
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    verify_tls: bool,
    children: Option<Vec<String>>,
    threshold: Option<i64>,
}

/// Validates the `[[health_check]]`s of one file, each with its line; problems go to
/// `error` at their line, and the valid checks are returned.
pub fn read_checks(
    defs: &[(usize, &CheckDef)],
    error: &mut dyn FnMut(usize, String),
) -> Vec<HealthCheck> {
    let mut out: Vec<HealthCheck> = Vec::new();
    let mut ids = HashSet::new();
    for &(line, d) in defs {
        if d.id.is_empty() || d.id.len() > 64 {
            error(line, "a health check id must be 1 to 64 characters".into());
            continue;
        }
        if !ids.insert(d.id.as_str()) {
            error(line, format!("duplicate health check id {:?}", d.id));
            continue;
        }
        match read_check(line, d) {
            Ok(c) => out.push(c),
            Err(m) => error(line, format!("health check {:?}: {m}", d.id)),
        }
    }
    // Children of calculated checks must exist and not be calculated themselves.
    let by_id: HashMap<&str, &HealthCheck> = out.iter().map(|c| (c.id.as_str(), c)).collect();
    for c in &out {
        if let Probe::Calculated { children, .. } = &c.probe {
            for child in children {
                match by_id.get(child.as_str()) {
                    None => error(
                        c.line,
                        format!("health check {:?}: unknown child {child:?}", c.id),
                    ),
                    Some(o) if matches!(o.probe, Probe::Calculated { .. }) => error(
                        c.line,
                        format!("health check {:?}: child {child:?} is calculated; calculated checks cannot nest", c.id),
                    ),
                    Some(_) => {}
                }
            }
        }
    }
    out
}

fn read_check(line: usize, d: &CheckDef) -> Result<HealthCheck, String> {
    let interval = match &d.interval {
        Some(t) => parse_duration(t)?,
        None => Duration::from_secs(30),
    };
    if interval < Duration::from_millis(100) {
        return Err("interval must be at least 100ms".into());
    }
    let timeout = d.timeout.as_deref().map(parse_duration).transpose()?;
    let failure_threshold = d.failure_threshold.unwrap_or(3);
    if !(1..=10).contains(&failure_threshold) {
        return Err("failure_threshold must be 1 to 10".into());
    }
    let probe = match d.kind.as_str() {
        "http" | "https" => Probe::Http {
            tls: d.kind == "https",
            target: endpoint(d)?,
            port: d.port.unwrap_or(if d.kind == "https" { 443 } else { 80 }),
            path: match &d.path {
                Some(p) if p.starts_with('/') => p.clone(),
                Some(p) => format!("/{p}"),
                None => "/".into(),
            },
            host: d.host.clone(),
            search_string: match &d.search_string {
                Some(s) if s.is_empty() || s.len() > 255 => {
                    return Err("search_string must be 1 to 255 characters".into())
                }
                s => s.clone(),
            },
            verify_tls: d.verify_tls,
        },
        "tcp" => {
            let target = endpoint(d)?;
            if d.path.is_some() || d.search_string.is_some() || d.host.is_some() {
                return Err("path, host and search_string are for http and https checks".into());
            }
            Probe::Tcp {
                target,
                port: d.port.ok_or("a tcp check needs a port")?,
            }
        }
        "calculated" => {
            let endpoint_fields = d.ip.is_some()
                || d.fqdn.is_some()
                || d.port.is_some()
                || d.path.is_some()
                || d.host.is_some();
            if endpoint_fields || d.search_string.is_some() {
                return Err(
                    "a calculated check has no endpoint (ip, fqdn, port, path, host)".into(),
                );
            }
            let children = d
                .children
                .clone()
                .ok_or("a calculated check needs children")?;
            if children.len() > MAX_CHILDREN {
                return Err(format!("at most {MAX_CHILDREN} children"));
            }
            let threshold = d.threshold.unwrap_or(children.len() as i64);
            if !(0..=256).contains(&threshold) {
                return Err("threshold must be 0 to 256".into());
            }
            Probe::Calculated {
                children,
                threshold: threshold as u16,
            }
        }
        other => {
            return Err(format!(
                "unknown type {other:?}: use http, https, tcp or calculated"
            ))
        }
    };
    Ok(HealthCheck {
        id: d.id.clone(),
        probe,
        interval,
        failure_threshold: failure_threshold as u8,
        timeout,
        inverted: d.inverted,
        disabled: d.disabled,
        line,
    })
}

/// The endpoint of an http, https or tcp check: exactly one of `ip` and `fqdn`.
fn endpoint(d: &CheckDef) -> Result<Target, String> {
    if d.children.is_some() || d.threshold.is_some() {
        return Err(format!(
            "children and threshold are for calculated checks, not {}",
            d.kind
        ));
    }
    match (&d.ip, &d.fqdn) {
        (Some(ip), None) => Ok(Target::Ip(*ip)),
        (None, Some(f)) => Ok(Target::Fqdn(f.clone())),
        _ => Err("give exactly one of ip and fqdn".into()),
    }
}
