//! TSIG (RFC 8945), a step before any handler: a signed message is answered only when
//! its key is known and its MAC and time verify, and then every message of the answer
//! is signed — the first over the request's MAC, each next one over the MAC before it
//! (§5.3.1). An unknown key gets NOTAUTH with BADKEY, a bad MAC BADSIG, a time out of
//! the fudge BADTIME (§5.2). The MACs are hickory-proto's, on ring.

use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::rr::rdata::tsig::{TsigAlgorithm, TSIG};
use hickory_proto::rr::{DNSClass, Name, Record, TSigner};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};

use super::edns::append_opt;
use super::request::Tsig;
use super::response::encode_error;
use super::wire::{CLASS_ANY, RCODE_NOTAUTH, TSIG_BADKEY, TSIG_BADSIG, TSIG_BADTIME, TYPE_TSIG};
use super::{Asked, Handled, Sink};
use crate::config::Config;
use crate::metrics::Outcome;

/// Seconds of clock difference a signature may have (RFC 8945 §10: 300).
const FUDGE: u16 = 300;

/// The TSIG keys of the config.
#[derive(Clone, Default)]
pub struct Keys {
    signers: Vec<TSigner>,
    /// The key transfers must be signed with, if any.
    required: Option<Name>,
}

impl std::fmt::Debug for Keys {
    /// The names only: never the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.signers.iter().map(|s| s.signer_name().to_string()))
            .finish()
    }
}

impl Keys {
    pub fn new(config: &Config) -> Result<Keys, String> {
        let name = |n: &str| {
            let mut name = Name::from_ascii(n).map_err(|e| format!("tsig_key {n:?}: {e}"))?;
            name.set_fqdn(true);
            Ok::<Name, String>(name)
        };
        let mut signers = Vec::new();
        for k in &config.tsig_keys {
            let algorithm = match k.algorithm.as_str() {
                "hmac-sha512" => TsigAlgorithm::HmacSha512,
                _ => TsigAlgorithm::HmacSha256,
            };
            let signer = TSigner::new(k.secret.0.clone(), algorithm, name(&k.name)?, FUDGE)
                .map_err(|e| format!("tsig_key {:?}: {e}", k.name))?;
            signers.push(signer);
        }
        let required = config.transfer.tsig_key.as_deref().map(name).transpose()?;
        Ok(Keys { signers, required })
    }

    /// The key transfers must be signed with.
    pub fn required(&self) -> Option<&Name> {
        self.required.as_ref()
    }

    /// The signer of the required key, for NOTIFY.
    pub fn required_signer(&self) -> Option<&TSigner> {
        let name = self.required.as_ref()?;
        self.signers.iter().find(|s| s.signer_name() == name)
    }

    fn find(&self, key: &[u8]) -> Option<&TSigner> {
        let name = Name::read(&mut BinDecoder::new(key)).ok()?;
        self.signers.iter().find(|s| *s.signer_name() == name)
    }
}

/// What the TSIG step decided for one message.
pub(super) enum Verdict<'k> {
    /// Not signed.
    Unsigned,
    /// Signed and verified: the answer is signed with this.
    Signed(Signing<'k>),
    /// Refused with a TSIG error: the response is written.
    Rejected(Handled),
}

/// Verifies the TSIG of `packet`, or answers NOTAUTH with the TSIG error.
pub(super) fn verify<'k>(
    keys: &'k Keys,
    asked: &Asked<'_, '_>,
    packet: &[u8],
    sink: &mut impl Sink,
) -> Verdict<'k> {
    let Some(tsig) = &asked.req.tsig else {
        return Verdict::Unsigned;
    };
    let Some(signer) = keys.find(tsig.key) else {
        return Verdict::Rejected(unsigned_error(asked, tsig, TSIG_BADKEY, sink));
    };
    match signer.verify_message_byte(packet, None, true) {
        Ok((mac, _, window)) if window.contains(&now()) => Verdict::Signed(Signing {
            signer,
            previous_mac: mac,
            request_id: asked.req.id,
            first: true,
        }),
        // §5.2.3: BADTIME; unsigned here, which a client may not verify, but it says why.
        Ok(_) => Verdict::Rejected(unsigned_error(asked, tsig, TSIG_BADTIME, sink)),
        Err(_) => Verdict::Rejected(unsigned_error(asked, tsig, TSIG_BADSIG, sink)),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Signs each message of an answer, chaining the MACs.
pub(super) struct Signing<'k> {
    signer: &'k TSigner,
    previous_mac: Vec<u8>,
    request_id: u16,
    first: bool,
}

impl Signing<'_> {
    pub(super) fn key(&self) -> &Name {
        self.signer.signer_name()
    }

    /// Appends the TSIG record to a finished message.
    fn sign(&mut self, message: &mut Vec<u8>) {
        let time = now();
        let mut tbs = Vec::with_capacity(message.len() + 128);
        tbs.extend_from_slice(&(self.previous_mac.len() as u16).to_be_bytes());
        tbs.extend_from_slice(&self.previous_mac);
        tbs.extend_from_slice(message);
        let stub = TSIG::new(
            self.signer.algorithm().clone(),
            time,
            FUDGE,
            Vec::new(),
            self.request_id,
            None,
            Vec::new(),
        );
        if self.first {
            // §4.3.3: every TSIG variable (an encoder writes from the start of its buffer).
            let mut variables = Vec::with_capacity(96);
            let _ = stub.emit_tsig_for_mac(
                &mut BinEncoder::new(&mut variables),
                self.signer.signer_name(),
            );
            tbs.extend_from_slice(&variables);
        } else {
            // §5.3.1: the timers only.
            tbs.extend_from_slice(&time.to_be_bytes()[2..]);
            tbs.extend_from_slice(&FUDGE.to_be_bytes());
        }
        let Ok(mac) = self.signer.sign(&tbs) else {
            return;
        };
        let mut record = Record::from_rdata(
            self.signer.signer_name().clone(),
            0,
            stub.set_mac(mac.clone()),
        );
        record.dns_class = DNSClass::ANY;
        let mut bytes = Vec::with_capacity(128);
        if record.emit(&mut BinEncoder::new(&mut bytes)).is_ok() {
            message.extend_from_slice(&bytes);
            let ar = u16::from_be_bytes([message[10], message[11]]) + 1;
            message[10..12].copy_from_slice(&ar.to_be_bytes());
        }
        self.previous_mac = mac;
        self.first = false;
    }
}

/// A sink that signs every message before passing it on.
pub(super) struct SignedSink<'a, 'k, S: Sink> {
    inner: &'a mut S,
    signing: Signing<'k>,
    current: Vec<u8>,
    open: bool,
}

impl<'a, 'k, S: Sink> SignedSink<'a, 'k, S> {
    pub(super) fn new(inner: &'a mut S, signing: Signing<'k>) -> Self {
        SignedSink {
            inner,
            signing,
            current: Vec::new(),
            open: false,
        }
    }

    fn flush(&mut self) {
        if std::mem::take(&mut self.open) {
            self.signing.sign(&mut self.current);
            self.inner.next_message().extend_from_slice(&self.current);
        }
    }

    /// Signs and passes on the last message.
    pub(super) fn finish(mut self) {
        self.flush();
    }
}

impl<S: Sink> Sink for SignedSink<'_, '_, S> {
    fn next_message(&mut self) -> &mut Vec<u8> {
        self.flush();
        self.current.clear();
        self.open = true;
        &mut self.current
    }
}

/// NOTAUTH with a TSIG record carrying `error`, itself unsigned (§5.2.2); the question
/// is not answered.
fn unsigned_error(
    asked: &Asked<'_, '_>,
    tsig: &Tsig<'_>,
    error: u16,
    sink: &mut impl Sink,
) -> Handled {
    let req = asked.req;
    let out = sink.next_message();
    let question = Some((req.qname, req.qtype, req.qclass));
    encode_error(out, asked.echo, question, RCODE_NOTAUTH, None);
    if let Some(e) = asked.edns.reply {
        append_opt(out, e);
    }
    // The TSIG record goes last.
    out.extend_from_slice(tsig.key);
    out.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    let rdlen = tsig.algorithm.len() + 6 + 2 + 2 + 2 + 2 + 2;
    out.extend_from_slice(&(rdlen as u16).to_be_bytes());
    out.extend_from_slice(tsig.algorithm);
    out.extend_from_slice(&tsig.time_signed);
    out.extend_from_slice(&tsig.fudge.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes()); // MAC size: no MAC
    out.extend_from_slice(&req.id.to_be_bytes()); // original ID
    out.extend_from_slice(&error.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes()); // other len
    let ar = u16::from_be_bytes([out[10], out[11]]) + 1;
    out[10..12].copy_from_slice(&ar.to_be_bytes());
    Handled {
        zone: None,
        qtype: Some(req.qtype),
        outcome: Outcome::Rcode(RCODE_NOTAUTH),
    }
}
