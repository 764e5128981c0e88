//! Many runs in a row (seeds `seed_base`, `seed_base + 1`, ...), one line
//! each, and the totals at the end. A passing run keeps only its
//! `summary.json` and `report.txt`; a failing one keeps everything.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::Serialize;

use super::checker::AnomalyKind;
use super::error::CheckError;
use super::run::{run, RunConfig};

#[derive(Debug, Default, Serialize)]
pub struct SoakTotals {
    pub runs: u64,
    pub valid: u64,
    pub invalid: u64,
    /// Runs that could not be carried out (a broker that would not restart,
    /// say), with the reason, by seed.
    pub errors: BTreeMap<u64, String>,
    /// Seeds of the runs with anomalies.
    pub invalid_seeds: Vec<u64>,
    pub anomalies: BTreeMap<AnomalyKind, u64>,
    pub faults: BTreeMap<String, u64>,
    pub values_acknowledged: u64,
    pub values_unknown: u64,
    pub values_lost: u64,
    pub values_duplicated: u64,
    pub records_polled: u64,
    pub commits_ok: u64,
    pub offset_fetches: u64,
    pub seconds: f64,
}

/// Runs `runs` checks with `template`'s settings into `template.out_dir`.
pub fn soak(
    template: &RunConfig,
    runs: u32,
    seed_base: u64,
    interrupted: &AtomicBool,
) -> Result<SoakTotals, CheckError> {
    let started = Instant::now();
    let mut totals = SoakTotals::default();
    for kind in AnomalyKind::ALL {
        totals.anomalies.insert(kind, 0);
    }
    std::fs::create_dir_all(&template.out_dir).map_err(CheckError::io(format!(
        "creating {}",
        template.out_dir.display()
    )))?;
    for i in 0..runs {
        if interrupted.load(Ordering::Relaxed) {
            break;
        }
        let seed = seed_base + u64::from(i);
        let mut cfg = template.clone();
        cfg.seed = seed;
        cfg.out_dir = template.out_dir.join(format!("seed-{seed}"));
        cfg.verbose = false;
        let run_started = Instant::now();
        totals.runs += 1;
        let line = match run(&cfg, interrupted) {
            Ok(outcome) => {
                let a = &outcome.analysis;
                let t = &a.totals;
                for (kind, n) in &a.anomalies {
                    *totals.anomalies.entry(*kind).or_default() += n;
                }
                for (kind, n) in &t.faults {
                    *totals.faults.entry(kind.clone()).or_default() += n;
                }
                totals.values_acknowledged += t.values_acknowledged;
                totals.values_unknown += t.values_unknown;
                totals.values_lost += t.values_lost;
                totals.values_duplicated += t.values_duplicated;
                totals.records_polled += t.records_polled;
                totals.commits_ok += t.commits_ok;
                totals.offset_fetches += t.offset_fetches;
                let faults: Vec<String> =
                    t.faults.iter().map(|(k, n)| format!("{k}:{n}")).collect();
                let verdict = if a.valid() {
                    totals.valid += 1;
                    prune(&cfg.out_dir);
                    "valid".to_string()
                } else {
                    totals.invalid += 1;
                    totals.invalid_seeds.push(seed);
                    let kinds: Vec<String> = a
                        .anomalies
                        .iter()
                        .filter(|(_, n)| **n > 0)
                        .map(|(k, n)| format!("{k} {n}"))
                        .collect();
                    format!(
                        "INVALID ({}), kept in {}",
                        kinds.join(", "),
                        cfg.out_dir.display()
                    )
                };
                format!(
                    "{verdict}; acknowledged {}, unknown {}, lost {}; faults {}",
                    t.values_acknowledged,
                    t.values_unknown,
                    t.values_lost,
                    if faults.is_empty() {
                        "none".into()
                    } else {
                        faults.join(" ")
                    }
                )
            }
            Err(e) => {
                totals.errors.insert(seed, e.to_string());
                format!("ERROR: {e} (kept in {})", cfg.out_dir.display())
            }
        };
        println!(
            "run {:>4}/{runs} seed {seed}: {line} ({:.1} s)",
            i + 1,
            run_started.elapsed().as_secs_f64()
        );
    }
    totals.seconds = started.elapsed().as_secs_f64();
    let json = serde_json::to_string_pretty(&totals).expect("totals serialise");
    std::fs::write(template.out_dir.join("soak.json"), json)
        .map_err(CheckError::io("writing soak.json"))?;
    Ok(totals)
}

/// Keeps a passing run's summary and report, drops the rest.
fn prune(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name == "summary.json" || name == "report.txt" {
            continue;
        }
        let path = entry.path();
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// The totals table printed at the end of a soak.
pub fn totals_table(t: &SoakTotals) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "runs {}: valid {}, invalid {}, errors {} ({:.0} s)",
        t.runs,
        t.valid,
        t.invalid,
        t.errors.len(),
        t.seconds
    );
    for (kind, n) in &t.anomalies {
        let _ = writeln!(out, "  {:<22} {:>7}", kind.name(), n);
    }
    let faults: Vec<String> = t.faults.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let _ = writeln!(out, "faults injected: {}", faults.join(", "));
    let _ = writeln!(
        out,
        "values acknowledged {}, unknown {}, lost {}, duplicated in the log {}; records polled {}; \
         commits {}; offset fetches checked {}",
        t.values_acknowledged,
        t.values_unknown,
        t.values_lost,
        t.values_duplicated,
        t.records_polled,
        t.commits_ok,
        t.offset_fetches
    );
    if !t.invalid_seeds.is_empty() {
        let _ = writeln!(out, "invalid seeds: {:?}", t.invalid_seeds);
    }
    for (seed, e) in &t.errors {
        let _ = writeln!(out, "error, seed {seed}: {e}");
    }
    out
}
