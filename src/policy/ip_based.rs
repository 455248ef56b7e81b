//! IP-based (reference §2.8): the set of the CIDR location whose block is the longest to
//! contain the client, if healthy, else the `*` default. The blocks are the policy
//! file's `[[cidr_location]]`s.

use std::str::FromStr;

use ipnet::IpNet;
use serde::Deserialize;

use super::select::{Context, Decided};
use super::{no_location_twice, PolicyGroup, PolicySet, ReadContext, Routing};

pub const NAME: &str = "ip-based";
pub const FIELD: &str = "cidr";
const RULE: &str = "the client's CIDR location if healthy, else the default";

/// A named list of client networks (`[[cidr_location]]`).
#[derive(Debug, Clone, PartialEq)]
pub struct CidrLocation {
    pub name: String,
    pub networks: Vec<IpNet>,
}

/// A `[[cidr_location]]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationDef {
    name: String,
    networks: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Def {
    location: String,
}

/// Reads the `[[cidr_location]]`s, each at its line; the valid ones are returned.
pub fn read_locations(
    defs: &[(usize, &LocationDef)],
    error: &mut dyn FnMut(usize, String),
) -> Vec<CidrLocation> {
    let mut out: Vec<CidrLocation> = Vec::new();
    for &(line, d) in defs {
        let name_ok = (1..=16).contains(&d.name.len())
            && d.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            error(
                line,
                format!(
                    "cidr_location name {:?} must be 1-16 characters of A-Z a-z 0-9 _ -",
                    d.name
                ),
            );
            continue;
        }
        if out.iter().any(|l| l.name == d.name) {
            error(line, format!("duplicate cidr_location {:?}", d.name));
            continue;
        }
        let mut networks = Vec::new();
        for n in &d.networks {
            match IpNet::from_str(n) {
                Ok(net) => {
                    let max = if net.addr().is_ipv4() { 24 } else { 48 };
                    if net.prefix_len() == 0 || net.prefix_len() > max {
                        error(line, format!("network {n}: IPv4 blocks must be /1 to /24 and IPv6 /1 to /48 (use location \"*\" for a default)"));
                    } else {
                        networks.push(net.trunc());
                    }
                }
                Err(_) => error(
                    line,
                    format!("bad network {n:?}: expected an address/prefix"),
                ),
            }
        }
        out.push(CidrLocation {
            name: d.name.clone(),
            networks,
        });
    }
    out
}

pub fn read(value: &toml::Value, cx: &ReadContext<'_>) -> Result<Routing, String> {
    let c: Def = super::value_as(FIELD, value)?;
    if c.location == "*" {
        Ok(Routing::IpBased(None))
    } else if cx.cidrs.iter().any(|l| l.name == c.location) {
        Ok(Routing::IpBased(Some(c.location)))
    } else {
        Err(format!("unknown cidr_location {:?}", c.location))
    }
}

pub fn check(g: &PolicyGroup, problems: &mut Vec<(usize, String)>) {
    fn location(r: &Routing) -> Option<&Option<String>> {
        match r {
            Routing::IpBased(l) => Some(l),
            _ => None,
        }
    }
    no_location_twice(g, location, problems);
}

pub fn decide() -> Decided {
    Decided::ranked(rank, RULE)
}

/// Rank: 0 for the client's location, 1 for the default; other locations are left out.
fn rank(sets: &[PolicySet], cx: &dyn Context, rank: &mut dyn FnMut(usize, f64)) {
    let here = cx.cidr_location();
    for (i, s) in sets.iter().enumerate() {
        match &s.routing {
            Routing::IpBased(Some(l)) if Some(l.as_str()) == here => rank(i, 0.0),
            Routing::IpBased(None) => rank(i, 1.0),
            _ => {}
        }
    }
}

pub fn describe(location: Option<&str>) -> String {
    match location {
        Some(location) => format!("location {location}"),
        None => "default location".into(),
    }
}
