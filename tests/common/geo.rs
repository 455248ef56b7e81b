//! A MaxMind-format GeoIP database written by the test.

use maxminddb_writer::paths::IpAddrWithMask;
use maxminddb_writer::Database;
use serde::Serialize;

#[derive(Serialize)]
struct City {
    continent: Code,
    country: Iso,
    subdivisions: Vec<Iso>,
    location: Position,
}
#[derive(Serialize)]
struct Code {
    code: &'static str,
}
#[derive(Serialize)]
struct Iso {
    iso_code: &'static str,
}
#[derive(Serialize)]
struct Position {
    latitude: f64,
    longitude: f64,
}

/// Seattle (US-WA), Kansas (US, no state), Berlin (DE), Tokyo (JP).
pub fn geo_db() -> Vec<u8> {
    let mut db = Database::default();
    db.metadata.binary_format_major_version = 2;
    db.metadata.database_type = "hadns-test-City".into();
    for (net, continent, country, sub, lat, lon) in [
        ("198.51.100.0/24", "NA", "US", Some("WA"), 47.6, -122.3),
        ("198.51.101.0/24", "NA", "US", None, 39.0, -98.0),
        ("203.0.113.0/24", "EU", "DE", None, 52.5, 13.4),
        ("192.0.2.0/24", "AS", "JP", None, 35.7, 139.7),
    ] {
        let city = City {
            continent: Code { code: continent },
            country: Iso { iso_code: country },
            subdivisions: sub.map(|s| Iso { iso_code: s }).into_iter().collect(),
            location: Position {
                latitude: lat,
                longitude: lon,
            },
        };
        let data = db.insert_value(city).unwrap();
        db.insert_node(net.parse::<IpAddrWithMask>().unwrap(), data);
    }
    db.write_to(Vec::new()).unwrap()
}

/// The routing section that uses them: the database, the latency table and two regions.
pub const CONFIG: &str = r#"
[routing]
geoip_db = "geo.mmdb"
latency_table = "latency.csv"

[[region]]
id = "eu-west"
location = { lat = 53.3, lon = -6.3 }

[[region]]
id = "us-east"
location = { lat = 38.9, lon = -77.0 }
"#;

/// Berlin's network is measured: us-east answers fastest from there, whatever the map says.
pub const LATENCY: &str =
    "# client_prefix,region,rtt_ms\n203.0.113.0/24,us-east,5\n203.0.113.0/24,eu-west,40\n";
