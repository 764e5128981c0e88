//! Which shard owns what. Every shard computes the same answer from the same
//! inputs, so the table needs no coordination: it is a pure function of the
//! topic name, the partition index and the shard count.

pub use crate::shard::ShardId;

/// The ownership table. Cheap to copy; every shard holds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    shard_count: usize,
}

impl Placement {
    pub fn new(shard_count: usize) -> Self {
        assert!(shard_count >= 1, "a broker has at least one shard");
        assert!(shard_count <= crate::limits::SHARDS_MAX);
        Self { shard_count }
    }

    pub fn shard_count(&self) -> usize {
        self.shard_count
    }

    /// The shard owning partition `partition` of `topic`. Consecutive
    /// partitions of one topic land on consecutive shards, so a topic with at
    /// least as many partitions as shards uses every shard; the topic hash
    /// staggers the starting shard so that many one-partition topics spread
    /// too.
    pub fn shard_for(&self, topic: &str, partition: i32) -> ShardId {
        debug_assert!(partition >= 0);
        let start = crc32c::crc32c(topic.as_bytes()) as u64;
        ((start + partition as u64) % self.shard_count as u64) as ShardId
    }

    /// The shard that writes the metadata (the topic catalogue, configs)
    /// and hands out producer ids. Shard 0 always exists.
    pub fn controller_shard(&self) -> ShardId {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_of_a_topic_use_every_shard() {
        let placement = Placement::new(2);
        let mut seen = [0usize; 2];
        for p in 0..6 {
            seen[placement.shard_for("events", p)] += 1;
        }
        assert_eq!(seen, [3, 3]);
    }

    #[test]
    fn the_table_is_the_same_everywhere_and_in_range() {
        for shards in 1..8 {
            let a = Placement::new(shards);
            let b = Placement::new(shards);
            for p in 0..50 {
                let owner = a.shard_for("t", p);
                assert!(owner < shards);
                assert_eq!(owner, b.shard_for("t", p));
            }
        }
    }
}
