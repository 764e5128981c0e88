//! What each producer sends and when: message sizes, keys, payload bytes and
//! the open-loop schedule. All randomness comes from one seeded generator per
//! producer, so a run is reproducible from its workload.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal, Zipf};

use crate::limits;
use crate::workload::{KeyDistribution, MessageSize, SizeDistribution, Workload};

/// Bytes at the start of every value that the tool itself reads back:
/// intended send time (ns since the run's origin) and the producer's
/// message sequence number.
pub const STAMP_BYTES: usize = 16;
const _: () = assert!(STAMP_BYTES <= limits::MESSAGE_BYTES_MIN);

/// Writes the stamp that consumers use for end-to-end latency.
pub fn stamp(value: &mut [u8], intended_ns: u64, sequence: u64) {
    value[..8].copy_from_slice(&intended_ns.to_be_bytes());
    value[8..16].copy_from_slice(&sequence.to_be_bytes());
}

/// Reads a stamp back; `None` if the value is too short to carry one (a
/// message not produced by this tool).
pub fn read_stamp(value: &[u8]) -> Option<(u64, u64)> {
    let intended = u64::from_be_bytes(value.get(..8)?.try_into().ok()?);
    let sequence = u64::from_be_bytes(value.get(8..16)?.try_into().ok()?);
    Some((intended, sequence))
}

/// Draws message sizes, keys and payloads for one producer.
pub struct MessageGenerator {
    rng: SmallRng,
    size: SizeSampler,
    keys: KeySampler,
    /// Random bytes that payloads are sliced from, so that producing a random
    /// payload costs a copy and not an RNG call per byte.
    pool: Vec<u8>,
    random_fraction: f64,
}

enum SizeSampler {
    Fixed(usize),
    Uniform(usize, usize),
    Normal(Normal<f64>, usize, usize),
}

enum KeySampler {
    None,
    RoundRobin { next: u64, space: u64 },
    Random { space: u64 },
    Zipf(Zipf<f64>),
}

impl MessageGenerator {
    /// `stream` separates the random streams of the producers of one run.
    pub fn new(workload: &Workload, stream: u64) -> Self {
        let mut rng =
            SmallRng::seed_from_u64(workload.seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let size = match workload.message_size {
            MessageSize::Fixed(n) => SizeSampler::Fixed(n),
            MessageSize::Distribution(SizeDistribution::Uniform { min, max }) => {
                SizeSampler::Uniform(min, max)
            }
            MessageSize::Distribution(SizeDistribution::Normal {
                mean,
                stddev,
                min,
                max,
            }) => SizeSampler::Normal(
                Normal::new(mean, stddev).expect("validated stddev"),
                min,
                max,
            ),
        };
        let space = workload.key_space.max(1);
        let keys = match workload.key_distribution {
            KeyDistribution::None => KeySampler::None,
            KeyDistribution::RoundRobin => KeySampler::RoundRobin { next: 0, space },
            KeyDistribution::Random => KeySampler::Random { space },
            KeyDistribution::Zipf => KeySampler::Zipf(
                Zipf::new(space, workload.zipf_exponent).expect("validated exponent"),
            ),
        };
        let (_, size_max) = workload.message_size.bounds();
        // Twice the largest message lets every payload start at a random
        // offset without wrapping.
        let mut pool = vec![0u8; 2 * size_max];
        rng.fill(&mut pool[..]);
        Self {
            rng,
            size,
            keys,
            pool,
            random_fraction: workload.payload_random_fraction,
        }
    }

    pub fn next_size(&mut self) -> usize {
        match self.size {
            SizeSampler::Fixed(n) => n,
            SizeSampler::Uniform(a, b) => self.rng.gen_range(a..=b),
            SizeSampler::Normal(d, a, b) => {
                (d.sample(&mut self.rng).round().max(0.0) as usize).clamp(a, b)
            }
        }
    }

    /// The next key as a decimal string, or `None` for unkeyed workloads.
    pub fn next_key(&mut self) -> Option<u64> {
        match &mut self.keys {
            KeySampler::None => None,
            KeySampler::RoundRobin { next, space } => {
                let k = *next;
                *next = (*next + 1) % *space;
                Some(k)
            }
            KeySampler::Random { space } => Some(self.rng.gen_range(0..*space)),
            // Zipf samples 1..=n; rank 1 is the hottest key.
            KeySampler::Zipf(z) => Some(z.sample(&mut self.rng) as u64 - 1),
        }
    }

    /// Fills `value` (already sized) with payload; the stamp bytes are
    /// overwritten by the caller right before sending.
    pub fn fill_payload(&mut self, value: &mut [u8]) {
        let stamp_end = STAMP_BYTES.min(value.len());
        let body = &mut value[stamp_end..];
        let random = ((body.len() as f64) * self.random_fraction).round() as usize;
        if random > 0 {
            let start = self.rng.gen_range(0..=self.pool.len() - random);
            body[..random].copy_from_slice(&self.pool[start..start + random]);
        }
        body[random..].fill(0);
    }
}

/// Open-loop schedule: when each message of one producer is due, in ns since
/// the run's origin. The schedule never waits for the broker: a message due
/// while the producer is blocked keeps its due time, and the delay shows up
/// in its latency (wrk2's correction for coordinated omission).
#[derive(Debug, Clone)]
pub struct Pacer {
    start_ns: u64,
    interval_ns: f64,
    sent: u64,
}

impl Pacer {
    pub fn new(start_ns: u64, messages_per_sec: f64) -> Self {
        assert!(messages_per_sec > 0.0 && messages_per_sec.is_finite());
        Self {
            start_ns,
            interval_ns: 1e9 / messages_per_sec,
            sent: 0,
        }
    }

    /// Due time of the next message; computed from the count (not by adding
    /// intervals) so rounding never drifts.
    pub fn next_due_ns(&self) -> u64 {
        self.start_ns + (self.sent as f64 * self.interval_ns).round() as u64
    }

    pub fn advance(&mut self) {
        self.sent += 1;
    }

    /// Messages due before `end_ns` that have not been sent (yet).
    pub fn unsent_before(&self, end_ns: u64) -> u64 {
        if end_ns <= self.start_ns {
            return 0;
        }
        let due = ((end_ns - self.start_ns) as f64 / self.interval_ns).ceil() as u64;
        due.saturating_sub(self.sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Overrides;

    fn workload(o: Overrides) -> Workload {
        Workload::default().with_overrides(&o).unwrap()
    }

    #[test]
    fn same_seed_same_messages() {
        let w = workload(Overrides {
            message_size: Some("uniform:16-4000".parse().unwrap()),
            keys: Some(KeyDistribution::Zipf),
            ..Default::default()
        });
        let draw = |stream| {
            let mut g = MessageGenerator::new(&w, stream);
            (0..100)
                .map(|_| (g.next_size(), g.next_key()))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
        assert!(draw(3)
            .iter()
            .all(|&(s, k)| (16..=4000).contains(&s) && k.unwrap() < w.key_space));
    }

    #[test]
    fn zipf_keys_are_skewed_and_round_robin_cycles() {
        let w = workload(Overrides {
            keys: Some(KeyDistribution::Zipf),
            key_space: Some(100),
            ..Default::default()
        });
        let mut g = MessageGenerator::new(&w, 0);
        let mut counts = [0u32; 100];
        for _ in 0..10_000 {
            counts[g.next_key().unwrap() as usize] += 1;
        }
        // With s = 1 over 100 keys the hottest key gets ~19% of draws and the
        // coldest ~0.2%.
        assert!(
            counts[0] > 1_500 && counts[0] > 20 * counts[99],
            "{:?}",
            &counts[..5]
        );

        let w = workload(Overrides {
            keys: Some(KeyDistribution::RoundRobin),
            key_space: Some(3),
            ..Default::default()
        });
        let mut g = MessageGenerator::new(&w, 0);
        let keys: Vec<_> = (0..7).map(|_| g.next_key().unwrap()).collect();
        assert_eq!(keys, [0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn payload_randomness_fraction() {
        let w = workload(Overrides {
            payload_random_fraction: Some(0.25),
            ..Default::default()
        });
        let mut g = MessageGenerator::new(&w, 0);
        let mut v = vec![0xffu8; 1016 + STAMP_BYTES];
        g.fill_payload(&mut v);
        let body = &v[STAMP_BYTES..];
        assert!(body[254..].iter().all(|&b| b == 0));
        assert!(body[..254].iter().filter(|&&b| b != 0).count() > 200);
        stamp(&mut v, 123_456, 7);
        assert_eq!(read_stamp(&v), Some((123_456, 7)));
        assert_eq!(read_stamp(&v[..10]), None);
    }

    #[test]
    fn pacer_does_not_drift() {
        let mut p = Pacer::new(1_000, 3.0);
        let mut due = Vec::new();
        for _ in 0..4 {
            due.push(p.next_due_ns());
            p.advance();
        }
        assert_eq!(due, [1_000, 333_334_333, 666_667_667, 1_000_001_000]);
        // Due strictly before 2 s + 1 us: messages 0..=5; four were sent.
        assert_eq!(p.unsent_before(2_000_001_000), 2);
        assert_eq!(p.unsent_before(500), 0);
    }

    /// Coordinated omission: a client with one request in flight sends at
    /// 1000 msg/s against a server that answers in 0.1 ms but stalls for one
    /// second. Measured from the send, the stall is one slow sample and
    /// vanishes from p99; measured from each message's due time (the pacer),
    /// every message that should have been sent during the stall waited, and
    /// p99 shows it. hdrhistogram's own correction of the naive samples must
    /// agree with the due-time measurement.
    #[test]
    fn stall_shows_in_high_percentiles_only_when_measured_from_due_time() {
        use crate::stats::new_histogram;
        const RATE: f64 = 1000.0;
        const SERVICE_NS: u64 = 100_000; // capacity 10x the rate, so the backlog drains
        const STALL: std::ops::Range<u64> = 5_000_000_000..6_000_000_000;
        let mut pacer = Pacer::new(0, RATE);
        let (mut naive, mut corrected, mut hdr_corrected) =
            (new_histogram(), new_histogram(), new_histogram());
        let mut free_at = 0u64; // when the single in-flight slot frees up
        while pacer.next_due_ns() < 10_000_000_000 {
            let due = pacer.next_due_ns();
            pacer.advance();
            let sent = due.max(free_at);
            let done = if STALL.contains(&sent) {
                STALL.end + SERVICE_NS
            } else {
                sent + SERVICE_NS
            };
            free_at = done;
            naive.record((done - sent) / 1000).unwrap();
            corrected.record((done - due) / 1000).unwrap();
            hdr_corrected
                .record_correct((done - sent) / 1000, (1e6 / RATE) as u64)
                .unwrap();
        }
        let q = |h: &hdrhistogram::Histogram<u64>, q: f64| h.value_at_quantile(q) / 1000; // ms
                                                                                          // Naive: the stall is invisible at p99 and p99.9.
        assert!(
            q(&naive, 0.99) <= 1 && q(&naive, 0.999) <= 1,
            "naive p99 {} p99.9 {}",
            q(&naive, 0.99),
            q(&naive, 0.999)
        );
        assert!(
            (1000..=1001).contains(&q(&naive, 1.0)),
            "the stalled request itself took ~1 s"
        );
        // Due time: ~10% of messages were due during the stall and waited up
        // to a second, so p95 is ~half a second and p99 ~0.9 s.
        assert!(
            (450..=550).contains(&q(&corrected, 0.95)),
            "p95 {}",
            q(&corrected, 0.95)
        );
        assert!(
            (850..=950).contains(&q(&corrected, 0.99)),
            "p99 {}",
            q(&corrected, 0.99)
        );
        assert!(q(&corrected, 0.5) <= 1);
        // hdrhistogram back-fills only the stall itself (not the drain that
        // follows), so the two agree in the tail, not at the boundary.
        for quantile in [0.99, 0.999] {
            let (a, b) = (
                q(&corrected, quantile) as f64,
                q(&hdr_corrected, quantile) as f64,
            );
            assert!(
                (a - b).abs() <= 0.05 * a.max(b),
                "q{quantile}: due-time {a} vs hdrhistogram {b}"
            );
        }
    }
}
