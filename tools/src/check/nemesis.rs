//! Carries out the fault schedule on the nodes the tool started, one fault
//! at a time, and records each fault's window in the history.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::disk::SmallDisk;
use super::error::CheckError;
use super::faults::{FaultKind, PlannedFault};
use super::history::{Fault, Op, Recorder};
use super::limits;
use super::nodes::Node;
use super::proxy::{Direction, Mode, Proxy};

/// The fault kind in the history of the last kill before the final read,
/// apart from the scheduled kills.
pub const FINAL_CRASH: &str = "final-crash";

/// One node and the means to hurt it.
pub struct Target {
    pub node: Node,
    pub proxy: Proxy,
    pub disk: Option<SmallDisk>,
}

pub struct Nemesis<'a> {
    pub targets: &'a mut [Target],
    pub recorder: &'a Recorder,
    /// Set on Ctrl-C: the schedule stops and what is under way ends early.
    pub interrupted: &'a AtomicBool,
    /// Print each fault as it ends.
    pub verbose: bool,
}

impl Nemesis<'_> {
    /// Runs the schedule; returns when it is done, when `until` (after the
    /// run's start) has passed, or on interruption.
    pub fn run(&mut self, schedule: &[PlannedFault], until: Duration) -> Result<(), CheckError> {
        let started = self.recorder.started();
        for fault in schedule {
            let at = started + Duration::from_millis(fault.at_ms);
            if !self.sleep_until(at) || at >= started + until {
                break;
            }
            self.apply(fault)?;
        }
        self.sleep_until(started + until);
        Ok(())
    }

    /// Sleeps until `when`; false if interrupted first.
    fn sleep_until(&self, when: Instant) -> bool {
        loop {
            if self.interrupted.load(Ordering::Relaxed) {
                return false;
            }
            let now = Instant::now();
            if now >= when {
                return true;
            }
            std::thread::sleep((when - now).min(Duration::from_millis(50)));
        }
    }

    fn hold(&self, ms: u64) {
        self.sleep_until(Instant::now() + Duration::from_millis(ms));
    }

    pub fn apply(&mut self, f: &PlannedFault) -> Result<(), CheckError> {
        let start_us = self.recorder.now_us();
        let detail = match f.kind {
            FaultKind::Kill => {
                let target = &mut self.targets[f.node];
                target.node.kill();
                self.hold(f.hold_ms);
                let ready = self.targets[f.node].node.start()?;
                format!(
                    "SIGKILL, down {} ms, accepting connections {} ms after the restart",
                    f.hold_ms,
                    ready.as_millis()
                )
            }
            FaultKind::Pause => {
                self.targets[f.node].node.pause();
                self.hold(f.hold_ms);
                self.targets[f.node].node.resume();
                format!("SIGSTOP, SIGCONT {} ms later", f.hold_ms)
            }
            FaultKind::DiskFull => {
                let disk = self.targets[f.node]
                    .disk
                    .as_ref()
                    .expect("disk-full runs give every node a small disk");
                let taken = disk.fill()?;
                self.hold(f.hold_ms);
                self.targets[f.node]
                    .disk
                    .as_ref()
                    .expect("still there")
                    .free()?;
                format!(
                    "filled the data file system ({} MiB of ballast) for {} ms",
                    taken >> 20,
                    f.hold_ms
                )
            }
            FaultKind::SlowDisk => {
                let throttle = || {
                    self.targets[f.node]
                        .node
                        .throttle
                        .as_ref()
                        .expect("slow-disk runs give every node a throttle")
                };
                throttle().slow(limits::SLOW_DISK_BYTES_PER_S, limits::SLOW_DISK_OPS_PER_S)?;
                self.hold(f.hold_ms);
                throttle().heal()?;
                format!(
                    "writes throttled to {} KiB/s and {} per second for {} ms",
                    limits::SLOW_DISK_BYTES_PER_S / 1024,
                    limits::SLOW_DISK_OPS_PER_S,
                    f.hold_ms
                )
            }
            FaultKind::Partition
            | FaultKind::CutRequests
            | FaultKind::CutResponses
            | FaultKind::Drop
            | FaultKind::Delay => {
                let (modes, what) = network_modes(f);
                let proxy = &self.targets[f.node].proxy;
                for (direction, mode) in modes {
                    proxy.set(direction, mode);
                }
                self.hold(f.hold_ms);
                self.targets[f.node].proxy.heal();
                format!("{what} for {} ms", f.hold_ms)
            }
            FaultKind::Reset => {
                let closed = self.targets[f.node].proxy.reset_all();
                format!("closed {closed} client connections")
            }
        };
        self.record(f.kind.name(), Some(f.node), start_us, detail);
        Ok(())
    }

    fn record(&self, kind: &str, node: Option<usize>, start_us: u64, detail: String) {
        let fault = Fault {
            kind: kind.into(),
            node,
            start_us,
            end_us: self.recorder.now_us(),
            detail,
        };
        if self.verbose {
            eprintln!(
                "sluice-check: {:>7.1}s {} node {}: {}",
                fault.start_us as f64 / 1e6,
                fault.kind,
                node.map_or("-".into(), |n| n.to_string()),
                fault.detail
            );
        }
        // A history that cannot be written fails the run at the end (the
        // workload's own records hit the same error); a fault is not worth
        // stopping for.
        let _ = self.recorder.record(&Op::Fault(fault));
    }

    /// Undoes whatever is still in effect: every node running and resumed,
    /// every disk freed, every link healed.
    pub fn heal_all(&mut self) -> Result<(), CheckError> {
        for target in self.targets.iter_mut() {
            target.proxy.heal();
            if let Some(throttle) = &target.node.throttle {
                throttle.heal()?;
            }
            if let Some(disk) = &target.disk {
                disk.free()?;
            }
            if target.node.is_paused() {
                target.node.resume();
            }
            if !target.node.is_running() {
                target.node.start()?;
            }
        }
        Ok(())
    }

    /// A last SIGKILL and restart of every node once the workload has
    /// stopped: whatever was acknowledged must have been durable, so the
    /// final read after it must still find every acknowledged write.
    pub fn final_crash(&mut self) -> Result<(), CheckError> {
        for i in 0..self.targets.len() {
            let start_us = self.recorder.now_us();
            self.targets[i].node.kill();
            let ready = self.targets[i].node.start()?;
            self.record(
                FINAL_CRASH,
                Some(i),
                start_us,
                format!(
                    "final crash before the final read: SIGKILL, accepting connections {} ms \
                     after the restart",
                    ready.as_millis()
                ),
            );
        }
        Ok(())
    }
}

/// What a network fault does to each direction, and its description.
fn network_modes(f: &PlannedFault) -> (Vec<(Direction, Mode)>, String) {
    let both = |mode| vec![(Direction::Requests, mode), (Direction::Responses, mode)];
    match f.kind {
        FaultKind::Partition => (both(Mode::Stall), "clients and node cut off".into()),
        FaultKind::CutRequests => (
            vec![(Direction::Requests, Mode::Stall)],
            "requests held, responses flow".into(),
        ),
        FaultKind::CutResponses => (
            vec![(Direction::Responses, Mode::Stall)],
            "responses held, requests flow".into(),
        ),
        FaultKind::Drop => (both(Mode::Drop), "bytes both ways dropped".into()),
        FaultKind::Delay => (
            both(Mode::Delay(Duration::from_millis(f.delay_ms))),
            format!("{} ms added to every chunk both ways", f.delay_ms),
        ),
        _ => unreachable!("not a network fault: {}", f.kind),
    }
}
