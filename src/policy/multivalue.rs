//! Multivalue answer (reference §2.7): up to eight healthy sets at random, each set's
//! values merged into one RRset; nothing healthy, up to eight of all.

use hickory_proto::rr::RecordType;

use super::select::{Choice, Decided, Picks};
use super::{PolicyGroup, Routing, SetData};
use crate::draw::Draw;

pub const NAME: &str = "multivalue";
pub const FIELD: &str = "multivalue";
/// Multivalue answers carry at most this many sets.
pub const MAX: usize = 8;

pub fn read(value: &toml::Value) -> Result<Routing, String> {
    match value.as_bool() {
        Some(true) => Ok(Routing::Multivalue),
        Some(false) => {
            Err("multivalue = false is no policy; leave the record in the zone file".into())
        }
        None => Err(format!(
            "multivalue must be true, not {}",
            super::shown(value)
        )),
    }
}

pub fn check(g: &PolicyGroup, problems: &mut Vec<(usize, String)>) {
    for s in &g.sets {
        if matches!(s.data, SetData::Alias { .. }) {
            problems.push((s.line, "multivalue records cannot be aliases".into()));
        }
        if g.rtype == RecordType::CNAME {
            problems.push((s.line, "multivalue records cannot be CNAME".into()));
        }
    }
}

pub fn decide(g: &PolicyGroup, healthy: &[bool]) -> Decided {
    let up: Vec<usize> = (0..g.sets.len()).filter(|&i| healthy[i]).collect();
    if up.is_empty() {
        Decided {
            choice: Choice::Subset((0..g.sets.len()).collect()),
            rule: "no set is healthy: up to eight of all, at random (last resort)",
            last_resort: true,
        }
    } else {
        Decided {
            choice: Choice::Subset(up),
            rule: "up to eight healthy sets, at random",
            last_resort: false,
        }
    }
}

/// The per-query subset: all of a pool of eight or fewer; else Floyd's sampling, a
/// uniform subset of eight in eight draws, kept in declaration order (the subset is the
/// draw, so there are only as many distinct answers as subsets, each cached once).
pub fn sample(pool: &[usize], draw: &mut Draw) -> Picks {
    let mut picks = Picks::NONE;
    if pool.len() <= MAX {
        pool.iter().for_each(|&i| picks.push(i));
        return picks;
    }
    let n = pool.len();
    for j in n - MAX..n {
        let t = pool[draw.below(j as u64 + 1) as usize];
        picks.push(if picks.as_slice().contains(&t) {
            pool[j]
        } else {
            t
        });
    }
    picks.sort();
    picks
}

pub fn describe() -> String {
    "multivalue".into()
}
