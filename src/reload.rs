//! Reloading: on SIGHUP or a change in the zone files, read again what changed, check
//! everything and swap it in whole. Anything invalid leaves the serving zones untouched.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::diag::Diagnostic;
use crate::health::Engine;
use crate::load::{load_keeping, release_freed_memory, Content};
use crate::metrics;
use crate::snapshot::Live;
use crate::watch::{self, FileStamp};
use crate::zone::file::Progress;

pub struct Reloader {
    config_path: PathBuf,
    /// The config the server started with; listen addresses etc. need a restart.
    started_with: Config,
    live: Arc<Live>,
    engine: Arc<Engine>,
    /// The files the last load read (successful or not), as they were then.
    watched: Mutex<Vec<FileStamp>>,
    /// Makes reloads one at a time.
    reloading: tokio::sync::Mutex<()>,
    /// Since a change was seen: the files as they were last looked at, and since when
    /// they have been so.
    settling: Mutex<Option<(Vec<FileStamp>, Instant)>>,
}

/// A changed file is read once it has stayed unchanged this long (files written in
/// place are truncated, then filled: read in between, names that exist before and after
/// would be answered NXDOMAIN). SIGHUP and the API read the files as they are.
pub const QUIET: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct Reloaded {
    pub zones: usize,
    /// Zones read again (their files changed); the others were kept as they were.
    pub read: usize,
    pub records: usize,
}

impl Reloader {
    /// `watched`: the stamps of the files the running zones were loaded from.
    pub fn new(
        config_path: PathBuf,
        started_with: Config,
        live: Arc<Live>,
        engine: Arc<Engine>,
        watched: Vec<FileStamp>,
    ) -> Self {
        Reloader {
            config_path,
            started_with,
            live,
            engine,
            watched: Mutex::new(watched),
            reloading: tokio::sync::Mutex::new(()),
            settling: Mutex::new(None),
        }
    }

    /// Reads again every zone whose files changed (the config, if it changed, and the
    /// client data) and, if it is all valid, swaps it in: new health checks
    /// get their first round first, and checks whose definition did not change keep
    /// their state.
    pub async fn reload(self: &Arc<Self>, trigger: &str) -> Result<Reloaded, Vec<Diagnostic>> {
        let _one_at_a_time = self.reloading.lock().await;
        let me = self.clone();
        let progress = Arc::new(Progress::default());
        progress.mark(&self.config_path);
        let marks = progress.clone();
        let task = tokio::task::spawn_blocking(move || me.read_all(&marks));
        let read = match finish_or_stall(task, &progress, READ_STALL).await {
            Ok(Ok(read)) => read,
            Ok(Err(e)) => Err(vec![Diagnostic::error(
                &self.config_path,
                1,
                format!("reload failed: {e}"),
            )]),
            Err(path) => Err(vec![Diagnostic::error(
                &path,
                1,
                format!(
                    "reading made no progress for {} s (a hung file system?): this reload is given up",
                    READ_STALL.as_secs()
                ),
            )]),
        };
        let content = match read {
            Ok(content) => Arc::new(content),
            Err(errors) => return Err(self.rejected(trigger, errors)),
        };
        self.engine.configure(content.checks.clone()).await;
        let done = Reloaded {
            zones: content.zones.zones.len(),
            read: content.zones_read,
            records: content.zones.record_count(),
        };
        self.live.swap(Some(content), || self.engine.table());
        // What the reload replaced is freed by now, unless a query still holds it.
        let _ = tokio::task::spawn_blocking(release_freed_memory).await;
        metrics::reload_done(true);
        tracing::info!(
            trigger,
            zones = done.zones,
            read = done.read,
            records = done.records,
            "zones reloaded"
        );
        Ok(done)
    }

    /// The config and everything it names, validated; records what was read.
    fn read_all(&self, progress: &Arc<Progress>) -> Result<Content, Vec<Diagnostic>> {
        // Held while loading: the watcher looks again later rather than see half-updated
        // stamps.
        let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        // Zones whose files did not change are kept, not read again.
        let serving = self.live.load().content.clone();
        let loaded = load_keeping(&self.config_path, Some(&serving), progress);
        drop(serving);
        *watched = loaded.files;
        drop(watched);
        for w in loaded.diags.warnings() {
            tracing::warn!("{w}");
        }
        let (Some(config), Some(content)) = (loaded.config, loaded.content) else {
            return Err(loaded.diags.errors().cloned().collect());
        };
        let was = &self.started_with;
        if config.server.listen != was.server.listen
            || config.server.nsid != was.server.nsid
            || config.http != was.http
            || config.health != was.health
            || config.cluster != was.cluster
        {
            tracing::warn!(
                "changes to [server] (other than zones_dir), [http], [health] and [cluster] take effect at the next restart"
            );
        }
        Ok(content)
    }

    fn rejected(&self, trigger: &str, errors: Vec<Diagnostic>) -> Vec<Diagnostic> {
        // What the refused read took goes back (a limit on address space counts it).
        release_freed_memory();
        metrics::reload_done(false);
        for e in &errors {
            tracing::error!("{e}");
        }
        tracing::error!(
            trigger,
            errors = errors.len(),
            "reload rejected; the zones already loaded stay in service"
        );
        errors
    }

    /// How long until the signed zones must be signed again (zero: now); None when
    /// nothing is signed.
    fn until_resign(&self) -> Option<Duration> {
        let content = self.live.load().content.clone();
        let dnssec = content.dnssec.as_ref()?;
        let signed_at = content.signed_at?;
        let now = crate::dnssec::key::unix_now();
        let validity = dnssec.signature_validity.as_secs();
        let mut due = signed_at + validity * 3 / 4;
        for key in content.keys.iter().flatten() {
            let t = key.timing;
            for at in [t.publish, t.activate, t.inactive, t.delete]
                .into_iter()
                .flatten()
            {
                if at > signed_at {
                    due = due.min(at);
                }
            }
        }
        Some(Duration::from_secs(due.saturating_sub(now)))
    }

    /// True when a file the last load read has changed since, and every file it read
    /// (and every file in the zones directory, where a new zone may be being written)
    /// has then stayed as it is for `QUIET`: a file is not read while it is written.
    pub fn files_settled(&self) -> bool {
        // A load in progress holds them (and may hang on a hung file system): look later.
        let watched = match self.watched.try_lock() {
            Ok(w) => w,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return false,
        };
        let mut settling = self.settling.lock().unwrap_or_else(|p| p.into_inner());
        if watched.iter().all(|s| s.is_current()) {
            *settling = None;
            return false;
        }
        let dir = &self.started_with.server.zones_dir;
        let listed = std::fs::read_dir(dir)
            .map(|entries| {
                let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
                paths.sort();
                paths
            })
            .unwrap_or_default();
        let now: Vec<FileStamp> = watched
            .iter()
            .map(|s| FileStamp::of(&s.path))
            .chain(listed.iter().map(|p| FileStamp::of(p)))
            .collect();
        match &*settling {
            Some((stamps, since)) if *stamps == now => since.elapsed() >= QUIET,
            _ => {
                *settling = Some((now, Instant::now()));
                false
            }
        }
    }
}

/// A reload whose reading has not moved on for this long is given up (the thread stuck
/// in a hung file system stays so; the next reload tries again).
pub const READ_STALL: Duration = Duration::from_secs(60);

/// What `task` returns, or the file it was reading when `progress` stopped moving for
/// `bound`.
async fn finish_or_stall<T>(
    mut task: tokio::task::JoinHandle<T>,
    progress: &Progress,
    bound: Duration,
) -> Result<Result<T, tokio::task::JoinError>, PathBuf> {
    let look = (bound / 4).min(Duration::from_secs(1));
    loop {
        tokio::select! {
            done = &mut task => return Ok(done),
            _ = tokio::time::sleep(look) => {
                if let Some(path) = progress.stalled(bound) {
                    return Err(path);
                }
            }
        }
    }
}

/// Signed zones are signed at load: loads them again before their signatures reach a
/// quarter of their validity from expiring, and when a key's timing (Publish, Activate,
/// Inactive, Delete) says the keys in use change. Runs until the task is dropped.
pub async fn resign_in_time(reloader: Arc<Reloader>) {
    loop {
        let wait = reloader.until_resign();
        let Some(wait) = wait else {
            // Nothing signed now: look again after a while (a reload may add keys).
            tokio::time::sleep(Duration::from_secs(3600)).await;
            continue;
        };
        tokio::time::sleep(wait).await;
        if reloader.until_resign().is_some_and(|w| w.is_zero())
            && reloader.reload("signatures refreshed").await.is_err()
        {
            // The files do not load (the error is logged): try again in a minute, while
            // the signatures in service are still valid.
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    }
}

/// Reloads on every SIGHUP received through `hup`.
pub async fn on_sighup(reloader: Arc<Reloader>, mut hup: tokio::signal::unix::Signal) {
    while hup.recv().await.is_some() {
        let _ = reloader.reload("SIGHUP").await;
    }
}

/// Reloads when a file the last load read changes.
pub async fn on_file_change(reloader: Arc<Reloader>) {
    let looker = reloader.clone();
    watch::poll(
        move || looker.files_settled(),
        || {
            let r = reloader.clone();
            async move {
                let _ = r.reload("file change").await;
            }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A read stuck for good (as in a hung NFS mount) is given up once it has not moved
    /// on for the bound, naming the file; one that keeps moving is waited for.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_that_stops_moving_is_given_up() {
        let progress = Arc::new(Progress::default());
        progress.mark(Path::new("zones/stuck.zone"));
        let (release, stuck) = std::sync::mpsc::channel::<()>();
        let task = tokio::task::spawn_blocking(move || stuck.recv().is_ok());
        let bound = Duration::from_millis(200);
        let given_up = finish_or_stall(task, &progress, bound).await;
        assert_eq!(given_up.unwrap_err(), Path::new("zones/stuck.zone"));
        drop(release);

        let marks = progress.clone();
        let task = tokio::task::spawn_blocking(move || {
            let start = std::time::Instant::now();
            while start.elapsed() < bound * 3 {
                marks.mark(Path::new("zones/slow.zone"));
                std::thread::sleep(bound / 10);
            }
            7
        });
        assert_eq!(
            finish_or_stall(task, &progress, bound)
                .await
                .unwrap()
                .unwrap(),
            7
        );
    }
}
