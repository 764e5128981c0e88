//! The cluster metadata as of one controller log index: brokers, topics,
//! partitions (replicas, leader, epochs), configs and the producer-id
//! counter.
//!
//! [`MetadataImage::apply`] is the state machine: a pure function of the
//! image and one record (no I/O, no clock, no randomness; ids and times come
//! inside the records, chosen by their proposer), so every node that applies
//! the same records in the same order holds the same image. A record that
//! does not fit the image (a partition of an unknown topic, say) changes
//! nothing and is reported, identically everywhere.
//!
//! [`MetadataImage::to_records`] is the image as records: applied to an
//! empty image they rebuild it exactly (the controller's snapshots).

use std::collections::BTreeMap;

use super::records::{MetadataRecord, NodeId, PartitionRecord, RegisterBroker, TopicId, NO_LEADER};

/// A registered broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub registration: RegisterBroker,
    /// A fenced broker serves nothing and leads nothing.
    pub fenced: bool,
}

impl Broker {
    pub fn node_id(&self) -> NodeId {
        self.registration.node_id
    }
}

/// One partition's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    pub replicas: Vec<NodeId>,
    pub leader: NodeId,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicImage {
    pub name: String,
    pub id: TopicId,
    /// Overrides of the broker defaults, by Kafka config name.
    pub configs: BTreeMap<String, String>,
    /// Indexed by partition number; every entry is set once the topic's
    /// creation batch is applied.
    pub partitions: Vec<PartitionState>,
}

/// What applying one record changed, for the side effects a node runs
/// (opening partitions it now hosts, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Broker(NodeId),
    TopicCreated(TopicId),
    Partition {
        topic_id: TopicId,
        partition: i32,
    },
    /// The topic as it was, now removed.
    TopicRemoved(Box<TopicImage>),
    TopicConfig(TopicId),
    ProducerIds {
        node_id: NodeId,
        first_id: i64,
        count: i32,
    },
}

/// Why a record was not applied. The same on every node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("broker {0} is not registered")]
    UnknownBroker(NodeId),
    #[error("broker {node_id} incarnation {incarnation} is not the registered one")]
    StaleIncarnation { node_id: NodeId, incarnation: u64 },
    #[error("topic {0} does not exist")]
    UnknownTopic(TopicId),
    #[error("a topic named {0} already exists")]
    DuplicateTopicName(String),
    #[error("topic id {0} already exists")]
    DuplicateTopicId(TopicId),
    #[error("partition {partition} of topic {topic_id} does not follow its last one")]
    PartitionGap { topic_id: TopicId, partition: i32 },
    #[error("partition {partition} of topic {topic_id}: {reason}")]
    InvalidPartition {
        topic_id: TopicId,
        partition: i32,
        reason: &'static str,
    },
    #[error("producer ids from {first_id} were already handed out (next is {next})")]
    ProducerIdsReused { first_id: i64, next: i64 },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataImage {
    brokers: BTreeMap<NodeId, Broker>,
    topics: BTreeMap<TopicId, TopicImage>,
    /// Topic name → id, for lookups by name.
    names: BTreeMap<String, TopicId>,
    /// The first producer id no block has covered yet.
    next_producer_id: i64,
}

impl MetadataImage {
    pub fn brokers(&self) -> impl Iterator<Item = &Broker> {
        self.brokers.values()
    }

    pub fn broker(&self, node_id: NodeId) -> Option<&Broker> {
        self.brokers.get(&node_id)
    }

    /// Registered and not fenced.
    pub fn is_live(&self, node_id: NodeId) -> bool {
        self.brokers.get(&node_id).is_some_and(|b| !b.fenced)
    }

    pub fn topics(&self) -> impl Iterator<Item = &TopicImage> {
        self.topics.values()
    }

    pub fn topic(&self, id: &TopicId) -> Option<&TopicImage> {
        self.topics.get(id)
    }

    pub fn topic_by_name(&self, name: &str) -> Option<&TopicImage> {
        self.topics.get(self.names.get(name)?)
    }

    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    pub fn partition_count(&self) -> usize {
        self.topics.values().map(|t| t.partitions.len()).sum()
    }

    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id
    }

    /// Applies one record. Pure: the image and the record decide the result.
    pub fn apply(&mut self, record: &MetadataRecord) -> Result<Change, ApplyError> {
        match record {
            MetadataRecord::RegisterBroker(registration) => {
                // A new incarnation replaces the old one and starts fenced:
                // it serves only once it has caught up (UnfenceBroker).
                self.brokers.insert(
                    registration.node_id,
                    Broker {
                        registration: registration.clone(),
                        fenced: true,
                    },
                );
                Ok(Change::Broker(registration.node_id))
            }
            MetadataRecord::FenceBroker {
                node_id,
                incarnation,
            }
            | MetadataRecord::UnfenceBroker {
                node_id,
                incarnation,
            } => {
                let broker = self
                    .brokers
                    .get_mut(node_id)
                    .ok_or(ApplyError::UnknownBroker(*node_id))?;
                if broker.registration.incarnation != *incarnation {
                    return Err(ApplyError::StaleIncarnation {
                        node_id: *node_id,
                        incarnation: *incarnation,
                    });
                }
                broker.fenced = matches!(record, MetadataRecord::FenceBroker { .. });
                Ok(Change::Broker(*node_id))
            }
            MetadataRecord::Topic { name, id, configs } => {
                if self.names.contains_key(name) {
                    return Err(ApplyError::DuplicateTopicName(name.clone()));
                }
                if self.topics.contains_key(id) {
                    return Err(ApplyError::DuplicateTopicId(*id));
                }
                self.names.insert(name.clone(), *id);
                self.topics.insert(
                    *id,
                    TopicImage {
                        name: name.clone(),
                        id: *id,
                        configs: configs
                            .iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
                            .collect(),
                        partitions: Vec::new(),
                    },
                );
                Ok(Change::TopicCreated(*id))
            }
            MetadataRecord::Partition(p) => self.apply_partition(p),
            MetadataRecord::RemoveTopic { topic_id } => {
                let topic = self
                    .topics
                    .remove(topic_id)
                    .ok_or(ApplyError::UnknownTopic(*topic_id))?;
                self.names.remove(&topic.name);
                Ok(Change::TopicRemoved(Box::new(topic)))
            }
            MetadataRecord::TopicConfig { topic_id, configs } => {
                let topic = self
                    .topics
                    .get_mut(topic_id)
                    .ok_or(ApplyError::UnknownTopic(*topic_id))?;
                for (name, value) in configs {
                    match value {
                        Some(value) => topic.configs.insert(name.clone(), value.clone()),
                        None => topic.configs.remove(name),
                    };
                }
                Ok(Change::TopicConfig(*topic_id))
            }
            MetadataRecord::ProducerIds {
                node_id,
                first_id,
                count,
            } => {
                if *first_id < self.next_producer_id || *count <= 0 {
                    return Err(ApplyError::ProducerIdsReused {
                        first_id: *first_id,
                        next: self.next_producer_id,
                    });
                }
                self.next_producer_id = first_id + i64::from(*count);
                Ok(Change::ProducerIds {
                    node_id: *node_id,
                    first_id: *first_id,
                    count: *count,
                })
            }
        }
    }

    fn apply_partition(&mut self, p: &PartitionRecord) -> Result<Change, ApplyError> {
        let topic = self
            .topics
            .get_mut(&p.topic_id)
            .ok_or(ApplyError::UnknownTopic(p.topic_id))?;
        let invalid = |reason| ApplyError::InvalidPartition {
            topic_id: p.topic_id,
            partition: p.partition,
            reason,
        };
        if p.replicas.is_empty() {
            return Err(invalid("no replicas"));
        }
        if p.leader != NO_LEADER && !p.replicas.contains(&p.leader) {
            return Err(invalid("the leader is not a replica"));
        }
        let state = PartitionState {
            replicas: p.replicas.clone(),
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
        };
        let index = usize::try_from(p.partition).map_err(|_| invalid("negative index"))?;
        match topic.partitions.len().cmp(&index) {
            std::cmp::Ordering::Less => {
                return Err(ApplyError::PartitionGap {
                    topic_id: p.topic_id,
                    partition: p.partition,
                })
            }
            std::cmp::Ordering::Equal => topic.partitions.push(state),
            std::cmp::Ordering::Greater => {
                let old = &topic.partitions[index];
                if p.leader_epoch < old.leader_epoch || p.partition_epoch <= old.partition_epoch {
                    return Err(invalid("epochs go backwards"));
                }
                topic.partitions[index] = state;
            }
        }
        Ok(Change::Partition {
            topic_id: p.topic_id,
            partition: p.partition,
        })
    }

    /// The image as records that rebuild it exactly when applied, in order,
    /// to an empty image.
    pub fn to_records(&self) -> Vec<MetadataRecord> {
        let mut out = Vec::new();
        for broker in self.brokers.values() {
            out.push(MetadataRecord::RegisterBroker(broker.registration.clone()));
            if !broker.fenced {
                out.push(MetadataRecord::UnfenceBroker {
                    node_id: broker.node_id(),
                    incarnation: broker.registration.incarnation,
                });
            }
        }
        for topic in self.topics.values() {
            out.push(MetadataRecord::Topic {
                name: topic.name.clone(),
                id: topic.id,
                configs: topic
                    .configs
                    .iter()
                    .map(|(k, v)| (k.clone(), Some(v.clone())))
                    .collect(),
            });
            for (index, p) in topic.partitions.iter().enumerate() {
                out.push(MetadataRecord::Partition(PartitionRecord {
                    topic_id: topic.id,
                    partition: index as i32,
                    replicas: p.replicas.clone(),
                    leader: p.leader,
                    leader_epoch: p.leader_epoch,
                    partition_epoch: p.partition_epoch,
                }));
            }
        }
        if self.next_producer_id > 0 {
            // One block ending where the counter stands restores it.
            out.push(MetadataRecord::ProducerIds {
                node_id: NO_LEADER,
                first_id: 0,
                count: i32::try_from(self.next_producer_id)
                    .expect("fewer than 2^31 producer ids handed out"),
            });
        }
        out
    }

    /// The partition records that move leadership after `node_id` became
    /// fenced (`live` false) or unfenced (`live` true): a partition it leads
    /// goes to its first live replica (none: no leader); a partition without
    /// a leader that it replicates gets it back. Epochs are bumped.
    pub fn leadership_changes(&self, node_id: NodeId, live: bool) -> Vec<MetadataRecord> {
        let is_live = |n: NodeId| n != node_id && self.is_live(n) || n == node_id && live;
        let mut out = Vec::new();
        for topic in self.topics.values() {
            for (index, p) in topic.partitions.iter().enumerate() {
                let moves = if live {
                    p.leader == NO_LEADER && p.replicas.contains(&node_id)
                } else {
                    p.leader == node_id
                };
                if !moves {
                    continue;
                }
                let leader = p
                    .replicas
                    .iter()
                    .copied()
                    .find(|&r| is_live(r))
                    .unwrap_or(NO_LEADER);
                out.push(MetadataRecord::Partition(PartitionRecord {
                    topic_id: topic.id,
                    partition: index as i32,
                    replicas: p.replicas.clone(),
                    leader,
                    leader_epoch: p.leader_epoch + 1,
                    partition_epoch: p.partition_epoch + 1,
                }));
            }
        }
        out
    }

    /// Checks the invariants every image keeps (tests and simulators call
    /// it after every step).
    pub fn check_invariants(&self) {
        assert_eq!(self.names.len(), self.topics.len(), "one name per topic");
        for (name, id) in &self.names {
            assert_eq!(&self.topics[id].name, name, "the name index points right");
        }
        for topic in self.topics.values() {
            for p in &topic.partitions {
                assert!(
                    !p.replicas.is_empty(),
                    "{}: a partition without replicas",
                    topic.name
                );
                let mut sorted = p.replicas.clone();
                sorted.sort_unstable();
                sorted.dedup();
                assert_eq!(
                    sorted.len(),
                    p.replicas.len(),
                    "{}: a replica twice",
                    topic.name
                );
                assert!(
                    p.leader == NO_LEADER || p.replicas.contains(&p.leader),
                    "{}: the leader is a replica",
                    topic.name
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::records::Endpoint;

    pub fn register(node_id: NodeId, incarnation: u64) -> MetadataRecord {
        MetadataRecord::RegisterBroker(RegisterBroker {
            node_id,
            incarnation,
            endpoints: vec![Endpoint {
                listener: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 9000 + node_id as u16,
            }],
            rpc_host: "127.0.0.1".into(),
            rpc_port: 9100 + node_id as u16,
            rack: None,
            shard_count: 2,
        })
    }

    fn partition(
        topic_id: TopicId,
        index: i32,
        replicas: Vec<NodeId>,
        leader: NodeId,
    ) -> MetadataRecord {
        MetadataRecord::Partition(PartitionRecord {
            topic_id,
            partition: index,
            replicas,
            leader,
            leader_epoch: 0,
            partition_epoch: 0,
        })
    }

    fn applied(records: &[MetadataRecord]) -> MetadataImage {
        let mut image = MetadataImage::default();
        for r in records {
            image.apply(r).unwrap();
            image.check_invariants();
        }
        image
    }

    #[test]
    fn brokers_register_fenced_and_fencing_names_the_incarnation() {
        let mut image = applied(&[register(1, 10)]);
        assert!(!image.is_live(1), "a new registration starts fenced");
        image
            .apply(&MetadataRecord::UnfenceBroker {
                node_id: 1,
                incarnation: 10,
            })
            .unwrap();
        assert!(image.is_live(1));
        // An old incarnation's fence does not touch the new one.
        image.apply(&register(1, 11)).unwrap();
        assert_eq!(
            image.apply(&MetadataRecord::FenceBroker {
                node_id: 1,
                incarnation: 10
            }),
            Err(ApplyError::StaleIncarnation {
                node_id: 1,
                incarnation: 10
            })
        );
        assert_eq!(
            image.apply(&MetadataRecord::UnfenceBroker {
                node_id: 2,
                incarnation: 1
            }),
            Err(ApplyError::UnknownBroker(2))
        );
    }

    #[test]
    fn topics_are_created_partition_by_partition_and_removed_whole() {
        let id = TopicId([1; 16]);
        let mut image = applied(&[
            MetadataRecord::Topic {
                name: "t".into(),
                id,
                configs: vec![("retention.ms".into(), Some("5".into()))],
            },
            partition(id, 0, vec![1], 1),
            partition(id, 1, vec![2], 2),
        ]);
        assert_eq!(image.topic_by_name("t").unwrap().partitions.len(), 2);
        assert_eq!(image.partition_count(), 2);
        assert_eq!(
            image.apply(&partition(id, 3, vec![1], 1)),
            Err(ApplyError::PartitionGap {
                topic_id: id,
                partition: 3
            })
        );
        assert!(matches!(
            image.apply(&MetadataRecord::Topic {
                name: "t".into(),
                id: TopicId([2; 16]),
                configs: vec![]
            }),
            Err(ApplyError::DuplicateTopicName(_))
        ));
        let removed = image
            .apply(&MetadataRecord::RemoveTopic { topic_id: id })
            .unwrap();
        assert!(matches!(removed, Change::TopicRemoved(t) if t.name == "t"));
        assert!(image.topic_by_name("t").is_none());
        image.check_invariants();
    }

    #[test]
    fn leadership_moves_on_fence_and_comes_back_on_unfence_with_new_epochs() {
        let id = TopicId([1; 16]);
        let unfence = |n| MetadataRecord::UnfenceBroker {
            node_id: n,
            incarnation: 1,
        };
        let mut image = applied(&[
            register(1, 1),
            register(2, 1),
            unfence(1),
            unfence(2),
            MetadataRecord::Topic {
                name: "t".into(),
                id,
                configs: vec![],
            },
            partition(id, 0, vec![1, 2], 1),
            partition(id, 1, vec![1], 1),
        ]);
        image
            .apply(&MetadataRecord::FenceBroker {
                node_id: 1,
                incarnation: 1,
            })
            .unwrap();
        let moves = image.leadership_changes(1, false);
        for r in &moves {
            image.apply(r).unwrap();
        }
        let t = image.topic(&id).unwrap();
        assert_eq!(
            (t.partitions[0].leader, t.partitions[0].leader_epoch),
            (2, 1)
        );
        assert_eq!(
            (t.partitions[1].leader, t.partitions[1].leader_epoch),
            (NO_LEADER, 1)
        );
        image.apply(&unfence(1)).unwrap();
        for r in &image.leadership_changes(1, true) {
            image.apply(r).unwrap();
        }
        let t = image.topic(&id).unwrap();
        assert_eq!(
            t.partitions[0].leader, 2,
            "a led partition stays where it is"
        );
        assert_eq!(
            (t.partitions[1].leader, t.partitions[1].leader_epoch),
            (1, 2)
        );
        image.check_invariants();
    }

    #[test]
    fn producer_id_blocks_never_overlap() {
        let mut image = MetadataImage::default();
        let block = |first_id| MetadataRecord::ProducerIds {
            node_id: 1,
            first_id,
            count: 1000,
        };
        image.apply(&block(0)).unwrap();
        image.apply(&block(1000)).unwrap();
        assert!(image.apply(&block(500)).is_err());
        assert_eq!(image.next_producer_id(), 2000);
    }

    #[test]
    fn an_image_rebuilt_from_its_records_is_the_same_image() {
        let id = TopicId([9; 16]);
        let mut image = applied(&[
            register(1, 4),
            register(2, 5),
            MetadataRecord::UnfenceBroker {
                node_id: 2,
                incarnation: 5,
            },
            MetadataRecord::Topic {
                name: "t".into(),
                id,
                configs: vec![("cleanup.policy".into(), Some("delete".into()))],
            },
            partition(id, 0, vec![2, 1], 2),
            MetadataRecord::ProducerIds {
                node_id: 2,
                first_id: 0,
                count: 1000,
            },
        ]);
        for r in &image.leadership_changes(2, false) {
            image.apply(r).unwrap();
        }
        assert_eq!(applied(&image.to_records()), image);
    }
}
