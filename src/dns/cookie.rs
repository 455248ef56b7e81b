//! DNS Cookies (RFC 7873), server cookies in RFC 9018's interoperable format: version 1,
//! three reserved octets, a timestamp, and SipHash-2-4 of the client cookie, those
//! fields and the client's address under a secret. The nodes of a cluster derive the
//! secret from the cluster key, so a cookie from one node is good at every node.
//!
//! Cookies are not required: a query without one is answered as before. A query whose
//! server cookie is good proves its source address is real (a forger never saw the
//! cookie), which response rate limiting honours.

use std::hash::Hasher;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use super::request::Cookie;

/// RFC 9018 §4.3: a cookie is good for an hour, and up to five minutes early.
const LIFETIME: u32 = 3600;
const EARLY: u32 = 300;

#[derive(Clone)]
pub struct Cookies {
    secret: [u8; 16],
}

impl std::fmt::Debug for Cookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cookies(secret)")
    }
}

impl Cookies {
    /// From `shared` (a cluster's key) when given, else a secret of this process.
    pub fn new(shared: Option<&[u8]>) -> Cookies {
        let mut secret = [0u8; 16];
        match shared {
            Some(key) => {
                let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
                ctx.update(b"hadns DNS cookie secret\0");
                ctx.update(key);
                secret.copy_from_slice(&ctx.finish().as_ref()[..16]);
            }
            None => {
                use ring::rand::SecureRandom;
                ring::rand::SystemRandom::new()
                    .fill(&mut secret)
                    .expect("the system's random source");
            }
        }
        Cookies { secret }
    }

    /// The full cookie to send back: the client's, then a fresh server cookie.
    pub fn answer(&self, client_cookie: &[u8; 8], client: IpAddr) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..8].copy_from_slice(client_cookie);
        out[8..].copy_from_slice(&self.server_cookie(client_cookie, client, now()));
        out
    }

    /// Whether the query's server cookie is one of ours, for this client, and current.
    pub fn is_good(&self, c: &Cookie, client: IpAddr) -> bool {
        if c.server_len != 16 || c.server[0] != 1 {
            return false;
        }
        let stamp = u32::from_be_bytes([c.server[4], c.server[5], c.server[6], c.server[7]]);
        let now = now();
        // Serial-number arithmetic (RFC 1982) on the 32-bit timestamp.
        let age = now.wrapping_sub(stamp);
        let fresh = age <= LIFETIME || stamp.wrapping_sub(now) <= EARLY;
        fresh && self.server_cookie(&c.client, client, stamp) == c.server
    }

    fn server_cookie(&self, client_cookie: &[u8; 8], client: IpAddr, stamp: u32) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[0] = 1; // version; then three reserved octets
        out[4..8].copy_from_slice(&stamp.to_be_bytes());
        let (k0, k1) = self.secret.split_at(8);
        #[allow(deprecated)] // std's SipHasher is SipHash-2-4, which RFC 9018 names
        let mut h = std::hash::SipHasher::new_with_keys(
            u64::from_le_bytes(k0.try_into().expect("8 octets")),
            u64::from_le_bytes(k1.try_into().expect("8 octets")),
        );
        h.write(client_cookie);
        h.write(&out[..8]);
        match client {
            IpAddr::V4(a) => h.write(&a.octets()),
            IpAddr::V6(a) => h.write(&a.octets()),
        }
        out[8..].copy_from_slice(&h.finish().to_le_bytes());
        out
    }
}

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie(full: &[u8; 24]) -> Cookie {
        let mut c = Cookie {
            client: full[..8].try_into().unwrap(),
            server: [0; 16],
            server_len: 16,
        };
        c.server.copy_from_slice(&full[8..]);
        c
    }

    #[test]
    fn a_server_cookie_is_good_for_its_client_only() {
        let k = Cookies::new(Some(b"a cluster key of thirty-two byte"));
        let ip: IpAddr = [192, 0, 2, 1].into();
        let full = k.answer(b"clientck", ip);
        assert!(k.is_good(&cookie(&full), ip));
        assert!(!k.is_good(&cookie(&full), [192, 0, 2, 2].into()));
        // Another node of the same cluster agrees; another secret does not.
        assert!(Cookies::new(Some(b"a cluster key of thirty-two byte")).is_good(&cookie(&full), ip));
        assert!(!Cookies::new(None).is_good(&cookie(&full), ip));
        let mut tampered = full;
        tampered[23] ^= 1;
        assert!(!k.is_good(&cookie(&tampered), ip));
        // Two hours old: stale.
        let old = k.server_cookie(b"clientck", ip, now() - 7200);
        let mut c = cookie(&full);
        c.server = old;
        assert!(!k.is_good(&c, ip));
    }
}
