//! `sluice-check` against the real broker: a healthy broker passes, the
//! deliberately broken one (`SLUICE_TEST_FAULT=lose-acked-writes`) is caught
//! losing acknowledged writes, and the short fault run CI makes on every
//! change (single node: kill, pause, disk full) finds nothing.
//!
//! A failing run's directory (history, report, plot, the broker's logs) is
//! kept and its path printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tests::{binary, finish};

/// Environment variable that makes the broker lose acknowledged writes.
const TEST_FAULT: &str = "SLUICE_TEST_FAULT";

/// `sluice-check ARGS` with `env`, to completion within `timeout`.
fn check(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Output {
    let child = Command::new(binary("sluice-check"))
        .args(args)
        // Only the broken-broker test sets it, never the environment.
        .env_remove(TEST_FAULT)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sluice-check");
    finish(child, timeout).0
}

/// `sluice-check run --nodes 1` into a fresh directory; returns the output
/// and the directory (kept, and its path printed, if the test fails).
fn run(duration_s: u64, faults: &str, seed: u64, env: &[(&str, &str)]) -> (Output, Kept) {
    let out = Kept(Some(
        tempfile::Builder::new()
            .prefix("sluice-check-e2e-")
            .tempdir()
            .unwrap(),
    ));
    let (duration, seed) = (duration_s.to_string(), seed.to_string());
    let sluice = binary("sluice");
    let args = [
        "run",
        "--nodes",
        "1",
        "--duration",
        &duration,
        "--faults",
        faults,
        "--seed",
        &seed,
        "--out",
        out.path().to_str().unwrap(),
        "--sluice-bin",
        sluice.to_str().unwrap(),
    ];
    // Draining, the final read and the broker's restarts come on top.
    let timeout = Duration::from_secs(duration_s + 240);
    (check(&args, env, timeout), out)
}

/// A run directory that survives a failing test.
struct Kept(Option<tempfile::TempDir>);

impl Kept {
    fn path(&self) -> &Path {
        self.0.as_ref().expect("kept until dropped").path()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    fn summary(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.file("summary.json"))
            .unwrap_or_else(|e| panic!("{}: {e}", self.file("summary.json").display()));
        serde_json::from_str(&text).unwrap()
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The history and the broker's logs are the evidence: keep them.
            let path = self.0.take().expect("dropped once").keep();
            eprintln!("sluice-check run kept in {}", path.display());
            if let Ok(report) = std::fs::read_to_string(path.join("report.txt")) {
                eprintln!("{report}");
            }
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn count(summary: &serde_json::Value, section: &str, key: &str) -> u64 {
    summary[section][key]
        .as_u64()
        .unwrap_or_else(|| panic!("{section}.{key} missing in {summary:#}"))
}

#[test]
fn a_healthy_broker_passes_and_its_history_checks_again_the_same() {
    let (out, dir) = run(8, "none", 1, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let summary = dir.summary();
    assert_eq!(summary["valid"], true, "{summary:#}");
    let acknowledged = count(&summary, "totals", "values_acknowledged");
    assert!(
        acknowledged > 1000,
        "{acknowledged} acknowledged\n{summary:#}"
    );
    assert_eq!(count(&summary, "totals", "values_lost"), 0);
    assert!(count(&summary, "totals", "records_in_final_read") >= acknowledged);
    assert!(count(&summary, "totals", "commits_ok") > 0, "{summary:#}");
    for name in [
        "history.jsonl",
        "report.txt",
        "timeline.png",
        "timeline.svg",
    ] {
        assert!(dir.file(name).exists(), "{name} missing");
    }
    assert!(
        dir.file("node-0/broker-1.log").exists(),
        "the broker's log is kept"
    );
    assert!(
        !dir.file("node-0/data").exists(),
        "a passing run drops its data"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("VALID: no anomaly"), "{}", text(&out));

    let history = dir.file("history.jsonl");
    let again = check(
        &["analyze", history.to_str().unwrap()],
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
}

#[test]
fn a_broker_that_drops_acknowledged_writes_is_caught() {
    let (out, dir) = run(8, "none", 2, &[(TEST_FAULT, "lose-acked-writes")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let summary = dir.summary();
    assert_eq!(summary["valid"], false);
    let lost = count(&summary, "anomalies", "lost-write");
    assert!(lost > 10, "{lost} lost writes\n{summary:#}");
    assert_eq!(count(&summary, "totals", "values_lost"), lost);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("lost-write") && stdout.contains("INVALID"),
        "{}",
        text(&out)
    );
    // The evidence stays: history, report, the broker's log (with its warning).
    let log = std::fs::read_to_string(dir.file("node-0/broker-1.log")).unwrap();
    assert!(log.contains("lose-acked-writes"), "{log}");
    let report = std::fs::read_to_string(dir.file("report.txt")).unwrap();
    assert!(report.contains("is not in the final read"), "{report}");
    assert!(
        dir.file("node-0/data").exists(),
        "a failing run keeps its data"
    );

    let history = dir.file("history.jsonl");
    let again = check(
        &["analyze", history.to_str().unwrap()],
        &[],
        Duration::from_secs(60),
    );
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    let table = String::from_utf8_lossy(&again.stdout);
    let row: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("lost-write "))
        .unwrap_or_else(|| panic!("no lost-write row:\n{table}"))
        .split_whitespace()
        .collect();
    assert_eq!(row[1], lost.to_string(), "analyze agrees with the run");
}

/// The short run CI makes on every change: one node through kills, pauses
/// and a full disk for 90 s (about two minutes with draining, the final
/// crash and the final read). `SLUICE_CHECK_SEED=N` replays another
/// schedule.
#[test]
fn ci_fault_run_kill_pause_disk_full_loses_nothing() {
    let seed = std::env::var("SLUICE_CHECK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_251_204);
    let (out, dir) = run(90, "kill,pause,disk-full", seed, &[]);
    assert_eq!(out.status.code(), Some(0), "seed {seed}: {}", text(&out));
    let summary = dir.summary();
    for kind in ["kill", "pause", "disk-full"] {
        assert!(
            summary["faults_injected"][kind].as_u64().unwrap_or(0) > 0,
            "seed {seed} injected no {kind}: {summary:#}"
        );
    }
    assert!(
        count(&summary, "totals", "values_acknowledged") > 10_000,
        "{summary:#}"
    );
    assert!(
        count(&summary, "totals", "offset_fetches") > 0,
        "{summary:#}"
    );
}
