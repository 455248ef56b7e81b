//! What survives a restart: the last known status of each check (`state_file`) and the
//! manual overrides (`overrides.json` beside it). Both are JSON, written whole to a
//! temporary file and renamed over the old one, so a crash leaves the old or the new.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// A check's last known status, tied to the definition it was measured with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    pub fingerprint: String,
    pub healthy: bool,
    #[serde(with = "rfc3339")]
    pub since: SystemTime,
    pub reason: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    checks: BTreeMap<String, Saved>,
}

/// A status forced by an operator until `expires`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    #[serde(with = "status_word")]
    pub status: bool,
    pub reason: String,
    #[serde(with = "rfc3339")]
    pub expires: SystemTime,
    /// When and on which node it was written: in a cluster the last writer wins.
    #[serde(default, skip_serializing_if = "Written::is_unknown")]
    pub written: Written,
}

/// When (Unix milliseconds) and by which node an override was set or cleared. Writes
/// are ordered by time, then node name, so every node picks the same last one.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Written {
    pub at_ms: u64,
    pub by: String,
}

impl Written {
    fn is_unknown(&self) -> bool {
        *self == Written::default()
    }

    /// Now, on `node`; always after `last` so two writes in one millisecond keep order.
    pub fn now(node: &str, last: Option<&Written>) -> Written {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Written {
            at_ms: now.max(last.map_or(0, |w| w.at_ms + 1)),
            by: node.to_string(),
        }
    }
}

/// An operator's write of one check's override, set or cleared, as the cluster shares
/// it. A clear is kept until the override it ended would have expired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideWrite {
    #[serde(flatten)]
    pub written: Written,
    /// None: cleared.
    #[serde(with = "status_word_opt")]
    pub status: Option<bool>,
    pub reason: String,
    #[serde(with = "rfc3339")]
    pub expires: SystemTime,
}

impl OverrideWrite {
    pub fn set(o: &Override) -> Self {
        OverrideWrite {
            written: o.written.clone(),
            status: Some(o.status),
            reason: o.reason.clone(),
            expires: o.expires,
        }
    }

    /// The override it sets, if it sets one.
    pub fn to_override(&self) -> Option<Override> {
        Some(Override {
            status: self.status?,
            reason: self.reason.clone(),
            expires: self.expires,
            written: self.written.clone(),
        })
    }
}

/// The saved states; a missing or unreadable file gives none (every check then gets a
/// first round), and says why unless it is simply missing.
pub fn read_state(path: &Path) -> HashMap<String, Saved> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return HashMap::new(),
        Err(e) => {
            tracing::warn!(
                "cannot read {}: {e}; every check starts afresh",
                path.display()
            );
            return HashMap::new();
        }
    };
    match serde_json::from_str::<StateFile>(&text) {
        Ok(f) => f.checks.into_iter().collect(),
        Err(e) => {
            tracing::warn!(
                "{}:{}: {e}; every check starts afresh",
                path.display(),
                e.line()
            );
            HashMap::new()
        }
    }
}

pub fn write_state(path: &Path, checks: &HashMap<String, Saved>) -> std::io::Result<()> {
    let file = StateFile {
        checks: checks.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    };
    write_atomic(path, &to_json(&file))
}

/// The overrides file, check id → override. Missing means none; an error names the line.
pub fn read_overrides(path: &Path) -> Result<HashMap<String, Override>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(format!("{}:1: cannot read: {e}", path.display())),
    };
    if text.trim().is_empty() {
        return Ok(HashMap::new());
    }
    serde_json::from_str::<BTreeMap<String, Override>>(&text)
        .map(|m| m.into_iter().collect())
        .map_err(|e| format!("{}:{}: {e}", path.display(), e.line()))
}

pub fn write_overrides(path: &Path, overrides: &HashMap<String, Override>) -> std::io::Result<()> {
    let sorted: BTreeMap<_, _> = overrides.iter().collect();
    write_atomic(path, &to_json(&sorted))
}

fn to_json(v: &impl Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(v).expect("plain data serializes");
    bytes.push(b'\n');
    bytes
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Times as RFC 3339 in UTC, to the second: `2026-11-22T10:00:00Z`.
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::SystemTime;

    pub fn format(t: SystemTime) -> String {
        humantime::format_rfc3339_seconds(t).to_string()
    }

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_rfc3339_weak(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "bad time {text:?} ({e}); write it like 2026-11-22T10:00:00Z"
            ))
        })
    }
}

mod status_word_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(status: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
        match status {
            Some(h) => super::status_word::serialize(h, s),
            None => s.serialize_str("cleared"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        match String::deserialize(d)?.as_str() {
            "healthy" => Ok(Some(true)),
            "unhealthy" => Ok(Some(false)),
            "cleared" => Ok(None),
            other => Err(serde::de::Error::custom(format!("status {other:?}"))),
        }
    }
}

mod status_word {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(healthy: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(crate::health::status_word(*healthy))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        match String::deserialize(d)?.as_str() {
            "healthy" => Ok(true),
            "unhealthy" => Ok(false),
            other => Err(serde::de::Error::custom(format!(
                "status {other:?}: use \"healthy\" or \"unhealthy\""
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn state_round_trips_and_survives_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/health.json");
        assert!(read_state(&path).is_empty());
        let since = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let saved = Saved {
            fingerprint: "f".into(),
            healthy: false,
            since,
            reason: "connection refused".into(),
        };
        let states = HashMap::from([("web".to_string(), saved.clone())]);
        write_state(&path, &states).unwrap();
        assert_eq!(read_state(&path)["web"], saved);
        std::fs::write(&path, "{ not json").unwrap();
        assert!(read_state(&path).is_empty());
    }

    #[test]
    fn overrides_parse_with_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("overrides.json");
        assert!(read_overrides(&path).unwrap().is_empty());
        std::fs::write(
            &path,
            "{\n \"web\": {\"status\": \"unhealthy\", \"reason\": \"maintenance\", \"expires\": \"2030-01-01T00:00:00Z\"}\n}\n",
        )
        .unwrap();
        let o = read_overrides(&path).unwrap();
        assert!(!o["web"].status);
        assert_eq!(rfc3339::format(o["web"].expires), "2030-01-01T00:00:00Z");
        write_overrides(&path, &o).unwrap();
        assert_eq!(read_overrides(&path).unwrap(), o);
        std::fs::write(
            &path,
            "{\n \"web\": {\"status\": \"down\",\n \"reason\": \"x\", \"expires\": \"2030-01-01T00:00:00Z\"}\n}\n",
        )
        .unwrap();
        let e = read_overrides(&path).unwrap_err();
        assert!(
            e.contains("overrides.json:2:") && e.contains("use \"healthy\""),
            "{e}"
        );
    }
}
