//! Failover (reference §2.1): the primary while it is healthy, else the secondary; both
//! down, the primary. Health alone decides, so the answer is fixed until it changes.

use super::select::{Choice, Decided};
use super::{PolicyGroup, Routing};

pub const NAME: &str = "failover";
pub const FIELD: &str = "failover";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Primary,
    Secondary,
}

pub fn read(value: &toml::Value) -> Result<Routing, String> {
    let text = value.as_str().unwrap_or_default();
    match text.to_ascii_lowercase().as_str() {
        "primary" => Ok(Routing::Failover(Role::Primary)),
        "secondary" => Ok(Routing::Failover(Role::Secondary)),
        _ => Err(format!(
            "failover must be \"primary\" or \"secondary\", not {}",
            super::shown(value)
        )),
    }
}

pub fn check(g: &PolicyGroup, problems: &mut Vec<(usize, String)>) {
    let count = |role| {
        g.sets
            .iter()
            .filter(|s| s.routing == Routing::Failover(role))
            .count()
    };
    if count(Role::Primary) != 1 || count(Role::Secondary) != 1 {
        problems.push((
            g.sets[0].line,
            format!(
                "the failover group {} {} needs exactly one primary and one secondary",
                g.name, g.rtype
            ),
        ));
    }
}

pub fn decide(g: &PolicyGroup, healthy: &[bool]) -> Decided {
    let role = |r| {
        g.sets
            .iter()
            .position(|s| s.routing == Routing::Failover(r))
    };
    let primary = role(Role::Primary).unwrap_or(0);
    let secondary = role(Role::Secondary).unwrap_or(primary);
    let (set, rule, last_resort) = if healthy[primary] {
        (primary, "the primary is healthy", false)
    } else if healthy[secondary] {
        let rule = "the primary is unhealthy and the secondary healthy";
        (secondary, rule, false)
    } else {
        let rule = "both are unhealthy: the primary answers (last resort)";
        (primary, rule, true)
    };
    Decided {
        choice: Choice::Fixed(set),
        rule,
        last_resort,
    }
}

pub fn describe(role: Role) -> String {
    match role {
        Role::Primary => "primary".into(),
        Role::Secondary => "secondary".into(),
    }
}
