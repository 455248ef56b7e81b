//! The health-check engine: probes on tokio, off the query path, and the state machine
//! that turns probe results into statuses.
//!
//! Checks with the same endpoint, interval and timeout form one probe *group*, probed
//! once per interval by one task; every check of the group reads the result. A check's
//! measured status flips after `failure_threshold` consecutive results against it (either
//! way); the first result a check ever gets decides its status outright, which is why a
//! new check is probed once before it counts. Every change of a status in effect is
//! published at once as a new [`HealthTable`], logged with its reason, and the measured
//! statuses are saved for the next start.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tokio::sync::{oneshot, watch, Notify, Semaphore};

use super::probe::{Outcome, Prober};
use super::store::{self, rfc3339, Override, OverrideWrite, Saved, Written};
use super::{evaluate, status_word, HealthCheck, HealthTable, Observation, Peer, Probe};
use crate::config::{ClusterConfig, HealthConfig, Quorum};
use crate::draw::Draw;
use crate::metrics;
use crate::watch::FileStamp;

/// The shortest time between two publications of probe results: a status change reaches
/// the answers within this (plus the time to decide them anew).
const PUBLISH_GAP: Duration = Duration::from_millis(20);
/// The shortest time between two writes of the state file.
const SAVE_GAP: Duration = Duration::from_millis(200);

pub struct Engine {
    state: Mutex<State>,
    published: watch::Sender<HealthTable>,
    /// Probes in flight at once.
    limit: Arc<Semaphore>,
    state_file: PathBuf,
    overrides_file: PathBuf,
    /// Wakes the writer of the state file.
    dirty: Notify,
    /// Wakes the publisher after a measured status flips.
    flipped: Notify,
    /// Set once the checks known at start have had their first round.
    ready: AtomicBool,
    /// In a cluster: this node's part.
    role: Option<Role>,
    /// Bumped when this node's observations or override writes change, for the cluster
    /// to tell its peers.
    changed: watch::Sender<u64>,
}

/// A node of a cluster: its name, how observers decide, whether it probes.
struct Role {
    node: String,
    quorum: Quorum,
    probe: bool,
}

#[derive(Default)]
struct State {
    checks: Vec<HealthCheck>,
    entries: HashMap<String, Entry>,
    groups: HashMap<String, Group>,
    overrides: HashMap<String, Override>,
    /// The overrides file as we last read or wrote it.
    overrides_stamp: Option<FileStamp>,
    /// Statuses saved by the last run, until their checks are configured.
    saved: HashMap<String, Saved>,
    next_generation: u64,
    /// The peers alive, as last heard: their observations count for a check while they
    /// were heard within its window (only those of the same definition count).
    peers: Vec<Peer>,
    /// What decides with them: each peer's data and the windows it is fresh for.
    peers_key: Vec<(Arc<str>, usize, Vec<bool>)>,
    /// The last operator write of each check's override, set or cleared: what the
    /// cluster's last-writer-wins compares.
    writes: HashMap<String, OverrideWrite>,
}

struct Entry {
    fingerprint: String,
    /// The fingerprint, short, as peers see it.
    digest: String,
    /// How long a peer's observation of it stays fresh: max(3 × interval, 10 s).
    window: Duration,
    /// Consecutive results that flip `measured`.
    threshold: u8,
    /// From probes: None until the first result.
    measured: Option<bool>,
    /// Stands in for `measured` until the first result: the status of the check's
    /// previous definition.
    provisional: Option<bool>,
    measured_since: SystemTime,
    /// Consecutive results that disagree with `measured`.
    streak: u8,
    last: Option<ResultReport>,
    /// The status in effect (after inversion, calculation and overrides), and since when.
    effective: Option<bool>,
    since: SystemTime,
    /// Probe durations and transitions, for the metrics.
    series: Arc<metrics::CheckSeries>,
    /// The last `TRANSITIONS_KEPT` changes of the status in effect.
    transitions: Vec<TransitionReport>,
}

/// Transitions kept per check, for the API and the status page.
const TRANSITIONS_KEPT: usize = 5;

struct Group {
    generation: u64,
    members: Vec<String>,
    task: tokio::task::AbortHandle,
}

impl Drop for Group {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One check as `GET /api/v1/health-checks` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub target: String,
    /// The status answers use now.
    pub status: &'static str,
    /// What probes and Route 53's rules say, before any override.
    pub real_status: &'static str,
    pub forced: Option<ForcedReport>,
    /// When `status` last changed.
    pub since: String,
    pub last_result: Option<ResultReport>,
    pub inverted: bool,
    pub disabled: bool,
    /// In a cluster: every node whose observation counts, this one included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observers: Option<Vec<ObserverReport>>,
    /// The last few changes of `status`, oldest first.
    pub transitions: Vec<TransitionReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TransitionReport {
    pub at: String,
    pub to: &'static str,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObserverReport {
    pub node: String,
    pub status: &'static str,
    pub since: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ForcedReport {
    pub status: &'static str,
    pub reason: String,
    pub expires: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResultReport {
    pub healthy: bool,
    pub reason: String,
    pub at: String,
    pub latency_ms: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OverrideError {
    UnknownCheck(String),
    /// The overrides file could not be written; nothing changed.
    Storage(String),
}

impl std::fmt::Display for OverrideError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OverrideError::UnknownCheck(id) => write!(f, "no health check {id:?}"),
            OverrideError::Storage(e) => write!(f, "cannot save the override: {e}"),
        }
    }
}

impl Engine {
    /// An engine with no checks yet; reads the saved states and the overrides. Call
    /// [`Engine::start`] inside the runtime, then [`Engine::configure`].
    /// `cluster`: the node's part in a cluster, if it is in one.
    pub fn new(config: &HealthConfig, cluster: Option<&ClusterConfig>) -> Arc<Engine> {
        let overrides_file = config.overrides_file();
        let overrides = store::read_overrides(&overrides_file).unwrap_or_else(|e| {
            tracing::error!("{e}; no overrides are in effect until it is fixed");
            HashMap::new()
        });
        let writes = overrides
            .iter()
            .map(|(id, o)| (id.clone(), OverrideWrite::set(o)))
            .collect();
        let state = State {
            writes,
            saved: store::read_state(&config.state_file),
            overrides_stamp: Some(FileStamp::of(&overrides_file)),
            overrides,
            ..State::default()
        };
        Arc::new(Engine {
            state: Mutex::new(state),
            published: watch::Sender::new(HealthTable::default()),
            limit: Arc::new(Semaphore::new(config.max_concurrent_probes)),
            state_file: config.state_file.clone(),
            overrides_file,
            dirty: Notify::new(),
            flipped: Notify::new(),
            ready: AtomicBool::new(false),
            role: cluster.map(|c| Role {
                node: c.node.clone(),
                quorum: c.health_quorum,
                probe: c.probe,
            }),
            changed: watch::Sender::new(0),
        })
    }

    /// Starts the background tasks: the state-file writer and the overrides watcher.
    pub fn start(self: &Arc<Self>) {
        tokio::spawn(write_state_on_change(self.clone()));
        tokio::spawn(publish_on_flip(self.clone()));
        tokio::spawn(watch_overrides(self.clone()));
    }

    /// The statuses in effect now.
    pub fn table(&self) -> HealthTable {
        self.published.borrow().clone()
    }

    /// Sees every new table.
    pub fn subscribe(&self) -> watch::Receiver<HealthTable> {
        self.published.subscribe()
    }

    /// True once the checks known at start have had their first round.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes `checks` the set probed. A check whose definition did not change keeps its
    /// state, as does one whose state the last run saved; any other is probed at once,
    /// and this returns when each of those has its first result.
    pub async fn configure(self: &Arc<Self>, checks: Vec<HealthCheck>) {
        let waiting = {
            let mut state = self.lock();
            let state = &mut *state;
            let now = SystemTime::now();
            let mut entries = HashMap::with_capacity(checks.len());
            for c in &checks {
                let fp = c.fingerprint();
                let entry = match state.entries.remove(&c.id) {
                    Some(e) if e.fingerprint == fp => e,
                    // A changed definition starts afresh, but the answers keep the old
                    // status until the first probe of the new one: no flap in between.
                    Some(old) => Entry {
                        provisional: old.measured.or(old.provisional),
                        effective: old.effective,
                        since: old.since,
                        ..Entry::new(c, fp, now)
                    },
                    None => match state.saved.remove(&c.id) {
                        Some(s) if s.fingerprint == fp => Entry {
                            measured: Some(s.healthy),
                            measured_since: s.since,
                            last: None,
                            ..Entry::new(c, fp, now)
                        },
                        _ => Entry::new(c, fp, now),
                    },
                };
                entries.insert(c.id.clone(), entry);
            }
            state.entries = entries;
            warn_unknown_overrides(state, &self.overrides_file);
            state.checks = checks;

            // Probe groups: keep a running group whose members all have a status; start
            // the others now.
            let mut wanted: HashMap<String, (Vec<String>, &HealthCheck)> = HashMap::new();
            // A node that does not probe takes every measurement from its peers.
            let probes = self.role.as_ref().is_none_or(|r| r.probe);
            for c in state.checks.iter().filter(|_| probes) {
                if let Some(key) = c.probe_key() {
                    wanted
                        .entry(key)
                        .or_insert_with(|| (Vec::new(), c))
                        .0
                        .push(c.id.clone());
                }
            }
            let mut old = std::mem::take(&mut state.groups);
            let mut waiting = Vec::new();
            let mut draw = Draw::from_entropy();
            for (key, (members, check)) in wanted {
                let fresh = members
                    .iter()
                    .any(|id| state.entries[id].measured.is_none());
                if let Some(mut g) = old.remove(&key).filter(|_| !fresh) {
                    g.members = members;
                    state.groups.insert(key, g);
                    continue;
                }
                state.next_generation += 1;
                let generation = state.next_generation;
                let (first_tx, first_rx) = oneshot::channel();
                // Known statuses need no hurry: spread their first probes over an
                // interval so checks do not fire together.
                let delay = match fresh {
                    true => Duration::ZERO,
                    false => check.interval.mul_f64(draw.unit()),
                };
                let task = tokio::spawn(run_group(
                    Arc::downgrade(self),
                    key.clone(),
                    generation,
                    Prober::new(check),
                    check.interval,
                    delay,
                    first_tx,
                ));
                if fresh {
                    waiting.push(first_rx);
                }
                let task = task.abort_handle();
                state.groups.insert(
                    key,
                    Group {
                        generation,
                        members,
                        task,
                    },
                );
            }
            drop(old); // aborts the groups no longer wanted
            self.recompute(state, "configured");
            waiting
        };
        self.changed.send_modify(|v| *v += 1);
        self.dirty.notify_one();
        let probed = waiting.len();
        for rx in waiting {
            let _ = rx.await;
        }
        // The first results are in the table before this returns.
        {
            let mut state = self.lock();
            self.recompute(&mut state, "first round");
            if probed > 0 {
                let healthy = state
                    .entries
                    .values()
                    .filter(|e| e.effective == Some(true))
                    .count();
                tracing::info!(
                    checks = state.checks.len(),
                    healthy,
                    unhealthy = state.checks.len() - healthy,
                    "health checks: first round done"
                );
            }
        }
        if self.role.is_some() && !self.wait_decided(DECIDE_WAIT).await {
            tracing::warn!(
                "some checks have no observation yet, from this node or its peers; they count as healthy until one comes"
            );
        }
        self.ready.store(true, Ordering::Release);
    }

    /// A probe result for every check of a group.
    fn observe(&self, key: &str, generation: u64, outcome: Outcome) {
        let mut state = self.lock();
        let state = &mut *state;
        let Some(group) = state.groups.get(key).filter(|g| g.generation == generation) else {
            return; // a group replaced while this probe ran
        };
        let now = SystemTime::now();
        let result = ResultReport {
            healthy: outcome.healthy,
            reason: outcome.reason,
            at: rfc3339::format(now),
            // Microseconds are plenty.
            latency_ms: (outcome.latency.as_secs_f64() * 1e6).round() / 1e3,
        };
        let mut flipped = false;
        for id in &group.members {
            let Some(e) = state.entries.get_mut(id) else {
                continue;
            };
            let threshold = e.threshold;
            e.series.observe(outcome.latency);
            e.last = Some(result.clone());
            match e.measured {
                Some(status) if status == outcome.healthy => e.streak = 0,
                Some(_) if e.streak + 1 < threshold => e.streak += 1,
                _ => {
                    e.measured = Some(outcome.healthy);
                    e.measured_since = now;
                    e.streak = 0;
                    flipped = true;
                }
            }
        }
        if flipped {
            self.changed.send_modify(|v| *v += 1);
            // Published by `publish_on_flip`: a burst of flips (a first round, a switch
            // taking many endpoints down) costs one evaluation, not one each.
            self.flipped.notify_one();
            self.dirty.notify_one();
        }
    }

    /// Re-evaluates every status in effect; logs and publishes the changes. A status a
    /// check gets for the first time is logged at debug level: at start there is one per
    /// check, and `configure` sums them up.
    fn recompute(&self, state: &mut State, cause: &str) {
        let measured = |id: &str| self.decided(state, id).map(|d| d.healthy);
        let forced = |id: &str| state.overrides.get(id).map(|o| o.status);
        let statuses = evaluate(&state.checks, measured, forced);
        let mut changes = Vec::new();
        for c in &state.checks {
            let now_healthy = statuses[&c.id];
            let e = &state.entries[&c.id];
            // A check waiting for its first result is not reported until it has one.
            let pending = e.measured.is_none()
                && !c.disabled
                && !matches!(c.probe, Probe::Calculated { .. })
                && !state.overrides.contains_key(&c.id);
            match e.effective {
                Some(was) if was == now_healthy => {}
                None if pending => {}
                was => {
                    let reason = self.reason(state, &statuses, c, now_healthy, cause);
                    changes.push((c.id.clone(), was, now_healthy, reason));
                }
            }
        }
        let now = SystemTime::now();
        for (id, was, now_healthy, reason) in changes {
            let e = state.entries.get_mut(&id).expect("an entry per check");
            if was.is_some() {
                if e.transitions.len() == TRANSITIONS_KEPT {
                    e.transitions.remove(0);
                }
                e.transitions.push(TransitionReport {
                    at: rfc3339::format(now),
                    to: status_word(now_healthy),
                    reason: reason.clone(),
                });
            }
            match was {
                Some(was) => {
                    metrics::check_series(&id).transition(now_healthy);
                    tracing::info!(
                        check = id,
                        from = status_word(was),
                        to = status_word(now_healthy),
                        reason,
                        "health check status changed"
                    )
                }
                None => tracing::debug!(
                    check = id,
                    status = status_word(now_healthy),
                    reason,
                    "health check status"
                ),
            }
            let e = state.entries.get_mut(&id).expect("an entry per check");
            e.effective = Some(now_healthy);
            e.since = now;
        }
        if *self.published.borrow().0 != statuses {
            self.published.send_replace(HealthTable(Arc::new(statuses)));
        }
    }

    /// A check's measured status: in a cluster, what the fresh observers of the same
    /// definition decide by the quorum; alone, this node's own. None: nothing measured
    /// yet (Route 53's rules for a new check then apply).
    fn decided(&self, state: &State, id: &str) -> Option<Decided> {
        let e = state.entries.get(id)?;
        let alone = e.measured.or(e.provisional).map(|healthy| Decided {
            healthy,
            up: usize::from(healthy),
            of: 1,
        });
        let Some(role) = &self.role else {
            return alone;
        };
        let own = e.measured.filter(|_| role.probe);
        let peers = peer_observations(state, e, id).filter_map(|(_, o)| o.healthy);
        let (mut up, mut of) = (0, 0);
        for healthy in own.into_iter().chain(peers) {
            of += 1;
            up += usize::from(healthy);
        }
        if of == 0 {
            return alone;
        }
        Some(Decided {
            healthy: role.quorum.healthy(up, of),
            up,
            of,
        })
    }

    /// Why a check has the status it has, in a few words.
    /// `statuses`: every check's status as just evaluated (a calculated check's children
    /// are counted from these, not from what was in effect before).
    fn reason(
        &self,
        state: &State,
        statuses: &HashMap<String, bool>,
        c: &HealthCheck,
        healthy: bool,
        cause: &str,
    ) -> String {
        if let Some(o) = state.overrides.get(&c.id) {
            return format!("forced {} by override: {}", status_word(o.status), o.reason);
        }
        let e = &state.entries[&c.id];
        let mut why = match (&c.probe, c.disabled) {
            (_, true) => "disabled (reports healthy)".to_string(),
            (
                Probe::Calculated {
                    children,
                    threshold,
                },
                _,
            ) => {
                let up = children
                    .iter()
                    .filter(|id| statuses.get(id.as_str()).copied().unwrap_or(true))
                    .count();
                format!(
                    "{up} of {} children healthy, threshold {threshold}",
                    children.len()
                )
            }
            _ => match (self.decided(state, &c.id), &self.role) {
                (Some(d), Some(role)) if d.of > 1 || e.measured.is_none() => format!(
                    "{} of {} observers healthy ({} quorum): {}",
                    d.up,
                    d.of,
                    role.quorum.name(),
                    self.observers(state, &c.id)
                        .iter()
                        .map(|o| format!("{} {} ({})", o.node, o.status, o.reason))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => match (&e.last, e.measured) {
                    (Some(r), _) => r.reason.clone(),
                    (None, Some(_)) => "saved by the last run".to_string(),
                    (None, None) => format!("no result yet ({cause})"),
                },
            },
        };
        if c.inverted {
            why.push_str(&format!(", inverted to {}", status_word(healthy)));
        }
        why
    }

    /// Every check, as the API shows it.
    pub fn report(&self) -> Vec<CheckReport> {
        let state = self.lock();
        let measured = |id: &str| self.decided(&state, id).map(|d| d.healthy);
        let real = evaluate(&state.checks, measured, |_| None);
        state
            .checks
            .iter()
            .map(|c| {
                let e = &state.entries[&c.id];
                CheckReport {
                    id: c.id.clone(),
                    kind: c.kind(),
                    target: c.target(),
                    status: status_word(e.effective.unwrap_or(real[&c.id])),
                    real_status: status_word(real[&c.id]),
                    forced: state.overrides.get(&c.id).map(|o| ForcedReport {
                        status: status_word(o.status),
                        reason: o.reason.clone(),
                        expires: rfc3339::format(o.expires),
                    }),
                    since: rfc3339::format(e.since),
                    last_result: e.last.clone(),
                    inverted: c.inverted,
                    disabled: c.disabled,
                    observers: self.role.as_ref().map(|_| self.observers(&state, &c.id)),
                    transitions: e.transitions.clone(),
                }
            })
            .collect()
    }

    /// The observations of a check that count: this node's, then its peers'.
    fn observers(&self, state: &State, id: &str) -> Vec<ObserverReport> {
        let (Some(role), Some(e)) = (&self.role, state.entries.get(id)) else {
            return Vec::new();
        };
        let own = e
            .measured
            .filter(|_| role.probe)
            .map(|healthy| ObserverReport {
                node: role.node.clone(),
                status: status_word(healthy),
                since: rfc3339::format(e.measured_since),
                reason: e
                    .last
                    .as_ref()
                    .map_or_else(|| "saved by the last run".to_string(), |r| r.reason.clone()),
            });
        let peers = peer_observations(state, e, id).filter_map(|(node, o)| {
            Some(ObserverReport {
                node: node.to_string(),
                status: status_word(o.healthy?),
                since: rfc3339::format(o.since),
                reason: o.reason.clone(),
            })
        });
        own.into_iter().chain(peers).collect()
    }

    /// Forces a check's status until the override expires or is cleared. Saved in the
    /// overrides file, so it survives restarts.
    pub fn set_override(&self, id: &str, mut o: Override) -> Result<(), OverrideError> {
        let mut state = self.lock();
        if !state.entries.contains_key(id) {
            return Err(OverrideError::UnknownCheck(id.to_string()));
        }
        o.written = self.stamp(&state, id);
        let mut next = state.overrides.clone();
        next.insert(id.to_string(), o.clone());
        self.save_overrides(&mut state, next)?;
        self.wrote(&mut state, id, OverrideWrite::set(&o));
        log_override_set(id, &o, "API");
        self.recompute(&mut state, "override");
        Ok(())
    }

    /// A new write's stamp: after the last one known for the check.
    fn stamp(&self, state: &State, id: &str) -> Written {
        let node = self.role.as_ref().map_or("", |r| r.node.as_str());
        Written::now(node, state.writes.get(id).map(|w| &w.written))
    }

    /// Records an operator's write, for the cluster to share.
    fn wrote(&self, state: &mut State, id: &str, write: OverrideWrite) {
        state.writes.insert(id.to_string(), write);
        self.changed.send_modify(|v| *v += 1);
    }

    /// Ends an override; false if there was none.
    pub fn clear_override(&self, id: &str) -> Result<bool, OverrideError> {
        let mut state = self.lock();
        if !state.entries.contains_key(id) {
            return Err(OverrideError::UnknownCheck(id.to_string()));
        }
        if !state.overrides.contains_key(id) {
            return Ok(false);
        }
        let mut next = state.overrides.clone();
        let ended = next.remove(id).expect("checked above");
        self.save_overrides(&mut state, next)?;
        let written = self.stamp(&state, id);
        self.wrote(&mut state, id, cleared(written, &ended));
        tracing::info!(check = id, by = "API", "override cleared");
        self.recompute(&mut state, "override cleared");
        Ok(true)
    }

    fn save_overrides(
        &self,
        state: &mut State,
        next: HashMap<String, Override>,
    ) -> Result<(), OverrideError> {
        store::write_overrides(&self.overrides_file, &next).map_err(|e| {
            OverrideError::Storage(format!("{}: {e}", self.overrides_file.display()))
        })?;
        state.overrides = next;
        state.overrides_stamp = Some(FileStamp::of(&self.overrides_file));
        Ok(())
    }

    /// Whether the overrides file changed or an override (or a write) expired.
    fn overrides_due(&self) -> bool {
        let state = self.lock();
        let now = SystemTime::now();
        !state
            .overrides_stamp
            .as_ref()
            .is_some_and(|s| s.is_current())
            || state.overrides.values().any(|o| o.expires <= now)
            || state.writes.values().any(|w| w.expires <= now)
    }

    /// This node's name in its cluster.
    pub fn node(&self) -> Option<&str> {
        self.role.as_ref().map(|r| r.node.as_str())
    }

    /// Changes whenever this node's observations or override writes do.
    pub fn watch_changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// This node's observation of each check it has (for its peers).
    pub fn observations(&self) -> Vec<(String, Observation)> {
        let state = self.lock();
        let probes = self.role.as_ref().is_none_or(|r| r.probe);
        state
            .checks
            .iter()
            .map(|c| {
                let e = &state.entries[&c.id];
                let obs = Observation {
                    digest: e.digest.clone(),
                    healthy: e.measured.filter(|_| probes && c.probe_key().is_some()),
                    since: e.measured_since,
                    reason: e
                        .last
                        .as_ref()
                        .map_or_else(String::new, |r| r.reason.clone()),
                };
                (c.id.clone(), obs)
            })
            .collect()
    }

    /// The last operator write of each override this node knows.
    pub fn override_writes(&self) -> Vec<(String, OverrideWrite)> {
        let state = self.lock();
        state
            .writes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Takes in the writes peers made: each newer than the last this node knows wins,
    /// is saved in the overrides file and applies at once.
    pub fn merge_override_writes(&self, writes: Vec<(String, OverrideWrite)>) {
        let mut state = self.lock();
        let state = &mut *state;
        let now = SystemTime::now();
        let mut next = state.overrides.clone();
        let mut changed = false;
        for (id, w) in writes {
            if w.expires <= now
                || state
                    .writes
                    .get(&id)
                    .is_some_and(|l| l.written >= w.written)
            {
                continue;
            }
            match w.to_override() {
                Some(o) => {
                    log_override_set(&id, &o, &format!("node {}", w.written.by));
                    next.insert(id.clone(), o);
                }
                None => {
                    if next.remove(&id).is_some() {
                        tracing::info!(check = id, by = %format!("node {}", w.written.by), "override cleared");
                    }
                }
            }
            state.writes.insert(id, w);
            changed = true;
        }
        if !changed {
            return;
        }
        if let Err(e) = self.save_overrides(state, next.clone()) {
            // In effect anyway: the cluster decided; the file catches up at the next write.
            tracing::warn!("{e}");
            state.overrides = next;
        }
        self.changed.send_modify(|v| *v += 1);
        self.recompute(state, "override");
    }

    /// Takes in what the cluster heard from each peer: the observations of the peers
    /// that are alive and were heard within max(3 × interval, 10 s) count.
    pub fn set_peers(&self, peers: &[Peer]) {
        let mut state = self.lock();
        let state = &mut *state;
        let alive: Vec<Peer> = peers.iter().filter(|p| p.alive).cloned().collect();
        // Statuses change only when a peer's data does, or it leaves or enters the
        // window of some checks: then weigh everything again.
        let mut windows: Vec<Duration> = state.entries.values().map(|e| e.window).collect();
        windows.sort();
        windows.dedup();
        let key: Vec<(Arc<str>, usize, Vec<bool>)> = alive
            .iter()
            .map(|p| {
                let fresh = windows.iter().map(|w| p.silent_for <= *w).collect();
                (p.node.clone(), Arc::as_ptr(&p.observations) as usize, fresh)
            })
            .collect();
        state.peers = alive;
        if key != state.peers_key {
            state.peers_key = key;
            self.recompute(state, "cluster");
        }
    }

    /// Waits, at most `limit`, until every probed check has a measured status, its own
    /// or its peers' (a node that does not probe waits for its peers' first words).
    async fn wait_decided(&self, limit: Duration) -> bool {
        let decided = || {
            let state = self.lock();
            state
                .checks
                .iter()
                .all(|c| c.probe_key().is_none() || self.decided(&state, &c.id).is_some())
        };
        let until = tokio::time::Instant::now() + limit;
        let mut published = self.published.subscribe();
        while !decided() {
            if tokio::time::Instant::now() >= until {
                return false;
            }
            // Peers' words that change no status publish nothing: look again soon.
            let _ = tokio::time::timeout(Duration::from_millis(100), published.changed()).await;
        }
        true
    }

    /// Ends expired overrides and takes in edits of the overrides file.
    fn tend_overrides(&self) {
        let mut state = self.lock();
        let state = &mut *state;
        let edited = !state
            .overrides_stamp
            .as_ref()
            .is_some_and(|s| s.is_current());
        if edited {
            state.overrides_stamp = Some(FileStamp::of(&self.overrides_file));
            match store::read_overrides(&self.overrides_file) {
                Ok(mut next) => {
                    // An edit is an operator's write like any other: stamped now.
                    for (id, o) in &mut next {
                        if state
                            .overrides
                            .get(id)
                            .is_none_or(|was| !same_override(was, o))
                        {
                            o.written = self.stamp(state, id);
                            log_override_set(id, o, "overrides file");
                            self.wrote(state, id, OverrideWrite::set(o));
                        } else if let Some(was) = state.overrides.get(id) {
                            o.written = was.written.clone();
                        }
                    }
                    let gone: Vec<(String, Override)> = state
                        .overrides
                        .iter()
                        .filter(|(id, _)| !next.contains_key(*id))
                        .map(|(id, o)| (id.clone(), o.clone()))
                        .collect();
                    for (id, ended) in gone {
                        tracing::info!(check = id, by = "overrides file", "override cleared");
                        let written = self.stamp(state, &id);
                        self.wrote(state, &id, cleared(written, &ended));
                    }
                    state.overrides = next;
                    warn_unknown_overrides(state, &self.overrides_file);
                }
                Err(e) => tracing::error!("{e}; the overrides in effect stay as they were"),
            }
        }
        let now = SystemTime::now();
        let expired: Vec<String> = state
            .overrides
            .iter()
            .filter(|(_, o)| o.expires <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            let o = state.overrides.remove(id).expect("listed above");
            tracing::info!(check = id, reason = o.reason, "override expired");
        }
        // Writes end with what they wrote: nothing older can come back after that.
        state.writes.retain(|_, w| w.expires > now);
        if !expired.is_empty() {
            let remaining = state.overrides.clone();
            if let Err(e) = self.save_overrides(state, remaining) {
                tracing::warn!("{e}; the expired overrides end anyway");
            }
        }
        if edited || !expired.is_empty() {
            self.recompute(state, "override");
        }
    }

    /// The measured statuses worth saving.
    fn saved(&self) -> HashMap<String, Saved> {
        let state = self.lock();
        state
            .entries
            .iter()
            .filter_map(|(id, e)| {
                Some((
                    id.clone(),
                    Saved {
                        fingerprint: e.fingerprint.clone(),
                        healthy: e.measured?,
                        since: e.measured_since,
                        reason: e
                            .last
                            .as_ref()
                            .map_or_else(String::new, |r| r.reason.clone()),
                    },
                ))
            })
            .collect()
    }
}

/// The fresh observations peers made of check `id` with the same definition as `e`.
fn peer_observations<'a>(
    state: &'a State,
    e: &'a Entry,
    id: &'a str,
) -> impl Iterator<Item = (&'a Arc<str>, &'a Observation)> {
    state
        .peers
        .iter()
        .filter(|p| p.silent_for <= e.window)
        .filter_map(move |p| Some((&p.node, &**p.observations.get(id)?)))
        .filter(|(_, o)| o.digest == e.digest)
}

/// A measured status and the observers it was decided from.
struct Decided {
    healthy: bool,
    up: usize,
    of: usize,
}

/// How long `configure` waits, in a cluster, for every check to have an observation.
const DECIDE_WAIT: Duration = Duration::from_secs(5);

/// Peers' observations stay fresh at least this long after they were last heard from.
const FRESH_AT_LEAST: Duration = Duration::from_secs(10);

/// Two overrides alike but for when they were written.
fn same_override(a: &Override, b: &Override) -> bool {
    (a.status, &a.reason, a.expires) == (b.status, &b.reason, b.expires)
}

/// The write that clears `ended`, kept as long as `ended` could still be in effect.
fn cleared(written: Written, ended: &Override) -> OverrideWrite {
    OverrideWrite {
        written,
        status: None,
        reason: ended.reason.clone(),
        expires: ended.expires,
    }
}

impl Entry {
    fn new(c: &HealthCheck, fingerprint: String, now: SystemTime) -> Entry {
        Entry {
            digest: c.digest(),
            window: (c.interval * 3).max(FRESH_AT_LEAST),
            fingerprint,
            threshold: c.failure_threshold.max(1),
            measured: None,
            provisional: None,
            measured_since: now,
            streak: 0,
            last: None,
            effective: None,
            since: now,
            series: metrics::check_series(&c.id),
            transitions: Vec::new(),
        }
    }
}

/// An override in the file for a check no policy file declares does nothing: say so.
fn warn_unknown_overrides(state: &State, file: &std::path::Path) {
    for id in state.overrides.keys() {
        if !state.entries.contains_key(id) {
            tracing::warn!(
                check = id,
                file = %file.display(),
                "an override names a health check that no policy file declares; it has no effect"
            );
        }
    }
}

fn log_override_set(id: &str, o: &Override, by: &str) {
    tracing::info!(
        check = id,
        by,
        status = status_word(o.status),
        reason = o.reason,
        expires = rfc3339::format(o.expires),
        "override set"
    );
}

/// Probes one group every interval until aborted. The interval runs from one probe's
/// start to the next, shortened by up to 10% at random so groups drift apart; a probe
/// that outlasts the interval is followed at once by the next.
async fn run_group(
    engine: Weak<Engine>,
    key: String,
    generation: u64,
    prober: Result<Prober, String>,
    interval: Duration,
    delay: Duration,
    first: oneshot::Sender<()>,
) {
    let mut first = Some(first);
    let mut draw = Draw::from_entropy();
    let Some(limit) = engine.upgrade().map(|e| e.limit.clone()) else {
        return;
    };
    tokio::time::sleep(delay).await;
    loop {
        let started = Instant::now();
        let outcome = match &prober {
            Ok(p) => {
                let _permit = limit.acquire().await;
                p.probe().await
            }
            Err(e) => Outcome {
                healthy: false,
                reason: e.clone(),
                latency: Duration::ZERO,
            },
        };
        let Some(e) = engine.upgrade() else {
            return;
        };
        e.observe(&key, generation, outcome);
        drop(e);
        let period = match first.take() {
            Some(tx) => {
                let _ = tx.send(());
                // A first round probes everything at once; spread what follows over
                // an interval, or every round would be a burst.
                interval.mul_f64(draw.unit()) + Duration::from_millis(1)
            }
            None => interval.mul_f64(1.0 - 0.1 * draw.unit()),
        };
        let due = started + period;
        tokio::time::sleep_until(on_grid(due, started, interval).into()).await;
    }
}

/// The longest step of the grid that probes start on.
const GRID_STEP: Duration = Duration::from_millis(50);

/// `due`, moved back onto a grid of 1/20 of the interval (50 ms at most), unless that
/// is not after `started`. Probes due within one step of the grid then start together,
/// and the runtime wakes once for them, not once each: that halves what a probe costs
/// (benches/load.sh). Every interval of 1 s or more shares one grid. The interval
/// shrinks by a step at most, as the jitter already shortens it by up to 10%.
fn on_grid(due: Instant, started: Instant, interval: Duration) -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    let step = (interval / 20).min(GRID_STEP).as_millis().max(1);
    let Some(since) = due.checked_duration_since(epoch) else {
        return due;
    };
    let since = since.as_millis();
    let on_grid = epoch + Duration::from_millis((since - since % step) as u64);
    if on_grid > started {
        on_grid
    } else {
        due
    }
}

/// Re-evaluates and publishes after measured statuses flip, at most once per
/// `PUBLISH_GAP`: flips that land together are published together.
async fn publish_on_flip(e: Arc<Engine>) {
    loop {
        e.flipped.notified().await;
        {
            let mut state = e.lock();
            e.recompute(&mut state, "probe");
        }
        tokio::time::sleep(PUBLISH_GAP).await;
    }
}

/// Saves the measured statuses after each change, at most once per `SAVE_GAP`.
async fn write_state_on_change(e: Arc<Engine>) {
    let mut last_written = HashMap::new();
    loop {
        let notified = e.dirty.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let saved = e.saved();
        if saved != last_written {
            let path = e.state_file.clone();
            let to_write = saved.clone();
            let written = tokio::task::spawn_blocking(move || store::write_state(&path, &to_write))
                .await
                .unwrap_or_else(|j| Err(std::io::Error::other(j.to_string())));
            match written {
                Ok(()) => last_written = saved,
                Err(err) => {
                    tracing::warn!(
                        "cannot save health state to {}: {err}",
                        e.state_file.display()
                    )
                }
            }
            tokio::time::sleep(SAVE_GAP).await;
        }
        notified.await;
    }
}

/// Takes in edits of the overrides file and ends expired overrides.
async fn watch_overrides(engine: Arc<Engine>) {
    let looker = engine.clone();
    crate::watch::poll(
        move || looker.overrides_due(),
        || {
            let e = engine.clone();
            async move {
                let _ = tokio::task::spawn_blocking(move || e.tend_overrides()).await;
            }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_due_within_a_step_of_the_grid_start_together_and_never_late() {
        let started = Instant::now();
        let interval = Duration::from_secs(10);
        // 100 probes due over 693 ms, as jittered rounds of many checks would be.
        let dues: Vec<Instant> = (0..100)
            .map(|i| started + interval - Duration::from_millis(i * 7))
            .collect();
        let starts: Vec<Instant> = dues
            .iter()
            .map(|&d| on_grid(d, started, interval))
            .collect();
        for (&due, &start) in dues.iter().zip(&starts) {
            assert!(start <= due && due - start < GRID_STEP && start > started);
            let apart = start.max(starts[0]) - start.min(starts[0]);
            assert_eq!(apart.as_millis() % GRID_STEP.as_millis(), 0, "one grid");
        }
        let mut distinct = starts.clone();
        distinct.dedup();
        assert!(
            distinct.len() <= 15,
            "{} wake-ups for 100 probes",
            distinct.len()
        );

        // A short interval gets a fine grid; the first probe after start is never moved
        // back to before it.
        let short = Duration::from_millis(100);
        let due = started + Duration::from_millis(60);
        let start = on_grid(due, started, short);
        assert!(start <= due && due - start < Duration::from_millis(5));
        for micros in (1..20_000).step_by(997) {
            let soon = started + Duration::from_micros(micros);
            let start = on_grid(soon, started, interval);
            assert!(start > started && start <= soon);
        }
    }
}
