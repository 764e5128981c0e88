//! The records a metadata change proposes, decided from the current image
//! by the controller leader: pure functions (ids and the default
//! replication factor are given), so a simulator drives them exactly as the
//! broker does.

use super::image::MetadataImage;
use super::placement::assign_replicas;
use super::records::{MetadataRecord, NodeId, PartitionRecord, TopicId, NO_LEADER};
use super::topics::{validate_topic_config, validate_topic_name, NewTopic, TopicError};
use crate::limits;

/// The records creating `topic` with id `id`: the topic, then each
/// partition with its replicas (placed over the live brokers) and leader.
/// `default_replication_factor` applies when the topic asks for -1.
pub fn create_topic(
    image: &MetadataImage,
    topic: &NewTopic,
    id: TopicId,
    default_replication_factor: usize,
) -> Result<Vec<MetadataRecord>, TopicError> {
    validate_topic_name(&topic.name)?;
    if image.topic_by_name(&topic.name).is_some() {
        return Err(TopicError::AlreadyExists);
    }
    if image.topic(&id).is_some() {
        return Err(TopicError::AlreadyExists);
    }
    if image.topic_count() >= limits::TOPICS_MAX {
        return Err(TopicError::TooManyTopics);
    }
    if topic.partitions < 1 || topic.partitions as usize > limits::PARTITIONS_PER_TOPIC_MAX {
        return Err(TopicError::InvalidPartitions(topic.partitions));
    }
    let replication_factor = match topic.replication_factor {
        // The broker's default, within what it can replicate.
        -1 => default_replication_factor.min(limits::REPLICATION_FACTOR_MAX),
        rf if rf >= 1 => rf as usize,
        rf => return Err(TopicError::InvalidReplicationFactor(rf)),
    };
    if replication_factor > limits::REPLICATION_FACTOR_MAX {
        return Err(TopicError::InvalidReplicationFactor(
            replication_factor as i16,
        ));
    }
    let mut configs = Vec::with_capacity(topic.configs.len());
    for (key, value) in &topic.configs {
        configs.push((key.clone(), Some(validate_topic_config(key, value)?)));
    }
    let assignment = assign_replicas(image, None, topic.partitions as usize, replication_factor)
        .map_err(|e| TopicError::Placement(e.to_string()))?;
    let mut records = Vec::with_capacity(1 + assignment.len());
    records.push(MetadataRecord::Topic {
        name: topic.name.clone(),
        id,
        configs,
    });
    records.extend(partitions(image, id, 0, assignment));
    Ok(records)
}

/// The records growing topic `name` to `count` partitions, with the given
/// replica assignment of each new partition or placed like a new topic's
/// (the topic's existing partitions counted).
pub fn add_partitions(
    image: &MetadataImage,
    name: &str,
    count: i32,
    assignments: Option<Vec<Vec<NodeId>>>,
) -> Result<Vec<MetadataRecord>, TopicError> {
    let topic = image.topic_by_name(name).ok_or(TopicError::Unknown)?;
    let current = topic.partitions.len() as i32;
    if count <= current {
        return Err(TopicError::InvalidPartitions(count));
    }
    if count as usize > limits::PARTITIONS_PER_TOPIC_MAX {
        return Err(TopicError::InvalidPartitions(count));
    }
    let replication_factor = topic.partitions.first().map_or(1, |p| p.replicas.len());
    let added = (count - current) as usize;
    let assignment = match assignments {
        Some(assignments) => {
            if assignments.len() != added {
                return Err(TopicError::InvalidAssignment(format!(
                    "{} assignments for {added} new partitions",
                    assignments.len()
                )));
            }
            for replicas in &assignments {
                let mut distinct = replicas.clone();
                distinct.sort_unstable();
                distinct.dedup();
                if replicas.len() != replication_factor || distinct.len() != replicas.len() {
                    return Err(TopicError::InvalidAssignment(format!(
                        "{replicas:?} is not {replication_factor} distinct brokers"
                    )));
                }
                if let Some(unknown) = replicas.iter().find(|&&r| image.broker(r).is_none()) {
                    return Err(TopicError::InvalidAssignment(format!(
                        "broker {unknown} is not registered"
                    )));
                }
            }
            assignments
        }
        None => assign_replicas(image, Some(topic.id), added, replication_factor)
            .map_err(|e| TopicError::Placement(e.to_string()))?,
    };
    Ok(partitions(image, topic.id, current, assignment).collect())
}

/// Partition records from index `first` for `assignment`, each led by its
/// first live replica.
fn partitions<'a>(
    image: &'a MetadataImage,
    topic_id: TopicId,
    first: i32,
    assignment: Vec<Vec<NodeId>>,
) -> impl Iterator<Item = MetadataRecord> + 'a {
    assignment
        .into_iter()
        .enumerate()
        .map(move |(i, replicas)| {
            let leader = replicas
                .iter()
                .copied()
                .find(|&r| image.is_live(r))
                .unwrap_or(NO_LEADER);
            MetadataRecord::Partition(PartitionRecord {
                topic_id,
                partition: first + i as i32,
                replicas,
                leader,
                leader_epoch: 0,
                partition_epoch: 0,
            })
        })
}
