//! Assembles one zone from its source records and checks it the way a careful
//! authoritative server must: one SOA at the apex, NS at the apex, no data outside the
//! zone, CNAME alone at its name, no NS or DNAME at a wildcard.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use hickory_proto::rr::{Name, RData, RecordType};

use super::parse::SourceRecord;
use super::{name_key, Nodes, RRset, Zone};
use crate::diag::{Diagnostic, Diagnostics};

/// Where each RRset was first written, for error messages that name both sides.
struct Origin {
    file: Arc<Path>,
    line: usize,
}

struct NodeDraft {
    name: Name,
    rrsets: Vec<(RRset, Origin)>,
}

/// Builds the zone, or returns None after pushing at least one error to `diags`.
pub fn build_zone(
    origin: &Name,
    file: &Path,
    records: Vec<SourceRecord>,
    diags: &mut Diagnostics,
) -> Option<Zone> {
    let errors_before = diags.errors().count();
    let origin_key = name_key(origin);
    // Keys come from zone files, not from clients: a fast hash is safe here.
    let mut drafts: HashMap<Box<[u8]>, NodeDraft, rustc_hash::FxBuildHasher> =
        HashMap::with_capacity_and_hasher(records.len(), Default::default());
    let mut untimed = Vec::new();

    for rec in records {
        if !origin.zone_of(&rec.name) {
            diags.push(Diagnostic::error(
                &rec.file,
                rec.line,
                format!("out-of-zone data: {} is not in zone {origin}", rec.name),
            ));
            continue;
        }
        let rtype = rec.rdata.record_type();
        if rtype == RecordType::SOA && rec.name != *origin {
            diags.push(Diagnostic::error(
                &rec.file,
                rec.line,
                format!(
                    "SOA record at {} is not at the zone apex {origin}",
                    rec.name
                ),
            ));
            continue;
        }
        if rec.name.is_wildcard() && matches!(rtype, RecordType::NS | RecordType::DNAME) {
            diags.push(Diagnostic::error(
                &rec.file,
                rec.line,
                format!(
                    "{rtype} record at the wildcard name {} (RFC 4592 §4)",
                    rec.name
                ),
            ));
            continue;
        }
        let key = name_key(&rec.name);
        let draft = drafts.entry(key).or_insert_with(|| NodeDraft {
            name: rec.name.clone(),
            // Most names own one RRset; a zone of a million names pays for every spare
            // slot a million times.
            rrsets: Vec::with_capacity(1),
        });
        let ttl = rec.ttl.unwrap_or(u32::MAX);
        if rec.ttl.is_none() {
            untimed.push((rec.file.clone(), rec.line));
        }
        match draft.rrsets.iter_mut().find(|(r, _)| r.rtype == rtype) {
            Some((set, first)) => {
                if rtype == RecordType::SOA {
                    diags.push(Diagnostic::error(
                        &rec.file,
                        rec.line,
                        format!(
                            "a second SOA record (the first is at {}:{})",
                            first.file.display(),
                            first.line
                        ),
                    ));
                    continue;
                }
                if ttl != set.ttl && rec.ttl.is_some() && set.ttl != u32::MAX {
                    // RFC 2181 §5.2: one TTL per RRset; serve the lowest so no cache
                    // holds any record longer than the operator allowed.
                    diags.push(Diagnostic::warning(
                        &rec.file,
                        rec.line,
                        format!(
                            "TTL {ttl} differs from {} for the {rtype} records of {}; using the lower",
                            set.ttl, rec.name
                        ),
                    ));
                }
                set.ttl = set.ttl.min(ttl);
                if !set.rdatas.contains(&rec.rdata) {
                    set.rdatas.push(rec.rdata);
                }
            }
            None => draft.rrsets.push((
                RRset {
                    rtype,
                    ttl,
                    rdatas: vec![rec.rdata],
                },
                Origin {
                    file: rec.file.clone(),
                    line: rec.line,
                },
            )),
        }
    }

    // The apex: one SOA and an NS set.
    let soa_minimum = match drafts
        .get(&origin_key)
        .and_then(|d| d.rrsets.iter().find(|(r, _)| r.rtype == RecordType::SOA))
    {
        Some((set, _)) => match &set.rdatas[0] {
            RData::SOA(soa) => Some(soa.minimum),
            _ => None,
        },
        None => {
            diags.push(Diagnostic::error(
                file,
                1,
                format!("missing SOA record at the zone apex {origin}"),
            ));
            None
        }
    };
    let apex_has_ns = drafts
        .get(&origin_key)
        .is_some_and(|d| d.rrsets.iter().any(|(r, _)| r.rtype == RecordType::NS));
    if !apex_has_ns {
        diags.push(Diagnostic::error(
            file,
            1,
            format!("no NS records at the zone apex {origin}"),
        ));
    }

    // Records without any TTL fall back to the SOA minimum, as BIND does.
    if let (Some(min), Some((f, l))) = (soa_minimum, untimed.first()) {
        diags.push(Diagnostic::warning(
            f,
            *l,
            format!("no TTL given (no $TTL and no earlier TTL); using the SOA minimum {min}"),
        ));
    }
    for d in drafts.values_mut() {
        for (set, _) in &mut d.rrsets {
            if set.ttl == u32::MAX {
                set.ttl = soa_minimum.unwrap_or(0);
            }
        }
    }

    for d in drafts.values() {
        check_exclusive_types(d, diags);
    }
    check_below_dnames(&drafts, diags);

    if diags.errors().count() > errors_before {
        return None;
    }

    // Materialise nodes, with the empty non-terminals between every name and the apex.
    let mut nodes = Nodes::with_capacity(drafts.len());
    for (key, d) in drafts {
        // Sized exactly: a collect would keep the draft's larger buffer, and a zone of
        // a million names pays for every spare slot a million times.
        let mut rrsets = Vec::with_capacity(d.rrsets.len());
        rrsets.extend(d.rrsets.into_iter().map(|(mut r, _)| {
            r.rdatas.shrink_to_fit();
            r
        }));
        rrsets.sort_by_key(|r| u16::from(r.rtype));
        let node = nodes.entry(origin, &d.name, key);
        node.name = d.name;
        node.rrsets = rrsets;
    }

    let apex = nodes.get(&origin_key)?;
    let soa_set = apex.rrset(RecordType::SOA)?;
    let RData::SOA(soa) = &soa_set.rdatas[0] else {
        return None;
    };
    Some(Zone {
        origin: origin.clone(),
        origin_key,
        serial: soa.serial,
        negative_ttl: soa_set.ttl.min(soa.minimum),
        nodes,
    })
}

/// RFC 6672 §2.4: no data below a DNAME, where no query could ever reach it.
fn check_below_dnames(
    drafts: &HashMap<Box<[u8]>, NodeDraft, rustc_hash::FxBuildHasher>,
    diags: &mut Diagnostics,
) {
    let dnames: Vec<(&[u8], &NodeDraft)> = drafts
        .iter()
        .filter(|(_, d)| d.rrsets.iter().any(|(r, _)| r.rtype == RecordType::DNAME))
        .map(|(k, d)| (&k[..], d))
        .collect();
    if dnames.is_empty() {
        return;
    }
    let mut offsets = Vec::new();
    for (key, d) in drafts {
        super::label_offsets(key, &mut offsets);
        let below = offsets[1..]
            .iter()
            .find_map(|&o| dnames.iter().find(|(k, _)| *k == &key[o..]));
        if let (Some((_, owner)), Some((set, at))) = (below, d.rrsets.first()) {
            diags.push(Diagnostic::error(
                &at.file,
                at.line,
                format!(
                    "{} {} is below the DNAME at {}, where no query can reach it (RFC 6672 §2.4)",
                    d.name, set.rtype, owner.name
                ),
            ));
        }
    }
}

/// RFC 1034 §3.6.2 and RFC 6672 §2.4: a CNAME owns its name alone and holds one target;
/// a name holds at most one DNAME.
fn check_exclusive_types(d: &NodeDraft, diags: &mut Diagnostics) {
    for (set, at) in &d.rrsets {
        let single = matches!(set.rtype, RecordType::CNAME | RecordType::DNAME);
        if single && set.rdatas.len() > 1 {
            diags.push(Diagnostic::error(
                &at.file,
                at.line,
                format!(
                    "{} has {} {} records; only one is allowed",
                    d.name,
                    set.rdatas.len(),
                    set.rtype
                ),
            ));
        }
    }
    let Some((_, cname_at)) = d.rrsets.iter().find(|(r, _)| r.rtype == RecordType::CNAME) else {
        return;
    };
    for (other, at) in d
        .rrsets
        .iter()
        .filter(|(r, _)| r.rtype != RecordType::CNAME)
    {
        // Report at whichever of the two comes later in the file: that is the one added
        // by mistake, more often than not.
        let report = if at.file == cname_at.file && at.line < cname_at.line {
            cname_at
        } else {
            at
        };
        diags.push(Diagnostic::error(
            &report.file,
            report.line,
            format!(
                "CNAME beside other data at {}: CNAME at {}:{} and {} at {}:{}",
                d.name,
                cname_at.file.display(),
                cname_at.line,
                other.rtype,
                at.file.display(),
                at.line,
            ),
        ));
    }
}
