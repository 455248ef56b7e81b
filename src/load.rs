//! Loading everything a server serves from its config: the zone files and the policy
//! file beside each (`<origin>.zone` + `<origin>.toml`). Used alike by `serve`, `check`
//! and reload, so that all three accept and refuse exactly the same data.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::diag::{Diagnostic, Diagnostics};
use crate::policy::file::{read_policy_file, Context};
use crate::policy::ZonePolicies;
use crate::zone::{load_zones, FileStamp, ZoneSet};

/// Everything served, valid as a whole.
#[derive(Debug)]
pub struct Dataset {
    pub zones: ZoneSet,
    /// One per zone that has a policy file.
    pub policies: Vec<ZonePolicies>,
}

#[derive(Debug)]
pub struct Loaded {
    /// Present only when nothing had an error.
    pub data: Option<Dataset>,
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

pub fn load(config: &Config) -> Loaded {
    let dir = &config.server.zones_dir;
    let zones = load_zones(dir);
    let mut diags = zones.diags;
    let mut files = zones.files;
    let mut policies = Vec::new();
    for source in &zones.sources {
        let path = sibling(&source.file, ".zone", ".toml");
        files.push(FileStamp::of(&path));
        if !path.exists() {
            continue;
        }
        let cx = Context {
            origin: &source.origin,
            regions: &config.regions,
            plain: &source.plain,
        };
        if let Some(p) = read_policy_file(&path, &cx, &mut diags) {
            policies.push(p);
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
    let data = match zones.zones {
        Some(zones) if !diags.has_errors() => Some(Dataset { zones, policies }),
        _ => None,
    };
    Loaded { data, diags, files }
}
