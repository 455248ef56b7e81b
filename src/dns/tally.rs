//! Counting on the query path without contention: a worker adds to a few tallies of its
//! own and hands them to the shared counters (one atomic add per counter touched) when
//! its batch of queries is done, or when it has more kinds of count than it keeps.

use std::sync::Arc;

use crate::metrics::ZoneQueries;
use crate::snapshot::Snapshot;

/// Kinds of count a worker keeps before it must flush.
const KEPT: usize = 16;
/// The zone index that stands for "no zone served here".
const NO_ZONE: u32 = u32::MAX;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Count {
    /// Queries of a zone, in one cell (`ZoneQueries::cell`).
    Queries { zone: u32, cell: u32 },
    /// Answers from a policy record set.
    Answers { zone: u32, group: u32, set: u32 },
}

/// One worker's counts not yet handed over, all made against one snapshot (the indexes
/// are into its zones).
#[derive(Default)]
pub struct Tally {
    snapshot: Option<Arc<Snapshot>>,
    counts: [Option<(Count, u64)>; KEPT],
    n: usize,
}

impl Tally {
    /// One query of `zone` (None: no zone served here) in counter `cell`.
    pub fn query(&mut self, snapshot: &Arc<Snapshot>, zone: Option<usize>, cell: usize) {
        let zone = zone.map_or(NO_ZONE, |z| z as u32);
        self.add(
            snapshot,
            Count::Queries {
                zone,
                cell: cell as u32,
            },
        );
    }

    /// One answer from each of these (group, set) policy sets of `zone`.
    pub fn answers(&mut self, snapshot: &Arc<Snapshot>, zone: usize, sets: &[(usize, usize)]) {
        for &(group, set) in sets {
            let count = Count::Answers {
                zone: zone as u32,
                group: group as u32,
                set: set as u32,
            };
            self.add(snapshot, count);
        }
    }

    fn add(&mut self, snapshot: &Arc<Snapshot>, count: Count) {
        if !self
            .snapshot
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, snapshot))
        {
            self.flush();
        }
        let kept = &mut self.counts[..self.n];
        if let Some((_, n)) = kept.iter_mut().flatten().find(|(c, _)| *c == count) {
            *n += 1;
            return;
        }
        if self.n == KEPT {
            self.flush();
        }
        if self.snapshot.is_none() {
            self.snapshot = Some(snapshot.clone());
        }
        self.counts[self.n] = Some((count, 1));
        self.n += 1;
    }

    /// Hands every count to the shared counters, and lets go of the snapshot (a
    /// worker that falls idle must not keep one that a reload replaced).
    pub fn flush(&mut self) {
        let Some(snapshot) = self.snapshot.take() else {
            return;
        };
        for (count, n) in self.counts[..self.n].iter_mut().filter_map(Option::take) {
            match count {
                Count::Queries { zone, cell } => {
                    let queries = match zone {
                        NO_ZONE => ZoneQueries::other(),
                        z => &snapshot.metrics[z as usize].queries,
                    };
                    queries.add(cell as usize, n);
                }
                Count::Answers { zone, group, set } => {
                    snapshot.metrics[zone as usize].answers[group as usize][set as usize]
                        .increment(n);
                }
            }
        }
        self.n = 0;
    }
}
