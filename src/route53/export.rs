//! A loaded zone → what Route 53 takes: a change batch of UPSERTs for
//! `change-resource-record-sets`, the checks as `create-health-check` takes them
//! (`HealthCheckConfig`), and the CIDR locations as `change-cidr-collection` takes them.
//!
//! Route 53 manages the SOA and the apex NS itself, and takes fewer record types and
//! check settings than hadns: what it cannot take is a note.

use std::time::Duration;

use hickory_proto::rr::{Name, RData, RecordType};

use super::import::SIMPLE_ALIAS;
use super::{
    quoted_octal, regions, AliasTarget, Change, ChangeBatch, CidrChange, CidrRoutingConfig,
    Coordinates, GeoLocation, GeoProximityLocation, HealthCheck, HealthCheckConfig,
    HealthCheckList, RecordSet, ResourceRecord,
};
use crate::health::check::{Probe, Target};
use crate::policy::{FailoverRole, GeoKey, PolicyGroup, PolicySet, Routing, SetData, ZonePolicies};
use crate::zone::{svcb, Zone};

/// What Route 53 takes (reference §1).
const TYPES: [RecordType; 17] = [
    RecordType::SOA,
    RecordType::A,
    RecordType::TXT,
    RecordType::NS,
    RecordType::CNAME,
    RecordType::MX,
    RecordType::NAPTR,
    RecordType::PTR,
    RecordType::SRV,
    RecordType::Unknown(99), // SPF
    RecordType::AAAA,
    RecordType::CAA,
    RecordType::DS,
    RecordType::TLSA,
    RecordType::SSHFP,
    RecordType::SVCB,
    RecordType::HTTPS,
];

/// Placeholders for ids that exist only once the operator has made them in Route 53.
pub const HOSTED_ZONE_PLACEHOLDER: &str = "HOSTED_ZONE_ID";
pub const CIDR_COLLECTION_PLACEHOLDER: &str = "00000000-0000-0000-0000-000000000000";

pub struct Options<'a> {
    /// The hosted zone's id, for alias targets.
    pub hosted_zone_id: Option<&'a str>,
    /// The CIDR collection's id, for IP-based sets.
    pub cidr_collection_id: Option<&'a str>,
}

#[derive(Debug)]
pub struct Exported {
    /// The change batch (JSON).
    pub batch: String,
    /// `{"HealthChecks":[{Id, CallerReference, HealthCheckConfig}…]}`; None without checks.
    pub health_checks: Option<String>,
    /// The `--changes` of `change-cidr-collection`; None without CIDR locations.
    pub cidr_collection: Option<String>,
    /// What Route 53 cannot take, or what the operator must fill in.
    pub notes: Vec<String>,
}

pub fn export(zone: &Zone, policies: &ZonePolicies, options: &Options<'_>) -> Exported {
    let mut notes = Vec::new();
    let mut changes = Vec::new();
    plain_sets(zone, &mut changes, &mut notes);
    let mut uses_alias = false;
    let mut uses_cidr = false;
    for g in &policies.groups {
        for s in &g.sets {
            let set = policy_set(g, s, options, &mut notes);
            uses_alias |= set.alias_target.is_some();
            uses_cidr |= set.cidr_routing_config.is_some();
            changes.push(set);
        }
    }
    if uses_alias && options.hosted_zone_id.is_none() {
        notes.push(format!(
            "aliases name the hosted zone as {HOSTED_ZONE_PLACEHOLDER}: give --hosted-zone-id"
        ));
    }
    if uses_cidr && options.cidr_collection_id.is_none() {
        notes.push(format!(
            "IP-based sets name the CIDR collection as {CIDR_COLLECTION_PLACEHOLDER}: create the collection, then give --cidr-collection-id"
        ));
    }
    let values: usize = changes
        .iter()
        .map(|s| s.resource_records.as_ref().map_or(1, Vec::len))
        .sum();
    // An UPSERT counts twice against the 1,000 elements of a batch.
    if values * 2 > 1000 {
        notes.push(format!(
            "{values} values: Route 53 takes at most 500 UPSERTed values in one change batch; split it"
        ));
    }
    let batch = ChangeBatch {
        comment: Some(format!("{} exported by hadns", zone.origin)),
        changes: changes
            .into_iter()
            .map(|s| Change {
                action: "UPSERT".into(),
                resource_record_set: s,
            })
            .collect(),
    };
    let checks: Vec<HealthCheck> = policies
        .health_checks
        .iter()
        .map(|c| HealthCheck {
            id: c.id.clone(),
            caller_reference: format!("hadns-{}", c.id),
            linked_service: None,
            health_check_config: check_config(c, &mut notes),
            health_check_version: None,
            cloud_watch_alarm_configuration: None,
        })
        .collect();
    if !checks.is_empty() {
        notes.push(
            "create each check of the .health-checks.json file (create-health-check), and where Route 53 gives it a new id, use that id in the change batch".into(),
        );
    }
    let cidr: Vec<CidrChange> = policies
        .cidr_locations
        .iter()
        .map(|l| CidrChange {
            location_name: l.name.clone(),
            action: "PUT".into(),
            cidr_list: l.networks.iter().map(ToString::to_string).collect(),
        })
        .collect();
    Exported {
        batch: json(&batch),
        health_checks: (!checks.is_empty()).then(|| {
            json(&HealthCheckList {
                health_checks: Some(checks),
                ..Default::default()
            })
        }),
        cidr_collection: (!cidr.is_empty()).then(|| json(&cidr)),
        notes,
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// The zone file's RRsets, by name then type (the importer's order); the SOA, the apex NS and types Route 53
/// does not take are left out.
fn plain_sets(zone: &Zone, out: &mut Vec<RecordSet>, notes: &mut Vec<String>) {
    let mut nodes: Vec<_> = zone
        .nodes
        .keyed()
        .map(|(_, i, node)| (zone.nodes.name(i), node))
        .collect();
    nodes.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, node) in nodes {
        let apex = name == zone.origin;
        let mut rrsets: Vec<_> = node.rrsets.iter().collect();
        rrsets.sort_by_key(|r| u16::from(r.rtype));
        for rrset in rrsets {
            let t = rrset.rtype;
            if apex && matches!(t, RecordType::SOA | RecordType::NS) {
                continue;
            }
            if !TYPES.contains(&t) {
                notes.push(format!(
                    "{} {t}: Route 53 does not take {t} records; left out",
                    name
                ));
                continue;
            }
            out.push(RecordSet {
                name: name.to_string(),
                rtype: t.to_string(),
                ttl: Some(rrset.ttl.into()),
                resource_records: Some(rrset.rdatas.iter().map(resource_record).collect()),
                ..Default::default()
            });
        }
    }
    notes.push(format!(
        "{}: the SOA and the apex NS are left out: Route 53 keeps its own",
        zone.origin
    ));
}

fn resource_record(rdata: &RData) -> ResourceRecord {
    ResourceRecord {
        value: presentation(rdata),
    }
}

/// A value as Route 53 takes it: the zone file's presentation, with character-strings
/// quoted and escaped in octal.
pub fn presentation(rdata: &RData) -> String {
    match rdata {
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|s| quoted_octal(s))
            .collect::<Vec<_>>()
            .join(" "),
        RData::Unknown { code, rdata } => kept_as_wire(*code, &rdata.anything),
        other => other.to_string(),
    }
}

/// The types the zone reader keeps in wire form (see `zone::parse`), presented.
fn kept_as_wire(code: RecordType, wire: &[u8]) -> String {
    let generic = || {
        let hex: String = wire.iter().map(|b| format!("{b:02X}")).collect();
        format!("\\# {} {hex}", wire.len())
    };
    match (code, wire) {
        (RecordType::CAA, [flags, len, rest @ ..]) if rest.len() >= usize::from(*len) => {
            let (tag, value) = rest.split_at(usize::from(*len));
            format!(
                "{flags} {} {}",
                String::from_utf8_lossy(tag),
                quoted_octal(value)
            )
        }
        (RecordType::DS, [t0, t1, algorithm, digest_type, digest @ ..]) => {
            let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
            format!(
                "{} {algorithm} {digest_type} {hex}",
                u16::from_be_bytes([*t0, *t1])
            )
        }
        (RecordType::SVCB | RecordType::HTTPS, _) => {
            svcb::present(wire, quoted_octal).unwrap_or_else(generic)
        }
        _ => generic(),
    }
}

fn policy_set(
    g: &PolicyGroup,
    s: &PolicySet,
    options: &Options<'_>,
    notes: &mut Vec<String>,
) -> RecordSet {
    let mut set = RecordSet {
        name: g.name.to_string(),
        rtype: g.rtype.to_string(),
        health_check_id: s.health_check.clone(),
        ..Default::default()
    };
    match &s.data {
        SetData::Values { ttl, rdatas } => {
            set.ttl = Some((*ttl).into());
            set.resource_records = Some(rdatas.iter().map(resource_record).collect());
        }
        SetData::Alias {
            target,
            evaluate_target_health,
        } => {
            set.alias_target = Some(AliasTarget {
                hosted_zone_id: options
                    .hosted_zone_id
                    .unwrap_or(HOSTED_ZONE_PLACEHOLDER)
                    .into(),
                dns_name: target.to_string(),
                evaluate_target_health: *evaluate_target_health,
            })
        }
    }
    // The importer's form of an alias without a routing policy.
    let simple_alias = g.sets.len() == 1
        && s.set_id == SIMPLE_ALIAS
        && matches!(s.routing, Routing::Weighted(_))
        && set.alias_target.is_some();
    if simple_alias {
        return set;
    }
    set.set_identifier = Some(s.set_id.clone());
    let what = || format!("{} {} {:?}", g.name, g.rtype, s.set_id);
    match &s.routing {
        Routing::Failover(role) => {
            set.failover = Some(
                match role {
                    FailoverRole::Primary => "PRIMARY",
                    FailoverRole::Secondary => "SECONDARY",
                }
                .into(),
            )
        }
        Routing::Weighted(w) => set.weight = Some((*w).into()),
        Routing::Latency(region) => {
            if regions::location(region).is_none() {
                notes.push(format!(
                    "{}: region {region:?} is not an AWS region: Route 53 will refuse it",
                    what()
                ));
            }
            set.region = Some(region.clone());
        }
        Routing::Geolocation(key) => {
            let code = |s: &str| Some(s.to_string());
            set.geo_location = Some(match key {
                GeoKey::Subdivision {
                    country,
                    subdivision,
                } => GeoLocation {
                    continent_code: None,
                    country_code: code(country),
                    subdivision_code: code(subdivision),
                },
                GeoKey::Country(c) => GeoLocation {
                    continent_code: None,
                    country_code: code(c),
                    subdivision_code: None,
                },
                GeoKey::Continent(c) => GeoLocation {
                    continent_code: code(c),
                    country_code: None,
                    subdivision_code: None,
                },
                GeoKey::Default => GeoLocation {
                    continent_code: None,
                    country_code: code("*"),
                    subdivision_code: None,
                },
            })
        }
        Routing::Geoproximity(p) => {
            let aws = p.region.as_ref().filter(|r| regions::location(r).is_some());
            if let (Some(r), None) = (&p.region, aws) {
                notes.push(format!(
                    "{}: region {r:?} is not an AWS region: exported as its coordinates",
                    what()
                ));
            }
            set.geo_proximity_location = Some(GeoProximityLocation {
                aws_region: aws.cloned(),
                local_zone_group: None,
                coordinates: aws.is_none().then(|| Coordinates {
                    latitude: coordinate(p.at.lat, 6),
                    longitude: coordinate(p.at.lon, 7),
                }),
                bias: (p.bias != 0).then_some(p.bias.into()),
            })
        }
        Routing::Multivalue => set.multi_value_answer = Some(true),
        Routing::IpBased(location) => {
            set.cidr_routing_config = Some(CidrRoutingConfig {
                collection_id: options
                    .cidr_collection_id
                    .unwrap_or(CIDR_COLLECTION_PLACEHOLDER)
                    .into(),
                location_name: location.clone().unwrap_or_else(|| "*".into()),
            })
        }
    }
    set
}

/// A coordinate in at most `width` characters (Route 53's limit), as precise as fits.
fn coordinate(v: f64, width: usize) -> String {
    (0..=4)
        .rev()
        .map(|d| format!("{v:.d$}"))
        .map(|s| {
            if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                s
            }
        })
        .find(|s| s.len() <= width)
        .unwrap_or_else(|| format!("{v:.0}"))
}

fn check_config(c: &crate::health::HealthCheck, notes: &mut Vec<String>) -> HealthCheckConfig {
    let mut h = HealthCheckConfig {
        inverted: c.inverted.then_some(true),
        disabled: c.disabled.then_some(true),
        ..Default::default()
    };
    let mut endpoint = |h: &mut HealthCheckConfig, target: &Target, host: Option<&String>| {
        match target {
            Target::Ip(ip) => {
                h.ip_address = Some(ip.to_string());
                h.fully_qualified_domain_name = host.cloned();
            }
            Target::Fqdn(name) => {
                if host.is_some_and(|h| h != name) {
                    notes.push(format!(
                        "health check {}: Route 53 sends the name it resolves ({name}) as the Host; host is left out",
                        c.id
                    ));
                }
                h.fully_qualified_domain_name = Some(name.clone());
            }
        }
    };
    match &c.probe {
        Probe::Http {
            tls,
            target,
            port,
            path,
            host,
            search_string,
            verify_tls,
        } => {
            let scheme = if *tls { "HTTPS" } else { "HTTP" };
            h.kind = match search_string {
                Some(_) => format!("{scheme}_STR_MATCH"),
                None => scheme.into(),
            };
            endpoint(&mut h, target, host.as_ref());
            h.port = Some(*port);
            h.resource_path = Some(path.clone());
            h.search_string = search_string.clone();
            h.enable_sni = tls.then_some(true);
            if *verify_tls {
                notes.push(format!(
                    "health check {}: Route 53 does not verify certificates (verify_tls)",
                    c.id
                ));
            }
        }
        Probe::Tcp { target, port } => {
            h.kind = "TCP".into();
            endpoint(&mut h, target, None);
            h.port = Some(*port);
        }
        Probe::Calculated {
            children,
            threshold,
        } => {
            h.kind = "CALCULATED".into();
            h.child_health_checks = Some(children.clone());
            h.health_threshold = Some((*threshold).into());
            return h;
        }
    }
    // Route 53 probes every 10 or every 30 seconds, with its own timeouts.
    h.request_interval = Some(if c.interval <= Duration::from_secs(10) {
        10
    } else {
        30
    });
    if !matches!(c.interval.as_secs_f64(), 10.0 | 30.0) {
        notes.push(format!(
            "health check {}: interval {:?} is not one of Route 53's (10 s, 30 s): exported as {} s",
            c.id,
            c.interval,
            h.request_interval.unwrap_or(30)
        ));
    }
    if c.timeout.is_some() {
        notes.push(format!(
            "health check {}: Route 53's timeouts are fixed; timeout is left out",
            c.id
        ));
    }
    h.failure_threshold = Some(c.failure_threshold.into());
    h
}

/// The zone `origin` among the loaded ones, with its policies.
pub fn find<'a>(
    zones: &'a [std::sync::Arc<Zone>],
    policies: &'a [ZonePolicies],
    origin: &Name,
) -> Option<(&'a Zone, &'a ZonePolicies)> {
    let i = zones.iter().position(|z| z.origin == *origin)?;
    Some((&zones[i], &policies[i]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::lexer;
    use crate::zone::parse::parse_rdata;

    /// Each value Route 53 takes, written by the exporter, reads back as the same data.
    #[test]
    fn every_route53_type_reads_back_as_exported() {
        let origin = Name::from_ascii("example.com.").unwrap();
        let values = [
            (RecordType::A, "192.0.2.1"),
            (RecordType::AAAA, "2001:db8::1"),
            (RecordType::CNAME, "www.example.net."),
            (RecordType::NS, "ns1.example.net."),
            (RecordType::PTR, "host.example.com."),
            (RecordType::MX, "10 mail.example.com."),
            (RecordType::SRV, "10 60 5060 sip.example.com."),
            (
                RecordType::TXT,
                r#""v=spf1 -all" "caf\195\169 \"q\" \\ end""#,
            ),
            (
                RecordType::CAA,
                r#"0 issue "letsencrypt.org; validationmethods=dns-01""#,
            ),
            (
                RecordType::CAA,
                r#"128 iodef "mailto:security@example.com""#,
            ),
            (
                RecordType::NAPTR,
                r#"100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" ."#,
            ),
            (
                RecordType::DS,
                "12345 13 2 0A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A",
            ),
            (
                RecordType::TLSA,
                "3 1 1 0A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A",
            ),
            (
                RecordType::SSHFP,
                "4 2 0A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A",
            ),
            (
                RecordType::HTTPS,
                r#"1 . alpn="h2,h3" port=8443 ipv4hint=192.0.2.1"#,
            ),
            (RecordType::SVCB, "0 svc.example.com."),
            (
                RecordType::SVCB,
                r#"16 . mandatory=alpn,port alpn="a\\\\,b,h2" no-default-alpn port=53 ipv6hint=2001:db8::1,2001:db8::2 ech=AEP+DQA= key667="x y""#,
            ),
            (
                RecordType::SOA,
                "ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 86400",
            ),
        ];
        let read = |t: RecordType, text: &str| {
            let tokens: Vec<_> = lexer::entries(text)
                .unwrap()
                .into_iter()
                .flat_map(|e| e.tokens)
                .collect();
            parse_rdata(t, &tokens, &origin).unwrap_or_else(|e| panic!("{t} {text:?}: {e}"))
        };
        for (t, text) in values {
            let rdata = read(t, text);
            let shown = presentation(&rdata);
            // Route 53 escapes in octal; the zone reader in decimal.
            let back = read(t, &super::super::from_octal_escapes(&shown));
            assert_eq!(back, rdata, "{t}: {text:?} exported as {shown:?}");
        }
    }

    #[test]
    fn coordinates_fit_route53s_widths() {
        assert_eq!(coordinate(-26.2, 6), "-26.2");
        assert_eq!(coordinate(1.2345, 6), "1.2345");
        assert_eq!(coordinate(-179.98765, 7), "-179.99");
        assert_eq!(coordinate(48.0, 6), "48");
    }
}
