//! Writes a DNS message into a reused buffer with no allocation: our own name compression
//! (RFC 1035 §4.1.4) over a small table of names already written.
//!
//! The query name is written at offset 12 and is a compression target only as a whole,
//! and through the labels of its zone's apex and above; never through its own leading
//! labels. So the bytes after the question depend on the query name only through its
//! length: a response prepared for one name serves every name that lands the same way
//! (a wildcard, an NXDOMAIN, a referral), once the name is written in and the pointers
//! listed in [`Written::pointers`] are moved by the change in length ([`respell`]).

use hickory_proto::rr::{Name, RData};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

use super::lookup::RRsetOut;
use super::wire::{CLASS_IN, HEADER_LEN};

/// Names (and suffixes) remembered as compression targets per message.
const MAX_TARGETS: usize = 64;
/// Pointers reach only this far into a message.
const MAX_POINTER: usize = 0x3fff;
/// The query name's place.
const QNAME_AT: u16 = HEADER_LEN as u16;

/// Which names may point at the whole query name (offset 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QnameRefs {
    /// Any name, or the end of any name: for a response to this name only.
    Any,
    /// Only a record's owner that is the query name: for a response respelled for other
    /// names whose records are owned by the query name (a wildcard's).
    Owners,
    /// None: for a response respelled for other names where nothing is owned by the
    /// query name (an NXDOMAIN, a referral), though zone data may equal it.
    Never,
}

/// A message being written.
pub struct Writer<'a> {
    out: &'a mut Vec<u8>,
    /// Where names that later names may point to start.
    targets: [u16; MAX_TARGETS],
    n_targets: usize,
    /// Where compression pointers after the question were written, other than those to
    /// the whole query name.
    pointers: &'a mut Vec<u16>,
    qname_refs: QnameRefs,
}

/// A place to go back to when an RRset does not fit.
#[derive(Clone, Copy)]
pub struct Mark {
    len: usize,
    n_targets: usize,
    n_pointers: usize,
}

impl<'a> Writer<'a> {
    /// Starts a message in `out` (cleared): `header`, then the question. `apex_len` is
    /// the length in wire form of the zone's apex that ends `qname` (0 when none).
    pub fn new(
        out: &'a mut Vec<u8>,
        pointers: &'a mut Vec<u16>,
        header: [u8; HEADER_LEN],
        (qname, qtype, qclass): (&Name, u16, u16),
        apex_len: usize,
        qname_refs: QnameRefs,
    ) -> Self {
        out.clear();
        pointers.clear();
        out.extend_from_slice(&header);
        let mut w = Writer {
            out,
            targets: [0; MAX_TARGETS],
            n_targets: 0,
            pointers,
            qname_refs,
        };
        w.add_target(QNAME_AT as usize);
        let start = w.out.len();
        for label in qname.iter() {
            w.out.push(label.len() as u8);
            w.out.extend_from_slice(label);
        }
        w.out.push(0);
        let qlen = w.out.len() - start;
        // The apex and its ancestors: the labels every name of the zone ends with.
        let apex_at = start + qlen.saturating_sub(apex_len.max(1));
        let mut at = start;
        while w.out[at] != 0 {
            if at >= apex_at && at != start {
                w.add_target(at);
            }
            at += 1 + usize::from(w.out[at]);
        }
        w.out.extend_from_slice(&qtype.to_be_bytes());
        w.out.extend_from_slice(&qclass.to_be_bytes());
        w
    }

    pub fn len(&self) -> usize {
        self.out.len()
    }

    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    pub fn mark(&self) -> Mark {
        Mark {
            len: self.out.len(),
            n_targets: self.n_targets,
            n_pointers: self.pointers.len(),
        }
    }

    pub fn reset(&mut self, mark: Mark) {
        self.out.truncate(mark.len);
        self.n_targets = mark.n_targets;
        self.pointers.truncate(mark.n_pointers);
    }

    fn add_target(&mut self, at: usize) {
        if at <= MAX_POINTER && self.n_targets < MAX_TARGETS {
            self.targets[self.n_targets] = at as u16;
            self.n_targets += 1;
        }
    }

    /// Writes every record of `set`; returns how many, or None when the message would
    /// pass 64 KiB.
    pub fn rrset(&mut self, set: &RRsetOut<'_>) -> Option<u16> {
        for rdata in set.rdatas.iter() {
            self.name(&set.owner, true);
            self.out
                .extend_from_slice(&u16::from(set.rtype).to_be_bytes());
            self.out.extend_from_slice(&CLASS_IN.to_be_bytes());
            self.out.extend_from_slice(&set.ttl.to_be_bytes());
            let len_at = self.out.len();
            self.out.extend_from_slice(&[0, 0]);
            self.rdata(rdata)?;
            let len = u16::try_from(self.out.len() - len_at - 2).ok()?;
            self.out[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
            if self.out.len() > usize::from(u16::MAX) {
                return None;
            }
        }
        Some(set.rdatas.len() as u16)
    }

    /// Record data: names compressed in the types RFC 3597 §4 allows it for; every other
    /// type through hickory-proto's encoder, its names uncompressed.
    fn rdata(&mut self, rdata: &RData) -> Option<()> {
        match rdata {
            RData::A(a) => self.out.extend_from_slice(&a.0.octets()),
            RData::AAAA(a) => self.out.extend_from_slice(&a.0.octets()),
            RData::NS(ns) => self.name(&ns.0, false),
            RData::CNAME(c) => self.name(&c.0, false),
            RData::PTR(p) => self.name(&p.0, false),
            RData::MX(mx) => {
                self.out.extend_from_slice(&mx.preference.to_be_bytes());
                self.name(&mx.exchange, false);
            }
            RData::SOA(soa) => {
                self.name(&soa.mname, false);
                self.name(&soa.rname, false);
                for v in [
                    soa.serial,
                    soa.refresh as u32,
                    soa.retry as u32,
                    soa.expire as u32,
                    soa.minimum,
                ] {
                    self.out.extend_from_slice(&v.to_be_bytes());
                }
            }
            // Kept in wire form by the zone reader (DNAME, CAA, DS, SVCB, HTTPS…).
            RData::Unknown { rdata, .. } => self.out.extend_from_slice(&rdata.anything),
            other => {
                let at = self.out.len() as u32;
                let mut enc = BinEncoder::with_offset(self.out, at);
                enc.set_name_encoding(NameEncoding::Uncompressed);
                other.emit(&mut enc).ok()?;
            }
        }
        Some(())
    }

    /// Writes `name` (a record's owner, or a name in its data): as a pointer to the
    /// longest suffix already written, after the labels before it; each label written
    /// becomes a target.
    fn name(&mut self, name: &Name, owner: bool) {
        let mut labels: [&[u8]; 128] = [&[]; 128];
        let mut n = 0;
        for label in name.iter().take(128) {
            labels[n] = label;
            n += 1;
        }
        let labels = &labels[..n];
        for i in 0..n {
            let qname_ok = match self.qname_refs {
                QnameRefs::Any => true,
                QnameRefs::Owners => owner && i == 0,
                QnameRefs::Never => false,
            };
            let found = self.targets[..self.n_targets]
                .iter()
                .copied()
                .filter(|&t| t != QNAME_AT || qname_ok)
                .find(|&t| self.same_name(usize::from(t), &labels[i..]));
            if let Some(target) = found {
                self.labels(&labels[..i]);
                if target != QNAME_AT {
                    self.pointers.push(self.out.len() as u16);
                }
                self.out.extend_from_slice(&(0xc000 | target).to_be_bytes());
                return;
            }
        }
        self.labels(labels);
        self.out.push(0);
    }

    fn labels(&mut self, labels: &[&[u8]]) {
        for label in labels {
            let at = self.out.len();
            self.add_target(at);
            self.out.push(label.len() as u8);
            self.out.extend_from_slice(label);
        }
    }

    /// Whether the name written at `at` is `labels` (then the root), ignoring case.
    fn same_name(&self, mut at: usize, labels: &[&[u8]]) -> bool {
        let msg = &self.out[..];
        let follow = |at: &mut usize| {
            // Pointers written here always go back, so this ends.
            while msg[*at] & 0xc0 == 0xc0 {
                *at = usize::from(u16::from_be_bytes([msg[*at] & 0x3f, msg[*at + 1]]));
            }
        };
        for label in labels {
            follow(&mut at);
            let len = usize::from(msg[at]);
            if len != label.len() || !msg[at + 1..at + 1 + len].eq_ignore_ascii_case(label) {
                return false;
            }
            at += 1 + len;
        }
        follow(&mut at);
        msg[at] == 0
    }
}

/// Rewrites `message` (prepared for a query name of `old_len` octets, with pointers at
/// `pointers`) into `out` for `qname` (in wire form): the name written in, every listed
/// pointer moved by the difference. None when a pointer would no longer reach.
pub fn respell(
    message: &[u8],
    old_len: usize,
    pointers: &[u16],
    qname: &[u8],
    out: &mut Vec<u8>,
) -> Option<()> {
    let tail = HEADER_LEN + old_len;
    out.clear();
    out.extend_from_slice(&message[..HEADER_LEN]);
    out.extend_from_slice(qname);
    out.extend_from_slice(&message[tail..]);
    let delta = qname.len() as isize - old_len as isize;
    for &p in pointers {
        let at = (p as isize + delta) as usize;
        let old = usize::from(u16::from_be_bytes([out[at] & 0x3f, out[at + 1]]));
        let new = (old as isize + delta) as usize;
        if new > MAX_POINTER {
            return None;
        }
        out[at..at + 2].copy_from_slice(&(0xc000 | new as u16).to_be_bytes());
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Message;
    use hickory_proto::rr::rdata::{MX, NS, SOA};
    use hickory_proto::rr::RecordType;
    use std::borrow::Cow;
    use std::str::FromStr;

    fn name(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    fn set(owner: &str, rtype: RecordType, rdatas: Vec<RData>) -> RRsetOut<'static> {
        RRsetOut::new(name(owner), rtype, 300, Cow::Owned(rdatas))
    }

    fn soa() -> RRsetOut<'static> {
        set(
            "example.com.",
            RecordType::SOA,
            vec![RData::SOA(SOA::new(
                name("ns1.example.com."),
                name("hostmaster.example.com."),
                1,
                2,
                3,
                4,
                5,
            ))],
        )
    }

    fn write(qname: &str, sets: &[RRsetOut<'_>]) -> (Vec<u8>, Vec<u16>) {
        write_with(qname, sets, QnameRefs::Any)
    }

    fn write_with(qname: &str, sets: &[RRsetOut<'_>], refs: QnameRefs) -> (Vec<u8>, Vec<u16>) {
        let (mut out, mut pointers) = (Vec::new(), Vec::new());
        let mut w = Writer::new(
            &mut out,
            &mut pointers,
            [0, 1, 0x84, 0, 0, 1, 0, 0, 0, sets.len() as u8, 0, 0],
            (&name(qname), 1, 1),
            "example.com.".len() + 1,
            refs,
        );
        for s in sets {
            w.rrset(s).unwrap();
        }
        (out, pointers)
    }

    #[test]
    fn messages_read_back_and_names_are_compressed() {
        let sets = [
            soa(),
            set(
                "example.com.",
                RecordType::NS,
                vec![RData::NS(NS(name("ns1.example.com.")))],
            ),
            set(
                "example.com.",
                RecordType::MX,
                vec![RData::MX(MX::new(10, name("Mail.Example.COM.")))],
            ),
        ];
        let (out, _) = write("nope.example.com.", &sets);
        let m = Message::from_vec(&out).unwrap();
        assert_eq!(m.authorities.len(), 3);
        assert_eq!(&m.authorities[0].name, &name("example.com."));
        assert_eq!(
            &m.authorities[1].data,
            &RData::NS(NS(name("ns1.example.com.")))
        );
        // Not one name is written twice in full.
        assert_eq!(out.windows(8).filter(|w| w == b"\x07example").count(), 1);
    }

    fn wire(name: &str) -> Vec<u8> {
        let mut wire = Vec::new();
        for l in name.trim_end_matches('.').split('.') {
            wire.push(l.len() as u8);
            wire.extend_from_slice(l.as_bytes());
        }
        wire.push(0);
        wire
    }

    #[test]
    fn a_prepared_message_serves_another_name() {
        let sets = [soa()];
        // Prepared for a name that its data happens to hold (the SOA's mname).
        let first = "ns1.example.com.";
        let (prepared, pointers) = write_with(first, &sets, QnameRefs::Never);
        let other = "some-much-longer-name.example.com.";
        let mut out = Vec::new();
        respell(
            &prepared,
            first.len() + 1,
            &pointers,
            &wire(other),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, write_with(other, &sets, QnameRefs::Never).0);
        let m = Message::from_vec(&out).unwrap();
        assert_eq!(&m.authorities[0].data, sets[0].rdatas.first().unwrap());
        assert_eq!(m.queries[0].name(), &name(other));
    }

    #[test]
    fn a_wildcards_records_follow_the_name_but_its_data_does_not() {
        let sets = [set(
            "foo.example.com.",
            RecordType::MX,
            vec![RData::MX(MX::new(10, name("foo.example.com.")))],
        )];
        let (prepared, pointers) = write_with("foo.example.com.", &sets, QnameRefs::Owners);
        let mut out = Vec::new();
        respell(
            &prepared,
            17,
            &pointers,
            &wire("bar.example.com."),
            &mut out,
        )
        .unwrap();
        let m = Message::from_vec(&out).unwrap();
        assert_eq!(m.authorities[0].name, name("bar.example.com."));
        assert_eq!(
            m.authorities[0].data,
            RData::MX(MX::new(10, name("foo.example.com.")))
        );
    }

    #[test]
    fn records_owned_by_the_query_name_point_at_it() {
        let sets = [set(
            "x.example.com.",
            RecordType::NS,
            vec![RData::NS(NS(name("ns.example.com.")))],
        )];
        let (out, pointers) = write("x.example.com.", &sets);
        let owner_at = HEADER_LEN + "x.example.com.".len() + 1 + 4;
        assert_eq!(&out[owner_at..owner_at + 2], &[0xc0, 12]);
        assert_eq!(pointers.len(), 1, "only the pointer to the apex moves");
    }
}
