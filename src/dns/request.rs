//! Reads a query off the wire. Hand-written rather than hickory's `Message` parser so
//! that every way a packet can be wrong maps to a precise reaction — drop it, FORMERR,
//! NOTIMP, BADVERS — and so that the question is echoed exactly as sent.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::wire::{
    OPCODE_NOTIFY, OPCODE_QUERY, OPT_CLIENT_SUBNET, OPT_COOKIE, OPT_NSID, RCODE_FORMERR,
    RCODE_NOTIMP, TYPE_OPT, TYPE_SOA, TYPE_TSIG,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    /// The client's UDP payload size (RFC 6891 §6.2.3).
    pub payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    pub nsid_requested: bool,
    pub client_subnet: Option<ClientSubnet>,
    /// RFC 7873's COOKIE option, if well formed.
    pub cookie: Option<Cookie>,
}

/// A COOKIE option: the client cookie, and the first 16 octets of the server cookie
/// (ours are 16; `server_len` says how long it was, 0 when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cookie {
    pub client: [u8; 8],
    pub server: [u8; 16],
    pub server_len: u8,
}

/// The EDNS Client Subnet option of a query (RFC 7871 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSubnet {
    /// The address, zero beyond the source prefix.
    pub addr: IpAddr,
    pub source_prefix: u8,
}

impl ClientSubnet {
    /// RFC 7871 §6-§7: family 1 or 2, a source prefix no longer than the family's
    /// address, exactly the octets that prefix needs, and no bits set beyond it.
    fn parse(data: &[u8]) -> Option<ClientSubnet> {
        let (head, addr) = data.split_at_checked(4)?;
        let family = u16::from_be_bytes([head[0], head[1]]);
        let source_prefix = head[2];
        let width = match family {
            1 => 32,
            2 => 128,
            _ => return None,
        };
        if source_prefix > width || addr.len() != usize::from(source_prefix).div_ceil(8) {
            return None;
        }
        let mut full = [0u8; 16];
        full[..addr.len()].copy_from_slice(addr);
        if source_prefix % 8 != 0 {
            let last = addr[addr.len() - 1];
            if last & (0xff >> (source_prefix % 8)) != 0 {
                return None;
            }
        }
        let addr = if family == 1 {
            IpAddr::V4(Ipv4Addr::new(full[0], full[1], full[2], full[3]))
        } else {
            IpAddr::V6(Ipv6Addr::from(full))
        };
        Some(ClientSubnet {
            addr,
            source_prefix,
        })
    }
}

/// A query that parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub id: u16,
    pub opcode: u8,
    /// Recursion desired and checking disabled are copied into the response.
    pub rd: bool,
    pub cd: bool,
    /// The question name exactly as sent (uncompressed wire form, case kept).
    pub qname: &'a [u8],
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<Edns>,
    /// A TSIG record closing the message, if any.
    pub tsig: Option<Tsig<'a>>,
    /// The serial of a SOA in the authority section: what an IXFR client has.
    pub soa_serial: Option<u32>,
}

/// Why a packet is not a query we can answer normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject<'a> {
    /// Not worth an answer: too short to echo an ID, or itself a response.
    Drop,
    /// Answer with this rcode, echoing the question when there was a readable one.
    Error {
        id: u16,
        opcode: u8,
        rd: bool,
        rcode: u16,
        question: Option<(&'a [u8], u16, u16)>,
        /// The query's EDNS, when its OPT was valid: the answer carries an OPT too
        /// (RFC 6891 §7).
        edns: Option<Edns>,
    },
}

pub fn parse(packet: &[u8]) -> Result<Request<'_>, Reject<'_>> {
    if packet.len() < 12 {
        return Err(Reject::Drop);
    }
    let id = u16::from_be_bytes([packet[0], packet[1]]);
    let flags = u16::from_be_bytes([packet[2], packet[3]]);
    if flags & 0x8000 != 0 {
        return Err(Reject::Drop);
    }
    let opcode = ((flags >> 11) & 0xf) as u8;
    let rd = flags & 0x0100 != 0;
    let cd = flags & 0x0010 != 0;
    let count = |i: usize| u16::from_be_bytes([packet[i], packet[i + 1]]) as usize;
    let (qdcount, ancount, nscount, arcount) = (count(4), count(6), count(8), count(10));
    let error = |rcode, question, edns| Reject::Error {
        id,
        opcode,
        rd,
        rcode,
        question,
        edns,
    };

    // The questions: the first is echoed; the others are only skipped, to find the
    // records after them.
    let mut pos = 12;
    let mut question = None;
    for i in 0..qdcount {
        let start = pos;
        let end = question_name_end(packet, pos).ok_or(error(RCODE_FORMERR, None, None))?;
        if packet.len() < end + 4 {
            return Err(error(RCODE_FORMERR, None, None));
        }
        pos = end + 4;
        if i == 0 {
            question = Some((
                &packet[start..end],
                u16::from_be_bytes([packet[end], packet[end + 1]]),
                u16::from_be_bytes([packet[end + 2], packet[end + 3]]),
            ));
        }
    }
    let question = question.filter(|_| qdcount == 1);
    let extra = read_extra(packet, pos, ancount, nscount, arcount);
    let edns = match &extra {
        Ok(x) => x.edns,
        Err(valid_opt) => *valid_opt,
    };
    // The opcodes the dispatch knows; the others are not implemented.
    if opcode != OPCODE_QUERY && opcode != OPCODE_NOTIFY {
        return Err(error(RCODE_NOTIMP, question, edns));
    }
    let Some((qname, qtype, qclass)) = question else {
        // RFC 9619: a QUERY carries exactly one question; so does a NOTIFY (RFC 1996 §3.7).
        return Err(error(RCODE_FORMERR, None, edns));
    };
    let Ok(extra) = extra else {
        return Err(error(RCODE_FORMERR, question, edns));
    };
    Ok(Request {
        id,
        opcode,
        rd,
        cd,
        qname,
        qtype,
        qclass,
        edns: extra.edns,
        tsig: extra.tsig,
        soa_serial: extra.soa_serial,
    })
}

/// The serial of SOA record data: after two names, which may end in a pointer.
fn serial_of_soa(rdata: &[u8]) -> Option<u32> {
    let (mname_end, _) = skip_name(rdata, 0)?;
    let (pos, _) = skip_name(rdata, mname_end)?;
    let serial = rdata.get(pos..pos + 4)?;
    Some(u32::from_be_bytes(serial.try_into().ok()?))
}

/// The end of a name in wire form starting at `pos`: labels up to the root or a
/// compression pointer; and whether it ended in a pointer.
fn skip_name(bytes: &[u8], mut pos: usize) -> Option<(usize, bool)> {
    loop {
        let len = *bytes.get(pos)? as usize;
        match len & 0xc0 {
            0 if len == 0 => return Some((pos + 1, false)),
            0 => pos += 1 + len,
            0xc0 => return Some((pos + 2, true)),
            _ => return None,
        }
    }
}

/// What the records after the question carry for us.
struct Extra<'a> {
    edns: Option<Edns>,
    tsig: Option<Tsig<'a>>,
    /// An IXFR's SOA in the authority section: the serial the client has.
    soa_serial: Option<u32>,
}

/// Skips answer and authority records and reads the additional section's OPT and
/// TSIG. Err when something is malformed: FORMERR, with the OPT when that was valid.
fn read_extra(
    packet: &[u8],
    mut pos: usize,
    ancount: usize,
    nscount: usize,
    arcount: usize,
) -> Result<Extra<'_>, Option<Edns>> {
    let mut edns = None;
    let mut tsig = None;
    let mut soa_serial = None;
    let total = ancount + nscount + arcount;
    let mut malformed = false;
    for i in 0..total {
        let Some(rr) = read_rr(packet, pos) else {
            return Err(edns);
        };
        pos = rr.end;
        match rr.rtype {
            TYPE_OPT => {
                // RFC 6891 §6.1.1: one OPT, in the additional section, owned by the root.
                if i < ancount + nscount || edns.is_some() || !rr.owner_is_root {
                    return Err(None);
                }
                let (opt, ok) = read_opt(&rr);
                edns = opt;
                malformed |= !ok;
            }
            // RFC 8945 §5.1: TSIG is the last record of the additional section.
            TYPE_TSIG if i + 1 == total && i >= ancount + nscount => {
                tsig = Some(Tsig::read(&rr).ok_or(edns)?);
            }
            TYPE_TSIG => malformed = true,
            TYPE_SOA if (ancount..ancount + nscount).contains(&i) => {
                soa_serial = soa_serial.or(serial_of_soa(rr.rdata));
            }
            _ => {}
        }
    }
    if malformed {
        return Err(edns);
    }
    Ok(Extra {
        edns,
        tsig,
        soa_serial,
    })
}

/// The OPT's EDNS (None when its options are cut short), and whether every option was
/// well formed.
fn read_opt(rr: &RawRecord<'_>) -> (Option<Edns>, bool) {
    let mut nsid_requested = false;
    let mut client_subnet = None;
    let mut cookie = None;
    let mut ok = true;
    let mut opts = rr.rdata;
    while !opts.is_empty() {
        if opts.len() < 4 {
            return (None, false);
        }
        let code = u16::from_be_bytes([opts[0], opts[1]]);
        let len = u16::from_be_bytes([opts[2], opts[3]]) as usize;
        if opts.len() < 4 + len {
            return (None, false);
        }
        match code {
            OPT_NSID => nsid_requested = true,
            // RFC 7873 §5.2.2: a client cookie of 8 octets, and a server cookie of 8 to
            // 32 after it if any; any other length is a FORMERR.
            OPT_COOKIE if !(len == 8 || (16..=40).contains(&len)) => ok = false,
            OPT_COOKIE => {
                let data = &opts[4..4 + len];
                let mut c = Cookie {
                    client: data[..8].try_into().expect("8 octets"),
                    server: [0; 16],
                    server_len: (len - 8) as u8,
                };
                let ours = &data[8..len.min(24)];
                c.server[..ours.len()].copy_from_slice(ours);
                cookie = Some(c);
            }
            OPT_CLIENT_SUBNET => {
                // RFC 7871 §7.1.1: a malformed or second ECS option is a FORMERR.
                let ecs = ClientSubnet::parse(&opts[4..4 + len]);
                if ecs.is_none() || client_subnet.is_some() {
                    ok = false;
                }
                client_subnet = client_subnet.or(ecs);
            }
            _ => {}
        }
        opts = &opts[4 + len..];
    }
    let edns = Edns {
        payload: rr.class,
        version: (rr.ttl >> 16) as u8,
        dnssec_ok: rr.ttl & 0x8000 != 0,
        nsid_requested,
        client_subnet: client_subnet.filter(|_| ok),
        cookie: cookie.filter(|_| ok),
    };
    (Some(edns), ok)
}

/// A TSIG record (RFC 8945 §4.2), as much as an answer to it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tsig<'a> {
    /// The key's name, uncompressed wire form.
    pub key: &'a [u8],
    /// The algorithm's name, uncompressed wire form.
    pub algorithm: &'a [u8],
    /// 48-bit seconds since the epoch.
    pub time_signed: [u8; 6],
    pub fudge: u16,
}

impl<'a> Tsig<'a> {
    fn read(rr: &RawRecord<'a>) -> Option<Tsig<'a>> {
        // Names in TSIG are never compressed (§4.2).
        let key = rr
            .owner
            .filter(|o| question_name_end(o, 0) == Some(o.len()))?;
        let end = question_name_end(rr.rdata, 0)?;
        let fixed = rr.rdata.get(end..end + 8)?;
        Some(Tsig {
            key,
            algorithm: &rr.rdata[..end],
            time_signed: fixed[..6].try_into().ok()?,
            fudge: u16::from_be_bytes([fixed[6], fixed[7]]),
        })
    }
}

/// End of an uncompressed name starting at `pos`. A question name may not use
/// compression: nothing precedes it to point to.
fn question_name_end(packet: &[u8], mut pos: usize) -> Option<usize> {
    let start = pos;
    loop {
        let len = *packet.get(pos)? as usize;
        if len & 0xc0 != 0 {
            return None;
        }
        pos += 1 + len;
        if pos - start > 255 {
            return None;
        }
        if len == 0 {
            return Some(pos);
        }
    }
}

struct RawRecord<'a> {
    owner_is_root: bool,
    /// The owner as written, when it is not compressed.
    owner: Option<&'a [u8]>,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: &'a [u8],
    end: usize,
}

fn read_rr(packet: &[u8], start: usize) -> Option<RawRecord<'_>> {
    let owner_is_root = *packet.get(start)? == 0;
    let (pos, compressed) = skip_name(packet, start)?;
    let fixed = packet.get(pos..pos + 10)?;
    let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
    let rdata = packet.get(pos + 10..pos + 10 + rdlen)?;
    let owner = (!compressed).then(|| &packet[start..pos]);
    Some(RawRecord {
        owner_is_root,
        owner,
        rtype: u16::from_be_bytes([fixed[0], fixed[1]]),
        class: u16::from_be_bytes([fixed[2], fixed[3]]),
        ttl: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
        rdata,
        end: pos + 10 + rdlen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], qtype: u16, extra: &[u8], arcount: u16) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&arcount.to_be_bytes());
        p.extend_from_slice(name);
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&1u16.to_be_bytes());
        p.extend_from_slice(extra);
        p
    }

    const OPT_NSID_4096: &[u8] = &[0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 4, 0, 3, 0, 0];

    #[test]
    fn parses_question_and_edns() {
        let p = query(b"\x03WwW\x07example\x00", 1, OPT_NSID_4096, 1);
        let r = parse(&p).unwrap();
        assert_eq!(r.edns.unwrap().client_subnet, None);
        assert_eq!(r.id, 0x1234);
        assert!(r.rd);
        assert_eq!(r.qname, b"\x03WwW\x07example\x00");
        let e = r.edns.unwrap();
        assert_eq!(e.payload, 4096);
        assert!(e.dnssec_ok && e.nsid_requested);
    }

    fn with_ecs(option: &[u8]) -> Vec<u8> {
        let mut opt = vec![0, 0, 41, 0x10, 0, 0, 0, 0, 0];
        opt.extend_from_slice(&((option.len() + 4) as u16).to_be_bytes());
        opt.extend_from_slice(&[0, 8]);
        opt.extend_from_slice(&(option.len() as u16).to_be_bytes());
        opt.extend_from_slice(option);
        query(b"\x00", 1, &opt, 1)
    }

    #[test]
    fn client_subnet() {
        let p = with_ecs(&[0, 1, 24, 0, 198, 51, 100]);
        let ecs = parse(&p).unwrap().edns.unwrap().client_subnet.unwrap();
        assert_eq!(ecs.addr, "198.51.100.0".parse::<IpAddr>().unwrap());
        assert_eq!(ecs.source_prefix, 24);
        let p = with_ecs(&[0, 2, 48, 0, 0x20, 1, 0xd, 0xb8, 0, 1]);
        let ecs = parse(&p).unwrap().edns.unwrap().client_subnet.unwrap();
        assert_eq!(ecs.addr, "2001:db8:1::".parse::<IpAddr>().unwrap());
        assert!(
            parse(&with_ecs(&[0, 1, 0, 0])).is_ok(),
            "source /0 carries no address"
        );
        for bad in [
            &[0, 3, 8, 0, 1][..],            // unknown family
            &[0, 1, 33, 0, 1, 2, 3, 4, 5],   // prefix longer than IPv4
            &[0, 1, 24, 0, 198, 51, 100, 0], // more octets than the prefix needs
            &[0, 1, 23, 0, 198, 51, 101],    // a bit set beyond the prefix
            &[0, 1, 24],                     // cut short
        ] {
            assert!(
                matches!(
                    parse(&with_ecs(bad)),
                    Err(Reject::Error {
                        rcode: RCODE_FORMERR,
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects() {
        assert_eq!(parse(&[0; 11]), Err(Reject::Drop));
        let mut resp = query(b"\x00", 1, &[], 0);
        resp[2] |= 0x80;
        assert_eq!(parse(&resp), Err(Reject::Drop));
        // Truncated question, compression in the question, two OPTs, truncated OPT.
        for bad in [
            query(b"\x03ww", 1, &[], 0)[..14].to_vec(),
            query(b"\xc0\x0c", 1, &[], 0),
            query(b"\x00", 1, &[OPT_NSID_4096, OPT_NSID_4096].concat(), 2),
            query(b"\x00", 1, &OPT_NSID_4096[..12], 1),
        ] {
            assert!(
                matches!(
                    parse(&bad),
                    Err(Reject::Error {
                        rcode: RCODE_FORMERR,
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        let mut update = query(b"\x00", 6, &[], 0);
        update[2] = 5 << 3;
        assert!(matches!(
            parse(&update),
            Err(Reject::Error {
                rcode: RCODE_NOTIMP,
                question: Some(_),
                ..
            })
        ));
        // NOTIFY is parsed and left to the dispatch.
        let mut notify = query(b"\x00", 6, &[], 0);
        notify[2] = OPCODE_NOTIFY << 3;
        assert_eq!(parse(&notify).unwrap().opcode, OPCODE_NOTIFY);
    }
}
