//! A MaxMind-format GeoIP database: continent, country, subdivision and position of a
//! client address, for geolocation chains, geoproximity and the latency fallback.

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

use crate::coordinates::Coordinates;

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
