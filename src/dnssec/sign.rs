//! Signing one RRset (RFC 4034 §3 and §6; RFC 4035 §2.2): the RRSIG RDATA, made from
//! the RRset in canonical form. The RRSIG is kept as the bytes it is on the wire, so
//! that whatever answers can replay it.

use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use super::key::Key;
use crate::zone::{dname_target, name_key};

/// What an RRSIG says of itself besides the signature (RFC 4034 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigFields {
    pub type_covered: RecordType,
    pub algorithm: u8,
    /// The owner's labels, not counting the root or a leading `*` (a wildcard's
    /// expansions are signed as the wildcard).
    pub labels: u8,
    pub original_ttl: u32,
    /// Seconds since the epoch, as serial numbers (RFC 1982) on the wire.
    pub expiration: u32,
    pub inception: u32,
    pub key_tag: u16,
    /// The zone's apex, lowercase wire form.
    pub signer: Box<[u8]>,
}

impl SigFields {
    /// The RRSIG RDATA up to the signature.
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&u16::from(self.type_covered).to_be_bytes());
        out.push(self.algorithm);
        out.push(self.labels);
        out.extend_from_slice(&self.original_ttl.to_be_bytes());
        out.extend_from_slice(&self.expiration.to_be_bytes());
        out.extend_from_slice(&self.inception.to_be_bytes());
        out.extend_from_slice(&self.key_tag.to_be_bytes());
        out.extend_from_slice(&self.signer);
    }
}

/// An RDATA in canonical form (RFC 4034 §6.2): uncompressed, and the names of the types
/// listed there in lowercase.
pub fn canonical_rdata(rtype: RecordType, rdata: &RData) -> Vec<u8> {
    // DNAME is kept as RFC 3597 bytes (`zone::parse`), written as the zone file did.
    if rtype == RecordType::DNAME {
        if let Some(target) = dname_target(rdata) {
            return name_key(&target).into_vec();
        }
    }
    let mut out = Vec::new();
    let mut encoder = BinEncoder::new(&mut out);
    encoder.set_canonical_form(true);
    // Emitting into a Vec fails only for data the zone reader never accepts.
    let _ = rdata.emit(&mut encoder);
    out
}

/// The bytes an RRSIG with `fields` signs over the RRset of `rdatas` at `owner` (RFC
/// 4034 §3.1.8.1): the RRSIG fields, then each RR in canonical form and order, once.
/// `owner` is the lowercase wire form of the name as the RRSIG's labels count it (a
/// wildcard's own name for its expansions).
pub fn signed_data(fields: &SigFields, owner: &[u8], rdatas: &[RData]) -> Vec<u8> {
    let mut forms: Vec<Vec<u8>> = rdatas
        .iter()
        .map(|r| canonical_rdata(fields.type_covered, r))
        .collect();
    forms.sort();
    forms.dedup();
    let mut out = Vec::with_capacity(
        64 + forms
            .iter()
            .map(|f| owner.len() + 10 + f.len())
            .sum::<usize>(),
    );
    fields.write(&mut out);
    for form in &forms {
        out.extend_from_slice(owner);
        out.extend_from_slice(&u16::from(fields.type_covered).to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes()); // class IN
        out.extend_from_slice(&fields.original_ttl.to_be_bytes());
        out.extend_from_slice(&(form.len() as u16).to_be_bytes());
        out.extend_from_slice(form);
    }
    out
}

/// The RRSIG RDATA, signed by `key`, over the `rtype` RRset `rdatas` at `owner` with
/// TTL `ttl`, valid from `inception` to `expiration` (seconds since the epoch).
pub fn rrsig(
    key: &Key,
    owner: &Name,
    rtype: RecordType,
    ttl: u32,
    rdatas: &[RData],
    inception: u64,
    expiration: u64,
) -> Vec<u8> {
    let fields = SigFields {
        type_covered: rtype,
        algorithm: key.algorithm.number(),
        // RFC 4034 §3.1.3: hickory's count leaves out the root and a leading `*`.
        labels: owner.num_labels(),
        original_ttl: ttl,
        // RFC 4034 §3.1.5: serial-number arithmetic on 32 bits; the wrap is intended.
        expiration: expiration as u32,
        inception: inception as u32,
        key_tag: key.tag,
        signer: name_key(&key.zone),
    };
    // A wildcard is signed at its own name, `*` included; its expansions replay that
    // signature, and the labels field tells a validator how far it reached.
    let data = signed_data(&fields, &name_key(owner), rdatas);
    let mut out = Vec::with_capacity(18 + fields.signer.len() + 64);
    fields.write(&mut out);
    out.extend_from_slice(&key.sign(&data));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::dnssec::rdata::sig::SigInput;
    use hickory_proto::dnssec::{Algorithm as HickoryAlgorithm, TBS};
    use hickory_proto::rr::rdata::{A, MX};
    use hickory_proto::rr::{DNSClass, Record, SerialNumber};
    use std::str::FromStr;

    /// Our signed data is hickory's, an implementation written apart from ours: same
    /// fields, same canonical order (duplicates once), names in RDATA lowercased.
    #[test]
    fn signed_data_is_canonical_as_hickory_makes_it() {
        let owner = Name::from_str("WWW.Example.com.").unwrap();
        let mx = |p, n: &str| RData::MX(MX::new(p, Name::from_str(n).unwrap()));
        let rdatas = [
            mx(20, "B.example.com."),
            mx(10, "Mail.Example.COM."),
            mx(20, "B.example.com."),
        ];
        let signer = Name::from_str("example.com.").unwrap();
        let fields = SigFields {
            type_covered: RecordType::MX,
            algorithm: 13,
            labels: 3,
            original_ttl: 300,
            expiration: 1_800_000_000,
            inception: 1_790_000_000,
            key_tag: 4242,
            signer: name_key(&signer),
        };
        let ours = signed_data(&fields, &name_key(&owner), &rdatas);
        let input = SigInput {
            type_covered: RecordType::MX,
            algorithm: HickoryAlgorithm::ECDSAP256SHA256,
            num_labels: 3,
            original_ttl: 300,
            sig_expiration: SerialNumber::new(1_800_000_000),
            sig_inception: SerialNumber::new(1_790_000_000),
            key_tag: 4242,
            signer_name: signer,
        };
        let records: Vec<Record> = rdatas[..2]
            .iter()
            .map(|r| Record::from_rdata(owner.clone(), 300, r.clone()))
            .collect();
        let theirs = TBS::from_input(&owner, DNSClass::IN, &input, records.iter()).unwrap();
        assert_eq!(ours, theirs.as_ref());
        let a = RData::A(A::new(192, 0, 2, 1));
        assert_eq!(canonical_rdata(RecordType::A, &a), [192, 0, 2, 1]);
    }

    /// An RRSIG carries its fields as written and a signature that the key's public half
    /// verifies over the signed data.
    #[test]
    fn an_rrsig_verifies_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let zone = Name::from_str("example.com.").unwrap();
        let key = crate::dnssec::key::generate(
            dir.path(),
            &zone,
            crate::dnssec::key::Algorithm::Ed25519,
            257,
            1_790_000_000,
        )
        .unwrap();
        let owner = Name::from_str("*.Example.com.").unwrap();
        let rdatas = [RData::A(A::new(192, 0, 2, 1))];
        let rrsig = rrsig(
            &key,
            &owner,
            RecordType::A,
            60,
            &rdatas,
            1_790_000_000,
            1_791_209_600,
        );
        let signer = name_key(&zone);
        let fields_len = 18 + signer.len();
        let (fields, signature) = rrsig.split_at(fields_len);
        assert_eq!(
            &fields[..4],
            [0, 1, 15, 2],
            "type A, algorithm 15, 2 labels (no *)"
        );
        assert_eq!(&fields[18..], &*signer);
        let data = signed_data(
            &SigFields {
                type_covered: RecordType::A,
                algorithm: 15,
                labels: 2,
                original_ttl: 60,
                expiration: 1_791_209_600,
                inception: 1_790_000_000,
                key_tag: key.tag,
                signer,
            },
            b"\x01*\x07example\x03com\x00",
            &rdatas,
        );
        assert_eq!(&data[..fields_len], fields);
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &key.public)
            .verify(&data, signature)
            .unwrap();
    }
}
