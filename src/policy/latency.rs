//! Latency (reference §2.3): the healthy region with the lowest latency to the client —
//! measured when the latency table covers the client, else by distance, else in the
//! order of `[[region]]`; the client decides per query.

use super::select::{Context, Decided};
use super::{no_location_twice, PolicyGroup, PolicySet, ReadContext, Routing};

pub const NAME: &str = "latency";
pub const FIELD: &str = "region";
const RULE: &str = "the healthy region with the lowest latency to the client";

pub fn read(value: &toml::Value, cx: &ReadContext<'_>) -> Result<Routing, String> {
    let region: String = super::value_as(FIELD, value)?;
    cx.region(&region)?;
    Ok(Routing::Latency(region))
}

pub fn check(g: &PolicyGroup, problems: &mut Vec<(usize, String)>) {
    fn location(r: &Routing) -> Option<&String> {
        match r {
            Routing::Latency(l) => Some(l),
            _ => None,
        }
    }
    no_location_twice(g, location, problems);
}

pub fn decide() -> Decided {
    Decided::ranked(rank, RULE)
}

/// Rank: the latency (ms, or km when only a position is known).
fn rank(sets: &[PolicySet], cx: &dyn Context, rank: &mut dyn FnMut(usize, f64)) {
    for (i, s) in sets.iter().enumerate() {
        if let Routing::Latency(region) = &s.routing {
            rank(i, cx.latency(region));
        }
    }
}

pub fn describe(region: &str) -> String {
    format!("region {region}")
}
