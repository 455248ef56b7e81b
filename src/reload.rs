//! Reloading: on SIGHUP or a change in the zone files, read and check everything again
//! and swap it in whole. Anything invalid leaves the serving zones untouched.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::Config;
use crate::diag::Diagnostic;
use crate::load::load;
use crate::server::Shared;
use crate::zone::FileStamp;

/// How often the zone files are looked at for changes.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

pub struct Reloader {
    config_path: PathBuf,
    /// The config the server started with; listen addresses etc. need a restart.
    started_with: Config,
    shared: Arc<Shared>,
    /// The files the last load read (successful or not), as they were then. Also the
    /// lock that makes reloads one at a time.
    watched: Mutex<Vec<FileStamp>>,
}

#[derive(Debug)]
pub struct Reloaded {
    pub zones: usize,
    pub records: usize,
}

impl Reloader {
    /// `watched`: the stamps of the files the running zones were loaded from.
    pub fn new(
        config_path: PathBuf,
        started_with: Config,
        shared: Arc<Shared>,
        watched: Vec<FileStamp>,
    ) -> Self {
        Reloader {
            config_path,
            started_with,
            shared,
            watched: Mutex::new(watched),
        }
    }

    /// Reads everything again and swaps it in if it is all valid.
    pub fn reload(&self, trigger: &str) -> Result<Reloaded, Vec<Diagnostic>> {
        let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        let config_stamp = FileStamp::of(&self.config_path);
        let result = Config::load(&self.config_path).map_err(|d| vec![d]);
        let config = match result {
            Ok(c) => c,
            Err(errors) => {
                // Nothing more is read until the config itself changes.
                *watched = vec![config_stamp];
                return Err(self.rejected(trigger, errors));
            }
        };
        let loaded = load(&config);
        *watched = std::iter::once(config_stamp).chain(loaded.files).collect();
        for w in loaded.diags.warnings() {
            tracing::warn!("{w}");
        }
        let Some(data) = loaded.data else {
            return Err(self.rejected(trigger, loaded.diags.errors().cloned().collect()));
        };
        if config.server.listen != self.started_with.server.listen
            || config.server.nsid != self.started_with.server.nsid
        {
            tracing::warn!(
                "changes to [server] other than zones_dir take effect at the next restart"
            );
        }
        let done = Reloaded {
            zones: data.zones.zones.len(),
            records: data.zones.record_count(),
        };
        self.shared.data.store(Arc::new(data));
        tracing::info!(
            trigger,
            zones = done.zones,
            records = done.records,
            "zones reloaded"
        );
        Ok(done)
    }

    fn rejected(&self, trigger: &str, errors: Vec<Diagnostic>) -> Vec<Diagnostic> {
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

    /// True when any file the last load read has changed since it was read.
    pub fn files_changed(&self) -> bool {
        let watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        watched.iter().any(|s| !s.is_current())
    }
}

/// Reloads on every SIGHUP received through `hup`.
pub async fn on_sighup(reloader: Arc<Reloader>, mut hup: tokio::signal::unix::Signal) {
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
