//! The per-query randomness (weighted draws, multivalue subsets) and the jitter of probe
//! schedules: xorshift64*, cheap and good enough for spreading load.

#[derive(Debug, Clone)]
pub struct Draw(u64);

impl Draw {
    pub fn new(seed: u64) -> Self {
        Draw(seed | 1)
    }

    /// Seeded from the OS's randomness (through std's hasher keys): a fresh, unpredictable
    /// sequence for each worker or connection.
    pub fn from_entropy() -> Self {
        use std::hash::{BuildHasher, Hasher};
        Draw::new(
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
        )
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
