//! Committed offsets of a group: OffsetCommit's membership checks, the
//! commits themselves, OffsetFetch, and retention of an empty group's offsets.

use super::api::*;
use super::error::ErrorCode;
use super::limits;
use super::record::{CommittedOffset, GroupRecord};
use super::state::{Env, Group, GroupState};

impl Group {
    /// Whether the sender may commit for this group now. Commits with
    /// generation -1 to an empty group are "simple" commits from consumers
    /// that assign partitions themselves.
    fn commit_allowed(&mut self, env: &mut Env, commit: &OffsetCommitRequest) -> ErrorCode {
        if self.state == GroupState::Dead {
            return ErrorCode::CoordinatorNotAvailable;
        }
        let fenced = commit
            .group_instance_id
            .as_deref()
            .and_then(|i| self.static_members.get(i))
            .is_some_and(|current| *current != commit.member_id);
        if fenced {
            return ErrorCode::FencedInstanceId;
        }
        if commit.generation_id < 0 && self.state == GroupState::Empty {
            return ErrorCode::None;
        }
        if self.state == GroupState::CompletingRebalance {
            // The member's partitions are about to change; committing for the
            // old assignment now would race the new owner.
            return ErrorCode::RebalanceInProgress;
        }
        let Some(member) = self.members.get_mut(&commit.member_id) else {
            return ErrorCode::UnknownMemberId;
        };
        if commit.generation_id != self.generation {
            return ErrorCode::IllegalGeneration;
        }
        // A commit proves the member is alive, as Kafka counts it.
        member.touch(env.now_ms);
        ErrorCode::None
    }

    pub fn commit(&mut self, env: &mut Env, commit: &OffsetCommitRequest) -> OffsetCommitResponse {
        let allowed = self.commit_allowed(env, commit);
        if !allowed.is_ok() {
            return OffsetCommitResponse::all(commit, allowed);
        }
        let now_ms = env.now_ms as i64;
        let expire_timestamp_ms =
            (commit.retention_time_ms > 0).then(|| now_ms + commit.retention_time_ms);
        let mut topics = Vec::with_capacity(commit.topics.len());
        for topic in &commit.topics {
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for p in &topic.partitions {
                let key = (topic.name.clone(), p.partition);
                let metadata = p.metadata.clone().unwrap_or_default();
                let error = if metadata.len() > env.config.offset_metadata_max_bytes {
                    ErrorCode::OffsetMetadataTooLarge
                } else if topic.name.is_empty() || p.partition < 0 {
                    ErrorCode::UnknownTopicOrPartition
                } else if self.offsets.len() >= limits::OFFSETS_PER_GROUP_MAX
                    && !self.offsets.contains_key(&key)
                {
                    ErrorCode::InvalidCommitOffsetSize
                } else {
                    let value = CommittedOffset {
                        offset: p.offset,
                        leader_epoch: p.leader_epoch,
                        metadata,
                        commit_timestamp_ms: now_ms,
                        expire_timestamp_ms,
                    };
                    env.out.records.push(GroupRecord::Offset {
                        group_id: self.id.clone(),
                        topic: topic.name.clone(),
                        partition: p.partition,
                        value: Some(value.clone()),
                    });
                    self.offsets.insert(key, value);
                    ErrorCode::None
                };
                partitions.push((p.partition, error));
            }
            topics.push(CommitTopicResult {
                name: topic.name.clone(),
                partitions,
            });
        }
        OffsetCommitResponse { topics }
    }

    pub fn fetch(&self, topics: &Option<Vec<(String, Vec<i32>)>>) -> Vec<FetchedTopic> {
        match topics {
            Some(topics) => topics
                .iter()
                .map(|(name, partitions)| FetchedTopic {
                    name: name.clone(),
                    partitions: partitions
                        .iter()
                        .map(|&partition| {
                            fetched(partition, self.offsets.get(&(name.clone(), partition)))
                        })
                        .collect(),
                })
                .collect(),
            None => {
                let mut out: Vec<FetchedTopic> = Vec::new();
                for ((topic, partition), value) in &self.offsets {
                    if out.last().map(|t| &t.name) != Some(topic) {
                        out.push(FetchedTopic {
                            name: topic.clone(),
                            partitions: Vec::new(),
                        });
                    }
                    let last = out.last_mut().expect("pushed above");
                    last.partitions.push(fetched(*partition, Some(value)));
                }
                out
            }
        }
    }

    /// Drops offsets past their retention and writes their tombstones.
    /// Offsets of a consumer group only expire once it has been empty for
    /// the retention time (its members may be idle, not gone); a simple
    /// group's offsets expire one by one from their commit time.
    pub fn expire_offsets(&mut self, env: &mut Env) {
        if self.state != GroupState::Empty {
            return;
        }
        let now_ms = env.now_ms as i64;
        let retention_ms = env.config.offsets_retention_ms as i64;
        let group_empty_since = self
            .protocol_type
            .as_ref()
            .map(|_| self.state_since_ms as i64);
        let expired: Vec<(String, i32)> = self
            .offsets
            .iter()
            .filter(|(_, v)| match v.expire_timestamp_ms {
                Some(expire) => now_ms >= expire,
                None => now_ms >= group_empty_since.unwrap_or(v.commit_timestamp_ms) + retention_ms,
            })
            .map(|(k, _)| k.clone())
            .collect();
        self.drop_offsets(env, expired);
    }

    /// Drops the offsets of a deleted topic, with tombstones: a topic created
    /// again under the same name starts from nothing, as in Kafka.
    pub fn forget_topic(&mut self, env: &mut Env, topic: &str) {
        let doomed: Vec<(String, i32)> = self
            .offsets
            .range((topic.to_string(), i32::MIN)..=(topic.to_string(), i32::MAX))
            .map(|(k, _)| k.clone())
            .collect();
        self.drop_offsets(env, doomed);
    }

    /// Removes `keys` from the offsets, each with a tombstone record.
    fn drop_offsets(&mut self, env: &mut Env, keys: Vec<(String, i32)>) {
        for (topic, partition) in keys {
            self.offsets.remove(&(topic.clone(), partition));
            env.out.records.push(GroupRecord::Offset {
                group_id: self.id.clone(),
                topic,
                partition,
                value: None,
            });
        }
    }

    /// Tombstones for everything the group has on disk, when it is deleted or
    /// expires empty.
    pub fn tombstones(&self, env: &mut Env) {
        for (topic, partition) in self.offsets.keys() {
            env.out.records.push(GroupRecord::Offset {
                group_id: self.id.clone(),
                topic: topic.clone(),
                partition: *partition,
                value: None,
            });
        }
        env.out.records.push(GroupRecord::Group {
            group_id: self.id.clone(),
            value: None,
        });
    }
}

fn fetched(partition: i32, value: Option<&CommittedOffset>) -> FetchedPartition {
    match value {
        Some(v) => FetchedPartition {
            partition,
            offset: v.offset,
            leader_epoch: v.leader_epoch,
            metadata: v.metadata.clone(),
            error: ErrorCode::None,
        },
        None => FetchedPartition {
            partition,
            offset: -1,
            leader_epoch: -1,
            metadata: String::new(),
            error: ErrorCode::None,
        },
    }
}
