//! The generators' random numbers: SplitMix64, seeded, so the same seed
//! gives the same data (`datagen`, `nexmark`).

/// SplitMix64: tiny, fast, and good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (or from a [`Rng::state`], to go on where
    /// it was).
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// Where it is: what a checkpoint keeps.
    pub fn state(&self) -> u64 {
        self.0
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
