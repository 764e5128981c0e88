//! What a leader knows about each follower's log, and the flow control that
//! bounds what it sends.

use std::collections::VecDeque;

use crate::limits::INFLIGHT_APPENDS_MAX;
use crate::types::Index;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressState {
    /// Matching point unknown: one append at a time until one is accepted.
    Probe,
    /// Optimistic pipelining: `next` runs ahead of `matched`, with at most
    /// `INFLIGHT_APPENDS_MAX` appends unacknowledged.
    Replicate,
    /// A snapshot at `pending_snapshot` is on its way; nothing else is sent.
    Snapshot,
}

#[derive(Clone, Debug)]
pub struct Progress {
    /// Highest index known to be durable on the follower and equal to ours.
    pub matched: Index,
    /// Next index to send. Invariant: `matched < next`.
    pub next: Index,
    pub state: ProgressState,
    /// Probe state: an append was sent and no answer came yet.
    pub probe_sent: bool,
    pub pending_snapshot: Index,
    /// Heartbeat responses seen while waiting for a snapshot to land.
    pub snapshot_wait: u32,
    /// Heard from since the last check-quorum round.
    pub recent_active: bool,
    /// Last index of each unacknowledged append, oldest first. Allocated only
    /// while replicating, so an idle follower's progress holds no buffer.
    inflight: VecDeque<Index>,
}

impl Progress {
    pub fn new(next: Index) -> Progress {
        Progress {
            matched: 0,
            next,
            state: ProgressState::Probe,
            probe_sent: false,
            pending_snapshot: 0,
            snapshot_wait: 0,
            recent_active: false,
            inflight: VecDeque::new(),
        }
    }

    fn reset_state(&mut self, state: ProgressState) {
        self.state = state;
        self.probe_sent = false;
        self.pending_snapshot = 0;
        self.snapshot_wait = 0;
        self.inflight.clear();
    }

    pub fn become_probe(&mut self) {
        if self.state == ProgressState::Snapshot {
            let pending = self.pending_snapshot;
            self.reset_state(ProgressState::Probe);
            self.next = (self.matched + 1).max(pending + 1);
        } else {
            self.reset_state(ProgressState::Probe);
            self.next = self.matched + 1;
        }
    }

    pub fn become_replicate(&mut self) {
        self.reset_state(ProgressState::Replicate);
        self.next = self.matched + 1;
    }

    pub fn become_snapshot(&mut self, index: Index) {
        self.reset_state(ProgressState::Snapshot);
        self.pending_snapshot = index;
    }

    /// Can the leader send this follower another append now?
    pub fn is_paused(&self) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflight.len() >= INFLIGHT_APPENDS_MAX,
            ProgressState::Snapshot => true,
        }
    }

    /// Records an append carrying entries up to `last` (`None`: empty).
    pub fn sent_append(&mut self, last: Option<Index>) {
        match self.state {
            ProgressState::Replicate => {
                if let Some(last) = last {
                    assert!(
                        self.inflight.len() < INFLIGHT_APPENDS_MAX,
                        "sent while paused"
                    );
                    assert!(last >= self.next, "sent {last} below next {}", self.next);
                    self.next = last + 1;
                    self.inflight.push_back(last);
                }
            }
            ProgressState::Probe => self.probe_sent = true,
            ProgressState::Snapshot => unreachable!("append sent in snapshot state"),
        }
    }

    /// A follower acknowledged `index`. Returns whether `matched` advanced.
    pub fn maybe_update(&mut self, index: Index) -> bool {
        let updated = index > self.matched;
        if updated {
            self.matched = index;
            self.probe_sent = false;
        }
        self.next = self.next.max(index + 1);
        while self.inflight.front().is_some_and(|&last| last <= index) {
            self.inflight.pop_front();
        }
        if self.inflight.is_empty() && self.inflight.capacity() > 4 {
            self.inflight = VecDeque::new(); // An idle follower keeps no buffer.
        }
        updated
    }

    /// A follower rejected an append after `rejected`; `probe_hint` is the
    /// leader's guess (from the conflict hint) of the last matching index.
    /// Returns false if the rejection is stale.
    pub fn maybe_decrease_to(&mut self, rejected: Index, probe_hint: Index) -> bool {
        match self.state {
            ProgressState::Replicate => {
                if rejected <= self.matched {
                    return false;
                }
                self.become_probe();
                self.next = (self.matched + 1).max(rejected.min(probe_hint + 1));
                true
            }
            ProgressState::Probe => {
                if self.next - 1 != rejected {
                    return false;
                }
                self.next = (self.matched + 1).max(rejected.min(probe_hint + 1));
                self.probe_sent = false;
                true
            }
            ProgressState::Snapshot => false,
        }
    }

    /// A heartbeat answer: the follower is alive, so let one more append go
    /// even if earlier ones seem lost.
    pub fn on_heartbeat_response(&mut self) {
        self.probe_sent = false;
        if self.inflight.len() >= INFLIGHT_APPENDS_MAX {
            self.inflight.pop_front();
        }
    }

    pub fn inflight_count(&self) -> usize {
        self.inflight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicate_pipelines_up_to_the_inflight_bound() {
        let mut p = Progress::new(1);
        p.become_replicate();
        for i in 1..=INFLIGHT_APPENDS_MAX as u64 {
            assert!(!p.is_paused());
            p.sent_append(Some(i));
        }
        assert!(p.is_paused());
        assert!(p.maybe_update(3));
        assert_eq!(p.inflight_count(), INFLIGHT_APPENDS_MAX - 3);
        assert!(!p.is_paused());
    }

    #[test]
    fn stale_rejections_are_ignored_and_hints_skip_ahead() {
        let mut p = Progress::new(100);
        p.sent_append(Some(120));
        assert!(
            !p.maybe_decrease_to(50, 10),
            "rejection of an index we did not probe"
        );
        assert!(p.maybe_decrease_to(99, 10));
        assert_eq!(p.next, 11);
        p.maybe_update(10);
        p.become_replicate();
        p.sent_append(Some(20));
        assert!(!p.maybe_decrease_to(9, 0), "at or below match is stale");
        assert!(p.maybe_decrease_to(20, 15));
        assert_eq!((p.state, p.next), (ProgressState::Probe, 16));
    }
}
