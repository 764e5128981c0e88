//! The Kafka group APIs: translate `net`'s decoded requests into
//! coordinator requests (`crate::group::api`), run them on the shard that
//! coordinates the group, in the connection's order, and translate back.
//! Every error the coordinator decides is passed through with its Kafka code.

use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;

use net::msg::delete_groups_response::DeletableGroupResult;
use net::msg::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use net::msg::find_coordinator_response::Coordinator;
use net::msg::join_group_response::JoinGroupResponseMember;
use net::msg::leave_group_response::MemberResponse;
use net::msg::list_groups_response::ListedGroup;
use net::msg::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use net::msg::offset_fetch_response::{OffsetFetchResponsePartition, OffsetFetchResponseTopic};
use net::msg::*;
use net::{encode_response, ApiResponse, EncodedFrame, Request, RequestHeader};

use super::Peer;
use crate::cluster::Owner;
use crate::group::{api, ErrorCode, GroupService};
use crate::shard::mesh::LocalFuture;
use crate::shard::Shard;

/// FindCoordinator key type of a consumer group (1 is a transaction).
const KEY_TYPE_GROUP: i8 = 0;

/// Starts one group API request in the connection's order: every request
/// that reaches a coordinator is handed to it (and taken there) before this
/// returns. Returns the future of the encoded response; `None` for a request
/// that is not a group API.
pub async fn dispatch(
    shard: &Rc<Shard>,
    peer: &Peer,
    header: &RequestHeader,
    request: Request,
) -> Option<LocalFuture<EncodedFrame>> {
    let version = header.api_version;
    let id = header.correlation_id;
    let frame = match request {
        Request::FindCoordinator(r) => {
            let frame = encode(id, version, &find_coordinator(shard, version, r));
            Box::pin(async move { frame }) as LocalFuture<EncodedFrame>
        }
        Request::JoinGroup(r) => respond(id, version, join_group(shard, peer, header, r).await),
        Request::SyncGroup(r) => respond(id, version, sync_group(shard, r).await),
        Request::Heartbeat(r) => respond(id, version, heartbeat(shard, r).await),
        Request::LeaveGroup(r) => respond(id, version, leave_group(shard, version, r).await),
        Request::OffsetCommit(r) => respond(id, version, offset_commit(shard, r).await),
        Request::OffsetFetch(r) => respond(id, version, offset_fetch(shard, r).await),
        Request::DescribeGroups(r) => respond(id, version, describe_groups(shard, r).await),
        Request::ListGroups(r) => respond(id, version, list_groups(shard.clone(), r)),
        Request::DeleteGroups(r) => respond(id, version, delete_groups(shard, r).await),
        other => {
            tracing::warn!(api = ?other.api_key(), "not a group API");
            return None;
        }
    };
    Some(frame)
}

fn encode<R: ApiResponse>(correlation_id: i32, version: i16, body: &R) -> EncodedFrame {
    encode_response(correlation_id, version, body)
}

fn respond<R: ApiResponse + 'static>(
    correlation_id: i32,
    version: i16,
    answer: impl Future<Output = R> + 'static,
) -> LocalFuture<EncodedFrame> {
    Box::pin(async move { encode(correlation_id, version, &answer.await) })
}

/// Hands `job` to the shard coordinating `group_id`, which calls it (and so
/// runs the coordinator) in the order this shard sent its jobs there.
/// Returns the future of the answer; a shard that is gone (shutting down)
/// answers COORDINATOR_NOT_AVAILABLE so that clients retry.
async fn on_owner<R, F, Fut>(
    shard: &Rc<Shard>,
    group_id: &str,
    job: F,
) -> impl Future<Output = Result<R, ErrorCode>> + 'static
where
    R: Send + 'static,
    F: FnOnce(Rc<GroupService>) -> Fut + Send + 'static,
    Fut: Future<Output = R> + 'static,
{
    let reply = match shard.metadata.group_owner(group_id).1 {
        Some(Owner::Local(owner)) => shard
            .send(owner, move |owner| job(owner.groups.clone()))
            .await
            .map_err(|_| ErrorCode::CoordinatorNotAvailable),
        // Another broker coordinates it: the client looks it up again.
        Some(Owner::Remote { leader, .. }) if leader >= 0 => Err(ErrorCode::NotCoordinator),
        _ => Err(ErrorCode::CoordinatorNotAvailable),
    };
    async move {
        match reply {
            Ok(reply) => Ok(reply.await),
            Err(error) => Err(error),
        }
    }
}

fn find_coordinator(
    shard: &Shard,
    version: i16,
    r: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let keys = if version >= 4 {
        r.coordinator_keys
    } else {
        vec![r.key]
    };
    let mut coordinators: Vec<Coordinator> = keys
        .into_iter()
        .map(|key| {
            let located = if r.key_type == KEY_TYPE_GROUP {
                coordinator_of(shard, &key)
            } else {
                Err((
                    ErrorCode::CoordinatorNotAvailable,
                    "transactions are not supported",
                ))
            };
            match located {
                Ok((node_id, host, port)) => Coordinator {
                    key,
                    node_id,
                    host,
                    port,
                    ..Default::default()
                },
                Err((error, message)) => Coordinator {
                    key,
                    node_id: -1,
                    host: String::new(),
                    port: -1,
                    error_code: error.code(),
                    error_message: Some(message.to_string()),
                },
            }
        })
        .collect();
    if version >= 4 {
        return FindCoordinatorResponse {
            coordinators,
            ..Default::default()
        };
    }
    let one = coordinators.pop().expect("one key before v4");
    FindCoordinatorResponse {
        error_code: one.error_code,
        error_message: one.error_message,
        node_id: one.node_id,
        host: one.host,
        port: one.port,
        ..Default::default()
    }
}

/// The broker coordinating `group_id`: the leader of its
/// `__consumer_offsets` partition, with its client endpoint.
fn coordinator_of(
    shard: &Shard,
    group_id: &str,
) -> Result<(i32, String, i32), (ErrorCode, &'static str)> {
    let not_available = (
        ErrorCode::CoordinatorNotAvailable,
        "the group's coordinator has no leader yet",
    );
    let leader = match shard.metadata.group_owner(group_id).1 {
        Some(Owner::Local(_)) => shard.config.node_id,
        Some(Owner::Remote { leader, .. }) if leader >= 0 => leader,
        _ => return Err(not_available),
    };
    let image = shard.metadata.image();
    let broker = image.broker(leader).ok_or(not_available)?;
    let endpoint = broker.registration.endpoints.first().ok_or(not_available)?;
    Ok((leader, endpoint.host.clone(), i32::from(endpoint.port)))
}

async fn join_group(
    shard: &Rc<Shard>,
    peer: &Peer,
    header: &RequestHeader,
    r: JoinGroupRequest,
) -> impl Future<Output = JoinGroupResponse> + 'static {
    let version = header.api_version;
    let request = api::JoinRequest {
        group_id: r.group_id.clone(),
        session_timeout_ms: r.session_timeout_ms,
        rebalance_timeout_ms: r.rebalance_timeout_ms,
        member_id: r.member_id.clone(),
        group_instance_id: r.group_instance_id,
        protocol_type: r.protocol_type,
        protocols: r
            .protocols
            .into_iter()
            .map(|p| api::Protocol {
                name: p.name,
                metadata: p.metadata,
            })
            .collect(),
        client_id: header
            .client_id
            .clone()
            .or_else(|| peer.client_id.clone())
            .unwrap_or_default(),
        client_host: peer
            .addr
            .map(|a| format!("/{}", a.ip()))
            .unwrap_or_default(),
        require_known_member_id: version >= 4,
    };
    let answer = on_owner(shard, &r.group_id, move |groups| groups.join(request)).await;
    async move {
        let response = answer
            .await
            .unwrap_or_else(|error| api::JoinResponse::error(error, &r.member_id));
        // Before v7 the protocol name is not nullable.
        let protocol_name = match response.protocol_name {
            None if version < 7 => Some(String::new()),
            name => name,
        };
        JoinGroupResponse {
            error_code: response.error.code(),
            generation_id: response.generation_id,
            protocol_type: response.protocol_type,
            protocol_name,
            leader: response.leader,
            skip_assignment: response.skip_assignment,
            member_id: response.member_id,
            members: response
                .members
                .into_iter()
                .map(|m| JoinGroupResponseMember {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    metadata: m.metadata,
                })
                .collect(),
            ..Default::default()
        }
    }
}

async fn sync_group(
    shard: &Rc<Shard>,
    r: SyncGroupRequest,
) -> impl Future<Output = SyncGroupResponse> + 'static {
    let group_id = r.group_id.clone();
    let request = api::SyncRequest {
        group_id: r.group_id,
        generation_id: r.generation_id,
        member_id: r.member_id,
        group_instance_id: r.group_instance_id,
        protocol_type: r.protocol_type,
        protocol_name: r.protocol_name,
        assignments: r
            .assignments
            .into_iter()
            .map(|a| (a.member_id, a.assignment))
            .collect(),
    };
    let answer = on_owner(shard, &group_id, move |groups| groups.sync(request)).await;
    async move {
        let response = answer.await.unwrap_or_else(api::SyncResponse::error);
        SyncGroupResponse {
            error_code: response.error.code(),
            protocol_type: response.protocol_type,
            protocol_name: response.protocol_name,
            assignment: response.assignment,
            ..Default::default()
        }
    }
}

async fn heartbeat(
    shard: &Rc<Shard>,
    r: HeartbeatRequest,
) -> impl Future<Output = HeartbeatResponse> + 'static {
    let group_id = r.group_id.clone();
    let request = api::HeartbeatRequest {
        group_id: r.group_id,
        generation_id: r.generation_id,
        member_id: r.member_id,
        group_instance_id: r.group_instance_id,
    };
    let answer = on_owner(shard, &group_id, move |groups| groups.heartbeat(request)).await;
    async move {
        let error = answer.await.unwrap_or_else(|e| e);
        HeartbeatResponse {
            error_code: error.code(),
            ..Default::default()
        }
    }
}

async fn leave_group(
    shard: &Rc<Shard>,
    version: i16,
    r: LeaveGroupRequest,
) -> impl Future<Output = LeaveGroupResponse> + 'static {
    let group_id = r.group_id.clone();
    let members = if version < 3 {
        vec![api::LeavingMember {
            member_id: r.member_id,
            group_instance_id: None,
        }]
    } else {
        r.members
            .into_iter()
            .map(|m| api::LeavingMember {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
            })
            .collect()
    };
    let request = api::LeaveRequest {
        group_id: r.group_id,
        members,
    };
    let answer = on_owner(shard, &group_id, move |groups| groups.leave(request)).await;
    async move {
        let response = answer.await.unwrap_or_else(|error| api::LeaveResponse {
            error,
            members: Vec::new(),
        });
        if version < 3 {
            return LeaveGroupResponse {
                error_code: response.legacy_error().code(),
                ..Default::default()
            };
        }
        LeaveGroupResponse {
            error_code: response.error.code(),
            members: response
                .members
                .into_iter()
                .map(|m| MemberResponse {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    error_code: m.error.code(),
                })
                .collect(),
            ..Default::default()
        }
    }
}

async fn offset_commit(
    shard: &Rc<Shard>,
    r: OffsetCommitRequest,
) -> impl Future<Output = OffsetCommitResponse> + 'static {
    // Partitions of topics this broker does not have are refused here, as
    // Kafka does; the rest go to the coordinator.
    let known = |topic: &str, partition: i32| shard.metadata.has_partition(topic, partition);
    let mut results: HashMap<(String, i32), ErrorCode> = HashMap::new();
    let mut topics = Vec::with_capacity(r.topics.len());
    for topic in &r.topics {
        let mut partitions = Vec::new();
        for p in &topic.partitions {
            if known(&topic.name, p.partition_index) {
                partitions.push(api::CommitPartition {
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.committed_metadata.clone(),
                });
            } else {
                results.insert(
                    (topic.name.clone(), p.partition_index),
                    ErrorCode::UnknownTopicOrPartition,
                );
            }
        }
        if !partitions.is_empty() {
            topics.push(api::CommitTopic {
                name: topic.name.clone(),
                partitions,
            });
        }
    }
    let request = api::OffsetCommitRequest {
        group_id: r.group_id.clone(),
        generation_id: r.generation_id_or_member_epoch,
        member_id: r.member_id.clone(),
        group_instance_id: r.group_instance_id.clone(),
        retention_time_ms: r.retention_time_ms,
        topics,
    };
    let fallback = request.clone();
    let answer = on_owner(shard, &r.group_id, move |groups| {
        groups.offset_commit(request)
    })
    .await;
    async move {
        let response = answer
            .await
            .unwrap_or_else(|error| api::OffsetCommitResponse::all(&fallback, error));
        for topic in response.topics {
            for (partition, error) in topic.partitions {
                results.insert((topic.name.clone(), partition), error);
            }
        }
        OffsetCommitResponse {
            topics: r
                .topics
                .into_iter()
                .map(|t| OffsetCommitResponseTopic {
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| OffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: results
                                .get(&(t.name.clone(), p.partition_index))
                                .copied()
                                .unwrap_or(ErrorCode::UnknownServerError)
                                .code(),
                        })
                        .collect(),
                    name: t.name,
                })
                .collect(),
            ..Default::default()
        }
    }
}

async fn offset_fetch(
    shard: &Rc<Shard>,
    r: OffsetFetchRequest,
) -> impl Future<Output = OffsetFetchResponse> + 'static {
    let request = api::OffsetFetchRequest {
        group_id: r.group_id.clone(),
        topics: r.topics.map(|topics| {
            topics
                .into_iter()
                .map(|t| (t.name, t.partition_indexes))
                .collect()
        }),
    };
    let answer = on_owner(shard, &r.group_id, move |groups| {
        groups.offset_fetch(request)
    })
    .await;
    async move {
        let response = answer
            .await
            .unwrap_or_else(|error| api::OffsetFetchResponse {
                error,
                topics: Vec::new(),
            });
        OffsetFetchResponse {
            error_code: response.error.code(),
            topics: response
                .topics
                .into_iter()
                .map(|t| OffsetFetchResponseTopic {
                    name: t.name,
                    partitions: t
                        .partitions
                        .into_iter()
                        .map(|p| OffsetFetchResponsePartition {
                            partition_index: p.partition,
                            committed_offset: p.offset,
                            committed_leader_epoch: p.leader_epoch,
                            metadata: Some(p.metadata),
                            error_code: p.error.code(),
                        })
                        .collect(),
                })
                .collect(),
            ..Default::default()
        }
    }
}

async fn describe_groups(
    shard: &Rc<Shard>,
    r: DescribeGroupsRequest,
) -> impl Future<Output = DescribeGroupsResponse> + 'static {
    let mut answers = Vec::with_capacity(r.groups.len());
    for group_id in r.groups {
        let id = group_id.clone();
        let answer = on_owner(shard, &group_id, move |groups| {
            let described = groups.describe(id);
            async move { described }
        })
        .await;
        answers.push((group_id, answer));
    }
    async move {
        let mut groups = Vec::with_capacity(answers.len());
        for (group_id, answer) in answers {
            let described = answer.await.unwrap_or_else(|error| api::DescribedGroup {
                error,
                group_id: group_id.clone(),
                state: "Dead",
                protocol_type: String::new(),
                protocol_name: String::new(),
                members: Vec::new(),
            });
            groups.push(DescribedGroup {
                error_code: described.error.code(),
                group_id: described.group_id,
                group_state: described.state.to_string(),
                protocol_type: described.protocol_type,
                protocol_data: described.protocol_name,
                members: described
                    .members
                    .into_iter()
                    .map(|m| DescribedGroupMember {
                        member_id: m.member_id,
                        group_instance_id: m.group_instance_id,
                        client_id: m.client_id,
                        client_host: m.client_host,
                        member_metadata: m.metadata,
                        member_assignment: m.assignment,
                    })
                    .collect(),
                ..Default::default()
            });
        }
        DescribeGroupsResponse {
            groups,
            ..Default::default()
        }
    }
}

/// Not ordered: it only reads, from every shard.
async fn list_groups(shard: Rc<Shard>, r: ListGroupsRequest) -> ListGroupsResponse {
    let states = r.states_filter;
    let answers = shard
        .call_all(move |owner| {
            let states = states.clone();
            async move { owner.groups.list(&states, &[]) }
        })
        .await;
    let mut error = ErrorCode::None;
    let mut groups = Vec::new();
    for answer in answers {
        match answer {
            Ok((e, listed)) => {
                if !e.is_ok() {
                    error = e;
                }
                groups.extend(listed.into_iter().map(|g| ListedGroup {
                    group_id: g.group_id,
                    protocol_type: g.protocol_type,
                    group_state: g.state.to_string(),
                }));
            }
            Err(_) => error = ErrorCode::CoordinatorNotAvailable,
        }
    }
    groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    ListGroupsResponse {
        error_code: error.code(),
        groups,
        ..Default::default()
    }
}

async fn delete_groups(
    shard: &Rc<Shard>,
    r: DeleteGroupsRequest,
) -> impl Future<Output = DeleteGroupsResponse> + 'static {
    let mut answers = Vec::with_capacity(r.groups_names.len());
    for group_id in r.groups_names {
        let id = group_id.clone();
        let answer = on_owner(shard, &group_id, move |groups| groups.delete(id)).await;
        answers.push((group_id, answer));
    }
    async move {
        let mut results = Vec::with_capacity(answers.len());
        for (group_id, answer) in answers {
            let error = answer.await.unwrap_or_else(|e| e);
            results.push(DeletableGroupResult {
                group_id,
                error_code: error.code(),
            });
        }
        DeleteGroupsResponse {
            results,
            ..Default::default()
        }
    }
}
