//! `GET /api/v1/explain`: the answer a client would get now, and why. It runs the same
//! lookup as a query, with a trace that records every policy decision on the way.

use std::net::IpAddr;

use hickory_proto::rr::{Name, RecordType};
use ipnet::IpNet;
use serde::Serialize;

use super::lookup::{self, RRsetOut};
use crate::client::Client;
use crate::draw::Draw;
use crate::policy::select::{Decision, Trace};
use crate::policy::{PolicyGroup, SetData};
use crate::snapshot::Snapshot;

#[derive(Debug, Serialize)]
pub struct Explanation {
    pub query: Query,
    /// The zone that answers; none when hadns is not authoritative for the name.
    pub zone: Option<String>,
    pub rcode: &'static str,
    /// The ECS scope a query with this client subnet would get back, when a policy that
    /// depends on the client decided.
    pub ecs_scope: Option<u8>,
    pub answer: Vec<String>,
    pub authority: Vec<String>,
    pub additional: Vec<String>,
    /// Each policy group visited, in order (alias trees and CNAME chains visit several).
    pub path: Vec<Step>,
}

#[derive(Debug, Serialize)]
pub struct Query {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub client: String,
}

#[derive(Debug, Serialize)]
pub struct Step {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub policy: &'static str,
    /// The candidates in the order the policy considered them.
    pub candidates: Vec<Candidate>,
    pub rule: &'static str,
    /// Nothing was healthy, so every set counted as healthy (Route 53's last resort).
    pub last_resort: bool,
}

#[derive(Debug, Serialize)]
pub struct Candidate {
    pub set_id: String,
    /// The set's routing value: `primary`, `weight 10`, `region eu-west-1`, ….
    pub routing: String,
    pub health_check: Option<String>,
    pub healthy: bool,
    /// For latency (ms, or km when only the GeoIP position is known), geoproximity (km
    /// after bias), geolocation (0 = most specific) and IP-based (0 = the client's
    /// location, 1 = the default): lower is preferred.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank: Option<f64>,
    pub picked: bool,
    /// Where an alias set leads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

/// Records every decision, to describe once the lookup is over.
#[derive(Default)]
struct Recorder(Vec<Recorded>);

struct Recorded {
    group: usize,
    healthy: Vec<bool>,
    ranked: Option<Vec<(usize, f64)>>,
    picked: Vec<usize>,
    rule: &'static str,
    last_resort: bool,
}

impl Trace for Recorder {
    const DETAILED: bool = true;
    fn decided(&mut self, d: Decision<'_>) {
        self.0.push(Recorded {
            group: d.group,
            healthy: d.healthy.to_vec(),
            ranked: d.ranked,
            picked: d.picked,
            rule: d.rule,
            last_resort: d.last_resort,
        });
    }
}

/// Parses the query parameters: `name` (required), `type` (default A) and `client`
/// (an address or a prefix, as if sent in ECS; default `caller`).
pub fn parse_query(
    name: Option<&str>,
    rtype: Option<&str>,
    client: Option<&str>,
    caller: IpAddr,
) -> Result<(Name, RecordType, Client), String> {
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or("give a name: ?name=…")?;
    let mut qname = Name::from_ascii(name).map_err(|e| format!("name {name:?}: {e}"))?;
    qname.set_fqdn(true);
    let rtype = rtype.unwrap_or("A");
    let qtype: RecordType = rtype
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| format!("type {rtype:?}: not a record type"))?;
    // Not questions a lookup answers: the server's answer to them is not a lookup's.
    if matches!(
        qtype,
        RecordType::AXFR | RecordType::IXFR | RecordType::OPT | RecordType::TSIG
    ) {
        return Err(format!(
            "type {qtype} is not a question explain answers (zone transfers and message records)"
        ));
    }
    let client = match client {
        None => Client::from_addr(caller),
        Some(text) => match text.parse::<IpNet>() {
            Ok(net) => Client {
                addr: net.network(),
                prefix: net.prefix_len(),
            },
            Err(_) => {
                let addr: IpAddr = text
                    .parse()
                    .map_err(|_| format!("client {text:?}: give an address or a prefix"))?;
                Client::from_addr(addr)
            }
        },
    };
    Ok((qname, qtype, client))
}

/// The answer `client` would get for `qname`/`qtype` over UDP now, and the decisions
/// that made it. Weighted and multivalue answers are one draw.
pub fn explain(data: &Snapshot, qname: &Name, qtype: RecordType, client: Client) -> Explanation {
    let mut recorder = Recorder::default();
    let mut draw = Draw::from_entropy();
    let ans = lookup::resolve(data, &client, qname, qtype, true, &mut draw, &mut recorder);
    let groups: &[PolicyGroup] = match ans.zone {
        Some(z) => &data.policies[z].groups,
        None => &[],
    };
    let path = recorder
        .0
        .into_iter()
        .map(|r| describe(&groups[r.group], r))
        .collect();
    let lines = |sets: &[RRsetOut<'_>]| -> Vec<String> {
        sets.iter()
            .flat_map(|s| {
                s.rdatas
                    .iter()
                    .map(move |r| format!("{} {} IN {} {r}", s.owner, s.ttl, s.rtype))
            })
            .collect()
    };
    Explanation {
        query: Query {
            name: qname.to_string(),
            rtype: qtype.to_string(),
            client: format!("{}/{}", client.addr, client.prefix),
        },
        zone: ans.zone.map(|z| data.zones.zones[z].origin.to_string()),
        rcode: ans.rcode.name(),
        ecs_scope: ans.client_scope,
        answer: lines(&ans.answer),
        authority: lines(&ans.authority),
        additional: lines(&ans.additional),
        path,
    }
}

fn describe(g: &PolicyGroup, r: Recorded) -> Step {
    // Ranked policies list only what they considered; the others consider every set.
    let order: Vec<(usize, Option<f64>)> = match &r.ranked {
        Some(ranked) => ranked.iter().map(|&(i, rank)| (i, Some(rank))).collect(),
        None => (0..g.sets.len()).map(|i| (i, None)).collect(),
    };
    let candidates = order
        .into_iter()
        .map(|(i, rank)| {
            let s = &g.sets[i];
            Candidate {
                set_id: s.set_id.clone(),
                routing: s.routing.describe(),
                health_check: s.health_check.clone(),
                healthy: r.healthy[i],
                rank: rank.filter(|x| x.is_finite()),
                picked: r.picked.contains(&i),
                alias: match &s.data {
                    SetData::Alias { target, .. } => Some(target.to_string()),
                    SetData::Values { .. } => None,
                },
            }
        })
        .collect();
    Step {
        name: g.name.to_string(),
        rtype: g.rtype.to_string(),
        policy: g.kind().name(),
        candidates,
        rule: r.rule,
        last_resort: r.last_resort,
    }
}
