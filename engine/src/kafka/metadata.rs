//! Metadata: this broker is the only node, the controller, and the leader
//! (and whole ISR) of every partition.

use std::rc::Rc;

use net::msg::metadata_request::MetadataRequest;
use net::msg::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use net::{ErrorCode, Uuid};

use super::topic_error_code;
use crate::cluster::catalogue::{validate_topic_name, TopicMeta};
use crate::cluster::topics;
use crate::shard::Shard;

pub async fn handle(shard: &Rc<Shard>, version: i16, request: MetadataRequest) -> MetadataResponse {
    let config = &shard.config;
    let node_id = config.node_id;
    // v0 asks for every topic with an empty list; v1+ with a null one.
    let requested: Option<Vec<Option<String>>> = match request.topics {
        None => None,
        Some(list) if list.is_empty() && version == 0 => None,
        Some(list) => Some(list.into_iter().map(|t| t.name).collect()),
    };
    let auto_create = request.allow_auto_topic_creation && config.topics.auto_create;

    let mut topics = Vec::new();
    match requested {
        None => {
            let catalogue = shard.metadata.catalogue();
            for (name, meta) in &catalogue.topics {
                topics.push(describe(node_id, name, meta));
            }
        }
        Some(names) => {
            for name in names {
                let Some(name) = name else {
                    // Lookup by topic id only: not supported below Metadata v10 semantics here.
                    topics.push(error_topic(None, ErrorCode::UnknownTopicId));
                    continue;
                };
                if let Err(e) = validate_topic_name(&name) {
                    topics.push(error_topic(Some(name), topic_error_code(&e)));
                    continue;
                }
                let known = shard.metadata.topic(&name);
                let meta = match known {
                    Some(meta) => Some(meta),
                    None if auto_create => match topics::ensure(shard, &name).await {
                        Ok(_) => shard.metadata.topic(&name),
                        Err(e) => {
                            topics.push(error_topic(Some(name), topic_error_code(&e)));
                            continue;
                        }
                    },
                    None => None,
                };
                match meta {
                    Some(meta) => topics.push(describe(node_id, &name, &meta)),
                    None => {
                        topics.push(error_topic(Some(name), ErrorCode::UnknownTopicOrPartition))
                    }
                }
            }
        }
    }

    MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id,
            host: config.advertise_host.clone(),
            port: config.advertise_port as i32,
            rack: None,
        }],
        cluster_id: Some(config.cluster_id.clone()),
        controller_id: node_id,
        topics,
        ..Default::default()
    }
}

fn describe(node_id: i32, name: &str, meta: &TopicMeta) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: ErrorCode::None.code(),
        name: Some(name.to_string()),
        topic_id: Uuid(meta.id),
        is_internal: name.starts_with("__"),
        partitions: (0..meta.partitions)
            .map(|index| MetadataResponsePartition {
                error_code: ErrorCode::None.code(),
                partition_index: index,
                leader_id: node_id,
                leader_epoch: crate::partition::LEADER_EPOCH,
                replica_nodes: vec![node_id],
                isr_nodes: vec![node_id],
                offline_replicas: Vec::new(),
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
