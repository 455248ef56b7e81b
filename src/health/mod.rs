//! Health: the checks that policy files declare, probed in the background, reduced to one
//! immutable table (check id → healthy) that policy choices are decided from.
//!
//! - `check`: the `[[health_check]]` schema and the validated definitions.
//! - `probe`: one probe of one endpoint, a module per kind (HTTP/HTTPS, TCP), and why it
//!   failed.
//! - `engine`: scheduling, the consecutive-result state machine, overrides, publishing.
//! - `store`: the state file and the overrides file.
//!
//! In a cluster the engine also takes in its peers' observations (`set_peers`) and
//! override writes (`merge_override_writes`); the `cluster` module carries them.
//!
//! Check ids are shared by every zone: one id is one check, whatever files declare it.

pub mod check;
pub mod engine;
mod probe;
mod store;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use check::{HealthCheck, Probe, Target};
pub use engine::{CheckReport, Engine, ForcedReport, ObserverReport, OverrideError, ResultReport};
pub use store::{rfc3339, Override, OverrideWrite, Written};

/// One node's observation of one check: its own probe results with `failure_threshold`
/// applied. Nodes of a cluster share these and decide from them together.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The definition it was measured with ([`HealthCheck::digest`]): observers count
    /// only for a check defined the same way.
    pub digest: String,
    /// None: defined there, but not (yet) measured.
    pub healthy: Option<bool>,
    pub since: SystemTime,
    pub reason: String,
}

/// What a node heard from one peer.
#[derive(Debug, Clone)]
pub struct Peer {
    pub node: Arc<str>,
    /// Heard from lately, and alive by its failure detector.
    pub alive: bool,
    /// Since its last heartbeat reached us.
    pub silent_for: Duration,
    /// Check id → observation.
    pub observations: Arc<HashMap<String, Arc<Observation>>>,
}

/// The status in effect of every check, as answers see it. Cheap to clone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthTable(Arc<HashMap<String, bool>>);

impl HealthTable {
    /// A check the table does not know counts as healthy, like a record without a check.
    pub fn healthy(&self, check: &str) -> bool {
        self.0.get(check).copied().unwrap_or(true)
    }

    /// Statuses before any probe result, by Route 53's rules for new checks (§4.3):
    /// healthy, or unhealthy when inverted.
    pub fn assumed(checks: &[HealthCheck]) -> Self {
        HealthTable(Arc::new(evaluate(checks, |_| None, |_| None)))
    }
}

/// The status in effect of each check, from what probes measured (`None`: no result yet)
/// and manual overrides, by Route 53's rules:
/// - an override wins;
/// - disabled reports healthy, and inverted flips that (disabled + inverted = unhealthy);
/// - an endpoint check without a result counts healthy (§4.3), then inverted flips it;
/// - a calculated check is healthy when at least `threshold` children are (§4.8), a
///   disabled child counting healthy; then inverted flips it.
pub(crate) fn evaluate(
    checks: &[HealthCheck],
    measured: impl Fn(&str) -> Option<bool>,
    forced: impl Fn(&str) -> Option<bool>,
) -> HashMap<String, bool> {
    let mut status = HashMap::with_capacity(checks.len());
    // Children first: calculated checks only have endpoint checks as children.
    let (calculated, endpoints): (Vec<&HealthCheck>, Vec<&HealthCheck>) = checks
        .iter()
        .partition(|c| matches!(c.probe, Probe::Calculated { .. }));
    for c in endpoints {
        let reported = c.disabled || measured(&c.id).unwrap_or(true);
        let healthy = forced(&c.id).unwrap_or(reported != c.inverted);
        status.insert(c.id.clone(), healthy);
    }
    for c in calculated {
        let Probe::Calculated {
            children,
            threshold,
        } = &c.probe
        else {
            continue;
        };
        let up = children
            .iter()
            .filter(|id| status.get(id.as_str()).copied().unwrap_or(true))
            .count();
        let reported = c.disabled || up >= usize::from(*threshold);
        let healthy = forced(&c.id).unwrap_or(reported != c.inverted);
        status.insert(c.id.clone(), healthy);
    }
    status
}

pub(crate) fn status_word(healthy: bool) -> &'static str {
    if healthy {
        "healthy"
    } else {
        "unhealthy"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn tcp(id: &str) -> HealthCheck {
        HealthCheck {
            id: id.into(),
            probe: Probe::Tcp {
                target: Target::Ip([127, 0, 0, 1].into()),
                port: 9,
            },
            interval: Duration::from_secs(30),
            failure_threshold: 3,
            timeout: None,
            inverted: false,
            disabled: false,
            line: 1,
        }
    }

    fn calc(id: &str, children: &[&str], threshold: u16) -> HealthCheck {
        HealthCheck {
            probe: Probe::Calculated {
                children: children.iter().map(|c| c.to_string()).collect(),
                threshold,
            },
            ..tcp(id)
        }
    }

    #[test]
    fn route53_rules() {
        let inverted = HealthCheck {
            inverted: true,
            ..tcp("inv")
        };
        let disabled = HealthCheck {
            disabled: true,
            ..tcp("dis")
        };
        let both = HealthCheck {
            disabled: true,
            inverted: true,
            ..tcp("both")
        };
        let checks = vec![tcp("a"), inverted, disabled, both];
        // No results: new → healthy, inverted → unhealthy.
        let s = evaluate(&checks, |_| None, |_| None);
        assert_eq!(
            (s["a"], s["inv"], s["dis"], s["both"]),
            (true, false, true, false)
        );
        // Measured down: a and dis... dis is never probed and stays healthy.
        let s = evaluate(&checks, |_| Some(false), |_| None);
        assert_eq!(
            (s["a"], s["inv"], s["dis"], s["both"]),
            (false, true, true, false)
        );
        // An override wins over everything.
        let s = evaluate(&checks, |_| Some(false), |_| Some(true));
        assert!(s.values().all(|h| *h));
    }

    #[test]
    fn calculated_counts_children() {
        let mut down = HealthCheck {
            disabled: true,
            ..tcp("d")
        };
        let checks = vec![
            tcp("a"),
            tcp("b"),
            down.clone(),
            calc("two", &["a", "b", "d"], 2),
            calc("all", &["a", "b", "d"], 3),
            calc("zero", &["a"], 0),
            HealthCheck {
                inverted: true,
                ..calc("not-all", &["a", "b", "d"], 3)
            },
        ];
        let measured = |id: &str| Some(id != "b");
        let s = evaluate(&checks, measured, |_| None);
        // a up, b down, d disabled → counts up: 2 of 3.
        assert!(s["two"]);
        assert!(!s["all"]);
        assert!(s["zero"]);
        assert!(s["not-all"]);
        // A disabled + inverted child counts down.
        down.inverted = true;
        let checks = vec![tcp("a"), tcp("b"), down, calc("two", &["a", "b", "d"], 2)];
        let s = evaluate(&checks, measured, |_| None);
        assert!(!s["two"]);
        // A forced child counts as forced.
        let s = evaluate(&checks, measured, |id| (id == "b").then_some(true));
        assert!(s["two"]);
    }
}
