//! The flatbuffers encoding of [`GroupRecord`]s: a record's Kafka key is a
//! `LogKey`, its value the table the key type names, or null for a
//! tombstone. The schema and its evolution rules are in
//! `schema/group_log.fbs`.

use bytes::Bytes;
use flatbuffers::{FlatBufferBuilder, WIPOffset};

use super::record::{CommittedOffset, GroupRecord, GroupSnapshot, MemberSnapshot};
#[allow(
    dead_code,
    unused_imports,
    clippy::all,
    clippy::pedantic,
    unsafe_op_in_unsafe_fn,
    mismatched_lifetime_syntaxes
)]
#[path = "schema/group_log_generated.rs"]
#[rustfmt::skip]
mod generated;
use generated::sluice::group as fb;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("invalid flatbuffer in group record {part}: {reason}")]
    Invalid { part: &'static str, reason: String },
    #[error("group record key of unknown type {0}")]
    UnknownKeyType(u8),
    #[error("group record without a key")]
    MissingKey,
}

fn invalid(part: &'static str) -> impl Fn(flatbuffers::InvalidFlatbuffer) -> CodecError {
    move |e| CodecError::Invalid {
        part,
        reason: e.to_string(),
    }
}

/// The record's key and (unless a tombstone) value bytes.
pub fn encode(record: &GroupRecord) -> (Vec<u8>, Option<Vec<u8>>) {
    (encode_key(record), encode_value(record))
}

fn encode_key(record: &GroupRecord) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::with_capacity(128);
    let (key_type, key) = match record {
        GroupRecord::Offset {
            group_id,
            topic,
            partition,
            ..
        } => {
            let group_id = fbb.create_string(group_id);
            let topic = fbb.create_string(topic);
            let key = fb::OffsetKey::create(
                &mut fbb,
                &fb::OffsetKeyArgs {
                    group_id: Some(group_id),
                    topic: Some(topic),
                    partition: *partition,
                },
            );
            (fb::Key::OffsetKey, key.as_union_value())
        }
        GroupRecord::Group { group_id, .. } => {
            let group_id = fbb.create_string(group_id);
            let key = fb::GroupKey::create(
                &mut fbb,
                &fb::GroupKeyArgs {
                    group_id: Some(group_id),
                },
            );
            (fb::Key::GroupKey, key.as_union_value())
        }
    };
    let root = fb::LogKey::create(
        &mut fbb,
        &fb::LogKeyArgs {
            key_type,
            key: Some(key),
        },
    );
    fbb.finish(root, None);
    fbb.finished_data().to_vec()
}

fn encode_value(record: &GroupRecord) -> Option<Vec<u8>> {
    match record {
        GroupRecord::Offset { value, .. } => value.as_ref().map(encode_offset),
        GroupRecord::Group { value, .. } => value.as_ref().map(encode_group),
    }
}

fn encode_offset(value: &CommittedOffset) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::with_capacity(64 + value.metadata.len());
    let metadata = fbb.create_string(&value.metadata);
    let root = fb::OffsetValue::create(
        &mut fbb,
        &fb::OffsetValueArgs {
            offset: value.offset,
            leader_epoch: value.leader_epoch,
            metadata: Some(metadata),
            commit_timestamp_ms: value.commit_timestamp_ms,
            expire_timestamp_ms: value.expire_timestamp_ms.unwrap_or(-1),
        },
    );
    fbb.finish(root, None);
    fbb.finished_data().to_vec()
}

fn encode_group(value: &GroupSnapshot) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::with_capacity(256);
    let members: Vec<WIPOffset<fb::MemberValue>> = value
        .members
        .iter()
        .map(|m| {
            let member_id = fbb.create_string(&m.member_id);
            let group_instance_id = m.group_instance_id.as_deref().map(|s| fbb.create_string(s));
            let client_id = fbb.create_string(&m.client_id);
            let client_host = fbb.create_string(&m.client_host);
            let subscription = fbb.create_vector(&m.subscription[..]);
            let assignment = fbb.create_vector(&m.assignment[..]);
            fb::MemberValue::create(
                &mut fbb,
                &fb::MemberValueArgs {
                    member_id: Some(member_id),
                    group_instance_id,
                    client_id: Some(client_id),
                    client_host: Some(client_host),
                    session_timeout_ms: m.session_timeout_ms,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    subscription: Some(subscription),
                    assignment: Some(assignment),
                },
            )
        })
        .collect();
    let members = fbb.create_vector(&members);
    let protocol_type = value.protocol_type.as_deref().map(|s| fbb.create_string(s));
    let protocol_name = value.protocol_name.as_deref().map(|s| fbb.create_string(s));
    let leader = value.leader.as_deref().map(|s| fbb.create_string(s));
    let root = fb::GroupValue::create(
        &mut fbb,
        &fb::GroupValueArgs {
            protocol_type,
            generation: value.generation,
            protocol_name,
            leader,
            state_timestamp_ms: value.state_timestamp_ms,
            members: Some(members),
        },
    );
    fbb.finish(root, None);
    fbb.finished_data().to_vec()
}

/// Decodes one record; every buffer is verified before it is read, so a
/// corrupt record is an error, never a crash.
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<GroupRecord, CodecError> {
    let log_key = fb::root_as_log_key(key).map_err(invalid("key"))?;
    match log_key.key_type() {
        fb::Key::OffsetKey => {
            let k = log_key.key_as_offset_key().ok_or(CodecError::MissingKey)?;
            let value = match value {
                None => None,
                Some(bytes) => {
                    let v = flatbuffers::root::<fb::OffsetValue>(bytes)
                        .map_err(invalid("offset value"))?;
                    Some(CommittedOffset {
                        offset: v.offset(),
                        leader_epoch: v.leader_epoch(),
                        metadata: v.metadata().unwrap_or_default().to_string(),
                        commit_timestamp_ms: v.commit_timestamp_ms(),
                        expire_timestamp_ms: (v.expire_timestamp_ms() >= 0)
                            .then_some(v.expire_timestamp_ms()),
                    })
                }
            };
            Ok(GroupRecord::Offset {
                group_id: k.group_id().to_string(),
                topic: k.topic().to_string(),
                partition: k.partition(),
                value,
            })
        }
        fb::Key::GroupKey => {
            let k = log_key.key_as_group_key().ok_or(CodecError::MissingKey)?;
            let value = match value {
                None => None,
                Some(bytes) => {
                    let v = flatbuffers::root::<fb::GroupValue>(bytes)
                        .map_err(invalid("group value"))?;
                    Some(GroupSnapshot {
                        protocol_type: v.protocol_type().map(str::to_string),
                        generation: v.generation(),
                        protocol_name: v.protocol_name().map(str::to_string),
                        leader: v.leader().map(str::to_string),
                        state_timestamp_ms: v.state_timestamp_ms(),
                        members: v
                            .members()
                            .map(|ms| {
                                ms.iter()
                                    .map(|m| MemberSnapshot {
                                        member_id: m.member_id().to_string(),
                                        group_instance_id: m
                                            .group_instance_id()
                                            .map(str::to_string),
                                        client_id: m.client_id().unwrap_or_default().to_string(),
                                        client_host: m
                                            .client_host()
                                            .unwrap_or_default()
                                            .to_string(),
                                        session_timeout_ms: m.session_timeout_ms(),
                                        rebalance_timeout_ms: m.rebalance_timeout_ms(),
                                        subscription: bytes_of(m.subscription()),
                                        assignment: bytes_of(m.assignment()),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                }
            };
            Ok(GroupRecord::Group {
                group_id: k.group_id().to_string(),
                value,
            })
        }
        other => Err(CodecError::UnknownKeyType(other.0)),
    }
}

fn bytes_of(v: Option<flatbuffers::Vector<'_, u8>>) -> Bytes {
    v.map(|v| Bytes::copy_from_slice(v.bytes()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<GroupRecord> {
        vec![
            GroupRecord::Offset {
                group_id: "g".into(),
                topic: "events".into(),
                partition: 5,
                value: Some(CommittedOffset {
                    offset: 1 << 40,
                    leader_epoch: 3,
                    metadata: "meta".into(),
                    commit_timestamp_ms: 1_700_000_000_000,
                    expire_timestamp_ms: None,
                }),
            },
            GroupRecord::Offset {
                group_id: "g".into(),
                topic: "events".into(),
                partition: 6,
                value: Some(CommittedOffset {
                    offset: 0,
                    leader_epoch: -1,
                    metadata: String::new(),
                    commit_timestamp_ms: 1,
                    expire_timestamp_ms: Some(99),
                }),
            },
            GroupRecord::Offset {
                group_id: "g".into(),
                topic: "events".into(),
                partition: 5,
                value: None,
            },
            GroupRecord::Group {
                group_id: "g".into(),
                value: Some(GroupSnapshot {
                    protocol_type: Some("consumer".into()),
                    generation: 7,
                    protocol_name: Some("range".into()),
                    leader: Some("m-1".into()),
                    state_timestamp_ms: 123,
                    members: vec![
                        MemberSnapshot {
                            member_id: "m-1".into(),
                            group_instance_id: Some("i-1".into()),
                            client_id: "c".into(),
                            client_host: "/127.0.0.1".into(),
                            session_timeout_ms: 10_000,
                            rebalance_timeout_ms: 300_000,
                            subscription: Bytes::from_static(&[0, 1, 2]),
                            assignment: Bytes::from_static(&[9, 8]),
                        },
                        MemberSnapshot {
                            member_id: "m-2".into(),
                            group_instance_id: None,
                            client_id: String::new(),
                            client_host: String::new(),
                            session_timeout_ms: 1,
                            rebalance_timeout_ms: 2,
                            subscription: Bytes::new(),
                            assignment: Bytes::new(),
                        },
                    ],
                }),
            },
            GroupRecord::Group {
                group_id: "empty".into(),
                value: Some(GroupSnapshot {
                    protocol_type: None,
                    generation: 0,
                    protocol_name: None,
                    leader: None,
                    state_timestamp_ms: 0,
                    members: Vec::new(),
                }),
            },
            GroupRecord::Group {
                group_id: "g".into(),
                value: None,
            },
        ]
    }

    #[test]
    fn every_kind_of_record_round_trips() {
        for record in samples() {
            let (key, value) = encode(&record);
            assert_eq!(decode(&key, value.as_deref()).unwrap(), record);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        let (key, value) = encode(&samples()[0]);
        for cut in 0..key.len() {
            let _ = decode(&key[..cut], value.as_deref());
        }
        let value = value.unwrap();
        for cut in 0..value.len() {
            let _ = decode(&key, Some(&value[..cut]));
        }
        let mut flipped = key.clone();
        for i in 0..flipped.len() {
            flipped[i] ^= 0xff;
            let _ = decode(&flipped, Some(&value));
            flipped[i] ^= 0xff;
        }
        assert!(decode(&[], None).is_err());
        assert!(decode(&[1, 2, 3, 4, 5, 6, 7, 8], None).is_err());
    }

    /// The bytes of one offset key, pinned: a change to the schema or the
    /// flatbuffers builder that moves bytes fails here (the old bytes must
    /// still decode, which `decode` below checks too).
    #[test]
    fn golden_offset_key() {
        let (key, _) = encode(&GroupRecord::Offset {
            group_id: "g".into(),
            topic: "t".into(),
            partition: 1,
            value: None,
        });
        #[rustfmt::skip]
        let golden: [u8; 68] = [
            12, 0, 0, 0, 8, 0, 14, 0, 7, 0, 8, 0, 8, 0, 0, 0, 0, 0, 0, 1, 16, 0, 0, 0,
            0, 0, 10, 0, 16, 0, 4, 0, 8, 0, 12, 0, 10, 0, 0, 0, 20, 0, 0, 0, 8, 0, 0, 0,
            1, 0, 0, 0, 1, 0, 0, 0, 116, 0, 0, 0, 1, 0, 0, 0, 103, 0, 0, 0,
        ];
        assert_eq!(key, golden);
        let decoded = fb::root_as_log_key(&key).unwrap();
        assert_eq!(decoded.key_type(), fb::Key::OffsetKey);
        let k = decoded.key_as_offset_key().unwrap();
        assert_eq!((k.group_id(), k.topic(), k.partition()), ("g", "t", 1));
        assert_eq!(fb::Key::OffsetKey.0, 1);
        assert_eq!(fb::Key::GroupKey.0, 2);
    }
}
