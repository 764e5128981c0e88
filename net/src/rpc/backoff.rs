//! Pauses between reconnect attempts: exponential, bounded, jittered from a
//! seed (so a test or a simulation replays the same pauses).

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The pause before attempt `n` is drawn uniformly from `[b/2, b]` where
/// `b = min(max, initial * 2^n)` ("equal jitter"): it keeps growing
/// exponentially, which the reconnect loop relies on, while shards and nodes
/// that lost the same peer at the same moment spread their attempts over a
/// factor of two instead of arriving together.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
    rng: SmallRng,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration, seed: u64) -> Self {
        assert!(
            !initial.is_zero() && initial <= max,
            "backoff {initial:?}..{max:?}"
        );
        Self {
            initial,
            max,
            attempt: 0,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// The pause before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        // 2^20 times any sane initial value is past any sane maximum.
        let factor = 1u32 << self.attempt.min(20);
        let base = self.initial.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = base / 2;
        let jitter_us = self.rng.gen_range(0..=(base - half).as_micros() as u64);
        half + Duration::from_micros(jitter_us)
    }

    /// Starts again from the initial pause.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_exponentially_within_jitter_and_stop_at_the_maximum() {
        let (initial, max) = (Duration::from_millis(50), Duration::from_millis(1000));
        let mut b = Backoff::new(initial, max, 7);
        let delays: Vec<Duration> = (0..12).map(|_| b.next_delay()).collect();
        for (n, d) in delays.iter().enumerate() {
            let base = (initial * (1 << n.min(20))).min(max);
            assert!(
                *d >= base / 2 && *d <= base,
                "attempt {n}: {d:?} vs {base:?}"
            );
        }
        assert!(delays.windows(2).take(4).all(|w| w[0] <= w[1]));
        assert!(delays.iter().skip(5).all(|d| *d <= max));
        // Not all equal: the jitter is there.
        assert!(delays[6..].iter().any(|d| *d != delays[6]));
        b.reset();
        assert!(b.next_delay() <= initial);
    }

    #[test]
    fn the_seed_decides_the_pauses() {
        let run = |seed| {
            let mut b = Backoff::new(Duration::from_millis(10), Duration::from_secs(1), seed);
            (0..10).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }
}
