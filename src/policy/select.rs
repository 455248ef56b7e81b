//! Choosing among the sets of a group, rule for rule as Route 53 does (reference §2-§3):
//! the policy orders the candidates, the first healthy one answers, and when none is
//! healthy every set counts as healthy ("last resort") so that something is always
//! answered. Aliases with `evaluate_target_health` are healthy only if some set below
//! them is; choosing an alias descends into its target group, where the same rules apply.

use hickory_proto::rr::{Name, RecordType};

use super::{FailoverRole, GeoKey, PolicyGroup, Routing, SetData};
use crate::config::Coordinates;

/// Multivalue answers carry at most this many sets.
pub const MULTIVALUE_MAX: usize = 8;

/// What selection needs to know about the client, per query.
pub trait Context {
    /// Latency from the client to a region; lower is better.
    fn latency(&self, region: &str) -> f64;
    /// Where a geolocation set's location stands for the client, lower being more
    /// specific; None when it does not contain the client (Default contains everyone).
    fn geo_rank(&self, key: &GeoKey) -> Option<f64>;
    /// The client's position, for geoproximity.
    fn position(&self) -> Option<Coordinates>;
    /// The CIDR location whose block is the longest to contain the client (with the
    /// client's own prefix at least that long), if any.
    fn cidr_location(&self) -> Option<&str>;
}

/// Everything about a zone's groups that depends only on the policy data and health,
/// prepared when either changes so that a query pays only for what depends on it.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    groups: Vec<PreparedGroup>,
}

#[derive(Debug, Clone)]
struct PreparedGroup {
    /// Each set's health as Route 53 §3.1 defines it (own check, and for an alias that
    /// evaluates target health, some healthy set below).
    healthy: Vec<bool>,
    /// Each alias set's target group, when the target is a policy group.
    alias: Vec<Option<usize>>,
    choice: Choice,
    /// Why, for `explain`: the rule that applied, and whether it was the last resort.
    rule: &'static str,
    last_resort: bool,
    /// Two identical queries may get different answers here: a draw or the client
    /// decides, in this group or one its picks alias to.
    varies: bool,
}

#[derive(Debug, Clone)]
enum Choice {
    /// Health alone decides (failover).
    Fixed(usize),
    /// One draw over these cumulative weights (end of range, set index).
    Weighted(Vec<(u64, usize)>),
    /// Up to eight of these sets.
    Multivalue(Vec<usize>),
    /// The client orders the candidates (latency, geolocation, geoproximity, IP-based).
    ByClient,
}

impl Prepared {
    /// `check_healthy` gives each health check's status.
    pub fn new(groups: &[PolicyGroup], check_healthy: impl Fn(&str) -> bool) -> Self {
        let index = |name: &Name, rtype: RecordType| {
            groups
                .iter()
                .position(|g| g.rtype == rtype && g.name == *name)
        };
        let alias: Vec<Vec<Option<usize>>> = groups
            .iter()
            .map(|g| {
                g.sets
                    .iter()
                    .map(|s| match &s.data {
                        SetData::Alias { target, .. } => index(target, g.rtype),
                        SetData::Values { .. } => None,
                    })
                    .collect()
            })
            .collect();
        // Set health, memoised over the alias graph (a DAG: cycles are rejected at load).
        let mut healthy: Vec<Option<Vec<bool>>> = vec![None; groups.len()];
        for gi in 0..groups.len() {
            set_health(gi, groups, &alias, &check_healthy, &mut healthy);
        }
        let groups = groups
            .iter()
            .zip(alias)
            .zip(healthy)
            .map(|((g, alias), healthy)| {
                let healthy = healthy.expect("computed above");
                let (choice, rule, last_resort) = choice(g, &healthy);
                PreparedGroup {
                    healthy,
                    alias,
                    varies: choice.varies(),
                    choice,
                    rule,
                    last_resort,
                }
            })
            .collect();
        let mut prepared = Prepared { groups };
        // Through aliases, over the DAG: a group varies when a set it can pick does.
        let mut memo = vec![None; prepared.groups.len()];
        for gi in 0..memo.len() {
            let varies = prepared.varies_below(gi, &mut memo);
            prepared.groups[gi].varies = varies;
        }
        prepared
    }

    /// Whether two identical queries may get different answers from group `gi`; when
    /// not, its answer can be encoded once and reused until health or data change.
    pub fn varies(&self, gi: usize) -> bool {
        self.groups[gi].varies
    }

    fn varies_below(&self, gi: usize, memo: &mut Vec<Option<bool>>) -> bool {
        if let Some(v) = memo[gi] {
            return v;
        }
        let g = &self.groups[gi];
        let picks: Vec<usize> = match &g.choice {
            Choice::Fixed(i) => vec![*i],
            Choice::Weighted(cum) => cum.iter().map(|c| c.1).collect(),
            Choice::Multivalue(pool) => pool.clone(),
            Choice::ByClient => Vec::new(),
        };
        let varies = g.varies
            || picks
                .iter()
                .filter_map(|&i| g.alias[i])
                .any(|t| self.varies_below(t, memo));
        memo[gi] = Some(varies);
        varies
    }
}

impl Choice {
    /// Whether this group's own choice is made per query.
    fn varies(&self) -> bool {
        match self {
            Choice::Fixed(_) => false,
            Choice::Weighted(cum) => cum.len() > 1,
            Choice::Multivalue(pool) => pool.len() > MULTIVALUE_MAX,
            Choice::ByClient => true,
        }
    }
}

fn set_health(
    gi: usize,
    groups: &[PolicyGroup],
    alias: &[Vec<Option<usize>>],
    check_healthy: &impl Fn(&str) -> bool,
    memo: &mut Vec<Option<Vec<bool>>>,
) {
    if memo[gi].is_some() {
        return;
    }
    let mut flags = Vec::with_capacity(groups[gi].sets.len());
    for (si, s) in groups[gi].sets.iter().enumerate() {
        let own = s.health_check.as_deref().is_none_or(check_healthy);
        let below = match (&s.data, alias[gi][si]) {
            (
                SetData::Alias {
                    evaluate_target_health: true,
                    ..
                },
                Some(t),
            ) => {
                set_health(t, groups, alias, check_healthy, memo);
                memo[t].as_ref().expect("just computed").iter().any(|&h| h)
            }
            _ => true, // plain data has no health check; ETH=false looks no further
        };
        flags.push(own && below);
    }
    memo[gi] = Some(flags);
}

/// The health-only part of each policy (reference §2, §3.2), with the rule that made
/// it and whether that was the last resort.
fn choice(g: &PolicyGroup, healthy: &[bool]) -> (Choice, &'static str, bool) {
    let sets = &g.sets;
    match sets[0].routing {
        Routing::Failover(_) => {
            let role = |r| sets.iter().position(|s| s.routing == Routing::Failover(r));
            let primary = role(FailoverRole::Primary).unwrap_or(0);
            let secondary = role(FailoverRole::Secondary).unwrap_or(primary);
            if healthy[primary] {
                (Choice::Fixed(primary), "the primary is healthy", false)
            } else if healthy[secondary] {
                let rule = "the primary is unhealthy and the secondary healthy";
                (Choice::Fixed(secondary), rule, false)
            } else {
                let rule = "both are unhealthy: the primary answers (last resort)";
                (Choice::Fixed(primary), rule, true)
            }
        }
        Routing::Weighted(_) => {
            let weight = |i: usize| match sets[i].routing {
                Routing::Weighted(w) => u64::from(w),
                _ => 0,
            };
            let all: Vec<usize> = (0..sets.len()).collect();
            let healthy_of = |positive: bool| -> Vec<usize> {
                all.iter()
                    .copied()
                    .filter(|&i| healthy[i] && (weight(i) > 0) == positive)
                    .collect()
            };
            // Healthy positive weights; else healthy zero weights, uniformly; else
            // (nothing healthy) by weight over all, uniformly if all weights are zero.
            let (pool, by_weight, rule, last_resort) = match (healthy_of(true), healthy_of(false)) {
                (p, _) if !p.is_empty() => {
                    (p, true, "a weighted draw among the healthy sets", false)
                }
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
            (Choice::Weighted(cumulative), rule, last_resort)
        }
        Routing::Multivalue => {
            let up: Vec<usize> = (0..sets.len()).filter(|&i| healthy[i]).collect();
            if up.is_empty() {
                let rule = "no set is healthy: up to eight of all, at random (last resort)";
                (Choice::Multivalue((0..sets.len()).collect()), rule, true)
            } else {
                let rule = "up to eight healthy sets, at random";
                (Choice::Multivalue(up), rule, false)
            }
        }
        _ => (Choice::ByClient, "", false),
    }
}

/// The per-query randomness (weighted draws, multivalue subsets): xorshift64*, cheap
/// and good enough for spreading load.
#[derive(Debug, Clone)]
pub struct Draw(u64);

impl Draw {
    pub fn new(seed: u64) -> Self {
        Draw(seed | 1)
    }

    /// Seeded from the OS's randomness (through std's hasher keys): a fresh, unpredictable
    /// sequence for each worker or connection.
    pub fn from_entropy() -> Self {
        use std::hash::{BuildHasher, Hasher};
        Draw::new(
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
        )
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// A set that answers: its values, or (an alias to a name without a policy) the plain
/// zone data at its target.
#[derive(Debug, Clone, Copy)]
pub struct Leaf<'p> {
    pub group: usize,
    pub set: usize,
    pub data: &'p SetData,
}

/// Watches a selection: `explain` records every decision; the query path passes `()`,
/// for which nothing is built.
pub trait Trace {
    /// Whether `decided` is wanted; a `Decision` is built only then.
    const DETAILED: bool = false;
    fn decided(&mut self, _decision: Decision<'_>) {}
}

/// Selection untraced.
impl Trace for () {}

/// How one group chose.
#[derive(Debug, Clone)]
pub struct Decision<'p> {
    pub group: usize,
    /// Each set's health (for an alias that evaluates target health, its target's).
    pub healthy: &'p [bool],
    /// The candidates in the order the policy tries them, with the client's rank for
    /// latency (ms or km), geoproximity (km after bias), geolocation (0 subdivision,
    /// 1 country, 2 continent, 3 default) and IP-based (0 = the client's location, 1 = the default). Empty for failover,
    /// weighted and multivalue, which consider every set.
    pub ranked: Vec<(usize, f64)>,
    /// The sets picked; one unless multivalue.
    pub picked: Vec<usize>,
    pub rule: &'static str,
    pub last_resort: bool,
}

/// The sets one group picked: one, or up to eight for multivalue. Inline, so that a
/// selection allocates nothing.
#[derive(Debug, Clone, Copy)]
struct Picks {
    sets: [usize; MULTIVALUE_MAX],
    len: usize,
}

impl Picks {
    const NONE: Picks = Picks {
        sets: [0; MULTIVALUE_MAX],
        len: 0,
    };

    fn one(set: usize) -> Picks {
        let mut p = Picks::NONE;
        p.push(set);
        p
    }

    fn push(&mut self, set: usize) {
        self.sets[self.len] = set;
        self.len += 1;
    }

    fn as_slice(&self) -> &[usize] {
        &self.sets[..self.len]
    }
}

/// The answer for group `gi` of `groups`: one leaf, or up to eight for multivalue.
/// Empty only when a geolocation or IP-based group has no set for this client and no
/// default (NODATA).
pub fn select<'p, C: Context, T: Trace>(
    groups: &'p [PolicyGroup],
    prepared: &'p Prepared,
    gi: usize,
    cx: &C,
    draw: &mut Draw,
    trace: &mut T,
) -> Vec<Leaf<'p>> {
    let mut leaves = Vec::new();
    select_each(groups, prepared, gi, cx, draw, trace, &mut |l| {
        leaves.push(l)
    });
    leaves
}

/// [`select`], handing each leaf to `emit` instead of collecting them.
pub fn select_each<'p, C: Context, T: Trace>(
    groups: &'p [PolicyGroup],
    prepared: &'p Prepared,
    gi: usize,
    cx: &C,
    draw: &mut Draw,
    trace: &mut T,
    emit: &mut impl FnMut(Leaf<'p>),
) {
    let (g, p) = (&groups[gi], &prepared.groups[gi]);
    let (picks, rule, last_resort) = match &p.choice {
        Choice::Fixed(i) => (Picks::one(*i), p.rule, p.last_resort),
        // One candidate takes no draw: only selections that vary consume the draw, so a
        // prepared answer's selection can be made again with the same outcome.
        Choice::Weighted(cum) if cum.len() == 1 => (Picks::one(cum[0].1), p.rule, p.last_resort),
        Choice::Weighted(cum) => {
            let x = draw.below(cum.last().map_or(1, |c| c.0));
            let i = cum[cum.partition_point(|c| c.0 <= x)].1;
            (Picks::one(i), p.rule, p.last_resort)
        }
        Choice::Multivalue(pool) => {
            let mut picks = Picks::NONE;
            if pool.len() <= MULTIVALUE_MAX {
                pool.iter().for_each(|&i| picks.push(i));
            } else {
                // Floyd's sampling: a uniform subset of eight in eight draws. Kept in
                // declaration order: the subset is the draw, so there are only as many
                // distinct answers as subsets (each prepared once).
                let n = pool.len();
                for j in n - MULTIVALUE_MAX..n {
                    let t = pool[draw.below(j as u64 + 1) as usize];
                    picks.push(if picks.as_slice().contains(&t) {
                        pool[j]
                    } else {
                        t
                    });
                }
                picks.sets[..picks.len].sort_unstable();
            }
            (picks, p.rule, p.last_resort)
        }
        Choice::ByClient => {
            // The best-ranked healthy candidate (ties: declaration order); the
            // best-ranked of all as the last resort.
            let (mut best, mut first) = (None::<(f64, usize)>, None::<(f64, usize)>);
            let better = |rank: f64, than: Option<(f64, usize)>| {
                than.is_none_or(|(r, _)| rank.total_cmp(&r).is_lt())
            };
            client_ranks(g, cx, |i, rank| {
                if better(rank, first) {
                    first = Some((rank, i));
                }
                if p.healthy[i] && better(rank, best) {
                    best = Some((rank, i));
                }
            });
            let rule = client_rule(&g.sets[0].routing);
            match (best, first) {
                (Some((_, i)), _) => (Picks::one(i), rule, false),
                (None, Some((_, i))) => (
                    Picks::one(i),
                    "none of the client's candidates is healthy: the first (last resort)",
                    true,
                ),
                (None, None) => (
                    Picks::NONE,
                    "no set for this client and no default: no data",
                    false,
                ),
            }
        }
    };
    if T::DETAILED {
        let mut ranked = Vec::new();
        if matches!(p.choice, Choice::ByClient) {
            client_ranks(g, cx, |i, rank| ranked.push((i, rank)));
            ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
        }
        trace.decided(Decision {
            group: gi,
            healthy: &p.healthy,
            ranked,
            picked: picks.as_slice().to_vec(),
            rule,
            last_resort,
        });
    }
    for &pick in picks.as_slice() {
        match p.alias[pick] {
            // Only an alias is followed, and only to a group, never to itself.
            Some(target) => select_each(groups, prepared, target, cx, draw, trace, emit),
            None => emit(Leaf {
                group: gi,
                set: pick,
                data: &g.sets[pick].data,
            }),
        }
    }
}

/// The rule by which a client-dependent policy picks, when a candidate is healthy.
fn client_rule(routing: &Routing) -> &'static str {
    match routing {
        Routing::Latency(_) => "the healthy region with the lowest latency to the client",
        Routing::Geoproximity(_) => "the healthy set nearest the client, after bias",
        Routing::Geo(_) => "the most specific healthy location that contains the client",
        Routing::Cidr(_) => "the client's CIDR location if healthy, else the default",
        _ => "the first healthy set",
    }
}

/// Ranks the sets of a client-dependent group for this client, in declaration order,
/// lower being preferred: latency (ms or km), geoproximity (km after bias), geolocation
/// (specificity) and IP-based (0 = the client's location, 1 = the default). Sets that do
/// not apply to the client (geolocation, IP-based) are left out.
fn client_ranks<C: Context>(g: &PolicyGroup, cx: &C, mut rank: impl FnMut(usize, f64)) {
    let sets = g.sets.iter().enumerate();
    match &g.sets[0].routing {
        Routing::Latency(_) => {
            for (i, s) in sets {
                if let Routing::Latency(region) = &s.routing {
                    rank(i, cx.latency(region));
                }
            }
        }
        Routing::Geoproximity(_) => match cx.position() {
            Some(client) => {
                for (i, s) in sets {
                    if let Routing::Geoproximity(p) = &s.routing {
                        rank(i, biased(great_circle_km(client, p.at), p.bias));
                    }
                }
            }
            None => sets.for_each(|(i, _)| rank(i, i as f64)),
        },
        Routing::Geo(_) => {
            for (i, s) in sets {
                if let Some(r) = match &s.routing {
                    Routing::Geo(key) => cx.geo_rank(key),
                    _ => None,
                } {
                    rank(i, r);
                }
            }
        }
        Routing::Cidr(_) => {
            let here = cx.cidr_location();
            for (i, s) in sets {
                match &s.routing {
                    Routing::Cidr(Some(l)) if Some(l.as_str()) == here => rank(i, 0.0),
                    Routing::Cidr(None) => rank(i, 1.0),
                    _ => {}
                }
            }
        }
        // Failover, weighted and multivalue are prepared; in declaration order otherwise.
        _ => sets.for_each(|(i, _)| rank(i, i as f64)),
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

/// Haversine distance on a spherical Earth.
pub fn great_circle_km(a: Coordinates, b: Coordinates) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0;
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{PolicySet, Proximity};
    use hickory_proto::rr::RData;
    use std::collections::HashMap;
    use std::str::FromStr;

    struct World {
        down: Vec<&'static str>,
        groups: Vec<PolicyGroup>,
        latency: HashMap<&'static str, f64>,
        chain: Vec<GeoKey>,
        position: Option<Coordinates>,
        cidr: HashMap<&'static str, u8>,
    }

    impl World {
        fn new(groups: Vec<PolicyGroup>) -> Self {
            World {
                down: vec![],
                groups,
                latency: HashMap::new(),
                chain: vec![GeoKey::Default],
                position: None,
                cidr: HashMap::new(),
            }
        }
    }

    impl World {
        /// What a reload or a health change would prepare.
        fn prepared(&self) -> Prepared {
            Prepared::new(&self.groups, |id| !self.down.contains(&id))
        }
    }

    impl Context for World {
        fn latency(&self, region: &str) -> f64 {
            self.latency.get(region).copied().unwrap_or(f64::INFINITY)
        }
        fn geo_rank(&self, key: &GeoKey) -> Option<f64> {
            self.chain.iter().position(|k| k == key).map(|p| p as f64)
        }
        fn position(&self) -> Option<Coordinates> {
            self.position
        }
        fn cidr_location(&self) -> Option<&str> {
            self.cidr
                .iter()
                .max_by_key(|(_, &len)| len)
                .map(|(l, _)| *l)
        }
    }

    fn set(id: &str, routing: Routing, check: Option<&str>) -> PolicySet {
        PolicySet {
            set_id: id.into(),
            routing,
            data: SetData::Values {
                ttl: 60,
                rdatas: vec![RData::A(format!("192.0.2.{}", id.len()).parse().unwrap())],
            },
            health_check: check.map(String::from),
            line: 1,
        }
    }

    fn alias(id: &str, routing: Routing, target: &str, eth: bool) -> PolicySet {
        PolicySet {
            data: SetData::Alias {
                target: Name::from_str(target).unwrap(),
                evaluate_target_health: eth,
            },
            ..set(id, routing, None)
        }
    }

    fn group(name: &str, sets: Vec<PolicySet>) -> PolicyGroup {
        PolicyGroup {
            name: Name::from_str(name).unwrap(),
            rtype: RecordType::A,
            sets,
        }
    }

    fn ids(groups: &[PolicyGroup], leaves: &[Leaf<'_>]) -> Vec<String> {
        leaves
            .iter()
            .map(|l| match l.data {
                SetData::Values { .. } => groups[l.group].sets[l.set].set_id.clone(),
                SetData::Alias { target, .. } => target.to_string(),
            })
            .collect()
    }

    fn pick(w: &World, g: usize) -> Vec<String> {
        ids(
            &w.groups,
            &select(&w.groups, &w.prepared(), g, w, &mut Draw::new(7), &mut ()),
        )
    }

    /// Golden case 1: the failover table.
    #[test]
    fn failover_table() {
        use FailoverRole::*;
        let pair = |s_check: Option<&'static str>| {
            group(
                "www.",
                vec![
                    set("p", Routing::Failover(Primary), Some("p")),
                    set("s", Routing::Failover(Secondary), s_check),
                ],
            )
        };
        let mut w = World::new(vec![pair(Some("s"))]);
        assert_eq!(pick(&w, 0), ["p"]);
        w.down = vec!["s"];
        assert_eq!(pick(&w, 0), ["p"]);
        w.down = vec!["p"];
        assert_eq!(pick(&w, 0), ["s"]);
        w.down = vec!["p", "s"];
        assert_eq!(pick(&w, 0), ["p"], "both down: primary (last resort)");
        let mut w = World::new(vec![pair(None)]);
        w.down = vec!["p"];
        assert_eq!(
            pick(&w, 0),
            ["s"],
            "secondary without a check counts healthy"
        );
    }

    fn shares(w: &World, g: usize, draws: u32) -> HashMap<String, u32> {
        let mut d = Draw::new(12345);
        let mut counts = HashMap::new();
        let prepared = w.prepared();
        for _ in 0..draws {
            for id in ids(
                &w.groups,
                &select(&w.groups, &prepared, g, w, &mut d, &mut ()),
            ) {
                *counts.entry(id).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Golden case 2: weighted shares, zero weights and the last resort. Bounds are
    /// five standard deviations of a binomial, so a correct draw fails about once in
    /// two million runs.
    #[test]
    fn weighted_rules() {
        let within = |count: u32, n: u32, p: f64| {
            let sd = (f64::from(n) * p * (1.0 - p)).sqrt();
            (f64::from(count) - f64::from(n) * p).abs() <= 5.0 * sd + 1.0
        };
        let n = 100_000;
        let w = World::new(vec![group(
            "w.",
            vec![
                set("a", Routing::Weighted(1), None),
                set("b", Routing::Weighted(255), None),
            ],
        )]);
        let c = shares(&w, 0, n);
        assert!(within(c["a"], n, 1.0 / 256.0), "{c:?}");

        let mut w = World::new(vec![group(
            "w.",
            vec![
                set("a", Routing::Weighted(10), Some("a")),
                set("b", Routing::Weighted(20), Some("b")),
                set("c", Routing::Weighted(20), Some("c")),
                set("z", Routing::Weighted(0), Some("z")),
            ],
        )]);
        w.down = vec!["c"];
        let c = shares(&w, 0, n);
        assert!(within(c["a"], n, 1.0 / 3.0), "{c:?}");
        assert!(!c.contains_key("c") && !c.contains_key("z"), "{c:?}");
        // Every positive weight down: only the zero-weight set.
        w.down = vec!["a", "b", "c"];
        assert_eq!(shares(&w, 0, 1000)["z"], 1000);
        // Everything down: by weight again (never the zero weight).
        w.down = vec!["a", "b", "c", "z"];
        let c = shares(&w, 0, n);
        assert!(!c.contains_key("z") && within(c["a"], n, 0.2), "{c:?}");

        let w = World::new(vec![group(
            "w.",
            vec![
                set("x", Routing::Weighted(0), None),
                set("y", Routing::Weighted(0), None),
            ],
        )]);
        let c = shares(&w, 0, n);
        assert!(
            within(c["x"], n, 0.5),
            "all-zero weights are uniform: {c:?}"
        );
    }

    /// Golden case 4: multivalue.
    #[test]
    fn multivalue_rules() {
        let ten: Vec<PolicySet> = (0..10)
            .map(|i| {
                set(
                    &format!("m{i}"),
                    Routing::Multivalue,
                    Some(["h", "d"][usize::from(i >= 3)]),
                )
            })
            .collect();
        let mut w = World::new(vec![group("m.", ten)]);
        let mut all = pick(&w, 0);
        assert_eq!(all.len(), 8);
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 8, "distinct");
        w.down = vec!["d"];
        let mut three = pick(&w, 0);
        three.sort();
        assert_eq!(three, ["m0", "m1", "m2"]);
        w.down = vec!["d", "h"];
        assert_eq!(pick(&w, 0).len(), 8, "all down: up to 8 anyway");
    }

    /// Golden case 3: the geolocation chain, its fallback and NODATA.
    #[test]
    fn geolocation_chain() {
        let g = |k: GeoKey, id: &str| set(id, Routing::Geo(k), Some(id));
        let mut w = World::new(vec![group(
            "g.",
            vec![
                g(
                    GeoKey::Subdivision {
                        country: "US".into(),
                        subdivision: "WA".into(),
                    },
                    "wa",
                ),
                g(GeoKey::Country("US".into()), "us"),
                g(GeoKey::Continent("NA".into()), "na"),
                g(GeoKey::Default, "def"),
                g(GeoKey::Country("DE".into()), "de"),
            ],
        )]);
        w.chain = vec![
            GeoKey::Subdivision {
                country: "US".into(),
                subdivision: "WA".into(),
            },
            GeoKey::Country("US".into()),
            GeoKey::Continent("NA".into()),
            GeoKey::Default,
        ];
        assert_eq!(pick(&w, 0), ["wa"]);
        w.down = vec!["wa"];
        assert_eq!(pick(&w, 0), ["us"]);
        w.down = vec!["wa", "us"];
        assert_eq!(pick(&w, 0), ["na"]);
        w.down = vec!["wa", "us", "na"];
        assert_eq!(pick(&w, 0), ["def"]);
        w.down = vec!["wa", "us", "na", "def"];
        assert_eq!(
            pick(&w, 0),
            ["wa"],
            "all down: the most specific (never de)"
        );
        w.groups[0]
            .sets
            .retain(|s| s.routing != Routing::Geo(GeoKey::Default));
        w.chain = vec![
            GeoKey::Country("FR".into()),
            GeoKey::Continent("EU".into()),
            GeoKey::Default,
        ];
        assert!(pick(&w, 0).is_empty(), "no match and no default: NODATA");
    }

    /// Golden case 6 and the CIDR fallback to `*`.
    #[test]
    fn cidr_longest_match_then_default() {
        let mut w = World::new(vec![group(
            "c.",
            vec![
                set("wide", Routing::Cidr(Some("wide".into())), Some("wide")),
                set(
                    "narrow",
                    Routing::Cidr(Some("narrow".into())),
                    Some("narrow"),
                ),
                set("star", Routing::Cidr(None), None),
            ],
        )]);
        assert_eq!(pick(&w, 0), ["star"], "no block matches");
        w.cidr = HashMap::from([("wide", 16), ("narrow", 24)]);
        assert_eq!(pick(&w, 0), ["narrow"]);
        w.down = vec!["narrow"];
        assert_eq!(pick(&w, 0), ["star"], "unhealthy match falls back to *");
        w.groups[0].sets[2].health_check = Some("star".into());
        w.down = vec!["narrow", "star"];
        assert_eq!(pick(&w, 0), ["narrow"], "all down: the most specific match");
    }

    #[test]
    fn latency_and_geoproximity_take_the_next_best_healthy() {
        let mut w = World::new(vec![
            group(
                "l.",
                vec![
                    set("eu", Routing::Latency("eu".into()), Some("eu")),
                    set("us", Routing::Latency("us".into()), Some("us")),
                    set("ap", Routing::Latency("ap".into()), Some("ap")),
                ],
            ),
            group(
                "p.",
                vec![
                    set(
                        "dublin",
                        Routing::Geoproximity(Proximity {
                            at: Coordinates {
                                lat: 53.3,
                                lon: -6.3,
                            },
                            bias: 0,
                        }),
                        Some("dublin"),
                    ),
                    set(
                        "paris",
                        Routing::Geoproximity(Proximity {
                            at: Coordinates {
                                lat: 48.9,
                                lon: 2.4,
                            },
                            bias: 0,
                        }),
                        Some("paris"),
                    ),
                ],
            ),
        ]);
        w.latency = HashMap::from([("eu", 80.0), ("us", 20.0), ("ap", 150.0)]);
        assert_eq!(pick(&w, 0), ["us"]);
        w.down = vec!["us"];
        assert_eq!(pick(&w, 0), ["eu"]);
        w.down = vec!["us", "eu", "ap"];
        assert_eq!(pick(&w, 0), ["us"], "all down: lowest latency");
        // From London, Paris (~340 km) is nearer than Dublin (~460 km).
        w.position = Some(Coordinates {
            lat: 51.5,
            lon: -0.1,
        });
        w.down = vec![];
        assert_eq!(pick(&w, 1), ["paris"]);
        // A +50 bias halves Dublin's distance and wins it London.
        if let Routing::Geoproximity(p) = &mut w.groups[1].sets[0].routing {
            p.bias = 50;
        }
        assert_eq!(pick(&w, 1), ["dublin"]);
        w.down = vec!["dublin"];
        assert_eq!(pick(&w, 1), ["paris"]);
    }

    /// Golden case 5: alias trees.
    #[test]
    fn alias_trees_back_out_of_failed_branches() {
        let leaf = |id: &str, w: u8| set(id, Routing::Weighted(w), Some(id));
        let tree = |eth_a: bool| {
            vec![
                group(
                    "top.",
                    vec![
                        alias("a", Routing::Latency("a".into()), "pool-a.", eth_a),
                        alias("b", Routing::Latency("b".into()), "pool-b.", true),
                    ],
                ),
                group("pool-a.", vec![leaf("a1", 1), leaf("a2", 1)]),
                group("pool-b.", vec![leaf("b1", 1)]),
            ]
        };
        let mut w = World::new(tree(true));
        w.latency = HashMap::from([("a", 10.0), ("b", 50.0)]);
        let a = pick(&w, 0);
        assert!(a == ["a1"] || a == ["a2"], "{a:?}");
        w.down = vec!["a1", "a2"];
        assert_eq!(pick(&w, 0), ["b1"], "every leaf in A down: backs out to B");
        let mut w = World::new(tree(false));
        w.latency = HashMap::from([("a", 10.0), ("b", 50.0)]);
        w.down = vec!["a1", "a2"];
        let a = pick(&w, 0);
        assert!(
            a == ["a1"] || a == ["a2"],
            "ETH=false: A's leaves under last resort, {a:?}"
        );
        // An alias with its own failing check is skipped even over healthy leaves.
        let mut w = World::new(tree(true));
        w.latency = HashMap::from([("a", 10.0), ("b", 50.0)]);
        w.groups[0].sets[0].health_check = Some("gate".into());
        w.down = vec!["gate"];
        assert_eq!(pick(&w, 0), ["b1"]);
        // An alias to plain zone data resolves to that name.
        let w = World::new(vec![group(
            "x.",
            vec![
                alias(
                    "p",
                    Routing::Failover(FailoverRole::Primary),
                    "plain.",
                    true,
                ),
                set("s", Routing::Failover(FailoverRole::Secondary), None),
            ],
        )]);
        assert_eq!(pick(&w, 0), ["plain."]);
    }

    #[test]
    fn distances() {
        let dublin = Coordinates {
            lat: 53.35,
            lon: -6.26,
        };
        let paris = Coordinates {
            lat: 48.86,
            lon: 2.35,
        };
        let d = great_circle_km(dublin, paris);
        assert!((d - 780.0).abs() < 15.0, "{d}");
        assert_eq!(biased(150.0, 50), 75.0);
        assert_eq!(biased(150.0, -50), 300.0);
    }
}
