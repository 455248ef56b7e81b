//! Choosing among the sets of a group, rule for rule as Route 53 does (reference §2-§3):
//! the policy orders the candidates, the first healthy one answers, and when none is
//! healthy every set counts as healthy ("last resort") so that something is always
//! answered. Aliases with `evaluate_target_health` are healthy only if some set below
//! them is; choosing an alias descends into its target group, where the same rules apply.

use hickory_proto::rr::{Name, RecordType};

use super::{FailoverRole, GeoKey, PolicyGroup, PolicySet, Routing, SetData};
use crate::config::Coordinates;

/// Multivalue answers carry at most this many sets.
pub const MULTIVALUE_MAX: usize = 8;

/// What selection needs to know about the world and the client. `'p` is the lifetime
/// of the policy data, which the chosen leaves borrow.
pub trait Context<'p> {
    /// The stored status of a health check (a check with no result yet is healthy).
    fn healthy(&self, check_id: &str) -> bool;
    /// The policy group an alias points to; None when the target is plain zone data.
    fn group(&self, name: &Name, rtype: RecordType) -> Option<&'p PolicyGroup>;
    /// Latency from the client to a region; lower is better.
    fn latency(&self, region: &str) -> f64;
    /// The client's geolocation chain, most specific first (ending with Default).
    fn geo_chain(&self) -> &[GeoKey];
    /// The client's position, for geoproximity.
    fn position(&self) -> Option<Coordinates>;
    /// The CIDR location whose block is the longest to contain the client (with the
    /// client's own prefix at least that long), if any.
    fn cidr_location(&self) -> Option<&str>;
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

/// What a selection resolves to: sets with values, or plain zone data to read.
#[derive(Debug, Clone, PartialEq)]
pub enum Leaf<'p> {
    Values(&'p PolicySet),
    Plain(&'p Name),
}

/// The answer for a group: one leaf, or up to eight for multivalue. Empty only when a
/// geolocation or IP-based group has no set for this client and no default (NODATA).
pub fn select<'p, C: Context<'p>>(g: &'p PolicyGroup, cx: &C, draw: &mut Draw) -> Vec<Leaf<'p>> {
    let order = candidates(g, cx, draw);
    if matches!(g.sets[0].routing, Routing::Multivalue) {
        let healthy: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| healthy(&g.sets[i], g.rtype, cx))
            .collect();
        let chosen = if healthy.is_empty() { &order } else { &healthy };
        return chosen
            .iter()
            .take(MULTIVALUE_MAX)
            .map(|&i| Leaf::Values(&g.sets[i]))
            .collect();
    }
    let Some(&first) = order.first() else {
        return Vec::new();
    };
    let pick = order
        .iter()
        .copied()
        .find(|&i| healthy(&g.sets[i], g.rtype, cx))
        .unwrap_or(first); // last resort: all count as healthy, the policy's first choice
    materialise(&g.sets[pick], g.rtype, cx, draw)
}

fn materialise<'p, C: Context<'p>>(
    s: &'p PolicySet,
    rtype: RecordType,
    cx: &C,
    draw: &mut Draw,
) -> Vec<Leaf<'p>> {
    match &s.data {
        SetData::Values { .. } => vec![Leaf::Values(s)],
        SetData::Alias { target, .. } => match cx.group(target, rtype) {
            Some(g) => select(g, cx, draw),
            None => vec![Leaf::Plain(target)],
        },
    }
}

/// Route 53 §3.1: a set's own check, and for an alias that evaluates target health,
/// at least one healthy set in the target group.
pub fn healthy<'p, C: Context<'p>>(s: &PolicySet, rtype: RecordType, cx: &C) -> bool {
    if let Some(check) = &s.health_check {
        if !cx.healthy(check) {
            return false;
        }
    }
    match &s.data {
        SetData::Alias {
            target,
            evaluate_target_health: true,
        } => match cx.group(target, rtype) {
            Some(g) => g.sets.iter().any(|t| healthy(t, rtype, cx)),
            None => true, // plain data has no health check
        },
        _ => true,
    }
}

/// The sets in the order the policy would try them for this client.
fn candidates<'p, C: Context<'p>>(g: &PolicyGroup, cx: &C, draw: &mut Draw) -> Vec<usize> {
    let sets = &g.sets;
    let all = || (0..sets.len()).collect::<Vec<_>>();
    match &sets[0].routing {
        Routing::Failover(_) => {
            let mut o = all();
            o.sort_by_key(|&i| sets[i].routing != Routing::Failover(FailoverRole::Primary));
            o
        }
        Routing::Weighted(_) => weighted_order(sets, draw),
        Routing::Multivalue => {
            let mut o = all();
            shuffle(&mut o, draw);
            o
        }
        Routing::Latency(_) => {
            let mut o = all();
            o.sort_by(|&a, &b| {
                let rank = |i: usize| match &sets[i].routing {
                    Routing::Latency(r) => cx.latency(r),
                    _ => f64::INFINITY,
                };
                rank(a).total_cmp(&rank(b))
            });
            o
        }
        Routing::Geoproximity(_) => {
            let mut o = all();
            if let Some(client) = cx.position() {
                let dist = |i: usize| match &sets[i].routing {
                    Routing::Geoproximity(p) => biased(great_circle_km(client, p.at), p.bias),
                    _ => f64::INFINITY,
                };
                o.sort_by(|&a, &b| dist(a).total_cmp(&dist(b)));
            }
            o
        }
        Routing::Geo(_) => cx
            .geo_chain()
            .iter()
            .filter_map(|key| {
                sets.iter()
                    .position(|s| s.routing == Routing::Geo(key.clone()))
            })
            .collect(),
        Routing::Cidr(_) => {
            // The client's location (if the group has a set for it), then `*`.
            let matched = cx.cidr_location().and_then(|loc| {
                sets.iter()
                    .position(|s| matches!(&s.routing, Routing::Cidr(Some(l)) if l == loc))
            });
            let default = sets.iter().position(|s| s.routing == Routing::Cidr(None));
            matched.into_iter().chain(default).collect()
        }
    }
}

/// Route 53 §2.3: drawing by weight and, on an unhealthy pick, drawing again without it
/// is a sequence of weighted draws without replacement. Zero weights come after every
/// positive one, in random order (all-zero groups are uniform).
fn weighted_order(sets: &[PolicySet], draw: &mut Draw) -> Vec<usize> {
    let weight = |i: usize| match sets[i].routing {
        Routing::Weighted(w) => u64::from(w),
        _ => 0,
    };
    let mut positive: Vec<usize> = (0..sets.len()).filter(|&i| weight(i) > 0).collect();
    let mut zero: Vec<usize> = (0..sets.len()).filter(|&i| weight(i) == 0).collect();
    let mut order = Vec::with_capacity(sets.len());
    let mut total: u64 = positive.iter().map(|&i| weight(i)).sum();
    while !positive.is_empty() {
        let mut x = draw.below(total);
        let at = positive
            .iter()
            .position(|&i| {
                let w = weight(i);
                if x < w {
                    true
                } else {
                    x -= w;
                    false
                }
            })
            .expect("x < total");
        let i = positive.remove(at);
        total -= weight(i);
        order.push(i);
    }
    shuffle(&mut zero, draw);
    order.extend(zero);
    order
}

fn shuffle(v: &mut [usize], draw: &mut Draw) {
    for i in (1..v.len()).rev() {
        let j = draw.below(i as u64 + 1) as usize;
        v.swap(i, j);
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
    use crate::policy::Proximity;
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

    impl<'w> Context<'w> for &'w World {
        fn healthy(&self, id: &str) -> bool {
            !self.down.contains(&id)
        }
        fn group(&self, name: &Name, rtype: RecordType) -> Option<&'w PolicyGroup> {
            self.groups
                .iter()
                .find(|g| g.name == *name && g.rtype == rtype)
        }
        fn latency(&self, region: &str) -> f64 {
            self.latency.get(region).copied().unwrap_or(f64::INFINITY)
        }
        fn geo_chain(&self) -> &[GeoKey] {
            &self.chain
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

    fn ids(leaves: &[Leaf<'_>]) -> Vec<String> {
        leaves
            .iter()
            .map(|l| match l {
                Leaf::Values(s) => s.set_id.clone(),
                Leaf::Plain(n) => n.to_string(),
            })
            .collect()
    }

    fn pick(w: &World, g: usize) -> Vec<String> {
        ids(&select(&w.groups[g], &w, &mut Draw::new(7)))
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
        for _ in 0..draws {
            for id in ids(&select(&w.groups[g], &w, &mut d)) {
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
