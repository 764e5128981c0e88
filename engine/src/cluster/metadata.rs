//! One shard's replica of the cluster metadata: the image (brokers, topics,
//! partitions) as of the controller log index it has applied, and the
//! broker's shard table (which of this broker's shards owns each partition
//! it hosts). Read by the request layer on its own shard; changed only by
//! the controller's driver, through [`MetadataCache::apply`], identically on
//! every shard of the broker (and, image-wise, on every broker).

use std::cell::{Cell, Ref, RefCell};

use consensus::Index;

use super::image::{Change, MetadataImage, PartitionState, TopicImage};
use super::placement::ShardTable;
use super::records::{MetadataRecord, NodeId, TopicId};
use crate::group::placement::{offsets_partition_for, OFFSETS_TOPIC};
use crate::shard::ShardId;

/// Where a partition is served, as seen from this broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// This broker leads it, on this shard.
    Local(ShardId),
    /// Another broker leads it (or no one does: `leader` is -1).
    Remote { leader: NodeId, leader_epoch: i32 },
}

pub struct MetadataCache {
    node_id: NodeId,
    image: RefCell<MetadataImage>,
    shards: RefCell<ShardTable>,
    /// The controller log index the image reflects.
    applied: Cell<Index>,
}

impl MetadataCache {
    pub fn new(node_id: NodeId, shard_count: usize) -> Self {
        Self {
            node_id,
            image: RefCell::new(MetadataImage::default()),
            shards: RefCell::new(ShardTable::new(shard_count)),
            applied: Cell::new(0),
        }
    }

    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    pub fn shard_count(&self) -> usize {
        self.shards.borrow().shard_count()
    }

    /// The shard that runs the controller and hands out producer ids.
    pub fn controller_shard(&self) -> ShardId {
        0
    }

    pub fn applied(&self) -> Index {
        self.applied.get()
    }

    /// The image. Do not hold it across an await.
    pub fn image(&self) -> Ref<'_, MetadataImage> {
        self.image.borrow()
    }

    /// The partition count of `topic`, if it exists.
    pub fn partition_count(&self, topic: &str) -> Option<i32> {
        self.image
            .borrow()
            .topic_by_name(topic)
            .map(|t| t.partitions.len() as i32)
    }

    /// Whether `partition` of `topic` exists.
    pub fn has_partition(&self, topic: &str, partition: i32) -> bool {
        self.partition_count(topic)
            .is_some_and(|n| (0..n).contains(&partition))
    }

    pub fn topic(&self, name: &str) -> Option<TopicImage> {
        self.image.borrow().topic_by_name(name).cloned()
    }

    pub fn partition(&self, topic: &str, partition: i32) -> Option<PartitionState> {
        let image = self.image.borrow();
        let t = image.topic_by_name(topic)?;
        t.partitions.get(usize::try_from(partition).ok()?).cloned()
    }

    /// Where `partition` of `topic` is served; `None` if it does not exist.
    pub fn owner(&self, topic: &str, partition: i32) -> Option<Owner> {
        let image = self.image.borrow();
        let t = image.topic_by_name(topic)?;
        let p = t.partitions.get(usize::try_from(partition).ok()?)?;
        if p.leader == self.node_id {
            if let Some(shard) = self.shards.borrow().owner(t.id, partition) {
                return Some(Owner::Local(shard));
            }
        }
        Some(Owner::Remote {
            leader: p.leader,
            leader_epoch: p.leader_epoch,
        })
    }

    /// The shard of this broker that hosts `partition` of the topic `id`,
    /// if this broker hosts it.
    pub fn shard_of(&self, id: TopicId, partition: i32) -> Option<ShardId> {
        self.shards.borrow().owner(id, partition)
    }

    /// The `__consumer_offsets` partition coordinating `group_id`, and where
    /// it is served.
    pub fn group_owner(&self, group_id: &str) -> (i32, Option<Owner>) {
        let partition = offsets_partition_for(group_id);
        (partition, self.owner(OFFSETS_TOPIC, partition))
    }

    /// Applies the records of one committed controller entry at `index`, in
    /// order, and assigns this broker's new partitions to shards. Returns
    /// what changed, for the side effects (opening partitions, ...).
    pub fn apply(&self, index: Index, records: &[MetadataRecord]) -> Vec<Change> {
        assert!(index > self.applied.get(), "entries apply once, in order");
        let mut image = self.image.borrow_mut();
        let mut changes = Vec::with_capacity(records.len());
        for record in records {
            match image.apply(record) {
                Ok(change) => {
                    self.track_hosting(&image, &change);
                    changes.push(change);
                }
                // Refused identically on every node: the image is unchanged.
                Err(error) => tracing::warn!(index, %error, "metadata record not applied"),
            }
        }
        self.applied.set(index);
        changes
    }

    /// Replaces everything with the image `records` rebuild (an installed
    /// snapshot at `index`); returns the changes as if applied from empty.
    pub fn reset(&self, index: Index, records: &[MetadataRecord]) -> Vec<Change> {
        *self.image.borrow_mut() = MetadataImage::default();
        *self.shards.borrow_mut() = ShardTable::new(self.shard_count());
        self.applied.set(0);
        self.apply(index, records)
    }

    fn track_hosting(&self, image: &MetadataImage, change: &Change) {
        let mut shards = self.shards.borrow_mut();
        match change {
            Change::Partition {
                topic_id,
                partition,
            } => {
                let hosted = image
                    .topic(topic_id)
                    .and_then(|t| t.partitions.get(*partition as usize))
                    .is_some_and(|p| p.replicas.contains(&self.node_id));
                if hosted {
                    shards.assign(*topic_id, *partition);
                } else {
                    shards.release(*topic_id, *partition);
                }
            }
            Change::TopicRemoved(topic) => {
                for partition in 0..topic.partitions.len() as i32 {
                    shards.release(topic.id, partition);
                }
            }
            _ => {}
        }
    }
}
