//! The partitions one shard owns, and the shard's storage context: opening
//! (with recovery) at start-up and when topics are created, deletion, the
//! retention timer, and closing at shutdown.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use storage::StorageError;

use super::{Partition, TopicConfigs};
use crate::clock::Clock;
use crate::config::Config;

pub struct Partitions {
    config: Arc<Config>,
    /// Topic name → partition index → partition. Two levels so that a
    /// lookup by `&str` needs no allocation on the produce/fetch path.
    map: RefCell<HashMap<String, BTreeMap<i32, Rc<Partition>>>>,
    /// The shard's batch cache and storage settings, shared by its logs.
    storage: Rc<storage::ShardStorage>,
}

impl Partitions {
    /// An empty set for shard `shard_id`, with its storage context.
    pub fn new(config: Arc<Config>, shard_id: usize) -> Self {
        let tuning = &config.shards[shard_id];
        let storage = storage::ShardStorage::new(storage::ShardStorageConfig {
            cache_bytes_max: tuning.cache_bytes as usize,
        });
        Self {
            config,
            map: RefCell::new(HashMap::new()),
            storage,
        }
    }

    pub fn get(&self, topic: &str, index: i32) -> Option<Rc<Partition>> {
        self.map.borrow().get(topic)?.get(&index).cloned()
    }

    /// Every partition of the shard, in topic and index order.
    pub fn all(&self) -> Vec<Rc<Partition>> {
        self.map
            .borrow()
            .values()
            .flat_map(|m| m.values().cloned())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.map.borrow().values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Opens (recovering) one partition this shard owns, unless it is open
    /// already; returns it.
    pub async fn open_one(
        &self,
        topic: &str,
        index: i32,
        configs: &TopicConfigs,
    ) -> Result<Rc<Partition>, StorageError> {
        if let Some(open) = self.get(topic, index) {
            return Ok(open);
        }
        let partition = Partition::open(&self.storage, &self.config, topic, index, configs).await?;
        // Another open of the same partition may have finished meanwhile.
        if let Some(open) = self.get(topic, index) {
            partition.close().await?;
            return Ok(open);
        }
        self.map
            .borrow_mut()
            .entry(partition.topic.clone())
            .or_default()
            .insert(partition.index, partition.clone());
        Ok(partition)
    }

    /// Closes one partition this shard no longer owns (its files stay).
    pub async fn close_one(&self, topic: &str, index: i32) -> Result<(), StorageError> {
        let closing = {
            let mut map = self.map.borrow_mut();
            let closing = map.get_mut(topic).and_then(|m| m.remove(&index));
            if map.get(topic).is_some_and(BTreeMap::is_empty) {
                map.remove(topic);
            }
            closing
        };
        match closing {
            Some(partition) => partition.close().await,
            None => Ok(()),
        }
    }

    /// Removes a deleted topic's partitions on this shard, files included.
    pub async fn delete_topic(&self, topic: &str) -> Result<(), StorageError> {
        let doomed: Vec<Rc<Partition>> = self
            .map
            .borrow_mut()
            .remove(topic)
            .map(|m| m.into_values().collect())
            .unwrap_or_default();
        for partition in doomed {
            partition.delete().await?;
        }
        Ok(())
    }

    /// Syncs and closes every partition of the shard.
    pub async fn close_all(&self) -> Result<(), StorageError> {
        let all: Vec<Rc<Partition>> = self
            .map
            .borrow_mut()
            .drain()
            .flat_map(|(_, m)| m.into_values())
            .collect();
        let mut first_error = None;
        for partition in all {
            if let Err(e) = partition.close().await {
                tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "close failed");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Applies retention to every partition of the shard, forever (a
    /// background task; storage never blocks appends while it runs).
    pub async fn retention_loop(self: Rc<Self>, clock: Clock) {
        loop {
            glommio::timer::sleep(std::time::Duration::from_millis(
                crate::limits::RETENTION_CHECK_MS,
            ))
            .await;
            let now_ms = clock.now_ms() as i64;
            for partition in self.all() {
                match partition.apply_retention(now_ms).await {
                    Ok(report) => {
                        tracing::debug!(topic = %partition.topic, partition = partition.index, ?report, "retention")
                    }
                    Err(e) => {
                        tracing::warn!(topic = %partition.topic, partition = partition.index, error = %e, "retention failed")
                    }
                }
            }
        }
    }
}
