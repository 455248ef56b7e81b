//! Where clients are: a MaxMind-format GeoIP database (geolocation chains, positions for
//! geoproximity and the latency fallback) and a measured latency table. Read-only data
//! loaded with the config; the query path only looks things up.

use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;

use ipnet::IpNet;
use serde::Deserialize;

use crate::config::Coordinates;
use crate::diag::{Diagnostic, Diagnostics};

/// What the GeoIP database says of an address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Location {
    pub continent: Option<String>,
    pub country: Option<String>,
    pub subdivision: Option<String>,
    pub position: Option<Coordinates>,
    /// The length of the database network the address fell in: the ECS scope of any
    /// answer that depends on this location.
    pub prefix: u8,
}

pub struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GeoDb")
    }
}

/// The subset of a GeoIP2/GeoLite2 City record that routing needs.
#[derive(Deserialize)]
struct CityRecord {
    continent: Option<Coded>,
    country: Option<Coded>,
    subdivisions: Option<Vec<Coded>>,
    location: Option<Position>,
}

#[derive(Deserialize)]
struct Coded {
    code: Option<String>,
    iso_code: Option<String>,
}

#[derive(Deserialize)]
struct Position {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

impl GeoDb {
    pub fn open(path: &Path) -> Result<GeoDb, String> {
        let reader = maxminddb::Reader::open_readfile(path)
            .map_err(|e| format!("cannot read the GeoIP database: {e}"))?;
        Ok(GeoDb { reader })
    }

    /// The address's location, if the database knows it.
    pub fn locate(&self, addr: IpAddr) -> Option<Location> {
        let found = self.reader.lookup(addr).ok()?;
        let prefix = found.network().ok()?.prefix();
        let record: CityRecord = found.decode().ok()??;
        let position = record.location.and_then(|l| {
            Some(Coordinates {
                lat: l.latitude?,
                lon: l.longitude?,
            })
        });
        Some(Location {
            continent: record.continent.and_then(|c| c.code),
            country: record.country.and_then(|c| c.iso_code),
            subdivision: record
                .subdivisions
                .and_then(|s| s.into_iter().next())
                .and_then(|s| s.iso_code),
            position,
            prefix,
        })
    }
}

/// Measured round-trip times from client networks to regions: lines of
/// `client_prefix,region,rtt_ms`, matched by longest prefix.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyTable {
    /// Sorted by prefix length, longest first.
    rows: Vec<(IpNet, String, f64)>,
}

impl LatencyTable {
    /// Reads the table; problems go to `diags` at their line. `regions` are the ids
    /// declared in hadns.toml.
    pub fn read(path: &Path, regions: &[&str], diags: &mut Diagnostics) -> LatencyTable {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::error(
                    path,
                    1,
                    format!("cannot read the latency table: {e}"),
                ));
                return LatencyTable::default();
            }
        };
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let row = match fields.as_slice() {
                [net, region, rtt] => IpNet::from_str(net)
                    .map_err(|_| format!("bad client prefix {net:?}"))
                    .and_then(|net| {
                        let rtt: f64 = rtt
                            .parse()
                            .ok()
                            .filter(|r: &f64| r.is_finite() && *r >= 0.0)
                            .ok_or(format!("bad rtt_ms {rtt:?}"))?;
                        if !regions.contains(region) {
                            return Err(format!("unknown region {region:?}"));
                        }
                        Ok((net.trunc(), region.to_string(), rtt))
                    }),
                _ => Err("expected client_prefix,region,rtt_ms".to_string()),
            };
            match row {
                Ok(r) => rows.push(r),
                Err(m) => diags.push(Diagnostic::error(path, i + 1, m)),
            }
        }
        rows.sort_by_key(|r| std::cmp::Reverse(r.0.prefix_len()));
        LatencyTable { rows }
    }

    /// The rows of the longest prefix that covers the client (and is no longer than the
    /// client's own prefix).
    pub fn lookup(&self, addr: IpAddr, client_prefix: u8) -> Option<Measured<'_>> {
        let best = self
            .rows
            .iter()
            .find(|(net, _, _)| net.prefix_len() <= client_prefix && net.contains(&addr))?
            .0;
        let rtts = self
            .rows
            .iter()
            .filter(|(net, _, _)| *net == best)
            .map(|(_, r, rtt)| (r.as_str(), *rtt))
            .collect();
        Some(Measured {
            prefix: best.prefix_len(),
            rtts,
        })
    }
}

/// What the latency table says for one client.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured<'t> {
    /// The matched prefix's length: the ECS scope of an answer it decided.
    pub prefix: u8,
    /// Round-trip time to each region the table lists for that prefix.
    pub rtts: Vec<(&'t str, f64)>,
}
