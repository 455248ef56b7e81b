//! Geoproximity (reference §2.6): the healthy set nearest the client, each distance
//! scaled by the set's bias; without a client position, declaration order.

use serde::Deserialize;

use super::select::{Context, Decided};
use super::{PolicySet, ReadContext, Routing};
use crate::coordinates::Coordinates;

pub const NAME: &str = "geoproximity";
pub const FIELD: &str = "geoproximity";
const RULE: &str = "the healthy set nearest the client, after bias";

/// Where a geoproximity record is.
#[derive(Debug, Clone, PartialEq)]
pub struct Proximity {
    pub at: Coordinates,
    /// The region it was declared by, if it was (kept for `export`).
    pub region: Option<String>,
    /// -99..=99: positive grows the record's catchment.
    pub bias: i8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Def {
    region: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    #[serde(default)]
    bias: i64,
}

pub fn read(value: &toml::Value, cx: &ReadContext<'_>) -> Result<Routing, String> {
    let p: Def = super::value_as(FIELD, value)?;
    let at = match (&p.region, p.lat, p.lon) {
        (Some(r), None, None) => cx.region(r)?.location,
        (None, Some(lat), Some(lon)) => {
            let c = Coordinates { lat, lon };
            if !c.is_valid() {
                return Err("geoproximity lat must be -90..90 and lon -180..180".into());
            }
            c
        }
        _ => return Err("geoproximity needs a region or lat and lon".into()),
    };
    if !(-99..=99).contains(&p.bias) {
        return Err(format!("bias {} is out of range -99..99", p.bias));
    }
    Ok(Routing::Geoproximity(Proximity {
        at,
        region: p.region,
        bias: p.bias as i8,
    }))
}

pub fn decide() -> Decided {
    Decided::ranked(rank, RULE)
}

/// Rank: km after bias; without the client's position, the declaration order.
fn rank(sets: &[PolicySet], cx: &dyn Context, rank: &mut dyn FnMut(usize, f64)) {
    let client = cx.position();
    for (i, s) in sets.iter().enumerate() {
        match (client, &s.routing) {
            (Some(client), Routing::Geoproximity(p)) => rank(i, biased(client.km_to(p.at), p.bias)),
            _ => rank(i, i as f64),
        }
    }
}

/// Route 53 §2.6: positive bias shrinks the distance (grows the catchment).
pub fn biased(km: f64, bias: i8) -> f64 {
    let b = f64::from(bias) / 100.0;
    if bias >= 0 {
        km * (1.0 - b)
    } else {
        km / (1.0 + b)
    }
}

pub fn describe(p: &Proximity) -> String {
    format!("at {}, {} bias {}", p.at.lat, p.at.lon, p.bias)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bias_scales_the_distance() {
        assert_eq!(biased(150.0, 50), 75.0);
        assert_eq!(biased(150.0, -50), 300.0);
    }
}
