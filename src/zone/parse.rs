//! Zone-file source: turns the scanner's entries into records, following `$ORIGIN`,
//! `$TTL` and `$INCLUDE`, and qualifying relative names. Names, character-strings,
//! every type with a name in its data, SVCB/HTTPS, DS, DNAME and RFC 3597's generic
//! `\#` form are read here (`text`, `svcb`); the other types' data by hickory-proto.

use super::file::Reading;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use hickory_proto::rr::rdata::{HINFO, MX, NAPTR, NS, NULL, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, BinEncodable, Restrict};
use hickory_proto::serialize::txt::parse_ttl;

use super::lexer::{self, Token};
use super::{svcb, text};
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

/// Where the reader's records go, one at a time. `Break` stops the reading (the sink
/// has said why in `diags`).
pub trait RecordSink {
    fn record(&mut self, rec: SourceRecord, diags: &mut Diagnostics) -> ControlFlow<()>;
}

impl RecordSink for Vec<SourceRecord> {
    fn record(&mut self, rec: SourceRecord, _: &mut Diagnostics) -> ControlFlow<()> {
        self.push(rec);
        ControlFlow::Continue(())
    }
}

/// Reads a zone file (and what it includes) into `sink`. Problems go to `diags`; every
/// file read is stamped into `files_read`, so that a later change to any of them
/// triggers a reload.
pub fn read_zone_file(
    path: &Path,
    origin: &Name,
    reading: &Reading,
    diags: &mut Diagnostics,
    files_read: &mut Vec<FileStamp>,
    sink: &mut dyn RecordSink,
) {
    let mut cx = Reader {
        reading,
        diags,
        files_read,
        out: sink,
        stopped: false,
    };
    cx.file(path, &mut State::new(origin), 0);
}

/// As [`read_zone_file`], the file's text given rather than read (`path` names it in
/// messages and anchors its `$INCLUDE`s): the zone reader without a file system, as
/// fuzzing drives it.
pub fn read_zone_text(
    path: &Path,
    text: &str,
    origin: &Name,
    reading: &Reading,
    diags: &mut Diagnostics,
    sink: &mut dyn RecordSink,
) {
    let mut cx = Reader {
        reading,
        diags,
        files_read: &mut Vec::new(),
        out: sink,
        stopped: false,
    };
    cx.text(path, text, &mut State::new(origin), 0);
}

struct State {
    origin: Name,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    last_owner: Option<Name>,
}

impl State {
    fn new(origin: &Name) -> Self {
        State {
            origin: origin.clone(),
            default_ttl: None,
            last_ttl: None,
            last_owner: None,
        }
    }
}

/// Where the records of a zone file and its includes go, and its problems.
struct Reader<'a> {
    reading: &'a Reading,
    diags: &'a mut Diagnostics,
    files_read: &'a mut Vec<FileStamp>,
    out: &'a mut dyn RecordSink,
    /// The sink said stop: nothing more is read, included files neither.
    stopped: bool,
}

impl Reader<'_> {
    fn file(&mut self, path: &Path, state: &mut State, depth: usize) {
        // Stamped before reading: a write during the read shows up as a change later.
        self.files_read.push(FileStamp::of(path));
        match self.reading.read(path) {
            Ok(text) => self.text(path, &text, state, depth),
            Err(e) => self.diags.push(Diagnostic::error(path, 1, e)),
        }
    }

    fn text(&mut self, path: &Path, text: &str, state: &mut State, depth: usize) {
        let file: Arc<Path> = Arc::from(path);
        for (n, entry) in lexer::scan(text).enumerate() {
            if self.stopped {
                return;
            }
            if n % (1 << 16) == 0 {
                self.reading.progress.mark(path);
            }
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.diags.push(Diagnostic::error(path, e.line, e.message));
                    return;
                }
            };
            let line = entry.line;
            let first = entry.tokens[0].text();
            if !entry.starts_with_blank && first.starts_with('$') {
                let args = &entry.tokens[1..];
                match first.to_ascii_uppercase().as_str() {
                    "$ORIGIN" => match args {
                        [name] => match text::name(name.text(), &state.origin) {
                            Ok(n) => state.origin = n,
                            Err(m) => self.diags.push(Diagnostic::error(path, line, m)),
                        },
                        _ => {
                            self.diags
                                .push(Diagnostic::error(path, line, "$ORIGIN takes one name"))
                        }
                    },
                    "$TTL" => match args {
                        [ttl] => match parse_ttl_token(ttl.text()) {
                            Ok(t) => state.default_ttl = Some(t),
                            Err(m) => self.diags.push(Diagnostic::error(path, line, m)),
                        },
                        _ => self
                            .diags
                            .push(Diagnostic::error(path, line, "$TTL takes one value")),
                    },
                    "$INCLUDE" => {
                        if args.is_empty() || args.len() > 2 {
                            self.diags.push(Diagnostic::error(
                                path,
                                line,
                                "$INCLUDE takes a file name and an optional origin",
                            ));
                            continue;
                        }
                        if depth >= MAX_INCLUDE_DEPTH {
                            self.diags.push(Diagnostic::error(
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
                        let target = match self.reading.include(&target) {
                            Ok(t) => t,
                            Err(m) => {
                                let written = unquote(args[0].text());
                                self.diags.push(Diagnostic::error(
                                    path,
                                    line,
                                    format!("$INCLUDE {written}: {m}"),
                                ));
                                continue;
                            }
                        };
                        // RFC 1035: the origin and owner changes of an included file do not leak out.
                        let saved_origin = state.origin.clone();
                        let saved_owner = state.last_owner.take();
                        if let Some(o) = args.get(1) {
                            match text::name(o.text(), &state.origin) {
                                Ok(n) => state.origin = n,
                                Err(m) => {
                                    self.diags.push(Diagnostic::error(path, line, m));
                                    continue;
                                }
                            }
                        }
                        self.file(&target, state, depth + 1);
                        state.origin = saved_origin;
                        state.last_owner = saved_owner;
                    }
                    other => self.diags.push(Diagnostic::error(
                        path,
                        line,
                        format!("unknown directive {other}"),
                    )),
                }
                continue;
            }
            match parse_record(&entry.tokens, entry.starts_with_blank, state) {
                Ok((name, ttl, rdata)) => {
                    let rec = SourceRecord {
                        file: file.clone(),
                        line,
                        name,
                        ttl,
                        rdata,
                    };
                    self.stopped = self.out.record(rec, self.diags).is_break();
                }
                Err(m) => self.diags.push(Diagnostic::error(path, line, m)),
            }
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
        let n = text::name(rest[0].text(), &state.origin)?;
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
    let rtype = record_type(type_tok.text())?;
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
        || (t.get(..5).is_some_and(|c| c.eq_ignore_ascii_case("CLASS"))
            && t.get(5..).is_some_and(|n| n.parse::<u16>().is_ok()))
}

fn parse_ttl_token(t: &str) -> Result<u32, String> {
    let v = parse_ttl(t).map_err(|_| format!("bad TTL {t:?}"))?;
    if v > MAX_TTL {
        return Err(format!("TTL {t} is above the maximum {MAX_TTL}"));
    }
    Ok(v)
}

/// A record type by its mnemonic or as `TYPEnnn` (RFC 3597 §5).
pub fn record_type(t: &str) -> Result<RecordType, String> {
    let upper = t.to_ascii_uppercase();
    if let Some(code) = upper.strip_prefix("TYPE") {
        if let Ok(code) = code.parse::<u16>() {
            return Ok(RecordType::from(code));
        }
    }
    RecordType::from_str(&upper).map_err(|_| format!("unknown record type {t}"))
}

fn unquote(t: &str) -> &str {
    t.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(t)
}

/// The data of one record of `rtype`, from its tokens.
pub(crate) fn parse_rdata(
    rtype: RecordType,
    tokens: &[Token],
    origin: &Name,
) -> Result<RData, String> {
    if tokens.first().is_some_and(|t| !t.quoted && t.raw == "\\#") {
        return generic(rtype, &tokens[1..]);
    }
    let fields = Fields {
        tokens,
        origin,
        rtype,
    };
    let known = |rdata: RData| Ok(rdata);
    match rtype {
        RecordType::NS => known(RData::NS(NS(fields.only_name()?))),
        RecordType::CNAME => known(RData::CNAME(hickory_proto::rr::rdata::CNAME(
            fields.only_name()?,
        ))),
        RecordType::PTR => known(RData::PTR(PTR(fields.only_name()?))),
        RecordType::DNAME => {
            let wire = fields.only_name()?.to_bytes().map_err(|e| e.to_string())?;
            Ok(unknown(RecordType::DNAME, wire))
        }
        RecordType::MX => {
            fields.count(2, 2)?;
            known(RData::MX(MX::new(fields.number(0)?, fields.name(1)?)))
        }
        RecordType::SRV => {
            fields.count(4, 4)?;
            known(RData::SRV(SRV::new(
                fields.number(0)?,
                fields.number(1)?,
                fields.number(2)?,
                fields.name(3)?,
            )))
        }
        RecordType::SOA => {
            fields.count(7, 7)?;
            let timer = |i: usize| -> Result<i32, String> {
                let v = parse_ttl_token(tokens[i].text())?;
                Ok(v as i32)
            };
            known(RData::SOA(SOA::new(
                fields.name(0)?,
                fields.name(1)?,
                fields.number(2)?,
                timer(3)?,
                timer(4)?,
                timer(5)?,
                parse_ttl_token(tokens[6].text())?,
            )))
        }
        RecordType::TXT => {
            let strings = tokens
                .iter()
                .map(text::character_string)
                .collect::<Result<Vec<_>, _>>()?;
            known(RData::TXT(TXT::from_bytes(
                strings.iter().map(Vec::as_slice).collect(),
            )))
        }
        RecordType::HINFO => {
            fields.count(2, 2)?;
            known(RData::HINFO(HINFO::from_bytes(
                text::character_string(&tokens[0])?.into(),
                text::character_string(&tokens[1])?.into(),
            )))
        }
        RecordType::NAPTR => {
            fields.count(6, 6)?;
            known(RData::NAPTR(NAPTR::new(
                fields.number(0)?,
                fields.number(1)?,
                text::character_string(&tokens[2])?.into(),
                text::character_string(&tokens[3])?.into(),
                text::character_string(&tokens[4])?.into(),
                fields.name(5)?,
            )))
        }
        RecordType::SVCB | RecordType::HTTPS => {
            fields.count(2, usize::MAX)?;
            let wire = svcb::parse(tokens, origin)?;
            Ok(unknown(rtype, wire))
        }
        RecordType::DS => {
            let texts: Vec<String> = tokens.iter().map(|t| t.raw.clone()).collect();
            parse_ds(&texts)
        }
        RecordType::CAA => {
            // RFC 8659 §4.1.1: flags, tag, and a value that may be longer than 255 octets.
            fields.count(3, 3)?;
            let flags: u8 = fields.number(0)?;
            let tag = tokens[1].text();
            if tag.is_empty() || tag.len() > 15 || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(format!("bad CAA tag {tag:?}: 1 to 15 letters and digits"));
            }
            let mut wire = vec![flags, tag.len() as u8];
            wire.extend_from_slice(tag.as_bytes());
            wire.extend(text::unescape(&tokens[2].raw)?);
            Ok(unknown(RecordType::CAA, wire))
        }
        RecordType::A
        | RecordType::AAAA
        | RecordType::SSHFP
        | RecordType::TLSA
        | RecordType::OPENPGPKEY
        | RecordType::CERT
        | RecordType::SMIMEA => {
            let needed = min_tokens(rtype);
            if tokens.len() < needed {
                return Err(format!(
                    "{rtype} record needs {needed} fields, found {}",
                    tokens.len()
                ));
            }
            if matches!(rtype, RecordType::A | RecordType::AAAA) && tokens.len() > 1 {
                return Err(format!("{rtype} record takes 1 fields, found {}", tokens.len()));
            }
            // Addresses, most of a large zone, read straight (the same as hickory would).
            let bad = |e: std::net::AddrParseError| format!("bad {rtype} record data: {e}");
            match rtype {
                RecordType::A => return Ok(RData::A(tokens[0].raw.parse().map_err(bad)?)),
                RecordType::AAAA => return Ok(RData::AAAA(tokens[0].raw.parse().map_err(bad)?)),
                _ => {}
            }
            let texts: Vec<&str> = tokens.iter().map(|t| t.raw.as_str()).collect();
            RData::try_from_str(rtype, &joined(rtype, &texts))
                .map_err(|e| format!("bad {rtype} record data: {e}"))
        }
        other => Err(format!(
            "record type {other} is not supported in zone files (write it in the generic form, \\# <length> <hex>)"
        )),
    }
}

/// The fields of one record's data, read by position.
struct Fields<'a> {
    tokens: &'a [Token],
    origin: &'a Name,
    rtype: RecordType,
}

impl Fields<'_> {
    fn count(&self, min: usize, max: usize) -> Result<(), String> {
        let n = self.tokens.len();
        if n < min {
            return Err(format!(
                "{} record needs {min} fields, found {n}",
                self.rtype
            ));
        }
        if n > max {
            return Err(format!(
                "{} record takes {max} fields, found {n}",
                self.rtype
            ));
        }
        Ok(())
    }

    fn only_name(&self) -> Result<Name, String> {
        self.count(1, 1)?;
        self.name(0)
    }

    fn name(&self, i: usize) -> Result<Name, String> {
        text::name(&self.tokens[i].raw, self.origin)
    }

    fn number<T: FromStr>(&self, i: usize) -> Result<T, String> {
        let t = self.tokens[i].text();
        t.parse()
            .map_err(|_| format!("bad {} field {:?}: expected a number", self.rtype, t))
    }
}

/// Text for hickory's parser: hex and base64 fields that a zone file may split by
/// blanks (RFC 4255 SSHFP, RFC 6698 TLSA, RFC 7929 OPENPGPKEY, RFC 8162 SMIMEA, RFC 4398
/// CERT) joined into one.
fn joined(rtype: RecordType, texts: &[&str]) -> String {
    let fixed = match rtype {
        RecordType::SSHFP => 2,
        RecordType::TLSA | RecordType::SMIMEA => 3,
        RecordType::CERT => 3,
        RecordType::OPENPGPKEY => 0,
        _ => return texts.join(" "),
    };
    if texts.len() <= fixed {
        return texts.join(" ");
    }
    let mut fields: Vec<String> = texts[..fixed].iter().map(|s| s.to_string()).collect();
    if rtype == RecordType::CERT {
        fields[0] = number_of(texts[0], &CERT_TYPES);
        fields[2] = number_of(texts[2], &DNSSEC_ALGORITHMS);
    }
    fields.push(texts[fixed..].concat());
    fields.join(" ")
}

/// RFC 4398 §2.1 certificate type mnemonics.
const CERT_TYPES: [(&str, u8); 10] = [
    ("PKIX", 1),
    ("SPKI", 2),
    ("PGP", 3),
    ("IPKIX", 4),
    ("ISPKI", 5),
    ("IPGP", 6),
    ("ACPKIX", 7),
    ("IACPKIX", 8),
    ("URI", 253),
    ("OID", 254),
];

/// DNSSEC algorithm mnemonics, which RFC 4398 §2.2 lets CERT use.
const DNSSEC_ALGORITHMS: [(&str, u8); 13] = [
    ("RSAMD5", 1),
    ("DH", 2),
    ("DSA", 3),
    ("RSASHA1", 5),
    ("DSA-NSEC3-SHA1", 6),
    ("RSASHA1-NSEC3-SHA1", 7),
    ("RSASHA256", 8),
    ("RSASHA512", 10),
    ("ECC-GOST", 12),
    ("ECDSAP256SHA256", 13),
    ("ECDSAP384SHA384", 14),
    ("ED25519", 15),
    ("ED448", 16),
];

/// A mnemonic of `table` as its number; anything else as written.
fn number_of(t: &str, table: &[(&str, u8)]) -> String {
    let upper = t.to_ascii_uppercase();
    table
        .iter()
        .find(|(m, _)| *m == upper)
        .map_or_else(|| t.to_string(), |(_, n)| n.to_string())
}

/// RFC 3597 §5: `\# <length> <hex…>`, for any type. Known types are decoded (and so
/// checked); others are kept as they are.
fn generic(rtype: RecordType, tokens: &[Token]) -> Result<RData, String> {
    let (len, hex) = tokens
        .split_first()
        .ok_or("\\# needs the data's length in octets")?;
    let len: usize = len
        .text()
        .parse()
        .map_err(|_| format!("bad \\# length {:?}", len.text()))?;
    let hex: String = hex.iter().map(|t| t.text()).collect();
    if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("bad \\# data {hex:?}: expected hexadecimal"));
    }
    let wire: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("checked hex"))
        .collect();
    if wire.len() != len {
        return Err(format!(
            "\\# says {len} octets, the data has {}",
            wire.len()
        ));
    }
    let typed = matches!(
        rtype,
        RecordType::A
            | RecordType::AAAA
            | RecordType::NS
            | RecordType::CNAME
            | RecordType::PTR
            | RecordType::MX
            | RecordType::SRV
            | RecordType::SOA
            | RecordType::TXT
    );
    if !typed {
        return Ok(unknown(rtype, wire));
    }
    let mut decoder = BinDecoder::new(&wire);
    let rdata = RData::read(&mut decoder, rtype, Restrict::new(len as u16))
        .map_err(|e| format!("bad {rtype} data in \\# form: {e}"))?;
    if decoder.index() != wire.len() {
        return Err(format!("bad {rtype} data in \\# form: octets left over"));
    }
    Ok(rdata)
}

/// Data hadns keeps as its wire form.
fn unknown(code: RecordType, wire: Vec<u8>) -> RData {
    // Not `NULL::with`, which asserts data: RFC 3597 allows none.
    let mut rdata = NULL::new();
    rdata.anything = wire;
    RData::Unknown { code, rdata }
}

fn min_tokens(t: RecordType) -> usize {
    match t {
        RecordType::TLSA | RecordType::SMIMEA | RecordType::CERT => 4,
        RecordType::SSHFP => 3,
        _ => 1,
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
        let mut recs = Vec::new();
        read_zone_file(
            &p,
            &Name::from_str("example.com.").unwrap(),
            &Reading::new(dir.path(), 1 << 20),
            &mut d,
            &mut Vec::new(),
            &mut recs,
        );
        (recs, d)
    }

    /// Found by fuzzing: a multi-byte character where a class or TTL may be.
    #[test]
    fn a_multibyte_character_in_a_field_is_an_error_not_a_panic() {
        let (_, d) = parse_str("$TTL 300\n@ SOA ns1 h 1 2 3 4 5\nwww 3600\u{676}N A 192.0.2.1\n");
        assert!(d.has_errors());
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
