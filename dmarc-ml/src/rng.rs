//! xoshiro256** (Blackman and Vigna), seeded through SplitMix64: a small, fast generator
//! whose output is fixed by its definition, so a seed gives the same model on every
//! platform and with every version of every dependency.

/// The generator's state.
#[derive(Debug, Clone)]
pub(crate) struct Xoshiro256 {
    s: [u64; 4],
}

impl Xoshiro256 {
    /// A generator whose state is four SplitMix64 outputs from `seed`.
    pub(crate) fn seeded(seed: u64) -> Xoshiro256 {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Xoshiro256 {
            s: [next(), next(), next(), next()],
        }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform integer in `0..n` (`n > 0`), without modulo bias (Lemire's method with
    /// rejection).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as usize;
            }
        }
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_is_the_reference_one() {
        // xoshiro256** from the state {1, 2, 3, 4}: the reference implementation's output.
        let mut g = Xoshiro256 { s: [1, 2, 3, 4] };
        let first: Vec<u64> = (0..3).map(|_| g.next_u64()).collect();
        assert_eq!(first, [11_520, 0, 1_509_978_240]);
        assert_eq!(
            Xoshiro256::seeded(42).next_u64(),
            Xoshiro256::seeded(42).next_u64()
        );
    }

    #[test]
    fn below_and_unit_stay_in_range_and_cover_it() {
        let mut g = Xoshiro256::seeded(1);
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            seen[g.below(7)] += 1;
        }
        assert!(seen.iter().all(|&c| (800..1_200).contains(&c)), "{seen:?}");
        for _ in 0..1_000 {
            let u = g.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
