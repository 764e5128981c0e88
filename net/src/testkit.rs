//! Seeded generation of arbitrary messages for the property tests.
//!
//! Every `message!` structure implements [`Sample`]; the tests draw seeds from
//! proptest and build messages from them, so a failure prints a seed that
//! replays exactly.

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::codec::Uuid;
use crate::record_set::RecordSet;

/// A seeded source of message contents with a bound on nesting.
pub struct Gen {
    rng: SmallRng,
    depth: u32,
}

impl Gen {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(seed),
            depth: 0,
        }
    }

    pub fn enter(&mut self) {
        self.depth += 1;
    }

    pub fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Elements in a generated array: fewer as nesting deepens.
    fn len(&mut self) -> usize {
        let max = if self.depth > 3 { 1 } else { 4 };
        self.rng.gen_range(0..=max)
    }

    fn chance(&mut self, one_in: u32) -> bool {
        self.rng.gen_range(0..one_in) == 0
    }
}

pub trait Sample {
    fn sample(g: &mut Gen) -> Self;
}

macro_rules! sample_int {
    ($($ty:ty),*) => {$(
        impl Sample for $ty {
            fn sample(g: &mut Gen) -> Self {
                // Edge values are where encodings differ; favour them.
                match g.rng.gen_range(0..4) {
                    0 => [0, -1i64 as $ty, <$ty>::MIN, <$ty>::MAX][g.rng.gen_range(0..4)],
                    _ => g.rng.gen(),
                }
            }
        }
    )*};
}

sample_int!(i8, i16, i32, i64, u16);

impl Sample for bool {
    fn sample(g: &mut Gen) -> Self {
        g.rng.gen()
    }
}

impl Sample for f64 {
    fn sample(g: &mut Gen) -> Self {
        // NaN is not equal to itself, which would break comparisons.
        g.rng.gen_range(-1e9..1e9)
    }
}

impl Sample for Uuid {
    fn sample(g: &mut Gen) -> Self {
        if g.chance(3) {
            return Uuid::NIL;
        }
        Uuid(g.rng.gen())
    }
}

impl Sample for String {
    fn sample(g: &mut Gen) -> Self {
        const ALPHABET: &[char] = &['a', 'Z', '-', '_', '.', '0', 'é', '漢', '🦀'];
        let n = g.rng.gen_range(0..12);
        (0..n)
            .map(|_| ALPHABET[g.rng.gen_range(0..ALPHABET.len())])
            .collect()
    }
}

impl Sample for Bytes {
    fn sample(g: &mut Gen) -> Self {
        // Sometimes long enough to travel as its own chunk.
        let n = if g.chance(4) {
            g.rng.gen_range(512..3000)
        } else {
            g.rng.gen_range(0..40)
        };
        Bytes::from((0..n).map(|_| g.rng.gen::<u8>()).collect::<Vec<u8>>())
    }
}

impl Sample for RecordSet {
    fn sample(g: &mut Gen) -> Self {
        // A fetch hands over one chunk per batch read: several chunks, large
        // (their own frame chunk) and small (copied inline), in any mix.
        let n = g.rng.gen_range(0..=3);
        RecordSet::from_chunks((0..n).map(|_| Bytes::sample(g)).collect())
    }
}

impl<T: Sample> Sample for Vec<T> {
    fn sample(g: &mut Gen) -> Self {
        let n = g.len();
        (0..n).map(|_| T::sample(g)).collect()
    }
}

impl<T: Sample> Sample for Option<T> {
    fn sample(g: &mut Gen) -> Self {
        if g.chance(4) {
            None
        } else {
            Some(T::sample(g))
        }
    }
}
