//! Reloading: on SIGHUP or a change in the zone files, read and check everything again
//! and swap it in whole. Anything invalid leaves the serving zones untouched.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::config::Config;
use crate::diag::Diagnostic;
use crate::server::Shared;
use crate::zone::{load::zone_files, load_zones};

/// How often the zone files are looked at for changes.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

pub struct Reloader {
    config_path: PathBuf,
    /// The config the server started with; listen addresses etc. need a restart.
    started_with: Config,
    shared: Arc<Shared>,
    /// One reload at a time; holds the fingerprint of the files last loaded.
    state: Mutex<Fingerprint>,
}

/// Modification time and size of every file the zones were read from, and of the
/// directory itself (which changes when a file is added, removed or renamed).
type Fingerprint = Vec<(PathBuf, Option<(SystemTime, u64)>)>;

#[derive(Debug)]
pub struct Reloaded {
    pub zones: usize,
    pub records: usize,
}

impl Reloader {
    pub fn new(config_path: PathBuf, started_with: Config, shared: Arc<Shared>) -> Self {
        let files = shared.zones.load().files.clone();
        let fp = fingerprint(&config_path, &started_with.server.zones_dir, &files);
        Reloader {
            config_path,
            started_with,
            shared,
            state: Mutex::new(fp),
        }
    }

    /// Reads everything again and swaps it in if it is all valid.
    pub fn reload(&self, trigger: &str) -> Result<Reloaded, Vec<Diagnostic>> {
        let mut last = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let config = Config::load(&self.config_path).map_err(|d| vec![d])?;
        // Taken before reading, so a write during the load is seen by the next poll.
        let before = fingerprint(
            &self.config_path,
            &config.server.zones_dir,
            &self.shared.zones.load().files,
        );
        let (set, diags) = load_zones(&config.server.zones_dir);
        for w in diags.warnings() {
            tracing::warn!("{w}");
        }
        let Some(set) = set else {
            *last = before;
            let errors: Vec<Diagnostic> = diags.errors().cloned().collect();
            for e in &errors {
                tracing::error!("{e}");
            }
            tracing::error!(
                trigger,
                errors = errors.len(),
                "reload rejected; the zones already loaded stay in service"
            );
            return Err(errors);
        };
        if config.server.listen != self.started_with.server.listen
            || config.server.nsid != self.started_with.server.nsid
        {
            tracing::warn!(
                "changes to [server] other than zones_dir take effect at the next restart"
            );
        }
        let done = Reloaded {
            zones: set.zones.len(),
            records: set.record_count(),
        };
        *last = fingerprint(&self.config_path, &config.server.zones_dir, &set.files);
        self.shared.zones.store(Arc::new(set));
        tracing::info!(
            trigger,
            zones = done.zones,
            records = done.records,
            "zones reloaded"
        );
        Ok(done)
    }

    /// True when a zone file, the zones directory or the config changed since the last load.
    pub fn files_changed(&self) -> bool {
        let last = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let dir = zones_dir_of(&self.config_path)
            .unwrap_or_else(|| self.started_with.server.zones_dir.clone());
        *last != fingerprint(&self.config_path, &dir, &self.shared.zones.load().files)
    }
}

fn zones_dir_of(config_path: &Path) -> Option<PathBuf> {
    Config::load(config_path).ok().map(|c| c.server.zones_dir)
}

fn fingerprint(config: &Path, zones_dir: &Path, loaded: &[PathBuf]) -> Fingerprint {
    let mut paths: Vec<PathBuf> = vec![config.to_path_buf(), zones_dir.to_path_buf()];
    paths.extend(zone_files(zones_dir).unwrap_or_default());
    paths.extend(loaded.iter().cloned());
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            (p, meta)
        })
        .collect()
}

/// Reloads on every SIGHUP.
pub async fn on_sighup(reloader: Arc<Reloader>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::error!("cannot listen for SIGHUP; reload by file change only");
        return;
    };
    while hup.recv().await.is_some() {
        let r = reloader.clone();
        let _ = tokio::task::spawn_blocking(move || r.reload("SIGHUP")).await;
    }
}

/// Reloads when the zone files change.
pub async fn on_file_change(reloader: Arc<Reloader>) {
    let mut tick = tokio::time::interval(WATCH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let r = reloader.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if r.files_changed() {
                let _ = r.reload("file change");
            }
        })
        .await;
    }
}
