//! How much more memory the process may take before it fails. Rust aborts the process when
//! an allocation fails, so a reload that would not fit must stop before it gets there: the
//! zone readers ask [`room`] as they go, and give up (the zones in service keep serving)
//! while there is still room to give up in.
//!
//! The tightest of: the address-space limit (`ulimit -v`, `LimitAS=`) against the
//! process's virtual size, the cgroup's memory limit (`MemoryMax=`, v2 or v1) against
//! the cgroup's anonymous memory, and the memory the system has available.

use std::path::{Path, PathBuf};

/// What is left, and what limits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub bytes: u64,
    /// What sets it, for messages: "the address-space limit (3584 MiB)".
    pub limit: String,
}

/// The room left under the tightest limit, if any can be read.
pub fn room() -> Option<Room> {
    [address_space(), cgroup(), available()]
        .into_iter()
        .flatten()
        .min_by_key(|r| r.bytes)
}

fn mib(bytes: u64) -> u64 {
    bytes >> 20
}

/// `RLIMIT_AS` against the virtual size.
fn address_space() -> Option<Room> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into `lim`.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } != 0
        || lim.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().next()?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    let limit = lim.rlim_cur;
    Some(Room {
        bytes: limit.saturating_sub(pages * page),
        limit: format!("the address-space limit ({} MiB)", mib(limit)),
    })
}

/// The memory cgroup's limit against its anonymous memory (page cache is reclaimed
/// before the limit bites).
fn cgroup() -> Option<Room> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let path = path.trim_start_matches('/');
        let (dir, limit_file, used_key) = if id == "0" && controllers.is_empty() {
            (cgroup_dir("/sys/fs/cgroup", path), "memory.max", "anon")
        } else if controllers.split(',').any(|c| c == "memory") {
            (
                cgroup_dir("/sys/fs/cgroup/memory", path),
                "memory.limit_in_bytes",
                "total_rss",
            )
        } else {
            continue;
        };
        let limit: u64 = std::fs::read_to_string(dir.join(limit_file))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        // v1 writes "no limit" as the largest page-aligned i64.
        if limit >= 1 << 60 {
            return None;
        }
        let stat = std::fs::read_to_string(dir.join("memory.stat")).ok()?;
        let used: u64 = stat.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == used_key).then(|| v.trim().parse().ok())?
        })?;
        return Some(Room {
            bytes: limit.saturating_sub(used),
            limit: format!("the cgroup's memory limit ({} MiB)", mib(limit)),
        });
    }
    None
}

/// The cgroup's directory: where /proc/self/cgroup says, or the mount's root when the
/// cgroup namespace shows only our own (the path is then not below the mount).
fn cgroup_dir(mount: &str, path: &str) -> PathBuf {
    let dir = Path::new(mount).join(path);
    if dir.exists() {
        dir
    } else {
        PathBuf::from(mount)
    }
}

/// What the system says it can still give without swapping.
fn available() -> Option<Room> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = text.lines().find_map(|l| {
        let rest = l.strip_prefix("MemAvailable:")?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })?;
    Some(Room {
        bytes: kib << 10,
        limit: "the memory available on this machine".into(),
    })
}

/// Room for `needed` more bytes? The error says what is short, for a message that
/// goes on "…: the zones in service keep serving".
pub fn fits(needed: u64) -> Result<(), String> {
    match room() {
        Some(r) if r.bytes < needed => Err(format!(
            "reading stopped: {} MiB more would pass {}, with {} MiB left",
            mib(needed).max(1),
            r.limit,
            mib(r.bytes)
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn some_room_is_known_and_everything_does_not_fit() {
        let r = room().expect("/proc/meminfo is readable");
        assert!(r.bytes > 0);
        assert!(fits(1 << 20).is_ok());
        let e = fits(u64::MAX / 2).unwrap_err();
        assert!(
            e.contains("reading stopped") && e.contains("MiB left"),
            "{e}"
        );
    }
}
