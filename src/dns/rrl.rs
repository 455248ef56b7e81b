//! Response rate limiting over UDP, as BIND and Knot do it (so that hadns cannot be
//! used to amplify a flood at a forged source): each *account* — a client network and
//! a kind of answer — earns `rate` responses a second. Past that, responses are
//! limited: every `slip`-th one goes out truncated (TC, no records: a real client
//! retries over TCP, which a forged source cannot), the rest are dropped.
//!
//! The kind of answer: a positive answer is its name and type; an answer with no records
//! (NXDOMAIN, NODATA, a referral) is the name that owns its authority section (the zone
//! or the cut), so a flood of random names is one account; any error is one account.
//! Each account is a token bucket, as in Knot: `rate` tokens a second, at most `rate`
//! saved up; a response takes one, and a limited one takes none, so a flood gets its rate
//! of full answers every second and no more. An account unused for `window` seconds is
//! forgotten.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use ::metrics::Counter;

use crate::config::RateLimitConfig;

const SHARDS: usize = 64;
/// Accounts kept per shard; past this, the stale are forgotten first.
const MAX_PER_SHARD: usize = 16_384;

pub struct RateLimiter {
    rate: i64,
    slip: u32,
    window: u32,
    v4_prefix: u8,
    v6_prefix: u8,
    exempt: Vec<ipnet::IpNet>,
    /// Keyed with secret random keys: chosen names cannot collide accounts on purpose.
    hasher: RandomState,
    shards: Box<[Mutex<HashMap<u64, Account>>]>,
    start: Instant,
    /// [dropped, slipped]
    counters: [Counter; 2],
}

#[derive(Clone, Copy)]
struct Account {
    /// Tokens: full responses it may still send this second.
    credit: i64,
    /// The second (since start) of its last response.
    second: u32,
    /// Limited responses so far, for the slip.
    limited: u32,
}

/// What happens to one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// Sent truncated (TC, question only).
    Slip,
    Drop,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("rate", &self.rate)
            .field("slip", &self.slip)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// None when rate limiting is off.
    pub fn new(config: &RateLimitConfig) -> Option<RateLimiter> {
        (config.responses_per_second > 0).then(|| RateLimiter {
            rate: i64::from(config.responses_per_second),
            slip: config.slip,
            window: config.window.as_secs().max(1) as u32,
            v4_prefix: config.ipv4_prefix,
            v6_prefix: config.ipv6_prefix,
            exempt: config.exempt.clone(),
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            start: Instant::now(),
            counters: crate::metrics::rate_limited(),
        })
    }

    /// Judges the UDP `response` to `client` and, for a slip, truncates it. False: send
    /// nothing.
    pub fn allow(&self, client: IpAddr, response: &mut Vec<u8>) -> bool {
        let second = self.start.elapsed().as_secs() as u32;
        match self.judge(client, response, second) {
            Verdict::Send => true,
            Verdict::Slip => {
                self.counters[1].increment(1);
                truncate(response);
                true
            }
            Verdict::Drop => {
                self.counters[0].increment(1);
                false
            }
        }
    }

    fn judge(&self, client: IpAddr, response: &[u8], second: u32) -> Verdict {
        if self.exempt.iter().any(|n| n.contains(&client)) {
            return Verdict::Send;
        }
        let Some(key) = self.account_key(client, response) else {
            return Verdict::Send;
        };
        let mut shard = self.shards[(key as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if shard.len() >= MAX_PER_SHARD && !shard.contains_key(&key) {
            let window = self.window;
            shard.retain(|_, a| second.saturating_sub(a.second) <= window);
            if shard.len() >= MAX_PER_SHARD {
                shard.clear();
            }
        }
        let a = shard.entry(key).or_insert(Account {
            credit: self.rate,
            second,
            limited: 0,
        });
        let earned = i64::from(second.saturating_sub(a.second)) * self.rate;
        a.credit = (a.credit + earned).min(self.rate);
        a.second = second;
        if a.credit > 0 {
            a.credit -= 1;
            return Verdict::Send;
        }
        a.limited = a.limited.wrapping_add(1);
        match self.slip > 0 && a.limited % self.slip == 0 {
            true => Verdict::Slip,
            false => Verdict::Drop,
        }
    }

    /// The account a response is charged to: the client's network and the kind of
    /// answer. None for what cannot be read (it is sent as is).
    fn account_key(&self, client: IpAddr, response: &[u8]) -> Option<u64> {
        let mut h = self.hasher.build_hasher();
        match client {
            IpAddr::V4(a) => h.write(
                &ipnet::Ipv4Net::new(a, self.v4_prefix)
                    .ok()?
                    .trunc()
                    .addr()
                    .octets(),
            ),
            IpAddr::V6(a) => h.write(
                &ipnet::Ipv6Net::new(a, self.v6_prefix)
                    .ok()?
                    .trunc()
                    .addr()
                    .octets(),
            ),
        }
        let header = response.get(..12)?;
        let rcode = header[3] & 0x0f;
        let answers = u16::from_be_bytes([header[6], header[7]]);
        let question_end = name_end(response, 12)? + 4;
        match (rcode, answers) {
            // A positive answer: its name and type.
            (0, 1..) => {
                h.write_u8(1);
                hash_name(&mut h, response, 12)?;
                h.write(response.get(question_end - 4..question_end - 2)?);
            }
            // No records: the owner of the authority section (zone or cut).
            (0 | 3, 0) => {
                h.write_u8(2 + rcode);
                if u16::from_be_bytes([header[8], header[9]]) > 0 {
                    hash_name(&mut h, response, question_end)?;
                }
            }
            _ => h.write_u8(9),
        }
        Some(h.finish())
    }
}

/// Where the name at `at` ends (after its terminal label or pointer).
fn name_end(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

/// Hashes the name at `at`, lower-cased, following compression pointers.
fn hash_name(h: &mut impl Hasher, msg: &[u8], mut at: usize) -> Option<()> {
    for _ in 0..128 {
        let len = *msg.get(at)?;
        match len {
            0 => return Some(()),
            l if l & 0xc0 == 0xc0 => {
                at = (usize::from(l & 0x3f) << 8) | usize::from(*msg.get(at + 1)?);
            }
            l => {
                let label = msg.get(at + 1..at + 1 + usize::from(l))?;
                h.write_u8(l);
                for b in label {
                    h.write_u8(b.to_ascii_lowercase());
                }
                at += 1 + usize::from(l);
            }
        }
    }
    None
}

/// A slipped response: the header and question only, TC set.
fn truncate(response: &mut Vec<u8>) {
    let Some(end) = name_end(response, 12).map(|e| e + 4) else {
        return;
    };
    if end > response.len() {
        return;
    }
    response.truncate(end);
    response[2] |= 0x02; // TC
    response[6..12].fill(0); // no answer, authority or additional records
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limiter(rate: u32, slip: u32) -> RateLimiter {
        RateLimiter::new(&RateLimitConfig {
            responses_per_second: rate,
            slip,
            window: Duration::from_secs(3),
            ipv4_prefix: 24,
            ipv6_prefix: 56,
            exempt: vec!["192.0.2.128/25".parse().unwrap()],
        })
        .unwrap()
    }

    /// A response with one answer for `name`/A, or none with the SOA of `zone` (rcode).
    fn response(name: &[u8], rcode: u8, answers: u16) -> Vec<u8> {
        let mut r = vec![
            0,
            1,
            0x84,
            rcode,
            0,
            1,
            0,
            answers as u8,
            0,
            1 - answers as u8,
            0,
            0,
        ];
        r.extend_from_slice(name);
        r.extend_from_slice(&[0, 1, 0, 1]);
        if answers == 0 {
            // Authority owner: the last two labels of the question, by pointer.
            let at = 12 + usize::from(name[0]) + 1;
            r.extend_from_slice(&[0xc0, at as u8, 0, 6, 0, 1, 0, 0, 0, 60, 0, 0]);
        }
        r
    }

    #[test]
    fn each_account_gets_its_rate_then_slips_and_drops() {
        let l = limiter(5, 2);
        let client: IpAddr = [192, 0, 2, 1].into();
        let www = response(b"\x03www\x07example\x00", 0, 1);
        let verdicts: Vec<Verdict> = (0..11).map(|_| l.judge(client, &www, 0)).collect();
        assert!(verdicts[..5].iter().all(|v| *v == Verdict::Send));
        assert_eq!(
            &verdicts[5..],
            [
                Verdict::Drop,
                Verdict::Slip,
                Verdict::Drop,
                Verdict::Slip,
                Verdict::Drop,
                Verdict::Slip
            ]
        );
        // The same client's other answers, and other clients, have their own accounts;
        // the same /24 shares one; exempt networks are never limited.
        let other = response(b"\x04mail\x07example\x00", 0, 1);
        assert_eq!(l.judge(client, &other, 0), Verdict::Send);
        assert_eq!(l.judge([192, 0, 3, 1].into(), &www, 0), Verdict::Send);
        assert_ne!(l.judge([192, 0, 2, 99].into(), &www, 0), Verdict::Send);
        assert!((0..50).all(|_| l.judge([192, 0, 2, 200].into(), &www, 0) == Verdict::Send));
        // The next second brings the next `rate` full answers, and no more.
        let next: Vec<Verdict> = (0..7).map(|_| l.judge(client, &www, 1)).collect();
        assert!(next[..5].iter().all(|v| *v == Verdict::Send), "{next:?}");
        assert!(next[5..].iter().all(|v| *v != Verdict::Send), "{next:?}");
    }

    #[test]
    fn random_names_under_one_zone_share_one_account() {
        let l = limiter(3, 0);
        let client: IpAddr = [192, 0, 2, 1].into();
        let sent = (0..20u8)
            .filter(|i| {
                let name = [&[3, b'a', b'b', b'a' + i][..], b"\x07example\x00"].concat();
                l.judge(client, &response(&name, 3, 0), 0) == Verdict::Send
            })
            .count();
        assert_eq!(sent, 3);
    }

    #[test]
    fn a_slip_is_the_question_with_tc() {
        let mut r = response(b"\x03www\x07example\x00", 0, 1);
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        truncate(&mut r);
        assert_eq!(r.len(), 12 + 13 + 4);
        assert_eq!(r[2] & 0x02, 0x02);
        assert_eq!(&r[6..12], [0; 6]);
    }
}
