//! What a run does: the workload model, read from a TOML file and/or flags.
//!
//! Field names follow the OpenMessaging Benchmark where one exists
//! (`partitions_per_topic`, `producers_per_topic`, `consumers_per_group`,
//! `consumer_groups` = OMB's `subscriptionsPerTopic`), so its shapes translate
//! one to one.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::limits;

/// A complete, validated description of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workload {
    pub name: String,
    /// Topics are named `{topic_prefix}-{i}`.
    pub topic_prefix: String,
    pub topics: u32,
    pub partitions_per_topic: u32,
    pub message_size: MessageSize,
    pub key_distribution: KeyDistribution,
    /// Distinct keys for `random` and `zipf`, and the cycle of `round-robin`.
    pub key_space: u64,
    /// Exponent `s` of the zipf distribution (1.0 is classic Zipf).
    pub zipf_exponent: f64,
    pub producers_per_topic: u32,
    /// Consumer groups per topic (OMB's subscriptions); 0 produces only.
    pub consumer_groups: u32,
    pub consumers_per_group: u32,
    /// How a group's consumers split the partitions: `group` joins a real
    /// consumer group on the broker (JoinGroup/SyncGroup, range assignor);
    /// `static` assigns partitions in the tool, for brokers without groups.
    pub consumer_assignment: ConsumerAssignment,
    pub acks: Acks,
    pub linger_ms: u64,
    pub batch_bytes_max: usize,
    pub compression: Compression,
    pub idempotent: bool,
    /// Fraction of each payload's bytes that are random (the rest are zeros):
    /// 1.0 is incompressible, 0.0 compresses to almost nothing.
    pub payload_random_fraction: f64,
    /// Target rate for the whole run, split evenly among producers. Absent
    /// means closed loop: each producer sends as fast as its in-flight bound
    /// allows.
    pub rate: Option<Rate>,
    /// Messages each producer may have unacknowledged (both loops).
    pub in_flight_max: usize,
    pub warmup_secs: u64,
    /// Measured time after warm-up. Ignored when `messages` is set.
    pub duration_secs: u64,
    /// Total messages to produce (all producers together), warm-up included.
    pub messages: Option<u64>,
    /// Seed of every random choice (sizes, keys, payloads).
    pub seed: u64,
}

impl Default for Workload {
    fn default() -> Self {
        Self {
            name: "custom".into(),
            topic_prefix: "sluice-bench".into(),
            topics: 1,
            partitions_per_topic: 1,
            message_size: MessageSize::Fixed(1024),
            key_distribution: KeyDistribution::None,
            key_space: 10_000,
            zipf_exponent: 1.0,
            producers_per_topic: 1,
            consumer_groups: 1,
            consumers_per_group: 1,
            consumer_assignment: ConsumerAssignment::Group,
            acks: Acks::All,
            linger_ms: 1,
            batch_bytes_max: 128 * 1024,
            compression: Compression::None,
            idempotent: false,
            payload_random_fraction: 1.0,
            rate: None,
            in_flight_max: 10_000,
            warmup_secs: 5,
            duration_secs: 60,
            messages: None,
            seed: 0x51_u64 << 32 | 0xce,
        }
    }
}

/// Size of each message's value in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageSize {
    Fixed(usize),
    Distribution(SizeDistribution),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "distribution", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SizeDistribution {
    Uniform {
        min: usize,
        max: usize,
    },
    /// Normal, clamped to `[min, max]`.
    Normal {
        mean: f64,
        stddev: f64,
        min: usize,
        max: usize,
    },
}

impl MessageSize {
    pub fn bounds(&self) -> (usize, usize) {
        match *self {
            MessageSize::Fixed(n) => (n, n),
            MessageSize::Distribution(SizeDistribution::Uniform { min, max })
            | MessageSize::Distribution(SizeDistribution::Normal { min, max, .. }) => (min, max),
        }
    }

    /// Expected size, used to turn a bytes/s target into a message pace.
    pub fn mean(&self) -> f64 {
        match *self {
            MessageSize::Fixed(n) => n as f64,
            MessageSize::Distribution(SizeDistribution::Uniform { min, max }) => {
                (min + max) as f64 / 2.0
            }
            MessageSize::Distribution(SizeDistribution::Normal { mean, min, max, .. }) => {
                mean.clamp(min as f64, max as f64)
            }
        }
    }
}

/// `1024`, `uniform:100-2000` or `normal:1024,256` (clamped to 16..1 MiB).
impl FromStr for MessageSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("bad message size {s:?}: want N, uniform:MIN-MAX or normal:MEAN,STDDEV");
        if let Ok(n) = s.parse() {
            return Ok(MessageSize::Fixed(n));
        }
        let (kind, args) = s.split_once(':').ok_or_else(bad)?;
        match kind {
            "uniform" => {
                let (a, b) = args.split_once('-').ok_or_else(bad)?;
                Ok(MessageSize::Distribution(SizeDistribution::Uniform {
                    min: a.parse().map_err(|_| bad())?,
                    max: b.parse().map_err(|_| bad())?,
                }))
            }
            "normal" => {
                let (a, b) = args.split_once(',').ok_or_else(bad)?;
                Ok(MessageSize::Distribution(SizeDistribution::Normal {
                    mean: a.parse().map_err(|_| bad())?,
                    stddev: b.parse().map_err(|_| bad())?,
                    min: limits::MESSAGE_BYTES_MIN,
                    max: limits::MESSAGE_BYTES_MAX,
                }))
            }
            _ => Err(bad()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum KeyDistribution {
    /// No key: the partition is chosen round-robin per batch.
    None,
    /// Keys 0, 1, ... key_space-1, 0, ...
    RoundRobin,
    /// Uniform over key_space keys.
    Random,
    /// Zipf over key_space keys: a few hot keys (and partitions).
    Zipf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ConsumerAssignment {
    Group,
    Static,
}

/// Producer acknowledgement level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "AcksRepr", into = "AcksRepr")]
pub enum Acks {
    None,
    Leader,
    All,
}

impl Acks {
    /// The value of the Produce request's `acks` field.
    pub fn wire(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum AcksRepr {
    Int(i64),
    Str(String),
}

impl TryFrom<AcksRepr> for Acks {
    type Error = String;
    fn try_from(r: AcksRepr) -> Result<Self, String> {
        match r {
            AcksRepr::Int(n) => n.to_string().parse(),
            AcksRepr::Str(s) => s.parse(),
        }
    }
}

impl From<Acks> for AcksRepr {
    fn from(a: Acks) -> Self {
        AcksRepr::Str(a.to_string())
    }
}

impl FromStr for Acks {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "0" => Ok(Acks::None),
            "1" => Ok(Acks::Leader),
            "all" | "-1" => Ok(Acks::All),
            _ => Err(format!("bad acks {s:?}: want 0, 1 or all")),
        }
    }
}

impl fmt::Display for Acks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Compression {
    None,
    Lz4,
    Zstd,
}

/// Open-loop target for the whole run. In TOML a number (messages/s) or a
/// string as accepted by [`Rate::from_str`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RateRepr", into = "String")]
pub enum Rate {
    MessagesPerSec(f64),
    BytesPerSec(f64),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RateRepr {
    Number(f64),
    Text(String),
}

impl TryFrom<RateRepr> for Rate {
    type Error = String;
    fn try_from(r: RateRepr) -> Result<Self, String> {
        match r {
            RateRepr::Number(n) => Ok(Rate::MessagesPerSec(n)),
            RateRepr::Text(s) => s.parse(),
        }
    }
}

impl From<Rate> for String {
    fn from(r: Rate) -> String {
        r.to_string()
    }
}

/// `50000` or `50000msg/s` (messages per second), `100MB/s`, `64KiB/s`, `1000B/s`.
impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("bad rate {s:?}: want N, Nmsg/s, NB/s, NKB/s, NMB/s, NKiB/s or NMiB/s");
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: f64 = num.replace('_', "").parse().map_err(|_| bad())?;
        let bytes = |m: f64| Ok(Rate::BytesPerSec(n * m));
        match unit.trim() {
            "" | "msg/s" | "msgs/s" => Ok(Rate::MessagesPerSec(n)),
            "B/s" => bytes(1.0),
            "KB/s" => bytes(1e3),
            "MB/s" => bytes(1e6),
            "GB/s" => bytes(1e9),
            "KiB/s" => bytes(1024.0),
            "MiB/s" => bytes(1024.0 * 1024.0),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::MessagesPerSec(n) => write!(f, "{n}msg/s"),
            Rate::BytesPerSec(n) => write!(f, "{n}B/s"),
        }
    }
}

/// Why a workload cannot run.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("cannot read workload file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("workload file {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("invalid workload: {0}")]
    Invalid(String),
}

/// Flags that override fields of the workload (file or defaults).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    #[arg(long)]
    pub topics: Option<u32>,
    #[arg(long)]
    pub topic_prefix: Option<String>,
    #[arg(long)]
    pub partitions: Option<u32>,
    /// N, uniform:MIN-MAX or normal:MEAN,STDDEV (bytes).
    #[arg(long)]
    pub message_size: Option<MessageSize>,
    #[arg(long, value_enum)]
    pub keys: Option<KeyDistribution>,
    #[arg(long)]
    pub key_space: Option<u64>,
    #[arg(long)]
    pub zipf_exponent: Option<f64>,
    /// Producers per topic.
    #[arg(long)]
    pub producers: Option<u32>,
    /// Consumer groups per topic (0: produce only).
    #[arg(long)]
    pub consumer_groups: Option<u32>,
    /// Consumers per group.
    #[arg(long)]
    pub consumers: Option<u32>,
    /// group (JoinGroup on the broker) or static (assigned by the tool).
    #[arg(long, value_enum)]
    pub consumer_assignment: Option<ConsumerAssignment>,
    /// 0, 1 or all.
    #[arg(long)]
    pub acks: Option<Acks>,
    #[arg(long)]
    pub linger_ms: Option<u64>,
    #[arg(long)]
    pub batch_bytes: Option<usize>,
    #[arg(long, value_enum)]
    pub compression: Option<Compression>,
    #[arg(long)]
    pub idempotent: Option<bool>,
    /// 0.0 (zeros, compressible) .. 1.0 (random).
    #[arg(long)]
    pub payload_random_fraction: Option<f64>,
    /// Open-loop target for the run: N or Nmsg/s, or bytes: NMB/s, NMiB/s, ...
    #[arg(long, conflicts_with = "closed_loop")]
    pub rate: Option<Rate>,
    /// Closed loop even if the workload file sets a rate.
    #[arg(long)]
    pub closed_loop: bool,
    /// Unacknowledged messages per producer.
    #[arg(long)]
    pub in_flight: Option<usize>,
    #[arg(long)]
    pub warmup: Option<u64>,
    /// Measured seconds after warm-up.
    #[arg(long)]
    pub duration: Option<u64>,
    /// Produce exactly N messages in total, then stop.
    #[arg(long)]
    pub messages: Option<u64>,
    #[arg(long)]
    pub seed: Option<u64>,
}

impl Workload {
    pub fn from_toml(text: &str, path: &str) -> Result<Self, WorkloadError> {
        let w: Workload = toml::from_str(text).map_err(|source| WorkloadError::Parse {
            path: path.to_string(),
            source,
        })?;
        w.validate()?;
        Ok(w)
    }

    pub fn from_file(path: &Path) -> Result<Self, WorkloadError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| WorkloadError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::from_toml(&text, &shown)
    }

    /// Applies flags on top of this workload, then validates the result.
    pub fn with_overrides(mut self, o: &Overrides) -> Result<Self, WorkloadError> {
        macro_rules! set {
            ($field:ident, $flag:expr) => {
                if let Some(v) = $flag.clone() {
                    self.$field = v;
                }
            };
        }
        set!(topics, o.topics);
        set!(topic_prefix, o.topic_prefix);
        set!(partitions_per_topic, o.partitions);
        set!(message_size, o.message_size);
        set!(key_distribution, o.keys);
        set!(key_space, o.key_space);
        set!(zipf_exponent, o.zipf_exponent);
        set!(producers_per_topic, o.producers);
        set!(consumer_groups, o.consumer_groups);
        set!(consumers_per_group, o.consumers);
        set!(consumer_assignment, o.consumer_assignment);
        set!(acks, o.acks);
        set!(linger_ms, o.linger_ms);
        set!(batch_bytes_max, o.batch_bytes);
        set!(compression, o.compression);
        set!(idempotent, o.idempotent);
        set!(payload_random_fraction, o.payload_random_fraction);
        set!(in_flight_max, o.in_flight);
        set!(warmup_secs, o.warmup);
        set!(duration_secs, o.duration);
        set!(seed, o.seed);
        if o.rate.is_some() {
            self.rate = o.rate;
        }
        if o.closed_loop {
            self.rate = None;
        }
        if o.messages.is_some() {
            self.messages = o.messages;
        }
        self.validate()?;
        Ok(self)
    }

    pub fn validate(&self) -> Result<(), WorkloadError> {
        let fail = |m: String| Err(WorkloadError::Invalid(m));
        if self.topics == 0 || self.topics > limits::TOPICS_MAX {
            return fail(format!("topics must be 1..={}", limits::TOPICS_MAX));
        }
        if self.partitions_per_topic == 0
            || self.partitions_per_topic > limits::PARTITIONS_PER_TOPIC_MAX
        {
            return fail(format!(
                "partitions_per_topic must be 1..={}",
                limits::PARTITIONS_PER_TOPIC_MAX
            ));
        }
        if self.topic_prefix.is_empty()
            || !self
                .topic_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return fail(format!(
                "topic_prefix {:?} must be non-empty [a-zA-Z0-9._-]",
                self.topic_prefix
            ));
        }
        let (min, max) = self.message_size.bounds();
        if min > max || min < limits::MESSAGE_BYTES_MIN || max > limits::MESSAGE_BYTES_MAX {
            return fail(format!(
                "message sizes must lie in {}..={} bytes (min <= max), got {min}..={max}",
                limits::MESSAGE_BYTES_MIN,
                limits::MESSAGE_BYTES_MAX
            ));
        }
        if let MessageSize::Distribution(SizeDistribution::Normal { mean, stddev, .. }) =
            self.message_size
        {
            if !(mean.is_finite() && stddev.is_finite() && stddev >= 0.0) {
                return fail("normal message size needs a finite mean and stddev >= 0".into());
            }
        }
        if self.key_distribution != KeyDistribution::None && self.key_space == 0 {
            return fail("key_space must be at least 1".into());
        }
        if !(self.zipf_exponent.is_finite() && self.zipf_exponent > 0.0) {
            return fail("zipf_exponent must be > 0".into());
        }
        let producers = self.topics as u64 * self.producers_per_topic as u64;
        if producers == 0 || producers > limits::PRODUCERS_MAX as u64 {
            return fail(format!(
                "topics x producers_per_topic must be 1..={}",
                limits::PRODUCERS_MAX
            ));
        }
        let consumers =
            self.topics as u64 * self.consumer_groups as u64 * self.consumers_per_group as u64;
        if consumers > limits::CONSUMERS_MAX as u64 {
            return fail(format!(
                "topics x groups x consumers must be <= {}",
                limits::CONSUMERS_MAX
            ));
        }
        if self.consumer_groups > 0 && self.consumers_per_group == 0 {
            return fail("consumers_per_group must be >= 1 when consumer_groups > 0".into());
        }
        if self.batch_bytes_max < max + 128 || self.batch_bytes_max > limits::IN_FLIGHT_BYTES_MAX {
            return fail(format!(
                "batch_bytes_max must hold one message plus overhead ({} bytes) and be <= {}",
                max + 128,
                limits::IN_FLIGHT_BYTES_MAX
            ));
        }
        if !(0.0..=1.0).contains(&self.payload_random_fraction) {
            return fail("payload_random_fraction must be within 0.0..=1.0".into());
        }
        if let Some(rate) = self.rate {
            let v = match rate {
                Rate::MessagesPerSec(v) | Rate::BytesPerSec(v) => v,
            };
            if !(v.is_finite() && v > 0.0) {
                return fail(format!("rate must be > 0, got {rate}"));
            }
        }
        if self.in_flight_max == 0 || self.in_flight_max > limits::IN_FLIGHT_MESSAGES_MAX {
            return fail(format!(
                "in_flight_max must be 1..={}",
                limits::IN_FLIGHT_MESSAGES_MAX
            ));
        }
        if self.idempotent && self.acks != Acks::All {
            return fail("idempotent producing needs acks=all".into());
        }
        match self.messages {
            Some(0) => return fail("messages must be >= 1".into()),
            None if self.duration_secs == 0 => return fail("duration_secs must be >= 1".into()),
            _ => {}
        }
        Ok(())
    }

    pub fn producers(&self) -> u32 {
        self.topics * self.producers_per_topic
    }

    pub fn consumers(&self) -> u32 {
        self.topics * self.consumer_groups * self.consumers_per_group
    }

    pub fn topic_name(&self, topic_index: u32) -> String {
        format!("{}-{topic_index}", self.topic_prefix)
    }

    /// Open-loop pace of one producer in messages/s, `None` for closed loop.
    pub fn producer_messages_per_sec(&self) -> Option<f64> {
        let per_run = match self.rate? {
            Rate::MessagesPerSec(m) => m,
            Rate::BytesPerSec(b) => b / self.message_size.mean(),
        };
        Some(per_run / self.producers() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_workload_file() {
        let w = Workload::from_toml(
            r#"
            name = "t"
            topics = 2
            partitions_per_topic = 100
            message_size = { distribution = "uniform", min = 100, max = 2000 }
            key_distribution = "zipf"
            key_space = 500
            zipf_exponent = 1.2
            producers_per_topic = 4
            consumer_groups = 2
            consumers_per_group = 3
            acks = 1
            linger_ms = 5
            batch_bytes_max = 65536
            compression = "zstd"
            payload_random_fraction = 0.5
            rate = 200000
            warmup_secs = 1
            duration_secs = 30
            seed = 7
            "#,
            "t.toml",
        )
        .unwrap();
        assert_eq!(w.partitions_per_topic, 100);
        assert_eq!(
            w.message_size,
            MessageSize::Distribution(SizeDistribution::Uniform {
                min: 100,
                max: 2000
            })
        );
        assert_eq!(w.key_distribution, KeyDistribution::Zipf);
        assert_eq!(w.acks, Acks::Leader);
        assert_eq!(w.compression, Compression::Zstd);
        assert_eq!(w.producers(), 8);
        assert_eq!(w.consumers(), 12);
        assert_eq!(w.producer_messages_per_sec(), Some(25_000.0));
        assert_eq!(w.topic_name(1), "sluice-bench-1");
        // Unspecified fields keep their defaults.
        assert_eq!(w.in_flight_max, Workload::default().in_flight_max);
    }

    #[test]
    fn acks_accepts_numbers_and_all() {
        for (text, want) in [
            ("0", Acks::None),
            ("1", Acks::Leader),
            ("-1", Acks::All),
            ("\"all\"", Acks::All),
        ] {
            let w = Workload::from_toml(&format!("acks = {text}"), "x").unwrap();
            assert_eq!(w.acks, want, "{text}");
        }
        assert!(Workload::from_toml("acks = 2", "x").is_err());
    }

    #[test]
    fn rejects_unknown_fields_and_bad_values() {
        let err = Workload::from_toml("partitons_per_topic = 3", "typo.toml").unwrap_err();
        assert!(err.to_string().contains("partitons_per_topic"), "{err}");
        for bad in [
            "message_size = 8",
            "message_size = 2000000",
            "topics = 0",
            "partitions_per_topic = 0",
            "payload_random_fraction = 1.5",
            "rate = 0",
            "in_flight_max = 0",
            "idempotent = true\nacks = 1",
            "messages = 0",
            "topic_prefix = \"a b\"",
            "batch_bytes_max = 100",
        ] {
            assert!(Workload::from_toml(bad, "x").is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn flags_override_the_file() {
        let base =
            Workload::from_toml("rate = \"10msg/s\"\npartitions_per_topic = 3", "x").unwrap();
        let o = Overrides {
            partitions: Some(7),
            message_size: Some("uniform:64-128".parse().unwrap()),
            acks: Some("0".parse().unwrap()),
            messages: Some(1000),
            ..Default::default()
        };
        let w = base.clone().with_overrides(&o).unwrap();
        assert_eq!(w.partitions_per_topic, 7);
        assert_eq!(w.message_size.bounds(), (64, 128));
        assert_eq!(w.acks, Acks::None);
        assert_eq!(w.messages, Some(1000));
        assert_eq!(w.rate, Some(Rate::MessagesPerSec(10.0)));
        let closed = base
            .with_overrides(&Overrides {
                closed_loop: true,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(closed.rate, None);
        // An override that breaks validation is reported, not applied silently.
        let bad = Workload::default().with_overrides(&Overrides {
            partitions: Some(0),
            ..Default::default()
        });
        assert!(bad.is_err());
    }

    #[test]
    fn rate_strings() {
        assert_eq!(
            "50000".parse::<Rate>().unwrap(),
            Rate::MessagesPerSec(50_000.0)
        );
        assert_eq!(
            "50_000msg/s".parse::<Rate>().unwrap(),
            Rate::MessagesPerSec(50_000.0)
        );
        assert_eq!("100MB/s".parse::<Rate>().unwrap(), Rate::BytesPerSec(100e6));
        assert_eq!(
            "2MiB/s".parse::<Rate>().unwrap(),
            Rate::BytesPerSec(2.0 * 1024.0 * 1024.0)
        );
        assert!("fast".parse::<Rate>().is_err());
        assert!("10 parsecs".parse::<Rate>().is_err());
        let w = Workload {
            rate: Some(Rate::BytesPerSec(1024e3)),
            producers_per_topic: 2,
            ..Default::default()
        };
        assert_eq!(w.producer_messages_per_sec(), Some(500.0));
    }

    #[test]
    fn shipped_workloads_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let w = Workload::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                Some(w.name.as_str()),
                path.file_stem().and_then(|s| s.to_str())
            );
            names.push(w.name);
        }
        names.sort();
        for want in [
            "1-topic-1-partition-1kb",
            "1-topic-100-partitions-1kb-4p-4c-1000k",
            "1-topic-100-partitions-1kb-4p-4c-200k",
            "1-topic-100-partitions-1kb-4p-4c-500k",
            "max-rate-1-topic-1-partition-1p-1c-100b",
            "max-rate-1-topic-1-partition-1p-1c-1kb",
            "max-rate-1-topic-1-partition-1p-1c-64kb",
        ] {
            assert!(names.iter().any(|n| n == want), "missing workload {want}");
        }
    }
}
