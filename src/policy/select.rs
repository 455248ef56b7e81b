//! The engine every policy shares, rule for rule as Route 53 chooses (reference §2-§3):
//! the policy orders the candidates, the first healthy one answers, and when none is
//! healthy every set counts as healthy ("last resort") so that something is always
//! answered. Aliases with `evaluate_target_health` are healthy only if some set below
//! them is; choosing an alias descends into its target group, where the same rules apply.
//!
//! Health is folded in when it changes ([`ZoneChoices::new`], one [`Decided`] per group
//! from its policy module); a query pays only for what depends on it: a draw, a sample,
//! or the client's ranking of the candidates.

use hickory_proto::rr::{Name, RecordType};

use super::{GeoKey, GroupIndex, PolicyGroup, PolicySet, SetData, MULTIVALUE_MAX};
use crate::coordinates::Coordinates;
use crate::draw::Draw;

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

/// Ranks the sets of a group for one client, lower being preferred, in declaration
/// order; sets that do not apply to the client are left out.
pub type Ranker = fn(&[PolicySet], &dyn Context, &mut dyn FnMut(usize, f64));

/// What health decides for one group: the contract between a policy module, which
/// makes it when health or data change, and the per-query pick.
#[derive(Debug, Clone)]
pub struct Decided {
    pub choice: Choice,
    /// Why, for `explain`: the rule that applies, and whether it is the last resort.
    pub rule: &'static str,
    pub last_resort: bool,
}

impl Decided {
    /// For a policy whose client ranks the candidates by `ranker`, with `rule` the
    /// words for a healthy pick.
    pub fn ranked(ranker: Ranker, rule: &'static str) -> Decided {
        Decided {
            choice: Choice::Ranked(ranker),
            rule,
            last_resort: false,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Choice {
    /// Health alone decided: this set.
    Fixed(usize),
    /// One draw over these cumulative weights (end of range, set index).
    Weighted(Vec<(u64, usize)>),
    /// Up to `MULTIVALUE_MAX` of these sets, at random.
    Subset(Vec<usize>),
    /// The client ranks the candidates: the best-ranked healthy one, else (the last
    /// resort) the best-ranked of all. `rule` is the policy's rule for the former.
    Ranked(Ranker),
}

impl Choice {
    /// Whether this group's own choice is made per query.
    fn varies(&self) -> bool {
        match self {
            Choice::Fixed(_) => false,
            Choice::Weighted(cum) => cum.len() > 1,
            Choice::Subset(pool) => pool.len() > MULTIVALUE_MAX,
            Choice::Ranked(_) => true,
        }
    }
}

/// Every group of one zone with what health decided for it: rebuilt when data or
/// health change, read by every query.
#[derive(Debug, Clone, Default)]
pub struct ZoneChoices {
    groups: Vec<GroupChoice>,
}

#[derive(Debug, Clone)]
struct GroupChoice {
    /// Each set's health as Route 53 §3.1 defines it (own check, and for an alias that
    /// evaluates target health, some healthy set below).
    healthy: Vec<bool>,
    /// Each alias set's target group, when the target is a policy group.
    alias: Vec<Option<usize>>,
    decided: Decided,
    /// Two identical queries may get different answers here: a draw or the client
    /// decides, in this group or one its picks alias to.
    varies: bool,
}

impl ZoneChoices {
    /// `check_healthy` gives each health check's status.
    pub fn new(groups: &[PolicyGroup], check_healthy: impl Fn(&str) -> bool) -> Self {
        let by_name = GroupIndex::new(groups);
        let index = |name: &Name, rtype: RecordType| by_name.find(name, rtype);
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
                let decided = g.kind().decide(g, &healthy);
                GroupChoice {
                    healthy,
                    alias,
                    varies: decided.choice.varies(),
                    decided,
                }
            })
            .collect();
        let mut choices = ZoneChoices { groups };
        // Through aliases, over the DAG: a group varies when a set it can pick does.
        let mut memo = vec![None; choices.groups.len()];
        for gi in 0..memo.len() {
            let varies = choices.varies_below(gi, &mut memo);
            choices.groups[gi].varies = varies;
        }
        choices
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
        let picks: Vec<usize> = match &g.decided.choice {
            Choice::Fixed(i) => vec![*i],
            Choice::Weighted(cum) => cum.iter().map(|c| c.1).collect(),
            Choice::Subset(pool) => pool.clone(),
            Choice::Ranked(_) => Vec::new(),
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
    /// For a policy that ranks by client, the candidates in the order it tries them,
    /// with their rank (see the policy's ranker); None for policies that consider
    /// every set.
    pub ranked: Option<Vec<(usize, f64)>>,
    /// The sets picked; one unless multivalue.
    pub picked: Vec<usize>,
    pub rule: &'static str,
    pub last_resort: bool,
}

/// The sets one group picked: one, or up to eight for multivalue. Inline, so that a
/// selection allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct Picks {
    sets: [usize; MULTIVALUE_MAX],
    len: usize,
}

impl Picks {
    pub const NONE: Picks = Picks {
        sets: [0; MULTIVALUE_MAX],
        len: 0,
    };

    pub fn one(set: usize) -> Picks {
        let mut p = Picks::NONE;
        p.push(set);
        p
    }

    pub fn push(&mut self, set: usize) {
        self.sets[self.len] = set;
        self.len += 1;
    }

    pub fn as_slice(&self) -> &[usize] {
        &self.sets[..self.len]
    }

    pub fn sort(&mut self) {
        self.sets[..self.len].sort_unstable();
    }
}

/// The answer for group `gi` of `groups`: one leaf, or up to eight for multivalue.
/// Empty only when a geolocation or IP-based group has no set for this client and no
/// default (NODATA).
pub fn select<'p, T: Trace>(
    groups: &'p [PolicyGroup],
    choices: &'p ZoneChoices,
    gi: usize,
    cx: &dyn Context,
    draw: &mut Draw,
    trace: &mut T,
) -> Vec<Leaf<'p>> {
    let mut leaves = Vec::new();
    select_each(groups, choices, gi, cx, draw, trace, &mut |l| {
        leaves.push(l)
    });
    leaves
}

/// [`select`], handing each leaf to `emit` instead of collecting them.
pub fn select_each<'p, T: Trace>(
    groups: &'p [PolicyGroup],
    choices: &'p ZoneChoices,
    gi: usize,
    cx: &dyn Context,
    draw: &mut Draw,
    trace: &mut T,
    emit: &mut impl FnMut(Leaf<'p>),
) {
    let (g, c) = (&groups[gi], &choices.groups[gi]);
    let p = &c.decided;
    let (picks, rule, last_resort) = match &p.choice {
        Choice::Fixed(i) => (Picks::one(*i), p.rule, p.last_resort),
        // One candidate takes no draw: only selections that vary consume the draw, so a
        // cached answer's selection can be made again with the same outcome.
        Choice::Weighted(cum) if cum.len() == 1 => (Picks::one(cum[0].1), p.rule, p.last_resort),
        Choice::Weighted(cum) => (
            Picks::one(super::weighted::draw(cum, draw)),
            p.rule,
            p.last_resort,
        ),
        Choice::Subset(pool) => (super::multivalue::sample(pool, draw), p.rule, p.last_resort),
        Choice::Ranked(ranker) => ranked(&g.sets, &c.healthy, *ranker, p.rule, cx),
    };
    if T::DETAILED {
        let ranked = match &p.choice {
            Choice::Ranked(ranker) => {
                let mut ranked = Vec::new();
                ranker(&g.sets, cx, &mut |i, rank| ranked.push((i, rank)));
                ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
                Some(ranked)
            }
            _ => None,
        };
        trace.decided(Decision {
            group: gi,
            healthy: &c.healthy,
            ranked,
            picked: picks.as_slice().to_vec(),
            rule,
            last_resort,
        });
    }
    for &pick in picks.as_slice() {
        match c.alias[pick] {
            // Only an alias is followed, and only to a group, never to itself.
            Some(target) => select_each(groups, choices, target, cx, draw, trace, emit),
            None => emit(Leaf {
                group: gi,
                set: pick,
                data: &g.sets[pick].data,
            }),
        }
    }
}

/// Every leaf group `gi` can answer with now, for the client of `cx`: the fixed set,
/// every set a weighted draw can pick, the first eight of a multivalue pool, the ranked
/// pick — and through aliases the same below. What a zone transfer carries, where no
/// draw can be made and no client asks.
pub fn every_leaf<'p>(
    groups: &'p [PolicyGroup],
    choices: &'p ZoneChoices,
    gi: usize,
    cx: &dyn Context,
    emit: &mut impl FnMut(Leaf<'p>),
) {
    let (g, c) = (&groups[gi], &choices.groups[gi]);
    let p = &c.decided;
    let picks: Vec<usize> = match &p.choice {
        Choice::Fixed(i) => vec![*i],
        Choice::Weighted(cum) => cum.iter().map(|&(_, i)| i).collect(),
        Choice::Subset(pool) => pool.iter().copied().take(MULTIVALUE_MAX).collect(),
        Choice::Ranked(ranker) => ranked(&g.sets, &c.healthy, *ranker, p.rule, cx)
            .0
            .as_slice()
            .to_vec(),
    };
    for pick in picks {
        match c.alias[pick] {
            Some(target) => every_leaf(groups, choices, target, cx, emit),
            None => emit(Leaf {
                group: gi,
                set: pick,
                data: &g.sets[pick].data,
            }),
        }
    }
}

/// The best-ranked healthy candidate (ties: declaration order); the best-ranked of all
/// as the last resort. Folded in one pass: nothing is sorted or collected.
fn ranked(
    sets: &[PolicySet],
    healthy: &[bool],
    ranker: Ranker,
    rule: &'static str,
    cx: &dyn Context,
) -> (Picks, &'static str, bool) {
    let (mut best, mut first) = (None::<(f64, usize)>, None::<(f64, usize)>);
    let better = |rank: f64, than: Option<(f64, usize)>| {
        than.is_none_or(|(r, _)| rank.total_cmp(&r).is_lt())
    };
    ranker(sets, cx, &mut |i, rank| {
        if better(rank, first) {
            first = Some((rank, i));
        }
        if healthy[i] && better(rank, best) {
            best = Some((rank, i));
        }
    });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{FailoverRole, Proximity, Routing};
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
        /// What a reload or a health change would decide.
        fn choices(&self) -> ZoneChoices {
            ZoneChoices::new(&self.groups, |id| !self.down.contains(&id))
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
            &select(&w.groups, &w.choices(), g, w, &mut Draw::new(7), &mut ()),
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
        let choices = w.choices();
        for _ in 0..draws {
            for id in ids(
                &w.groups,
                &select(&w.groups, &choices, g, w, &mut d, &mut ()),
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
        let g = |k: GeoKey, id: &str| set(id, Routing::Geolocation(k), Some(id));
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
            .retain(|s| s.routing != Routing::Geolocation(GeoKey::Default));
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
                set("wide", Routing::IpBased(Some("wide".into())), Some("wide")),
                set(
                    "narrow",
                    Routing::IpBased(Some("narrow".into())),
                    Some("narrow"),
                ),
                set("star", Routing::IpBased(None), None),
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
                            region: None,
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
                            region: None,
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
}
