//! Record sets with a routing policy, in Route 53's model: a *group* is every set of one
//! name and type; the policy belongs to the group; each set has a `set_id`, its values
//! or an alias, and optionally a health check.
//!
//! `file` reads and validates `zones/<origin>.toml`; the types here are what it yields.

pub mod file;
pub mod select;

use std::path::PathBuf;
use std::time::Duration;

use hickory_proto::rr::{Name, RData, RecordType};
use ipnet::IpNet;

use crate::config::Coordinates;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailoverRole {
    Primary,
    Secondary,
}

/// A geolocation key, most specific first: subdivision > country > continent > default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeoKey {
    Subdivision {
        country: String,
        subdivision: String,
    },
    Country(String),
    Continent(String),
    Default,
}

/// Where a geoproximity record is.
#[derive(Debug, Clone, PartialEq)]
pub struct Proximity {
    pub at: Coordinates,
    /// -99..=99: positive grows the record's catchment.
    pub bias: i8,
}

/// The routing field of one set; which variant fixes the group's policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Routing {
    Failover(FailoverRole),
    Weighted(u8),
    Latency(String),
    Geo(GeoKey),
    Geoproximity(Proximity),
    Multivalue,
    /// None: the `*` default location.
    Cidr(Option<String>),
}

impl Routing {
    pub fn policy_name(&self) -> &'static str {
        match self {
            Routing::Failover(_) => "failover",
            Routing::Weighted(_) => "weight",
            Routing::Latency(_) => "region",
            Routing::Geo(_) => "geo",
            Routing::Geoproximity(_) => "geoproximity",
            Routing::Multivalue => "multivalue",
            Routing::Cidr(_) => "cidr",
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
    pub sets: Vec<PolicySet>,
}

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
    Ip(std::net::IpAddr),
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

#[derive(Debug, Clone, PartialEq)]
pub struct CidrLocation {
    pub name: String,
    pub networks: Vec<IpNet>,
}

/// Everything one policy file declares, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZonePolicies {
    pub file: PathBuf,
    pub groups: Vec<PolicyGroup>,
    pub health_checks: Vec<HealthCheck>,
    pub cidr_locations: Vec<CidrLocation>,
}
