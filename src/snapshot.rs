//! What the query path answers from: a [`Snapshot`] of everything loaded with what
//! health decided for its policies, swapped whole (arc-swap) by [`Live`] on every reload
//! and every health change. Queries in flight keep the snapshot they started with.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::ArcSwap;
use hickory_proto::rr::{Name, RData, RecordType};

use crate::health::{Engine, HealthTable};
use crate::load::Content;
use crate::policy::select::ZoneChoices;
use crate::zone::RRset;

/// The content, and per zone what health decided for its policy groups and the SOA it
/// serves. Immutable.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Never the same for two snapshots (an address could be: a freed one's reused).
    pub id: u64,
    pub content: Arc<Content>,
    /// Indexed like `content.zones.zones`.
    pub choices: Vec<ZoneChoices>,
    /// Each zone's SOA as served: the file's, with the serial of [`Serials`] when zone
    /// transfers need one of their own.
    soas: Vec<RRset>,
    /// Recent versions of each zone's transferred view, for IXFR.
    pub journal: Journal,
}

/// Recent versions of what a transfer carries, by zone origin, oldest first: an IXFR
/// from one of their serials gets the difference.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    pub by_zone: HashMap<String, VecDeque<Version>>,
}

/// One version of a zone's transferred view, the SOA left out.
#[derive(Debug, Clone)]
pub struct Version {
    pub serial: u32,
    /// Sorted by `ViewRecord::sort_key`.
    pub records: Arc<Vec<ViewRecord>>,
}

/// One record of a transferred view.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewRecord {
    pub owner: Name,
    pub rtype: RecordType,
    pub ttl: u32,
    pub rdata: RData,
    /// Owner (lowercase wire), type and data bytes: the order versions are compared in.
    pub key: Box<[u8]>,
}

impl Journal {
    /// The records deleted and added since `serial` in zone `origin`, when that version
    /// is still held; None otherwise.
    pub fn since(&self, origin: &str, serial: u32) -> Option<(Vec<&ViewRecord>, Vec<&ViewRecord>)> {
        let versions = self.by_zone.get(origin)?;
        let old = versions.iter().find(|v| v.serial == serial)?;
        let new = versions.back()?;
        let (mut deleted, mut added) = (Vec::new(), Vec::new());
        let (mut a, mut b) = (old.records.iter().peekable(), new.records.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some(x), None) => {
                    deleted.push(*x);
                    a.next();
                }
                (None, Some(y)) => {
                    added.push(*y);
                    b.next();
                }
                (Some(x), Some(y)) => match x.key.cmp(&y.key) {
                    std::cmp::Ordering::Less => {
                        deleted.push(*x);
                        a.next();
                    }
                    std::cmp::Ordering::Greater => {
                        added.push(*y);
                        b.next();
                    }
                    std::cmp::Ordering::Equal => {
                        // The same record; a new TTL replaces it.
                        if x.ttl != y.ttl {
                            deleted.push(*x);
                            added.push(*y);
                        }
                        a.next();
                        b.next();
                    }
                },
            }
        }
        Some((deleted, added))
    }
}

impl Snapshot {
    pub fn new(content: Arc<Content>, health: &HealthTable) -> Self {
        let choices = content
            .policies
            .iter()
            .map(|p| ZoneChoices::new(&p.groups, |check| health.healthy(check)))
            .collect();
        let soas = content
            .zones
            .zones
            .iter()
            .map(|z| z.soa().clone())
            .collect();
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Snapshot {
            id: IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            content,
            choices,
            soas,
            journal: Journal::default(),
        }
    }

    /// The SOA zone `zone` serves.
    pub fn soa(&self, zone: usize) -> &RRset {
        &self.soas[zone]
    }

    /// The serial zone `zone` serves.
    pub fn serial(&self, zone: usize) -> u32 {
        match self.soas[zone].rdatas.first() {
            Some(RData::SOA(soa)) => soa.serial,
            _ => 0,
        }
    }

    /// Serves these serials, one per zone.
    pub fn set_serials(&mut self, serials: &[u32]) {
        for (set, &serial) in self.soas.iter_mut().zip(serials) {
            if let Some(RData::SOA(soa)) = set.rdatas.first_mut() {
                soa.serial = serial;
            }
        }
    }
}

/// Decides the serial each zone of a new snapshot serves (zone transfers need one that
/// moves forward whenever what a secondary would transfer changes) and the journal of
/// versions it answers IXFR from.
pub trait Serials: Send + Sync {
    fn decide(&self, next: &mut Snapshot);
    /// The snapshot last decided is in service: what it changed may now be announced
    /// (a secondary told earlier would ask before the new serial is served).
    fn in_service(&self);
}

impl std::ops::Deref for Snapshot {
    type Target = Content;
    fn deref(&self) -> &Content {
        &self.content
    }
}

/// The snapshot in service.
pub struct Live {
    current: ArcSwap<Snapshot>,
    /// Makes swaps one at a time, so none undoes a newer one.
    swapping: Mutex<()>,
    serials: OnceLock<Box<dyn Serials>>,
}

impl Live {
    pub fn new(snapshot: Snapshot) -> Arc<Self> {
        Arc::new(Live {
            current: ArcSwap::from_pointee(snapshot),
            swapping: Mutex::new(()),
            serials: OnceLock::new(),
        })
    }

    /// From the next swap on, every snapshot serves the serials `serials` decides.
    pub fn decide_serials_by(&self, serials: Box<dyn Serials>) {
        let _ = self.serials.set(serials);
    }

    /// The snapshot to answer from now.
    pub fn load(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// Serves `content` (or the current content) with choices made from `health`,
    /// which is read under the swap lock: the latest health always wins.
    pub fn swap(&self, content: Option<Arc<Content>>, health: impl FnOnce() -> HealthTable) {
        let _one_at_a_time = self.swapping.lock().unwrap_or_else(|p| p.into_inner());
        let content = content.unwrap_or_else(|| self.current.load().content.clone());
        let mut next = Snapshot::new(content, &health());
        let serials = self.serials.get();
        if let Some(serials) = serials {
            serials.decide(&mut next);
        }
        self.current.store(Arc::new(next));
        if let Some(serials) = serials {
            serials.in_service();
        }
    }
}

/// Makes a new snapshot on every health change.
pub async fn follow_health(live: Arc<Live>, engine: Arc<Engine>) {
    let mut changes = engine.subscribe();
    while changes.changed().await.is_ok() {
        let (live, engine) = (live.clone(), engine.clone());
        // Deciding walks every policy group: keep it off the async workers.
        let _ = tokio::task::spawn_blocking(move || live.swap(None, || engine.table())).await;
    }
}
