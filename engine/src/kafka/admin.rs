//! Topic administration and producer ids: CreateTopics, CreatePartitions,
//! DeleteTopics, DescribeConfigs, InitProducerId.

use std::future::Future;
use std::rc::Rc;

use net::msg::create_partitions_request::CreatePartitionsRequest;
use net::msg::create_partitions_response::{CreatePartitionsResponse, CreatePartitionsTopicResult};
use net::msg::create_topics_request::CreateTopicsRequest;
use net::msg::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult, CreateTopicsResponse,
};
use net::msg::delete_topics_request::DeleteTopicsRequest;
use net::msg::delete_topics_response::{DeletableTopicResult, DeleteTopicsResponse};
use net::msg::describe_configs_request::DescribeConfigsRequest;
use net::msg::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResponse, DescribeConfigsResult,
};
use net::msg::init_producer_id_request::InitProducerIdRequest;
use net::msg::init_producer_id_response::InitProducerIdResponse;
use net::{ErrorCode, Uuid};

use crate::cluster::driver;
use crate::cluster::records::TopicId;
use crate::cluster::topics::{NewTopic, TopicError, TOPIC_CONFIG_KEYS};
use crate::config::Config;
use crate::partition::TopicConfigs;
use crate::shard::mesh::LocalFuture;
use crate::shard::Shard;

/// Returns once the request is on its way to the controller shard (the
/// connection's order), with the future of the response.
pub async fn create_partitions(
    shard: &Rc<Shard>,
    request: CreatePartitionsRequest,
) -> impl Future<Output = CreatePartitionsResponse> + 'static {
    let names: Vec<String> = request.topics.iter().map(|t| t.name.clone()).collect();
    let wanted = request
        .topics
        .into_iter()
        .map(|t| {
            let assignments = t
                .assignments
                .filter(|a| !a.is_empty())
                .map(|a| a.into_iter().map(|p| p.broker_ids).collect());
            (t.name, t.count, assignments)
        })
        .collect();
    let results = driver::create_partitions(shard, wanted, request.validate_only).await;
    async move {
        CreatePartitionsResponse {
            results: names
                .into_iter()
                .zip(results.await)
                .map(|(name, result)| match result {
                    Ok(()) => CreatePartitionsTopicResult {
                        name,
                        ..Default::default()
                    },
                    Err(e) => CreatePartitionsTopicResult {
                        name,
                        error_code: e.error_code().code(),
                        error_message: Some(e.to_string()),
                    },
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// DescribeConfigs resource types.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
/// DescribeConfigs config sources.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

/// Returns once the request is on its way to the controller shard (the
/// connection's order), with the future of the response.
pub async fn create_topics(
    shard: &Rc<Shard>,
    request: CreateTopicsRequest,
) -> impl Future<Output = CreateTopicsResponse> + 'static {
    let default_partitions = shard.config.topics.default_partitions;
    let wanted: Vec<NewTopic> = request
        .topics
        .iter()
        .map(|t| NewTopic {
            name: t.name.clone(),
            partitions: match (t.num_partitions, t.assignments.len()) {
                (-1, 0) => default_partitions,
                (-1, n) => n as i32,
                (n, _) => n,
            },
            replication_factor: t.replication_factor,
            configs: t
                .configs
                .iter()
                .filter_map(|c| c.value.clone().map(|v| (c.name.clone(), v)))
                .collect(),
        })
        .collect();
    let results = driver::create_topics(shard, wanted.clone(), request.validate_only).await;
    let config = shard.config.clone();
    async move { created(&config, wanted, results.await) }
}

fn created(
    config: &Config,
    wanted: Vec<NewTopic>,
    results: Vec<Result<(TopicId, i32, i16), TopicError>>,
) -> CreateTopicsResponse {
    let topics = wanted
        .into_iter()
        .zip(results)
        .map(|(topic, result)| match result {
            Ok((id, partitions, replication_factor)) => CreatableTopicResult {
                name: topic.name.clone(),
                topic_id: Uuid(id.0),
                error_code: 0,
                error_message: None,
                num_partitions: partitions,
                replication_factor,
                configs: Some(
                    effective_topic_configs(config, &topic.configs.iter().cloned().collect())
                        .into_iter()
                        .map(|(name, value, source)| CreatableTopicConfigs {
                            name,
                            value: Some(value),
                            read_only: false,
                            config_source: source,
                            is_sensitive: false,
                        })
                        .collect(),
                ),
                ..Default::default()
            },
            Err(e) => CreatableTopicResult {
                name: topic.name,
                error_code: e.error_code().code(),
                error_message: Some(e.to_string()),
                ..Default::default()
            },
        })
        .collect();
    CreateTopicsResponse {
        topics,
        ..Default::default()
    }
}

/// Returns once the request is on its way to the controller shard (the
/// connection's order), with the future of the response.
pub async fn delete_topics(
    shard: &Rc<Shard>,
    version: i16,
    request: DeleteTopicsRequest,
) -> impl Future<Output = DeleteTopicsResponse> + 'static {
    // v6 names topics by name or id; earlier versions by name only.
    let names: Vec<(Option<String>, Uuid)> = if version >= 6 {
        let image = shard.metadata.image();
        request
            .topics
            .into_iter()
            .map(|t| match t.name {
                Some(name) => (Some(name), t.topic_id),
                None => (
                    image
                        .topic(&TopicId(t.topic_id.0))
                        .map(|topic| topic.name.clone()),
                    t.topic_id,
                ),
            })
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|n| (Some(n), Uuid::NIL))
            .collect()
    };
    let known: Vec<String> = names.iter().filter_map(|(n, _)| n.clone()).collect();
    let results = driver::delete_topics(shard, known).await;
    async move { deleted(names, results.await) }
}

fn deleted(
    names: Vec<(Option<String>, Uuid)>,
    results: Vec<Result<TopicId, TopicError>>,
) -> DeleteTopicsResponse {
    let mut results = results.into_iter();
    let responses = names
        .into_iter()
        .map(|(name, id)| match name {
            None => DeletableTopicResult {
                name: None,
                topic_id: id,
                error_code: ErrorCode::UnknownTopicId.code(),
                ..Default::default()
            },
            Some(name) => match results.next().expect("one result per name") {
                Ok(id) => DeletableTopicResult {
                    name: Some(name),
                    topic_id: Uuid(id.0),
                    error_code: 0,
                    error_message: None,
                },
                Err(e) => DeletableTopicResult {
                    name: Some(name),
                    topic_id: id,
                    error_code: e.error_code().code(),
                    error_message: Some(e.to_string()),
                },
            },
        })
        .collect();
    DeleteTopicsResponse {
        responses,
        ..Default::default()
    }
}

/// (name, value, source) of every topic-level config, overrides first.
fn effective_topic_configs(config: &Config, configs: &TopicConfigs) -> Vec<(String, String, i8)> {
    TOPIC_CONFIG_KEYS
        .iter()
        .map(|&key| match configs.get(key) {
            Some(v) => (key.to_string(), v.clone(), SOURCE_TOPIC),
            None => (key.to_string(), topic_default(config, key), SOURCE_DEFAULT),
        })
        .collect()
}

fn topic_default(config: &Config, key: &str) -> String {
    match key {
        "retention.ms" => config.log.retention_ms.to_string(),
        "retention.bytes" => config.log.retention_bytes.to_string(),
        "segment.bytes" => config.log.segment_bytes.to_string(),
        "segment.ms" => config.log.segment_ms.to_string(),
        "cleanup.policy" => "delete".into(),
        "max.message.bytes" => config.server.batch_bytes_max.to_string(),
        "min.insync.replicas" => "1".into(),
        "message.timestamp.type" => "CreateTime".into(),
        other => unreachable!("no default for topic config {other}"),
    }
}

fn broker_configs(config: &Config) -> Vec<(String, String, i8)> {
    [
        ("broker.id", config.node_id.to_string()),
        (
            "num.partitions",
            config.topics.default_partitions.to_string(),
        ),
        (
            "auto.create.topics.enable",
            config.topics.auto_create.to_string(),
        ),
        ("log.retention.ms", config.log.retention_ms.to_string()),
        (
            "log.retention.bytes",
            config.log.retention_bytes.to_string(),
        ),
        ("log.segment.bytes", config.log.segment_bytes.to_string()),
        (
            "message.max.bytes",
            config.server.batch_bytes_max.to_string(),
        ),
        (
            "socket.request.max.bytes",
            config.server.frame_bytes_max.to_string(),
        ),
        ("default.replication.factor", "1".to_string()),
        ("min.insync.replicas", "1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v, SOURCE_STATIC_BROKER))
    .collect()
}

pub fn describe_configs(
    shard: &Rc<Shard>,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let config = &shard.config;
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            let found = match resource.resource_type {
                RESOURCE_TOPIC => match shard.metadata.topic(&resource.resource_name) {
                    Some(topic) => Ok(effective_topic_configs(config, &topic.configs)),
                    None => Err((ErrorCode::UnknownTopicOrPartition, "unknown topic")),
                },
                RESOURCE_BROKER => {
                    let name = &resource.resource_name;
                    if name.is_empty() || *name == config.node_id.to_string() {
                        Ok(broker_configs(config))
                    } else {
                        Err((ErrorCode::InvalidRequest, "unknown broker id"))
                    }
                }
                _ => Err((ErrorCode::InvalidRequest, "unsupported resource type")),
            };
            match found {
                Ok(entries) => DescribeConfigsResult {
                    error_code: 0,
                    error_message: None,
                    resource_type: resource.resource_type,
                    resource_name: resource.resource_name,
                    configs: entries
                        .into_iter()
                        .filter(|(name, _, _)| {
                            resource
                                .configuration_keys
                                .as_ref()
                                .is_none_or(|keys| keys.is_empty() || keys.contains(name))
                        })
                        .map(|(name, value, source)| DescribeConfigsResourceResult {
                            name,
                            value: Some(value),
                            read_only: source != SOURCE_TOPIC,
                            config_source: source,
                            is_sensitive: false,
                            documentation: None,
                            ..Default::default()
                        })
                        .collect(),
                },
                Err((code, message)) => DescribeConfigsResult {
                    error_code: code.code(),
                    error_message: Some(message.into()),
                    resource_type: resource.resource_type,
                    resource_name: resource.resource_name,
                    configs: Vec::new(),
                },
            }
        })
        .collect();
    DescribeConfigsResponse {
        results,
        ..Default::default()
    }
}

/// Returns once an id allocation is on its way to the catalogue shard (the
/// connection's order), with the future of the response.
pub async fn init_producer_id(
    shard: &Rc<Shard>,
    request: InitProducerIdRequest,
) -> LocalFuture<InitProducerIdResponse> {
    let error = |code: ErrorCode| InitProducerIdResponse {
        error_code: code.code(),
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    if request
        .transactional_id
        .as_deref()
        .is_some_and(|id| !id.is_empty())
    {
        // Transactions are not supported; idempotence is.
        let response = error(ErrorCode::TransactionalIdAuthorizationFailed);
        return Box::pin(async move { response });
    }
    // KIP-360: a producer that knows its id may ask for an epoch bump.
    if request.producer_id >= 0
        && request.producer_epoch >= 0
        && request.producer_epoch < i16::MAX - 1
    {
        let response = InitProducerIdResponse {
            producer_id: request.producer_id,
            producer_epoch: request.producer_epoch + 1,
            ..Default::default()
        };
        return Box::pin(async move { response });
    }
    let allocated = driver::allocate_producer_id(shard).await;
    Box::pin(async move {
        match allocated.await {
            Ok(id) => InitProducerIdResponse {
                producer_id: id,
                producer_epoch: 0,
                ..Default::default()
            },
            Err(e) => error(e.error_code()),
        }
    })
}
