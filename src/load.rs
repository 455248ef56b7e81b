//! Loading everything a server serves, from its config file: the config, the zone files
//! and the policy file beside each (`<origin>.zone` + `<origin>.toml`), and where
//! clients are. The one path of `serve`, `check` and reload, so that all three accept
//! and refuse exactly the same data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::metrics::Counter;
use hickory_proto::rr::Name;

use crate::client::geoip::GeoDb;
use crate::client::latency::LatencyTable;
use crate::client::Locator;
use crate::config::Config;
use crate::config::DnssecConfig;
use crate::diag::{Diagnostic, Diagnostics};
use crate::dnssec::key::Key;
use crate::dnssec::zone::{sign_zone, SignedZone, Signing};
use crate::health::HealthCheck;
use crate::metrics::{self, ZoneQueries};
use crate::policy::file::{read_policy_file, referenced_names, Context};
use crate::policy::ZonePolicies;
use crate::watch::FileStamp;
use crate::zone::file::{Progress, Reading};
use crate::zone::{load_zones, Kept, ZoneSet};

/// Everything loaded from files, valid as a whole; immutable until the next reload.
#[derive(Debug, Default)]
pub struct Content {
    pub zones: ZoneSet,
    /// Indexed like `zones.zones`; empty for a zone without a policy file.
    pub policies: Vec<ZonePolicies>,
    /// Every health check of every policy file, once per id.
    pub checks: Vec<HealthCheck>,
    /// Where clients are.
    pub locator: Locator,
    /// Indexed like `zones.zones`.
    pub metrics: Vec<ZoneMetrics>,
    /// Each zone's origin and a hash of its zone file and policy file as read: what the
    /// nodes of a cluster compare.
    pub digests: Vec<(String, String)>,
    /// The config file as it was read.
    pub config_read: Option<FileStamp>,
    /// Indexed like `zones.zones`: every file the zone was read from (the zone file, its
    /// includes, the policy file beside it), stamped before reading. A reload reads a
    /// zone again only when one of them changed.
    pub read: Vec<Vec<FileStamp>>,
    /// How many zones this load read; the others were kept from the previous load.
    pub zones_read: usize,
    /// Indexed like `zones.zones`: the zone's DNSSEC keys (none: not signed).
    pub keys: Vec<Vec<Key>>,
    /// Indexed like `zones.zones` (or empty): what signing added to each signed zone.
    pub signed: Vec<Option<SignedZone>>,
    /// How zones are signed, when any is.
    pub dnssec: Option<DnssecConfig>,
    /// When the signed zones were signed (seconds since the epoch); None: none is.
    pub signed_at: Option<u64>,
}

/// The counters of one zone: its queries, and the answers of each policy record set
/// (indexed by group, then set).
pub struct ZoneMetrics {
    pub queries: ZoneQueries,
    pub answers: Vec<Vec<Counter>>,
}

impl std::fmt::Debug for ZoneMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoneMetrics")
            .field("queries", &self.queries)
            .finish_non_exhaustive()
    }
}

impl ZoneMetrics {
    fn new(origin: &Name, policies: &ZonePolicies) -> Self {
        let zone = origin.to_string();
        let answers = policies
            .groups
            .iter()
            .map(|g| {
                let (name, rtype) = (g.name.to_string(), g.rtype.to_string());
                g.sets
                    .iter()
                    .map(|s| metrics::answer_counter(&zone, &name, &rtype, &s.set_id))
                    .collect()
            })
            .collect();
        ZoneMetrics {
            queries: ZoneQueries::new(&zone),
            answers,
        }
    }
}

/// A zone's policies as read: attached to the zone's names now, or kept with a zone
/// kept from the previous load (and attached to it then).
pub struct ReadPolicies {
    pub origin: Name,
    pub policies: ZonePolicies,
    pub kept: bool,
}

impl Content {
    /// Zones with their policy groups attached to the names they answer for.
    pub fn new(mut zones: ZoneSet, mut by_origin: Vec<ReadPolicies>, locator: Locator) -> Self {
        let policies: Vec<ZonePolicies> = zones
            .zones
            .iter_mut()
            .map(|zone| {
                let Some(at) = by_origin.iter().position(|p| p.origin == zone.origin) else {
                    return ZonePolicies::default();
                };
                let read = by_origin.swap_remove(at);
                if !read.kept {
                    let zone = Arc::get_mut(zone).expect("a zone read now is not shared yet");
                    for (i, g) in read.policies.groups.iter().enumerate() {
                        zone.add_dynamic(&g.name, g.rtype, i as u32);
                    }
                }
                read.policies
            })
            .collect();
        let mut ids = std::collections::HashSet::new();
        let checks: Vec<HealthCheck> = policies
            .iter()
            .flat_map(|p| &p.health_checks)
            .filter(|c| ids.insert(c.id.clone()))
            .cloned()
            .collect();
        let metrics = zones
            .zones
            .iter()
            .zip(&policies)
            .map(|(z, p)| ZoneMetrics::new(&z.origin, p))
            .collect();
        Content {
            zones,
            policies,
            checks,
            locator,
            metrics,
            digests: Vec::new(),
            config_read: None,
            read: Vec::new(),
            zones_read: 0,
            keys: Vec::new(),
            signed: Vec::new(),
            dnssec: None,
            signed_at: None,
        }
    }

    /// Signs each zone that has keys: its static data once, now (see `dnssec::zone`).
    fn sign(&mut self) {
        let Some(dnssec) = &self.dnssec else {
            return;
        };
        let now = crate::dnssec::key::unix_now();
        self.signed = self
            .zones
            .zones
            .iter_mut()
            .zip(&self.keys)
            .map(|(zone, keys)| {
                if keys.is_empty() {
                    return None;
                }
                let signing = Signing {
                    keys,
                    denial: dnssec.denial,
                    now,
                    validity: dnssec.signature_validity.as_secs(),
                };
                // Signed zones are read afresh at every load (`unchanged`), so this
                // copies only a zone kept unsigned that has just been given keys.
                Some(sign_zone(Arc::make_mut(zone), &signing))
            })
            .collect();
        if self.signed.iter().any(Option::is_some) {
            self.signed_at = Some(now);
        }
    }

    /// The zone read from `zone_file`, if none of the files it was read from changed
    /// since (the config neither, as `config` shows: it says how zones are read). A
    /// signed zone is always read again: its signatures are made at each load.
    fn unchanged(&self, config: &FileStamp, zone_file: &Path) -> Option<(usize, Kept)> {
        if self.config_read.as_ref() != Some(config) || config.seen.is_none() {
            return None;
        }
        let i = self
            .read
            .iter()
            .position(|files| files.first().is_some_and(|f| f.path == zone_file))?;
        if self.keys.get(i).is_some_and(|k| !k.is_empty()) {
            return None;
        }
        let files = &self.read[i];
        let zone_files = files[..files.len() - 1].to_vec();
        files
            .iter()
            .all(FileStamp::is_current)
            .then(|| (i, (self.zones.zones[i].clone(), zone_files)))
    }
}

/// What one load found.
#[derive(Debug)]
pub struct Loaded {
    /// The config, when it could be read.
    pub config: Option<Config>,
    /// Present only when nothing had an error.
    pub content: Option<Content>,
    pub diags: Diagnostics,
    /// Every file read, stamped before reading (see [`FileStamp`]).
    pub files: Vec<FileStamp>,
}

/// `a.b.zone` → `a.b.toml` (not `Path::with_extension`, which reads `..zone` as `.` + `zone`).
fn sibling(path: &Path, from: &str, to: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{}{to}", name.strip_suffix(from).unwrap_or(&name)))
}

/// Reads the config at `config_path` and everything it names. Every problem is in
/// `diags`; `content` only when there is none.
pub fn load(config_path: &Path) -> Loaded {
    load_keeping(config_path, None, &Arc::default())
}

/// As [`load`], keeping from `previous` every zone none of whose files changed since it
/// was read (with its policies): a reload reads only what changed. Marks `progress` as
/// it reads zone and policy files.
pub fn load_keeping(
    config_path: &Path,
    previous: Option<&Content>,
    progress: &Arc<Progress>,
) -> Loaded {
    let mut files = vec![FileStamp::of(config_path)];
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(error) => {
            // Nothing more is read until the config itself changes.
            let mut diags = Diagnostics::default();
            diags.push(error);
            return Loaded {
                config: None,
                content: None,
                diags,
                files,
            };
        }
    };
    let mut diags = Diagnostics::default();
    let content = read_content(&config, previous, progress, &mut diags, &mut files);
    Loaded {
        config: Some(config),
        content,
        diags,
        files,
    }
}

/// The zones, policies and client data of a config.
fn read_content(
    config: &Config,
    previous: Option<&Content>,
    progress: &Arc<Progress>,
    diags: &mut Diagnostics,
    files: &mut Vec<FileStamp>,
) -> Option<Content> {
    let dir = &config.server.zones_dir;
    let reading = Reading::watched(dir, config.server.max_zone_file_size, progress.clone());
    let config_read = files[0].clone();
    let kept = |zone: &Path| previous?.unchanged(&config_read, zone);
    let zones = load_zones(
        dir,
        &reading,
        |zone, origin| referenced_names(&sibling(zone, ".zone", ".toml"), origin, &reading),
        |zone| kept(zone).map(|(_, k)| k),
    );
    diags.extend(zones.diags);
    files.extend(zones.files);
    let mut policies = Vec::new();
    let mut read = Vec::new();
    let mut digests = Vec::new();
    for source in &zones.sources {
        let path = sibling(&source.file, ".zone", ".toml");
        let stamp = FileStamp::of(&path);
        files.push(stamp.clone());
        read.push(source.files.iter().cloned().chain([stamp]).collect());
        let was = match (previous, source.kept) {
            (Some(p), true) => kept(&source.file).map(|(i, _)| (p, i)),
            _ => None,
        };
        if let Some((previous, i)) = was {
            let origin = source.origin.to_string();
            if let Some(d) = previous.digests.iter().find(|(o, _)| *o == origin) {
                digests.push(d.clone());
            }
            policies.push(ReadPolicies {
                origin: source.origin.clone(),
                policies: previous.policies[i].clone(),
                kept: true,
            });
            continue;
        }
        // Only a cluster compares them; reading a large zone again is not free.
        if config.cluster.is_some() {
            digests.push((
                source.origin.to_string(),
                files_digest(&[&source.file, &path]),
            ));
        }
        if !path.exists() {
            continue;
        }
        let cx = Context {
            origin: &source.origin,
            reading: &reading,
            regions: &config.regions,
            plain: &source.plain,
        };
        if let Some(p) = read_policy_file(&path, &cx, diags) {
            policies.push(ReadPolicies {
                origin: source.origin.clone(),
                policies: p,
                kept: false,
            });
        }
    }
    // A policy file with no zone file beside it is a typo waiting to bite.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for path in entries.filter_map(|e| e.ok()).map(|e| e.path()) {
            let is_policy = path.extension().is_some_and(|e| e == "toml")
                && !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if is_policy && !sibling(&path, ".toml", ".zone").exists() {
                diags.push(Diagnostic::error(
                    &path,
                    1,
                    "a policy file without its zone file (expected the same name ending in .zone)",
                ));
            }
        }
    }
    let routing = &config.routing;
    let geo = routing.geoip_db.as_ref().and_then(|path| {
        files.push(FileStamp::of(path));
        GeoDb::open(path)
            .map_err(|m| diags.push(Diagnostic::error(path, 1, m)))
            .ok()
    });
    let latency = routing
        .latency_table
        .as_ref()
        .map_or_else(LatencyTable::default, |path| {
            files.push(FileStamp::of(path));
            let ids: Vec<&str> = config.regions.iter().map(|r| r.id.as_str()).collect();
            LatencyTable::read(path, &ids, diags)
        });
    shared_check_ids(&policies, diags);
    let kept_count = zones.sources.iter().filter(|s| s.kept).count();
    drop(zones.sources);
    release_freed_memory();
    let locator = Locator {
        regions: config.regions.clone(),
        geo,
        latency,
    };
    let keys = match (&zones.zones, &config.dnssec) {
        (Some(set), Some(dnssec)) => {
            files.push(FileStamp::of(&dnssec.keys_dir));
            read_keys(set, &dnssec.keys_dir, diags, files)
        }
        _ => Vec::new(),
    };
    match zones.zones {
        Some(zones) if !diags.has_errors() => {
            let mut content = Content {
                digests,
                config_read: Some(config_read),
                read,
                keys,
                zones_read: zones.zones.len() - kept_count,
                dnssec: config.dnssec.clone(),
                ..Content::new(zones, policies, locator)
            };
            content.sign();
            Some(content)
        }
        _ => None,
    }
}

/// Each zone's keys in `dir`, indexed like the zones. A zone with keys must have one
/// that signs now and is a key-signing (or combined) key.
fn read_keys(
    zones: &ZoneSet,
    dir: &Path,
    diags: &mut Diagnostics,
    files: &mut Vec<FileStamp>,
) -> Vec<Vec<Key>> {
    let now = crate::dnssec::key::unix_now();
    zones
        .zones
        .iter()
        .map(|zone| {
            let keys = crate::dnssec::key::read_zone_keys(dir, &zone.origin, diags);
            files.extend(keys.iter().flat_map(|k| {
                let private = k.file.with_extension("private");
                [FileStamp::of(&k.file), FileStamp::of(&private)]
            }));
            if let Some(first) = keys.first() {
                if keys.iter().any(|k| k.algorithm != first.algorithm) {
                    diags.push(Diagnostic::error(
                        &first.file,
                        1,
                        format!(
                            "zone {} has keys of more than one algorithm: every algorithm would have to sign every RRset (RFC 4035 §2.2); an algorithm rollover is not supported, keep one",
                            zone.origin
                        ),
                    ));
                }
                if !keys.iter().any(|k| k.is_sep() && k.timing.active(now)) {
                    diags.push(Diagnostic::error(
                        &first.file,
                        1,
                        format!(
                            "zone {} has keys but none that signs now and signs the DNSKEY set (flags 257, Activate passed, Inactive not): the zone cannot be signed",
                            zone.origin
                        ),
                    ));
                }
            }
            keys
        })
        .collect()
}

/// A short hash of the files' bytes (a missing file counts as empty).
fn files_digest(files: &[&Path]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for f in files {
        let bytes = std::fs::read(f).unwrap_or_default();
        ctx.update(&(bytes.len() as u64).to_be_bytes());
        ctx.update(&bytes);
    }
    ctx.finish().as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reading a large zone, or dropping the zones a reload replaced, leaves memory freed
/// but held by the allocator (hundreds of MiB for a million records): hand it back.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory that is free.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Check ids are shared by all zones: one id declared in two policy files must mean the
/// same check (it is then probed once), or the second is an error naming the first.
fn shared_check_ids(policies: &[ReadPolicies], diags: &mut Diagnostics) {
    let mut seen: HashMap<&str, (&Path, &HealthCheck)> = HashMap::new();
    for p in policies.iter().map(|p| &p.policies) {
        for c in &p.health_checks {
            match seen.get(c.id.as_str()) {
                None => {
                    seen.insert(&c.id, (&p.file, c));
                }
                Some((file, first)) if first.fingerprint() != c.fingerprint() => {
                    diags.push(Diagnostic::error(
                        &p.file,
                        c.line,
                        format!(
                            "health check {:?} is also declared, differently, at {}:{}; check ids are shared by all zones",
                            c.id,
                            file.display(),
                            first.line
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
}
