//! Who is asking and where they are: the facts that client-dependent policies rank by,
//! and the EDNS Client Subnet scope those facts earn (RFC 7871 §7.2.1: the prefix of
//! the network that decided, never longer than the client's).
//!
//! - `geoip`: a MaxMind City database (location, position);
//! - `latency`: the measured latency table;
//! - [`Facts`]: one query's view of them, looked up lazily, recording the scope.

pub mod geoip;
pub mod latency;

use std::cell::{Cell, OnceCell};
use std::net::IpAddr;

use crate::config::Region;
use crate::coordinates::Coordinates;
use crate::policy::select::Context;
use crate::policy::{CidrLocation, GeoKey};
use geoip::{GeoDb, Location};
use latency::{LatencyTable, Measured};

/// The client: the EDNS Client Subnet when the query has one, else the source address
/// with a full-length prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Client {
    /// A single address (a full-length prefix).
    pub fn from_addr(addr: IpAddr) -> Client {
        Client {
            addr,
            prefix: if addr.is_ipv4() { 32 } else { 128 },
        }
    }
}

/// Where clients are, read with the config and shared by every zone.
#[derive(Debug, Default)]
pub struct Locator {
    /// The regions of `hadns.toml`, in declaration order.
    pub regions: Vec<Region>,
    /// Present when a GeoIP database is configured.
    pub geo: Option<GeoDb>,
    pub latency: LatencyTable,
}

/// One query's facts about its client, each looked up once, when a policy first needs
/// it. Records the ECS scope: the longest prefix of any network that decided.
pub struct Facts<'z, 'q> {
    locator: &'z Locator,
    /// The zone's `[[cidr_location]]`s.
    cidrs: &'z [CidrLocation],
    client: &'q Client,
    location: OnceCell<Option<Location<'z>>>,
    /// The latency table's rows for the client's longest covering prefix.
    measured: OnceCell<Option<Measured<'z>>>,
    scope: Cell<Option<u8>>,
}

impl<'z, 'q> Facts<'z, 'q> {
    pub fn new(locator: &'z Locator, cidrs: &'z [CidrLocation], client: &'q Client) -> Self {
        Facts {
            locator,
            cidrs,
            client,
            location: OnceCell::new(),
            measured: OnceCell::new(),
            scope: Cell::new(None),
        }
    }

    /// The ECS scope the answer earned: None when nothing about the client decided.
    pub fn scope(&self) -> Option<u8> {
        self.scope.get()
    }

    /// The answer depends on the client's network of this length.
    fn decided_by(&self, prefix: u8) {
        let p = prefix.min(self.client.prefix);
        self.scope
            .set(Some(self.scope.get().map_or(p, |s| s.max(p))));
    }

    fn location(&self) -> Option<&Location<'z>> {
        let geo = self.locator.geo.as_ref();
        let loc = self
            .location
            .get_or_init(|| geo?.locate(self.client.addr))
            .as_ref();
        if geo.is_some() {
            // Known or not, the database's network for the address decided.
            self.decided_by(loc.map_or(self.client.prefix, |l| l.prefix));
        }
        loc
    }
}

impl Context for Facts<'_, '_> {
    /// Measured RTT when the latency table covers the client; else the distance from
    /// the client's GeoIP position; else the order of [[region]] in hadns.toml.
    fn latency(&self, region: &str) -> f64 {
        let regions = &self.locator.regions;
        let measured = self.measured.get_or_init(|| {
            self.locator
                .latency
                .lookup(self.client.addr, self.client.prefix)
        });
        if let Some(m) = measured {
            self.decided_by(m.prefix);
            return m.rtt(region).unwrap_or(f64::INFINITY);
        }
        let Some(at) = regions.iter().find(|r| r.id == region) else {
            return f64::INFINITY;
        };
        match self.position() {
            Some(client) => client.km_to(at.location),
            None => regions.iter().position(|r| r.id == region).unwrap_or(0) as f64,
        }
    }

    /// Route 53's order: the subdivision, then the country, then the continent, then
    /// the default location.
    fn geo_rank(&self, key: &GeoKey) -> Option<f64> {
        let here = self.location();
        let country = here.and_then(|l| l.country);
        let matched = match key {
            GeoKey::Subdivision {
                country: c,
                subdivision,
            } => {
                country == Some(c.as_str())
                    && here.and_then(|l| l.subdivision) == Some(subdivision.as_str())
            }
            GeoKey::Country(c) => country == Some(c.as_str()),
            GeoKey::Continent(c) => here.and_then(|l| l.continent) == Some(c.as_str()),
            GeoKey::Default => true,
        };
        matched.then(|| key.specificity())
    }

    fn position(&self) -> Option<Coordinates> {
        self.location()?.position
    }

    fn cidr_location(&self) -> Option<&str> {
        let client = self.client;
        let best = self
            .cidrs
            .iter()
            .flat_map(|l| l.networks.iter().map(move |n| (n, l)))
            .filter(|(net, _)| net.prefix_len() <= client.prefix && net.contains(&client.addr))
            .max_by_key(|(net, _)| net.prefix_len());
        self.decided_by(best.map_or(client.prefix, |(net, _)| net.prefix_len()));
        best.map(|(_, l)| l.name.as_str())
    }
}
