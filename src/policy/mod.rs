//! Record sets with a routing policy, in Route 53's model: a *group* is every set of one
//! name and type; the policy belongs to the group; each set has a `set_id`, its values
//! or an alias, and optionally a health check.
//!
//! - `file` reads and validates `zones/<origin>.toml`;
//! - `select` is the engine every policy shares: set health through alias trees, the
//!   last resort, the per-query pick, the trace for `explain`;
//! - one module per policy owns the rest of it, behind the contract below.
//!
//! # The policy contract
//! A policy module provides `NAME` (its word in `explain`), `FIELD` (its key in a
//! `[[record]]`), `read` (that key's value → a [`Routing`]), `check` (its own rules over a
//! whole group), `decide` (what health decides, as a [`select::Decided`]: a fixed set, a
//! draw, a subset or a ranking by the client) and `describe` (a set's routing value in
//! words). Adding a policy is a new module and its [`Kind`] here: every `match` below is
//! exhaustive, so the compiler names each place that must learn it.

pub mod file;
pub mod select;

mod failover;
mod geolocation;
mod geoproximity;
mod ip_based;
mod latency;
mod multivalue;
mod weighted;

use std::path::PathBuf;

use hickory_proto::rr::{Name, RData, RecordType};

use crate::config::Region;
use crate::health::HealthCheck;
pub use failover::Role as FailoverRole;
pub use geolocation::GeoKey;
pub use geoproximity::Proximity;
pub use ip_based::CidrLocation;
pub use multivalue::MAX as MULTIVALUE_MAX;

/// Every routing policy: the registration of the policy modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Failover,
    Weighted,
    Latency,
    Geolocation,
    Geoproximity,
    Multivalue,
    IpBased,
}

impl Kind {
    /// In the order the policy file's error messages list them.
    pub const ALL: [Kind; 7] = [
        Kind::Failover,
        Kind::Weighted,
        Kind::Latency,
        Kind::Geolocation,
        Kind::Geoproximity,
        Kind::Multivalue,
        Kind::IpBased,
    ];

    /// The policy's name, as `explain` and the API say it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Failover => failover::NAME,
            Kind::Weighted => weighted::NAME,
            Kind::Latency => latency::NAME,
            Kind::Geolocation => geolocation::NAME,
            Kind::Geoproximity => geoproximity::NAME,
            Kind::Multivalue => multivalue::NAME,
            Kind::IpBased => ip_based::NAME,
        }
    }

    /// The key of a `[[record]]` that selects this policy.
    pub fn field(self) -> &'static str {
        match self {
            Kind::Failover => failover::FIELD,
            Kind::Weighted => weighted::FIELD,
            Kind::Latency => latency::FIELD,
            Kind::Geolocation => geolocation::FIELD,
            Kind::Geoproximity => geoproximity::FIELD,
            Kind::Multivalue => multivalue::FIELD,
            Kind::IpBased => ip_based::FIELD,
        }
    }

    pub fn from_field(field: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.field() == field)
    }

    /// A set's routing value, from its policy field.
    fn read(self, value: &toml::Value, cx: &ReadContext<'_>) -> Result<Routing, String> {
        match self {
            Kind::Failover => failover::read(value),
            Kind::Weighted => weighted::read(value),
            Kind::Latency => latency::read(value, cx),
            Kind::Geolocation => geolocation::read(value),
            Kind::Geoproximity => geoproximity::read(value, cx),
            Kind::Multivalue => multivalue::read(value),
            Kind::IpBased => ip_based::read(value, cx),
        }
    }

    /// The policy's own rules over a whole group (one policy, checked by `file`):
    /// each problem as (line, message).
    fn check(self, g: &PolicyGroup, problems: &mut Vec<(usize, String)>) {
        match self {
            Kind::Failover => failover::check(g, problems),
            Kind::Weighted => {}
            Kind::Latency => latency::check(g, problems),
            Kind::Geolocation => geolocation::check(g, problems),
            Kind::Geoproximity => {}
            Kind::Multivalue => multivalue::check(g, problems),
            Kind::IpBased => ip_based::check(g, problems),
        }
    }

    /// What health decides for a group of this policy; `healthy` is each set's health.
    fn decide(self, g: &PolicyGroup, healthy: &[bool]) -> select::Decided {
        match self {
            Kind::Failover => failover::decide(g, healthy),
            Kind::Weighted => weighted::decide(g, healthy),
            Kind::Latency => latency::decide(),
            Kind::Geolocation => geolocation::decide(),
            Kind::Geoproximity => geoproximity::decide(),
            Kind::Multivalue => multivalue::decide(g, healthy),
            Kind::IpBased => ip_based::decide(),
        }
    }
}

/// What a policy module reads its field against.
pub struct ReadContext<'a> {
    pub regions: &'a [Region],
    pub cidrs: &'a [CidrLocation],
}

impl ReadContext<'_> {
    pub fn region(&self, id: &str) -> Result<&Region, String> {
        self.regions
            .iter()
            .find(|r| r.id == id)
            .ok_or_else(|| format!("unknown region {id:?}: declare it as [[region]] in hadns.toml"))
    }
}

/// The routing field of one set; its kind is the group's policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Routing {
    Failover(FailoverRole),
    Weighted(u8),
    /// The region id.
    Latency(String),
    Geolocation(GeoKey),
    Geoproximity(Proximity),
    Multivalue,
    /// The CIDR location's name; None for the `*` default.
    IpBased(Option<String>),
}

impl Routing {
    pub fn kind(&self) -> Kind {
        match self {
            Routing::Failover(_) => Kind::Failover,
            Routing::Weighted(_) => Kind::Weighted,
            Routing::Latency(_) => Kind::Latency,
            Routing::Geolocation(_) => Kind::Geolocation,
            Routing::Geoproximity(_) => Kind::Geoproximity,
            Routing::Multivalue => Kind::Multivalue,
            Routing::IpBased(_) => Kind::IpBased,
        }
    }

    /// The value in words, for `explain`: `primary`, `weight 10`, `region eu-west`, ….
    pub fn describe(&self) -> String {
        match self {
            Routing::Failover(role) => failover::describe(*role),
            Routing::Weighted(w) => weighted::describe(*w),
            Routing::Latency(region) => latency::describe(region),
            Routing::Geolocation(key) => geolocation::describe(key),
            Routing::Geoproximity(p) => geoproximity::describe(p),
            Routing::Multivalue => multivalue::describe(),
            Routing::IpBased(location) => ip_based::describe(location.as_deref()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SetData {
    Values {
        ttl: u32,
        rdatas: Vec<RData>,
    },
    /// Another name of the same type in the same zone.
    Alias {
        target: Name,
        evaluate_target_health: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct PolicySet {
    pub set_id: String,
    pub routing: Routing,
    pub data: SetData,
    pub health_check: Option<String>,
    /// Where it was written.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyGroup {
    pub name: Name,
    pub rtype: RecordType,
    /// At least one; all of one policy.
    pub sets: Vec<PolicySet>,
}

/// Groups by name and type: where `(name, rtype)` is found, in time that does not grow
/// with the number of groups (a zone may have tens of thousands).
pub struct GroupIndex(std::collections::HashMap<(Box<[u8]>, RecordType), usize>);

impl GroupIndex {
    pub fn new(groups: &[PolicyGroup]) -> Self {
        let mut index = std::collections::HashMap::with_capacity(groups.len());
        for (i, g) in groups.iter().enumerate() {
            index
                .entry((crate::zone::name_key(&g.name), g.rtype))
                .or_insert(i);
        }
        GroupIndex(index)
    }

    pub fn find(&self, name: &Name, rtype: RecordType) -> Option<usize> {
        self.0.get(&(crate::zone::name_key(name), rtype)).copied()
    }
}

impl PolicyGroup {
    pub fn kind(&self) -> Kind {
        self.sets[0].routing.kind()
    }
}

/// Everything one policy file declares, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZonePolicies {
    pub file: PathBuf,
    pub groups: Vec<PolicyGroup>,
    pub health_checks: Vec<HealthCheck>,
    pub cidr_locations: Vec<CidrLocation>,
}

/// For policies whose sets each claim a location (a region, a geolocation, a CIDR
/// location): the same one twice in a group is an error at the second.
fn no_location_twice<K: PartialEq>(
    g: &PolicyGroup,
    location: impl Fn(&Routing) -> Option<&K>,
    problems: &mut Vec<(usize, String)>,
) {
    for (i, s) in g.sets.iter().enumerate() {
        let Some(here) = location(&s.routing) else {
            continue;
        };
        if let Some(o) = g.sets[..i]
            .iter()
            .find(|o| location(&o.routing) == Some(here))
        {
            problems.push((
                s.line,
                format!(
                    "{} {}: the same location as set {:?} at line {}",
                    g.name, g.rtype, o.set_id, o.line
                ),
            ));
        }
    }
}

/// A value as an error message shows it: a string quoted, else its type.
fn shown(value: &toml::Value) -> String {
    match value.as_str() {
        Some(s) => format!("{s:?}"),
        None => format!("a {}", value.type_str()),
    }
}

/// A TOML value as one type, with the field named in the error.
fn value_as<T: serde::de::DeserializeOwned>(field: &str, value: &toml::Value) -> Result<T, String> {
    value
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| format!("{field}: {}", e.message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_found_by_its_field() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_field(k.field()), Some(k));
        }
    }
}
