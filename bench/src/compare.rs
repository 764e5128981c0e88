//! `sluice-bench compare RUN...`: overlays the percentile curves of several
//! runs and prints each run's percentiles as a ratio to the first run's.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::limits;
use crate::plot::{percentile_plot, Curve};
use crate::report::RunSummary;
use crate::stats::{Metric, Percentiles};

/// Loads the runs (output directories or `summary.json` files).
pub fn load(runs: &[PathBuf]) -> Result<Vec<RunSummary>, String> {
    if runs.is_empty() || runs.len() > limits::COMPARE_RUNS_MAX {
        return Err(format!(
            "compare needs 1..={} runs",
            limits::COMPARE_RUNS_MAX
        ));
    }
    runs.iter()
        .map(|p| RunSummary::read(p).map_err(|e| e.to_string()))
        .collect()
}

/// Labels runs by their directory name so the legend tells them apart.
pub fn labels(runs: &[PathBuf]) -> Vec<String> {
    runs.iter()
        .map(|p| {
            let p = if p.is_dir() {
                p.as_path()
            } else {
                p.parent().unwrap_or(p)
            };
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string())
        })
        .collect()
}

fn row(p: &Percentiles) -> [f64; 6] {
    [
        p.p50_us, p.p90_us, p.p99_us, p.p999_us, p.p9999_us, p.max_us,
    ]
    .map(|v| v as f64)
}

/// The comparison table: absolute values of the baseline (first run), then
/// every other run's values divided by the baseline's.
pub fn ratio_table(labels: &[String], runs: &[RunSummary], metric: Metric) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "{} latency, baseline {} (ms), others as ratio to baseline",
        metric.name(),
        labels[0]
    )
    .unwrap();
    writeln!(
        out,
        "{:<32} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>12}",
        "run", "p50", "p90", "p99", "p99.9", "p99.99", "max", "msg/s"
    )
    .unwrap();
    let base = runs[0].latency.get(&metric).copied().unwrap_or_default();
    let base_rate = runs[0].throughput.produce_messages_per_sec;
    for (i, (label, run)) in labels.iter().zip(runs).enumerate() {
        let Some(p) = run.latency.get(&metric) else {
            writeln!(out, "{label:<32} (no {} samples)", metric.name()).unwrap();
            continue;
        };
        let rate = run.throughput.produce_messages_per_sec;
        let cells: Vec<String> = if i == 0 {
            row(p)
                .iter()
                .map(|v| format!("{:.3}", v / 1000.0))
                .chain([format!("{rate:.0}")])
                .collect()
        } else {
            row(p)
                .iter()
                .zip(row(&base))
                .map(|(v, b)| {
                    if b > 0.0 {
                        format!("{:.2}x", v / b)
                    } else {
                        "-".into()
                    }
                })
                .chain([if base_rate > 0.0 {
                    format!("{:.2}x", rate / base_rate)
                } else {
                    "-".into()
                }])
                .collect()
        };
        write!(out, "{label:<32}").unwrap();
        for (j, c) in cells.iter().enumerate() {
            if j == 6 {
                write!(out, " {c:>12}").unwrap();
            } else {
                write!(out, " {c:>9}").unwrap();
            }
        }
        out.push('\n');
    }
    out
}

/// Writes `compare-{metric}.png/.svg` into `out` for every metric that at
/// least one run measured; returns the table text and the files.
pub fn compare(runs: &[PathBuf], out: &Path) -> Result<(String, Vec<PathBuf>), String> {
    let summaries = load(runs)?;
    let labels = labels(runs);
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut text = String::new();
    let mut files = Vec::new();
    for metric in Metric::ALL {
        if !summaries.iter().any(|s| s.curves.contains_key(&metric)) {
            continue;
        }
        let curves: Vec<Curve> = labels
            .iter()
            .zip(&summaries)
            .filter_map(|(l, s)| {
                s.curves.get(&metric).map(|pts| Curve {
                    label: l.clone(),
                    points: pts,
                })
            })
            .collect();
        let stem = format!("compare-{}", metric.name());
        files.extend(percentile_plot(
            out,
            &stem,
            &format!("{} latency by percentile", metric.name()),
            &curves,
        )?);
        text.push_str(&ratio_table(&labels, &summaries, metric));
        text.push('\n');
    }
    Ok((text, files))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Outcome, Throughput};
    use crate::workload::Workload;

    fn summary(scale: u64, rate: f64) -> RunSummary {
        let mut s = RunSummary {
            label: "x".into(),
            target: "t".into(),
            workload: Workload::default(),
            open_loop: false,
            outcome: Outcome::Completed,
            started_unix_ms: 0,
            measured_secs: 1.0,
            counts: Default::default(),
            measured_counts: Default::default(),
            throughput: Throughput {
                produce_messages_per_sec: rate,
                ..Default::default()
            },
            latency: Default::default(),
            curves: Default::default(),
            clamped_samples: 0,
            intervals: vec![],
            files: vec![],
        };
        let mut l = crate::stats::Latencies::default();
        for v in 1..=1000 {
            l.record(Metric::Produce, v * scale);
        }
        s.fill_latency(&l);
        s
    }

    #[test]
    fn ratios_are_relative_to_the_first_run() {
        let runs = [summary(1000, 100.0), summary(2000, 50.0)];
        let labels = ["base".to_string(), "slow".to_string()];
        let t = ratio_table(&labels, &runs, Metric::Produce);
        let slow = t.lines().find(|l| l.starts_with("slow")).unwrap();
        let cells: Vec<&str> = slow.split_whitespace().skip(1).collect();
        assert_eq!(
            cells,
            ["2.00x", "2.00x", "2.00x", "2.00x", "2.00x", "2.00x", "0.50x"]
        );
        let base = t.lines().find(|l| l.starts_with("base")).unwrap();
        assert!(base.contains("500.") && base.contains("100"), "{base}");
    }

    #[test]
    fn compare_reads_run_directories_and_plots() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for (name, scale) in [("a", 1000), ("b", 1500)] {
            let run = dir.path().join(name);
            std::fs::create_dir(&run).unwrap();
            let s = summary(scale, 10.0);
            std::fs::write(
                run.join(crate::report::SUMMARY_FILE),
                serde_json::to_string(&s).unwrap(),
            )
            .unwrap();
            paths.push(run);
        }
        let out = dir.path().join("cmp");
        let (text, files) = compare(&paths, &out).unwrap();
        assert!(text.contains("1.50x"), "{text}");
        assert_eq!(files.len(), 2);
        assert!(files.iter().all(|f| f.exists()));
        assert!(compare(&[dir.path().join("missing")], &out)
            .unwrap_err()
            .contains("missing"));
    }
}
