//! Health status as the query path reads it: per zone, check id → healthy.
//!
//! Until the probing engine runs (issue 4), statuses follow Route 53's rules for checks
//! without results: a new check is healthy and a new inverted one unhealthy; a disabled
//! check reports healthy, disabled and inverted unhealthy; a calculated check is healthy
//! when at least `threshold` children are.

use std::collections::HashMap;

use crate::policy::{HealthCheck, Probe, ZonePolicies};

#[derive(Debug, Clone, Default)]
pub struct HealthTable {
    /// Indexed like the zones of the dataset.
    per_zone: Vec<HashMap<String, bool>>,
}

impl HealthTable {
    /// Statuses before any probe result.
    pub fn initial(policies: &[ZonePolicies]) -> Self {
        let per_zone = policies
            .iter()
            .map(|p| {
                let mut status: HashMap<String, bool> = p
                    .health_checks
                    .iter()
                    .filter(|c| !matches!(c.probe, Probe::Calculated { .. }))
                    .map(|c| (c.id.clone(), !c.inverted))
                    .collect();
                for c in &p.health_checks {
                    if let Probe::Calculated {
                        children,
                        threshold,
                    } = &c.probe
                    {
                        let up = children
                            .iter()
                            .filter(|id| status.get(*id).copied().unwrap_or(true))
                            .count();
                        status.insert(c.id.clone(), calculated(c, up, *threshold));
                    }
                }
                status
            })
            .collect();
        HealthTable { per_zone }
    }

    /// A check with no status (none declared by that id) counts as healthy.
    pub fn healthy(&self, zone: usize, check: &str) -> bool {
        self.per_zone
            .get(zone)
            .and_then(|m| m.get(check))
            .copied()
            .unwrap_or(true)
    }
}

/// Route 53 §4.8 and §4.7: at least `threshold` healthy children; disabled reports
/// healthy; inverted flips the result.
fn calculated(c: &HealthCheck, healthy_children: usize, threshold: u16) -> bool {
    let healthy = c.disabled || healthy_children >= usize::from(threshold);
    healthy != c.inverted
}
