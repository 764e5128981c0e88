//! Measurements: latency histograms and counters, per worker and merged.
//!
//! Every worker owns its own [`Stats`] and never shares it; once per interval
//! it ships a [`Snapshot`] (the interval's histograms and counter deltas) to
//! the coordinator, which merges snapshots of the same interval from all
//! workers. Merging histograms is exact (counts add bucket by bucket), so the
//! merged percentiles are those of the union of all samples, never an average
//! of per-worker percentiles.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::limits;

/// The latencies the tool measures, all in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// Record due (open loop: its intended send time; closed loop: handed to
    /// the client) until its batch was acknowledged.
    Produce,
    /// Produce request written until its response was read.
    ProduceRequest,
    /// Record due until a consumer read it back.
    EndToEnd,
}

impl Metric {
    pub const ALL: [Metric; 3] = [Metric::Produce, Metric::ProduceRequest, Metric::EndToEnd];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Produce => "produce",
            Metric::ProduceRequest => "produce-request",
            Metric::EndToEnd => "end-to-end",
        }
    }
}

pub fn new_histogram() -> Histogram<u64> {
    // Auto-resizing: a histogram of sub-millisecond latencies stays a few
    // KiB, and a one-hour outlier still fits.
    Histogram::new(limits::HISTOGRAM_SIGFIG).expect("valid sigfig")
}

/// One histogram per [`Metric`].
#[derive(Debug, Clone)]
pub struct Latencies {
    histograms: [Histogram<u64>; 3],
    /// Samples above [`limits::LATENCY_US_MAX`], recorded as that maximum.
    pub clamped: u64,
}

impl Default for Latencies {
    fn default() -> Self {
        Self {
            histograms: [new_histogram(), new_histogram(), new_histogram()],
            clamped: 0,
        }
    }
}

impl Latencies {
    pub fn record(&mut self, metric: Metric, latency_us: u64) {
        let value = if latency_us > limits::LATENCY_US_MAX {
            self.clamped += 1;
            limits::LATENCY_US_MAX
        } else {
            latency_us
        };
        // `record` grows the histogram; `saturating_record` would clamp to
        // its current (tiny) range instead.
        self.histograms[metric as usize]
            .record(value)
            .expect("an auto-resizing histogram takes any value up to the clamp");
    }

    pub fn get(&self, metric: Metric) -> &Histogram<u64> {
        &self.histograms[metric as usize]
    }

    pub fn merge(&mut self, other: &Latencies) {
        for (mine, theirs) in self.histograms.iter_mut().zip(&other.histograms) {
            mine.add(theirs)
                .expect("auto-resizing histograms always merge");
        }
        self.clamped += other.clamped;
    }

    pub fn reset(&mut self) {
        for h in &mut self.histograms {
            h.reset();
        }
        self.clamped = 0;
    }
}

/// Event counts. Errors are keyed by a stable name (the Kafka error code's
/// name, or a client-side failure kind).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Records handed to the client.
    pub sent_messages: u64,
    pub acked_messages: u64,
    pub acked_bytes: u64,
    /// Records whose batch failed for good (after retries).
    pub failed_messages: u64,
    pub consumed_messages: u64,
    pub consumed_bytes: u64,
    /// Open loop: records sent more than one interval after they were due,
    /// a sign that the target rate was not sustained.
    pub late_messages: u64,
    /// Open loop: messages due before the end of the run that were never
    /// sent because the producer could not keep up (not in any histogram).
    pub missed_messages: u64,
    pub errors: BTreeMap<String, u64>,
}

impl Counts {
    pub fn merge(&mut self, o: &Counts) {
        self.sent_messages += o.sent_messages;
        self.acked_messages += o.acked_messages;
        self.acked_bytes += o.acked_bytes;
        self.failed_messages += o.failed_messages;
        self.consumed_messages += o.consumed_messages;
        self.consumed_bytes += o.consumed_bytes;
        self.late_messages += o.late_messages;
        self.missed_messages += o.missed_messages;
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
    }

    pub fn error(&mut self, name: &str, n: u64) {
        // The set of names is small and fixed (error codes), so this map
        // stays bounded.
        *self.errors.entry(name.to_string()).or_default() += n;
    }
}

/// A worker's measurements of one interval.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub worker: usize,
    /// Interval number since the run's origin (interval `i` covers
    /// `[i, i+1)` seconds).
    pub interval: u64,
    pub latencies: Latencies,
    pub counts: Counts,
    /// Set on the worker's last snapshot.
    pub last: bool,
}

/// The handful of numbers reported for a histogram.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub p9999_us: u64,
    pub max_us: u64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            count: h.len(),
            mean_us: h.mean(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            p9999_us: h.value_at_quantile(0.9999),
            max_us: h.max(),
        }
    }
}

/// One point of a percentile curve: `percentile` in 0..=100.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub percentile: f64,
    pub value_us: u64,
}

/// The percentile distribution as the standard HdrHistogram iteration walks
/// it (5 ticks per half distance), used by the plots and `compare`.
pub fn percentile_curve(h: &Histogram<u64>) -> Vec<CurvePoint> {
    h.iter_quantiles(5)
        .map(|v| CurvePoint {
            percentile: v.quantile_iterated_to() * 100.0,
            value_us: h.highest_equivalent(v.value_iterated_to()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn merged_histograms_equal_one_histogram_of_all_samples() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut workers = vec![
            Latencies::default(),
            Latencies::default(),
            Latencies::default(),
        ];
        let mut all = Latencies::default();
        for i in 0..30_000u64 {
            // Workers see different distributions, so averaging their
            // percentiles would be wrong while merging is exact.
            let w = (i % 3) as usize;
            let v = rng.gen_range(1..1_000) * (w as u64 * 50 + 1);
            workers[w].record(Metric::Produce, v);
            all.record(Metric::Produce, v);
        }
        let mut merged = Latencies::default();
        for w in &workers {
            merged.merge(w);
        }
        let (m, a) = (merged.get(Metric::Produce), all.get(Metric::Produce));
        assert_eq!(m.len(), 30_000);
        assert_eq!(Percentiles::of(m), Percentiles::of(a));
        let naive_p99 = workers
            .iter()
            .map(|w| w.get(Metric::Produce).value_at_quantile(0.99))
            .sum::<u64>()
            / 3;
        assert!(
            Percentiles::of(m).p99_us.abs_diff(naive_p99) > 10_000,
            "the test distributions must make averaging visibly wrong"
        );
        assert!(merged.get(Metric::EndToEnd).is_empty());
    }

    #[test]
    fn huge_latencies_are_clamped_and_counted() {
        let mut l = Latencies::default();
        l.record(Metric::EndToEnd, u64::MAX);
        l.record(Metric::EndToEnd, 5);
        assert_eq!(l.clamped, 1);
        let h = l.get(Metric::EndToEnd);
        assert_eq!(h.len(), 2);
        assert!(h.max() >= limits::LATENCY_US_MAX);
        let mut other = Latencies::default();
        other.merge(&l);
        assert_eq!(other.clamped, 1);
    }

    #[test]
    fn counts_merge_errors_by_name() {
        let mut a = Counts {
            acked_messages: 3,
            ..Default::default()
        };
        a.error("NOT_LEADER_OR_FOLLOWER", 2);
        let mut b = Counts {
            acked_messages: 4,
            ..Default::default()
        };
        b.error("NOT_LEADER_OR_FOLLOWER", 1);
        b.error("REQUEST_TIMED_OUT", 1);
        a.merge(&b);
        assert_eq!(a.acked_messages, 7);
        assert_eq!(a.errors["NOT_LEADER_OR_FOLLOWER"], 3);
        assert_eq!(a.errors["REQUEST_TIMED_OUT"], 1);
    }

    #[test]
    fn percentile_curve_is_monotonic_and_ends_at_max() {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let curve = percentile_curve(&h);
        assert!(curve
            .windows(2)
            .all(|w| w[0].percentile <= w[1].percentile && w[0].value_us <= w[1].value_us));
        let last = curve.last().unwrap();
        assert_eq!(last.percentile, 100.0);
        assert_eq!(last.value_us, h.highest_equivalent(10_000));
    }
}
