//! Every gossip datagram sealed with the cluster key: ChaCha20-Poly1305 (ring) over the
//! time it was sent and the message. A datagram that does not open with the key, was
//! sent more than `MAX_AGE` from now, or was seen before is refused; nothing of it is
//! read.
//!
//! Layout: `version (1) | nonce (12) | sealed( sent_at_ms (8) | flags (1) | message )`,
//! the version byte also authenticated. Messages over `COMPRESS_ABOVE` bytes are
//! zstd-compressed (flag 1) so that a full gossip delta still fits one datagram.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use super::unix_ms;

const VERSION: u8 = 1;
/// Older (or newer) than this is refused: a replay cannot be held back and sent later.
pub const MAX_AGE: Duration = Duration::from_secs(30);
const COMPRESS_ABOVE: usize = 1024;
const FLAG_ZSTD: u8 = 1;
/// Nonces remembered, to refuse a datagram sent twice within `MAX_AGE`.
const MAX_REMEMBERED: usize = 200_000;
/// The largest message a peer may unpack to.
const MAX_MESSAGE: usize = 1 << 20;

/// Why a datagram was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Too short, another version, or not sealed with this key.
    NotSealed,
    /// Sent more than `MAX_AGE` from now.
    Stale,
    /// Seen before.
    Replayed,
    /// Opened, but could not be unpacked.
    Malformed,
}

impl Refused {
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::NotSealed => "not sealed with the cluster key",
            Refused::Stale => "more than 30 s old",
            Refused::Replayed => "replayed",
            Refused::Malformed => "malformed",
        }
    }
}

pub struct Seal {
    key: LessSafeKey,
    rng: SystemRandom,
    /// Nonces of opened datagrams and when they were opened.
    seen: HashMap<[u8; NONCE_LEN], Instant>,
}

impl Seal {
    /// `key`: 32 bytes.
    pub fn new(key: &[u8]) -> Seal {
        let key = UnboundKey::new(&CHACHA20_POLY1305, key).expect("a 32-byte key");
        Seal {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
            seen: HashMap::new(),
        }
    }

    /// The datagram carrying `message`, sent now.
    pub fn seal(&self, message: &[u8]) -> Vec<u8> {
        self.seal_at(message, SystemTime::now())
    }

    /// The datagram carrying `message`, as if sent at `at`.
    pub fn seal_at(&self, message: &[u8], at: SystemTime) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the system's random source");
        let mut out = Vec::with_capacity(message.len() + 64);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        let mut body = Vec::with_capacity(message.len() + 9);
        body.extend_from_slice(&unix_ms(at).to_be_bytes());
        match message.len() > COMPRESS_ABOVE {
            true => {
                body.push(FLAG_ZSTD);
                body.extend(zstd::bulk::compress(message, 1).expect("compress in memory"));
            }
            false => {
                body.push(0);
                body.extend_from_slice(message);
            }
        }
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from([VERSION]),
                &mut body,
            )
            .expect("sealing in memory");
        out.extend(body);
        out
    }

    /// The message a datagram carries, if it is sealed with the key, fresh, and new.
    pub fn open(&mut self, datagram: &[u8]) -> Result<Vec<u8>, Refused> {
        self.open_at(datagram, SystemTime::now())
    }

    fn open_at(&mut self, datagram: &[u8], now: SystemTime) -> Result<Vec<u8>, Refused> {
        if datagram.len() < 1 + NONCE_LEN + 9 + CHACHA20_POLY1305.tag_len()
            || datagram[0] != VERSION
        {
            return Err(Refused::NotSealed);
        }
        let nonce: [u8; NONCE_LEN] = datagram[1..1 + NONCE_LEN].try_into().expect("length");
        let mut body = datagram[1 + NONCE_LEN..].to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from([VERSION]),
                &mut body,
            )
            .map_err(|_| Refused::NotSealed)?;
        let sent = u64::from_be_bytes(plain[..8].try_into().expect("length"));
        if unix_ms(now).abs_diff(sent) > MAX_AGE.as_millis() as u64 {
            return Err(Refused::Stale);
        }
        let opened = Instant::now();
        if self.seen.len() >= MAX_REMEMBERED {
            self.seen
                .retain(|_, at| opened.duration_since(*at) <= 2 * MAX_AGE);
        }
        if self.seen.insert(nonce, opened).is_some() {
            return Err(Refused::Replayed);
        }
        let (flags, message) = (plain[8], &plain[9..]);
        match flags {
            0 => Ok(message.to_vec()),
            FLAG_ZSTD => {
                zstd::bulk::decompress(message, MAX_MESSAGE).map_err(|_| Refused::Malformed)
            }
            _ => Err(Refused::Malformed),
        }
    }

    /// Forgets nonces older than any datagram still accepted. Call now and then.
    pub fn forget_old(&mut self) {
        let now = Instant::now();
        self.seen
            .retain(|_, at| now.duration_since(*at) <= 2 * MAX_AGE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_what_it_seals_once() {
        let mut s = Seal::new(&[7; 32]);
        let small = s.seal(b"hello");
        assert_eq!(s.open(&small).unwrap(), b"hello");
        assert_eq!(s.open(&small), Err(Refused::Replayed));
        let big: Vec<u8> = b"observation ".repeat(1000);
        let sealed = s.seal(&big);
        assert!(sealed.len() < big.len() / 4, "compressed");
        assert_eq!(s.open(&sealed).unwrap(), big);
    }

    #[test]
    fn refuses_other_keys_garbage_tampering_and_old_messages() {
        let mut s = Seal::new(&[7; 32]);
        let other = Seal::new(&[8; 32]);
        assert_eq!(s.open(&other.seal(b"x")), Err(Refused::NotSealed));
        assert_eq!(s.open(b"garbage"), Err(Refused::NotSealed));
        assert_eq!(s.open(&[1u8; 200]), Err(Refused::NotSealed));
        let mut tampered = s.seal(b"hello");
        let last = tampered.len() - 20;
        tampered[last] ^= 1;
        assert_eq!(s.open(&tampered), Err(Refused::NotSealed));
        let old = s.seal_at(b"x", SystemTime::now() - Duration::from_secs(31));
        assert_eq!(s.open(&old), Err(Refused::Stale));
        let future = s.seal_at(b"x", SystemTime::now() + Duration::from_secs(31));
        assert_eq!(s.open(&future), Err(Refused::Stale));
        let recent = s.seal_at(b"x", SystemTime::now() - Duration::from_secs(29));
        assert_eq!(s.open(&recent).unwrap(), b"x");
    }
}
