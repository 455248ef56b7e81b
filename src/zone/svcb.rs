//! SVCB and HTTPS (RFC 9460) from presentation format to wire form: the priority, the
//! target, then the parameters sorted by key (§2.2: the presentation format may list
//! them in any order, the wire form may not), each key once, every `mandatory` key
//! present (§8). Values may be quoted, lists escape their commas (Appendix A.1), and any
//! key may be written `keyNNNNN`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable};

use super::lexer::Token;
use super::text;

const KEYS: [&str; 9] = [
    "mandatory",
    "alpn",
    "no-default-alpn",
    "port",
    "ipv4hint",
    "ech",
    "ipv6hint",
    "dohpath",
    "ohttp",
];

/// The record data's wire form.
pub fn parse(tokens: &[Token], origin: &Name) -> Result<Vec<u8>, String> {
    let priority: u16 = tokens[0]
        .text()
        .parse()
        .map_err(|_| format!("bad SvcPriority {:?}", tokens[0].text()))?;
    let target = text::name(&tokens[1].raw, origin)?;
    let mut params: BTreeMap<u16, Vec<u8>> = BTreeMap::new();
    let mut rest = &tokens[2..];
    while let Some((tok, after)) = rest.split_first() {
        rest = after;
        let raw = tok.raw.as_str();
        let (key, value) = match raw.split_once('=') {
            // `key="value"`: the scanner gave the quoted value a token of its own.
            Some((k, "")) => match rest.split_first() {
                Some((v, after)) if v.quoted => {
                    rest = after;
                    (k, Some(v.raw.as_str()))
                }
                _ => (k, Some("")),
            },
            Some((k, v)) => (k, Some(v)),
            None => (raw, None),
        };
        let code = key_code(key)?;
        let wire = value_wire(code, key, value)?;
        if params.insert(code, wire).is_some() {
            return Err(format!("SvcParamKey {key} appears twice"));
        }
    }
    if let Some(mandatory) = params.get(&0) {
        for pair in mandatory.chunks(2) {
            let code = u16::from_be_bytes([pair[0], pair[1]]);
            if code == 0 {
                return Err("mandatory lists itself".into());
            }
            if !params.contains_key(&code) {
                return Err(format!(
                    "mandatory lists {}, which the record does not have",
                    key_name(code)
                ));
            }
        }
    }
    let mut wire = priority.to_be_bytes().to_vec();
    wire.extend(target.to_bytes().map_err(|e| e.to_string())?);
    for (code, value) in params {
        let len = u16::try_from(value.len()).map_err(|_| "a SvcParamValue over 65535 octets")?;
        wire.extend_from_slice(&code.to_be_bytes());
        wire.extend_from_slice(&len.to_be_bytes());
        wire.extend(value);
    }
    Ok(wire)
}

fn key_code(key: &str) -> Result<u16, String> {
    let lower = key.to_ascii_lowercase();
    if let Some(i) = KEYS.iter().position(|k| *k == lower) {
        return Ok(i as u16);
    }
    match lower.strip_prefix("key").map(str::parse::<u16>) {
        // key65535 is reserved (§14.3.2), but NSD and Knot load it: so does hadns.
        Some(Ok(code)) => Ok(code),
        _ => Err(format!("unknown SvcParamKey {key:?}")),
    }
}

fn key_name(code: u16) -> String {
    KEYS.get(usize::from(code))
        .map_or_else(|| format!("key{code}"), |k| k.to_string())
}

/// The value's wire form for its key (RFC 9460 §7, §8).
fn value_wire(code: u16, key: &str, value: Option<&str>) -> Result<Vec<u8>, String> {
    let needed = || value.ok_or_else(|| format!("{key} needs a value"));
    let list = || -> Result<Vec<Vec<u8>>, String> {
        let items = split_list(needed()?)?;
        if items.iter().any(|i| i.is_empty()) {
            return Err(format!("{key}: an empty item"));
        }
        Ok(items)
    };
    let ascii = |item: &[u8]| String::from_utf8_lossy(item).into_owned();
    Ok(match code {
        0 => {
            let mut codes = Vec::new();
            for item in list()? {
                let code = key_code(&ascii(&item))?;
                if codes.contains(&code) {
                    return Err(format!("mandatory lists {} twice", ascii(&item)));
                }
                codes.push(code);
            }
            codes.sort_unstable();
            codes.iter().flat_map(|c| c.to_be_bytes()).collect()
        }
        1 => {
            let mut wire = Vec::new();
            for id in list()? {
                let len = u8::try_from(id.len()).map_err(|_| "an alpn id over 255 octets")?;
                wire.push(len);
                wire.extend(id);
            }
            wire
        }
        2 | 8 => match value {
            None | Some("") | Some("\"\"") => Vec::new(),
            Some(_) => return Err(format!("{key} takes no value")),
        },
        3 => {
            let v = text::unescape(needed()?)?;
            let port: u16 = ascii(&v)
                .parse()
                .map_err(|_| format!("bad port {:?}", ascii(&v)))?;
            port.to_be_bytes().to_vec()
        }
        4 => hints(key, list()?, |a: Ipv4Addr| a.octets().to_vec())?,
        6 => hints(key, list()?, |a: Ipv6Addr| a.octets().to_vec())?,
        5 => text::base64(&ascii(&text::unescape(needed()?)?))
            .ok_or_else(|| format!("bad {key}: expected base64"))?,
        _ => text::unescape(value.unwrap_or(""))?,
    })
}

/// An ipv4hint or ipv6hint list, each address in its wire form.
fn hints<A: std::str::FromStr>(
    key: &str,
    items: Vec<Vec<u8>>,
    octets: impl Fn(A) -> Vec<u8>,
) -> Result<Vec<u8>, String> {
    let mut wire = Vec::new();
    for item in items {
        let text = String::from_utf8_lossy(&item);
        let a: A = text.parse().map_err(|_| format!("bad {key} {text:?}"))?;
        wire.extend(octets(a));
    }
    Ok(wire)
}

/// A value-list (RFC 9460 Appendix A.1): the value is first a character-string (its
/// escapes decoded), whose items are then split at commas; a comma or backslash inside
/// an item is escaped by a backslash at that second level (`alpn="a\\,b"` in a
/// zone file is the one item `a,b`).
fn split_list(raw: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = text::unescape(raw)?;
    let mut items = vec![Vec::new()];
    let mut i = 0;
    while i < bytes.len() {
        let item = items.last_mut().expect("one item");
        match bytes[i] {
            b'\\' => {
                let next = bytes.get(i + 1).ok_or("a \\ at the end of a list")?;
                item.push(*next);
                i += 1;
            }
            b',' => items.push(Vec::new()),
            b => item.push(b),
        }
        i += 1;
    }
    Ok(items)
}

/// The presentation form of SVCB or HTTPS record data (the inverse of [`parse`]), each
/// value written as a character-string by `quote`; None if the wire form is malformed.
pub fn present(wire: &[u8], quote: impl Fn(&[u8]) -> String) -> Option<String> {
    let mut decoder = BinDecoder::new(wire);
    let priority = decoder.read_u16().ok()?.unverified();
    let target = Name::read(&mut decoder).ok()?;
    let mut out = format!("{priority} {target}");
    while !decoder.is_empty() {
        let code = decoder.read_u16().ok()?.unverified();
        let len = decoder.read_u16().ok()?.unverified();
        let value = decoder.read_slice(usize::from(len)).ok()?.unverified();
        let list = |items: &mut dyn Iterator<Item = Vec<u8>>| {
            let items: Vec<Vec<u8>> = items.collect();
            quote(&items.join(&b","[..]))
        };
        let shown = match code {
            0 => Some(list(&mut value.chunks(2).map(|c| {
                let code = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
                key_name(code).into_bytes()
            }))),
            1 => {
                let mut ids = Vec::new();
                let mut rest = value;
                while let [len, tail @ ..] = rest {
                    let (id, after) = tail.split_at_checked(usize::from(*len))?;
                    // A comma or backslash inside an item is escaped at the list level.
                    let mut item = Vec::new();
                    for &b in id {
                        if b == b',' || b == b'\\' {
                            item.push(b'\\');
                        }
                        item.push(b);
                    }
                    ids.push(item);
                    rest = after;
                }
                Some(list(&mut ids.into_iter()))
            }
            2 | 8 if value.is_empty() => None,
            3 => Some(u16::from_be_bytes(value.try_into().ok()?).to_string()),
            4 if value.len() % 4 == 0 => Some(list(&mut value.chunks(4).map(|c| {
                Ipv4Addr::from(<[u8; 4]>::try_from(c).unwrap_or_default())
                    .to_string()
                    .into_bytes()
            }))),
            6 if value.len() % 16 == 0 => Some(list(&mut value.chunks(16).map(|c| {
                Ipv6Addr::from(<[u8; 16]>::try_from(c).unwrap_or_default())
                    .to_string()
                    .into_bytes()
            }))),
            5 => Some(text::base64_encode(value)),
            _ => Some(quote(value)),
        };
        out.push(' ');
        out.push_str(&key_name(code));
        if let Some(v) = shown {
            out.push('=');
            out.push_str(&v);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::lexer;
    use std::str::FromStr;

    fn wire(rdata: &str) -> Result<Vec<u8>, String> {
        let tokens: Vec<Token> = lexer::entries(rdata).unwrap().remove(0).tokens;
        parse(&tokens, &Name::from_str("example.").unwrap())
    }

    #[test]
    fn keys_are_sorted_and_quoted_values_read() {
        let a = wire("1 . port=8443 alpn=h2,h3").unwrap();
        let b = wire("1 . alpn=\"h2,h3\" port=\"8443\"").unwrap();
        assert_eq!(a, b);
        // priority, root target, alpn (1) before port (3)
        assert_eq!(&a[..3], &[0, 1, 0]);
        assert_eq!(&a[3..5], &[0, 1]);
        assert_eq!(&a[a.len() - 6..], &[0, 3, 0, 2, 0x20, 0xfb]);
        assert_eq!(
            wire("1 . key3=8443").unwrap(),
            wire("1 . port=8443").unwrap()
        );
    }

    #[test]
    fn escaped_commas_stay_in_the_item() {
        let w = wire(r#"1 . alpn="a\\,b,c""#).unwrap();
        assert_eq!(&w[7..], &[3, b'a', b',', b'b', 1, b'c']);
    }

    #[test]
    fn invalid_sets_are_refused() {
        assert!(wire("1 . port=1 port=2").unwrap_err().contains("twice"));
        assert!(wire("1 . mandatory=alpn port=1")
            .unwrap_err()
            .contains("does not have"));
        assert!(wire("1 . nope=1").is_err());
    }
}
