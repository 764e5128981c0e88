//! The narrow read interface through which Raft sees its durable log, and an
//! in-memory implementation for tests, the simulator and benchmarks.
//!
//! Raft never writes through this trait: the application persists what a
//! `Ready` hands it (with its own I/O) and Raft reads it back from here.

use crate::types::{
    ConfChange, ConfState, Entry, EntryKind, HardState, Index, NodeId, Snapshot, SnapshotMeta, Term,
};

/// The first entries of every group's log: each initial voter added as a
/// learner and promoted, all at term 1. Because membership lives in the log
/// from index 1 on, a node that joins later rebuilds it from the entries it
/// receives, exactly as the initial members did.
pub fn bootstrap_entries(voters: &[NodeId]) -> Vec<Entry> {
    let mut ids = voters.to_vec();
    ids.sort_unstable();
    ids.dedup();
    assert!(
        !ids.is_empty() && !ids.contains(&0),
        "bad initial voters {voters:?}"
    );
    let changes = ids
        .iter()
        .flat_map(|&id| [ConfChange::AddLearner(id), ConfChange::PromoteLearner(id)]);
    changes
        .enumerate()
        .map(|(i, c)| Entry {
            term: 1,
            index: i as Index + 1,
            kind: EntryKind::ConfChange,
            data: c.encode(),
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The index is at or below the snapshot: read the snapshot instead.
    #[error("index {0} is compacted")]
    Compacted(Index),
    /// The index is beyond the last stored entry.
    #[error("index {0} is not stored yet")]
    Unavailable(Index),
    /// A snapshot is being prepared; Raft retries later.
    #[error("snapshot temporarily unavailable")]
    SnapshotTemporarilyUnavailable,
}

/// Read-only view of a group's durable state.
///
/// Contract: `first_index() - 1` is the snapshot's index (0 if none) and
/// `term(first_index() - 1)` answers with the snapshot's term; entries exist
/// for every index in `first_index()..=last_index()`.
pub trait Storage {
    /// Durable hard state and the membership as of the snapshot.
    fn initial_state(&self) -> (HardState, ConfState);
    /// Entries in `lo..hi`, stopping before the total size exceeds
    /// `bytes_max` but always returning at least one entry if `lo < hi`.
    fn entries(&self, lo: Index, hi: Index, bytes_max: u64) -> Result<Vec<Entry>, StorageError>;
    /// Term of the entry at `index`, valid for `first_index()-1..=last_index()`.
    fn term(&self, index: Index) -> Result<Term, StorageError>;
    fn first_index(&self) -> Index;
    fn last_index(&self) -> Index;
    /// The latest snapshot, sent to followers behind the compacted prefix.
    fn snapshot(&self) -> Result<Snapshot, StorageError>;
}

/// A whole group's durable state in memory. What has been written here is
/// "persisted": the simulator keeps it across crashes.
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    hard_state: HardState,
    snapshot: Snapshot,
    /// `entries[i]` has index `snapshot.meta.index + 1 + i`.
    entries: Vec<Entry>,
}

impl MemStorage {
    /// The durable state of an initial member of a new group: the
    /// [`bootstrap_entries`] for `voters`, committed, at term 1. Every
    /// initial member must bootstrap with the same `voters`; nodes added
    /// later start from `MemStorage::default()` and learn the membership
    /// from the leader's log like any other entry.
    pub fn bootstrap(voters: &[NodeId]) -> MemStorage {
        let entries = bootstrap_entries(voters);
        let mut s = MemStorage::default();
        s.append(&entries);
        s.set_hard_state(HardState {
            term: 1,
            vote: 0,
            commit: entries.len() as Index,
        });
        s
    }

    pub fn hard_state(&self) -> HardState {
        self.hard_state
    }

    pub fn set_hard_state(&mut self, hard_state: HardState) {
        assert!(
            hard_state.term >= self.hard_state.term,
            "term went back: {:?} -> {hard_state:?}",
            self.hard_state
        );
        self.hard_state = hard_state;
    }

    /// Appends `entries`, first discarding any stored suffix they replace.
    /// Entries at or below the snapshot are skipped (already covered).
    pub fn append(&mut self, entries: &[Entry]) {
        let Some(first) = entries.first() else { return };
        assert!(
            entries.windows(2).all(|w| w[1].index == w[0].index + 1),
            "entries not contiguous"
        );
        assert!(
            first.index <= self.last_index() + 1,
            "gap: appending {} after {}",
            first.index,
            self.last_index()
        );
        let offset = self.snapshot.meta.index + 1;
        let skip = offset.saturating_sub(first.index) as usize;
        if skip >= entries.len() {
            return;
        }
        let entries = &entries[skip..];
        let keep = (entries[0].index - offset) as usize;
        self.entries.truncate(keep);
        self.entries.extend_from_slice(entries);
    }

    /// Replaces everything with `snapshot` (a follower installing one).
    /// Entries after the snapshot that agree with it are kept.
    pub fn apply_snapshot(&mut self, snapshot: Snapshot) {
        let index = snapshot.meta.index;
        if index <= self.snapshot.meta.index {
            return;
        }
        let keep_suffix = self.term(index).ok() == Some(snapshot.meta.term);
        if keep_suffix {
            let drop = (index - self.snapshot.meta.index) as usize;
            self.entries.drain(..drop);
        } else {
            self.entries.clear();
        }
        self.hard_state.commit = self.hard_state.commit.max(index);
        self.snapshot = snapshot;
    }

    /// Records the application's snapshot at `index` and drops the log prefix
    /// up to it. `conf` must be the membership as of `index`.
    pub fn create_snapshot(&mut self, index: Index, conf: ConfState, data: bytes::Bytes) {
        assert!(
            index <= self.last_index(),
            "snapshot {index} beyond log {}",
            self.last_index()
        );
        if index <= self.snapshot.meta.index {
            return;
        }
        let term = self.term(index).expect("index checked above");
        let drop = (index - self.snapshot.meta.index) as usize;
        self.entries.drain(..drop);
        self.snapshot = Snapshot {
            meta: SnapshotMeta { index, term, conf },
            data,
        };
    }

    /// Bytes held, for memory measurements.
    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }
}

impl Storage for MemStorage {
    fn initial_state(&self) -> (HardState, ConfState) {
        (self.hard_state, self.snapshot.meta.conf.clone())
    }

    fn entries(&self, lo: Index, hi: Index, bytes_max: u64) -> Result<Vec<Entry>, StorageError> {
        if lo < self.first_index() {
            return Err(StorageError::Compacted(lo));
        }
        if hi > self.last_index() + 1 {
            return Err(StorageError::Unavailable(hi - 1));
        }
        let offset = self.snapshot.meta.index + 1;
        let slice = &self.entries[(lo - offset) as usize..(hi - offset) as usize];
        let mut out = Vec::new();
        let mut bytes = 0;
        for e in slice {
            bytes += e.size_bytes();
            if !out.is_empty() && bytes > bytes_max {
                break;
            }
            out.push(e.clone());
        }
        Ok(out)
    }

    fn term(&self, index: Index) -> Result<Term, StorageError> {
        let snap = &self.snapshot.meta;
        if index < snap.index {
            return Err(StorageError::Compacted(index));
        }
        if index == snap.index {
            return Ok(snap.term);
        }
        match self.entries.get((index - snap.index - 1) as usize) {
            Some(e) => Ok(e.term),
            None => Err(StorageError::Unavailable(index)),
        }
    }

    fn first_index(&self) -> Index {
        self.snapshot.meta.index + 1
    }

    fn last_index(&self) -> Index {
        self.snapshot.meta.index + self.entries.len() as Index
    }

    fn snapshot(&self) -> Result<Snapshot, StorageError> {
        Ok(self.snapshot.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: Index, term: Term) -> Entry {
        Entry {
            term,
            index,
            kind: EntryKind::Normal,
            data: bytes::Bytes::from(vec![index as u8; 10]),
        }
    }

    #[test]
    fn append_truncates_conflicting_suffix_and_compaction_keeps_terms() {
        let mut s = MemStorage::default();
        s.append(&[entry(1, 1), entry(2, 1), entry(3, 1)]);
        s.append(&[entry(2, 2)]);
        assert_eq!(s.last_index(), 2);
        assert_eq!(s.term(2), Ok(2));
        s.create_snapshot(1, ConfState::default(), bytes::Bytes::new());
        assert_eq!(s.first_index(), 2);
        assert_eq!(s.term(1), Ok(1));
        assert_eq!(s.term(0), Err(StorageError::Compacted(0)));
        assert_eq!(s.entries(1, 3, u64::MAX), Err(StorageError::Compacted(1)));
        assert_eq!(s.term(3), Err(StorageError::Unavailable(3)));
    }

    #[test]
    fn entries_respect_byte_budget_but_return_at_least_one() {
        let mut s = MemStorage::default();
        s.append(&[entry(1, 1), entry(2, 1), entry(3, 1)]);
        assert_eq!(s.entries(1, 4, 0).unwrap().len(), 1);
        assert_eq!(s.entries(1, 4, 2 * 34).unwrap().len(), 2);
        assert_eq!(s.entries(1, 4, u64::MAX).unwrap().len(), 3);
    }

    #[test]
    fn installing_a_snapshot_keeps_an_agreeing_suffix_only() {
        let mut s = MemStorage::default();
        s.append(&[entry(1, 1), entry(2, 1), entry(3, 1)]);
        let snap = |index, term| Snapshot {
            meta: SnapshotMeta {
                index,
                term,
                conf: ConfState::default(),
            },
            data: Default::default(),
        };
        s.apply_snapshot(snap(2, 1));
        assert_eq!((s.first_index(), s.last_index()), (3, 3));
        s.apply_snapshot(snap(5, 2));
        assert_eq!((s.first_index(), s.last_index()), (6, 5));
        assert_eq!(s.hard_state().commit, 5);
    }
}
