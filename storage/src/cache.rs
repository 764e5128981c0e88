//! The per-shard cache of recently appended batches, which serves tailing
//! consumers without touching the disk.
//!
//! Every log of the shard keeps its own map of cached blobs (the records of
//! one append, already stamped), and all of them share one byte budget with
//! first-in-first-out eviction: the newest data is what tailing consumers
//! read, so the oldest insert is the best one to drop.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::{Rc, Weak};

use bytes::Bytes;

use crate::batch::BatchHeader;
use crate::config::ShardStorageConfig;
use crate::limits;

/// Storage state shared by all logs of one shard (one glommio executor).
pub struct ShardStorage {
    cache: ShardCache,
}

impl ShardStorage {
    pub fn new(config: ShardStorageConfig) -> Rc<Self> {
        Rc::new(Self {
            cache: ShardCache {
                budget_bytes: config.cache_bytes_max,
                used_bytes: Cell::new(0),
                fifo: RefCell::new(VecDeque::new()),
            },
        })
    }

    /// Bytes currently held by the batch cache.
    pub fn cache_bytes(&self) -> usize {
        self.cache.used_bytes.get()
    }

    pub(crate) fn cache(&self) -> &ShardCache {
        &self.cache
    }
}

pub(crate) struct ShardCache {
    budget_bytes: usize,
    used_bytes: Cell<usize>,
    // Insertion order across logs: one entry per cached blob, so it is
    // bounded like the blobs, by the byte budget.
    fifo: RefCell<VecDeque<(Weak<LogCache>, i64)>>,
}

#[derive(Default)]
pub(crate) struct LogCache {
    blobs: RefCell<BTreeMap<i64, Blob>>,
}

struct Blob {
    last_offset: i64,
    bytes: Bytes,
}

impl ShardCache {
    pub fn insert(&self, log: &Rc<LogCache>, base_offset: i64, last_offset: i64, bytes: Bytes) {
        let len = bytes.len();
        if len > self.budget_bytes / 4 {
            return; // one blob must not flush the whole cache
        }
        let old = log
            .blobs
            .borrow_mut()
            .insert(base_offset, Blob { last_offset, bytes });
        if let Some(old) = old {
            self.used_bytes.set(self.used_bytes.get() - old.bytes.len());
        }
        self.used_bytes.set(self.used_bytes.get() + len);
        let mut fifo = self.fifo.borrow_mut();
        fifo.push_back((Rc::downgrade(log), base_offset));
        while self.used_bytes.get() > self.budget_bytes {
            let Some((weak, base)) = fifo.pop_front() else {
                break;
            };
            if let Some(owner) = weak.upgrade() {
                if let Some(blob) = owner.blobs.borrow_mut().remove(&base) {
                    self.used_bytes
                        .set(self.used_bytes.get() - blob.bytes.len());
                }
            }
        }
    }

    /// Drops every blob holding an offset >= `from` (truncation, rollback).
    pub fn remove_from(&self, log: &LogCache, from: i64) {
        let mut blobs = log.blobs.borrow_mut();
        let first = blobs
            .range(..from)
            .next_back()
            .filter(|(_, b)| b.last_offset >= from)
            .map(|(k, _)| *k)
            .unwrap_or(from);
        let removed = blobs.split_off(&first);
        if removed.is_empty() {
            return;
        }
        for blob in removed.values() {
            self.used_bytes
                .set(self.used_bytes.get() - blob.bytes.len());
        }
        // Forget their queue entries too, so the queue holds only live
        // blobs (removals are rare: truncation, rollback, close).
        let this: *const LogCache = log;
        self.fifo
            .borrow_mut()
            .retain(|(w, base)| !(std::ptr::eq(w.as_ptr(), this) && removed.contains_key(base)));
    }

    /// Drops every blob of a log (close, delete).
    pub fn remove_all(&self, log: &LogCache) {
        self.remove_from(log, i64::MIN);
    }

    /// Whole batches from `offset` on, all below `end_offset`, up to
    /// `max_bytes` (at least one batch). `None` if the batch holding
    /// `offset` is not cached.
    pub fn read(
        &self,
        log: &LogCache,
        offset: i64,
        end_offset: i64,
        max_bytes: usize,
    ) -> Option<Vec<Bytes>> {
        let blobs = log.blobs.borrow();
        let (_, first) = blobs.range(..=offset).next_back()?;
        if first.last_offset < offset {
            return None;
        }
        let mut out: Vec<Bytes> = Vec::new();
        let mut taken = 0usize;
        let mut next = offset;
        for (&base, blob) in blobs
            .range(..=offset)
            .next_back()
            .into_iter()
            .chain(blobs.range(offset + 1..))
        {
            if !out.is_empty() && base != next {
                break; // a gap: the rest is not cached contiguously
            }
            let mut pos = 0;
            let mut start = None;
            let mut end = 0;
            while pos < blob.bytes.len() {
                let h = BatchHeader::parse(&blob.bytes[pos..]).expect("cached batches are valid");
                let total = h.total_bytes();
                if h.last_offset() >= end_offset {
                    break;
                }
                if h.last_offset() >= offset {
                    let first_batch = taken == 0;
                    if !first_batch && taken + total > max_bytes {
                        break;
                    }
                    start.get_or_insert(pos);
                    end = pos + total;
                    taken += total;
                }
                next = h.last_offset() + 1;
                pos += total;
            }
            if let Some(s) = start {
                out.push(blob.bytes.slice(s..end));
            }
            if pos < blob.bytes.len() || out.len() >= limits::READ_BATCHES_MAX {
                break;
            }
        }
        if out.is_empty() {
            None
        } else {
            Some(out)
        }
    }
}
