//! Where partitions live: on which brokers (replica assignment, decided by
//! the controller when a topic is created), and on which shard of a broker
//! (the shard table, decided by each broker for the partitions it hosts).
//! Both are pure and deterministic: the same inputs give the same answer on
//! every node and every shard.

use std::collections::{BTreeMap, HashMap};

use super::image::MetadataImage;
use super::records::{NodeId, TopicId};
pub use crate::shard::ShardId;

/// Why replicas cannot be assigned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error("replication factor {wanted} exceeds the {live} live brokers")]
    NotEnoughBrokers { wanted: usize, live: usize },
    #[error("replication factor must be at least 1")]
    ZeroReplicationFactor,
}

/// Replicas for `count` new partitions of one topic (`topic`, if it exists
/// already, with its partitions counted) with `replication_factor`
/// replicas each, over the live brokers of `image`.
/// The topic itself is spread first: each replica goes to the broker holding
/// the fewest of this topic's replicas, each leader (the first replica) to
/// the broker leading the fewest of its partitions; ties go to the broker
/// with the fewest replicas (leaders) overall, existing partitions
/// included, then to the lowest node id. A partition's replicas spread over
/// distinct racks while racks remain.
pub fn assign_replicas(
    image: &MetadataImage,
    topic: Option<TopicId>,
    count: usize,
    replication_factor: usize,
) -> Result<Vec<Vec<NodeId>>, PlacementError> {
    if replication_factor == 0 {
        return Err(PlacementError::ZeroReplicationFactor);
    }
    let live: Vec<NodeId> = image
        .brokers()
        .filter(|b| !b.fenced)
        .map(|b| b.node_id())
        .collect();
    if replication_factor > live.len() {
        return Err(PlacementError::NotEnoughBrokers {
            wanted: replication_factor,
            live: live.len(),
        });
    }
    let rack = |n: NodeId| image.broker(n).and_then(|b| b.registration.rack.clone());
    let zero = || -> BTreeMap<NodeId, usize> { live.iter().map(|&n| (n, 0)).collect() };
    let (mut replicas, mut leaders) = (zero(), zero());
    let (mut topic_replicas, mut topic_leaders) = (zero(), zero());
    for t in image.topics() {
        let this_topic = Some(t.id) == topic;
        for p in &t.partitions {
            for r in &p.replicas {
                if let Some(c) = replicas.get_mut(r) {
                    *c += 1;
                }
                if let Some(c) = topic_replicas.get_mut(r).filter(|_| this_topic) {
                    *c += 1;
                }
            }
            if let Some(c) = leaders.get_mut(&p.replicas[0]) {
                *c += 1;
            }
            if let Some(c) = topic_leaders.get_mut(&p.replicas[0]).filter(|_| this_topic) {
                *c += 1;
            }
        }
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let leader = *live
            .iter()
            .min_by_key(|&&n| (topic_leaders[&n], leaders[&n], replicas[&n], n))
            .expect("at least one live broker");
        let mut chosen = vec![leader];
        while chosen.len() < replication_factor {
            let racks_used: Vec<Option<String>> = chosen.iter().map(|&n| rack(n)).collect();
            let next = *live
                .iter()
                .filter(|n| !chosen.contains(n))
                .min_by_key(|&&n| {
                    let rack = rack(n);
                    let rack_taken = rack.is_some() && racks_used.contains(&rack);
                    (rack_taken, topic_replicas[&n], replicas[&n], n)
                })
                .expect("enough live brokers");
            chosen.push(next);
        }
        *leaders.get_mut(&leader).expect("live") += 1;
        *topic_leaders.get_mut(&leader).expect("live") += 1;
        for n in &chosen {
            *replicas.get_mut(n).expect("live") += 1;
            *topic_replicas.get_mut(n).expect("live") += 1;
        }
        out.push(chosen);
    }
    Ok(out)
}

/// Which of a broker's shards owns each partition the broker hosts.
/// Partitions are assigned as they arrive to the shard owning the fewest
/// (ties: the lowest shard), so every shard of the broker carries its
/// share. Every shard of a broker keeps an identical table: they see the
/// same arrivals in the same order. Across restarts a partition may land on
/// another shard; that is fine, its files do not depend on the shard.
#[derive(Debug, Clone)]
pub struct ShardTable {
    load: Vec<usize>,
    owners: HashMap<(TopicId, i32), ShardId>,
}

impl ShardTable {
    pub fn new(shard_count: usize) -> Self {
        assert!(shard_count >= 1, "a broker has at least one shard");
        assert!(shard_count <= crate::limits::SHARDS_MAX);
        Self {
            load: vec![0; shard_count],
            owners: HashMap::new(),
        }
    }

    pub fn shard_count(&self) -> usize {
        self.load.len()
    }

    /// The shard owning `partition` of `topic`, assigning one if it has
    /// none yet.
    pub fn assign(&mut self, topic: TopicId, partition: i32) -> ShardId {
        if let Some(&owner) = self.owners.get(&(topic, partition)) {
            return owner;
        }
        let owner = (0..self.load.len())
            .min_by_key(|&s| (self.load[s], s))
            .expect("at least one shard");
        self.load[owner] += 1;
        self.owners.insert((topic, partition), owner);
        owner
    }

    pub fn owner(&self, topic: TopicId, partition: i32) -> Option<ShardId> {
        self.owners.get(&(topic, partition)).copied()
    }

    /// Forgets a partition the broker no longer hosts.
    pub fn release(&mut self, topic: TopicId, partition: i32) {
        if let Some(owner) = self.owners.remove(&(topic, partition)) {
            self.load[owner] -= 1;
        }
    }

    /// Partitions per shard.
    pub fn load(&self) -> &[usize] {
        &self.load
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::records::{Endpoint, MetadataRecord, PartitionRecord, RegisterBroker};

    fn image(brokers: &[(NodeId, Option<&str>)]) -> MetadataImage {
        let mut image = MetadataImage::default();
        for &(node_id, rack) in brokers {
            image
                .apply(&MetadataRecord::RegisterBroker(RegisterBroker {
                    node_id,
                    incarnation: 1,
                    endpoints: vec![Endpoint {
                        listener: "PLAINTEXT".into(),
                        host: "h".into(),
                        port: 1,
                    }],
                    rpc_host: "h".into(),
                    rpc_port: 2,
                    rack: rack.map(str::to_string),
                    shard_count: 1,
                }))
                .unwrap();
            image
                .apply(&MetadataRecord::UnfenceBroker {
                    node_id,
                    incarnation: 1,
                })
                .unwrap();
        }
        image
    }

    fn add_topic(image: &mut MetadataImage, id: u8, assignment: &[Vec<NodeId>]) {
        let topic_id = TopicId([id; 16]);
        image
            .apply(&MetadataRecord::Topic {
                name: format!("t{id}"),
                id: topic_id,
                configs: vec![],
            })
            .unwrap();
        for (i, replicas) in assignment.iter().enumerate() {
            image
                .apply(&MetadataRecord::Partition(PartitionRecord {
                    topic_id,
                    partition: i as i32,
                    replicas: replicas.clone(),
                    leader: replicas[0],
                    leader_epoch: 0,
                    partition_epoch: 0,
                }))
                .unwrap();
        }
    }

    #[test]
    fn twelve_partitions_over_three_brokers_lead_four_each() {
        let image = image(&[(1, None), (2, None), (3, None)]);
        let assignment = assign_replicas(&image, None, 12, 1).unwrap();
        for node in 1..=3 {
            assert_eq!(assignment.iter().filter(|r| r[0] == node).count(), 4);
        }
    }

    #[test]
    fn added_partitions_even_out_their_topic() {
        let mut image = image(&[(1, None), (2, None), (3, None)]);
        // Topic 5 has three partitions, all led by broker 1.
        add_topic(&mut image, 5, &[vec![1], vec![1], vec![1]]);
        let added = assign_replicas(&image, Some(TopicId([5; 16])), 3, 1).unwrap();
        assert!(added.iter().all(|r| r[0] != 1), "{added:?}");
    }

    #[test]
    fn a_topic_spreads_over_every_broker_even_when_one_carries_more() {
        let mut image = image(&[(1, None), (2, None), (3, None)]);
        add_topic(&mut image, 0, &vec![vec![2]; 16]);
        let assignment = assign_replicas(&image, None, 12, 1).unwrap();
        for node in 1..=3 {
            assert_eq!(assignment.iter().filter(|r| r[0] == node).count(), 4);
        }
    }

    #[test]
    fn replicas_and_leaders_stay_balanced_across_topics() {
        let mut image = image(&[(1, None), (2, None), (3, None), (4, None)]);
        for id in 0..10u8 {
            let assignment = assign_replicas(&image, None, 3, 3).unwrap();
            for replicas in &assignment {
                let mut distinct = replicas.clone();
                distinct.sort_unstable();
                distinct.dedup();
                assert_eq!(distinct.len(), 3, "distinct replicas");
            }
            add_topic(&mut image, id, &assignment);
        }
        let mut replicas = BTreeMap::new();
        let mut leaders = BTreeMap::new();
        for t in image.topics() {
            for p in &t.partitions {
                *leaders.entry(p.replicas[0]).or_insert(0) += 1;
                for r in &p.replicas {
                    *replicas.entry(*r).or_insert(0) += 1;
                }
            }
        }
        // 30 partitions x 3 replicas over 4 brokers; 30 leaders over 4.
        for node in 1..=4 {
            assert!((22..=23).contains(&replicas[&node]), "{replicas:?}");
            assert!((7..=8).contains(&leaders[&node]), "{leaders:?}");
        }
    }

    #[test]
    fn replicas_spread_over_racks_first() {
        let image = image(&[
            (1, Some("a")),
            (2, Some("a")),
            (3, Some("b")),
            (4, Some("b")),
        ]);
        for replicas in assign_replicas(&image, None, 8, 2).unwrap() {
            let racks: Vec<_> = replicas
                .iter()
                .map(|&n| image.broker(n).unwrap().registration.rack.clone())
                .collect();
            assert_ne!(racks[0], racks[1], "{replicas:?}");
        }
    }

    #[test]
    fn fenced_brokers_get_nothing_and_too_few_brokers_is_an_error() {
        let mut image = image(&[(1, None), (2, None)]);
        image
            .apply(&MetadataRecord::FenceBroker {
                node_id: 2,
                incarnation: 1,
            })
            .unwrap();
        assert!(assign_replicas(&image, None, 5, 1)
            .unwrap()
            .iter()
            .all(|r| r == &[1]));
        assert_eq!(
            assign_replicas(&image, None, 1, 2),
            Err(PlacementError::NotEnoughBrokers { wanted: 2, live: 1 })
        );
    }

    #[test]
    fn the_shard_table_balances_by_count_and_is_stable() {
        let mut table = ShardTable::new(3);
        let topic = TopicId([1; 16]);
        let owners: Vec<ShardId> = (0..9).map(|p| table.assign(topic, p)).collect();
        assert_eq!(table.load(), &[3, 3, 3]);
        assert_eq!(
            owners[4],
            table.assign(topic, 4),
            "assigning twice changes nothing"
        );
        table.release(topic, 0);
        table.release(topic, 3);
        let next = table.assign(TopicId([2; 16]), 0);
        assert_eq!(next, owners[0], "the emptiest shard gets the next one");
    }
}
