//! The Raft log: durable entries read through [`Storage`], plus the unstable
//! tail (entries and possibly a snapshot) not yet handed back as persisted.

use crate::storage::{Storage, StorageError};
use crate::types::{Entry, Index, Snapshot, Term};

/// Entries and snapshot the application has not yet confirmed as persisted.
///
/// Invariants: `entries[i].index == offset + i`; if `snapshot` is set,
/// `offset == snapshot.meta.index + 1`.
#[derive(Debug, Default)]
struct Unstable {
    snapshot: Option<Snapshot>,
    entries: Vec<Entry>,
    offset: Index,
    /// Sum of `size_bytes()` over `entries`, for back-pressure.
    bytes: u64,
}

fn size_of_all(entries: &[Entry]) -> u64 {
    entries.iter().map(Entry::size_bytes).sum()
}

/// What a successful [`RaftLog::maybe_append`] changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Last index known to match the leader.
    pub last_new: Index,
    /// First index actually written (entries before it were already there).
    pub appended_from: Option<Index>,
    /// First index whose old entry was replaced.
    pub truncated_from: Option<Index>,
}

#[derive(Debug)]
pub struct RaftLog<S> {
    pub store: S,
    unstable: Unstable,
    /// Highest index known committed (replicated on a quorum in its term).
    pub committed: Index,
    /// Highest index handed to the application to apply. Invariant:
    /// `applied <= committed`.
    pub applied: Index,
}

impl<S: Storage> RaftLog<S> {
    pub fn new(store: S, committed: Index, applied: Index) -> RaftLog<S> {
        let offset = store.last_index() + 1;
        let first = store.first_index();
        assert!(
            applied + 1 >= first,
            "applied {applied} below snapshot (first index {first})"
        );
        assert!(
            committed <= store.last_index() && applied <= committed,
            "applied {applied} committed {committed} last {}",
            store.last_index()
        );
        RaftLog {
            store,
            unstable: Unstable {
                snapshot: None,
                entries: Vec::new(),
                offset,
                bytes: 0,
            },
            committed,
            applied,
        }
    }

    pub fn first_index(&self) -> Index {
        match &self.unstable.snapshot {
            Some(s) => s.meta.index + 1,
            None => self.store.first_index(),
        }
    }

    pub fn last_index(&self) -> Index {
        if let Some(last) = self.unstable.entries.last() {
            return last.index;
        }
        match &self.unstable.snapshot {
            Some(s) => s.meta.index,
            None => self.store.last_index(),
        }
    }

    pub fn last_term(&self) -> Term {
        self.term(self.last_index())
            .expect("last index always has a term")
    }

    pub fn term(&self, index: Index) -> Result<Term, StorageError> {
        let dummy = self.first_index() - 1;
        if index < dummy {
            return Err(StorageError::Compacted(index));
        }
        if index > self.last_index() {
            return Err(StorageError::Unavailable(index));
        }
        if let Some(s) = &self.unstable.snapshot {
            if s.meta.index == index {
                return Ok(s.meta.term);
            }
        }
        if index >= self.unstable.offset {
            return Ok(self.unstable.entries[(index - self.unstable.offset) as usize].term);
        }
        self.store.term(index)
    }

    pub fn match_term(&self, index: Index, term: Term) -> bool {
        self.term(index).is_ok_and(|t| t == term)
    }

    /// Is a log ending at `last_index`/`last_term` at least as up to date as ours?
    pub fn is_up_to_date(&self, last_index: Index, last_term: Term) -> bool {
        let our_term = self.last_term();
        last_term > our_term || (last_term == our_term && last_index >= self.last_index())
    }

    /// Entries in `lo..hi` within `bytes_max` (at least one if `lo < hi`).
    pub fn entries(
        &self,
        lo: Index,
        hi: Index,
        bytes_max: u64,
    ) -> Result<Vec<Entry>, StorageError> {
        if lo >= hi {
            return Ok(Vec::new());
        }
        if lo < self.first_index() {
            return Err(StorageError::Compacted(lo));
        }
        assert!(
            hi <= self.last_index() + 1,
            "entries {lo}..{hi} beyond last {}",
            self.last_index()
        );
        let offset = self.unstable.offset;
        let mut out = if lo < offset {
            let stored = self.store.entries(lo, hi.min(offset), bytes_max)?;
            if stored.len() < (hi.min(offset) - lo) as usize {
                return Ok(stored);
            }
            stored
        } else {
            Vec::new()
        };
        let mut bytes: u64 = out.iter().map(Entry::size_bytes).sum();
        if hi > offset {
            let from = (lo.max(offset) - offset) as usize;
            let to = (hi - offset) as usize;
            for e in &self.unstable.entries[from..to] {
                bytes += e.size_bytes();
                if !out.is_empty() && bytes > bytes_max {
                    break;
                }
                out.push(e.clone());
            }
        }
        Ok(out)
    }

    /// Appends entries after truncating any conflicting suffix. Returns the
    /// index of the first entry that replaced an existing one, if any.
    pub fn append(&mut self, entries: &[Entry]) -> Option<Index> {
        let first = entries.first()?.index;
        assert!(
            first > self.committed,
            "overwriting committed index {first} (committed {})",
            self.committed
        );
        assert!(
            first <= self.last_index() + 1,
            "gap appending {first} after {}",
            self.last_index()
        );
        let truncated = (first <= self.last_index()).then_some(first);
        let u = &mut self.unstable;
        if first == u.offset + u.entries.len() as Index {
            u.entries.extend_from_slice(entries);
            u.bytes += size_of_all(entries);
        } else {
            if first <= u.offset {
                // The new entries replace the whole unstable tail and part of
                // the stored log; the application truncates storage when it
                // appends them.
                u.offset = first;
                u.entries.clear();
            } else {
                u.entries.truncate((first - u.offset) as usize);
            }
            u.entries.extend_from_slice(entries);
            u.bytes = size_of_all(&u.entries);
        }
        truncated
    }

    /// Follower side of AppendEntries: `None` if the log does not contain
    /// `prev_index`/`prev_term`, else what changed.
    pub fn maybe_append(
        &mut self,
        prev_index: Index,
        prev_term: Term,
        commit: Index,
        entries: &[Entry],
    ) -> Option<AppendOutcome> {
        if !self.match_term(prev_index, prev_term) {
            return None;
        }
        let last_new = prev_index + entries.len() as Index;
        let conflict = entries
            .iter()
            .position(|e| !self.match_term(e.index, e.term));
        let mut outcome = AppendOutcome {
            last_new,
            appended_from: None,
            truncated_from: None,
        };
        if let Some(pos) = conflict {
            outcome.appended_from = Some(entries[pos].index);
            outcome.truncated_from = self.append(&entries[pos..]);
        }
        self.commit_to(commit.min(last_new));
        Some(outcome)
    }

    pub fn commit_to(&mut self, index: Index) {
        if index > self.committed {
            assert!(
                index <= self.last_index(),
                "commit {index} beyond last {}",
                self.last_index()
            );
            self.committed = index;
        }
    }

    /// Largest index at or below `index` whose term is at most `term`, with
    /// that term: the fast-backtracking hint. The scan is bounded; past the
    /// bound the answer is coarser (still a valid probe point, just slower).
    pub fn find_conflict_by_term(&self, index: Index, term: Term) -> (Index, Term) {
        let mut i = index.min(self.last_index());
        let floor = i.saturating_sub(crate::limits::CONFLICT_SCAN_ENTRIES_MAX);
        loop {
            match self.term(i) {
                Ok(t) if t <= term || i <= floor => return (i, t),
                Ok(_) => i -= 1,
                Err(_) => return (i, 0),
            }
        }
    }

    pub fn has_next_committed_entries(&self) -> bool {
        self.committed > self.applied.max(self.first_index() - 1)
    }

    /// Committed entries not yet handed to the application, within a budget.
    pub fn next_committed_entries(&self, bytes_max: u64) -> Vec<Entry> {
        let lo = (self.applied + 1).max(self.first_index());
        self.entries(lo, self.committed + 1, bytes_max)
            .expect("committed entries above the snapshot are readable")
    }

    /// Bytes of entries not yet confirmed persisted.
    pub fn unstable_bytes(&self) -> u64 {
        self.unstable.bytes
    }

    pub fn unstable_entries(&self) -> &[Entry] {
        &self.unstable.entries
    }

    pub fn unstable_snapshot(&self) -> Option<&Snapshot> {
        self.unstable.snapshot.as_ref()
    }

    /// The application persisted entries through `index`/`term`.
    pub fn stable_to(&mut self, index: Index, term: Term) {
        let u = &mut self.unstable;
        if index < u.offset {
            return;
        }
        let pos = (index - u.offset) as usize;
        if u.entries.get(pos).is_some_and(|e| e.term == term) {
            u.bytes -= size_of_all(&u.entries[..=pos]);
            u.entries.drain(..=pos);
            u.offset = index + 1;
            if u.entries.is_empty() {
                u.entries = Vec::new(); // An idle group keeps no buffer.
            }
        }
    }

    pub fn stable_snapshot_to(&mut self, index: Index) {
        if self
            .unstable
            .snapshot
            .as_ref()
            .is_some_and(|s| s.meta.index == index)
        {
            self.unstable.snapshot = None;
        }
    }

    /// Replaces the log with `snapshot` (not yet persisted).
    pub fn restore(&mut self, snapshot: Snapshot) {
        let index = snapshot.meta.index;
        assert!(
            index > self.committed,
            "restoring snapshot {index} at or below commit {}",
            self.committed
        );
        self.committed = index;
        self.unstable = Unstable {
            snapshot: Some(snapshot),
            entries: Vec::new(),
            offset: index + 1,
            bytes: 0,
        };
    }

    /// The snapshot to send to a follower behind the compacted prefix.
    pub fn snapshot(&self) -> Result<Snapshot, StorageError> {
        match &self.unstable.snapshot {
            Some(s) => Ok(s.clone()),
            None => self.store.snapshot(),
        }
    }
}
