//! Noticing that files changed: a stamp taken when a file is read, and one polling loop
//! for everything hadns watches (zone, policy and config files for reload; the overrides
//! file for the health engine).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How often watched files are looked at.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// A file's modification time, size, inode and change time as they were when it was
/// read. A different stamp later means the file changed since (or appeared, or went
/// away, or was replaced). The change time cannot be set back: a rewrite that keeps the
/// size and restores the modification time (`touch -r`, `cp -p`) still shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStamp {
    pub path: PathBuf,
    pub seen: Option<(SystemTime, u64, u64, (i64, i64))>,
}

impl FileStamp {
    pub fn of(path: &Path) -> Self {
        use std::os::unix::fs::MetadataExt;
        let seen = std::fs::metadata(path).ok().and_then(|m| {
            Some((
                m.modified().ok()?,
                m.len(),
                m.ino(),
                (m.ctime(), m.ctime_nsec()),
            ))
        });
        FileStamp {
            path: path.to_path_buf(),
            seen,
        }
    }

    pub fn is_current(&self) -> bool {
        *self == FileStamp::of(&self.path)
    }
}

/// Every `INTERVAL`, runs `look` off the async workers (it reads the file system) and,
/// when it says so, `act`. Runs until the task is dropped.
pub async fn poll<L, A, F>(look: L, mut act: A)
where
    L: Fn() -> bool + Clone + Send + 'static,
    A: FnMut() -> F,
    F: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if tokio::task::spawn_blocking(look.clone())
            .await
            .unwrap_or(false)
        {
            act().await;
        }
    }
}
