//! Presentation format (RFC 1035 §5.1): names and character-strings as zone files write
//! them, read into wire form here rather than by hickory-proto's text parsers, which
//! decode `\DDD` wrongly and refuse names that RFC 2181 §11 allows (any octet in a
//! label: escaped blanks, `;`, `(`, `)`, `\\`, `\000`, `/`, a `*` or a leading `-`).

use hickory_proto::rr::Name;

use super::lexer::Token;

/// The octets a token stands for: quotes removed, `\DDD` (three decimal digits) one
/// octet, `\X` the character X.
pub fn unescape(raw: &str) -> Result<Vec<u8>, String> {
    let text = raw
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(raw);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let (octet, used) = escape(bytes, i)?;
        out.push(octet);
        i += used;
    }
    Ok(out)
}

/// The escape at `bytes[i]` (a backslash): its octet and how many bytes it spans.
fn escape(bytes: &[u8], i: usize) -> Result<(u8, usize), String> {
    let rest = &bytes[i + 1..];
    match rest {
        [a, b, c, ..] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            let v = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
            let octet = u8::try_from(v).map_err(|_| format!("\\{v} is not an octet (0-255)"))?;
            Ok((octet, 4))
        }
        [d, ..] if d.is_ascii_digit() => {
            Err("a \\ followed by a digit takes three digits (\\DDD)".into())
        }
        [x, ..] => Ok((*x, 2)),
        [] => Err("a \\ at the end of the text".into()),
    }
}

/// A domain name (RFC 1035 §5.1): labels split at unescaped dots, escapes decoded; a
/// name without a final dot is relative to `origin`; `@` is the origin.
pub fn name(raw: &str, origin: &Name) -> Result<Name, String> {
    if raw == "@" {
        return Ok(origin.clone());
    }
    let bad = |m: &str| format!("bad domain name {raw:?}: {m}");
    if raw == "." {
        return Ok(Name::root());
    }
    // Written straight into wire form, a relative name followed by the origin's labels,
    // then read by the wire decoder: no allocation per label.
    let bytes = raw.as_bytes();
    let mut wire = Vec::with_capacity(bytes.len() + 2 + origin.len());
    // Where the length octet of the label being read stands.
    let mut start = 0;
    wire.push(0);
    let mut absolute = false;
    let close = |wire: &mut Vec<u8>, start: usize| -> Result<(), String> {
        let len = wire.len() - start - 1;
        if len > 63 {
            return Err(bad(&format!("a label of {len} octets (63 at most)")));
        }
        wire[start] = len as u8;
        Ok(())
    };
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let (octet, used) = escape(bytes, i).map_err(|m| bad(&m))?;
                wire.push(octet);
                i += used;
                continue;
            }
            b'.' => {
                if wire.len() == start + 1 {
                    return Err(bad("an empty label"));
                }
                close(&mut wire, start)?;
                absolute = i + 1 == bytes.len();
                start = wire.len();
                wire.push(0);
            }
            b => wire.push(b),
        }
        i += 1;
    }
    if wire.len() > start + 1 {
        close(&mut wire, start)?;
        wire.push(0);
    }
    if !absolute {
        wire.pop();
        for label in origin.iter() {
            wire.push(label.len() as u8);
            wire.extend_from_slice(label);
        }
        wire.push(0);
    }
    if wire.len() > 255 {
        return Err(bad("longer than 255 octets"));
    }
    super::wire_name(&wire).map_err(|e| bad(&e.to_string()))
}

/// A character-string (RFC 1035 §3.3): at most 255 octets.
pub fn character_string(token: &Token) -> Result<Vec<u8>, String> {
    let s = unescape(&token.raw)?;
    if s.len() > 255 {
        return Err(format!(
            "a character-string of {} octets (255 at most; split it into several)",
            s.len()
        ));
    }
    Ok(s)
}

/// Standard base64 (RFC 4648 §4), padded.
pub fn base64_encode(octets: &[u8]) -> String {
    const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(octets.len().div_ceil(3) * 4);
    for chunk in octets.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(DIGITS[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 (RFC 4648 §4), padded or not.
pub fn base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in digits.bytes() {
        acc = (acc << 6) | u32::from(value(c)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn origin() -> Name {
        Name::from_str("example.").unwrap()
    }

    fn labels(n: &Name) -> Vec<Vec<u8>> {
        n.iter().map(|l| l.to_vec()).collect()
    }

    #[test]
    fn decimal_escapes_are_one_octet() {
        assert_eq!(unescape("\"\\065\\066C\"").unwrap(), b"ABC");
        assert_eq!(unescape("a\\\"b\\\\").unwrap(), b"a\"b\\");
        assert_eq!(unescape("\\000\\255").unwrap(), [0, 255]);
        assert!(unescape("\\256").is_err());
        assert!(unescape("\\06").is_err());
        let n = name("s23\\065", &origin()).unwrap();
        assert_eq!(labels(&n), [b"s23A".to_vec(), b"example".to_vec()]);
    }

    #[test]
    fn any_octet_in_a_label() {
        let n = name("a\\ b\\;\\(\\)\\\\\\200\\000.example.", &origin()).unwrap();
        assert_eq!(labels(&n)[0], b"a b;()\\\xc8\x00");
        let n = name("0/25.2.0.192.in-addr.arpa.", &origin()).unwrap();
        assert_eq!(labels(&n)[0], b"0/25");
        let n = name("-lead.a*b", &origin()).unwrap();
        assert_eq!(labels(&n)[..2], [b"-lead".to_vec(), b"a*b".to_vec()]);
        // An escaped dot is part of the label.
        let n = name("a\\.b", &origin()).unwrap();
        assert_eq!(labels(&n)[0], b"a.b");
    }

    #[test]
    fn relative_absolute_and_bad_names() {
        assert_eq!(name("@", &origin()).unwrap(), origin());
        assert!(name(".", &origin()).unwrap().is_root());
        assert_eq!(name("www", &origin()).unwrap().to_string(), "www.example.");
        assert_eq!(name("www.org.", &origin()).unwrap().to_string(), "www.org.");
        assert!(name("a..b", &origin()).is_err());
        assert!(name(&"x".repeat(64), &origin()).is_err());
    }
}
