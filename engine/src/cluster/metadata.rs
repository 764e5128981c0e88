//! One shard's replica of the cluster metadata: the topic catalogue and the
//! placement table. Read by the request layer on its own shard; changed only
//! by the controller's driver, identically on every shard.

use std::cell::{Ref, RefCell};

use super::catalogue::{Catalogue, TopicMeta};
use super::placement::Placement;
use crate::group::placement::{offsets_partition_for, OFFSETS_TOPIC};
use crate::shard::ShardId;

pub struct MetadataCache {
    catalogue: RefCell<Catalogue>,
    placement: Placement,
}

impl MetadataCache {
    pub fn new(catalogue: Catalogue, placement: Placement) -> Self {
        Self {
            catalogue: RefCell::new(catalogue),
            placement,
        }
    }

    pub fn shard_count(&self) -> usize {
        self.placement.shard_count()
    }

    /// The shard owning partition `partition` of `topic`.
    pub fn shard_for(&self, topic: &str, partition: i32) -> ShardId {
        self.placement.shard_for(topic, partition)
    }

    /// The shard coordinating consumer group `group_id`: the owner of the
    /// group's `__consumer_offsets` partition, as in Kafka.
    pub fn shard_for_group(&self, group_id: &str) -> ShardId {
        self.placement
            .shard_for(OFFSETS_TOPIC, offsets_partition_for(group_id))
    }

    /// The shard that writes the metadata (creates, deletes, configs,
    /// producer ids).
    pub fn controller_shard(&self) -> ShardId {
        self.placement.controller_shard()
    }

    /// The partition count of `topic`, if it exists.
    pub fn partition_count(&self, topic: &str) -> Option<i32> {
        self.catalogue
            .borrow()
            .topics
            .get(topic)
            .map(|m| m.partitions)
    }

    /// Whether `partition` of `topic` exists.
    pub fn has_partition(&self, topic: &str, partition: i32) -> bool {
        self.partition_count(topic)
            .is_some_and(|n| (0..n).contains(&partition))
    }

    pub fn topic(&self, name: &str) -> Option<TopicMeta> {
        self.catalogue.borrow().topics.get(name).cloned()
    }

    /// The whole catalogue, for listings. Do not hold it across an await.
    pub fn catalogue(&self) -> Ref<'_, Catalogue> {
        self.catalogue.borrow()
    }

    pub(super) fn replace(&self, catalogue: Catalogue) {
        *self.catalogue.borrow_mut() = catalogue;
    }

    pub(super) fn topic_created(&self, name: &str, meta: &TopicMeta) {
        self.catalogue
            .borrow_mut()
            .topics
            .insert(name.to_string(), meta.clone());
    }

    pub(super) fn topic_deleted(&self, name: &str) {
        self.catalogue.borrow_mut().topics.remove(name);
    }
}
