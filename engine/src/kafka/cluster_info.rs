//! DescribeCluster (the live brokers and the cluster id) and DescribeQuorum
//! (the controller group: its leader, term, commit index and members).

use std::rc::Rc;

use net::msg::describe_cluster_request::DescribeClusterRequest;
use net::msg::describe_cluster_response::{DescribeClusterBroker, DescribeClusterResponse};
use net::msg::describe_quorum_request::DescribeQuorumRequest;
use net::msg::describe_quorum_response::{
    DescribeQuorumResponse, PartitionData, ReplicaState, TopicData,
};
use net::ErrorCode;

use super::metadata::{controller_id_for_clients, live_brokers};
use crate::shard::Shard;

/// The name Kafka gives the controller's log, asked for in DescribeQuorum.
const METADATA_TOPIC: &str = "__cluster_metadata";

pub fn describe_cluster(
    shard: &Shard,
    _request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let image = shard.metadata.image();
    DescribeClusterResponse {
        cluster_id: shard.config.cluster_id.clone(),
        controller_id: controller_id_for_clients(shard),
        brokers: live_brokers(&image)
            .into_iter()
            .map(|b| DescribeClusterBroker {
                broker_id: b.node_id,
                host: b.host,
                port: b.port,
                rack: b.rack,
            })
            .collect(),
        ..Default::default()
    }
}

pub async fn describe_quorum(
    shard: &Rc<Shard>,
    request: DescribeQuorumRequest,
) -> DescribeQuorumResponse {
    let target = shard.metadata.controller_shard();
    let state = shard
        .call(target, |s| async move {
            s.cluster.get().map(|node| node.quorum_state())
        })
        .await
        .ok()
        .flatten();
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let known = topic.topic_name == METADATA_TOPIC;
            TopicData {
                partitions: topic
                    .partitions
                    .into_iter()
                    .map(|p| match (&state, known && p.partition_index == 0) {
                        (Some(state), true) => {
                            let replica = |&(node, matched): &(i32, u64)| ReplicaState {
                                replica_id: node,
                                log_end_offset: matched as i64,
                                ..Default::default()
                            };
                            let is_voter = |m: &&(i32, u64)| state.voters.contains(&m.0);
                            PartitionData {
                                partition_index: 0,
                                error_code: 0,
                                leader_id: state.leader.unwrap_or(-1),
                                leader_epoch: state.term as i32,
                                high_watermark: state.commit as i64,
                                current_voters: state
                                    .match_index
                                    .iter()
                                    .filter(is_voter)
                                    .map(replica)
                                    .collect(),
                                observers: state
                                    .match_index
                                    .iter()
                                    .filter(|m| !is_voter(m))
                                    .map(replica)
                                    .collect(),
                            }
                        }
                        (None, true) => PartitionData {
                            partition_index: p.partition_index,
                            error_code: ErrorCode::NotController.code(),
                            ..Default::default()
                        },
                        (_, false) => PartitionData {
                            partition_index: p.partition_index,
                            error_code: ErrorCode::UnknownTopicOrPartition.code(),
                            ..Default::default()
                        },
                    })
                    .collect(),
                topic_name: topic.topic_name,
            }
        })
        .collect();
    DescribeQuorumResponse {
        error_code: 0,
        topics,
    }
}
