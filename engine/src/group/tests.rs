//! Rebalance scenarios driven through the coordinator with a fake clock.

use std::collections::HashMap;

use bytes::Bytes;

use super::api::*;
use super::record::GroupRecord;
use super::*;

const SESSION_MS: i32 = 1_000;
const REBALANCE_MS: i32 = 5_000;

/// The coordinator plus a clock and a mailbox of deferred replies.
struct Harness {
    coordinator: Coordinator,
    now_ms: u64,
    next_request: RequestId,
    replies: HashMap<RequestId, ReplyBody>,
    records: Vec<GroupRecord>,
}

fn config() -> GroupConfig {
    GroupConfig {
        session_timeout_min_ms: 100,
        initial_rebalance_delay_ms: 0,
        offsets_retention_ms: 60_000,
        offsets_retention_check_interval_ms: 1_000,
        ..GroupConfig::default()
    }
}

fn protocols(names: &[&str]) -> Vec<Protocol> {
    names
        .iter()
        .map(|n| Protocol {
            name: n.to_string(),
            metadata: Bytes::from(format!("meta-{n}")),
        })
        .collect()
}

impl Harness {
    fn new() -> Self {
        Self::with_config(config())
    }

    fn with_config(config: GroupConfig) -> Self {
        let mut coordinator = Coordinator::new(config, 7);
        coordinator.finish_loading(1_000_000);
        Self {
            coordinator,
            now_ms: 1_000_000,
            next_request: 0,
            replies: HashMap::new(),
            records: Vec::new(),
        }
    }

    fn drain(&mut self) {
        let ready = self.coordinator.take_ready();
        self.records.extend(ready.records);
        for reply in ready.replies {
            let previous = self.replies.insert(reply.request, reply.body);
            assert!(
                previous.is_none(),
                "request {} answered twice",
                reply.request
            );
        }
    }

    fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
        while let Some(deadline) = self.coordinator.next_deadline_ms() {
            if deadline > self.now_ms {
                break;
            }
            self.coordinator.on_tick(self.now_ms);
            self.drain();
        }
    }

    fn join_request(&self, member_id: &str, names: &[&str]) -> JoinRequest {
        JoinRequest {
            group_id: "g".into(),
            session_timeout_ms: SESSION_MS,
            rebalance_timeout_ms: REBALANCE_MS,
            member_id: member_id.into(),
            group_instance_id: None,
            protocol_type: "consumer".into(),
            protocols: protocols(names),
            client_id: "client".into(),
            client_host: "/127.0.0.1".into(),
            require_known_member_id: true,
        }
    }

    fn send_join(&mut self, join: JoinRequest) -> RequestId {
        self.next_request += 1;
        let request = self.next_request;
        self.coordinator.join_group(request, join, self.now_ms);
        self.drain();
        request
    }

    fn join(&mut self, member_id: &str) -> RequestId {
        let join = self.join_request(member_id, &["range"]);
        self.send_join(join)
    }

    /// A new dynamic member: MEMBER_ID_REQUIRED, then the real join, whose
    /// request id is returned with the member id.
    fn new_member(&mut self, names: &[&str]) -> (String, RequestId) {
        let first = self.send_join(self.join_request("", names));
        let response = self.join_response(first).expect("answered at once");
        assert_eq!(response.error, ErrorCode::MemberIdRequired);
        assert!(!response.member_id.is_empty());
        let second = self.send_join(self.join_request(&response.member_id, names));
        (response.member_id, second)
    }

    fn join_response(&mut self, request: RequestId) -> Option<JoinResponse> {
        match self.replies.remove(&request)? {
            ReplyBody::Join(j) => Some(j),
            other => panic!("expected a join reply, got {other:?}"),
        }
    }

    fn sync_response(&mut self, request: RequestId) -> Option<SyncResponse> {
        match self.replies.remove(&request)? {
            ReplyBody::Sync(s) => Some(s),
            other => panic!("expected a sync reply, got {other:?}"),
        }
    }

    fn sync(
        &mut self,
        member_id: &str,
        generation_id: i32,
        assignments: &[(&str, &str)],
    ) -> RequestId {
        self.next_request += 1;
        let request = self.next_request;
        let sync = SyncRequest {
            group_id: "g".into(),
            generation_id,
            member_id: member_id.into(),
            group_instance_id: None,
            protocol_type: Some("consumer".into()),
            protocol_name: None,
            assignments: assignments
                .iter()
                .map(|(m, a)| (m.to_string(), Bytes::from(a.to_string())))
                .collect(),
        };
        self.coordinator.sync_group(request, sync, self.now_ms);
        self.drain();
        request
    }

    fn heartbeat(&mut self, member_id: &str, generation_id: i32) -> ErrorCode {
        let error = self.coordinator.heartbeat(
            &HeartbeatRequest {
                group_id: "g".into(),
                generation_id,
                member_id: member_id.into(),
                group_instance_id: None,
            },
            self.now_ms,
        );
        self.drain();
        error
    }

    fn leave(&mut self, members: &[(&str, Option<&str>)]) -> LeaveResponse {
        let response = self.coordinator.leave_group(
            LeaveRequest {
                group_id: "g".into(),
                members: members
                    .iter()
                    .map(|(m, i)| LeavingMember {
                        member_id: m.to_string(),
                        group_instance_id: i.map(str::to_string),
                    })
                    .collect(),
            },
            self.now_ms,
        );
        self.drain();
        response
    }

    fn commit(
        &mut self,
        member_id: &str,
        generation_id: i32,
        partition: i32,
        offset: i64,
    ) -> ErrorCode {
        let response = self.coordinator.offset_commit(
            &OffsetCommitRequest {
                group_id: "g".into(),
                generation_id,
                member_id: member_id.into(),
                group_instance_id: None,
                retention_time_ms: -1,
                topics: vec![CommitTopic {
                    name: "t".into(),
                    partitions: vec![CommitPartition {
                        partition,
                        offset,
                        leader_epoch: 3,
                        metadata: Some("m".into()),
                    }],
                }],
            },
            self.now_ms,
        );
        self.drain();
        response.topics[0].partitions[0].1
    }

    fn fetch(&self, partition: i32) -> i64 {
        let response = self.coordinator.offset_fetch(&OffsetFetchRequest {
            group_id: "g".into(),
            topics: Some(vec![("t".into(), vec![partition])]),
        });
        assert_eq!(response.error, ErrorCode::None);
        response.topics[0].partitions[0].offset
    }

    fn state(&self) -> Option<GroupState> {
        self.coordinator.group_state("g")
    }

    /// One member, joined and synced: returns its id and the generation.
    fn stable_single(&mut self) -> (String, i32) {
        let (a, join) = self.new_member(&["range"]);
        let response = self
            .join_response(join)
            .expect("a lone member completes the join");
        let sync = self.sync(&a, response.generation_id, &[(&a, "A")]);
        assert_eq!(
            self.sync_response(sync).unwrap().assignment,
            Bytes::from("A")
        );
        (a, response.generation_id)
    }

    /// Two members, stable, A the leader.
    fn stable_pair(&mut self) -> (String, String, i32) {
        let (a, generation) = self.stable_single();
        let (b, join_b) = self.new_member(&["range"]);
        assert!(
            self.join_response(join_b).is_none(),
            "B waits for A to rejoin"
        );
        assert_eq!(
            self.heartbeat(&a, generation),
            ErrorCode::RebalanceInProgress
        );
        let join_a = self.join(&a);
        let ra = self.join_response(join_a).unwrap();
        let rb = self.join_response(join_b).unwrap();
        assert_eq!(ra.generation_id, generation + 1);
        let sync_b = self.sync(&b, rb.generation_id, &[]);
        let sync_a = self.sync(&a, ra.generation_id, &[(&a, "A"), (&b, "B")]);
        assert_eq!(
            self.sync_response(sync_a).unwrap().assignment,
            Bytes::from("A")
        );
        assert_eq!(
            self.sync_response(sync_b).unwrap().assignment,
            Bytes::from("B")
        );
        (a, b, ra.generation_id)
    }
}

#[test]
fn a_new_member_is_told_its_id_then_leads_a_group_of_one() {
    let mut h = Harness::new();
    let (a, join) = h.new_member(&["range"]);
    let response = h.join_response(join).unwrap();
    assert_eq!(response.error, ErrorCode::None);
    assert_eq!(response.generation_id, 1);
    assert_eq!(response.leader, a);
    assert_eq!(response.member_id, a);
    assert_eq!(response.protocol_name.as_deref(), Some("range"));
    assert_eq!(response.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(response.members.len(), 1);
    assert_eq!(response.members[0].metadata, Bytes::from("meta-range"));
    assert_eq!(h.state(), Some(GroupState::CompletingRebalance));
    let sync = h.sync(&a, 1, &[(&a, "assignment-a")]);
    let synced = h.sync_response(sync).unwrap();
    assert_eq!(synced.error, ErrorCode::None);
    assert_eq!(synced.assignment, Bytes::from("assignment-a"));
    assert_eq!(synced.protocol_name.as_deref(), Some("range"));
    assert_eq!(h.state(), Some(GroupState::Stable));
    assert_eq!(h.heartbeat(&a, 1), ErrorCode::None);
    let snapshot = h.records.iter().find_map(|r| match r {
        GroupRecord::Group { value: Some(s), .. } => Some(s.clone()),
        _ => None,
    });
    let snapshot = snapshot.expect("the settled group is persisted");
    assert_eq!(snapshot.generation, 1);
    assert_eq!(snapshot.members[0].assignment, Bytes::from("assignment-a"));
}

#[test]
fn old_clients_get_a_member_id_without_the_extra_round() {
    let mut h = Harness::new();
    let mut join = h.join_request("", &["range"]);
    join.require_known_member_id = false;
    let request = h.send_join(join);
    let response = h.join_response(request).unwrap();
    assert_eq!(response.error, ErrorCode::None);
    assert!(!response.member_id.is_empty());
    assert_eq!(response.leader, response.member_id);
}

#[test]
fn a_second_member_makes_the_group_rebalance_and_the_leader_assigns() {
    let mut h = Harness::new();
    let (a, b, generation) = h.stable_pair();
    assert_eq!(generation, 2);
    assert_eq!(h.state(), Some(GroupState::Stable));
    assert_eq!(h.heartbeat(&a, 2), ErrorCode::None);
    assert_eq!(h.heartbeat(&b, 2), ErrorCode::None);
    assert_eq!(h.heartbeat(&b, 1), ErrorCode::IllegalGeneration);
}

#[test]
fn only_the_leader_sees_members_and_metadata_is_carried_untouched() {
    let mut h = Harness::new();
    let (a, _) = h.stable_single();
    let mut join_b = h.join_request("", &["range"]);
    join_b.require_known_member_id = false;
    join_b.protocols[0].metadata = Bytes::from_static(&[0, 1, 2, 255, 254]);
    let jb = h.send_join(join_b);
    let ja = h.join(&a);
    let ra = h.join_response(ja).unwrap();
    let rb = h.join_response(jb).unwrap();
    assert_eq!(ra.leader, a);
    assert_eq!(rb.leader, a);
    assert!(rb.members.is_empty());
    assert_eq!(ra.members.len(), 2);
    let b_meta = ra
        .members
        .iter()
        .find(|m| m.member_id == rb.member_id)
        .unwrap();
    assert_eq!(b_meta.metadata, Bytes::from_static(&[0, 1, 2, 255, 254]));
}

#[test]
fn the_protocol_is_one_every_member_supports_preferred_by_most() {
    let mut h = Harness::new();
    let mut first = h.join_request("", &["range", "roundrobin"]);
    first.require_known_member_id = false;
    let j1 = h.send_join(first);
    let a = h.join_response(j1).unwrap().member_id;
    let mut second = h.join_request("", &["roundrobin", "range"]);
    second.require_known_member_id = false;
    let j2 = h.send_join(second);
    let mut third = h.join_request("", &["roundrobin", "cooperative-sticky", "range"]);
    third.require_known_member_id = false;
    let j3 = h.send_join(third);
    let mut rejoin = h.join_request(&a, &["range", "roundrobin"]);
    rejoin.require_known_member_id = false;
    let ja = h.send_join(rejoin);
    for request in [ja, j2, j3] {
        let response = h.join_response(request).unwrap();
        assert_eq!(response.protocol_name.as_deref(), Some("roundrobin"));
    }
    // A member that shares no protocol with the group is refused.
    let mut stranger = h.join_request("", &["sticky-only"]);
    stranger.require_known_member_id = false;
    let js = h.send_join(stranger);
    assert_eq!(
        h.join_response(js).unwrap().error,
        ErrorCode::InconsistentGroupProtocol
    );
    // So is one of another protocol type.
    let mut other_type = h.join_request("", &["range"]);
    other_type.protocol_type = "connect".into();
    let jt = h.send_join(other_type);
    assert_eq!(
        h.join_response(jt).unwrap().error,
        ErrorCode::InconsistentGroupProtocol
    );
}

#[test]
fn a_member_that_stops_heartbeating_is_removed_after_its_session() {
    let mut h = Harness::new();
    let (a, b, generation) = h.stable_pair();
    h.advance(SESSION_MS as u64 / 2);
    assert_eq!(h.heartbeat(&a, generation), ErrorCode::None);
    assert_eq!(h.state(), Some(GroupState::Stable));
    h.advance(SESSION_MS as u64 / 2 + 1);
    // B never heartbeated: it is gone and the group rebalances.
    assert_eq!(h.state(), Some(GroupState::PreparingRebalance));
    assert_eq!(h.heartbeat(&b, generation), ErrorCode::UnknownMemberId);
    assert_eq!(h.heartbeat(&a, generation), ErrorCode::RebalanceInProgress);
    let ja = h.join(&a);
    let ra = h.join_response(ja).unwrap();
    assert_eq!(ra.generation_id, generation + 1);
    assert_eq!(ra.members.len(), 1);
}

#[test]
fn members_that_do_not_rejoin_are_dropped_at_the_rebalance_timeout() {
    let mut h = Harness::new();
    let (a, b, generation) = h.stable_pair();
    let (c, jc) = h.new_member(&["range"]);
    let ja = h.join(&a);
    // B keeps heartbeating but never rejoins.
    let mut waited = 0;
    while waited < REBALANCE_MS as u64 {
        assert!(h.join_response(ja).is_none());
        assert_eq!(h.heartbeat(&b, generation), ErrorCode::RebalanceInProgress);
        assert_eq!(h.heartbeat(&a, generation), ErrorCode::RebalanceInProgress);
        h.advance(250);
        waited += 250;
    }
    let ra = h
        .join_response(ja)
        .expect("the round completed at the timeout");
    let rc = h.join_response(jc).unwrap();
    assert_eq!(ra.generation_id, generation + 1);
    let mut ids: Vec<String> = ra.members.iter().map(|m| m.member_id.clone()).collect();
    ids.sort();
    let mut expected = vec![a.clone(), c.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(rc.generation_id, generation + 1);
    assert_eq!(h.heartbeat(&b, generation + 1), ErrorCode::UnknownMemberId);
}

#[test]
fn a_leader_that_never_syncs_is_dropped_and_followers_rebalance() {
    let mut h = Harness::new();
    let (a, b, generation) = h.stable_pair();
    let ja = h.join(&a); // the leader asks for a rebalance
    let jb = h.join(&b);
    let generation = generation + 1;
    assert_eq!(h.join_response(ja).unwrap().generation_id, generation);
    assert_eq!(h.join_response(jb).unwrap().generation_id, generation);
    let sb = h.sync(&b, generation, &[]);
    // The leader heartbeats but never sends its SyncGroup.
    let mut waited = 0;
    while waited < REBALANCE_MS as u64 {
        assert!(h.sync_response(sb).is_none());
        h.heartbeat(&a, generation);
        h.heartbeat(&b, generation);
        h.advance(250);
        waited += 250;
    }
    assert_eq!(
        h.sync_response(sb).unwrap().error,
        ErrorCode::RebalanceInProgress
    );
    assert_eq!(h.heartbeat(&a, generation), ErrorCode::UnknownMemberId);
    let jb = h.join(&b);
    let rb = h.join_response(jb).unwrap();
    assert_eq!(rb.leader, b, "the follower took over");
}

#[test]
fn leave_group_rebalances_the_rest_and_unknown_members_are_refused() {
    let mut h = Harness::new();
    let (a, b, generation) = h.stable_pair();
    let left = h.leave(&[(&b, None)]);
    assert_eq!(left.legacy_error(), ErrorCode::None);
    assert_eq!(h.state(), Some(GroupState::PreparingRebalance));
    let ja = h.join(&a);
    assert_eq!(h.join_response(ja).unwrap().generation_id, generation + 1);
    let again = h.leave(&[(&b, None)]);
    assert_eq!(again.legacy_error(), ErrorCode::UnknownMemberId);
    let sa = h.sync(&a, generation + 1, &[]);
    h.sync_response(sa).unwrap();
    // The last member leaving empties the group and bumps the generation.
    h.leave(&[(&a, None)]);
    assert_eq!(h.state(), Some(GroupState::Empty));
    let last = h.records.last().unwrap();
    assert!(
        matches!(last, GroupRecord::Group { value: Some(s), .. } if s.members.is_empty() && s.generation == generation + 2)
    );
}

fn static_join(h: &Harness, member_id: &str, instance: &str) -> JoinRequest {
    let mut join = h.join_request(member_id, &["range"]);
    join.group_instance_id = Some(instance.into());
    join
}

#[test]
fn a_restarted_static_member_keeps_its_assignment_without_a_rebalance() {
    let mut h = Harness::new();
    let j1 = h.send_join(static_join(&h, "", "i-1"));
    let r1 = h
        .join_response(j1)
        .expect("static members skip MEMBER_ID_REQUIRED");
    let a = r1.member_id.clone();
    let j2 = h.send_join(static_join(&h, "", "i-2"));
    assert!(h.join_response(j2).is_none());
    let j1 = h.send_join(static_join(&h, &a, "i-1"));
    let r1 = h.join_response(j1).unwrap();
    let r2 = h.join_response(j2).unwrap();
    let b = r2.member_id.clone();
    let generation = r1.generation_id;
    let s2 = h.sync(&b, generation, &[]);
    let s1 = h.sync(&a, generation, &[(&a, "p0,p1"), (&b, "p2,p3")]);
    h.sync_response(s1).unwrap();
    assert_eq!(
        h.sync_response(s2).unwrap().assignment,
        Bytes::from("p2,p3")
    );

    // i-2 restarts: it comes back with no member id.
    let again = h.send_join(static_join(&h, "", "i-2"));
    let response = h
        .join_response(again)
        .expect("answered without a rebalance");
    assert_eq!(response.error, ErrorCode::None);
    assert_eq!(response.generation_id, generation);
    assert_ne!(response.member_id, b);
    assert!(response.members.is_empty());
    assert!(!response.skip_assignment);
    assert_eq!(h.state(), Some(GroupState::Stable));
    let new_b = response.member_id;
    let sync = h.sync(&new_b, generation, &[]);
    assert_eq!(
        h.sync_response(sync).unwrap().assignment,
        Bytes::from("p2,p3")
    );
    // The leader never noticed.
    assert_eq!(h.heartbeat(&a, generation), ErrorCode::None);
    // The old incarnation is fenced.
    let fenced = h.coordinator.heartbeat(
        &HeartbeatRequest {
            group_id: "g".into(),
            generation_id: generation,
            member_id: b.clone(),
            group_instance_id: Some("i-2".into()),
        },
        h.now_ms,
    );
    assert_eq!(fenced, ErrorCode::FencedInstanceId);
    let stale = h.send_join(static_join(&h, &b, "i-2"));
    assert_eq!(
        h.join_response(stale).unwrap().error,
        ErrorCode::FencedInstanceId
    );
    // The new member id is durable.
    let snapshot = h.records.iter().rev().find_map(|r| match r {
        GroupRecord::Group { value: Some(s), .. } => Some(s.clone()),
        _ => None,
    });
    assert!(snapshot
        .unwrap()
        .members
        .iter()
        .any(|m| m.member_id == new_b));

    // A restarted static leader gets the members but must not reassign.
    let leader_again = h.send_join(static_join(&h, "", "i-1"));
    let response = h.join_response(leader_again).unwrap();
    assert_eq!(response.generation_id, generation);
    assert!(response.skip_assignment);
    assert_eq!(response.leader, response.member_id);
    assert_eq!(response.members.len(), 2);
    assert_eq!(h.state(), Some(GroupState::Stable));
}

#[test]
fn static_members_can_leave_by_instance_id_in_a_batch() {
    let mut h = Harness::new();
    let j1 = h.send_join(static_join(&h, "", "i-1"));
    let a = h.join_response(j1).unwrap().member_id;
    let j2 = h.send_join(static_join(&h, "", "i-2"));
    let j1 = h.send_join(static_join(&h, &a, "i-1"));
    let generation = h.join_response(j1).unwrap().generation_id;
    let b = h.join_response(j2).unwrap().member_id;
    let s = h.sync(&a, generation, &[]);
    h.sync_response(s).unwrap();
    let left = h.leave(&[
        ("", Some("i-1")),
        ("wrong-id", Some("i-2")),
        ("", Some("i-9")),
    ]);
    let errors: Vec<ErrorCode> = left.members.iter().map(|m| m.error).collect();
    assert_eq!(
        errors,
        vec![
            ErrorCode::None,
            ErrorCode::FencedInstanceId,
            ErrorCode::UnknownMemberId
        ]
    );
    let left = h.leave(&[(&b, Some("i-2"))]);
    assert_eq!(left.members[0].error, ErrorCode::None);
    assert_eq!(h.state(), Some(GroupState::Empty));
}

#[test]
fn a_pending_member_that_never_returns_does_not_block_the_rebalance_forever() {
    let mut h = Harness::new();
    let (a, generation) = h.stable_single();
    let pending = h.send_join(h.join_request("", &["range"]));
    assert_eq!(
        h.join_response(pending).unwrap().error,
        ErrorCode::MemberIdRequired
    );
    // The pending member exists only as a promise; the stable group is unaffected.
    assert_eq!(h.heartbeat(&a, generation), ErrorCode::None);
    h.advance(SESSION_MS as u64 + 1);
    assert_eq!(
        h.heartbeat(&a, generation),
        ErrorCode::UnknownMemberId,
        "A did not heartbeat in time"
    );
}

#[test]
fn a_duplicate_join_while_completing_gets_the_same_answer() {
    let mut h = Harness::new();
    let (a, join) = h.new_member(&["range"]);
    let first = h.join_response(join).unwrap();
    let again = h.join(&a);
    assert_eq!(h.join_response(again).unwrap(), first);
}

#[test]
fn requests_with_bad_inputs_get_the_kafka_errors() {
    let mut h = Harness::new();
    let mut join = h.join_request("", &["range"]);
    join.session_timeout_ms = 10;
    let j = h.send_join(join);
    assert_eq!(
        h.join_response(j).unwrap().error,
        ErrorCode::InvalidSessionTimeout
    );
    let mut join = h.join_request("", &["range"]);
    join.group_id = String::new();
    let j = h.send_join(join);
    assert_eq!(h.join_response(j).unwrap().error, ErrorCode::InvalidGroupId);
    let j = h.join("nobody");
    assert_eq!(
        h.join_response(j).unwrap().error,
        ErrorCode::UnknownMemberId
    );
    let j = h.send_join(h.join_request("", &[]));
    assert_eq!(
        h.join_response(j).unwrap().error,
        ErrorCode::InconsistentGroupProtocol
    );
    let s = h.sync("nobody", 1, &[]);
    assert_eq!(
        h.sync_response(s).unwrap().error,
        ErrorCode::UnknownMemberId
    );
    let (a, generation) = h.stable_single();
    let s = h.sync(&a, generation + 5, &[]);
    assert_eq!(
        h.sync_response(s).unwrap().error,
        ErrorCode::IllegalGeneration
    );
    assert_eq!(
        h.heartbeat("nobody", generation),
        ErrorCode::UnknownMemberId
    );
}

#[test]
fn every_request_waits_while_the_coordinator_loads() {
    let mut c = Coordinator::new(config(), 1);
    assert_eq!(c.next_deadline_ms(), None);
    let hb = HeartbeatRequest {
        group_id: "g".into(),
        generation_id: 1,
        member_id: "m".into(),
        group_instance_id: None,
    };
    assert_eq!(c.heartbeat(&hb, 0), ErrorCode::CoordinatorLoadInProgress);
    c.join_group(
        1,
        JoinRequest {
            group_id: "g".into(),
            session_timeout_ms: SESSION_MS,
            rebalance_timeout_ms: REBALANCE_MS,
            member_id: String::new(),
            group_instance_id: None,
            protocol_type: "consumer".into(),
            protocols: protocols(&["range"]),
            client_id: "c".into(),
            client_host: "h".into(),
            require_known_member_id: true,
        },
        0,
    );
    let ready = c.take_ready();
    assert!(
        matches!(&ready.replies[0].body, ReplyBody::Join(j) if j.error == ErrorCode::CoordinatorLoadInProgress)
    );
    let fetch = c.offset_fetch(&OffsetFetchRequest {
        group_id: "g".into(),
        topics: Some(vec![("t".into(), vec![0])]),
    });
    assert_eq!(fetch.error, ErrorCode::CoordinatorLoadInProgress);
    assert_eq!(
        fetch.topics[0].partitions[0].error,
        ErrorCode::CoordinatorLoadInProgress
    );
    assert_eq!(
        c.list_groups(&[], &[]),
        Err(ErrorCode::CoordinatorLoadInProgress)
    );
    assert_eq!(
        c.delete_groups(&["g".into()], 0),
        vec![("g".to_string(), ErrorCode::CoordinatorLoadInProgress)]
    );
}

#[test]
fn commits_are_checked_against_generation_and_membership() {
    let mut h = Harness::new();
    let (a, b, generation) = h.stable_pair();
    assert_eq!(h.commit(&a, generation, 0, 42), ErrorCode::None);
    assert_eq!(h.fetch(0), 42);
    assert_eq!(
        h.commit(&a, generation - 1, 0, 43),
        ErrorCode::IllegalGeneration
    );
    assert_eq!(
        h.commit("stranger", generation, 0, 43),
        ErrorCode::UnknownMemberId
    );
    assert_eq!(
        h.commit("", -1, 0, 43),
        ErrorCode::UnknownMemberId,
        "simple commits need an empty group"
    );
    // During the sync phase nobody may commit; while preparing, members may
    // (they commit what they consumed before giving partitions up).
    let ja = h.join(&a);
    assert_eq!(h.state(), Some(GroupState::PreparingRebalance));
    assert_eq!(h.commit(&b, generation, 1, 7), ErrorCode::None);
    let jb = h.join(&b);
    h.join_response(ja).unwrap();
    h.join_response(jb).unwrap();
    assert_eq!(
        h.commit(&a, generation + 1, 1, 8),
        ErrorCode::RebalanceInProgress
    );
    assert_eq!(h.fetch(1), 7);
    let record = h.records.iter().rev().find_map(|r| match r {
        GroupRecord::Offset {
            value: Some(v),
            partition: 1,
            ..
        } => Some(v.clone()),
        _ => None,
    });
    let record = record.unwrap();
    assert_eq!(
        (record.offset, record.leader_epoch, record.metadata.as_str()),
        (7, 3, "m")
    );
}

#[test]
fn simple_commits_work_without_a_group_and_fetch_all_lists_them() {
    let mut h = Harness::new();
    assert_eq!(
        h.commit("", 5, 0, 1),
        ErrorCode::IllegalGeneration,
        "no such group"
    );
    assert_eq!(h.commit("", -1, 2, 20), ErrorCode::None);
    assert_eq!(h.commit("", -1, 0, 10), ErrorCode::None);
    assert_eq!(h.fetch(0), 10);
    assert_eq!(h.fetch(9), -1);
    let all = h.coordinator.offset_fetch(&OffsetFetchRequest {
        group_id: "g".into(),
        topics: None,
    });
    assert_eq!(all.topics.len(), 1);
    let got: Vec<(i32, i64)> = all.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition, p.offset))
        .collect();
    assert_eq!(got, vec![(0, 10), (2, 20)]);
    let unknown = h.coordinator.offset_fetch(&OffsetFetchRequest {
        group_id: "other".into(),
        topics: Some(vec![("t".into(), vec![0, 1])]),
    });
    assert!(unknown.topics[0]
        .partitions
        .iter()
        .all(|p| p.offset == -1 && p.error == ErrorCode::None));
    // Oversized metadata is refused per partition.
    let response = h.coordinator.offset_commit(
        &OffsetCommitRequest {
            group_id: "g".into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
            retention_time_ms: -1,
            topics: vec![CommitTopic {
                name: "t".into(),
                partitions: vec![
                    CommitPartition {
                        partition: 0,
                        offset: 11,
                        leader_epoch: -1,
                        metadata: Some("x".repeat(5_000)),
                    },
                    CommitPartition {
                        partition: 1,
                        offset: 11,
                        leader_epoch: -1,
                        metadata: None,
                    },
                ],
            }],
        },
        h.now_ms,
    );
    assert_eq!(
        response.topics[0].partitions,
        vec![(0, ErrorCode::OffsetMetadataTooLarge), (1, ErrorCode::None)]
    );
    assert_eq!(h.fetch(0), 10);
}

#[test]
fn replaying_the_records_rebuilds_groups_and_offsets() {
    let mut h = Harness::new();
    let (a, b, generation) = h.stable_pair();
    assert_eq!(h.commit(&a, generation, 0, 100), ErrorCode::None);
    assert_eq!(h.commit(&b, generation, 1, 200), ErrorCode::None);
    assert_eq!(h.commit(&a, generation, 0, 150), ErrorCode::None);
    let mut replayed = Coordinator::new(config(), 8);
    for record in h.records.clone() {
        replayed.replay(record);
    }
    replayed.finish_loading(h.now_ms);
    assert_eq!(replayed.group_state("g"), Some(GroupState::Stable));
    let fetched = replayed.offset_fetch(&OffsetFetchRequest {
        group_id: "g".into(),
        topics: None,
    });
    let got: Vec<(i32, i64)> = fetched.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition, p.offset))
        .collect();
    assert_eq!(got, vec![(0, 150), (1, 200)]);
    // Members carry on with the generation they know.
    let hb = |member: &str| HeartbeatRequest {
        group_id: "g".into(),
        generation_id: generation,
        member_id: member.into(),
        group_instance_id: None,
    };
    assert_eq!(replayed.heartbeat(&hb(&a), h.now_ms), ErrorCode::None);
    assert_eq!(replayed.heartbeat(&hb(&b), h.now_ms), ErrorCode::None);
    let described = replayed.describe_groups(&["g".into()]);
    assert_eq!(described[0].members.len(), 2);
    assert_eq!(described[0].protocol_name, "range");
    // A tombstone removes the group on replay.
    let mut deleted = Coordinator::new(config(), 9);
    for record in h.records.clone() {
        deleted.replay(record);
    }
    deleted.replay(GroupRecord::Group {
        group_id: "g".into(),
        value: None,
    });
    deleted.replay(GroupRecord::Offset {
        group_id: "g".into(),
        topic: "t".into(),
        partition: 0,
        value: None,
    });
    deleted.replay(GroupRecord::Offset {
        group_id: "g".into(),
        topic: "t".into(),
        partition: 1,
        value: None,
    });
    deleted.finish_loading(h.now_ms);
    assert_eq!(deleted.group_state("g"), None);
}

#[test]
fn offsets_of_an_empty_group_expire_after_the_retention_time() {
    let mut h = Harness::new();
    let (a, generation) = h.stable_single();
    assert_eq!(h.commit(&a, generation, 0, 5), ErrorCode::None);
    // While the member lives (heartbeating), nothing expires.
    for _ in 0..130 {
        h.advance(500);
        assert_eq!(h.heartbeat(&a, generation), ErrorCode::None);
    }
    assert_eq!(h.fetch(0), 5);
    h.leave(&[(&a, None)]);
    assert_eq!(h.state(), Some(GroupState::Empty));
    h.advance(30_000);
    assert_eq!(h.fetch(0), 5);
    h.advance(32_000);
    assert_eq!(h.fetch(0), -1);
    assert_eq!(h.state(), None, "an empty group without offsets is removed");
    let tail: Vec<&GroupRecord> = h.records.iter().rev().take(2).collect();
    assert!(matches!(tail[0], GroupRecord::Group { value: None, .. }));
    assert!(matches!(
        tail[1],
        GroupRecord::Offset {
            value: None,
            partition: 0,
            ..
        }
    ));
}

#[test]
fn delete_groups_refuses_live_groups_and_tombstones_empty_ones() {
    let mut h = Harness::new();
    let (a, generation) = h.stable_single();
    h.commit(&a, generation, 0, 5);
    let result = h
        .coordinator
        .delete_groups(&["g".into(), "nope".into(), String::new()], h.now_ms);
    assert_eq!(
        result.iter().map(|(_, e)| *e).collect::<Vec<_>>(),
        vec![
            ErrorCode::NonEmptyGroup,
            ErrorCode::GroupIdNotFound,
            ErrorCode::InvalidGroupId
        ]
    );
    h.leave(&[(&a, None)]);
    h.records.clear();
    let result = h.coordinator.delete_groups(&["g".into()], h.now_ms);
    h.drain();
    assert_eq!(result[0].1, ErrorCode::None);
    assert_eq!(h.state(), None);
    assert_eq!(h.fetch(0), -1);
    assert_eq!(h.records.len(), 2);
}

#[test]
fn describe_and_list_report_state_members_and_assignments() {
    let mut h = Harness::new();
    let (a, b, _) = h.stable_pair();
    let described = h
        .coordinator
        .describe_groups(&["g".into(), "missing".into()]);
    assert_eq!(described[0].state, "Stable");
    assert_eq!(described[0].protocol_type, "consumer");
    let members: HashMap<&str, &DescribedMember> = described[0]
        .members
        .iter()
        .map(|m| (m.member_id.as_str(), m))
        .collect();
    assert_eq!(members[a.as_str()].assignment, Bytes::from("A"));
    assert_eq!(members[b.as_str()].assignment, Bytes::from("B"));
    assert_eq!(members[a.as_str()].client_host, "/127.0.0.1");
    assert_eq!(described[1].state, "Dead");
    assert_eq!(described[1].error, ErrorCode::None);
    let listed = h.coordinator.list_groups(&[], &[]).unwrap();
    assert_eq!(
        listed,
        vec![ListedGroup {
            group_id: "g".into(),
            protocol_type: "consumer".into(),
            state: "Stable"
        }]
    );
    assert!(h
        .coordinator
        .list_groups(&["Empty".into()], &[])
        .unwrap()
        .is_empty());
    assert_eq!(
        h.coordinator
            .list_groups(&["stable".into()], &["consumer".into()])
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn the_first_rebalance_waits_for_more_members() {
    let mut h = Harness::with_config(GroupConfig {
        initial_rebalance_delay_ms: 100,
        ..config()
    });
    let (_, ja) = h.new_member(&["range"]);
    h.advance(60);
    let (_, jb) = h.new_member(&["range"]);
    h.advance(60);
    assert!(
        h.join_response(ja).is_none(),
        "B's arrival extended the window"
    );
    h.advance(50);
    let ra = h.join_response(ja).unwrap();
    let rb = h.join_response(jb).unwrap();
    assert_eq!(ra.generation_id, 1);
    assert_eq!(rb.generation_id, 1);
    assert_eq!(ra.members.len() + rb.members.len(), 2);
}

#[test]
fn a_group_can_reach_its_size_limit() {
    let mut h = Harness::with_config(GroupConfig {
        group_max_size: 2,
        ..config()
    });
    h.stable_pair();
    let j = h.send_join(h.join_request("", &["range"]));
    assert_eq!(
        h.join_response(j).unwrap().error,
        ErrorCode::GroupMaxSizeReached
    );
}

/// A small deterministic generator (xorshift64*), so that every failing
/// seed replays exactly without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What one simulated client knows.
#[derive(Default, Clone)]
struct Client {
    instance: Option<String>,
    member_id: String,
    generation: i32,
    /// The members a leader must assign, from its last join answer.
    to_assign: Vec<String>,
    join: Option<RequestId>,
    sync: Option<RequestId>,
    /// Joined a generation and has not synced yet.
    must_sync: bool,
}

impl Client {
    /// Sends its SyncGroup (a leader assigns "for-MEMBER" to each member).
    fn send_sync(&mut self, h: &mut Harness) -> RequestId {
        let assignments: Vec<(String, String)> = self
            .to_assign
            .iter()
            .map(|m| (m.clone(), format!("for-{m}")))
            .collect();
        let refs: Vec<(&str, &str)> = assignments
            .iter()
            .map(|(m, a)| (m.as_str(), a.as_str()))
            .collect();
        let request = h.sync(&self.member_id, self.generation, &refs);
        self.sync = Some(request);
        self.must_sync = false;
        request
    }
}

/// Random clients join, sync, heartbeat, commit, leave, crash and restart
/// while time jumps around. After every step the group's invariants hold;
/// at the end, once everyone has gone quiet for longer than any timeout,
/// every deferred request has been answered exactly once and the group is
/// empty. Failures print the seed.
#[test]
fn random_client_behaviour_keeps_the_invariants_and_answers_every_request() {
    let mut total_ok = 0;
    for seed in 1..=150u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut h = Harness::new();
        let mut clients: Vec<Client> = (0..6)
            .map(|i| Client {
                instance: (i >= 4).then(|| format!("static-{i}")),
                ..Client::default()
            })
            .collect();
        let mut sent: Vec<RequestId> = Vec::new();
        let mut answered: HashMap<RequestId, ReplyBody> = HashMap::new();
        for step in 0..400 {
            let c = rng.below(clients.len() as u64) as usize;
            match rng.below(10) {
                0 | 1 if clients[c].join.is_none() && clients[c].sync.is_none() => {
                    let mut join = h.join_request(&clients[c].member_id, &["range", "roundrobin"]);
                    join.group_instance_id = clients[c].instance.clone();
                    join.require_known_member_id = rng.below(4) != 0;
                    let request = h.send_join(join);
                    sent.push(request);
                    clients[c].join = Some(request);
                }
                2 | 7
                    if clients[c].join.is_none()
                        && clients[c].sync.is_none()
                        && !clients[c].member_id.is_empty() =>
                {
                    sent.push(clients[c].send_sync(&mut h));
                }
                3 => {
                    let (member_id, generation) =
                        (clients[c].member_id.clone(), clients[c].generation);
                    h.heartbeat(&member_id, generation);
                }
                4 => {
                    let (member_id, generation) =
                        (clients[c].member_id.clone(), clients[c].generation);
                    h.commit(&member_id, generation, rng.below(3) as i32, step);
                }
                5 if clients[c].join.is_none() && clients[c].sync.is_none() => {
                    let member_id = clients[c].member_id.clone();
                    let instance = clients[c].instance.clone();
                    h.leave(&[(&member_id, instance.as_deref())]);
                    clients[c].member_id.clear();
                }
                6 => {
                    // Crash: the process is gone; a restarted one knows
                    // nothing (static members come back with their instance).
                    let instance = clients[c].instance.clone();
                    clients[c] = Client {
                        instance,
                        ..Client::default()
                    };
                }
                _ => h.advance(rng.below(1_500)),
            }
            // Deliver answers to whoever is still waiting for them.
            let ready: Vec<RequestId> = h.replies.keys().copied().collect();
            for request in ready {
                let body = h.replies.remove(&request).unwrap();
                for client in clients.iter_mut() {
                    if client.join == Some(request) {
                        client.join = None;
                        if let ReplyBody::Join(j) = &body {
                            if j.error == ErrorCode::None || j.error == ErrorCode::MemberIdRequired
                            {
                                client.member_id = j.member_id.clone();
                            }
                            if j.error == ErrorCode::None {
                                client.must_sync = true;
                                client.generation = j.generation_id;
                                client.to_assign =
                                    j.members.iter().map(|m| m.member_id.clone()).collect();
                            }
                            if j.error == ErrorCode::UnknownMemberId
                                || j.error == ErrorCode::FencedInstanceId
                            {
                                client.member_id.clear();
                            }
                        }
                    }
                    if client.sync == Some(request) {
                        client.sync = None;
                    }
                }
                assert!(
                    answered.insert(request, body).is_none(),
                    "seed {seed}: request {request} answered twice"
                );
            }
            // Most clients sync right after joining, as real ones do.
            for client in clients.iter_mut() {
                if client.must_sync
                    && client.join.is_none()
                    && client.sync.is_none()
                    && rng.below(4) != 0
                {
                    sent.push(client.send_sync(&mut h));
                }
            }
            h.coordinator.check_invariants();
        }
        // What was made durable rebuilds the same offsets (and, for a
        // settled group, the same members and assignments).
        let mut replayed = Coordinator::new(config(), seed);
        for record in h.records.clone() {
            replayed.replay(record);
        }
        replayed.finish_loading(h.now_ms);
        let all = OffsetFetchRequest {
            group_id: "g".into(),
            topics: None,
        };
        assert_eq!(
            replayed.offset_fetch(&all),
            h.coordinator.offset_fetch(&all),
            "seed {seed}: replayed offsets differ"
        );
        // A checkpoint alone rebuilds the same state as the whole history.
        let mut from_checkpoint = Coordinator::new(config(), seed);
        for record in h.coordinator.checkpoint().expect("loaded") {
            from_checkpoint.replay(record);
        }
        from_checkpoint.finish_loading(h.now_ms);
        assert_eq!(
            from_checkpoint.offset_fetch(&all),
            replayed.offset_fetch(&all),
            "seed {seed}: checkpoint offsets differ"
        );
        assert_eq!(
            from_checkpoint.describe_groups(&["g".into()]),
            replayed.describe_groups(&["g".into()]),
            "seed {seed}: checkpoint group differs"
        );
        if h.state() == Some(GroupState::Stable) {
            let live = h.coordinator.describe_groups(&["g".into()]);
            let restored = replayed.describe_groups(&["g".into()]);
            let assignments = |d: &[DescribedGroup]| {
                let mut v: Vec<(String, Bytes)> = d[0]
                    .members
                    .iter()
                    .map(|m| (m.member_id.clone(), m.assignment.clone()))
                    .collect();
                v.sort();
                v
            };
            assert_eq!(assignments(&restored), assignments(&live), "seed {seed}");
        }
        // Everyone goes quiet; every timeout passes.
        for _ in 0..20 {
            h.advance(REBALANCE_MS as u64);
        }
        for request in h.replies.keys() {
            answered.insert(*request, h.replies[request].clone());
        }
        let unanswered: Vec<&RequestId> =
            sent.iter().filter(|r| !answered.contains_key(r)).collect();
        assert!(
            unanswered.is_empty(),
            "seed {seed}: never answered: {unanswered:?}"
        );
        assert!(
            matches!(h.state(), Some(GroupState::Empty) | None),
            "seed {seed}: silent members were not expired: {:?}",
            h.state()
        );
        h.coordinator.check_invariants();
        let ok_joins = answered
            .values()
            .filter(|b| matches!(b, ReplyBody::Join(j) if j.error == ErrorCode::None))
            .count();
        let ok_syncs = answered
            .values()
            .filter(|b| matches!(b, ReplyBody::Sync(s) if s.error == ErrorCode::None))
            .count();
        total_ok += ok_joins.min(ok_syncs);
    }
    // The walk must reach settled generations, or it proves nothing.
    assert!(
        total_ok > 2_000,
        "only {total_ok} successful join/sync rounds"
    );
}

#[test]
fn deleting_a_topic_forgets_its_offsets_in_every_group() {
    let mut h = Harness::new();
    assert_eq!(h.commit("", -1, 0, 10), ErrorCode::None);
    let other_topic = OffsetCommitRequest {
        group_id: "g".into(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        retention_time_ms: -1,
        topics: vec![CommitTopic {
            name: "u".into(),
            partitions: vec![CommitPartition {
                partition: 0,
                offset: 7,
                leader_epoch: -1,
                metadata: None,
            }],
        }],
    };
    h.coordinator.offset_commit(&other_topic, h.now_ms);
    h.drain();
    h.records.clear();
    assert!(h.coordinator.forget_topic("t", h.now_ms));
    h.drain();
    assert_eq!(h.fetch(0), -1);
    let all = h.coordinator.offset_fetch(&OffsetFetchRequest {
        group_id: "g".into(),
        topics: None,
    });
    assert_eq!(all.topics.len(), 1);
    assert_eq!(all.topics[0].name, "u");
    assert_eq!(
        h.records,
        vec![GroupRecord::Offset {
            group_id: "g".into(),
            topic: "t".into(),
            partition: 0,
            value: None
        }]
    );
}

#[test]
fn a_self_contradicting_stored_group_loads_without_breaking_invariants() {
    use super::record::{GroupSnapshot, MemberSnapshot};
    let member = |id: &str, instance: Option<&str>| MemberSnapshot {
        member_id: id.into(),
        group_instance_id: instance.map(str::to_string),
        client_id: "c".into(),
        client_host: "h".into(),
        session_timeout_ms: 1_000,
        rebalance_timeout_ms: 1_000,
        subscription: Bytes::new(),
        assignment: Bytes::from_static(b"a"),
    };
    let mut c = Coordinator::new(config(), 1);
    c.replay(GroupRecord::Group {
        group_id: "g".into(),
        value: Some(GroupSnapshot {
            protocol_type: Some("consumer".into()),
            generation: 4,
            protocol_name: Some("range".into()),
            leader: Some("gone".into()),
            state_timestamp_ms: 0,
            members: vec![
                member("m1", Some("i")),
                member("m1", None),
                member("m2", Some("i")),
                member("m3", None),
            ],
        }),
    });
    c.replay(GroupRecord::Group {
        group_id: "no-protocol".into(),
        value: Some(GroupSnapshot {
            protocol_type: Some("consumer".into()),
            generation: 1,
            protocol_name: None,
            leader: None,
            state_timestamp_ms: 0,
            members: vec![member("x", None)],
        }),
    });
    c.finish_loading(0);
    c.check_invariants();
    let described = c.describe_groups(&["g".into(), "no-protocol".into()]);
    let ids: Vec<&str> = described[0]
        .members
        .iter()
        .map(|m| m.member_id.as_str())
        .collect();
    assert_eq!(ids, vec!["m1", "m3"]);
    assert_eq!(described[1].state, "Empty");
}
