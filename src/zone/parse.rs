//! Zone-file source: turns the scanner's entries into records, following `$ORIGIN`,
//! `$TTL` and `$INCLUDE`, and qualifying relative names. Record data is parsed by
//! hickory-proto; DS and DNAME, which hickory's text parser refuses, are parsed here.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use hickory_proto::serialize::txt::parse_ttl;

use super::lexer::{self, Token};
use crate::diag::{Diagnostic, Diagnostics};
use crate::watch::FileStamp;

/// Deepest `$INCLUDE` nesting accepted; deeper is almost surely a loop.
const MAX_INCLUDE_DEPTH: usize = 16;
/// RFC 2181 §8: TTLs are 31-bit.
const MAX_TTL: u32 = 0x7fff_ffff;

/// One record as written in a zone file, with where it was written.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    pub file: Arc<Path>,
    pub line: usize,
    pub name: Name,
    /// None when neither the record, `$TTL` nor an earlier record gave one (the loader
    /// then uses the SOA minimum, as BIND does).
    pub ttl: Option<u32>,
    pub rdata: RData,
}

/// Reads a zone file (and what it includes). Problems go to `diags`; every file read is
/// stamped into `files_read`, so that a later change to any of them triggers a reload.
pub fn read_zone_file(
    path: &Path,
    origin: &Name,
    diags: &mut Diagnostics,
    files_read: &mut Vec<FileStamp>,
) -> Vec<SourceRecord> {
    let mut state = State {
        origin: origin.clone(),
        default_ttl: None,
        last_ttl: None,
        last_owner: None,
    };
    let mut out = Vec::new();
    read_file(path, &mut state, 0, diags, files_read, &mut out);
    out
}

struct State {
    origin: Name,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    last_owner: Option<Name>,
}

fn read_file(
    path: &Path,
    state: &mut State,
    depth: usize,
    diags: &mut Diagnostics,
    files_read: &mut Vec<FileStamp>,
    out: &mut Vec<SourceRecord>,
) {
    // Stamped before reading: a write during the read shows up as a change later.
    files_read.push(FileStamp::of(path));
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diagnostic::error(path, 1, format!("cannot read: {e}")));
            return;
        }
    };
    let entries = match lexer::entries(&text) {
        Ok(e) => e,
        Err(e) => {
            diags.push(Diagnostic::error(path, e.line, e.message));
            return;
        }
    };
    let file: Arc<Path> = Arc::from(path);
    // About a record per entry: one allocation rather than a doubling copy of them all.
    out.reserve(entries.len());
    for entry in entries {
        let line = entry.line;
        let first = entry.tokens[0].text();
        if !entry.starts_with_blank && first.starts_with('$') {
            let args = &entry.tokens[1..];
            match first.to_ascii_uppercase().as_str() {
                "$ORIGIN" => match args {
                    [name] => match parse_name(name.text(), &state.origin) {
                        Ok(n) => state.origin = n,
                        Err(m) => diags.push(Diagnostic::error(path, line, m)),
                    },
                    _ => diags.push(Diagnostic::error(path, line, "$ORIGIN takes one name")),
                },
                "$TTL" => match args {
                    [ttl] => match parse_ttl_token(ttl.text()) {
                        Ok(t) => state.default_ttl = Some(t),
                        Err(m) => diags.push(Diagnostic::error(path, line, m)),
                    },
                    _ => diags.push(Diagnostic::error(path, line, "$TTL takes one value")),
                },
                "$INCLUDE" => {
                    if args.is_empty() || args.len() > 2 {
                        diags.push(Diagnostic::error(
                            path,
                            line,
                            "$INCLUDE takes a file name and an optional origin",
                        ));
                        continue;
                    }
                    if depth >= MAX_INCLUDE_DEPTH {
                        diags.push(Diagnostic::error(
                            path,
                            line,
                            format!("$INCLUDE nested deeper than {MAX_INCLUDE_DEPTH} files"),
                        ));
                        continue;
                    }
                    let target = PathBuf::from(unquote(args[0].text()));
                    // Relative to the including file, so a zone directory can move as a whole.
                    let target = if target.is_absolute() {
                        target
                    } else {
                        path.parent().unwrap_or(Path::new(".")).join(target)
                    };
                    // RFC 1035: the origin and owner changes of an included file do not leak out.
                    let saved_origin = state.origin.clone();
                    let saved_owner = state.last_owner.take();
                    if let Some(o) = args.get(1) {
                        match parse_name(o.text(), &state.origin) {
                            Ok(n) => state.origin = n,
                            Err(m) => {
                                diags.push(Diagnostic::error(path, line, m));
                                continue;
                            }
                        }
                    }
                    read_file(&target, state, depth + 1, diags, files_read, out);
                    state.origin = saved_origin;
                    state.last_owner = saved_owner;
                }
                other => diags.push(Diagnostic::error(
                    path,
                    line,
                    format!("unknown directive {other}"),
                )),
            }
            continue;
        }
        match parse_record(&entry.tokens, entry.starts_with_blank, state) {
            Ok((name, ttl, rdata)) => out.push(SourceRecord {
                file: file.clone(),
                line,
                name,
                ttl,
                rdata,
            }),
            Err(m) => diags.push(Diagnostic::error(path, line, m)),
        }
    }
}

fn parse_record(
    tokens: &[Token],
    inherit_owner: bool,
    state: &mut State,
) -> Result<(Name, Option<u32>, RData), String> {
    let mut rest = tokens;
    let owner = if inherit_owner {
        state
            .last_owner
            .clone()
            .ok_or("no owner name: the first record starts with a blank")?
    } else {
        let n = parse_name(rest[0].text(), &state.origin)?;
        rest = &rest[1..];
        n
    };
    state.last_owner = Some(owner.clone());

    // TTL and class, in either order, both optional.
    let mut ttl = None;
    let mut class_seen = false;
    for _ in 0..2 {
        let Some(tok) = rest.first() else { break };
        let t = tok.text();
        if !class_seen && is_class(t) {
            if !t.eq_ignore_ascii_case("IN") {
                return Err(format!("class {t} is not supported; hadns serves class IN"));
            }
            class_seen = true;
        } else if ttl.is_none() && t.starts_with(|c: char| c.is_ascii_digit()) {
            ttl = Some(parse_ttl_token(t)?);
        } else {
            break;
        }
        rest = &rest[1..];
    }
    let type_tok = rest.first().ok_or("record type missing")?;
    let rtype = RecordType::from_str(&type_tok.text().to_ascii_uppercase())
        .map_err(|_| format!("unknown record type {}", type_tok.text()))?;
    let rdata_tokens = &rest[1..];
    if rdata_tokens.is_empty() {
        return Err(format!("{rtype} record has no data"));
    }
    let rdata = parse_rdata(rtype, rdata_tokens, &state.origin)?;

    let ttl = match ttl {
        Some(t) => Some(t),
        None => state.default_ttl.or(state.last_ttl),
    };
    if ttl.is_some() {
        state.last_ttl = ttl;
    }
    Ok((owner, ttl, rdata))
}

fn is_class(t: &str) -> bool {
    ["IN", "CH", "CS", "HS", "NONE", "ANY"]
        .iter()
        .any(|c| t.eq_ignore_ascii_case(c))
        || (t.len() > 5 && t[..5].eq_ignore_ascii_case("CLASS") && t[5..].parse::<u16>().is_ok())
}

fn parse_ttl_token(t: &str) -> Result<u32, String> {
    let v = parse_ttl(t).map_err(|_| format!("bad TTL {t:?}"))?;
    if v > MAX_TTL {
        return Err(format!("TTL {t} is above the maximum {MAX_TTL}"));
    }
    Ok(v)
}

/// A domain name relative to `origin`; `@` is the origin itself.
pub fn parse_name(text: &str, origin: &Name) -> Result<Name, String> {
    if text == "@" {
        return Ok(origin.clone());
    }
    let bad = |e: hickory_proto::ProtoError| format!("bad domain name {text:?}: {e}");
    // ASCII, not IDNA: keep the case and the underscores that operators write.
    let name = Name::from_ascii(text).map_err(bad)?;
    if name.is_fqdn() {
        Ok(name)
    } else {
        name.append_domain(origin).map_err(bad)
    }
}

fn unquote(t: &str) -> &str {
    t.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(t)
}

/// Positions of the domain-name fields in each type's text form, which must be
/// qualified against the current origin before hickory parses them.
fn name_positions(t: RecordType) -> &'static [usize] {
    match t {
        RecordType::NS | RecordType::CNAME | RecordType::PTR | RecordType::DNAME => &[0],
        RecordType::SOA => &[0, 1],
        RecordType::MX | RecordType::SVCB | RecordType::HTTPS => &[1],
        RecordType::SRV => &[3],
        RecordType::NAPTR => &[5],
        _ => &[],
    }
}

pub(crate) fn parse_rdata(
    rtype: RecordType,
    tokens: &[Token],
    origin: &Name,
) -> Result<RData, String> {
    let positions = name_positions(rtype);
    let mut texts: Vec<String> = Vec::with_capacity(tokens.len());
    for (i, tok) in tokens.iter().enumerate() {
        if positions.contains(&i) && !tok.quoted && tok.text() != "." {
            texts.push(parse_name(tok.text(), origin)?.to_ascii());
        } else {
            texts.push(tok.raw.clone());
        }
    }
    match rtype {
        RecordType::DS => parse_ds(&texts),
        RecordType::DNAME => {
            let [target] = texts.as_slice() else {
                return Err("DNAME takes one target name".into());
            };
            let name = Name::from_ascii(target).map_err(|e| format!("bad DNAME target: {e}"))?;
            let wire = name.to_bytes().map_err(|e| e.to_string())?;
            Ok(RData::Unknown {
                code: RecordType::DNAME,
                rdata: NULL::with(wire),
            })
        }
        RecordType::SOA
        | RecordType::A
        | RecordType::AAAA
        | RecordType::NS
        | RecordType::CNAME
        | RecordType::PTR
        | RecordType::MX
        | RecordType::TXT
        | RecordType::SRV
        | RecordType::CAA
        | RecordType::NAPTR
        | RecordType::SSHFP
        | RecordType::TLSA
        | RecordType::HTTPS
        | RecordType::SVCB
        | RecordType::HINFO
        | RecordType::OPENPGPKEY
        | RecordType::CERT
        | RecordType::SMIMEA => {
            let needed = min_tokens(rtype);
            if texts.len() < needed {
                return Err(format!(
                    "{rtype} record needs {needed} fields, found {}",
                    texts.len()
                ));
            }
            if let Some(max) = max_tokens(rtype) {
                if texts.len() > max {
                    return Err(format!(
                        "{rtype} record takes {max} fields, found {}",
                        texts.len()
                    ));
                }
            }
            RData::try_from_str(rtype, &texts.join(" "))
                .map_err(|e| format!("bad {rtype} record data: {e}"))
        }
        other => Err(format!(
            "record type {other} is not supported in zone files"
        )),
    }
}

fn min_tokens(t: RecordType) -> usize {
    match t {
        RecordType::SOA => 7,
        RecordType::MX => 2,
        RecordType::SRV | RecordType::TLSA => 4,
        RecordType::NAPTR => 6,
        RecordType::SSHFP | RecordType::CAA => 3,
        RecordType::HTTPS | RecordType::SVCB | RecordType::HINFO => 2,
        _ => 1,
    }
}

/// Types with a fixed field count; hickory ignores extra fields, which would hide typos.
fn max_tokens(t: RecordType) -> Option<usize> {
    match t {
        RecordType::A | RecordType::AAAA | RecordType::NS | RecordType::CNAME | RecordType::PTR => {
            Some(1)
        }
        RecordType::SOA => Some(7),
        RecordType::MX => Some(2),
        RecordType::SRV => Some(4),
        RecordType::NAPTR => Some(6),
        RecordType::HINFO => Some(2),
        _ => None,
    }
}

/// DS (RFC 4034 §5.3): key tag, algorithm, digest type, then the digest in hex, which
/// may be split by blanks.
fn parse_ds(texts: &[String]) -> Result<RData, String> {
    if texts.len() < 4 {
        return Err("DS record needs a key tag, an algorithm, a digest type and a digest".into());
    }
    let key_tag: u16 = texts[0]
        .parse()
        .map_err(|_| format!("bad DS key tag {:?}", texts[0]))?;
    let algorithm: u8 = texts[1]
        .parse()
        .map_err(|_| format!("bad DS algorithm {:?}", texts[1]))?;
    let digest_type: u8 = texts[2]
        .parse()
        .map_err(|_| format!("bad DS digest type {:?}", texts[2]))?;
    let hex: String = texts[3..].concat();
    if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("bad DS digest {hex:?}: expected hexadecimal"));
    }
    let mut wire = Vec::with_capacity(4 + hex.len() / 2);
    wire.extend_from_slice(&key_tag.to_be_bytes());
    wire.push(algorithm);
    wire.push(digest_type);
    for i in (0..hex.len()).step_by(2) {
        wire.push(u8::from_str_radix(&hex[i..i + 2], 16).expect("checked hex"));
    }
    Ok(RData::Unknown {
        code: RecordType::DS,
        rdata: NULL::with(wire),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::dname_target;

    fn parse_str(src: &str) -> (Vec<SourceRecord>, Diagnostics) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("example.com.zone");
        std::fs::write(&p, src).unwrap();
        let mut d = Diagnostics::default();
        let recs = read_zone_file(
            &p,
            &Name::from_str("example.com.").unwrap(),
            &mut d,
            &mut Vec::new(),
        );
        (recs, d)
    }

    #[test]
    fn relative_names_origin_and_ttl() {
        let (r, d) = parse_str(
            "$TTL 300\n@ IN SOA ns1 hostmaster 1 2 3 4 5\n  NS ns1\nns1 60 A 192.0.2.1\n\
             $ORIGIN sub\nwww CNAME @\nmx MX 10 mail.other.\n",
        );
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(r.len(), 5);
        assert_eq!(r[1].name.to_string(), "example.com.");
        assert_eq!(r[1].rdata.to_string(), "ns1.example.com.");
        assert_eq!(r[2].ttl, Some(60));
        assert_eq!(r[3].name.to_string(), "www.sub.example.com.");
        assert_eq!(r[3].rdata.to_string(), "sub.example.com.");
        assert_eq!(r[4].ttl, Some(300));
    }

    #[test]
    fn ds_and_dname() {
        let (r, d) = parse_str(
            "child DS 60485 5 1 ( 2BB183AF5F22588179A53B0A\n 98631FAD1A292118 )\nold DNAME new\n",
        );
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(r[0].rdata.record_type(), RecordType::DS);
        assert_eq!(
            dname_target(&r[1].rdata).unwrap().to_string(),
            "new.example.com."
        );
    }

    #[test]
    fn errors_name_the_line() {
        let (_, d) = parse_str("a A 192.0.2.1\nb A not-an-ip\nc FOO x\nd A 1.2.3.4 5.6.7.8\n");
        let lines: Vec<usize> = d.errors().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4]);
    }
}
