//! The faults and their schedule. A schedule is a pure function of the
//! seed, the run's length, the fault kinds and the node count, so a seed
//! replays the same faults (kinds, nodes, start times, lengths); what the
//! workload happens to be doing at that moment is not replayed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// SIGKILL the broker, keep it down a while, start it again.
    Kill,
    /// SIGSTOP, then SIGCONT.
    Pause,
    /// Fill the node's data file system, then free it.
    DiskFull,
    /// Throttle the broker's writes to its data file system.
    SlowDisk,
    /// Clients and the node cannot exchange a byte (both ways stalled).
    Partition,
    /// Requests do not reach the node; responses still flow.
    CutRequests,
    /// The node gets requests and acts on them, its responses are held.
    CutResponses,
    /// Bytes both ways are thrown away; damaged connections are reset.
    Drop,
    /// Every chunk both ways is delayed.
    Delay,
    /// Every client connection to the node is closed at once.
    Reset,
}

impl FaultKind {
    pub const ALL: [FaultKind; 10] = [
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::DiskFull,
        FaultKind::SlowDisk,
        FaultKind::Partition,
        FaultKind::CutRequests,
        FaultKind::CutResponses,
        FaultKind::Drop,
        FaultKind::Delay,
        FaultKind::Reset,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::DiskFull => "disk-full",
            FaultKind::SlowDisk => "slow-disk",
            FaultKind::Partition => "partition",
            FaultKind::CutRequests => "cut-requests",
            FaultKind::CutResponses => "cut-responses",
            FaultKind::Drop => "drop",
            FaultKind::Delay => "delay",
            FaultKind::Reset => "reset",
        }
    }

    /// Faults that need the node's data on a small file system of its own.
    pub fn needs_small_disk(self) -> bool {
        matches!(self, FaultKind::DiskFull | FaultKind::SlowDisk)
    }

    /// How long the fault lasts, in ms (inclusive range).
    fn hold_ms(self) -> (u64, u64) {
        match self {
            FaultKind::Kill => limits::KILL_DOWN_MS,
            FaultKind::Pause => limits::PAUSE_MS,
            FaultKind::DiskFull => limits::DISK_FULL_MS,
            FaultKind::SlowDisk => limits::SLOW_DISK_MS,
            FaultKind::Partition
            | FaultKind::CutRequests
            | FaultKind::CutResponses
            | FaultKind::Drop => limits::NETWORK_FAULT_MS,
            FaultKind::Delay => limits::NETWORK_FAULT_MS,
            FaultKind::Reset => (0, 0),
        }
    }

    /// `kill,pause,disk-full`; `none` (or nothing) is no fault at all.
    pub fn parse_list(text: &str) -> Result<Vec<FaultKind>, String> {
        let mut out = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "none" {
                continue;
            }
            let kind = FaultKind::ALL
                .into_iter()
                .find(|k| k.name() == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                    format!("unknown fault {name:?}; known: {}, none", known.join(", "))
                })?;
            if !out.contains(&kind) {
                out.push(kind);
            }
        }
        Ok(out)
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One fault of the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedFault {
    /// Start, in ms after the run started.
    pub at_ms: u64,
    pub kind: FaultKind,
    pub node: usize,
    pub hold_ms: u64,
    /// Added latency (the `delay` fault only).
    pub delay_ms: u64,
}

/// The faults of a run: one at a time, the first after a quiet start (so
/// the workload is under way), the last ending before a quiet end (so the
/// run ends healed), with quiet gaps between them.
pub fn schedule(
    seed: u64,
    duration_s: u64,
    kinds: &[FaultKind],
    nodes: usize,
) -> Vec<PlannedFault> {
    let mut out = Vec::new();
    if kinds.is_empty() || nodes == 0 {
        return out;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let duration_ms = duration_s * 1000;
    let end_ms = duration_ms.saturating_sub(limits::QUIET_END_MS);
    let mut at_ms = limits::QUIET_START_MS.min(duration_ms / 5);
    while at_ms < end_ms && out.len() < limits::FAULTS_PER_RUN_MAX {
        // The same draws on every iteration whatever they decide, so the
        // schedule depends on the seed and the parameters only.
        let kind = kinds[rng.gen_range(0..kinds.len())];
        let node = rng.gen_range(0..nodes);
        let (lo, hi) = kind.hold_ms();
        let hold_ms = rng.gen_range(lo..=hi);
        let delay_ms = rng.gen_range(limits::DELAY_MS.0..=limits::DELAY_MS.1);
        let gap_ms = rng.gen_range(limits::GAP_MS.0..=limits::GAP_MS.1);
        let hold_ms = hold_ms.min(end_ms - at_ms);
        if hold_ms < lo {
            break;
        }
        out.push(PlannedFault {
            at_ms,
            kind,
            node,
            hold_ms,
            delay_ms: if kind == FaultKind::Delay {
                delay_ms
            } else {
                0
            },
        });
        at_ms += hold_ms + gap_ms;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_its_schedule_and_faults_stay_inside_the_run() {
        let kinds = [FaultKind::Kill, FaultKind::Pause, FaultKind::DiskFull];
        let a = schedule(42, 120, &kinds, 1);
        assert_eq!(a, schedule(42, 120, &kinds, 1));
        assert_ne!(a, schedule(43, 120, &kinds, 1));
        assert!(a.len() >= 10, "{} faults in two minutes", a.len());
        for kind in kinds {
            assert!(a.iter().any(|f| f.kind == kind), "no {kind} in {a:?}");
        }
        let mut previous_end = 0;
        for f in &a {
            assert!(f.at_ms >= previous_end + limits::GAP_MS.0 || previous_end == 0);
            previous_end = f.at_ms + f.hold_ms;
            assert!(previous_end <= 120_000 - limits::QUIET_END_MS, "{f:?}");
        }
        assert!(schedule(1, 60, &[], 1).is_empty());
        assert!(
            !schedule(1, 10, &kinds, 1).is_empty(),
            "short runs get faults too"
        );
    }

    #[test]
    fn fault_lists_parse_and_bad_names_are_listed() {
        assert_eq!(
            FaultKind::parse_list("kill, pause,kill,disk-full").unwrap(),
            [FaultKind::Kill, FaultKind::Pause, FaultKind::DiskFull]
        );
        assert!(FaultKind::parse_list("none").unwrap().is_empty());
        let e = FaultKind::parse_list("kill,clock").unwrap_err();
        assert!(e.contains("clock") && e.contains("cut-responses"), "{e}");
    }
}
