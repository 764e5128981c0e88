//! One consumer group: its state, members and committed offsets, and the
//! transitions of the classic rebalance protocol.
//!
//! ```text
//!            first join                  all members joined          leader's SyncGroup
//!   Empty ─────────────▶ PreparingRebalance ──────────────▶ CompletingRebalance ──────▶ Stable
//!     ▲                    ▲   │ (or rebalance timeout)          │                       │
//!     │  last member gone  │   │                                 │ join/leave/expiry     │
//!     └────────────────────┼───┘◀────────────────────────────────┴───────────────────────┘
//!                          └── join, leave or session expiry while Stable/CompletingRebalance
//! ```
//!
//! Dead is transient: a deleted or expired group is removed from its
//! coordinator right after. All time comes in as `now_ms`; outputs (records
//! to make durable, deferred answers) go to the [`Ready`] in [`Env`].

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;

use super::api::*;
use super::config::GroupConfig;
use super::error::ErrorCode;
use super::member::{Member, MemberIds};
use super::record::{CommittedOffset, GroupRecord, GroupSnapshot, MemberSnapshot, Ready};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// The name Kafka's DescribeGroups and ListGroups use.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// What a group method needs from its coordinator.
pub(crate) struct Env<'a> {
    pub now_ms: u64,
    pub config: &'a GroupConfig,
    pub out: &'a mut Ready,
    pub ids: &'a mut MemberIds,
}

#[derive(Debug)]
pub(crate) struct Group {
    pub id: String,
    pub state: GroupState,
    /// When the group entered `state` (wall clock, ms).
    pub state_since_ms: u64,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub generation: i32,
    pub leader: Option<String>,
    pub members: HashMap<String, Member>,
    /// group.instance.id -> member id of the static members.
    pub static_members: HashMap<String, String>,
    /// Dynamic members that were told MEMBER_ID_REQUIRED and have until the
    /// deadline to join with their id.
    pub pending_members: HashMap<String, u64>,
    /// PreparingRebalance: when the join round completes with whoever joined.
    /// CompletingRebalance: when members that did not sync are removed.
    pub rebalance_deadline_ms: Option<u64>,
    /// The first rebalance of an empty group waits this long for more members
    /// (Kafka's `group.initial.rebalance.delay.ms`) instead of completing as
    /// soon as everyone known has joined.
    pub initial_delay_until_ms: Option<u64>,
    pub offsets: BTreeMap<(String, i32), CommittedOffset>,
    /// The group as last written to the log: what a checkpoint rewrites
    /// (the live state may be mid-rebalance, which is never persisted).
    pub last_persisted: Option<GroupSnapshot>,
    next_join_seq: u64,
}

impl Group {
    pub fn new(id: String, now_ms: u64) -> Self {
        Self {
            id,
            state: GroupState::Empty,
            state_since_ms: now_ms,
            protocol_type: None,
            protocol_name: None,
            generation: 0,
            leader: None,
            members: HashMap::new(),
            static_members: HashMap::new(),
            pending_members: HashMap::new(),
            rebalance_deadline_ms: None,
            initial_delay_until_ms: None,
            offsets: BTreeMap::new(),
            last_persisted: None,
            next_join_seq: 0,
        }
    }

    fn transition(&mut self, state: GroupState, now_ms: u64) {
        debug_assert!(
            matches!(
                (self.state, state),
                (GroupState::Empty, GroupState::PreparingRebalance)
                    | (GroupState::Stable, GroupState::PreparingRebalance)
                    | (
                        GroupState::CompletingRebalance,
                        GroupState::PreparingRebalance
                    )
                    | (
                        GroupState::PreparingRebalance,
                        GroupState::CompletingRebalance
                    )
                    | (GroupState::PreparingRebalance, GroupState::Empty)
                    | (GroupState::CompletingRebalance, GroupState::Stable)
                    | (_, GroupState::Dead)
            ),
            "illegal transition {:?} -> {:?}",
            self.state,
            state
        );
        self.state = state;
        self.state_since_ms = now_ms;
    }

    /// The earliest time at which [`on_deadline`](Self::on_deadline) has work.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        let sessions = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.awaiting_sync.is_none())
            .map(|m| m.session_deadline_ms);
        let pending = self.pending_members.values().copied();
        sessions
            .chain(pending)
            .chain(self.rebalance_deadline_ms)
            .chain(self.initial_delay_until_ms)
            .min()
    }

    fn max_rebalance_timeout_ms(&self) -> u64 {
        self.members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
    }

    fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    /// The instance id belongs to a different member: the caller is a stale
    /// incarnation of a static member.
    fn is_fenced(&self, member_id: &str, instance_id: Option<&str>) -> bool {
        match instance_id.and_then(|i| self.static_members.get(i)) {
            Some(current) => current != member_id,
            None => false,
        }
    }

    // ---- protocol selection -------------------------------------------------

    /// Whether a member offering `protocols` can join: the type matches and
    /// at least one protocol is supported by every current member.
    fn supports_protocols(&self, protocol_type: &str, protocols: &[Protocol]) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|p| self.members.values().all(|m| m.supports(&p.name)))
    }

    /// Keeps the leader across rebalances while it is still a member;
    /// otherwise the earliest member to have joined leads.
    fn keep_or_choose_leader(&mut self) {
        if self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l))
        {
            return;
        }
        self.leader = self
            .members
            .values()
            .min_by_key(|m| m.join_seq)
            .map(|m| m.member_id.clone());
    }

    /// The protocol every member supports that most members prefer; ties go
    /// to the earliest member's preference order.
    fn select_protocol(&self) -> String {
        let mut by_arrival: Vec<&Member> = self.members.values().collect();
        by_arrival.sort_by_key(|m| m.join_seq);
        let first = by_arrival
            .first()
            .expect("selecting a protocol needs members");
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|p| p.name.as_str())
            .filter(|name| by_arrival.iter().all(|m| m.supports(name)))
            .collect();
        assert!(
            !candidates.is_empty(),
            "group {}: members admitted without a common protocol",
            self.id
        );
        let mut votes = vec![0usize; candidates.len()];
        for member in &by_arrival {
            let choice = member
                .protocols
                .iter()
                .find_map(|p| candidates.iter().position(|c| *c == p.name))
                .expect("every member supports every candidate");
            votes[choice] += 1;
        }
        let best = votes.iter().max().copied().unwrap_or(0);
        let winner = votes.iter().position(|v| *v == best).expect("non-empty");
        candidates[winner].to_string()
    }

    // ---- JoinGroup ------------------------------------------------------------

    pub fn join(&mut self, env: &mut Env, request: RequestId, join: JoinRequest) {
        let reply_error = |env: &mut Env, error| {
            env.out.reply(
                request,
                ReplyBody::Join(JoinResponse::error(error, &join.member_id)),
            )
        };
        if self.state == GroupState::Dead {
            return reply_error(env, ErrorCode::CoordinatorNotAvailable);
        }
        if join.protocol_type.is_empty() || join.protocols.is_empty() {
            return reply_error(env, ErrorCode::InconsistentGroupProtocol);
        }
        // A lone member may change its protocols freely; anyone else must
        // share one with every current member.
        let rejoining_alone = self.members.len() == 1 && self.members.contains_key(&join.member_id);
        if !rejoining_alone && !self.supports_protocols(&join.protocol_type, &join.protocols) {
            return reply_error(env, ErrorCode::InconsistentGroupProtocol);
        }
        if join.member_id.is_empty() {
            self.join_unknown_member(env, request, join)
        } else if self.pending_members.remove(&join.member_id).is_some() {
            if self.members.len() >= env.config.group_max_size {
                return reply_error(env, ErrorCode::GroupMaxSizeReached);
            }
            let member_id = join.member_id.clone();
            self.add_member(env, member_id, request, join);
        } else if self.members.contains_key(&join.member_id) {
            if self.is_fenced(&join.member_id, join.group_instance_id.as_deref()) {
                return reply_error(env, ErrorCode::FencedInstanceId);
            }
            self.join_known_member(env, request, join)
        } else if self.is_fenced(&join.member_id, join.group_instance_id.as_deref()) {
            reply_error(env, ErrorCode::FencedInstanceId)
        } else {
            reply_error(env, ErrorCode::UnknownMemberId)
        }
    }

    fn join_unknown_member(&mut self, env: &mut Env, request: RequestId, join: JoinRequest) {
        if let Some(instance_id) = join.group_instance_id.clone() {
            if let Some(old_member_id) = self.static_members.get(&instance_id).cloned() {
                return self.replace_static_member(env, request, old_member_id, join);
            }
        }
        if self.members.len() + self.pending_members.len() >= env.config.group_max_size {
            return env.out.reply(
                request,
                ReplyBody::Join(JoinResponse::error(ErrorCode::GroupMaxSizeReached, "")),
            );
        }
        let member_id = env.ids.generate(&join.client_id);
        if join.group_instance_id.is_none() && join.require_known_member_id {
            // KIP-394: the member must come back with this id, so that a
            // client retrying a lost answer does not leave orphans behind.
            self.pending_members.insert(
                member_id.clone(),
                env.now_ms + join.session_timeout_ms as u64,
            );
            return env.out.reply(
                request,
                ReplyBody::Join(JoinResponse::error(ErrorCode::MemberIdRequired, &member_id)),
            );
        }
        self.add_member(env, member_id, request, join);
    }

    fn add_member(
        &mut self,
        env: &mut Env,
        member_id: String,
        request: RequestId,
        join: JoinRequest,
    ) {
        debug_assert!(!self.members.contains_key(&member_id));
        if self.members.is_empty() {
            self.protocol_type = Some(join.protocol_type.clone());
        }
        if let Some(instance_id) = &join.group_instance_id {
            self.static_members
                .insert(instance_id.clone(), member_id.clone());
        }
        self.next_join_seq += 1;
        let rebalance_timeout_ms = rebalance_timeout(&join);
        let member = Member {
            member_id: member_id.clone(),
            group_instance_id: join.group_instance_id,
            client_id: join.client_id,
            client_host: join.client_host,
            session_timeout_ms: join.session_timeout_ms as u64,
            rebalance_timeout_ms,
            protocols: join.protocols,
            assignment: Bytes::new(),
            awaiting_join: Some(request),
            awaiting_sync: None,
            session_deadline_ms: env.now_ms + join.session_timeout_ms as u64,
            join_seq: self.next_join_seq,
        };
        self.members.insert(member_id, member);
        match self.state {
            GroupState::PreparingRebalance => {
                if self.initial_delay_until_ms.is_some() {
                    // Each new member in the initial window extends it, up to
                    // the rebalance deadline.
                    let extended = env.now_ms + env.config.initial_rebalance_delay_ms;
                    self.initial_delay_until_ms =
                        Some(extended.min(self.rebalance_deadline_ms.unwrap_or(extended)));
                }
                self.maybe_complete_join(env)
            }
            _ => self.prepare_rebalance(env),
        }
    }

    fn join_known_member(&mut self, env: &mut Env, request: RequestId, join: JoinRequest) {
        let member_id = join.member_id.clone();
        match self.state {
            GroupState::PreparingRebalance => {
                self.update_member(env, &member_id, request, join);
                self.maybe_complete_join(env);
            }
            GroupState::CompletingRebalance => {
                let unchanged = self.members[&member_id].same_protocols(&join.protocols);
                if unchanged {
                    // The member lost our answer and asks again.
                    let response = self.join_response(&member_id, false);
                    env.out.reply(request, ReplyBody::Join(response));
                } else {
                    self.update_member(env, &member_id, request, join);
                    self.prepare_rebalance(env);
                }
            }
            GroupState::Stable => {
                let unchanged = self.members[&member_id].same_protocols(&join.protocols);
                if self.is_leader(&member_id) || !unchanged {
                    // A leader rejoining means it wants a new assignment (for
                    // example its subscription's topics changed partitions).
                    self.update_member(env, &member_id, request, join);
                    self.prepare_rebalance(env);
                } else {
                    let response = self.join_response(&member_id, false);
                    env.out.reply(request, ReplyBody::Join(response));
                }
            }
            GroupState::Empty | GroupState::Dead => {
                unreachable!("group {} has members in state {:?}", self.id, self.state)
            }
        }
    }

    fn update_member(
        &mut self,
        env: &mut Env,
        member_id: &str,
        request: RequestId,
        join: JoinRequest,
    ) {
        let member = self.members.get_mut(member_id).expect("updating a member");
        member.protocols = join.protocols;
        member.session_timeout_ms = join.session_timeout_ms as u64;
        member.rebalance_timeout_ms =
            rebalance_timeout_from(join.rebalance_timeout_ms, join.session_timeout_ms);
        member.client_id = join.client_id;
        member.client_host = join.client_host;
        member.touch(env.now_ms);
        if let Some(previous) = member.awaiting_join.replace(request) {
            // Answers on one connection go out in order, so a superseded join
            // must be answered rather than dropped.
            env.out.reply(
                previous,
                ReplyBody::Join(JoinResponse::error(
                    ErrorCode::RebalanceInProgress,
                    member_id,
                )),
            );
        }
    }

    /// A static member came back with a new incarnation: it takes over the
    /// old member's place (and assignment), the old id is fenced.
    fn replace_static_member(
        &mut self,
        env: &mut Env,
        request: RequestId,
        old_member_id: String,
        join: JoinRequest,
    ) {
        let mut member = self
            .members
            .remove(&old_member_id)
            .expect("static member exists");
        if let Some(previous) = member.awaiting_join.take() {
            env.out.reply(
                previous,
                ReplyBody::Join(JoinResponse::error(
                    ErrorCode::FencedInstanceId,
                    &old_member_id,
                )),
            );
        }
        if let Some(previous) = member.awaiting_sync.take() {
            env.out.reply(
                previous,
                ReplyBody::Sync(SyncResponse::error(ErrorCode::FencedInstanceId)),
            );
        }
        let new_member_id = env.ids.generate(&join.client_id);
        let instance_id = join.group_instance_id.clone().expect("static join");
        tracing::info!(
            group = %self.id,
            instance = %instance_id,
            old = %old_member_id,
            new = %new_member_id,
            "static member rejoined; old member id fenced"
        );
        member.member_id = new_member_id.clone();
        member.protocols = join.protocols;
        member.session_timeout_ms = join.session_timeout_ms as u64;
        member.rebalance_timeout_ms =
            rebalance_timeout_from(join.rebalance_timeout_ms, join.session_timeout_ms);
        member.client_id = join.client_id;
        member.client_host = join.client_host;
        member.touch(env.now_ms);
        self.members.insert(new_member_id.clone(), member);
        self.static_members
            .insert(instance_id, new_member_id.clone());
        if self.is_leader(&old_member_id) {
            self.leader = Some(new_member_id.clone());
        }
        match self.state {
            GroupState::Stable
                if self.protocol_name.as_deref() == Some(self.select_protocol().as_str()) =>
            {
                // Nothing about the group changes but a member id: keep the
                // assignment, persist the new id, no rebalance (KIP-345).
                self.persist_snapshot(env);
                let is_leader = self.is_leader(&new_member_id);
                let response = self.join_response(&new_member_id, is_leader);
                env.out.reply(request, ReplyBody::Join(response));
            }
            GroupState::PreparingRebalance => {
                self.members
                    .get_mut(&new_member_id)
                    .expect("inserted")
                    .awaiting_join = Some(request);
                self.maybe_complete_join(env);
            }
            _ => {
                self.members
                    .get_mut(&new_member_id)
                    .expect("inserted")
                    .awaiting_join = Some(request);
                self.prepare_rebalance(env);
            }
        }
    }

    /// The answer to a member's JoinGroup in the current generation; only the
    /// leader sees the members.
    fn join_response(&self, member_id: &str, skip_assignment: bool) -> JoinResponse {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let members = if self.is_leader(member_id) {
            let mut members: Vec<&Member> = self.members.values().collect();
            members.sort_by_key(|m| m.join_seq);
            members
                .into_iter()
                .map(|m| JoinMember {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    metadata: m.metadata_for(&protocol).cloned().unwrap_or_default(),
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinResponse {
            error: ErrorCode::None,
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            skip_assignment,
            member_id: member_id.to_string(),
            members,
        }
    }

    /// Starts a join round: every member must join again.
    fn prepare_rebalance(&mut self, env: &mut Env) {
        if self.state == GroupState::PreparingRebalance {
            return self.maybe_complete_join(env);
        }
        if self.state == GroupState::CompletingRebalance {
            self.fail_pending_syncs(env, ErrorCode::RebalanceInProgress);
        }
        let was_empty = self.state == GroupState::Empty;
        self.transition(GroupState::PreparingRebalance, env.now_ms);
        let rebalance_ms = self.max_rebalance_timeout_ms();
        self.rebalance_deadline_ms = Some(env.now_ms + rebalance_ms);
        if was_empty && env.config.initial_rebalance_delay_ms > 0 {
            self.initial_delay_until_ms =
                Some(env.now_ms + env.config.initial_rebalance_delay_ms.min(rebalance_ms));
        }
        self.maybe_complete_join(env);
    }

    fn fail_pending_syncs(&mut self, env: &mut Env, error: ErrorCode) {
        for member in self.members.values_mut() {
            member.assignment = Bytes::new();
            if let Some(request) = member.awaiting_sync.take() {
                env.out
                    .reply(request, ReplyBody::Sync(SyncResponse::error(error)));
            }
        }
    }

    fn maybe_complete_join(&mut self, env: &mut Env) {
        if self.state != GroupState::PreparingRebalance || self.initial_delay_until_ms.is_some() {
            return;
        }
        let all_joined = self.members.values().all(|m| m.awaiting_join.is_some());
        if all_joined && self.pending_members.is_empty() {
            self.complete_join(env);
        }
    }

    /// Ends the join round with the members that joined: a new generation.
    fn complete_join(&mut self, env: &mut Env) {
        debug_assert_eq!(self.state, GroupState::PreparingRebalance);
        self.rebalance_deadline_ms = None;
        self.initial_delay_until_ms = None;
        self.pending_members.clear();
        self.generation += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.leader = None;
            tracing::info!(group = %self.id, generation = self.generation, "group is empty");
            self.transition(GroupState::Empty, env.now_ms);
            self.persist_snapshot(env);
            return;
        }
        self.protocol_name = Some(self.select_protocol());
        self.keep_or_choose_leader();
        self.transition(GroupState::CompletingRebalance, env.now_ms);
        self.rebalance_deadline_ms = Some(env.now_ms + self.max_rebalance_timeout_ms());
        tracing::info!(
            group = %self.id,
            generation = self.generation,
            members = self.members.len(),
            protocol = self.protocol_name.as_deref().unwrap_or(""),
            leader = self.leader.as_deref().unwrap_or(""),
            "group joined a new generation"
        );
        let mut answered: Vec<(u64, RequestId, String)> = Vec::with_capacity(self.members.len());
        for member in self.members.values_mut() {
            let request = member.awaiting_join.take().expect("all members joined");
            member.touch(env.now_ms);
            answered.push((member.join_seq, request, member.member_id.clone()));
        }
        answered.sort_unstable();
        for (_, request, member_id) in answered {
            let response = self.join_response(&member_id, false);
            env.out.reply(request, ReplyBody::Join(response));
        }
    }

    // ---- SyncGroup ------------------------------------------------------------

    pub fn sync(&mut self, env: &mut Env, request: RequestId, sync: SyncRequest) {
        let fail = |env: &mut Env, error| {
            env.out
                .reply(request, ReplyBody::Sync(SyncResponse::error(error)))
        };
        if self.state == GroupState::Dead {
            return fail(env, ErrorCode::CoordinatorNotAvailable);
        }
        if self.is_fenced(&sync.member_id, sync.group_instance_id.as_deref()) {
            return fail(env, ErrorCode::FencedInstanceId);
        }
        if !self.members.contains_key(&sync.member_id) {
            return fail(env, ErrorCode::UnknownMemberId);
        }
        if sync.generation_id != self.generation {
            return fail(env, ErrorCode::IllegalGeneration);
        }
        let type_differs = sync.protocol_type.is_some() && sync.protocol_type != self.protocol_type;
        let name_differs = sync.protocol_name.is_some() && sync.protocol_name != self.protocol_name;
        if type_differs || name_differs {
            return fail(env, ErrorCode::InconsistentGroupProtocol);
        }
        match self.state {
            GroupState::Empty => fail(env, ErrorCode::UnknownMemberId),
            GroupState::PreparingRebalance => fail(env, ErrorCode::RebalanceInProgress),
            GroupState::CompletingRebalance => {
                let member = self.members.get_mut(&sync.member_id).expect("checked");
                member.touch(env.now_ms);
                if let Some(previous) = member.awaiting_sync.replace(request) {
                    env.out.reply(
                        previous,
                        ReplyBody::Sync(SyncResponse::error(ErrorCode::RebalanceInProgress)),
                    );
                }
                if self.is_leader(&sync.member_id) {
                    self.complete_sync(env, sync.assignments);
                }
            }
            GroupState::Stable => {
                let member = self.members.get_mut(&sync.member_id).expect("checked");
                member.touch(env.now_ms);
                let assignment = member.assignment.clone();
                env.out
                    .reply(request, ReplyBody::Sync(self.sync_response(assignment)));
            }
            GroupState::Dead => unreachable!(),
        }
    }

    fn sync_response(&self, assignment: Bytes) -> SyncResponse {
        SyncResponse {
            error: ErrorCode::None,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            assignment,
        }
    }

    /// The leader's assignment arrived: store it, make it durable, answer
    /// every member waiting in SyncGroup (now and later ones from Stable).
    fn complete_sync(&mut self, env: &mut Env, assignments: Vec<(String, Bytes)>) {
        let mut by_member: HashMap<String, Bytes> = assignments.into_iter().collect();
        for member in self.members.values_mut() {
            member.assignment = by_member.remove(&member.member_id).unwrap_or_default();
        }
        self.transition(GroupState::Stable, env.now_ms);
        self.rebalance_deadline_ms = None;
        self.persist_snapshot(env);
        let mut waiting: Vec<(u64, RequestId, Bytes)> = Vec::new();
        for member in self.members.values_mut() {
            if let Some(request) = member.awaiting_sync.take() {
                waiting.push((member.join_seq, request, member.assignment.clone()));
            }
        }
        waiting.sort_unstable_by_key(|(seq, _, _)| *seq);
        for (_, request, assignment) in waiting {
            let response = self.sync_response(assignment);
            env.out.reply(request, ReplyBody::Sync(response));
        }
    }

    // ---- Heartbeat and LeaveGroup ------------------------------------------------

    pub fn heartbeat(&mut self, env: &mut Env, heartbeat: &HeartbeatRequest) -> ErrorCode {
        if self.state == GroupState::Dead {
            return ErrorCode::CoordinatorNotAvailable;
        }
        if self.is_fenced(&heartbeat.member_id, heartbeat.group_instance_id.as_deref()) {
            return ErrorCode::FencedInstanceId;
        }
        let Some(member) = self.members.get_mut(&heartbeat.member_id) else {
            return ErrorCode::UnknownMemberId;
        };
        match self.state {
            GroupState::Empty | GroupState::Dead => ErrorCode::UnknownMemberId,
            GroupState::PreparingRebalance => {
                member.touch(env.now_ms);
                ErrorCode::RebalanceInProgress
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                if heartbeat.generation_id != self.generation {
                    return ErrorCode::IllegalGeneration;
                }
                member.touch(env.now_ms);
                ErrorCode::None
            }
        }
    }

    pub fn leave(&mut self, env: &mut Env, leave: LeaveRequest) -> LeaveResponse {
        if self.state == GroupState::Dead {
            return LeaveResponse {
                error: ErrorCode::CoordinatorNotAvailable,
                members: Vec::new(),
            };
        }
        let mut results = Vec::with_capacity(leave.members.len());
        for leaving in leave.members {
            let error = self.leave_one(env, &leaving);
            results.push(LeftMember {
                member_id: leaving.member_id,
                group_instance_id: leaving.group_instance_id,
                error,
            });
        }
        LeaveResponse {
            error: ErrorCode::None,
            members: results,
        }
    }

    fn leave_one(&mut self, env: &mut Env, leaving: &LeavingMember) -> ErrorCode {
        if let Some(instance_id) = &leaving.group_instance_id {
            // KIP-345: a static member may leave by instance id alone.
            let Some(current) = self.static_members.get(instance_id).cloned() else {
                return ErrorCode::UnknownMemberId;
            };
            if !leaving.member_id.is_empty() && leaving.member_id != current {
                return ErrorCode::FencedInstanceId;
            }
            self.remove_member(env, &current, ErrorCode::UnknownMemberId);
            return ErrorCode::None;
        }
        if self.pending_members.remove(&leaving.member_id).is_some() {
            self.maybe_complete_join(env);
            return ErrorCode::None;
        }
        if !self.members.contains_key(&leaving.member_id) {
            return ErrorCode::UnknownMemberId;
        }
        self.remove_member(env, &leaving.member_id, ErrorCode::UnknownMemberId);
        ErrorCode::None
    }

    /// Removes a member (left, expired or fenced); its waiting requests get
    /// `error`, and the others must rebalance.
    fn remove_member(&mut self, env: &mut Env, member_id: &str, error: ErrorCode) {
        let Some(member) = self.members.remove(member_id) else {
            return;
        };
        if let Some(instance_id) = &member.group_instance_id {
            if self.static_members.get(instance_id).map(String::as_str) == Some(member_id) {
                self.static_members.remove(instance_id);
            }
        }
        if let Some(request) = member.awaiting_join {
            env.out.reply(
                request,
                ReplyBody::Join(JoinResponse::error(error, member_id)),
            );
        }
        if let Some(request) = member.awaiting_sync {
            env.out
                .reply(request, ReplyBody::Sync(SyncResponse::error(error)));
        }
        if self.is_leader(member_id) {
            self.leader = None;
        }
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => self.prepare_rebalance(env),
            GroupState::PreparingRebalance => self.maybe_complete_join(env),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    // ---- timers -------------------------------------------------------------------

    /// Acts on every deadline that has passed by `env.now_ms`.
    pub fn on_deadline(&mut self, env: &mut Env) {
        let now = env.now_ms;
        if self.initial_delay_until_ms.is_some_and(|t| now >= t) {
            self.initial_delay_until_ms = None;
            self.maybe_complete_join(env);
        }
        if self.rebalance_deadline_ms.is_some_and(|t| now >= t) {
            match self.state {
                GroupState::PreparingRebalance => {
                    // Whoever has not joined by the rebalance timeout is out.
                    self.initial_delay_until_ms = None;
                    let late: Vec<String> = self
                        .members
                        .values()
                        .filter(|m| m.awaiting_join.is_none())
                        .map(|m| m.member_id.clone())
                        .collect();
                    for member_id in late {
                        if let Some(member) = self.members.remove(&member_id) {
                            if let Some(instance_id) = &member.group_instance_id {
                                self.static_members.remove(instance_id);
                            }
                            if self.is_leader(&member_id) {
                                self.leader = None;
                            }
                        }
                    }
                    self.pending_members.clear();
                    self.complete_join(env);
                }
                GroupState::CompletingRebalance => {
                    // Members that never sent SyncGroup (or a leader that
                    // never assigned) hold the group hostage: drop them.
                    let late: Vec<String> = self
                        .members
                        .values()
                        .filter(|m| m.awaiting_sync.is_none() || self.is_leader(&m.member_id))
                        .map(|m| m.member_id.clone())
                        .collect();
                    self.rebalance_deadline_ms = None;
                    for member_id in late {
                        self.remove_member(env, &member_id, ErrorCode::RebalanceInProgress);
                    }
                }
                _ => self.rebalance_deadline_ms = None,
            }
        }
        let expired_pending: Vec<String> = self
            .pending_members
            .iter()
            .filter(|(_, deadline)| now >= **deadline)
            .map(|(id, _)| id.clone())
            .collect();
        if !expired_pending.is_empty() {
            for member_id in expired_pending {
                self.pending_members.remove(&member_id);
            }
            self.maybe_complete_join(env);
        }
        let mut expired: Vec<(u64, String)> = self
            .members
            .values()
            .filter(|m| m.session_expired(now))
            .map(|m| (m.join_seq, m.member_id.clone()))
            .collect();
        expired.sort_unstable();
        for (_, member_id) in expired {
            if self
                .members
                .get(&member_id)
                .is_some_and(|m| m.session_expired(now))
            {
                tracing::info!(group = %self.id, member = %member_id, "member session expired");
                self.remove_member(env, &member_id, ErrorCode::UnknownMemberId);
            }
        }
    }

    // ---- persistence --------------------------------------------------------------

    pub fn snapshot(&self) -> GroupSnapshot {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let mut members: Vec<&Member> = self.members.values().collect();
        members.sort_by_key(|m| m.join_seq);
        GroupSnapshot {
            protocol_type: self.protocol_type.clone(),
            generation: self.generation,
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone(),
            state_timestamp_ms: self.state_since_ms as i64,
            members: members
                .into_iter()
                .map(|m| MemberSnapshot {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    session_timeout_ms: m.session_timeout_ms as u32,
                    rebalance_timeout_ms: m.rebalance_timeout_ms as u32,
                    subscription: m.metadata_for(&protocol).cloned().unwrap_or_default(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    fn persist_snapshot(&mut self, env: &mut Env) {
        let snapshot = self.snapshot();
        self.last_persisted = Some(snapshot.clone());
        env.out.records.push(GroupRecord::Group {
            group_id: self.id.clone(),
            value: Some(snapshot),
        });
    }

    /// Rebuilds a group from its last snapshot at load time. A group with
    /// members comes back Stable: its members keep heartbeating with the
    /// generation they know and get a full session to do so.
    pub fn restore(&mut self, snapshot: GroupSnapshot, now_ms: u64) {
        self.last_persisted = Some(snapshot.clone());
        self.protocol_type = snapshot.protocol_type;
        self.generation = snapshot.generation;
        self.protocol_name = snapshot.protocol_name;
        self.leader = snapshot.leader;
        self.members.clear();
        self.static_members.clear();
        self.pending_members.clear();
        self.rebalance_deadline_ms = None;
        self.initial_delay_until_ms = None;
        let protocol = self.protocol_name.clone().unwrap_or_default();
        for m in snapshot.members {
            // A record that contradicts itself (a bug that wrote it, not
            // something the CRC would catch) loses the duplicate, never the
            // broker.
            let duplicate = self.members.contains_key(&m.member_id)
                || m.group_instance_id
                    .as_ref()
                    .is_some_and(|i| self.static_members.contains_key(i));
            if duplicate || m.member_id.is_empty() {
                tracing::warn!(group = %self.id, member = %m.member_id, "skipping a duplicate member in a stored group");
                continue;
            }
            self.next_join_seq += 1;
            if let Some(instance_id) = &m.group_instance_id {
                self.static_members
                    .insert(instance_id.clone(), m.member_id.clone());
            }
            self.members.insert(
                m.member_id.clone(),
                Member {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    session_timeout_ms: m.session_timeout_ms as u64,
                    rebalance_timeout_ms: m.rebalance_timeout_ms as u64,
                    protocols: vec![Protocol {
                        name: protocol.clone(),
                        metadata: m.subscription,
                    }],
                    assignment: m.assignment,
                    awaiting_join: None,
                    awaiting_sync: None,
                    session_deadline_ms: now_ms + m.session_timeout_ms as u64,
                    join_seq: self.next_join_seq,
                },
            );
        }
        if self.protocol_name.is_none() && !self.members.is_empty() {
            tracing::warn!(group = %self.id, "stored group has members but no protocol; loading it empty");
            self.members.clear();
            self.static_members.clear();
        }
        if self.members.is_empty() {
            self.leader = None;
            self.state = GroupState::Empty;
            self.state_since_ms = snapshot.state_timestamp_ms.max(0) as u64;
        } else {
            self.keep_or_choose_leader();
            self.state = GroupState::Stable;
            self.state_since_ms = now_ms;
        }
    }

    /// Panics if the group's state is inconsistent: a bug, never bad input.
    pub fn check_invariants(&self) {
        let id = &self.id;
        for (instance_id, member_id) in &self.static_members {
            let member = self.members.get(member_id);
            assert!(
                member.is_some_and(|m| m.group_instance_id.as_ref() == Some(instance_id)),
                "group {id}: static member {instance_id} maps to {member_id}, which is not it"
            );
        }
        for member in self.members.values() {
            if let Some(instance_id) = &member.group_instance_id {
                assert_eq!(
                    self.static_members.get(instance_id),
                    Some(&member.member_id),
                    "group {id}: static member {instance_id} not indexed"
                );
            }
            assert!(
                !self.pending_members.contains_key(&member.member_id),
                "group {id}: {} is both pending and a member",
                member.member_id
            );
        }
        match self.state {
            GroupState::Empty => {
                assert!(self.members.is_empty(), "group {id}: empty with members");
                assert!(self.rebalance_deadline_ms.is_none());
            }
            GroupState::PreparingRebalance => {
                assert!(
                    self.rebalance_deadline_ms.is_some(),
                    "group {id}: join round without deadline"
                );
                assert!(self.members.values().all(|m| m.awaiting_sync.is_none()));
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                let leader = self.leader.as_ref().expect("a settled group has a leader");
                assert!(
                    self.members.contains_key(leader),
                    "group {id}: leader {leader} is not a member"
                );
                let protocol = self
                    .protocol_name
                    .as_ref()
                    .expect("a settled group has a protocol");
                assert!(self.members.values().all(|m| m.supports(protocol)));
                assert!(self.members.values().all(|m| m.awaiting_join.is_none()));
                if self.state == GroupState::Stable {
                    assert!(self.members.values().all(|m| m.awaiting_sync.is_none()));
                    assert!(self.rebalance_deadline_ms.is_none());
                } else {
                    assert!(self.rebalance_deadline_ms.is_some());
                }
            }
            GroupState::Dead => {}
        }
    }

    // ---- describe -------------------------------------------------------------------

    pub fn describe(&self) -> DescribedGroup {
        let stable = self.state == GroupState::Stable;
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let mut members: Vec<&Member> = self.members.values().collect();
        members.sort_by_key(|m| m.join_seq);
        DescribedGroup {
            error: ErrorCode::None,
            group_id: self.id.clone(),
            state: self.state.name(),
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            protocol_name: if stable {
                protocol.clone()
            } else {
                String::new()
            },
            members: members
                .into_iter()
                .map(|m| DescribedMember {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata_for(&protocol).cloned().unwrap_or_default()
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
        }
    }
}

fn rebalance_timeout(join: &JoinRequest) -> u64 {
    rebalance_timeout_from(join.rebalance_timeout_ms, join.session_timeout_ms)
}

/// JoinGroup v0 has no rebalance timeout; Kafka then uses the session timeout.
fn rebalance_timeout_from(rebalance_timeout_ms: i32, session_timeout_ms: i32) -> u64 {
    if rebalance_timeout_ms > 0 {
        rebalance_timeout_ms as u64
    } else {
        session_timeout_ms.max(0) as u64
    }
}
