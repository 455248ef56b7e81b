//! Route 53's JSON → `<origin>.zone` (every set without a routing policy) and
//! `<origin>.toml` (the sets with one, the health checks they use, the CIDR locations),
//! plus the `[[region]]`s hadns.toml must declare for latency and geoproximity sets.
//!
//! Anything that cannot be carried over is a note (an alias to an AWS resource, a
//! CloudWatch-alarm check, a geoproximity Local Zone…); anything that cannot be read is
//! an error naming the file and the record set.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;
use std::path::Path;

use hickory_proto::rr::{Name, RecordType};

use super::{
    from_octal_escapes, regions, CidrBlocks, HealthCheck, HealthCheckList, RecordSet, RecordSetList,
};
use crate::zone::text;

/// The JSON files given to `hadns import route53`: each its path (for messages) and text.
pub struct Input<'a> {
    pub records: (&'a Path, &'a str),
    pub health_checks: Option<(&'a Path, &'a str)>,
    pub cidr_blocks: Option<(&'a Path, &'a str)>,
}

/// What an import gives.
#[derive(Debug)]
pub struct Imported {
    /// The text of `<origin>.zone`.
    pub zone: String,
    /// The text of `<origin>.toml`; None when no set has a routing policy.
    pub policy: Option<String>,
    /// `[[region]]` tables for hadns.toml; empty when no set names an AWS region.
    pub regions: String,
    /// What was not carried over, one line each.
    pub notes: Vec<String>,
}

/// The set_id that an alias without a routing policy gets: hadns writes aliases as
/// policy sets, so it becomes a weighted group of this one set (and is exported back
/// as a simple alias).
pub const SIMPLE_ALIAS: &str = "simple";

pub fn import(origin: &Name, input: &Input<'_>) -> Result<Imported, String> {
    let (records_path, records_text) = input.records;
    let sets = record_sets(records_path, records_text)?;
    let checks = match input.health_checks {
        Some((path, text)) => health_checks(path, text)?,
        None => HashMap::new(),
    };
    let cidrs = match input.cidr_blocks {
        Some((path, text)) => cidr_locations(path, text)?,
        None => Vec::new(),
    };
    let mut out = Importer {
        origin,
        origin_text: origin.to_ascii().to_ascii_lowercase(),
        checks: &checks,
        zone_lines: Vec::new(),
        soa: None,
        records: Vec::new(),
        used_checks: BTreeSet::new(),
        regions: BTreeSet::new(),
        collections: BTreeSet::new(),
        notes: Vec::new(),
    };
    for set in &sets {
        let what = format!(
            "{}: record set {} {}{}",
            records_path.display(),
            set.name,
            set.rtype,
            set.set_identifier
                .as_ref()
                .map(|s| format!(" {s:?}"))
                .unwrap_or_default()
        );
        out.set(set).map_err(|m| format!("{what}: {m}"))?;
    }
    out.finish(&cidrs, input)
}

/// The record sets of a list or of a change batch; a list cut short is refused.
fn record_sets(path: &Path, text: &str) -> Result<Vec<RecordSet>, String> {
    let list: RecordSetList = serde_json::from_str(text).map_err(|e| json_error(path, &e))?;
    let cut = list.is_truncated == Some(true)
        || list.next_token.is_some()
        || list.next_record_name.is_some();
    if cut {
        return Err(format!(
            "{}: the list is cut short (IsTruncated / NextToken): list every record set, without --max-items",
            path.display()
        ));
    }
    match (list.resource_record_sets, list.changes) {
        (Some(sets), None) => Ok(sets),
        (None, Some(changes)) => changes
            .into_iter()
            .map(|c| match c.action.as_str() {
                "CREATE" | "UPSERT" => Ok(c.resource_record_set),
                other => Err(format!(
                    "{}: a change batch to import holds only CREATE and UPSERT, not {other}",
                    path.display()
                )),
            })
            .collect(),
        _ => Err(format!(
            "{}: expected the output of `aws route53 list-resource-record-sets` (ResourceRecordSets) or a change batch (Changes)",
            path.display()
        )),
    }
}

fn health_checks(path: &Path, text: &str) -> Result<HashMap<String, HealthCheck>, String> {
    let list: HealthCheckList = serde_json::from_str(text).map_err(|e| json_error(path, &e))?;
    if list.is_truncated == Some(true) || list.next_marker.is_some() {
        return Err(format!(
            "{}: the list is cut short (IsTruncated / NextMarker): list every health check, without --max-items",
            path.display()
        ));
    }
    let all = list
        .health_checks
        .into_iter()
        .flatten()
        .chain(list.health_check);
    Ok(all.map(|c| (c.id.clone(), c)).collect())
}

/// Each location of the CIDR collection and its networks, in the order first listed.
fn cidr_locations(path: &Path, text: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let blocks: CidrBlocks = serde_json::from_str(text).map_err(|_| {
        format!(
            "{}: expected the output of `aws route53 list-cidr-blocks` (CidrBlocks) or the changes of `change-cidr-collection`",
            path.display()
        )
    })?;
    let pairs: Vec<(String, String)> = match blocks {
        CidrBlocks::Listed(list) => {
            if list.next_token.is_some() {
                return Err(format!(
                    "{}: the list is cut short (NextToken): list every block, without --max-items",
                    path.display()
                ));
            }
            list.cidr_blocks
                .into_iter()
                .map(|b| (b.location_name, b.cidr_block))
                .collect()
        }
        CidrBlocks::Changes(changes) => changes
            .into_iter()
            .flat_map(|c| {
                c.cidr_list
                    .into_iter()
                    .map(move |n| (c.location_name.clone(), n))
            })
            .collect(),
    };
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (location, network) in pairs {
        match out.iter_mut().find(|(l, _)| *l == location) {
            Some((_, networks)) => networks.push(network),
            None => out.push((location, vec![network])),
        }
    }
    Ok(out)
}

fn json_error(path: &Path, e: &serde_json::Error) -> String {
    format!("{}:{}: {e}", path.display(), e.line().max(1))
}

struct Importer<'a> {
    origin: &'a Name,
    /// The origin as Route 53 writes it, lowercase with the trailing dot.
    origin_text: String,
    checks: &'a HashMap<String, HealthCheck>,
    /// Lines of the zone file by owner and type, and the SOA's (written first).
    zone_lines: Vec<((Name, u16), String)>,
    soa: Option<String>,
    /// `[[record]]` tables by owner and type.
    records: Vec<(Name, String, String)>,
    /// Checks the records use (calculated checks' children added at the end).
    used_checks: BTreeSet<String>,
    /// AWS regions named by latency and geoproximity sets.
    regions: BTreeSet<String>,
    /// CIDR collections named by IP-based sets.
    collections: BTreeSet<String>,
    notes: Vec<String>,
}

impl Importer<'_> {
    /// A name of this zone as the files write it: relative, `@` for the apex.
    fn relative(&self, raw: &str) -> Result<String, String> {
        self.owner(raw).map(|(_, text)| text)
    }

    /// A name of this zone, and as the files write it.
    fn owner(&self, raw: &str) -> Result<(Name, String), String> {
        let unescaped = from_octal_escapes(raw);
        let name = text::name(&unescaped, self.origin)?;
        if !self.origin.zone_of(&name) {
            return Err(format!("{name} is not in zone {}", self.origin));
        }
        let lower = unescaped.to_ascii_lowercase();
        let absolute = if lower.ends_with('.') {
            lower
        } else {
            format!("{lower}.")
        };
        let text = match absolute.strip_suffix(&self.origin_text) {
            Some("") => "@".into(),
            Some(prefix) => prefix.trim_end_matches('.').to_string(),
            None => absolute,
        };
        Ok((name, text))
    }

    fn set(&mut self, s: &RecordSet) -> Result<(), String> {
        let (name, owner) = self.owner(&s.name)?;
        let rtype = s.rtype.to_ascii_uppercase();
        if let Some(id) = &s.traffic_policy_instance_id {
            self.notes.push(format!(
                "{} {rtype}: made by Traffic Flow (instance {id}); the records are carried over, the traffic policy is not",
                s.name
            ));
        }
        let Some(set_id) = &s.set_identifier else {
            return self.simple(s, (name, &owner), &rtype);
        };
        let Some(policy) = self.policy(s)? else {
            return Ok(());
        };
        let Some(data) = self.data(s)? else {
            return Ok(());
        };
        let mut t = String::new();
        let _ = writeln!(t, "\n[[record]]");
        let _ = writeln!(t, "name = {}", quoted(&owner));
        let _ = writeln!(t, "type = {}", quoted(&rtype));
        let _ = writeln!(t, "set_id = {}", quoted(set_id));
        let _ = writeln!(t, "{policy}");
        t.push_str(&data);
        if let Some(id) = &s.health_check_id {
            if self.check_carried(id, &format!("{} {rtype} {set_id:?}", s.name))? {
                let _ = writeln!(t, "health_check = {}", quoted(id));
            }
        }
        self.records.push((name, rtype, t));
        Ok(())
    }

    /// A set without a routing policy: its values go to the zone file; an alias to a
    /// name of the zone becomes a weighted group of one set.
    fn simple(
        &mut self,
        s: &RecordSet,
        (name, owner): (Name, &str),
        rtype: &str,
    ) -> Result<(), String> {
        if s.health_check_id.is_some() {
            self.notes.push(format!(
                "{} {rtype}: a health check on a record set without a routing policy has no effect in Route 53; not carried over",
                s.name
            ));
        }
        if s.alias_target.is_some() {
            let Some(data) = self.data(s)? else {
                return Ok(());
            };
            let t = format!(
                "\n# An alias without a routing policy in Route 53.\n[[record]]\nname = {}\ntype = {}\nset_id = {}\nweight = 1\n{data}",
                quoted(owner),
                quoted(rtype),
                quoted(SIMPLE_ALIAS),
            );
            self.records.push((name, rtype.to_string(), t));
            return Ok(());
        }
        let (ttl, values) = values(s)?;
        for v in values {
            let line = format!("{owner}\t{ttl}\tIN\t{rtype}\t{v}");
            if rtype == "SOA" && owner == "@" {
                self.soa = Some(line);
            } else {
                self.zone_lines
                    .push(((name.clone(), type_code(rtype)), line));
            }
        }
        Ok(())
    }

    /// The one routing field of a set, as its `[[record]]` line; None (with a note) for
    /// one that cannot be carried over.
    fn policy(&mut self, s: &RecordSet) -> Result<Option<String>, String> {
        let mut found = Vec::new();
        if let Some(f) = &s.failover {
            found.push(match f.as_str() {
                "PRIMARY" => "failover = \"primary\"".to_string(),
                "SECONDARY" => "failover = \"secondary\"".to_string(),
                other => return Err(format!("Failover {other:?}: expected PRIMARY or SECONDARY")),
            });
        }
        if let Some(w) = s.weight {
            found.push(format!("weight = {w}"));
        }
        if let Some(r) = &s.region {
            self.aws_region(r)?;
            found.push(format!("region = {}", quoted(r)));
        }
        if let Some(g) = &s.geo_location {
            let field =
                |k: &str, v: &Option<String>| v.as_ref().map(|v| format!("{k} = {}", quoted(v)));
            let parts: Vec<String> = [
                field("continent", &g.continent_code),
                field("country", &g.country_code),
                field("subdivision", &g.subdivision_code),
            ]
            .into_iter()
            .flatten()
            .collect();
            found.push(format!("geo = {{ {} }}", parts.join(", ")));
        }
        if let Some(p) = &s.geo_proximity_location {
            let mut parts = Vec::new();
            match (&p.aws_region, &p.local_zone_group, &p.coordinates) {
                (Some(r), None, None) => {
                    self.aws_region(r)?;
                    parts.push(format!("region = {}", quoted(r)));
                }
                (None, None, Some(c)) => {
                    let number = |v: &str| {
                        v.trim()
                            .parse::<f64>()
                            .map(toml_float)
                            .map_err(|_| format!("coordinate {v:?} is not a number"))
                    };
                    parts.push(format!("lat = {}", number(&c.latitude)?));
                    parts.push(format!("lon = {}", number(&c.longitude)?));
                }
                (None, Some(zone), None) => {
                    self.notes.push(format!(
                        "{} {} {:?}: geoproximity by AWS Local Zone group {zone:?}: not carried over (give the set Coordinates or an AWSRegion)",
                        s.name,
                        s.rtype,
                        s.set_identifier.as_deref().unwrap_or("")
                    ));
                    return Ok(None);
                }
                _ => return Err("GeoProximityLocation needs exactly one of AWSRegion, LocalZoneGroup and Coordinates".into()),
            }
            if let Some(b) = p.bias.filter(|&b| b != 0) {
                parts.push(format!("bias = {b}"));
            }
            found.push(format!("geoproximity = {{ {} }}", parts.join(", ")));
        }
        match s.multi_value_answer {
            Some(true) => found.push("multivalue = true".into()),
            Some(false) if found.is_empty() => {
                return Err("MultiValueAnswer is false and no other routing policy is given".into())
            }
            _ => {}
        }
        if let Some(c) = &s.cidr_routing_config {
            self.collections.insert(c.collection_id.clone());
            found.push(format!(
                "cidr = {{ location = {} }}",
                quoted(&c.location_name)
            ));
        }
        match found.len() {
            1 => Ok(Some(found.remove(0))),
            0 => Err("a SetIdentifier but no routing policy".into()),
            _ => Err(format!(
                "more than one routing policy: {}",
                found.join("; ")
            )),
        }
    }

    fn aws_region(&mut self, r: &str) -> Result<(), String> {
        if regions::location(r).is_none() {
            return Err(format!("{r:?} is not an AWS region hadns knows"));
        }
        self.regions.insert(r.to_string());
        Ok(())
    }

    /// A policy set's `ttl` + `values` or `alias` lines; None (with a note) for an
    /// alias to something outside the zone.
    fn data(&mut self, s: &RecordSet) -> Result<Option<String>, String> {
        let Some(a) = &s.alias_target else {
            let (ttl, values) = values(s)?;
            let values: Vec<String> = values.iter().map(|v| quoted(v)).collect();
            return Ok(Some(format!(
                "ttl = {ttl}\nvalues = [{}]\n",
                values.join(", ")
            )));
        };
        if s.ttl.is_some() || s.resource_records.is_some() {
            return Err("an alias has no TTL and no ResourceRecords".into());
        }
        match self.relative(&a.dns_name) {
            Ok(target) => Ok(Some(format!(
                "alias = {{ target = {}, evaluate_target_health = {} }}\n",
                quoted(&target),
                a.evaluate_target_health
            ))),
            Err(_) => {
                self.notes.push(format!(
                    "{} {}{}: an alias to {} (hosted zone {}), outside this zone: not carried over",
                    s.name,
                    s.rtype,
                    s.set_identifier
                        .as_ref()
                        .map(|i| format!(" {i:?}"))
                        .unwrap_or_default(),
                    a.dns_name,
                    a.hosted_zone_id
                ));
                Ok(None)
            }
        }
    }

    /// Whether the check `id` is carried over (so the set keeps it); a note when not.
    fn check_carried(&mut self, id: &str, user: &str) -> Result<bool, String> {
        let Some(c) = self.checks.get(id) else {
            return Err(format!(
                "health check {id} is not in the health checks given (--health-checks: the output of `aws route53 list-health-checks`)"
            ));
        };
        if carried(c) {
            self.used_checks.insert(id.to_string());
            return Ok(true);
        }
        self.notes.push(format!(
            "{user}: its health check {id} ({}) cannot be carried over; the set is imported without a health check",
            c.health_check_config.kind
        ));
        Ok(false)
    }

    fn finish(
        mut self,
        cidrs: &[(String, Vec<String>)],
        input: &Input<'_>,
    ) -> Result<Imported, String> {
        let Some(soa) = self.soa.take() else {
            return Err(format!(
                "{}: no SOA at {}: give the whole zone's record sets",
                input.records.0.display(),
                self.origin
            ));
        };
        let mut zone = format!(
            "; {} imported from Route 53 by hadns.\n$ORIGIN {}\n{soa}\n",
            self.origin, self.origin_text
        );
        // In name and type order (stable: values as listed), the order of an export, so
        // that an export read back gives the same file.
        self.zone_lines.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, l) in &self.zone_lines {
            zone.push_str(l);
            zone.push('\n');
        }
        if self
            .zone_lines
            .iter()
            .any(|(_, l)| l.starts_with("@\t") && l.contains("\tNS\t"))
        {
            self.notes.push(format!(
                "{}: the SOA and the apex NS name Route 53's nameservers; change them to hadns's before you delegate to it",
                self.origin
            ));
        }
        let policy = self.policy_file(cidrs, input)?;
        let regions = self
            .regions
            .iter()
            .filter_map(|r| regions::location(r).map(|c| (r, c)))
            .map(|(r, c)| {
                format!(
                    "[[region]]\nid = {}\nlocation = {{ lat = {}, lon = {} }}\n",
                    quoted(r),
                    toml_float(c.lat),
                    toml_float(c.lon)
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        Ok(Imported {
            zone,
            policy,
            regions,
            notes: self.notes,
        })
    }

    fn policy_file(
        &mut self,
        cidrs: &[(String, Vec<String>)],
        input: &Input<'_>,
    ) -> Result<Option<String>, String> {
        if self.records.is_empty() {
            return Ok(None);
        }
        if self.collections.len() > 1 {
            return Err(format!(
                "{}: the record sets name {} CIDR collections ({}); a zone of hadns has one",
                input.records.0.display(),
                self.collections.len(),
                self.collections
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !self.collections.is_empty() && input.cidr_blocks.is_none() {
            return Err(format!(
                "{}: record sets route by CIDR collection {}: give its blocks (--cidr-blocks: the output of `aws route53 list-cidr-blocks`)",
                input.records.0.display(),
                self.collections.iter().next().map(String::as_str).unwrap_or("")
            ));
        }
        let mut text = format!(
            "# Routing policies of {} imported from Route 53 by hadns.\n",
            self.origin
        );
        let checks = self.checks;
        for id in self.checks_to_write() {
            text.push_str(&check_table(&checks[&id], checks, &mut self.notes));
        }
        if !self.collections.is_empty() {
            for (location, networks) in cidrs {
                let networks: Vec<String> = networks.iter().map(|n| quoted(n)).collect();
                let _ = write!(
                    text,
                    "\n[[cidr_location]]\nname = {}\nnetworks = [{}]\n",
                    quoted(location),
                    networks.join(", ")
                );
            }
        }
        // Each group's sets together, groups in name order.
        self.records.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| type_code(&a.1).cmp(&type_code(&b.1)))
        });
        for (_, _, t) in &self.records {
            text.push_str(t);
        }
        Ok(Some(text))
    }

    /// The checks the records use and the children of those that are calculated, in
    /// id order; children that cannot be carried over are left out with a note.
    fn checks_to_write(&mut self) -> BTreeSet<String> {
        let mut ids = self.used_checks.clone();
        for id in &self.used_checks {
            let children = self.checks[id]
                .health_check_config
                .child_health_checks
                .iter();
            for child in children.flatten() {
                match self.checks.get(child) {
                    Some(c) if carried(c) => {
                        ids.insert(child.clone());
                    }
                    Some(c) => self.notes.push(format!(
                        "health check {id}: its child {child} ({}) cannot be carried over; left out",
                        c.health_check_config.kind
                    )),
                    None => self.notes.push(format!(
                        "health check {id}: its child {child} is not in the health checks given; left out"
                    )),
                }
            }
        }
        ids
    }
}

fn type_code(rtype: &str) -> u16 {
    rtype.parse::<RecordType>().map_or(u16::MAX, u16::from)
}

/// Whether hadns can probe what this check probes.
fn carried(c: &HealthCheck) -> bool {
    matches!(
        c.health_check_config.kind.as_str(),
        "HTTP" | "HTTPS" | "HTTP_STR_MATCH" | "HTTPS_STR_MATCH" | "TCP" | "CALCULATED"
    )
}

/// A set's TTL and values as a zone file writes them.
fn values(s: &RecordSet) -> Result<(i64, Vec<String>), String> {
    let ttl = s.ttl.ok_or("no TTL (and not an alias)")?;
    let records = s.resource_records.as_deref().unwrap_or_default();
    if records.is_empty() {
        return Err("no ResourceRecords (and not an alias)".into());
    }
    Ok((
        ttl,
        records
            .iter()
            .map(|r| from_octal_escapes(&r.value))
            .collect(),
    ))
}

/// A `[[health_check]]` table for a check that is carried over (a calculated check
/// with the children that are).
fn check_table(
    c: &HealthCheck,
    all: &HashMap<String, HealthCheck>,
    notes: &mut Vec<String>,
) -> String {
    let h = &c.health_check_config;
    let mut t = format!("\n[[health_check]]\nid = {}\n", quoted(&c.id));
    let kind = match h.kind.as_str() {
        "HTTP" | "HTTP_STR_MATCH" => "http",
        "HTTPS" | "HTTPS_STR_MATCH" => "https",
        "TCP" => "tcp",
        _ => "calculated",
    };
    let _ = writeln!(t, "type = {}", quoted(kind));
    let mut line = |k: &str, v: String| {
        let _ = writeln!(t, "{k} = {v}");
    };
    if kind == "calculated" {
        let children: Vec<String> = h
            .child_health_checks
            .iter()
            .flatten()
            .filter(|id| all.get(*id).is_some_and(carried))
            .map(|c| quoted(c))
            .collect();
        line("children", format!("[{}]", children.join(", ")));
        line("threshold", h.health_threshold.unwrap_or(0).to_string());
    } else {
        match (&h.ip_address, &h.fully_qualified_domain_name) {
            (Some(ip), host) => {
                line("ip", quoted(ip));
                if let Some(host) = host.as_ref().filter(|_| kind != "tcp") {
                    line("host", quoted(host));
                }
            }
            (None, Some(fqdn)) => line("fqdn", quoted(fqdn)),
            (None, None) => {}
        }
        if let Some(port) = h.port {
            line("port", port.to_string());
        }
        if kind != "tcp" {
            line("path", quoted(h.resource_path.as_deref().unwrap_or("/")));
        }
        if let Some(s) = &h.search_string {
            line("search_string", quoted(s));
        }
        line(
            "interval",
            quoted(&format!("{}s", h.request_interval.unwrap_or(30))),
        );
        line(
            "failure_threshold",
            h.failure_threshold.unwrap_or(3).to_string(),
        );
        if kind == "https" && h.enable_sni == Some(false) {
            notes.push(format!(
                "health check {}: EnableSNI is false; hadns sends SNI whenever the host is a name",
                c.id
            ));
        }
    }
    if h.inverted == Some(true) {
        line("inverted", "true".into());
    }
    if h.disabled == Some(true) {
        line("disabled", "true".into());
    }
    if h.regions.is_some() {
        notes.push(format!(
            "health check {}: its checker Regions are not carried over; hadns's checkers are its nodes",
            c.id
        ));
    }
    t
}

/// A TOML basic string (JSON's escapes are a subset of TOML's).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A TOML float: always with a decimal point.
fn toml_float(v: f64) -> String {
    let s = v.to_string();
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}
