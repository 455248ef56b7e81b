//! Geolocation (reference §2.4): the most specific healthy location that contains the
//! client — subdivision, then country, then continent, then the default `*`; no match
//! and no default is NODATA.

use serde::Deserialize;

use super::select::{Context, Decided};
use super::{no_location_twice, PolicyGroup, PolicySet, Routing};

pub const NAME: &str = "geolocation";
pub const FIELD: &str = "geo";
const RULE: &str = "the most specific healthy location that contains the client";
const CONTINENTS: [&str; 7] = ["AF", "AN", "AS", "EU", "OC", "NA", "SA"];

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

impl GeoKey {
    /// Lower is more specific: 0 subdivision, 1 country, 2 continent, 3 default.
    pub fn specificity(&self) -> f64 {
        match self {
            GeoKey::Subdivision { .. } => 0.0,
            GeoKey::Country(_) => 1.0,
            GeoKey::Continent(_) => 2.0,
            GeoKey::Default => 3.0,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Def {
    continent: Option<String>,
    country: Option<String>,
    subdivision: Option<String>,
}

pub fn read(value: &toml::Value) -> Result<Routing, String> {
    let g: Def = super::value_as(FIELD, value)?;
    let key = match (&g.continent, &g.country, &g.subdivision) {
        (Some(c), None, None) => {
            let c = c.to_ascii_uppercase();
            if !CONTINENTS.contains(&c.as_str()) {
                return Err(format!(
                    "unknown continent {c:?}: use one of {}",
                    CONTINENTS.join(" ")
                ));
            }
            GeoKey::Continent(c)
        }
        (None, Some(c), None) if c == "*" => GeoKey::Default,
        (None, Some(c), sub) => {
            let c = c.to_ascii_uppercase();
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(format!(
                    "country {c:?} must be an ISO 3166 two-letter code or \"*\""
                ));
            }
            match sub {
                None => GeoKey::Country(c),
                Some(s) if (1..=3).contains(&s.len()) => GeoKey::Subdivision {
                    country: c,
                    subdivision: s.to_ascii_uppercase(),
                },
                Some(s) => return Err(format!("subdivision {s:?} must be 1 to 3 characters")),
            }
        }
        (None, None, Some(_)) => return Err("a subdivision needs its country".into()),
        (Some(_), _, _) => {
            return Err("geo takes a continent alone, or a country (and subdivision)".into())
        }
        (None, None, None) => {
            return Err("geo needs a continent, a country or country = \"*\"".into())
        }
    };
    Ok(Routing::Geolocation(key))
}

pub fn check(g: &PolicyGroup, problems: &mut Vec<(usize, String)>) {
    fn location(r: &Routing) -> Option<&GeoKey> {
        match r {
            Routing::Geolocation(l) => Some(l),
            _ => None,
        }
    }
    no_location_twice(g, location, problems);
}

pub fn decide() -> Decided {
    Decided::ranked(rank, RULE)
}

/// Rank: the specificity of each location that contains the client.
fn rank(sets: &[PolicySet], cx: &dyn Context, rank: &mut dyn FnMut(usize, f64)) {
    for (i, s) in sets.iter().enumerate() {
        if let Routing::Geolocation(key) = &s.routing {
            if let Some(r) = cx.geo_rank(key) {
                rank(i, r);
            }
        }
    }
}

pub fn describe(key: &GeoKey) -> String {
    match key {
        GeoKey::Subdivision {
            country,
            subdivision,
        } => format!("subdivision {country}-{subdivision}"),
        GeoKey::Country(c) => format!("country {c}"),
        GeoKey::Continent(c) => format!("continent {c}"),
        GeoKey::Default => "default location".into(),
    }
}
