//! Reads `zones/<origin>.toml` — `[[record]]`, `[[health_check]]`, `[[cidr_location]]` —
//! and checks it against Route 53's rules and against the zone file beside it. Every
//! problem is reported at its own `file:line`.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};
use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use super::*;
use crate::config::{parse_duration, Region};
use crate::diag::{line_of_offset, Diagnostic, Diagnostics, LineIndex};
use crate::zone::lexer;
use crate::zone::parse::{parse_name, parse_rdata};
use crate::zone::{name_key, PlainIndex};

/// Route 53's quota of sets per name and type.
const MAX_SETS: usize = 100;
const MAX_CHILDREN: usize = 255;
const CONTINENTS: [&str; 7] = ["AF", "AN", "AS", "EU", "OC", "NA", "SA"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDef {
    #[serde(default)]
    health_check: Vec<Spanned<CheckDef>>,
    #[serde(default)]
    record: Vec<Spanned<RecordDef>>,
    #[serde(default)]
    cidr_location: Vec<Spanned<CidrLocationDef>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordDef {
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    ttl: Option<u32>,
    set_id: String,
    failover: Option<String>,
    weight: Option<i64>,
    region: Option<String>,
    geo: Option<GeoDef>,
    geoproximity: Option<GeoproximityDef>,
    multivalue: Option<bool>,
    cidr: Option<CidrRefDef>,
    values: Option<Vec<String>>,
    health_check: Option<String>,
    alias: Option<AliasDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GeoDef {
    continent: Option<String>,
    country: Option<String>,
    subdivision: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GeoproximityDef {
    region: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    #[serde(default)]
    bias: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CidrRefDef {
    location: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasDef {
    target: String,
    evaluate_target_health: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckDef {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CidrLocationDef {
    name: String,
    networks: Vec<String>,
}

/// What a policy file is checked against.
pub struct Context<'a> {
    pub origin: &'a Name,
    pub regions: &'a [Region],
    pub plain: &'a PlainIndex,
}

/// Reads and validates one policy file. None after pushing at least one error.
/// The names a policy file refers to (owners and alias targets), as name keys: the
/// only names whose plain records its checks look at. Empty when the file cannot be
/// read or parsed ([`read_policy_file`] reports that).
pub fn referenced_names(path: &Path, origin: &Name) -> Vec<Box<[u8]>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let Ok(def) = toml::from_str::<FileDef>(&text) else {
        return Vec::new();
    };
    def.record
        .iter()
        .map(|r| r.get_ref())
        .flat_map(|r| std::iter::once(&r.name).chain(r.alias.as_ref().map(|a| &a.target)))
        .filter_map(|n| parse_name(n, origin).ok())
        .map(|n| name_key(&n))
        .collect()
}

pub fn read_policy_file(
    path: &Path,
    cx: &Context<'_>,
    diags: &mut Diagnostics,
) -> Option<ZonePolicies> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diagnostic::error(path, 1, format!("cannot read: {e}")));
            return None;
        }
    };
    let def: FileDef = match toml::from_str(&text) {
        Ok(d) => d,
        Err(e) => {
            let line = e.span().map_or(1, |s| line_of_offset(&text, s.start));
            diags.push(Diagnostic::error(path, line, e.message().to_string()));
            return None;
        }
    };
    let errors_before = diags.errors().count();
    let mut v = Validator {
        path,
        lines: LineIndex::new(&text),
        cx,
        diags,
    };
    let cidr_locations = v.cidr_locations(&def.cidr_location);
    let health_checks = v.health_checks(&def.health_check);
    let sets = v.sets(&def.record, &health_checks, &cidr_locations);
    let groups = v.groups(sets);
    v.aliases(&groups);
    if v.diags.errors().count() > errors_before {
        return None;
    }
    Some(ZonePolicies {
        file: path.to_path_buf(),
        groups,
        health_checks,
        cidr_locations,
    })
}

struct Validator<'a> {
    path: &'a Path,
    lines: LineIndex,
    cx: &'a Context<'a>,
    diags: &'a mut Diagnostics,
}

impl Validator<'_> {
    fn line<T>(&self, s: &Spanned<T>) -> usize {
        self.lines.line(s.span().start)
    }

    fn error(&mut self, line: usize, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(self.path, line, message));
    }

    fn cidr_locations(&mut self, defs: &[Spanned<CidrLocationDef>]) -> Vec<CidrLocation> {
        let mut out: Vec<CidrLocation> = Vec::new();
        for def in defs {
            let (line, d) = (self.line(def), def.get_ref());
            let name_ok = (1..=16).contains(&d.name.len())
                && d.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !name_ok {
                self.error(
                    line,
                    format!(
                        "cidr_location name {:?} must be 1-16 characters of A-Z a-z 0-9 _ -",
                        d.name
                    ),
                );
                continue;
            }
            if out.iter().any(|l| l.name == d.name) {
                self.error(line, format!("duplicate cidr_location {:?}", d.name));
                continue;
            }
            let mut networks = Vec::new();
            for n in &d.networks {
                match IpNet::from_str(n) {
                    Ok(net) => {
                        let max = if net.addr().is_ipv4() { 24 } else { 48 };
                        if net.prefix_len() == 0 || net.prefix_len() > max {
                            self.error(line, format!("network {n}: IPv4 blocks must be /1 to /24 and IPv6 /1 to /48 (use location \"*\" for a default)"));
                        } else {
                            networks.push(net.trunc());
                        }
                    }
                    Err(_) => self.error(
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

    fn health_checks(&mut self, defs: &[Spanned<CheckDef>]) -> Vec<HealthCheck> {
        let mut out: Vec<HealthCheck> = Vec::new();
        let mut ids = HashSet::new();
        for def in defs {
            let (line, d) = (self.line(def), def.get_ref());
            if d.id.is_empty() || d.id.len() > 64 {
                self.error(line, "a health check id must be 1 to 64 characters");
                continue;
            }
            if !ids.insert(d.id.as_str()) {
                self.error(line, format!("duplicate health check id {:?}", d.id));
                continue;
            }
            match self.health_check(line, d) {
                Ok(c) => out.push(c),
                Err(m) => self.error(line, format!("health check {:?}: {m}", d.id)),
            }
        }
        // Children of calculated checks must exist and not be calculated themselves.
        let mut problems = Vec::new();
        let by_id: HashMap<&str, &HealthCheck> = out.iter().map(|c| (c.id.as_str(), c)).collect();
        for c in &out {
            if let Probe::Calculated { children, .. } = &c.probe {
                for child in children {
                    match by_id.get(child.as_str()) {
                        None => problems.push((c.line, format!("health check {:?}: unknown child {child:?}", c.id))),
                        Some(o) if matches!(o.probe, Probe::Calculated { .. }) => problems.push((
                            c.line,
                            format!("health check {:?}: child {child:?} is calculated; calculated checks cannot nest", c.id),
                        )),
                        Some(_) => {}
                    }
                }
            }
        }
        for (line, m) in problems {
            self.error(line, m);
        }
        out
    }

    fn health_check(&self, _line: usize, d: &CheckDef) -> Result<HealthCheck, String> {
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
        let endpoint_fields = d.ip.is_some()
            || d.fqdn.is_some()
            || d.port.is_some()
            || d.path.is_some()
            || d.host.is_some();
        let probe = match d.kind.as_str() {
            "http" | "https" | "tcp" => {
                if d.children.is_some() || d.threshold.is_some() {
                    return Err(format!(
                        "children and threshold are for calculated checks, not {}",
                        d.kind
                    ));
                }
                let target = match (&d.ip, &d.fqdn) {
                    (Some(ip), None) => Target::Ip(*ip),
                    (None, Some(f)) => Target::Fqdn(f.clone()),
                    _ => return Err("give exactly one of ip and fqdn".into()),
                };
                if d.kind == "tcp" {
                    if d.path.is_some() || d.search_string.is_some() || d.host.is_some() {
                        return Err(
                            "path, host and search_string are for http and https checks".into()
                        );
                    }
                    Probe::Tcp {
                        target,
                        port: d.port.ok_or("a tcp check needs a port")?,
                    }
                } else {
                    let tls = d.kind == "https";
                    if let Some(s) = &d.search_string {
                        if s.is_empty() || s.len() > 255 {
                            return Err("search_string must be 1 to 255 characters".into());
                        }
                    }
                    let mut path = d.path.clone().unwrap_or_else(|| "/".into());
                    if !path.starts_with('/') {
                        path.insert(0, '/');
                    }
                    Probe::Http {
                        tls,
                        target,
                        port: d.port.unwrap_or(if tls { 443 } else { 80 }),
                        path,
                        host: d.host.clone(),
                        search_string: d.search_string.clone(),
                        verify_tls: d.verify_tls,
                    }
                }
            }
            "calculated" => {
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
            line: _line,
        })
    }

    /// Every `[[record]]`, each checked on its own, with its name key.
    fn sets(
        &mut self,
        defs: &[Spanned<RecordDef>],
        checks: &[HealthCheck],
        cidrs: &[CidrLocation],
    ) -> Vec<(Name, RecordType, PolicySet)> {
        let mut out = Vec::new();
        let checks: HashSet<&str> = checks.iter().map(|c| c.id.as_str()).collect();
        for def in defs {
            let line = self.line(def);
            match self.set(line, def.get_ref(), &checks, cidrs) {
                Ok(s) => out.push(s),
                Err(m) => self.error(line, m),
            }
        }
        out
    }

    fn set(
        &self,
        line: usize,
        d: &RecordDef,
        checks: &HashSet<&str>,
        cidrs: &[CidrLocation],
    ) -> Result<(Name, RecordType, PolicySet), String> {
        let origin = self.cx.origin;
        let name = parse_name(&d.name, origin)?;
        if !origin.zone_of(&name) {
            return Err(format!("out-of-zone data: {name} is not in zone {origin}"));
        }
        let rtype = RecordType::from_str(&d.rtype.to_ascii_uppercase())
            .map_err(|_| format!("unknown record type {}", d.rtype))?;
        if matches!(rtype, RecordType::NS | RecordType::SOA | RecordType::DS) {
            return Err(format!(
                "{rtype} records cannot have a routing policy; put them in the zone file"
            ));
        }
        if d.set_id.is_empty() || d.set_id.len() > 128 {
            return Err("set_id must be 1 to 128 characters".into());
        }
        let routing = self.routing(d, cidrs)?;
        let data = match (&d.values, &d.alias) {
            (Some(values), None) => {
                let ttl = d.ttl.ok_or("ttl is required for records with values")?;
                if values.is_empty() {
                    return Err("values is empty".into());
                }
                let mut rdatas = Vec::new();
                for value in values {
                    let tokens = lexer::entries(value)
                        .map_err(|e| format!("bad value {value:?}: {}", e.message))?
                        .into_iter()
                        .flat_map(|e| e.tokens)
                        .collect::<Vec<_>>();
                    if tokens.is_empty() {
                        return Err("an empty value".into());
                    }
                    rdatas.push(parse_rdata(rtype, &tokens, origin)?);
                }
                if rtype == RecordType::CNAME && rdatas.len() > 1 {
                    return Err("a CNAME set holds one value".into());
                }
                SetData::Values { ttl, rdatas }
            }
            (None, Some(alias)) => {
                if d.ttl.is_some() {
                    return Err("an alias takes its target's TTL; remove ttl".into());
                }
                if matches!(routing, Routing::Multivalue) {
                    return Err("multivalue records cannot be aliases".into());
                }
                let target = parse_name(&alias.target, origin)?;
                if !origin.zone_of(&target) {
                    return Err(format!("alias target {target} is not in zone {origin}"));
                }
                SetData::Alias {
                    target,
                    evaluate_target_health: alias.evaluate_target_health,
                }
            }
            _ => return Err("give exactly one of values and alias".into()),
        };
        if matches!(routing, Routing::Multivalue) && rtype == RecordType::CNAME {
            return Err("multivalue records cannot be CNAME".into());
        }
        if let Some(id) = &d.health_check {
            if !checks.contains(id.as_str()) {
                return Err(format!("unknown health check {id:?}"));
            }
        }
        Ok((
            name,
            rtype,
            PolicySet {
                set_id: d.set_id.clone(),
                routing,
                data,
                health_check: d.health_check.clone(),
                line,
            },
        ))
    }

    fn routing(&self, d: &RecordDef, cidrs: &[CidrLocation]) -> Result<Routing, String> {
        let mut found = Vec::new();
        if let Some(f) = &d.failover {
            found.push(Routing::Failover(match f.to_ascii_lowercase().as_str() {
                "primary" => FailoverRole::Primary,
                "secondary" => FailoverRole::Secondary,
                _ => {
                    return Err(format!(
                        "failover must be \"primary\" or \"secondary\", not {f:?}"
                    ))
                }
            }));
        }
        if let Some(w) = d.weight {
            let w = u8::try_from(w).map_err(|_| format!("weight {w} is out of range 0..255"))?;
            found.push(Routing::Weighted(w));
        }
        if let Some(r) = &d.region {
            self.region(r)?;
            found.push(Routing::Latency(r.clone()));
        }
        if let Some(g) = &d.geo {
            found.push(Routing::Geo(geo_key(g)?));
        }
        if let Some(p) = &d.geoproximity {
            let at = match (&p.region, p.lat, p.lon) {
                (Some(r), None, None) => self.region(r)?.location,
                (None, Some(lat), Some(lon)) => {
                    let c = crate::config::Coordinates { lat, lon };
                    if !c.is_valid() {
                        return Err("geoproximity lat must be -90..90 and lon -180..180".into());
                    }
                    c
                }
                _ => return Err("geoproximity needs a region or lat and lon".into()),
            };
            if !(-99..=99).contains(&p.bias) {
                return Err(format!("bias {} is out of range -99..99", p.bias));
            }
            found.push(Routing::Geoproximity(Proximity {
                at,
                bias: p.bias as i8,
            }));
        }
        match d.multivalue {
            Some(true) => found.push(Routing::Multivalue),
            Some(false) => {
                return Err(
                    "multivalue = false is no policy; leave the record in the zone file".into(),
                )
            }
            None => {}
        }
        if let Some(c) = &d.cidr {
            if c.location == "*" {
                found.push(Routing::Cidr(None));
            } else if cidrs.iter().any(|l| l.name == c.location) {
                found.push(Routing::Cidr(Some(c.location.clone())));
            } else {
                return Err(format!("unknown cidr_location {:?}", c.location));
            }
        }
        match found.len() {
            1 => Ok(found.pop().expect("one")),
            0 => Err("no policy field: give one of failover, weight, region, geo, geoproximity, multivalue, cidr (plain records go in the zone file)".into()),
            _ => Err(format!(
                "more than one policy field: {}",
                found.iter().map(Routing::policy_name).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    fn region(&self, id: &str) -> Result<&Region, String> {
        self.cx
            .regions
            .iter()
            .find(|r| r.id == id)
            .ok_or_else(|| format!("unknown region {id:?}: declare it as [[region]] in hadns.toml"))
    }

    /// Gathers sets into groups and checks each group's rules.
    fn groups(&mut self, sets: Vec<(Name, RecordType, PolicySet)>) -> Vec<PolicyGroup> {
        let mut groups: Vec<PolicyGroup> = Vec::new();
        for (name, rtype, set) in sets {
            match groups
                .iter_mut()
                .find(|g| g.rtype == rtype && g.name == name)
            {
                Some(g) => g.sets.push(set),
                None => groups.push(PolicyGroup {
                    name,
                    rtype,
                    sets: vec![set],
                }),
            }
        }
        for g in &groups {
            self.check_group(g, &groups);
        }
        groups
    }

    fn check_group(&mut self, g: &PolicyGroup, all: &[PolicyGroup]) {
        let (name, rtype) = (&g.name, g.rtype);
        let first = &g.sets[0];
        for (i, s) in g.sets.iter().enumerate() {
            if std::mem::discriminant(&s.routing) != std::mem::discriminant(&first.routing) {
                self.error(
                    s.line,
                    format!(
                        "{name} {rtype} mixes policies: {} here and {} at line {}",
                        s.routing.policy_name(),
                        first.routing.policy_name(),
                        first.line
                    ),
                );
            }
            if let Some(o) = g.sets[..i].iter().find(|o| o.set_id == s.set_id) {
                self.error(
                    s.line,
                    format!(
                        "duplicate set_id {:?} for {name} {rtype} (also at line {})",
                        s.set_id, o.line
                    ),
                );
            }
            let same_key = g.sets[..i].iter().find(|o| match (&o.routing, &s.routing) {
                (Routing::Latency(a), Routing::Latency(b)) => a == b,
                (Routing::Geo(a), Routing::Geo(b)) => a == b,
                (Routing::Cidr(a), Routing::Cidr(b)) => a == b,
                _ => false,
            });
            if let Some(o) = same_key {
                self.error(
                    s.line,
                    format!(
                        "{name} {rtype}: the same location as set {:?} at line {}",
                        o.set_id, o.line
                    ),
                );
            }
        }
        if g.sets.len() > MAX_SETS {
            self.error(
                g.sets[MAX_SETS].line,
                format!("{name} {rtype} has more than {MAX_SETS} sets"),
            );
        }
        if matches!(first.routing, Routing::Failover(_)) {
            let count = |role| {
                g.sets
                    .iter()
                    .filter(|s| s.routing == Routing::Failover(role))
                    .count()
            };
            if count(FailoverRole::Primary) != 1 || count(FailoverRole::Secondary) != 1 {
                self.error(first.line, format!("the failover group {name} {rtype} needs exactly one primary and one secondary"));
            }
        }
        // Beside the zone file's data.
        let key = name_key(name);
        let plain = self.cx.plain.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        for (ptype, pfile, pline) in plain {
            let clash =
                *ptype == rtype || *ptype == RecordType::CNAME || rtype == RecordType::CNAME;
            if clash {
                let what = if *ptype == rtype {
                    "a policy set beside a plain record of the same name and type"
                } else {
                    "a CNAME beside other data"
                };
                self.error(
                    first.line,
                    format!(
                        "{name} {rtype}: {what} ({ptype} at {}:{pline})",
                        pfile.display()
                    ),
                );
            }
        }
        if rtype == RecordType::CNAME {
            if let Some(o) = all
                .iter()
                .find(|o| o.rtype != RecordType::CNAME && o.name == *name)
            {
                self.error(
                    first.line,
                    format!(
                        "{name}: a CNAME beside other data ({} at line {})",
                        o.rtype, o.sets[0].line
                    ),
                );
            }
        }
    }

    /// Alias targets exist with the same type, and no chain of aliases loops.
    fn aliases(&mut self, groups: &[PolicyGroup]) {
        let find = |name: &Name, rtype| {
            groups
                .iter()
                .position(|g| g.rtype == rtype && g.name == *name)
        };
        for g in groups {
            for s in &g.sets {
                let SetData::Alias { target, .. } = &s.data else {
                    continue;
                };
                let plain = self
                    .cx
                    .plain
                    .get(&name_key(target))
                    .is_some_and(|v| v.iter().any(|(t, _, _)| *t == g.rtype));
                if !plain && find(target, g.rtype).is_none() {
                    self.error(
                        s.line,
                        format!("alias target {target} has no {} records", g.rtype),
                    );
                }
            }
        }
        // Depth-first over group → aliased groups; a back edge is a cycle.
        let edges: Vec<Vec<(usize, usize)>> = groups
            .iter()
            .map(|g| {
                g.sets
                    .iter()
                    .filter_map(|s| match &s.data {
                        SetData::Alias { target, .. } => find(target, g.rtype).map(|t| (t, s.line)),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let mut state = vec![0u8; groups.len()]; // 0 new, 1 on the path, 2 done
        fn visit(
            i: usize,
            edges: &[Vec<(usize, usize)>],
            state: &mut [u8],
            found: &mut Option<usize>,
        ) {
            state[i] = 1;
            for &(t, line) in &edges[i] {
                if state[t] == 1 && found.is_none() {
                    *found = Some(line);
                } else if state[t] == 0 {
                    visit(t, edges, state, found);
                }
            }
            state[i] = 2;
        }
        for i in 0..groups.len() {
            if state[i] == 0 {
                let mut found = None;
                visit(i, &edges, &mut state, &mut found);
                if let Some(line) = found {
                    self.error(
                        line,
                        format!("alias cycle through {} {}", groups[i].name, groups[i].rtype),
                    );
                }
            }
        }
    }
}

fn geo_key(g: &GeoDef) -> Result<GeoKey, String> {
    match (&g.continent, &g.country, &g.subdivision) {
        (Some(c), None, None) => {
            let c = c.to_ascii_uppercase();
            if CONTINENTS.contains(&c.as_str()) {
                Ok(GeoKey::Continent(c))
            } else {
                Err(format!(
                    "unknown continent {c:?}: use one of {}",
                    CONTINENTS.join(" ")
                ))
            }
        }
        (None, Some(c), None) if c == "*" => Ok(GeoKey::Default),
        (None, Some(c), sub) => {
            let c = c.to_ascii_uppercase();
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(format!(
                    "country {c:?} must be an ISO 3166 two-letter code or \"*\""
                ));
            }
            match sub {
                None => Ok(GeoKey::Country(c)),
                Some(s) if (1..=3).contains(&s.len()) => Ok(GeoKey::Subdivision {
                    country: c,
                    subdivision: s.to_ascii_uppercase(),
                }),
                Some(s) => Err(format!("subdivision {s:?} must be 1 to 3 characters")),
            }
        }
        (None, None, Some(_)) => Err("a subdivision needs its country".into()),
        (Some(_), _, _) => {
            Err("geo takes a continent alone, or a country (and subdivision)".into())
        }
        (None, None, None) => Err("geo needs a continent, a country or country = \"*\"".into()),
    }
}
