//! Weighted (reference §2.2): a draw in proportion to the weights of the healthy sets;
//! zero weights only when no positive weight is healthy; nothing healthy, by weight
//! over all. Health fixes the cumulative weights; each query makes one draw.

use super::select::{Choice, Decided};
use super::{PolicyGroup, Routing};
use crate::draw::Draw;

pub const NAME: &str = "weighted";
pub const FIELD: &str = "weight";

pub fn read(value: &toml::Value) -> Result<Routing, String> {
    let w = value
        .as_integer()
        .ok_or_else(|| format!("weight must be a whole number, not {}", super::shown(value)))?;
    let w = u8::try_from(w).map_err(|_| format!("weight {w} is out of range 0..255"))?;
    Ok(Routing::Weighted(w))
}

pub fn decide(g: &PolicyGroup, healthy: &[bool]) -> Decided {
    let weight = |i: usize| match g.sets[i].routing {
        Routing::Weighted(w) => u64::from(w),
        _ => 0,
    };
    let all: Vec<usize> = (0..g.sets.len()).collect();
    let healthy_of = |positive: bool| -> Vec<usize> {
        all.iter()
            .copied()
            .filter(|&i| healthy[i] && (weight(i) > 0) == positive)
            .collect()
    };
    // Healthy positive weights; else healthy zero weights, uniformly; else (nothing
    // healthy) by weight over all, uniformly if all weights are zero.
    let (pool, by_weight, rule, last_resort) = match (healthy_of(true), healthy_of(false)) {
        (p, _) if !p.is_empty() => (p, true, "a weighted draw among the healthy sets", false),
        (_, z) if !z.is_empty() => (
            z,
            false,
            "no healthy set has a weight above 0: an even draw among the healthy ones",
            false,
        ),
        _ if all.iter().any(|&i| weight(i) > 0) => (
            all.iter().copied().filter(|&i| weight(i) > 0).collect(),
            true,
            "no set is healthy: a weighted draw among all (last resort)",
            true,
        ),
        _ => (
            all.clone(),
            false,
            "no set is healthy: an even draw among all (last resort)",
            true,
        ),
    };
    let mut end = 0;
    let cumulative = pool
        .into_iter()
        .map(|i| {
            end += if by_weight { weight(i) } else { 1 };
            (end, i)
        })
        .collect();
    Decided {
        choice: Choice::Weighted(cumulative),
        rule,
        last_resort,
    }
}

/// The per-query draw over cumulative weights (more than one candidate).
pub fn draw(cumulative: &[(u64, usize)], draw: &mut Draw) -> usize {
    let x = draw.below(cumulative.last().map_or(1, |c| c.0));
    cumulative[cumulative.partition_point(|c| c.0 <= x)].1
}

pub fn describe(weight: u8) -> String {
    format!("weight {weight}")
}
