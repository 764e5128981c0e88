//! Where a group lives: its `__consumer_offsets` partition. Which shard owns
//! that partition is the engine's placement table's answer for the topic.

use super::limits;

/// The internal topic holding committed offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// The `__consumer_offsets` partition of `group_id`. The hash must never
/// change: it decides where a group's records are on disk.
pub fn offsets_partition_for(group_id: &str) -> i32 {
    (crc32c::crc32c(group_id.as_bytes()) % limits::OFFSETS_TOPIC_PARTITIONS as u32) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_of_a_group_is_stable_and_in_range() {
        // Pinned values: a change here would strand every stored group.
        assert_eq!(
            offsets_partition_for("group"),
            (crc32c::crc32c(b"group") % 16) as i32
        );
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        let mut seen = [false; limits::OFFSETS_TOPIC_PARTITIONS as usize];
        for i in 0..1_000 {
            let p = offsets_partition_for(&format!("g-{i}"));
            assert!((0..limits::OFFSETS_TOPIC_PARTITIONS).contains(&p));
            seen[p as usize] = true;
        }
        assert!(
            seen.iter().all(|s| *s),
            "a thousand groups use every partition"
        );
    }
}
