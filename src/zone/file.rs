//! Reading what claims to be a zone or policy file, carefully: only a regular file (a
//! FIFO would block the reload, a device never end), at most `limit` bytes, and an
//! `$INCLUDE` only of a file inside the zones directory (whoever writes zone files must
//! not read the rest of the machine through the server, nor see it quoted in errors).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How zone and policy files are read.
#[derive(Debug, Clone)]
pub struct Reading {
    /// The zones directory, canonical: includes must resolve inside it.
    pub root: PathBuf,
    /// The largest file read, in bytes.
    pub limit: u64,
    /// Marked as reading moves on.
    pub progress: Arc<Progress>,
}

/// When reading last moved on, and in which file: a read that stops moving (a hung
/// network file system) can be given up by whoever waits for it.
#[derive(Debug, Default)]
pub struct Progress {
    last: Mutex<Option<(Instant, PathBuf)>>,
}

impl Progress {
    pub fn mark(&self, path: &Path) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *last {
            Some((at, p)) if p == path => *at = Instant::now(),
            _ => *last = Some((Instant::now(), path.to_path_buf())),
        }
    }

    /// The file being read, if reading has not moved on for `bound`.
    pub fn stalled(&self, bound: Duration) -> Option<PathBuf> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        match &*last {
            Some((at, path)) if at.elapsed() >= bound => Some(path.clone()),
            _ => None,
        }
    }
}

/// Bytes read between two marks of progress.
const CHUNK: usize = 1 << 20;

impl Reading {
    pub fn new(zones_dir: &Path, limit: u64) -> Reading {
        Reading {
            root: zones_dir
                .canonicalize()
                .unwrap_or_else(|_| zones_dir.to_path_buf()),
            limit,
            progress: Arc::default(),
        }
    }

    /// As [`Reading::new`], marking `progress` as it reads.
    pub fn watched(zones_dir: &Path, limit: u64, progress: Arc<Progress>) -> Reading {
        Reading {
            progress,
            ..Reading::new(zones_dir, limit)
        }
    }

    /// The text of a zone or policy file.
    pub fn read(&self, path: &Path) -> Result<String, String> {
        self.progress.mark(path);
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
        if !meta.is_file() {
            return Err(
                "not a regular file (a FIFO, device or directory): zone and policy files must be regular files".into(),
            );
        }
        if meta.len() > self.limit {
            return Err(self.too_large(meta.len()));
        }
        let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        // Bounded even if it grows while read; in chunks, each a sign of progress.
        let mut file = file.take(self.limit + 1);
        loop {
            let n = (&mut file)
                .take(CHUNK as u64)
                .read_to_end(&mut bytes)
                .map_err(|e| format!("cannot read: {e}"))?;
            self.progress.mark(path);
            if n == 0 {
                break;
            }
        }
        if bytes.len() as u64 > self.limit {
            return Err(self.too_large(bytes.len() as u64));
        }
        String::from_utf8(bytes).map_err(|e| {
            format!(
                "not UTF-8 text (at byte {}): not a zone file",
                e.utf8_error().valid_up_to()
            )
        })
    }

    /// The file an `$INCLUDE` names, if it is inside the zones directory; the error says
    /// why not.
    pub fn include(&self, target: &Path) -> Result<PathBuf, String> {
        let real = target.canonicalize().map_err(|e| e.to_string())?;
        if !real.starts_with(&self.root) {
            return Err(format!(
                "outside the zones directory {}; only files inside it may be included",
                self.root.display()
            ));
        }
        Ok(real)
    }

    fn too_large(&self, size: u64) -> String {
        format!(
            "{size} bytes, more than [server] max_zone_file_size ({} bytes)",
            self.limit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_small_regular_file_inside() {
        let dir = tempfile::tempdir().unwrap();
        let zones = dir.path().join("zones");
        std::fs::create_dir(&zones).unwrap();
        std::fs::write(zones.join("a.zone"), "x").unwrap();
        std::fs::write(dir.path().join("secret"), "y").unwrap();
        let r = Reading::new(&zones, 4);
        assert_eq!(r.read(&zones.join("a.zone")).unwrap(), "x");
        std::fs::write(zones.join("big.zone"), "12345").unwrap();
        assert!(r
            .read(&zones.join("big.zone"))
            .unwrap_err()
            .contains("max_zone_file_size"));
        assert!(r
            .read(Path::new("/dev/zero"))
            .unwrap_err()
            .contains("regular"));
        assert!(r.read(&zones).unwrap_err().contains("regular"));
        assert!(r.include(&zones.join("a.zone")).is_ok());
        assert!(r
            .include(&zones.join("../secret"))
            .unwrap_err()
            .contains("outside"));
        assert!(r
            .include(Path::new("/etc/passwd"))
            .unwrap_err()
            .contains("outside"));
        std::os::unix::fs::symlink(dir.path().join("secret"), zones.join("link")).unwrap();
        assert!(r
            .include(&zones.join("link"))
            .unwrap_err()
            .contains("outside"));
    }
}
