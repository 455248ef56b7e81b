//! What the query path answers from: a [`Snapshot`] of everything loaded with what
//! health decided for its policies, swapped whole (arc-swap) by [`Live`] on every reload
//! and every health change. Queries in flight keep the snapshot they started with.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::health::{Engine, HealthTable};
use crate::load::Content;
use crate::policy::select::ZoneChoices;

/// The content, and per zone what health decided for its policy groups. Immutable.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub content: Arc<Content>,
    /// Indexed like `content.zones.zones`.
    pub choices: Vec<ZoneChoices>,
}

impl Snapshot {
    pub fn new(content: Arc<Content>, health: &HealthTable) -> Self {
        let choices = content
            .policies
            .iter()
            .map(|p| ZoneChoices::new(&p.groups, |check| health.healthy(check)))
            .collect();
        Snapshot { content, choices }
    }
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
}

impl Live {
    pub fn new(snapshot: Snapshot) -> Arc<Self> {
        Arc::new(Live {
            current: ArcSwap::from_pointee(snapshot),
            swapping: Mutex::new(()),
        })
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
        self.current
            .store(Arc::new(Snapshot::new(content, &health())));
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
