//! What each node tells its peers, as chitchat keys in its own state:
//! - `o:<check>` = `<definition digest> <h|u|-> <since, Unix s> <reason>`: its observation
//!   (`-`: defined, not measured here);
//! - `w:<check>` = the JSON of its last override write of that check;
//! - `z:<origin>` = a hash of the zone's files as loaded;
//! - `reload` = when (Unix ms) an operator last asked this node's API to reload: every
//!   node reloads too.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chitchat::NodeState;

use crate::health::{Engine, Observation, OverrideWrite};
use crate::load::Content;

#[derive(Debug, Default, PartialEq)]
pub struct NodeData {
    pub observations: Arc<HashMap<String, Arc<Observation>>>,
    pub writes: Vec<(String, OverrideWrite)>,
    pub zones: BTreeMap<String, String>,
    /// Unix ms of the last reload asked through this node's API; 0: none.
    pub reload: u64,
}

impl NodeData {
    /// This node's, now.
    pub fn of(engine: &Engine, content: &Content, reload: u64) -> NodeData {
        let mut writes = engine.override_writes();
        writes.sort_by(|a, b| a.0.cmp(&b.0));
        NodeData {
            observations: Arc::new(
                engine
                    .observations()
                    .into_iter()
                    .map(|(id, o)| (id, Arc::new(o)))
                    .collect(),
            ),
            writes,
            zones: content.digests.iter().cloned().collect(),
            reload,
        }
    }

    pub fn key_values(&self) -> Vec<(String, String)> {
        let observations = self.observations.iter().map(|(id, o)| {
            let status = match o.healthy {
                Some(true) => "h",
                Some(false) => "u",
                None => "-",
            };
            let since = o
                .since
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            (
                format!("o:{id}"),
                format!("{} {status} {since} {}", o.digest, o.reason),
            )
        });
        let writes = self.writes.iter().map(|(id, w)| {
            let json = serde_json::to_string(w).expect("plain data serializes");
            (format!("w:{id}"), json)
        });
        let zones = self
            .zones
            .iter()
            .map(|(origin, hash)| (format!("z:{origin}"), hash.clone()));
        let reload = (self.reload > 0).then(|| ("reload".to_string(), self.reload.to_string()));
        observations
            .chain(writes)
            .chain(zones)
            .chain(reload)
            .collect()
    }

    /// Makes `state` (this node's) say this instead of `before`.
    pub fn publish(&self, state: &mut NodeState, before: &NodeData) {
        let now: BTreeMap<String, String> = self.key_values().into_iter().collect();
        for (k, v) in &now {
            state.set(k, v);
        }
        for (k, _) in before.key_values() {
            if !now.contains_key(&k) && state.get(&k).is_some() {
                state.delete(&k);
            }
        }
    }

    /// A peer's, from its keys; what cannot be read is left out.
    pub fn read<'a>(keys: impl Iterator<Item = (&'a str, &'a str)>) -> NodeData {
        let mut observations = HashMap::new();
        let mut data = NodeData::default();
        for (key, value) in keys {
            if let Some(id) = key.strip_prefix("o:") {
                if let Some(o) = observation(value) {
                    observations.insert(id.to_string(), Arc::new(o));
                }
            } else if let Some(id) = key.strip_prefix("w:") {
                if let Ok(w) = serde_json::from_str::<OverrideWrite>(value) {
                    data.writes.push((id.to_string(), w));
                }
            } else if let Some(origin) = key.strip_prefix("z:") {
                data.zones.insert(origin.to_string(), value.to_string());
            } else if key == "reload" {
                data.reload = value.parse().unwrap_or(0);
            }
        }
        data.observations = Arc::new(observations);
        data
    }

    /// Check id → definition digest.
    pub fn check_digests(&self) -> BTreeMap<String, String> {
        self.observations
            .iter()
            .map(|(id, o)| (id.clone(), o.digest.clone()))
            .collect()
    }
}

fn observation(value: &str) -> Option<Observation> {
    let mut parts = value.splitn(4, ' ');
    let digest = parts.next()?.to_string();
    let healthy = match parts.next()? {
        "h" => Some(true),
        "u" => Some(false),
        "-" => None,
        _ => return None,
    };
    let since = SystemTime::UNIX_EPOCH + Duration::from_secs(parts.next()?.parse().ok()?);
    let reason = parts.next().unwrap_or("").to_string();
    Some(Observation {
        digest,
        healthy,
        since,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Written;

    #[test]
    fn what_a_node_says_reads_back() {
        let since = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let o = Observation {
            digest: "0123456789abcdef".into(),
            healthy: Some(false),
            since,
            reason: "HTTP 503 from 198.18.0.1:80".into(),
        };
        let w = OverrideWrite {
            written: Written {
                at_ms: 5,
                by: "ns1".into(),
            },
            status: None,
            reason: "maintenance".into(),
            expires: since,
        };
        let data = NodeData {
            observations: Arc::new(HashMap::from([("web".to_string(), Arc::new(o))])),
            writes: vec![("web".into(), w)],
            zones: BTreeMap::from([("example.com.".to_string(), "abcd".to_string())]),
            reload: 1_800_000_000_000,
        };
        let kv = data.key_values();
        let back = NodeData::read(kv.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(back, data);
        let junk = NodeData::read([("o:x", "digest maybe 12"), ("w:y", "{")].into_iter());
        assert!(junk.observations.is_empty() && junk.writes.is_empty());
    }
}
