//! The coordinator of the groups stored in one `__consumer_offsets`
//! partition: request validation, the group table, timers and loading.
//!
//! Pure and single-threaded: no I/O, no clock. The caller passes `now_ms`
//! (wall clock), calls [`Coordinator::on_tick`] when
//! [`Coordinator::next_deadline_ms`] is due, and after every call drains
//! [`Coordinator::take_ready`]: records to append (in order) to the
//! partition, then, once they are durable, the deferred replies.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::api::*;
use super::config::GroupConfig;
use super::error::ErrorCode;
use super::limits;
use super::member::MemberIds;
use super::record::{CommittedOffset, GroupRecord, GroupSnapshot, Ready};
use super::state::{Env, Group, GroupState};

/// What replay has seen of one group so far.
#[derive(Default)]
struct LoadedGroup {
    snapshot: Option<GroupSnapshot>,
    offsets: BTreeMap<(String, i32), CommittedOffset>,
}

pub struct Coordinator {
    config: GroupConfig,
    /// Some while the partition is being replayed; requests are answered
    /// with COORDINATOR_LOAD_IN_PROGRESS until then.
    loading: Option<HashMap<String, LoadedGroup>>,
    groups: HashMap<String, Group>,
    /// (deadline, group id) for every group with a deadline, and the reverse
    /// index to move an entry when the group's deadline changes.
    timers: BTreeSet<(u64, String)>,
    timer_of: HashMap<String, u64>,
    next_retention_check_ms: Option<u64>,
    ids: MemberIds,
    ready: Ready,
}

impl Coordinator {
    /// A coordinator in the loading state. `member_id_nonce` must differ
    /// between broker starts (seed it from the clock) so that new member ids
    /// never collide with ids restored from the log.
    pub fn new(config: GroupConfig, member_id_nonce: u64) -> Self {
        assert!(
            config.validate().is_ok(),
            "invalid group config: {config:?}"
        );
        Self {
            config,
            loading: Some(HashMap::new()),
            groups: HashMap::new(),
            timers: BTreeSet::new(),
            timer_of: HashMap::new(),
            next_retention_check_ms: None,
            ids: MemberIds::new(member_id_nonce),
            ready: Ready::default(),
        }
    }

    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    /// Applies one record read back from the partition, in log order.
    pub fn replay(&mut self, record: GroupRecord) {
        let loading = self.loading.as_mut().expect("replay only while loading");
        match record {
            GroupRecord::Offset {
                group_id,
                topic,
                partition,
                value,
            } => {
                let group = loading.entry(group_id).or_default();
                match value {
                    Some(v) => {
                        group.offsets.insert((topic, partition), v);
                    }
                    None => {
                        group.offsets.remove(&(topic, partition));
                    }
                }
            }
            GroupRecord::Group { group_id, value } => match value {
                Some(snapshot) => loading.entry(group_id).or_default().snapshot = Some(snapshot),
                None => {
                    loading.remove(&group_id);
                }
            },
        }
    }

    /// Ends replay: builds the groups and starts serving.
    pub fn finish_loading(&mut self, now_ms: u64) {
        let loaded = self.loading.take().expect("finish_loading while loading");
        for (group_id, l) in loaded {
            if l.snapshot.is_none() && l.offsets.is_empty() {
                continue;
            }
            let mut group = Group::new(group_id.clone(), now_ms);
            if let Some(snapshot) = l.snapshot {
                group.restore(snapshot, now_ms);
            }
            group.offsets = l.offsets;
            self.groups.insert(group_id.clone(), group);
            self.reschedule(&group_id);
        }
        self.next_retention_check_ms =
            Some(now_ms + self.config.offsets_retention_check_interval_ms);
    }

    /// Output since the last call; see the module docs for the duty.
    pub fn take_ready(&mut self) -> Ready {
        std::mem::take(&mut self.ready)
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Panics if any group breaks an invariant (tests, debug builds).
    pub fn check_invariants(&self) {
        for group in self.groups.values() {
            group.check_invariants();
        }
        for (group_id, deadline) in &self.timer_of {
            assert!(self.timers.contains(&(*deadline, group_id.clone())));
        }
        assert_eq!(self.timers.len(), self.timer_of.len());
    }

    /// The state of a group, if it exists (for tests and metrics).
    pub fn group_state(&self, group_id: &str) -> Option<GroupState> {
        self.groups.get(group_id).map(|g| g.state)
    }

    // ---- requests ----------------------------------------------------------------

    /// JoinGroup; the answer arrives in [`Ready::replies`] under `request`.
    pub fn join_group(&mut self, request: RequestId, join: JoinRequest, now_ms: u64) {
        let error = self
            .check_group(&join.group_id)
            .err()
            .or_else(|| self.check_join(&join));
        if let Some(error) = error {
            self.reply_join_error(request, error, &join.member_id);
            return;
        }
        if !self.groups.contains_key(&join.group_id) {
            if !join.member_id.is_empty() {
                self.reply_join_error(request, ErrorCode::UnknownMemberId, &join.member_id);
                return;
            }
            if self.groups.len() >= limits::GROUPS_PER_COORDINATOR_MAX {
                self.reply_join_error(request, ErrorCode::CoordinatorNotAvailable, &join.member_id);
                return;
            }
            self.groups.insert(
                join.group_id.clone(),
                Group::new(join.group_id.clone(), now_ms),
            );
        }
        let group_id = join.group_id.clone();
        self.with_group(&group_id, now_ms, |group, env| {
            group.join(env, request, join)
        });
    }

    /// SyncGroup; the answer arrives in [`Ready::replies`] under `request`.
    pub fn sync_group(&mut self, request: RequestId, sync: SyncRequest, now_ms: u64) {
        if let Err(error) = self.check_group(&sync.group_id) {
            self.ready
                .reply(request, ReplyBody::Sync(SyncResponse::error(error)));
            return;
        }
        let group_id = sync.group_id.clone();
        let found = self.with_group(&group_id, now_ms, |group, env| {
            group.sync(env, request, sync)
        });
        if found.is_none() {
            self.ready.reply(
                request,
                ReplyBody::Sync(SyncResponse::error(ErrorCode::UnknownMemberId)),
            );
        }
    }

    pub fn heartbeat(&mut self, heartbeat: &HeartbeatRequest, now_ms: u64) -> ErrorCode {
        if let Err(error) = self.check_group(&heartbeat.group_id) {
            return error;
        }
        self.with_group(&heartbeat.group_id, now_ms, |group, env| {
            group.heartbeat(env, heartbeat)
        })
        .unwrap_or(ErrorCode::UnknownMemberId)
    }

    pub fn leave_group(&mut self, leave: LeaveRequest, now_ms: u64) -> LeaveResponse {
        if let Err(error) = self.check_group(&leave.group_id) {
            return LeaveResponse {
                error,
                members: Vec::new(),
            };
        }
        let group_id = leave.group_id.clone();
        let unknown = LeaveResponse {
            error: ErrorCode::None,
            members: leave
                .members
                .iter()
                .map(|m| LeftMember {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    error: ErrorCode::UnknownMemberId,
                })
                .collect(),
        };
        self.with_group(&group_id, now_ms, |group, env| group.leave(env, leave))
            .unwrap_or(unknown)
    }

    /// OffsetCommit. The records for the accepted partitions are in
    /// [`Ready::records`]; answer only once they are durable.
    pub fn offset_commit(
        &mut self,
        commit: &OffsetCommitRequest,
        now_ms: u64,
    ) -> OffsetCommitResponse {
        if let Err(error) = self.check_group(&commit.group_id) {
            return OffsetCommitResponse::all(commit, error);
        }
        if !self.groups.contains_key(&commit.group_id) {
            if commit.generation_id >= 0 {
                // A generation from a group we do not know: the member's
                // view is stale (the group expired or was deleted).
                return OffsetCommitResponse::all(commit, ErrorCode::IllegalGeneration);
            }
            if self.groups.len() >= limits::GROUPS_PER_COORDINATOR_MAX {
                return OffsetCommitResponse::all(commit, ErrorCode::CoordinatorNotAvailable);
            }
            self.groups.insert(
                commit.group_id.clone(),
                Group::new(commit.group_id.clone(), now_ms),
            );
        }
        self.with_group(&commit.group_id, now_ms, |group, env| {
            group.commit(env, commit)
        })
        .expect("group exists")
    }

    pub fn offset_fetch(&self, fetch: &OffsetFetchRequest) -> OffsetFetchResponse {
        if let Err(error) = self.check_group(&fetch.group_id) {
            let topics = fetch
                .topics
                .iter()
                .flatten()
                .map(|(name, partitions)| FetchedTopic {
                    name: name.clone(),
                    partitions: partitions
                        .iter()
                        .map(|&partition| FetchedPartition {
                            partition,
                            offset: -1,
                            leader_epoch: -1,
                            metadata: String::new(),
                            error,
                        })
                        .collect(),
                })
                .collect();
            return OffsetFetchResponse { error, topics };
        }
        let topics = match self.groups.get(&fetch.group_id) {
            Some(group) => group.fetch(&fetch.topics),
            // Nothing committed yet: every partition answers -1, no error.
            None => Group::new(fetch.group_id.clone(), 0).fetch(&fetch.topics),
        };
        OffsetFetchResponse {
            error: ErrorCode::None,
            topics,
        }
    }

    pub fn describe_groups(&self, group_ids: &[String]) -> Vec<DescribedGroup> {
        group_ids
            .iter()
            .map(|group_id| {
                let dead = |error| DescribedGroup {
                    error,
                    group_id: group_id.clone(),
                    state: GroupState::Dead.name(),
                    protocol_type: String::new(),
                    protocol_name: String::new(),
                    members: Vec::new(),
                };
                match self.check_group(group_id) {
                    Err(error) => dead(error),
                    Ok(()) => self
                        .groups
                        .get(group_id)
                        .map(Group::describe)
                        .unwrap_or_else(|| dead(ErrorCode::None)),
                }
            })
            .collect()
    }

    /// Groups of this coordinator, optionally filtered by state names and
    /// protocol types (ListGroups v4/v5; empty filters match everything).
    pub fn list_groups(
        &self,
        states: &[String],
        types: &[String],
    ) -> Result<Vec<ListedGroup>, ErrorCode> {
        if self.is_loading() {
            return Err(ErrorCode::CoordinatorLoadInProgress);
        }
        let mut listed: Vec<ListedGroup> = self
            .groups
            .values()
            .filter(|g| {
                states.is_empty()
                    || states
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(g.state.name()))
            })
            .filter(|g| {
                types.is_empty()
                    || types.iter().any(|t| {
                        t.eq_ignore_ascii_case("classic") || Some(t) == g.protocol_type.as_ref()
                    })
            })
            .map(|g| ListedGroup {
                group_id: g.id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state.name(),
            })
            .collect();
        listed.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(listed)
    }

    /// DeleteGroups. Tombstones for the deleted groups are in
    /// [`Ready::records`]; answer only once they are durable.
    pub fn delete_groups(&mut self, group_ids: &[String], now_ms: u64) -> Vec<(String, ErrorCode)> {
        group_ids
            .iter()
            .map(|group_id| {
                let error = match self.check_group(group_id) {
                    Err(error) => error,
                    Ok(()) => match self.groups.get(group_id) {
                        None => ErrorCode::GroupIdNotFound,
                        Some(group) if group.state != GroupState::Empty => ErrorCode::NonEmptyGroup,
                        Some(_) => {
                            self.remove_group(group_id, now_ms);
                            ErrorCode::None
                        }
                    },
                };
                (group_id.clone(), error)
            })
            .collect()
    }

    /// Every live record of this partition: each group's last persisted
    /// snapshot and every committed offset. Appended after everything
    /// before it, they make all older records redundant, which is what lets
    /// old segments of the log be deleted (see `service`). None while
    /// loading.
    pub fn checkpoint(&self) -> Option<Vec<GroupRecord>> {
        if self.is_loading() {
            return None;
        }
        let mut group_ids: Vec<&String> = self.groups.keys().collect();
        group_ids.sort();
        let mut records = Vec::new();
        for group_id in group_ids {
            let group = &self.groups[group_id];
            if let Some(snapshot) = &group.last_persisted {
                records.push(GroupRecord::Group {
                    group_id: group_id.clone(),
                    value: Some(snapshot.clone()),
                });
            }
            for ((topic, partition), value) in &group.offsets {
                records.push(GroupRecord::Offset {
                    group_id: group_id.clone(),
                    topic: topic.clone(),
                    partition: *partition,
                    value: Some(value.clone()),
                });
            }
        }
        Some(records)
    }

    /// Forgets every group's offsets of a deleted topic; the tombstones are
    /// in [`Ready::records`]. Returns false while loading (the caller retries
    /// once loaded, or the offsets expire with their groups).
    pub fn forget_topic(&mut self, topic: &str, now_ms: u64) -> bool {
        if self.is_loading() {
            return false;
        }
        let group_ids: Vec<String> = self.groups.keys().cloned().collect();
        for group_id in group_ids {
            self.with_group(&group_id, now_ms, |group, env| {
                group.forget_topic(env, topic)
            });
        }
        true
    }

    // ---- time ------------------------------------------------------------------------

    /// When [`on_tick`](Self::on_tick) next has work; None while loading.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        if self.is_loading() {
            return None;
        }
        let first_timer = self.timers.first().map(|(deadline, _)| *deadline);
        first_timer
            .into_iter()
            .chain(self.next_retention_check_ms)
            .min()
    }

    /// Expires sessions, join and sync rounds and offsets due by `now_ms`.
    pub fn on_tick(&mut self, now_ms: u64) {
        if self.is_loading() {
            return;
        }
        let due: Vec<String> = self
            .timers
            .iter()
            .take_while(|(deadline, _)| *deadline <= now_ms)
            .take(limits::EXPIRED_GROUPS_PER_TICK_MAX)
            .map(|(_, group_id)| group_id.clone())
            .collect();
        for group_id in due {
            self.with_group(&group_id, now_ms, |group, env| group.on_deadline(env));
        }
        if self.next_retention_check_ms.is_some_and(|t| now_ms >= t) {
            self.next_retention_check_ms =
                Some(now_ms + self.config.offsets_retention_check_interval_ms);
            self.expire_offsets(now_ms);
        }
    }

    fn expire_offsets(&mut self, now_ms: u64) {
        let group_ids: Vec<String> = self.groups.keys().cloned().collect();
        for group_id in group_ids {
            let gone = self
                .with_group(&group_id, now_ms, |group, env| {
                    group.expire_offsets(env);
                    group.state == GroupState::Empty && group.offsets.is_empty()
                })
                .unwrap_or(false);
            if gone {
                self.remove_group(&group_id, now_ms);
            }
        }
    }

    // ---- internals ---------------------------------------------------------------

    fn check_group(&self, group_id: &str) -> Result<(), ErrorCode> {
        if group_id.is_empty() || group_id.len() > limits::ID_BYTES_MAX {
            return Err(ErrorCode::InvalidGroupId);
        }
        if self.is_loading() {
            return Err(ErrorCode::CoordinatorLoadInProgress);
        }
        Ok(())
    }

    fn check_join(&self, join: &JoinRequest) -> Option<ErrorCode> {
        let session_ms = join.session_timeout_ms as i64;
        if session_ms < self.config.session_timeout_min_ms as i64
            || session_ms > self.config.session_timeout_max_ms as i64
        {
            return Some(ErrorCode::InvalidSessionTimeout);
        }
        let bad_instance = join
            .group_instance_id
            .as_ref()
            .is_some_and(|i| i.is_empty() || i.len() > limits::ID_BYTES_MAX);
        let too_big = join.protocols.len() > limits::PROTOCOLS_PER_MEMBER_MAX
            || join
                .protocols
                .iter()
                .any(|p| p.metadata.len() > limits::MEMBER_METADATA_BYTES_MAX)
            || join.member_id.len() > limits::ID_BYTES_MAX * 2;
        if bad_instance || too_big {
            return Some(ErrorCode::InvalidRequest);
        }
        None
    }

    fn reply_join_error(&mut self, request: RequestId, error: ErrorCode, member_id: &str) {
        self.ready.reply(
            request,
            ReplyBody::Join(JoinResponse::error(error, member_id)),
        );
    }

    /// Runs `f` on a group with an environment, then moves its timer.
    fn with_group<R>(
        &mut self,
        group_id: &str,
        now_ms: u64,
        f: impl FnOnce(&mut Group, &mut Env) -> R,
    ) -> Option<R> {
        let group = self.groups.get_mut(group_id)?;
        let mut env = Env {
            now_ms,
            config: &self.config,
            out: &mut self.ready,
            ids: &mut self.ids,
        };
        let result = f(group, &mut env);
        if cfg!(debug_assertions) {
            group.check_invariants();
        }
        self.reschedule(group_id);
        Some(result)
    }

    fn reschedule(&mut self, group_id: &str) {
        if let Some(old) = self.timer_of.remove(group_id) {
            self.timers.remove(&(old, group_id.to_string()));
        }
        if let Some(deadline) = self.groups.get(group_id).and_then(Group::next_deadline_ms) {
            self.timers.insert((deadline, group_id.to_string()));
            self.timer_of.insert(group_id.to_string(), deadline);
        }
    }

    fn remove_group(&mut self, group_id: &str, now_ms: u64) {
        self.with_group(group_id, now_ms, |group, env| {
            group.state = GroupState::Dead;
            group.tombstones(env);
        });
        self.groups.remove(group_id);
        self.reschedule(group_id);
    }
}
