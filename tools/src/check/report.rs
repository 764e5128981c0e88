//! What a run leaves behind besides its history: the summary table (printed
//! and in `report.txt`), `summary.json`, and the per-second timeline the
//! plot draws.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::checker::{secs, Analysis, Anomaly, AnomalyKind, Totals};
use super::error::CheckError;
use super::history::{Fault, History, Op, Outcome, RunInfo};

/// Send latency percentiles (invoke to acknowledgement), in ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// One second of the run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Second {
    pub values_acknowledged: u64,
    pub records_read: u64,
    /// Sends that ended in an unknown outcome or failed.
    pub sends_not_ok: u64,
    pub latency: Latency,
}

/// The run second by second, and its fault windows.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub seconds: Vec<Second>,
    pub faults: Vec<Fault>,
}

/// Latencies above an hour are clamped; nothing legitimate takes that long.
const LATENCY_US_MAX: u64 = 3_600_000_000;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("valid histogram bounds")
}

fn latency(h: &Histogram<u64>) -> Latency {
    if h.is_empty() {
        return Latency::default();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Latency {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.5)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        p999_ms: ms(h.value_at_quantile(0.999)),
        max_ms: ms(h.max()),
    }
}

/// Latency of every acknowledged send of the run.
pub fn send_latency(history: &History) -> Latency {
    let mut h = histogram();
    for op in &history.ops {
        if let Op::Send(s) = op {
            if s.outcome == Outcome::Ok {
                h.saturating_record((s.complete_us - s.invoke_us).clamp(1, LATENCY_US_MAX));
            }
        }
    }
    latency(&h)
}

pub fn timeline(history: &History) -> Timeline {
    let mut seconds: BTreeMap<u64, (Second, Histogram<u64>)> = BTreeMap::new();
    let mut faults = Vec::new();
    fn at(
        seconds: &mut BTreeMap<u64, (Second, Histogram<u64>)>,
        us: u64,
    ) -> &mut (Second, Histogram<u64>) {
        seconds
            .entry(us / 1_000_000)
            .or_insert_with(|| (Second::default(), histogram()))
    }
    for op in &history.ops {
        match op {
            Op::Send(s) => {
                let (second, h) = at(&mut seconds, s.complete_us);
                if s.outcome == Outcome::Ok {
                    second.values_acknowledged += s.counters.len() as u64;
                    h.saturating_record((s.complete_us - s.invoke_us).clamp(1, LATENCY_US_MAX));
                } else {
                    second.sends_not_ok += 1;
                }
            }
            Op::Poll(p) => at(&mut seconds, p.complete_us).0.records_read += p.records.len() as u64,
            Op::Fault(f) => faults.push(f.clone()),
            _ => {}
        }
    }
    let last = seconds.keys().next_back().copied().unwrap_or(0);
    let mut out = vec![Second::default(); last as usize + 1];
    for (s, (mut second, h)) in seconds {
        second.latency = latency(&h);
        out[s as usize] = second;
    }
    Timeline {
        seconds: out,
        faults,
    }
}

/// `summary.json`.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    pub valid: bool,
    pub run: &'a RunInfo,
    pub anomalies: &'a BTreeMap<AnomalyKind, u64>,
    pub totals: &'a Totals,
    pub faults_injected: &'a BTreeMap<String, u64>,
    pub send_latency: Latency,
    pub examples: &'a BTreeMap<AnomalyKind, Vec<Anomaly>>,
    /// Things worth knowing that are not anomalies (an unclean shutdown).
    pub notes: &'a [String],
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The table printed at the end of a run and by `analyze`.
pub fn summary_table(analysis: &Analysis) -> String {
    let t = &analysis.totals;
    let mut out = String::new();
    let _ = writeln!(out, "{:<22} {:>7}  meaning", "anomaly", "count");
    for kind in AnomalyKind::ALL {
        let _ = writeln!(
            out,
            "{:<22} {:>7}  {}",
            kind.name(),
            analysis.count(kind),
            kind.meaning()
        );
    }
    let _ = writeln!(
        out,
        "\nvalues   sent {}, acknowledged {}, unknown {} ({} of them in the log), failed {}, \
         lost {}, unchecked {}",
        thousands(t.values_sent),
        thousands(t.values_acknowledged),
        thousands(t.values_unknown),
        thousands(t.values_unknown_in_log),
        thousands(t.values_failed),
        thousands(t.values_lost),
        thousands(t.values_unchecked)
    );
    let _ = writeln!(
        out,
        "         duplicated in the log {} (of idempotent producers: {})",
        thousands(t.values_duplicated),
        thousands(t.values_duplicated_idempotent)
    );
    let _ = writeln!(
        out,
        "reads    {} records polled ({} distinct values) in {} sessions; final read {} records, \
         {}/{} partitions to the end",
        thousands(t.records_polled),
        thousands(t.values_read),
        t.sessions,
        thousands(t.records_in_final_read),
        t.partitions_read_completely,
        t.partitions
    );
    let _ = writeln!(
        out,
        "commits  ok {}, refused {}, unknown {}; offset fetches checked {}",
        t.commits_ok, t.commits_failed, t.commits_unknown, t.offset_fetches
    );
    let faults: Vec<String> = t.faults.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let _ = writeln!(
        out,
        "faults   {}",
        if faults.is_empty() {
            "none".into()
        } else {
            faults.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "verdict  {}",
        if analysis.valid() {
            "VALID: no anomaly".to_string()
        } else {
            format!("INVALID: {} anomalies", analysis.anomaly_count())
        }
    );
    out
}

/// `report.txt`: the run, its faults, the table, latency, the anomalies
/// with their descriptions, and notes.
pub fn text_report(history: &History, analysis: &Analysis, notes: &[String]) -> String {
    let run = &history.run;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sluice-check {}: seed {}, {}, {} s, faults {}, topic {} ({} partitions)\n",
        run.tool_version,
        run.seed,
        match run.nodes {
            0 => "attached to running brokers".to_string(),
            1 => "1 node".to_string(),
            n => format!("{n} nodes"),
        },
        run.duration_s,
        if run.faults.is_empty() {
            "none".into()
        } else {
            run.faults.join(",")
        },
        run.topic,
        run.partitions
    );
    let _ = writeln!(out, "faults (the seed replays this schedule):");
    let _ = writeln!(
        out,
        "  {:>9} {:>9}  {:<14} {:>4}  what",
        "start", "end", "kind", "node"
    );
    if !history.ops.iter().any(|op| matches!(op, Op::Fault(_))) {
        let _ = writeln!(out, "  none");
    }
    for op in &history.ops {
        if let Op::Fault(f) = op {
            let _ = writeln!(
                out,
                "  {:>9} {:>9}  {:<14} {:>4}  {}",
                secs(f.start_us),
                secs(f.end_us),
                f.kind,
                f.node.map_or("-".into(), |n| n.to_string()),
                f.detail
            );
        }
    }
    let _ = writeln!(out, "\n{}", summary_table(analysis));
    let l = send_latency(history);
    let _ = writeln!(
        out,
        "send latency (invoke to acknowledgement, {} batches): p50 {:.1} ms, p99 {:.1} ms, \
         p99.9 {:.1} ms, max {:.1} ms",
        l.count, l.p50_ms, l.p99_ms, l.p999_ms, l.max_ms
    );
    for (kind, examples) in &analysis.examples {
        if examples.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\n{kind}: {} (first {} shown)",
            analysis.count(*kind),
            examples.len()
        );
        for a in examples {
            let _ = writeln!(out, "  - [{}] {}", secs(a.at_us), a.description);
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(out, "\nnotes:");
        for n in notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    out
}

/// Writes `summary.json` and `report.txt` into `dir`.
pub fn write(
    dir: &Path,
    history: &History,
    analysis: &Analysis,
    notes: &[String],
) -> Result<(), CheckError> {
    let summary = Summary {
        valid: analysis.valid(),
        run: &history.run,
        anomalies: &analysis.anomalies,
        totals: &analysis.totals,
        faults_injected: &analysis.totals.faults,
        send_latency: send_latency(history),
        examples: &analysis.examples,
        notes,
    };
    let json = serde_json::to_string_pretty(&summary).expect("the summary serialises");
    std::fs::write(dir.join("summary.json"), json)
        .map_err(CheckError::io("writing summary.json"))?;
    std::fs::write(
        dir.join("report.txt"),
        text_report(history, analysis, notes),
    )
    .map_err(CheckError::io("writing report.txt"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::history::{Send, FORMAT_VERSION};

    fn history() -> History {
        let send = |counters: Vec<u64>, invoke_us, complete_us, outcome| {
            Op::Send(Send {
                producer: 0,
                idempotent: false,
                partition: 0,
                counters,
                invoke_us,
                complete_us,
                outcome,
                offset: (outcome == Outcome::Ok).then_some(0),
                retries: 0,
                error: None,
            })
        };
        History {
            run: RunInfo {
                format_version: FORMAT_VERSION,
                tool_version: "t".into(),
                seed: 1,
                nodes: 1,
                topic: "t".into(),
                partitions: 1,
                faults: vec!["kill".into()],
                duration_s: 3,
                started_unix_ms: 0,
            },
            ops: vec![
                send(vec![0, 1], 100_000, 102_000, Outcome::Ok),
                send(vec![2], 2_100_000, 2_600_000, Outcome::Ok),
                send(vec![3], 2_200_000, 2_900_000, Outcome::Info),
                Op::Fault(Fault {
                    kind: "kill".into(),
                    node: Some(0),
                    start_us: 1_000_000,
                    end_us: 2_000_000,
                    detail: "SIGKILL".into(),
                }),
            ],
        }
    }

    #[test]
    fn the_timeline_counts_per_second_and_keeps_fault_windows() {
        let t = timeline(&history());
        assert_eq!(t.seconds.len(), 3);
        assert_eq!(t.seconds[0].values_acknowledged, 2);
        assert_eq!(t.seconds[1], Second::default());
        assert_eq!(t.seconds[2].values_acknowledged, 1);
        assert_eq!(t.seconds[2].sends_not_ok, 1);
        assert!((t.seconds[2].latency.max_ms - 500.0).abs() < 1.0);
        assert_eq!(t.faults.len(), 1);
        let l = send_latency(&history());
        assert_eq!(l.count, 2);
        assert!(l.p50_ms >= 1.9 && l.p50_ms <= 2.1, "{l:?}");
    }

    #[test]
    fn the_report_shows_faults_counts_and_the_verdict() {
        let h = history();
        let analysis = crate::check::checker::check(&h);
        let text = text_report(&h, &analysis, &["node 0 stopped uncleanly".into()]);
        for want in [
            "seed 1",
            "SIGKILL",
            "lost-write",
            "verdict",
            "unclean",
            "sent 4",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
