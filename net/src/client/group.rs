//! Consumer-group membership (the classic protocol): FindCoordinator,
//! JoinGroup, the leader's range assignment, SyncGroup, Heartbeat and
//! LeaveGroup, plus OffsetCommit and OffsetFetch for members that keep
//! their position in the group (the fault checker); the load generator
//! commits nothing and decides itself where each partition starts.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use glommio::task::JoinHandle;

use super::cluster::Client;
use super::conn::Connection;
use super::error::{ClientError, ClientResult};
use crate::codec::{Decoder, Encoder, Layout};
use crate::error::ErrorCode;
use crate::msg::find_coordinator_request::FindCoordinatorRequest;
use crate::msg::join_group_request::JoinGroupRequestProtocol;
use crate::msg::leave_group_request::MemberIdentity;
use crate::msg::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use crate::msg::offset_fetch_request::OffsetFetchRequestTopic;
use crate::msg::sync_group_request::SyncGroupRequestAssignment;
use crate::msg::*;

/// The embedded consumer-protocol structures are always version 0 in the
/// classic (non-flexible) encoding.
const CLASSIC: Layout = Layout {
    version: 0,
    flexible: false,
};
const PROTOCOL_TYPE: &str = "consumer";
const ASSIGNOR: &str = "range";
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
const REBALANCE_TIMEOUT: Duration = Duration::from_secs(10);
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);
/// JoinGroup/SyncGroup rounds before giving up (each retriable error,
/// member-id handshake or concurrent rebalance costs one).
const JOIN_ROUNDS_MAX: u32 = 20;

/// Partitions assigned to this member, by topic.
pub type Assignment = BTreeMap<String, Vec<i32>>;

pub struct GroupMember {
    group: String,
    member_id: String,
    generation: i32,
    coordinator: Rc<Connection>,
    /// Set by the heartbeat task when the coordinator starts a rebalance.
    rebalance: Rc<Cell<bool>>,
    heartbeat: Option<JoinHandle<()>>,
}

fn code_error(context: &str, code: i16) -> ClientResult<()> {
    match ErrorCode::from(code) {
        ErrorCode::None => Ok(()),
        code => Err(ClientError::Broker {
            context: context.to_string(),
            code,
        }),
    }
}

/// ConsumerProtocolSubscription v0.
pub fn encode_subscription(topics: &[String]) -> Bytes {
    let mut e = Encoder::new();
    e.i16(0);
    e.array_len(CLASSIC, Some(topics.len()));
    for t in topics {
        e.nullable_string(CLASSIC, Some(t));
    }
    e.nullable_bytes(CLASSIC, None);
    Bytes::from(e.into_chunks().concat())
}

pub fn decode_subscription(b: Bytes) -> Result<Vec<String>, crate::DecodeError> {
    let mut d = Decoder::new(b);
    d.i16()?;
    let n = d.array_len(CLASSIC)?.unwrap_or(0);
    let mut topics = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        topics.push(d.nullable_string(CLASSIC)?.unwrap_or_default());
    }
    Ok(topics)
}

/// ConsumerProtocolAssignment v0.
pub fn encode_assignment(a: &Assignment) -> Bytes {
    let mut e = Encoder::new();
    e.i16(0);
    e.array_len(CLASSIC, Some(a.len()));
    for (topic, parts) in a {
        e.nullable_string(CLASSIC, Some(topic));
        e.array_len(CLASSIC, Some(parts.len()));
        for p in parts {
            e.i32(*p);
        }
    }
    e.nullable_bytes(CLASSIC, None);
    Bytes::from(e.into_chunks().concat())
}

pub fn decode_assignment(b: Bytes) -> Result<Assignment, crate::DecodeError> {
    let mut out = Assignment::new();
    if b.is_empty() {
        return Ok(out); // a member with nothing assigned
    }
    let mut d = Decoder::new(b);
    d.i16()?;
    for _ in 0..d.array_len(CLASSIC)?.unwrap_or(0) {
        let topic = d.nullable_string(CLASSIC)?.unwrap_or_default();
        let n = d.array_len(CLASSIC)?.unwrap_or(0);
        let mut parts = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            parts.push(d.i32()?);
        }
        out.entry(topic).or_default().extend(parts);
    }
    Ok(out)
}

/// Kafka's range assignor: per topic, members (sorted by id) get
/// consecutive ranges, the first `partitions % members` one extra.
pub fn range_assign(
    members: &[(String, Vec<String>)],
    partitions: &BTreeMap<String, usize>,
) -> BTreeMap<String, Assignment> {
    let mut out: BTreeMap<String, Assignment> = members
        .iter()
        .map(|(m, _)| (m.clone(), Assignment::new()))
        .collect();
    for (topic, &count) in partitions {
        let mut subscribed: Vec<&String> = members
            .iter()
            .filter(|(_, t)| t.contains(topic))
            .map(|(m, _)| m)
            .collect();
        subscribed.sort();
        if subscribed.is_empty() {
            continue;
        }
        let (per, extra) = (count / subscribed.len(), count % subscribed.len());
        let mut next = 0usize;
        for (i, m) in subscribed.iter().enumerate() {
            let n = per + usize::from(i < extra);
            let parts: Vec<i32> = (next..next + n).map(|p| p as i32).collect();
            next += n;
            if !parts.is_empty() {
                out.get_mut(*m)
                    .expect("member listed")
                    .insert(topic.clone(), parts);
            }
        }
    }
    out
}

/// The connection to `group`'s coordinator (FindCoordinator).
async fn find_coordinator(client: &Rc<Client>, group: &str) -> ClientResult<Rc<Connection>> {
    let find = FindCoordinatorRequest {
        key: group.to_string(),
        key_type: 0,
        coordinator_keys: vec![group.to_string()],
    };
    let any = client.any_connection().await?;
    let (reply, _) = any.request(&find, Duration::ZERO).await?;
    let node = match reply.coordinators.first() {
        Some(c) => {
            code_error("FindCoordinator", c.error_code)?;
            c.node_id
        }
        None => {
            code_error("FindCoordinator", reply.error_code)?;
            reply.node_id
        }
    };
    client.node(node).await
}

impl GroupMember {
    /// Joins `group` subscribed to `topics` and returns this member's
    /// assignment once the group is stable.
    pub async fn join(
        client: &Rc<Client>,
        group: &str,
        topics: &[String],
    ) -> ClientResult<(GroupMember, Assignment)> {
        let coordinator = find_coordinator(client, group).await?;
        let mut member = GroupMember {
            group: group.to_string(),
            member_id: String::new(),
            generation: -1,
            coordinator,
            rebalance: Rc::new(Cell::new(false)),
            heartbeat: None,
        };
        let assignment = member.rejoin(client, topics).await?;
        Ok((member, assignment))
    }

    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The generation of the last completed join (-1 before the first).
    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// Whether the coordinator asked for a rebalance (call [`Self::rejoin`]).
    pub fn needs_rejoin(&self) -> bool {
        self.rebalance.get()
    }

    /// One full JoinGroup + SyncGroup round (repeated while the group is
    /// still rebalancing); restarts the heartbeat.
    pub async fn rejoin(
        &mut self,
        client: &Rc<Client>,
        topics: &[String],
    ) -> ClientResult<Assignment> {
        if let Some(h) = self.heartbeat.take() {
            h.cancel();
        }
        self.rebalance.set(false);
        client.refresh_metadata(topics).await?;
        if self.coordinator.is_broken() {
            // The coordinator restarted or moved: ask again where it is.
            self.coordinator = find_coordinator(client, &self.group).await?;
        }
        for _ in 0..JOIN_ROUNDS_MAX {
            let join = JoinGroupRequest {
                group_id: self.group.clone(),
                session_timeout_ms: SESSION_TIMEOUT.as_millis() as i32,
                rebalance_timeout_ms: REBALANCE_TIMEOUT.as_millis() as i32,
                member_id: self.member_id.clone(),
                protocol_type: PROTOCOL_TYPE.into(),
                protocols: vec![JoinGroupRequestProtocol {
                    name: ASSIGNOR.into(),
                    metadata: encode_subscription(topics),
                }],
                ..Default::default()
            };
            let (reply, _) = self.coordinator.request(&join, REBALANCE_TIMEOUT).await?;
            match ErrorCode::from(reply.error_code) {
                ErrorCode::None => {}
                ErrorCode::MemberIdRequired => {
                    self.member_id = reply.member_id;
                    continue;
                }
                ErrorCode::UnknownMemberId => {
                    self.member_id.clear();
                    continue;
                }
                code if code.is_retriable() || code == ErrorCode::RebalanceInProgress => {
                    glommio::timer::sleep(super::limits::RETRY_BACKOFF).await;
                    continue;
                }
                code => {
                    return Err(ClientError::Broker {
                        context: format!("joining group {}", self.group),
                        code,
                    })
                }
            }
            self.member_id = reply.member_id.clone();
            self.generation = reply.generation_id;
            let assignments = if reply.leader == reply.member_id {
                let mut members = Vec::new();
                for m in &reply.members {
                    let subscribed = decode_subscription(m.metadata.clone()).map_err(|e| {
                        ClientError::Decode {
                            addr: self.coordinator.addr(),
                            api: crate::api::ApiKey::JoinGroup,
                            reason: format!("subscription of {}: {e}", m.member_id),
                        }
                    })?;
                    members.push((m.member_id.clone(), subscribed));
                }
                let mut all_topics: Vec<String> = members
                    .iter()
                    .flat_map(|(_, t)| t.iter().cloned())
                    .collect();
                all_topics.sort();
                all_topics.dedup();
                client.refresh_metadata(&all_topics).await?;
                let partitions = all_topics
                    .iter()
                    .filter_map(|t| client.partition_count(t).map(|n| (t.clone(), n)))
                    .collect();
                range_assign(&members, &partitions)
                    .into_iter()
                    .map(|(member_id, a)| SyncGroupRequestAssignment {
                        member_id,
                        assignment: encode_assignment(&a),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let sync = SyncGroupRequest {
                group_id: self.group.clone(),
                generation_id: self.generation,
                member_id: self.member_id.clone(),
                protocol_type: Some(PROTOCOL_TYPE.into()),
                protocol_name: reply.protocol_name.clone(),
                assignments,
                ..Default::default()
            };
            let (synced, _) = self.coordinator.request(&sync, REBALANCE_TIMEOUT).await?;
            match ErrorCode::from(synced.error_code) {
                ErrorCode::None => {}
                ErrorCode::RebalanceInProgress | ErrorCode::IllegalGeneration => continue,
                ErrorCode::UnknownMemberId => {
                    self.member_id.clear();
                    continue;
                }
                code => {
                    return Err(ClientError::Broker {
                        context: format!("syncing group {}", self.group),
                        code,
                    })
                }
            }
            let assignment =
                decode_assignment(synced.assignment).map_err(|e| ClientError::Decode {
                    addr: self.coordinator.addr(),
                    api: crate::api::ApiKey::SyncGroup,
                    reason: e.to_string(),
                })?;
            self.start_heartbeat();
            return Ok(assignment);
        }
        Err(ClientError::Broker {
            context: format!("group {} did not stabilise", self.group),
            code: ErrorCode::RebalanceInProgress,
        })
    }

    fn start_heartbeat(&mut self) {
        let (conn, flag) = (self.coordinator.clone(), self.rebalance.clone());
        let request = HeartbeatRequest {
            group_id: self.group.clone(),
            generation_id: self.generation,
            member_id: self.member_id.clone(),
            group_instance_id: None,
        };
        self.heartbeat = Some(
            glommio::spawn_local(async move {
                loop {
                    glommio::timer::sleep(HEARTBEAT_INTERVAL).await;
                    match conn.request(&request, Duration::ZERO).await {
                        Ok((r, _)) if ErrorCode::from(r.error_code) == ErrorCode::None => {}
                        // Rebalance, fenced generation, lost connection: the
                        // owner rejoins.
                        _ => {
                            flag.set(true);
                            return;
                        }
                    }
                }
            })
            .detach(),
        );
    }

    /// Commits, for this member's generation, the next offset to read of
    /// each (partition, offset) of `topic`; returns each partition's answer
    /// (`ErrorCode::None` when committed).
    pub async fn commit(
        &self,
        topic: &str,
        offsets: &[(i32, i64)],
    ) -> ClientResult<Vec<(i32, ErrorCode)>> {
        let request = OffsetCommitRequest {
            group_id: self.group.clone(),
            generation_id_or_member_epoch: self.generation,
            member_id: self.member_id.clone(),
            topics: vec![OffsetCommitRequestTopic {
                name: topic.to_string(),
                partitions: offsets
                    .iter()
                    .map(
                        |&(partition_index, committed_offset)| OffsetCommitRequestPartition {
                            partition_index,
                            committed_offset,
                            ..Default::default()
                        },
                    )
                    .collect(),
            }],
            ..Default::default()
        };
        let (reply, _) = self.coordinator.request(&request, Duration::ZERO).await?;
        let answers: BTreeMap<i32, i16> = reply
            .topics
            .iter()
            .filter(|t| t.name == topic)
            .flat_map(|t| t.partitions.iter())
            .map(|p| (p.partition_index, p.error_code))
            .collect();
        offsets
            .iter()
            .map(|&(partition, _)| {
                let code = answers.get(&partition).ok_or_else(|| {
                    self.no_answer(crate::api::ApiKey::OffsetCommit, topic, partition)
                })?;
                Ok((partition, ErrorCode::from(*code)))
            })
            .collect()
    }

    /// The group's committed offsets of `partitions` of `topic`: the next
    /// offset to read, or -1 where nothing is committed.
    pub async fn committed(
        &self,
        topic: &str,
        partitions: &[i32],
    ) -> ClientResult<Vec<(i32, i64)>> {
        let request = OffsetFetchRequest {
            group_id: self.group.clone(),
            topics: Some(vec![OffsetFetchRequestTopic {
                name: topic.to_string(),
                partition_indexes: partitions.to_vec(),
            }]),
            require_stable: true,
        };
        let (reply, _) = self.coordinator.request(&request, Duration::ZERO).await?;
        code_error(
            &format!("fetching offsets of group {}", self.group),
            reply.error_code,
        )?;
        let answers: BTreeMap<i32, (i16, i64)> = reply
            .topics
            .iter()
            .filter(|t| t.name == topic)
            .flat_map(|t| t.partitions.iter())
            .map(|p| (p.partition_index, (p.error_code, p.committed_offset)))
            .collect();
        partitions
            .iter()
            .map(|&partition| {
                let (code, offset) = answers.get(&partition).ok_or_else(|| {
                    self.no_answer(crate::api::ApiKey::OffsetFetch, topic, partition)
                })?;
                code_error(
                    &format!("fetching the offset of {topic}-{partition}"),
                    *code,
                )?;
                Ok((partition, *offset))
            })
            .collect()
    }

    fn no_answer(&self, api: crate::api::ApiKey, topic: &str, partition: i32) -> ClientError {
        ClientError::Decode {
            addr: self.coordinator.addr(),
            api,
            reason: format!("no answer for {topic}-{partition}"),
        }
    }

    /// Leaves the group so the others rebalance at once instead of waiting
    /// for this member's session to time out.
    pub async fn leave(mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.cancel();
        }
        let request = LeaveGroupRequest {
            group_id: self.group.clone(),
            member_id: self.member_id.clone(),
            members: vec![MemberIdentity {
                member_id: self.member_id.clone(),
                ..Default::default()
            }],
        };
        let _ = self.coordinator.request(&request, Duration::ZERO).await;
    }
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_structures_round_trip() {
        let topics = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            decode_subscription(encode_subscription(&topics)).unwrap(),
            topics
        );
        let mut a = Assignment::new();
        a.insert("a".into(), vec![0, 2]);
        a.insert("b".into(), vec![1]);
        assert_eq!(decode_assignment(encode_assignment(&a)).unwrap(), a);
        assert!(decode_assignment(Bytes::new()).unwrap().is_empty());
        assert!(decode_subscription(Bytes::from_static(&[0, 0, 0, 0, 0, 9])).is_err());
    }

    #[test]
    fn range_assignment_matches_kafka() {
        let members = vec![
            ("m2".to_string(), vec!["t".to_string()]),
            ("m1".to_string(), vec!["t".to_string(), "u".to_string()]),
            ("m3".to_string(), vec!["t".to_string()]),
        ];
        let partitions: BTreeMap<String, usize> =
            [("t".to_string(), 7), ("u".to_string(), 2)].into();
        let a = range_assign(&members, &partitions);
        assert_eq!(a["m1"]["t"], [0, 1, 2]);
        assert_eq!(a["m2"]["t"], [3, 4]);
        assert_eq!(a["m3"]["t"], [5, 6]);
        assert_eq!(a["m1"]["u"], [0, 1]);
        assert!(!a["m2"].contains_key("u"));
    }
}
