//! Reads every `<origin>.zone` file of the zones directory into a [`ZoneSet`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use hickory_proto::rr::{Name, RecordType};

use super::build::ZoneBuilder;
use super::file::Reading;
use super::parse::read_zone_file;
use super::{name_key, Zone, ZoneSet};
use crate::diag::{Diagnostic, Diagnostics};
use crate::watch::FileStamp;

/// The zone files of a directory, sorted by name: `<origin>.zone`, and `..zone` for the
/// root zone. Hidden files (editor droppings) are skipped; a zone file that is a link to
/// nothing is an error, not a zone quietly left out.
fn zone_files(dir: &Path, diags: &mut Diagnostics) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = Vec::new();
    for p in std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
    {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.ends_with(".zone") || (name.starts_with('.') && name != "..zone") {
            continue;
        }
        if p.is_file() {
            files.push(p);
        } else if p.is_symlink() && !p.exists() {
            diags.push(Diagnostic::error(
                &p,
                1,
                "a link to a file that does not exist: the zone cannot be read",
            ));
        } else {
            diags.push(Diagnostic::error(
                &p,
                1,
                "not a regular file (a FIFO, device or directory): the zone cannot be read",
            ));
        }
    }
    files.sort();
    Ok(files)
}

/// The origin a zone file serves, from its name.
fn origin_of(path: &Path) -> Result<Name, String> {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem = file_name.strip_suffix(".zone").unwrap_or(file_name);
    if stem == "." {
        return Ok(Name::root());
    }
    let mut name = Name::from_str(stem)
        .map_err(|e| format!("the file name does not give a zone name ({stem:?}: {e})"))?;
    name.set_fqdn(true);
    Ok(name.to_lowercase())
}

/// Where each plain RRset of a zone file was first written, by name key and type: what
/// the policy file beside the zone is checked against.
pub type PlainIndex = HashMap<Box<[u8]>, Vec<(RecordType, Arc<Path>, usize)>>;

/// One zone file as read, valid or not.
#[derive(Debug)]
pub struct ZoneSource {
    pub origin: Name,
    pub file: PathBuf,
    pub plain: PlainIndex,
    /// The zone file and every file it included, stamped before they were read.
    pub files: Vec<FileStamp>,
    /// Not read: the zone was kept from the previous load, none of its files changed.
    pub kept: bool,
}

/// A zone kept from an earlier load, with the stamps of the files it was read from.
pub type Kept = (Arc<Zone>, Vec<FileStamp>);

/// The outcome of loading a zones directory.
#[derive(Debug)]
pub struct ZoneFiles {
    /// Present only when nothing had an error.
    pub zones: Option<ZoneSet>,
    /// Every problem found, errors and warnings.
    pub diags: Diagnostics,
    /// Every file read (the directory itself, zone files, included files), stamped
    /// before it was read; the directory's stamp changes when a file is added or removed.
    pub files: Vec<FileStamp>,
    /// Every zone file read, in order.
    pub sources: Vec<ZoneSource>,
}

/// Loads and validates every zone. `wants_plain` gives, for a zone file and its origin,
/// the names whose plain records the policy file beside it refers to: only those are
/// indexed, since a full index of a large zone costs as much as the zone itself.
/// `keep` gives, for a zone file, the zone an earlier load read from it when it need not
/// be read again.
pub fn load_zones(
    dir: &Path,
    reading: &Reading,
    wants_plain: impl Fn(&Path, &Name) -> Vec<Box<[u8]>>,
    keep: impl Fn(&Path) -> Option<Kept>,
) -> ZoneFiles {
    let mut diags = Diagnostics::default();
    let mut files_read = vec![FileStamp::of(dir)];
    let files = match zone_files(dir, &mut diags) {
        Ok(f) => f,
        Err(e) => {
            diags.push(Diagnostic::error(
                dir,
                1,
                format!("cannot read the zones directory: {e}"),
            ));
            return ZoneFiles {
                zones: None,
                diags,
                files: files_read,
                sources: Vec::new(),
            };
        }
    };
    if files.is_empty() {
        diags.push(Diagnostic::warning(
            dir,
            1,
            "no zone files (<origin>.zone) here: every query will be refused",
        ));
    }
    let mut zones = Vec::new();
    let mut sources = Vec::new();
    let mut seen: Vec<(Box<[u8]>, PathBuf)> = Vec::new();
    for file in files {
        let origin = match origin_of(&file) {
            Ok(o) => o,
            Err(m) => {
                diags.push(Diagnostic::error(&file, 1, m));
                continue;
            }
        };
        let key = name_key(&origin);
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            diags.push(Diagnostic::error(
                &file,
                1,
                format!(
                    "duplicate zone {origin}: already loaded from {}",
                    first.display()
                ),
            ));
            continue;
        }
        seen.push((key, file.clone()));
        if let Some((zone, stamps)) = keep(&file) {
            files_read.extend(stamps.iter().cloned());
            zones.push(zone);
            sources.push(ZoneSource {
                origin,
                file,
                plain: PlainIndex::new(),
                files: stamps,
                kept: true,
            });
            continue;
        }
        let mut builder = ZoneBuilder::new(&origin);
        let mut stamps = Vec::new();
        read_zone_file(
            &file,
            &origin,
            reading,
            &mut diags,
            &mut stamps,
            &mut builder,
        );
        files_read.extend(stamps.iter().cloned());
        let plain = builder.plain_index(wants_plain(&file, &origin));
        if let Some(z) = builder.finish(&file, &mut diags) {
            zones.push(Arc::new(z));
        }
        sources.push(ZoneSource {
            origin,
            file,
            plain,
            files: stamps,
            kept: false,
        });
    }
    let zones = (!diags.has_errors()).then(|| ZoneSet::new(zones));
    ZoneFiles {
        zones,
        diags,
        files: files_read,
        sources,
    }
}
