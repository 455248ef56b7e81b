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

/// What the GeoIP database says of an address; the codes are read in place from the
/// database, so a lookup allocates nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Location<'db> {
    pub continent: Option<&'db str>,
    pub country: Option<&'db str>,
    pub subdivision: Option<&'db str>,
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
struct CityRecord<'db> {
    #[serde(borrow)]
    continent: Option<Coded<'db>>,
    #[serde(borrow)]
    country: Option<Coded<'db>>,
    #[serde(borrow)]
    subdivisions: Option<First<Coded<'db>>>,
    location: Option<Position>,
}

#[derive(Deserialize)]
struct Coded<'db> {
    code: Option<&'db str>,
    iso_code: Option<&'db str>,
}

#[derive(Deserialize)]
struct Position {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

/// The first element of a sequence (the most significant subdivision); the rest are
/// skipped rather than collected.
struct First<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for First<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
            type Value = First<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<First<T>, A::Error> {
                let first = seq.next_element()?;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(First(first))
            }
        }
        d.deserialize_seq(Visit(std::marker::PhantomData))
    }
}

impl GeoDb {
    pub fn open(path: &Path) -> Result<GeoDb, String> {
        let reader = maxminddb::Reader::open_readfile(path)
            .map_err(|e| format!("cannot read the GeoIP database: {e}"))?;
        Ok(GeoDb { reader })
    }

    /// The address's location, if the database knows it.
    pub fn locate(&self, addr: IpAddr) -> Option<Location<'_>> {
        let found = self.reader.lookup(addr).ok()?;
        let prefix = found.network().ok()?.prefix();
        let record: CityRecord<'_> = found.decode().ok()??;
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
                .and_then(|s| s.0)
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
        // Longest prefixes first, the rows of each network together.
        rows.sort_by_key(|r| (std::cmp::Reverse(r.0.prefix_len()), r.0));
        LatencyTable { rows }
    }

    /// The rows of the longest prefix that covers the client (and is no longer than the
    /// client's own prefix).
    pub fn lookup(&self, addr: IpAddr, client_prefix: u8) -> Option<Measured<'_>> {
        let first = self
            .rows
            .iter()
            .position(|(net, _, _)| net.prefix_len() <= client_prefix && net.contains(&addr))?;
        let best = self.rows[first].0;
        // Rows of one network are adjacent (sorted so at load).
        let len = self.rows[first..]
            .iter()
            .take_while(|r| r.0 == best)
            .count();
        Some(Measured {
            prefix: best.prefix_len(),
            rows: &self.rows[first..first + len],
        })
    }
}

/// What the latency table says for one client.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured<'t> {
    /// The matched prefix's length: the ECS scope of an answer it decided.
    pub prefix: u8,
    rows: &'t [(IpNet, String, f64)],
}

impl Measured<'_> {
    /// The round-trip time to `region`, if the table lists it for this client.
    pub fn rtt(&self, region: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|(_, r, _)| r == region)
            .map(|&(_, _, rtt)| rtt)
    }
}
