//! Metadata: the live brokers with their endpoints and racks, the
//! controller, and every requested topic's partitions with their leader,
//! leader epoch, replicas, in-sync replicas and offline replicas, from this
//! shard's copy of the cluster metadata (no cross-shard call).

use std::rc::Rc;

use net::msg::metadata_request::MetadataRequest;
use net::msg::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use net::{ErrorCode, Uuid};

use crate::cluster::driver;
use crate::cluster::image::{MetadataImage, TopicImage};
use crate::cluster::records::{TopicId, NO_LEADER};
use crate::cluster::topics::validate_topic_name;
use crate::group::placement::OFFSETS_TOPIC;
use crate::shard::Shard;

pub async fn handle(shard: &Rc<Shard>, version: i16, request: MetadataRequest) -> MetadataResponse {
    let config = &shard.config;
    // v0 asks for every topic with an empty list; v1+ with a null one.
    let requested: Option<Vec<(Option<String>, Uuid)>> = match request.topics {
        None => None,
        Some(list) if list.is_empty() && version == 0 => None,
        Some(list) => Some(list.into_iter().map(|t| (t.name, t.topic_id)).collect()),
    };
    let auto_create = request.allow_auto_topic_creation && config.topics.auto_create;

    let mut topics = Vec::new();
    match requested {
        None => {
            let image = shard.metadata.image();
            topics.extend(image.topics().map(|t| describe(&image, t)));
        }
        Some(names) => {
            for (name, id) in names {
                let name = match name {
                    Some(name) => name,
                    // v10+: a topic named by id alone.
                    None => {
                        let image = shard.metadata.image();
                        match image.topic(&TopicId(id.0)) {
                            Some(topic) => topics.push(describe(&image, topic)),
                            None => topics.push(error_topic(None, ErrorCode::UnknownTopicId)),
                        }
                        continue;
                    }
                };
                if let Err(e) = validate_topic_name(&name) {
                    topics.push(error_topic(Some(name), e.error_code()));
                    continue;
                }
                if shard.metadata.partition_count(&name).is_none() && auto_create {
                    if let Err(e) = driver::ensure_topic(shard, &name).await {
                        topics.push(error_topic(Some(name), e.error_code()));
                        continue;
                    }
                }
                let image = shard.metadata.image();
                match image.topic_by_name(&name) {
                    Some(topic) => topics.push(describe(&image, topic)),
                    None => {
                        topics.push(error_topic(Some(name), ErrorCode::UnknownTopicOrPartition))
                    }
                }
            }
        }
    }

    let image = shard.metadata.image();
    MetadataResponse {
        brokers: live_brokers(&image),
        cluster_id: Some(config.cluster_id.clone()),
        controller_id: controller_id_for_clients(shard),
        topics,
        ..Default::default()
    }
}

/// The "controller" Metadata and DescribeCluster name: this broker, as a
/// KRaft broker names a live broker. Clients send admin requests to it and
/// every broker forwards metadata changes to the controller leader, so
/// naming the leader itself would only make a client wait for a dead one
/// during an election. DescribeQuorum tells the real leader.
pub fn controller_id_for_clients(shard: &Shard) -> i32 {
    shard.config.node_id
}

/// The unfenced brokers with their client endpoint.
pub fn live_brokers(image: &MetadataImage) -> Vec<MetadataResponseBroker> {
    image
        .brokers()
        .filter(|b| !b.fenced)
        .filter_map(|b| {
            let endpoint = b.registration.endpoints.first()?;
            Some(MetadataResponseBroker {
                node_id: b.node_id(),
                host: endpoint.host.clone(),
                port: i32::from(endpoint.port),
                rack: b.registration.rack.clone(),
            })
        })
        .collect()
}

fn describe(image: &MetadataImage, topic: &TopicImage) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: ErrorCode::None.code(),
        name: Some(topic.name.clone()),
        topic_id: Uuid(topic.id.0),
        is_internal: topic.name == OFFSETS_TOPIC,
        partitions: topic
            .partitions
            .iter()
            .enumerate()
            .map(|(index, p)| {
                let (isr, offline): (Vec<i32>, Vec<i32>) =
                    p.replicas.iter().partition(|&&r| image.is_live(r));
                MetadataResponsePartition {
                    // A partition without a leader is offline until one of
                    // its replicas is back; clients retry.
                    error_code: if p.leader == NO_LEADER {
                        ErrorCode::LeaderNotAvailable.code()
                    } else {
                        ErrorCode::None.code()
                    },
                    partition_index: index as i32,
                    leader_id: p.leader,
                    leader_epoch: p.leader_epoch,
                    replica_nodes: p.replicas.clone(),
                    // Unreplicated partitions: the live replica is in sync.
                    isr_nodes: isr,
                    offline_replicas: offline,
                }
            })
            .collect(),
        ..Default::default()
    }
}

fn error_topic(name: Option<String>, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: code.code(),
        name,
        ..Default::default()
    }
}
