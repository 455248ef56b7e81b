//! Reads `zones/<origin>.toml` — `[[record]]`, `[[health_check]]`, `[[cidr_location]]` —
//! and checks it against Route 53's rules and against the zone file beside it. Every
//! problem is reported at its own `file:line`. The policy field of a record is read by
//! its policy's module, `[[health_check]]` by `health::check`.

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;

use hickory_proto::rr::{Name, RecordType};
use serde::Deserialize;
use toml::Spanned;

use super::ip_based::{self, LocationDef};
use super::*;
use crate::config::Region;
use crate::diag::{line_of_offset, Diagnostic, Diagnostics, LineIndex};
use crate::health::check::{read_checks, CheckDef};
use crate::zone::file::Reading;
use crate::zone::lexer;
use crate::zone::parse::parse_rdata;
use crate::zone::text;
use crate::zone::{name_key, PlainIndex};

/// Route 53's quota of sets per name and type.
const MAX_SETS: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDef {
    #[serde(default)]
    health_check: Vec<Spanned<CheckDef>>,
    #[serde(default)]
    record: Vec<Spanned<RecordDef>>,
    #[serde(default)]
    cidr_location: Vec<Spanned<LocationDef>>,
}

/// A `[[record]]`: the fields every set has, and the rest, which must be exactly one
/// policy's field (read by that policy's module).
#[derive(Deserialize)]
struct RecordDef {
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    ttl: Option<u32>,
    set_id: String,
    values: Option<Vec<String>>,
    health_check: Option<String>,
    alias: Option<AliasDef>,
    #[serde(flatten)]
    policy: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasDef {
    target: String,
    evaluate_target_health: bool,
}

/// What a policy file is checked against.
pub struct Context<'a> {
    pub origin: &'a Name,
    /// How files are read (regular, bounded).
    pub reading: &'a Reading,
    pub regions: &'a [Region],
    pub plain: &'a PlainIndex,
}

/// Reads and validates one policy file. None after pushing at least one error.
/// The names a policy file refers to (owners and alias targets), as name keys: the
/// only names whose plain records its checks look at. Empty when the file cannot be
/// read or parsed ([`read_policy_file`] reports that).
pub fn referenced_names(path: &Path, origin: &Name, reading: &Reading) -> Vec<Box<[u8]>> {
    let Ok(text) = reading.read(path) else {
        return Vec::new();
    };
    let Ok(def) = toml::from_str::<FileDef>(&text) else {
        return Vec::new();
    };
    def.record
        .iter()
        .map(|r| r.get_ref())
        .flat_map(|r| std::iter::once(&r.name).chain(r.alias.as_ref().map(|a| &a.target)))
        .filter_map(|n| text::name(n, origin).ok())
        .map(|n| name_key(&n))
        .collect()
}

pub fn read_policy_file(
    path: &Path,
    cx: &Context<'_>,
    diags: &mut Diagnostics,
) -> Option<ZonePolicies> {
    match cx.reading.read(path) {
        Ok(text) => read_policy_text(path, &text, cx, diags),
        Err(e) => {
            diags.push(Diagnostic::error(path, 1, e));
            None
        }
    }
}

/// As [`read_policy_file`], the file's text given rather than read (`path` names it in
/// messages): the policy reader without a file system, as fuzzing drives it.
pub fn read_policy_text(
    path: &Path,
    text: &str,
    cx: &Context<'_>,
    diags: &mut Diagnostics,
) -> Option<ZonePolicies> {
    let def: FileDef = match toml::from_str(text) {
        Ok(d) => d,
        Err(e) => {
            let line = e.span().map_or(1, |s| line_of_offset(text, s.start));
            diags.push(Diagnostic::error(path, line, e.message().to_string()));
            return None;
        }
    };
    let errors_before = diags.errors().count();
    let mut v = Validator {
        path,
        text,
        lines: LineIndex::new(text),
        cx,
        diags,
    };
    let locations: Vec<_> = def
        .cidr_location
        .iter()
        .map(|d| (v.line(d), d.get_ref()))
        .collect();
    let cidr_locations = ip_based::read_locations(&locations, &mut |line, m| v.error(line, m));
    let checks: Vec<_> = def
        .health_check
        .iter()
        .map(|d| (v.line(d), d.get_ref()))
        .collect();
    let health_checks = read_checks(&checks, &mut |line, m| v.error(line, m));
    let sets = v.sets(&def.record, &health_checks, &cidr_locations);
    let groups = v.groups(sets);
    v.aliases(&groups);
    if v.diags.errors().count() > errors_before {
        return None;
    }
    Some(ZonePolicies {
        file: path.to_path_buf(),
        groups,
        health_checks,
        cidr_locations,
    })
}

struct Validator<'a> {
    path: &'a Path,
    text: &'a str,
    lines: LineIndex,
    cx: &'a Context<'a>,
    diags: &'a mut Diagnostics,
}

impl Validator<'_> {
    fn line<T>(&self, s: &Spanned<T>) -> usize {
        self.lines.line(s.span().start)
    }

    fn error(&mut self, line: usize, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(self.path, line, message));
    }

    /// Every `[[record]]`, each checked on its own.
    fn sets(
        &mut self,
        defs: &[Spanned<RecordDef>],
        checks: &[HealthCheck],
        cidrs: &[CidrLocation],
    ) -> Vec<(Name, RecordType, PolicySet)> {
        let mut out = Vec::new();
        let checks: HashSet<&str> = checks.iter().map(|c| c.id.as_str()).collect();
        for def in defs {
            let line = self.line(def);
            let set = self.routing(def, cidrs).and_then(|routing| {
                self.set(line, def.get_ref(), routing, &checks)
                    .map_err(|m| (line, m))
            });
            match set {
                Ok(s) => out.push(s),
                Err((line, m)) => self.error(line, m),
            }
        }
        out
    }

    fn set(
        &self,
        line: usize,
        d: &RecordDef,
        routing: Routing,
        checks: &HashSet<&str>,
    ) -> Result<(Name, RecordType, PolicySet), String> {
        let origin = self.cx.origin;
        let name = text::name(&d.name, origin)?;
        if !origin.zone_of(&name) {
            return Err(format!("out-of-zone data: {name} is not in zone {origin}"));
        }
        let rtype = RecordType::from_str(&d.rtype.to_ascii_uppercase())
            .map_err(|_| format!("unknown record type {}", d.rtype))?;
        if matches!(rtype, RecordType::NS | RecordType::SOA | RecordType::DS) {
            return Err(format!(
                "{rtype} records cannot have a routing policy; put them in the zone file"
            ));
        }
        if d.set_id.is_empty() || d.set_id.len() > 128 {
            return Err("set_id must be 1 to 128 characters".into());
        }
        let data = match (&d.values, &d.alias) {
            (Some(values), None) => {
                let ttl = d.ttl.ok_or("ttl is required for records with values")?;
                if values.is_empty() {
                    return Err("values is empty".into());
                }
                let mut rdatas = Vec::new();
                for value in values {
                    let tokens = lexer::entries(value)
                        .map_err(|e| format!("bad value {value:?}: {}", e.message))?
                        .into_iter()
                        .flat_map(|e| e.tokens)
                        .collect::<Vec<_>>();
                    if tokens.is_empty() {
                        return Err("an empty value".into());
                    }
                    rdatas.push(parse_rdata(rtype, &tokens, origin)?);
                }
                if rtype == RecordType::CNAME && rdatas.len() > 1 {
                    return Err("a CNAME set holds one value".into());
                }
                SetData::Values { ttl, rdatas }
            }
            (None, Some(alias)) => {
                if d.ttl.is_some() {
                    return Err("an alias takes its target's TTL; remove ttl".into());
                }
                let target = text::name(&alias.target, origin)?;
                if !origin.zone_of(&target) {
                    return Err(format!("alias target {target} is not in zone {origin}"));
                }
                SetData::Alias {
                    target,
                    evaluate_target_health: alias.evaluate_target_health,
                }
            }
            _ => return Err("give exactly one of values and alias".into()),
        };
        if let Some(id) = &d.health_check {
            if !checks.contains(id.as_str()) {
                return Err(format!("unknown health check {id:?}"));
            }
        }
        Ok((
            name,
            rtype,
            PolicySet {
                set_id: d.set_id.clone(),
                routing,
                data,
                health_check: d.health_check.clone(),
                line,
            },
        ))
    }

    /// The record's one policy field, read by its policy; any other field is unknown.
    fn routing(
        &self,
        def: &Spanned<RecordDef>,
        cidrs: &[CidrLocation],
    ) -> Result<Routing, (usize, String)> {
        let line = self.line(def);
        let cx = ReadContext {
            regions: self.cx.regions,
            cidrs,
        };
        let mut found = Vec::new();
        for (field, value) in &def.get_ref().policy {
            let Some(kind) = Kind::from_field(field) else {
                let fields = [
                    "name",
                    "type",
                    "ttl",
                    "set_id",
                    "values",
                    "health_check",
                    "alias",
                ]
                .into_iter()
                .chain(Kind::ALL.map(Kind::field));
                let expected: Vec<String> = fields.map(|f| format!("`{f}`")).collect();
                let at = self.key_line(def, field).unwrap_or(line);
                return Err((
                    at,
                    format!(
                        "unknown field `{field}`, expected one of {}",
                        expected.join(", ")
                    ),
                ));
            };
            found.push((kind, value));
        }
        match found.as_slice() {
            [(kind, value)] => kind.read(value, &cx).map_err(|m| (line, m)),
            [] => Err((
                line,
                format!(
                    "no policy field: give one of {} (plain records go in the zone file)",
                    Kind::ALL.map(Kind::field).join(", ")
                ),
            )),
            _ => Err((
                line,
                format!(
                    "more than one policy field: {}",
                    found
                        .iter()
                        .map(|(k, _)| k.field())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// The line where a record writes `key = …`, if it can be found: from its header
    /// to the next table header.
    fn key_line<T>(&self, def: &Spanned<T>, key: &str) -> Option<usize> {
        let start = def.span().start;
        let mut offset = start;
        for (i, l) in self.text.get(start..)?.split_inclusive('\n').enumerate() {
            let l_trim = l.trim_start();
            if i > 0 && l_trim.starts_with('[') {
                break;
            }
            let k = l_trim.split('=').next().unwrap_or("").trim();
            if k.trim_matches('"') == key {
                return Some(self.lines.line(offset));
            }
            offset += l.len();
        }
        None
    }

    /// Gathers sets into groups and checks each group's rules.
    fn groups(&mut self, sets: Vec<(Name, RecordType, PolicySet)>) -> Vec<PolicyGroup> {
        let mut groups: Vec<PolicyGroup> = Vec::new();
        let mut index: std::collections::HashMap<(Box<[u8]>, RecordType), usize> =
            std::collections::HashMap::new();
        for (name, rtype, set) in sets {
            match index.entry((name_key(&name), rtype)) {
                std::collections::hash_map::Entry::Occupied(at) => groups[*at.get()].sets.push(set),
                std::collections::hash_map::Entry::Vacant(at) => {
                    at.insert(groups.len());
                    groups.push(PolicyGroup {
                        name,
                        rtype,
                        sets: vec![set],
                    });
                }
            }
        }
        // For a CNAME group: the first group of another type at its name.
        let mut not_cname: std::collections::HashMap<Box<[u8]>, usize> =
            std::collections::HashMap::new();
        for (i, g) in groups.iter().enumerate() {
            if g.rtype != RecordType::CNAME {
                not_cname.entry(name_key(&g.name)).or_insert(i);
            }
        }
        for g in &groups {
            let beside = (g.rtype == RecordType::CNAME)
                .then(|| not_cname.get(&name_key(&g.name)).map(|&i| &groups[i]))
                .flatten();
            self.check_group(g, beside);
        }
        groups
    }

    /// `beside`: for a CNAME group, a group of another type at the same name.
    fn check_group(&mut self, g: &PolicyGroup, beside: Option<&PolicyGroup>) {
        let (name, rtype) = (&g.name, g.rtype);
        let first = &g.sets[0];
        for (i, s) in g.sets.iter().enumerate() {
            if s.routing.kind() != first.routing.kind() {
                self.error(
                    s.line,
                    format!(
                        "{name} {rtype} mixes policies: {} here and {} at line {}",
                        s.routing.kind().field(),
                        first.routing.kind().field(),
                        first.line
                    ),
                );
            }
            if let Some(o) = g.sets[..i].iter().find(|o| o.set_id == s.set_id) {
                self.error(
                    s.line,
                    format!(
                        "duplicate set_id {:?} for {name} {rtype} (also at line {})",
                        s.set_id, o.line
                    ),
                );
            }
        }
        if g.sets.len() > MAX_SETS {
            self.error(
                g.sets[MAX_SETS].line,
                format!("{name} {rtype} has more than {MAX_SETS} sets"),
            );
        }
        let mut problems = Vec::new();
        g.kind().check(g, &mut problems);
        for (line, m) in problems {
            self.error(line, m);
        }
        // Beside the zone file's data.
        let key = name_key(name);
        let plain = self.cx.plain.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        for (ptype, pfile, pline) in plain {
            let clash =
                *ptype == rtype || *ptype == RecordType::CNAME || rtype == RecordType::CNAME;
            if clash {
                let what = if *ptype == rtype {
                    "a policy set beside a plain record of the same name and type"
                } else {
                    "a CNAME beside other data"
                };
                self.error(
                    first.line,
                    format!(
                        "{name} {rtype}: {what} ({ptype} at {}:{pline})",
                        pfile.display()
                    ),
                );
            }
        }
        if rtype == RecordType::CNAME {
            if let Some(o) = beside {
                self.error(
                    first.line,
                    format!(
                        "{name}: a CNAME beside other data ({} at line {})",
                        o.rtype, o.sets[0].line
                    ),
                );
            }
        }
    }

    /// Alias targets exist with the same type, and no chain of aliases loops.
    fn aliases(&mut self, groups: &[PolicyGroup]) {
        let index = GroupIndex::new(groups);
        let find = |name: &Name, rtype| index.find(name, rtype);
        for g in groups {
            for s in &g.sets {
                let SetData::Alias { target, .. } = &s.data else {
                    continue;
                };
                let plain = self
                    .cx
                    .plain
                    .get(&name_key(target))
                    .is_some_and(|v| v.iter().any(|(t, _, _)| *t == g.rtype));
                if !plain && find(target, g.rtype).is_none() {
                    self.error(
                        s.line,
                        format!("alias target {target} has no {} records", g.rtype),
                    );
                }
            }
        }
        // Depth-first over group → aliased groups; a back edge is a cycle.
        let edges: Vec<Vec<(usize, usize)>> = groups
            .iter()
            .map(|g| {
                g.sets
                    .iter()
                    .filter_map(|s| match &s.data {
                        SetData::Alias { target, .. } => find(target, g.rtype).map(|t| (t, s.line)),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let mut state = vec![0u8; groups.len()]; // 0 new, 1 on the path, 2 done
        fn visit(
            i: usize,
            edges: &[Vec<(usize, usize)>],
            state: &mut [u8],
            found: &mut Option<usize>,
        ) {
            state[i] = 1;
            for &(t, line) in &edges[i] {
                if state[t] == 1 && found.is_none() {
                    *found = Some(line);
                } else if state[t] == 0 {
                    visit(t, edges, state, found);
                }
            }
            state[i] = 2;
        }
        for i in 0..groups.len() {
            if state[i] == 0 {
                let mut found = None;
                visit(i, &edges, &mut state, &mut found);
                if let Some(line) = found {
                    self.error(
                        line,
                        format!("alias cycle through {} {}", groups[i].name, groups[i].rtype),
                    );
                }
            }
        }
    }
}
