//! Idempotent-producer state of one partition: for each producer id, its
//! epoch and the last few batches it wrote (sequence range and offsets).
//!
//! The rules follow Kafka's: a batch whose sequence range equals one of the
//! last five is a retry and is acknowledged with its original offset; the
//! next batch must start right after the last sequence (wrapping at
//! `i32::MAX`); anything else is OUT_OF_ORDER_SEQUENCE_NUMBER. A producer the
//! partition does not know (new, or whose batches retention removed) may
//! start at any sequence. A lower epoch is fenced. The state is rebuilt after
//! restart by replaying the batch headers of the log through [`ProducerTable::record`].

use std::collections::{HashMap, VecDeque};

use crate::limits;

/// Kafka's "no producer id": the batch is not idempotent.
pub const NO_PRODUCER_ID: i64 = -1;

/// One remembered batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchRecord {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub base_offset: i64,
    pub last_offset: i64,
    /// The log's rollback generation when the batch was appended: a later
    /// rollback (a full disk) may discard it, and then its offsets mean
    /// nothing (see [`ProducerTable::forget_discarded`]).
    pub generation: u64,
}

#[derive(Debug, Clone, Default)]
struct ProducerEntry {
    epoch: i16,
    /// Oldest first; at most [`limits::PRODUCER_BATCHES_REMEMBERED`].
    batches: VecDeque<BatchRecord>,
    /// Logical time of the last write, to forget the idlest producer first.
    last_used: u64,
}

/// What to do with an incoming batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Append it (and then [`ProducerTable::record`] it).
    Append,
    /// A retry of a batch already in the log at these offsets.
    Duplicate { base_offset: i64, last_offset: i64 },
    /// The sequence does not follow: OUT_OF_ORDER_SEQUENCE_NUMBER.
    OutOfOrder { expected: i32, got: i32 },
    /// An older epoch of a producer that has moved on: INVALID_PRODUCER_EPOCH.
    Fenced { current_epoch: i16 },
}

#[derive(Debug, Default)]
pub struct ProducerTable {
    producers: HashMap<i64, ProducerEntry>,
    clock: u64,
}

fn next_sequence(last: i32) -> i32 {
    if last == i32::MAX {
        0
    } else {
        last + 1
    }
}

/// The last sequence of a batch of `record_count` records starting at `first`.
pub fn last_sequence(first: i32, record_count: i32) -> i32 {
    debug_assert!(record_count >= 1);
    ((first as i64 + record_count as i64 - 1) % (i32::MAX as i64 + 1)) as i32
}

impl ProducerTable {
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Decides what to do with a batch from `producer_id` (which must be
    /// idempotent, i.e. not [`NO_PRODUCER_ID`]).
    pub fn check(
        &self,
        producer_id: i64,
        epoch: i16,
        first_sequence: i32,
        last_sequence: i32,
    ) -> SequenceCheck {
        debug_assert_ne!(producer_id, NO_PRODUCER_ID);
        let Some(entry) = self.producers.get(&producer_id) else {
            return SequenceCheck::Append;
        };
        if epoch < entry.epoch {
            return SequenceCheck::Fenced {
                current_epoch: entry.epoch,
            };
        }
        if epoch > entry.epoch {
            // A bumped epoch restarts the sequence at zero.
            return if first_sequence == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::OutOfOrder {
                    expected: 0,
                    got: first_sequence,
                }
            };
        }
        if let Some(batch) = entry
            .batches
            .iter()
            .find(|b| b.first_sequence == first_sequence && b.last_sequence == last_sequence)
        {
            return SequenceCheck::Duplicate {
                base_offset: batch.base_offset,
                last_offset: batch.last_offset,
            };
        }
        match entry.batches.back() {
            Some(last) if next_sequence(last.last_sequence) != first_sequence => {
                SequenceCheck::OutOfOrder {
                    expected: next_sequence(last.last_sequence),
                    got: first_sequence,
                }
            }
            _ => SequenceCheck::Append,
        }
    }

    /// Remembers a batch written to the log (on append, and when replaying
    /// the log at start-up).
    pub fn record(&mut self, producer_id: i64, epoch: i16, batch: BatchRecord) {
        debug_assert_ne!(producer_id, NO_PRODUCER_ID);
        self.clock += 1;
        if !self.producers.contains_key(&producer_id)
            && self.producers.len() >= limits::PRODUCERS_PER_PARTITION_MAX
        {
            self.forget_idlest();
        }
        let entry = self.producers.entry(producer_id).or_default();
        if epoch != entry.epoch {
            entry.batches.clear();
            entry.epoch = epoch;
        }
        if entry.batches.len() == limits::PRODUCER_BATCHES_REMEMBERED {
            entry.batches.pop_front();
        }
        entry.batches.push_back(batch);
        entry.last_used = self.clock;
        debug_assert!(entry.batches.len() <= limits::PRODUCER_BATCHES_REMEMBERED);
    }

    /// Forgets every batch `discarded` says the log discarded, and each
    /// producer's batches after it (they were appended behind it), so that
    /// a producer's retry of a discarded batch is appended again instead of
    /// being answered with offsets that now hold other data. A producer left
    /// without batches is forgotten (any sequence accepted, as for an
    /// unknown producer).
    pub fn forget_discarded(&mut self, discarded: impl Fn(&BatchRecord) -> bool) {
        self.producers.retain(|_, entry| {
            if let Some(first) = entry.batches.iter().position(&discarded) {
                entry.batches.truncate(first);
            }
            !entry.batches.is_empty()
        });
    }

    /// Drops every batch at or after `offset` (the log was truncated there).
    pub fn truncate(&mut self, offset: i64) {
        self.producers.retain(|_, entry| {
            entry.batches.retain(|b| b.base_offset < offset);
            !entry.batches.is_empty()
        });
    }

    fn forget_idlest(&mut self) {
        if let Some((&pid, _)) = self.producers.iter().min_by_key(|(_, e)| e.last_used) {
            self.producers.remove(&pid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(first: i32, last: i32, offset: i64) -> BatchRecord {
        BatchRecord {
            first_sequence: first,
            last_sequence: last,
            base_offset: offset,
            last_offset: offset + (last - first) as i64,
            generation: 0,
        }
    }

    #[test]
    fn in_order_batches_append_and_retries_get_their_original_offset() {
        let mut table = ProducerTable::default();
        assert_eq!(table.check(7, 0, 0, 9), SequenceCheck::Append);
        table.record(7, 0, batch(0, 9, 100));
        assert_eq!(table.check(7, 0, 10, 19), SequenceCheck::Append);
        table.record(7, 0, batch(10, 19, 110));
        assert_eq!(
            table.check(7, 0, 0, 9),
            SequenceCheck::Duplicate {
                base_offset: 100,
                last_offset: 109
            }
        );
        assert_eq!(
            table.check(7, 0, 30, 39),
            SequenceCheck::OutOfOrder {
                expected: 20,
                got: 30
            }
        );
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut table = ProducerTable::default();
        for i in 0..7 {
            table.record(1, 0, batch(i, i, i as i64));
        }
        // Batches 0 and 1 fell out of the window: no longer duplicates.
        assert!(matches!(
            table.check(1, 0, 1, 1),
            SequenceCheck::OutOfOrder { .. }
        ));
        assert!(matches!(
            table.check(1, 0, 2, 2),
            SequenceCheck::Duplicate { base_offset: 2, .. }
        ));
        assert_eq!(table.check(1, 0, 7, 7), SequenceCheck::Append);
    }

    #[test]
    fn epochs_fence_and_restart_sequences() {
        let mut table = ProducerTable::default();
        table.record(1, 3, batch(0, 4, 0));
        assert_eq!(
            table.check(1, 2, 5, 5),
            SequenceCheck::Fenced { current_epoch: 3 }
        );
        assert_eq!(table.check(1, 4, 0, 0), SequenceCheck::Append);
        assert!(matches!(
            table.check(1, 4, 5, 5),
            SequenceCheck::OutOfOrder { .. }
        ));
    }

    #[test]
    fn unknown_producers_may_start_anywhere_and_sequences_wrap() {
        let mut table = ProducerTable::default();
        assert_eq!(table.check(9, 0, 500, 500), SequenceCheck::Append);
        table.record(9, 0, batch(i32::MAX - 1, i32::MAX, 0));
        assert_eq!(table.check(9, 0, 0, 3), SequenceCheck::Append);
        assert_eq!(last_sequence(i32::MAX, 2), 0);
    }

    #[test]
    fn discarded_batches_are_forgotten_so_their_retries_append_again() {
        let mut table = ProducerTable::default();
        // Producer 1: batches at 10 and 11 (generation 0), then three
        // pipelined batches at 969, 971, 975 that a full disk discards.
        table.record(1, 0, batch(0, 0, 10));
        table.record(1, 0, batch(1, 1, 11));
        for (seq, offset) in [(2, 969), (3, 971), (4, 975)] {
            table.record(1, 0, batch(seq, seq, offset));
        }
        // Producer 2 appended before the rollback point: untouched.
        table.record(2, 0, batch(0, 0, 500));
        table.forget_discarded(|b| b.base_offset >= 969);
        // The retries of sequences 2, 3 and 4 are appended, not answered
        // with the discarded offsets.
        assert_eq!(table.check(1, 0, 2, 2), SequenceCheck::Append);
        assert!(matches!(
            table.check(1, 0, 3, 3),
            SequenceCheck::OutOfOrder { expected: 2, .. }
        ));
        assert!(matches!(
            table.check(1, 0, 1, 1),
            SequenceCheck::Duplicate {
                base_offset: 11,
                ..
            }
        ));
        assert!(matches!(
            table.check(2, 0, 0, 0),
            SequenceCheck::Duplicate {
                base_offset: 500,
                ..
            }
        ));
        // A producer whose every batch was discarded is forgotten.
        table.forget_discarded(|b| b.base_offset < 100);
        assert_eq!(table.len(), 1);
        assert_eq!(table.check(1, 0, 7, 7), SequenceCheck::Append);
    }

    #[test]
    fn truncation_forgets_batches() {
        let mut table = ProducerTable::default();
        table.record(1, 0, batch(0, 0, 10));
        table.record(1, 0, batch(1, 1, 11));
        table.truncate(10);
        assert!(table.is_empty());
    }
}
