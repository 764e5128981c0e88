//! The topic catalogue: which topics exist, how many partitions each has, and
//! their configuration overrides; plus the producer-id allocator.
//!
//! Every shard holds a replica. The catalogue shard (shard 0) is the only
//! writer: it validates a change, makes it durable in
//! `DATA_DIR/meta/catalogue.json` (write a temporary file, fsync, rename,
//! fsync the directory), and only then tells every shard to apply it. A crash
//! at any point leaves either the old or the new file, never a mix.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::limits;

/// Producer ids are handed out from blocks reserved durably in advance, so a
/// restart never reuses an id without writing the file once per id.
pub const PRODUCER_ID_BLOCK: i64 = 1000;

/// Topic-level settings a client may set (CreateTopics configs). Anything
/// else is refused with INVALID_CONFIG rather than silently ignored.
pub const TOPIC_CONFIG_KEYS: &[&str] = &[
    "retention.ms",
    "retention.bytes",
    "segment.bytes",
    "segment.ms",
    "cleanup.policy",
    "max.message.bytes",
    "min.insync.replicas",
    "message.timestamp.type",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMeta {
    /// Topic UUID as sent in Metadata v10+.
    pub id: [u8; 16],
    pub partitions: i32,
    /// Overrides of the broker defaults, by Kafka config name.
    pub configs: BTreeMap<String, String>,
}

/// The durable state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    pub topics: BTreeMap<String, TopicMeta>,
    /// Producer ids below this may have been handed out before a restart.
    pub producer_id_reserved_end: i64,
}

/// Why a topic change failed; each maps to one Kafka error code.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TopicError {
    #[error("topic already exists")]
    AlreadyExists,
    #[error("invalid topic name: {0}")]
    InvalidName(String),
    #[error("invalid partition count {0}")]
    InvalidPartitions(i32),
    #[error("invalid replication factor {0}: this broker is a single node")]
    InvalidReplicationFactor(i16),
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    #[error("too many topics (limit {})", limits::TOPICS_MAX)]
    TooManyTopics,
    #[error("unknown topic")]
    Unknown,
    #[error("catalogue write failed: {0}")]
    Store(#[source] std::sync::Arc<std::io::Error>),
    #[error("opening partition {topic}-{index}: {source}")]
    OpenPartition {
        topic: String,
        index: i32,
        source: storage::StorageError,
    },
    #[error("deleting the partitions of {topic}: {source}")]
    DeletePartitions {
        topic: String,
        source: storage::StorageError,
    },
    #[error(transparent)]
    ShardGone(#[from] crate::shard::mesh::ShardGone),
}

/// Kafka's topic-name rule: 1..=249 characters of `[a-zA-Z0-9._-]`, not `.`
/// or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    let bad = |why: &str| Err(TopicError::InvalidName(format!("{name:?} {why}")));
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() > limits::TOPIC_NAME_BYTES_MAX {
        return bad("is longer than 249 characters");
    }
    if name == "." || name == ".." {
        return bad("is reserved");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return bad("may only contain ASCII letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

/// Checks one topic config value; returns the normalised value.
pub fn validate_topic_config(key: &str, value: &str) -> Result<String, TopicError> {
    let bad = || Err(TopicError::InvalidConfig(format!("{key}={value}")));
    if !TOPIC_CONFIG_KEYS.contains(&key) {
        return Err(TopicError::InvalidConfig(format!("unknown config {key}")));
    }
    match key {
        "retention.ms" | "retention.bytes" => match value.parse::<i64>() {
            Ok(v) if v >= -1 => Ok(v.to_string()),
            _ => bad(),
        },
        "segment.bytes" => match value.parse::<i64>() {
            Ok(v) if v >= 1 << 20 => Ok(v.to_string()),
            _ => bad(),
        },
        "segment.ms" | "max.message.bytes" => match value.parse::<i64>() {
            Ok(v) if v >= 1 => Ok(v.to_string()),
            _ => bad(),
        },
        // Accepted only where this single-node broker honours them exactly:
        // one replica, deletion-based retention, producer timestamps.
        "min.insync.replicas" if value == "1" => Ok(value.to_string()),
        "cleanup.policy" if value == "delete" => Ok(value.to_string()),
        "message.timestamp.type" if value == "CreateTime" => Ok(value.to_string()),
        _ => bad(),
    }
}

impl Catalogue {
    /// Validates a new topic and returns its metadata (not yet inserted).
    pub fn check_new_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(String, String)],
    ) -> Result<TopicMeta, TopicError> {
        validate_topic_name(name)?;
        if self.topics.contains_key(name) {
            return Err(TopicError::AlreadyExists);
        }
        if self.topics.len() >= limits::TOPICS_MAX {
            return Err(TopicError::TooManyTopics);
        }
        if partitions < 1 || partitions as usize > limits::PARTITIONS_PER_TOPIC_MAX {
            return Err(TopicError::InvalidPartitions(partitions));
        }
        if replication_factor != 1 && replication_factor != -1 {
            return Err(TopicError::InvalidReplicationFactor(replication_factor));
        }
        let mut checked = BTreeMap::new();
        for (key, value) in configs {
            checked.insert(key.clone(), validate_topic_config(key, value)?);
        }
        Ok(TopicMeta {
            id: random_uuid(),
            partitions,
            configs: checked,
        })
    }

    /// Loads the catalogue, or an empty one if the broker never wrote it.
    pub fn load(data_dir: &Path) -> std::io::Result<Self> {
        let path = file_path(data_dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e),
        }
    }

    /// Makes this catalogue the durable one, atomically.
    pub fn store(&self, data_dir: &Path) -> std::io::Result<()> {
        let dir = data_dir.join("meta");
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join("catalogue.json.tmp");
        let bytes = serde_json::to_vec_pretty(self).expect("catalogue serialises");
        {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, file_path(data_dir))?;
        std::fs::File::open(&dir)?.sync_all()
    }
}

fn file_path(data_dir: &Path) -> PathBuf {
    data_dir.join("meta").join("catalogue.json")
}

/// A version-4 UUID from the kernel's random source.
fn random_uuid() -> [u8; 16] {
    let mut id = [0u8; 16];
    // SAFETY: the buffer is valid for 16 bytes; getrandom writes at most that.
    let n = unsafe { libc::getrandom(id.as_mut_ptr().cast(), id.len(), 0) };
    assert_eq!(n, 16, "getrandom failed");
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(validate_topic_name("orders.v1_x-y").is_ok());
        for bad in ["", ".", "..", "a b", "ü", &"x".repeat(250)] {
            assert!(validate_topic_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn new_topic_validation() {
        let cat = Catalogue::default();
        assert!(cat.check_new_topic("t", 3, -1, &[]).is_ok());
        assert!(matches!(
            cat.check_new_topic("t", 0, 1, &[]),
            Err(TopicError::InvalidPartitions(0))
        ));
        assert!(matches!(
            cat.check_new_topic("t", 1, 3, &[]),
            Err(TopicError::InvalidReplicationFactor(3))
        ));
        let cfg = vec![("retention.ms".to_string(), "60000".to_string())];
        assert_eq!(
            cat.check_new_topic("t", 1, 1, &cfg).unwrap().configs["retention.ms"],
            "60000"
        );
        let bad = vec![("retention.ms".to_string(), "soon".to_string())];
        assert!(matches!(
            cat.check_new_topic("t", 1, 1, &bad),
            Err(TopicError::InvalidConfig(_))
        ));
        for (key, value) in [
            ("min.insync.replicas", "2"),
            ("message.timestamp.type", "LogAppendTime"),
            ("cleanup.policy", "compact"),
        ] {
            let unsupported = vec![(key.to_string(), value.to_string())];
            assert!(
                matches!(
                    cat.check_new_topic("t", 1, 1, &unsupported),
                    Err(TopicError::InvalidConfig(_))
                ),
                "{key}={value}"
            );
        }
        let unknown = vec![("compression.level".to_string(), "1".to_string())];
        assert!(matches!(
            cat.check_new_topic("t", 1, 1, &unknown),
            Err(TopicError::InvalidConfig(_))
        ));
    }

    #[test]
    fn store_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Catalogue::load(dir.path()).unwrap(), Catalogue::default());
        let mut cat = Catalogue::default();
        let meta = cat.check_new_topic("t", 2, 1, &[]).unwrap();
        cat.topics.insert("t".into(), meta);
        cat.producer_id_reserved_end = 2000;
        cat.store(dir.path()).unwrap();
        assert_eq!(Catalogue::load(dir.path()).unwrap(), cat);
    }
}
