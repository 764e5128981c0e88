//! The topic catalogue of brokers from before the controller
//! (`DATA_DIR/meta/catalogue.json`): read once, when a node alone starts
//! with an empty controller log, so that its topics carry over; the file is
//! then renamed `catalogue.json.imported`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::records::{MetadataRecord, NodeId, PartitionRecord, TopicId};

#[derive(Debug, Deserialize)]
struct TopicMeta {
    id: [u8; 16],
    partitions: i32,
    configs: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Catalogue {
    topics: BTreeMap<String, TopicMeta>,
    producer_id_reserved_end: i64,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("meta").join("catalogue.json")
}

/// The records that recreate the old catalogue's topics on `node_id` (each
/// topic with its id and configs, every partition led by this node), and
/// the producer ids it may have handed out; `None` without a catalogue.
pub fn import(data_dir: &Path, node_id: NodeId) -> std::io::Result<Option<Vec<MetadataRecord>>> {
    let bytes = match std::fs::read(path(data_dir)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let catalogue: Catalogue = serde_json::from_slice(&bytes)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let mut records = Vec::new();
    for (name, meta) in catalogue.topics {
        let id = TopicId(meta.id);
        records.push(MetadataRecord::Topic {
            name,
            id,
            configs: meta
                .configs
                .into_iter()
                .map(|(k, v)| (k, Some(v)))
                .collect(),
        });
        for partition in 0..meta.partitions {
            records.push(MetadataRecord::Partition(PartitionRecord {
                topic_id: id,
                partition,
                replicas: vec![node_id],
                leader: node_id,
                leader_epoch: 0,
                partition_epoch: 0,
            }));
        }
    }
    if catalogue.producer_id_reserved_end > 0 {
        records.push(MetadataRecord::ProducerIds {
            node_id: -1,
            first_id: 0,
            count: i32::try_from(catalogue.producer_id_reserved_end).unwrap_or(i32::MAX),
        });
    }
    Ok(Some(records))
}

/// Marks the old catalogue as imported.
pub fn retire(data_dir: &Path) -> std::io::Result<()> {
    let from = path(data_dir);
    std::fs::rename(&from, from.with_extension("json.imported"))
}
