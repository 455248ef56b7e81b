//! A cluster of nameservers that decide health together.
//!
//! Membership and dissemination are chitchat's (scuttlebutt anti-entropy, phi-accrual
//! failure detection) over a sealed UDP transport (`transport`, `seal`). Each node puts
//! in its own state what its peers need (`node_data`): its observation of each check,
//! its last override writes, a hash of each zone's files. `tend` runs the exchange:
//! it publishes this node's data when it changes, and hands what the peers said to the
//! health engine (observations, override writes) and to the reloader (a reload an
//! operator asked of any node), keeping the view the API shows
//! (who is alive, whether this node is alone, where the nodes' files differ).

mod node_data;
pub mod seal;
mod transport;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chitchat::{spawn_chitchat, ChitchatConfig, ChitchatHandle, ChitchatId, FailureDetectorConfig};
use serde::Serialize;

use crate::config::ClusterConfig;
use crate::health::{rfc3339, Engine, Peer};
use crate::metrics::{self, ClusterGauges};
use crate::reload::Reloader;
use crate::snapshot::Live;
use node_data::NodeData;

/// How often each node gossips with a few others.
const GOSSIP_INTERVAL: Duration = Duration::from_millis(250);
/// How often the peers' data is looked at when nothing of this node's changed.
const TICK: Duration = Duration::from_millis(100);
/// A peer heard from within this is alive (and a node with none is alone).
const SILENT_DEAD: Duration = Duration::from_secs(10);

pub struct Cluster {
    node: String,
    address: SocketAddr,
    handle: ChitchatHandle,
    engine: Arc<Engine>,
    live: Arc<Live>,
    reloader: Arc<Reloader>,
    view: Mutex<View>,
    seeds: usize,
    /// Unix ms of the last reload asked through this node's API.
    reload_asked: AtomicU64,
}

/// What the API and the metrics show.
#[derive(Debug, Clone, Default, Serialize)]
pub struct View {
    pub node: String,
    pub alone: bool,
    pub nodes: Vec<NodeView>,
    pub divergent_zones: Vec<String>,
    pub divergent_checks: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    pub name: String,
    pub address: String,
    pub alive: bool,
    pub last_seen: String,
    pub zones: BTreeMap<String, String>,
}

impl Cluster {
    /// Joins the cluster through the seeds and starts tending the exchange.
    pub async fn start(
        config: &ClusterConfig,
        engine: Arc<Engine>,
        live: Arc<Live>,
        reloader: Arc<Reloader>,
    ) -> Result<Arc<Cluster>, String> {
        let address = config.advertised();
        let generation = unix_ms(SystemTime::now());
        let chitchat_config = ChitchatConfig {
            chitchat_id: ChitchatId::new(config.node.clone(), generation, address),
            cluster_id: "hadns".into(),
            gossip_interval: GOSSIP_INTERVAL,
            listen_addr: config.listen,
            seed_nodes: config.seeds.iter().map(|s| s.to_string()).collect(),
            failure_detector_config: FailureDetectorConfig {
                initial_interval: GOSSIP_INTERVAL,
                sampling_window_size: 100,
                dead_node_grace_period: Duration::from_secs(3600),
                ..FailureDetectorConfig::default()
            },
            marked_for_deletion_grace_period: Duration::from_secs(600),
            catchup_callback: None,
            extra_liveness_predicate: None,
        };
        let transport = transport::SealedUdp {
            key: config.key.0.clone(),
            counters: Arc::new(metrics::cluster_messages()),
        };
        let first = NodeData::of(&engine, &live.load().content, 0);
        let handle = spawn_chitchat(chitchat_config, first.key_values(), &transport)
            .await
            .map_err(|e| format!("{e:#}"))?;
        tracing::info!(
            node = config.node,
            listen = %config.listen,
            advertise = %address,
            seeds = ?config.seeds,
            quorum = config.health_quorum.name(),
            probe = config.probe,
            "joining the cluster"
        );
        let cluster = Arc::new(Cluster {
            node: config.node.clone(),
            address,
            handle,
            engine,
            live,
            reloader,
            view: Mutex::new(View {
                node: config.node.clone(),
                alone: true,
                ..View::default()
            }),
            seeds: config.seeds.len(),
            reload_asked: AtomicU64::new(0),
        });
        tokio::spawn(tend(cluster.clone(), first));
        Ok(cluster)
    }

    /// Waits, at most `limit`, to hear from a peer: a node that starts takes what its
    /// peers know before it answers. No wait without seeds.
    pub async fn wait_for_peers(&self, limit: Duration) -> bool {
        if self.seeds == 0 {
            return false;
        }
        let until = tokio::time::Instant::now() + limit;
        loop {
            if !self.view().alone {
                return true;
            }
            if tokio::time::Instant::now() >= until {
                tracing::warn!(
                    waited = ?limit,
                    "no peer answered; starting alone with what this node knows"
                );
                return false;
            }
            tokio::time::sleep(TICK).await;
        }
    }

    /// An operator asked this node to reload: ask every node.
    pub fn ask_reload(&self) {
        self.reload_asked
            .store(unix_ms(SystemTime::now()), Ordering::Release);
    }

    pub fn view(&self) -> View {
        self.view.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn gauges(&self) -> ClusterGauges {
        let v = self.view();
        let alive = v.nodes.iter().filter(|n| n.alive).count();
        ClusterGauges {
            alive,
            dead: v.nodes.len() - alive,
            alone: v.alone,
            divergent_zones: v.divergent_zones.len(),
        }
    }
}

/// What `tend` keeps of one peer generation from tick to tick.
struct Known {
    /// Its heartbeat, and when that last moved.
    beat: u64,
    beat_moved: Instant,
    /// Its data, as parsed at `version`.
    version: u64,
    data: Arc<NodeData>,
    /// The tick it was last seen in chitchat's state.
    seen: u64,
}

/// What this node heard from one peer (its newest generation).
struct Heard {
    id: ChitchatId,
    /// Heard from within `SILENT_DEAD`.
    alive: bool,
    silent_for: Duration,
    data: Arc<NodeData>,
}

/// Publishes this node's data as it changes and takes in the peers'.
async fn tend(cluster: Arc<Cluster>, mut published: NodeData) {
    let mut changes = cluster.engine.watch_changes();
    let mut known: HashMap<ChitchatId, Known> = HashMap::new();
    let mut tick = 0u64;
    // Reloads asked before this node started were done before it read its files.
    let mut reloaded_for = unix_ms(SystemTime::now());
    let mut content = Arc::as_ptr(&cluster.live.load().content) as usize;
    let mut published_generation = 0;
    let mut divergence_key = Vec::new();
    let mut divergent = Divergence::default();
    loop {
        let mut mine_changed = tokio::select! {
            _ = changes.changed() => true,
            _ = tokio::time::sleep(TICK) => false,
        };
        let asked = cluster.reload_asked.load(Ordering::Acquire);
        reloaded_for = reloaded_for.max(asked);
        let snapshot = cluster.live.load();
        mine_changed |=
            asked != published.reload || Arc::as_ptr(&snapshot.content) as usize != content;
        content = Arc::as_ptr(&snapshot.content) as usize;
        let chitchat = cluster.handle.chitchat();
        let mut cc = chitchat.lock().await;
        if mine_changed {
            let mine = NodeData::of(&cluster.engine, &snapshot.content, asked);
            if mine != published {
                mine.publish(cc.self_node_state(), &published);
                published = mine;
                published_generation += 1;
            }
        }
        drop(snapshot);
        let self_id = cc.self_chitchat_id().clone();
        let now = Instant::now();
        tick += 1;
        // By name: the same order every tick, so that what changed can be compared.
        let mut newest: BTreeMap<String, Heard> = BTreeMap::new();
        for (id, state) in cc.node_states() {
            if *id == self_id {
                continue;
            }
            let beat = u64::from(state.heartbeat());
            let version = state.max_version();
            let k = known.entry(id.clone()).or_insert_with(|| Known {
                beat,
                beat_moved: now,
                version,
                data: Arc::new(NodeData::read(state.key_values())),
                seen: tick,
            });
            k.seen = tick;
            if k.beat != beat {
                (k.beat, k.beat_moved) = (beat, now);
            }
            if k.version != version {
                k.version = version;
                let d = NodeData::read(state.key_values());
                // Unchanged data keeps its identity: nothing to weigh again.
                if *k.data != d {
                    k.data = Arc::new(d);
                }
            }
            // Alive: heard from within SILENT_DEAD. (The phi-accrual detector steers
            // chitchat's own gossip; on a loaded machine it flaps, and a status must not.)
            let silent_for = now.duration_since(k.beat_moved);
            let h = Heard {
                id: id.clone(),
                alive: silent_for <= SILENT_DEAD,
                silent_for,
                data: k.data.clone(),
            };
            // A restarted node is one node: its newest generation speaks for it.
            match newest.get(&*id.node_id) {
                Some(other) if other.id.generation_id > id.generation_id => {}
                _ => {
                    newest.insert(id.node_id.to_string(), h);
                }
            }
        }
        drop(cc);
        // Generations chitchat forgot.
        known.retain(|_, k| k.seen == tick);

        let peers: Vec<Peer> = newest
            .values()
            .map(|h| Peer {
                node: h.id.node_id.as_str().into(),
                alive: h.alive,
                silent_for: h.silent_for,
                observations: h.data.observations.clone(),
            })
            .collect();
        cluster.engine.set_peers(&peers);
        let writes = newest
            .values()
            .filter(|h| h.alive)
            .flat_map(|h| h.data.writes.iter().cloned())
            .collect();
        cluster.engine.merge_override_writes(writes);
        let asker = newest
            .values()
            .filter(|h| h.alive && h.data.reload > reloaded_for)
            .max_by_key(|h| h.data.reload);
        if let Some(h) = asker {
            reloaded_for = h.data.reload;
            let trigger = format!("API of node {}", h.id.node_id);
            let reloader = cluster.reloader.clone();
            // Not waited for: a reload's first round of new checks must not hold gossip.
            tokio::spawn(async move {
                let _ = reloader.reload(&trigger).await;
            });
        }
        // Comparing every node's files is not free: only when some node's data changed,
        // or a node came or went.
        let key: Vec<(String, usize, bool)> = newest
            .iter()
            .map(|(n, h)| (n.clone(), Arc::as_ptr(&h.data) as usize, h.alive))
            .chain(std::iter::once((String::new(), published_generation, true)))
            .collect();
        if key != divergence_key {
            divergence_key = key;
            divergent = divergence(&cluster.node, &published, &newest);
        }
        update_view(&cluster, &published, &newest, &divergent);
    }
}

/// Where the files of the nodes that are up differ: zones, then checks; each with what
/// every node has.
type Divergence = (
    BTreeMap<String, Vec<(String, String)>>,
    BTreeMap<String, Vec<(String, String)>>,
);

fn divergence(node: &str, mine: &NodeData, peers: &BTreeMap<String, Heard>) -> Divergence {
    let up: Vec<(&str, &NodeData)> = std::iter::once((node, mine))
        .chain(
            peers
                .values()
                .filter(|h| h.alive)
                .map(|h| (&*h.id.node_id, &*h.data)),
        )
        .collect();
    let zones = differing(up.iter().map(|(n, d)| (*n, &d.zones)));
    let digests: Vec<(&str, BTreeMap<String, String>)> =
        up.iter().map(|(n, d)| (*n, d.check_digests())).collect();
    let checks = differing(digests.iter().map(|(n, d)| (*n, d)));
    (zones, checks)
}

/// The view the API shows, with a log line when this node becomes alone or stops
/// being so, and when the nodes' files start or stop differing.
fn update_view(
    cluster: &Cluster,
    mine: &NodeData,
    peers: &BTreeMap<String, Heard>,
    (divergent_zones, divergent_checks): &Divergence,
) {
    let now = SystemTime::now();
    let mut nodes = vec![NodeView {
        name: cluster.node.clone(),
        address: cluster.address.to_string(),
        alive: true,
        last_seen: rfc3339::format(now),
        zones: mine.zones.clone(),
    }];
    for h in peers.values() {
        nodes.push(NodeView {
            name: h.id.node_id.to_string(),
            address: h.id.gossip_advertise_addr.to_string(),
            alive: h.alive,
            last_seen: rfc3339::format(now - h.silent_for),
            zones: h.data.zones.clone(),
        });
    }
    let alone = !nodes[1..].iter().any(|n| n.alive);

    let mut view = cluster.view.lock().unwrap_or_else(|p| p.into_inner());
    if alone != view.alone {
        match alone {
            true => tracing::warn!(
                node = cluster.node,
                "no peer heard from: deciding health alone"
            ),
            false => tracing::info!(
                node = cluster.node,
                peers = nodes.iter().filter(|n| n.alive).count() - 1,
                "peers heard from: deciding health together"
            ),
        }
    }
    if divergent_zones.keys().ne(view.divergent_zones.iter())
        || divergent_checks.keys().ne(view.divergent_checks.iter())
    {
        if divergent_zones.is_empty() && divergent_checks.is_empty() {
            tracing::info!("the nodes' zone and policy files agree again");
        } else {
            tracing::warn!(
                zones = %describe(divergent_zones),
                checks = %describe(divergent_checks),
                "the nodes' zone or policy files differ; each serves its own"
            );
        }
    }
    *view = View {
        node: cluster.node.clone(),
        alone,
        nodes,
        divergent_zones: divergent_zones.keys().cloned().collect(),
        divergent_checks: divergent_checks.keys().cloned().collect(),
    };
}

/// The keys on which the nodes' maps differ (a key some nodes lack differs), each with
/// what every node has.
fn differing<'a>(
    maps: impl Iterator<Item = (&'a str, &'a BTreeMap<String, String>)>,
) -> BTreeMap<String, Vec<(String, String)>> {
    let maps: Vec<_> = maps.collect();
    let keys: BTreeSet<&String> = maps.iter().flat_map(|(_, m)| m.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let values: Vec<(String, String)> = maps
                .iter()
                .map(|(n, m)| {
                    let v = m.get(k).map_or("(none)", |v| v.as_str());
                    (n.to_string(), v.to_string())
                })
                .collect();
            let first = &values[0].1;
            values
                .iter()
                .any(|(_, v)| v != first)
                .then(|| (k.clone(), values))
        })
        .collect()
}

/// Milliseconds since the Unix epoch.
fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn describe(d: &BTreeMap<String, Vec<(String, String)>>) -> String {
    d.iter()
        .map(|(k, values)| {
            let by: Vec<String> = values.iter().map(|(n, v)| format!("{n} {v}")).collect();
            format!("{k} ({})", by.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_names_keys_that_differ_or_are_missing() {
        let a = BTreeMap::from([
            ("x.".to_string(), "1".to_string()),
            ("y.".into(), "2".into()),
        ]);
        let b = BTreeMap::from([
            ("x.".to_string(), "1".to_string()),
            ("y.".into(), "3".into()),
        ]);
        let c = BTreeMap::from([("x.".to_string(), "1".to_string())]);
        let d = differing([("a", &a), ("b", &b)].into_iter());
        assert_eq!(d.keys().collect::<Vec<_>>(), ["y."]);
        let d = differing([("a", &a), ("c", &c)].into_iter());
        assert_eq!(d["y."][1], ("c".to_string(), "(none)".to_string()));
        assert!(differing([("a", &a), ("a2", &a)].into_iter()).is_empty());
    }
}
