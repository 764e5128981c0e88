//! What a run leaves behind: the final table, `.hgrm` percentile
//! distributions, the interval log, and the JSON summary that `compare` and
//! the plots read.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::stats::{percentile_curve, Counts, CurvePoint, Latencies, Metric, Percentiles};
use crate::workload::Workload;

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "reason", rename_all = "kebab-case")]
pub enum Outcome {
    Completed,
    /// Ctrl-C: the numbers cover the run up to the interrupt.
    Interrupted,
    /// Nothing was acknowledged or consumed for too long.
    Stalled(String),
    /// The client failed in a way retries could not fix.
    Failed(String),
}

/// Per-interval numbers, for the live view and the throughput plot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntervalSummary {
    /// Seconds since the start of the run (warm-up included).
    pub second: u64,
    pub warmup: bool,
    pub acked_messages: u64,
    pub acked_bytes: u64,
    pub consumed_messages: u64,
    pub consumed_bytes: u64,
    pub errors: u64,
    pub produce: Percentiles,
    pub end_to_end: Percentiles,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub produce_messages_per_sec: f64,
    pub produce_mb_per_sec: f64,
    pub consume_messages_per_sec: f64,
    pub consume_mb_per_sec: f64,
}

/// Everything a run measured, as written to `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub label: String,
    pub target: String,
    pub workload: Workload,
    pub open_loop: bool,
    pub outcome: Outcome,
    pub started_unix_ms: u64,
    /// Seconds after warm-up that the latency and throughput figures cover.
    pub measured_secs: f64,
    /// Counts of the whole run, warm-up included.
    pub counts: Counts,
    /// Counts of the measured part only.
    pub measured_counts: Counts,
    pub throughput: Throughput,
    pub latency: BTreeMap<Metric, Percentiles>,
    pub curves: BTreeMap<Metric, Vec<CurvePoint>>,
    /// Latency samples clamped to the histogram maximum.
    pub clamped_samples: u64,
    pub intervals: Vec<IntervalSummary>,
    /// Output files, relative to the output directory.
    pub files: Vec<String>,
}

impl RunSummary {
    pub fn fill_latency(&mut self, latencies: &Latencies) {
        for m in Metric::ALL {
            let h = latencies.get(m);
            if !h.is_empty() {
                self.latency.insert(m, Percentiles::of(h));
                self.curves.insert(m, percentile_curve(h));
            }
        }
        self.clamped_samples = latencies.clamped;
    }

    pub fn read(path: &Path) -> io::Result<Self> {
        let path = if path.is_dir() {
            path.join(SUMMARY_FILE)
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        serde_json::from_str(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })
    }
}

pub const SUMMARY_FILE: &str = "summary.json";
pub const INTERVAL_LOG_FILE: &str = "latency.hlog";

pub fn hgrm_file(metric: Metric) -> String {
    format!("{}.hgrm", metric.name())
}

/// Writes a histogram in the percentile-distribution format of
/// HdrHistogram's `outputPercentileDistribution` (what wrk2 prints and the
/// HdrHistogram plotter reads), values in milliseconds. The Rust crate has no
/// writer for this text format, hence this one.
pub fn write_hgrm(h: &Histogram<u64>, out: &mut impl Write) -> io::Result<()> {
    const SCALE: f64 = 1000.0; // microseconds -> milliseconds
    let mut s = String::new();
    writeln!(
        s,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )
    .unwrap();
    let mut total = 0u64;
    if !h.is_empty() {
        for v in h.iter_quantiles(5) {
            total += v.count_since_last_iteration();
            let q = v.quantile_iterated_to();
            let value = h.highest_equivalent(v.value_iterated_to()) as f64 / SCALE;
            if q < 1.0 {
                writeln!(
                    s,
                    "{value:12.3} {q:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - q)
                )
                .unwrap();
            } else {
                writeln!(s, "{value:12.3} {q:2.12} {total:10}").unwrap();
            }
        }
    }
    let (mean, stdev, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (
            h.mean() / SCALE,
            h.stdev() / SCALE,
            h.highest_equivalent(h.max()) as f64 / SCALE,
        )
    };
    writeln!(s, "#[Mean    = {mean:12.3}, StdDeviation   = {stdev:12.3}]").unwrap();
    writeln!(
        s,
        "#[Max     = {max:12.3}, Total count    = {:12}]",
        h.len()
    )
    .unwrap();
    writeln!(
        s,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_buckets(h)
    )
    .unwrap();
    out.write_all(s.as_bytes())
}

/// Sub-buckets per bucket: the smallest power of two that holds
/// 2 * 10^sigfig values (2048 for 3 significant digits).
fn sub_buckets(h: &Histogram<u64>) -> u64 {
    (2 * 10u64.pow(h.sigfig() as u32)).next_power_of_two()
}

/// Appends interval histograms to `latency.hlog`, the HdrHistogram interval
/// log format (V2 compressed, base64), one tagged line per metric and
/// interval. Values are microseconds.
pub struct IntervalLog {
    file: io::BufWriter<std::fs::File>,
    serializer: V2DeflateSerializer,
}

impl IntervalLog {
    pub fn create(path: &Path, start: SystemTime, comment: &str) -> io::Result<Self> {
        let mut file = io::BufWriter::new(std::fs::File::create(path)?);
        let mut serializer = V2DeflateSerializer::new();
        IntervalLogWriterBuilder::new()
            .add_comment(comment)
            .add_comment("values in microseconds (HistogramLogProcessor -outputValueUnitRatio 1000 prints ms)")
            .with_start_time(start)
            .with_base_time(start)
            .begin_log_with(&mut file, &mut serializer)?;
        writeln!(file, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"")?;
        Ok(Self { file, serializer })
    }

    pub fn write(&mut self, second: u64, latencies: &Latencies) -> io::Result<()> {
        // A builder without header options writes nothing, so each call
        // appends only histogram lines.
        let mut w =
            IntervalLogWriterBuilder::new().begin_log_with(&mut self.file, &mut self.serializer)?;
        for m in Metric::ALL {
            let h = latencies.get(m);
            if h.is_empty() {
                continue;
            }
            w.write_histogram(
                h,
                Duration::from_secs(second),
                Duration::from_secs(1),
                Tag::new(m.name()),
            )
            .map_err(|e| io::Error::other(e.to_string()))?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Writes `.hgrm` files and `summary.json`; returns the files written.
pub fn write_files(
    dir: &Path,
    summary: &RunSummary,
    latencies: &Latencies,
) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for m in Metric::ALL {
        let h = latencies.get(m);
        if h.is_empty() {
            continue;
        }
        let path = dir.join(hgrm_file(m));
        let mut f = io::BufWriter::new(std::fs::File::create(&path)?);
        write_hgrm(h, &mut f)?;
        f.flush()?;
        written.push(path);
    }
    let path = dir.join(SUMMARY_FILE);
    std::fs::write(
        &path,
        serde_json::to_string_pretty(summary).map_err(io::Error::other)?,
    )?;
    written.push(path);
    Ok(written)
}

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

/// The final human-readable report.
pub fn format_table(s: &RunSummary) -> String {
    let mut out = String::new();
    let w = &s.workload;
    let mode = match w.rate {
        Some(r) => format!("open loop at {r}, latency from intended send time"),
        None => format!("closed loop, {} in flight per producer", w.in_flight_max),
    };
    writeln!(
        out,
        "sluice-bench {} against {} ({mode})",
        s.label, s.target
    )
    .unwrap();
    let outcome = match &s.outcome {
        Outcome::Completed => "completed".to_string(),
        Outcome::Interrupted => "INTERRUPTED (partial results)".to_string(),
        Outcome::Stalled(r) => format!("STALLED: {r}"),
        Outcome::Failed(r) => format!("FAILED: {r}"),
    };
    writeln!(
        out,
        "outcome: {outcome}; measured {:.1} s after {} s warm-up",
        s.measured_secs, w.warmup_secs
    )
    .unwrap();
    let t = &s.throughput;
    writeln!(
        out,
        "produce: {:.0} msg/s, {:.2} MB/s   consume: {:.0} msg/s, {:.2} MB/s",
        t.produce_messages_per_sec,
        t.produce_mb_per_sec,
        t.consume_messages_per_sec,
        t.consume_mb_per_sec
    )
    .unwrap();
    let c = &s.counts;
    writeln!(
        out,
        "messages: sent {} acked {} failed {} consumed {}{}",
        c.sent_messages,
        c.acked_messages,
        c.failed_messages,
        c.consumed_messages,
        if c.late_messages + c.missed_messages > 0 {
            format!(
                " (sent >1 s late: {}, never sent: {}: the target rate was not sustained)",
                c.late_messages, c.missed_messages
            )
        } else {
            String::new()
        }
    )
    .unwrap();
    writeln!(
        out,
        "\n{:<16} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "latency (ms)", "p50", "p90", "p99", "p99.9", "p99.99", "max", "mean", "count"
    )
    .unwrap();
    for (m, p) in &s.latency {
        writeln!(
            out,
            "{:<16} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10.3} {:>10}",
            m.name(),
            ms(p.p50_us),
            ms(p.p90_us),
            ms(p.p99_us),
            ms(p.p999_us),
            ms(p.p9999_us),
            ms(p.max_us),
            p.mean_us / 1000.0,
            p.count
        )
        .unwrap();
    }
    if s.latency.is_empty() && c.acked_messages > 0 {
        writeln!(
            out,
            "(no latency measured: the run ended within its {} s warm-up; try --warmup 0)",
            w.warmup_secs
        )
        .unwrap();
    }
    if !c.errors.is_empty() {
        writeln!(out, "\nerrors:").unwrap();
        for (name, n) in &c.errors {
            writeln!(out, "  {name}: {n}").unwrap();
        }
    }
    if s.clamped_samples > 0 {
        writeln!(
            out,
            "\n{} latency samples exceeded one hour and were clamped",
            s.clamped_samples
        )
        .unwrap();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::new_histogram;

    #[test]
    fn hgrm_matches_the_standard_layout() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap(); // 1..1000 ms in microseconds
        }
        let mut out = Vec::new();
        write_hgrm(&h, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
        );
        assert_eq!(lines[1], "");
        // Data lines: value (ms), percentile as a fraction, cumulative count.
        let data: Vec<Vec<f64>> = lines[2..]
            .iter()
            .take_while(|l| !l.starts_with('#'))
            .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
            .collect();
        assert!(
            (data[0][0] - 1.0).abs() < 0.01,
            "first value {}",
            data[0][0]
        );
        let last = data.last().unwrap();
        assert_eq!(last.len(), 3, "the 100% line has no 1/(1-p) column");
        assert_eq!((last[1], last[2]), (1.0, 1000.0));
        assert!((last[0] - 1000.0).abs() < 1.0);
        let median = data.iter().find(|d| d[1] >= 0.5).unwrap();
        assert!((median[0] - 500.0).abs() < 1.0, "median {}", median[0]);
        assert!(data.windows(2).all(|w| w[0][2] <= w[1][2]));
        assert!(
            text.contains("#[Max     =     1000.447, Total count    =         1000]"),
            "{text}"
        );
        assert!(text.contains("SubBuckets     =         2048]"));
    }

    #[test]
    fn interval_log_round_trips_through_the_standard_reader() {
        use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(INTERVAL_LOG_FILE);
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut log = IntervalLog::create(&path, start, "test").unwrap();
        for second in 0..3u64 {
            let mut l = Latencies::default();
            for v in 0..=second * 100 {
                l.record(Metric::Produce, 1000 + v);
            }
            l.record(Metric::EndToEnd, 7);
            log.write(second, &l).unwrap();
        }
        log.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let mut produce = Vec::new();
        let mut lines = 0;
        for entry in IntervalLogIterator::new(&bytes) {
            match entry.unwrap() {
                LogEntry::Interval(i) => {
                    lines += 1;
                    assert!(!i.encoded_histogram().is_empty());
                    if i.tag().map(|t| t.as_str()) == Some("produce") {
                        produce.push((i.start_timestamp().as_secs(), i.max().round() as u64));
                    }
                }
                LogEntry::StartTime(t) | LogEntry::BaseTime(t) => {
                    assert_eq!(t.as_secs(), 1_700_000_000)
                }
            }
        }
        assert_eq!(lines, 6);
        let produce_counts = produce;
        assert_eq!(produce_counts, [(0, 1000), (1, 1100), (2, 1200)]);
    }

    #[test]
    fn table_shows_outcome_rates_percentiles_and_shortfalls() {
        let mut l = Latencies::default();
        for v in 1..=1000u64 {
            l.record(Metric::Produce, v * 10); // 0.01 .. 10 ms
        }
        let mut s = RunSummary {
            label: "t".into(),
            target: "host:1".into(),
            workload: Workload {
                rate: Some(crate::workload::Rate::MessagesPerSec(100.0)),
                ..Default::default()
            },
            open_loop: true,
            outcome: Outcome::Stalled("no message acknowledged".into()),
            started_unix_ms: 0,
            measured_secs: 10.0,
            counts: Counts {
                sent_messages: 1000,
                acked_messages: 1000,
                missed_messages: 7,
                ..Default::default()
            },
            measured_counts: Counts::default(),
            throughput: Throughput {
                produce_messages_per_sec: 100.0,
                produce_mb_per_sec: 0.1,
                ..Default::default()
            },
            latency: Default::default(),
            curves: Default::default(),
            clamped_samples: 0,
            intervals: vec![],
            files: vec![],
        };
        s.fill_latency(&l);
        let t = format_table(&s);
        assert!(t.contains("open loop at 100msg/s"), "{t}");
        assert!(t.contains("STALLED: no message acknowledged"), "{t}");
        assert!(t.contains("never sent: 7"), "{t}");
        let row: Vec<&str> = t
            .lines()
            .find(|l| l.starts_with("produce "))
            .unwrap()
            .split_whitespace()
            .collect();
        // The k-th percentile of 10, 20, ... 10 000 us is ~k * 100 us, shown
        // as the top of its 3-significant-digit bucket in ms.
        assert_eq!(
            row,
            ["produce", "5.003", "9.007", "9.903", "9.991", "10.007", "10.007", "5.006", "1000"]
        );
    }
}
