//! Broker configuration: a TOML file (`--config FILE`) overlaid by command-line
//! flags, validated once at start-up into a [`Config`] that the rest of the
//! engine trusts.
//!
//! Every key of the file is optional; unknown keys are rejected so that a typo
//! does not silently fall back to a default. Validation errors name the key.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use clap::Parser;
use serde::Deserialize;

use crate::limits;

/// Command-line flags. Each one overrides the matching key of the file.
#[derive(Debug, Parser, Default)]
#[command(
    name = "sluice",
    version,
    about = "Sluice: a Kafka-compatible, shard-per-core event-streaming broker"
)]
pub struct Cli {
    /// TOML configuration file; flags given here override its keys.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to accept Kafka clients on (key `listen`).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Address clients are told to connect to in Metadata (key `advertise`).
    #[arg(long, value_name = "HOST:PORT")]
    pub advertise: Option<String>,
    /// Directory holding topic metadata and partition logs (key `data_dir`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Number of shards, or a list of CPU ids such as `0,2-3` (key `shards.cores`).
    #[arg(long, value_name = "N|LIST")]
    pub cores: Option<String>,
    /// This broker's id in the cluster (key `node_id`).
    #[arg(long, value_name = "ID")]
    pub node_id: Option<i32>,
    /// The controller's voters, `ID@HOST:PORT` separated by commas (key
    /// `cluster.voters`); empty: this node alone.
    #[arg(long, value_name = "ID@HOST:PORT,...")]
    pub voters: Option<String>,
    /// Address to accept other nodes on (key `cluster.rpc_listen`).
    #[arg(long, value_name = "HOST:PORT")]
    pub rpc_listen: Option<String>,
    /// Address other nodes are told to reach this node at (key
    /// `cluster.rpc_advertise`); defaults to `--rpc-listen`.
    #[arg(long, value_name = "HOST:PORT")]
    pub rpc_advertise: Option<String>,
    /// Log filter, e.g. `info` or `engine=debug,info` (key `log_level`;
    /// the `SLUICE_LOG` environment variable is used when neither is given).
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
}

/// Which CPUs run shards, as written by the user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CoresSpec {
    /// `"all"`: every CPU the process may run on.
    All(AllKeyword),
    /// A number of shards, pinned to the first CPUs the process may use.
    Count(usize),
    /// Exactly these CPU ids, one shard each.
    List(Vec<usize>),
}

/// The literal string `"all"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub enum AllKeyword {
    #[serde(rename = "all")]
    All,
}

impl CoresSpec {
    /// Parses the `--cores` flag: `all`, `N`, or a list like `0,2-3`.
    pub fn parse_flag(text: &str) -> Result<Self, ValueError> {
        let text = text.trim();
        if text == "all" {
            return Ok(Self::All(AllKeyword::All));
        }
        if !text.contains([',', '-']) {
            return text
                .parse::<usize>()
                .map(Self::Count)
                .map_err(|_| ValueError::NotCores(text.to_string()));
        }
        let mut cpus = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            let bad = || ValueError::NotCpu {
                part: part.to_string(),
                list: text.to_string(),
            };
            match part.split_once('-') {
                Some((lo, hi)) => {
                    let lo: usize = lo.trim().parse().map_err(|_| bad())?;
                    let hi: usize = hi.trim().parse().map_err(|_| bad())?;
                    if lo > hi || hi - lo >= limits::SHARDS_MAX {
                        return Err(bad());
                    }
                    cpus.extend(lo..=hi);
                }
                None => cpus.push(part.parse().map_err(|_| bad())?),
            }
        }
        Ok(Self::List(cpus))
    }
}

/// When appends become durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// fdatasync before acknowledging (group commit shares one sync).
    Always,
    /// Sync at most every `fsync_interval_ms` or `fsync_bytes`, whichever
    /// comes first; acknowledgements do not wait for the sync.
    Interval,
}

/// The file as written. Every field is optional so that defaults live in one
/// place ([`Config::default`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    advertise: Option<String>,
    data_dir: Option<PathBuf>,
    log_level: Option<String>,
    cluster_id: Option<String>,
    node_id: Option<i32>,
    #[serde(default)]
    shards: FileShards,
    #[serde(default)]
    log: FileLog,
    #[serde(default)]
    server: FileServer,
    #[serde(default)]
    topics: FileTopics,
    #[serde(default)]
    groups: crate::group::FileGroups,
    #[serde(default)]
    cluster: FileCluster,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCluster {
    voters: Option<Vec<String>>,
    rpc_listen: Option<String>,
    rpc_advertise: Option<String>,
    seed_nodes: Option<Vec<String>>,
    rack: Option<String>,
    controller_tick_ms: Option<u64>,
    controller_election_ticks: Option<u32>,
    controller_heartbeat_ticks: Option<u32>,
    broker_heartbeat_interval_ms: Option<u64>,
    broker_session_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShards {
    cores: Option<CoresSpec>,
    io_memory_bytes: Option<usize>,
    cache_bytes: Option<u64>,
    /// Per-core overrides: `[[shards.core]] cpu = 1, cache_bytes = ...`.
    #[serde(default)]
    core: Vec<FileCoreTuning>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCoreTuning {
    cpu: usize,
    io_memory_bytes: Option<usize>,
    cache_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLog {
    segment_bytes: Option<u64>,
    segment_ms: Option<u64>,
    retention_bytes: Option<i64>,
    retention_ms: Option<i64>,
    fsync: Option<FsyncPolicy>,
    fsync_interval_ms: Option<u64>,
    fsync_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileServer {
    frame_bytes_max: Option<usize>,
    batch_bytes_max: Option<usize>,
    connections_per_shard_max: Option<usize>,
    in_flight_requests_per_connection_max: Option<usize>,
    request_memory_per_shard_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTopics {
    auto_create: Option<bool>,
    default_partitions: Option<i32>,
    default_replication_factor: Option<i16>,
}

/// Tuning of one shard after per-core overrides are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardTuning {
    /// The CPU this shard's executor is pinned to.
    pub cpu: usize,
    /// Registered io_uring memory asked of glommio (before the memlock fit).
    pub io_memory_bytes: usize,
    /// Bytes of recent batches the shard keeps cached for tailing consumers.
    pub cache_bytes: u64,
}

/// Partition log settings shared by every topic unless a topic overrides them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub segment_bytes: u64,
    pub segment_ms: u64,
    /// `-1`: no size limit.
    pub retention_bytes: i64,
    /// `-1`: keep forever.
    pub retention_ms: i64,
    pub fsync: FsyncPolicy,
    pub fsync_interval_ms: u64,
    pub fsync_bytes: u64,
}

impl LogConfig {
    /// The fsync policy in storage's terms.
    pub fn storage_fsync(&self) -> storage::FsyncPolicy {
        match self.fsync {
            FsyncPolicy::Always => storage::FsyncPolicy::Always,
            FsyncPolicy::Interval => storage::FsyncPolicy::Interval {
                ms: self.fsync_interval_ms,
                bytes: self.fsync_bytes,
            },
        }
    }
}

/// Limits that protect the broker from its clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub frame_bytes_max: usize,
    pub batch_bytes_max: usize,
    pub connections_per_shard_max: usize,
    pub in_flight_requests_per_connection_max: usize,
    /// Bytes of request frames a shard holds at once across its connections;
    /// when it is spent, connections stop reading (back-pressure).
    pub request_memory_per_shard_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDefaults {
    pub auto_create: bool,
    pub default_partitions: i32,
    /// `None`: 3 when the cluster has 3 or more live brokers, else 1.
    pub default_replication_factor: Option<i16>,
}

impl TopicDefaults {
    /// The replication factor of a topic that does not ask for one.
    pub fn default_replication_factor(&self, live_brokers: usize) -> usize {
        match self.default_replication_factor {
            Some(rf) => rf as usize,
            None if live_brokers >= 3 => 3,
            None => 1,
        }
    }
}

/// A voter of the controller group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voter {
    pub node_id: i32,
    pub host: String,
    pub port: u16,
}

/// How this broker takes part in the cluster (`[cluster]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The controller's voters; empty: this node alone is the controller.
    pub voters: Vec<Voter>,
    /// Where other nodes connect; `None` for a node alone.
    pub rpc_listen: Option<SocketAddr>,
    pub rpc_advertise_host: String,
    pub rpc_advertise_port: u16,
    /// Nodes a broker that is not a voter asks for the voters.
    pub seed_nodes: Vec<(String, u16)>,
    pub rack: Option<String>,
    pub controller_tick_ms: u64,
    pub controller_election_ticks: u32,
    pub controller_heartbeat_ticks: u32,
    pub broker_heartbeat_interval_ms: u64,
    pub broker_session_timeout_ms: u64,
}

impl ClusterConfig {
    /// The node ids of the controller's initial voters: the configured
    /// ones, or `node_id` alone.
    pub fn initial_voters(&self, node_id: i32) -> Vec<i32> {
        if self.voters.is_empty() {
            vec![node_id]
        } else {
            self.voters.iter().map(|v| v.node_id).collect()
        }
    }

    /// Whether this broker runs without other nodes.
    pub fn is_alone(&self) -> bool {
        self.voters.is_empty() && self.seed_nodes.is_empty()
    }

    pub fn controller_timing(&self) -> crate::cluster::controller::Timing {
        crate::cluster::controller::Timing {
            tick_ms: self.controller_tick_ms,
            election_ticks: self.controller_election_ticks,
            heartbeat_ticks: self.controller_heartbeat_ticks,
        }
    }
}

/// Parses `ID@HOST:PORT`.
fn parse_voter(text: &str) -> Result<Voter, String> {
    let (id, address) = text
        .split_once('@')
        .ok_or_else(|| format!("`{text}` is not ID@HOST:PORT"))?;
    let node_id: i32 = id
        .trim()
        .parse()
        .map_err(|_| format!("`{id}` in `{text}` is not a node id"))?;
    if node_id < 0 {
        return Err(format!("`{text}`: node ids are >= 0"));
    }
    let (host, port) = split_host_port(address.trim()).map_err(|e| e.to_string())?;
    Ok(Voter {
        node_id,
        host,
        port,
    })
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listen: SocketAddr,
    /// Host and port put in Metadata responses.
    pub advertise_host: String,
    pub advertise_port: u16,
    pub data_dir: PathBuf,
    pub log_level: Option<String>,
    pub cluster_id: String,
    pub node_id: i32,
    /// One entry per shard, in shard order.
    pub shards: Vec<ShardTuning>,
    pub log: LogConfig,
    pub server: ServerConfig,
    pub topics: TopicDefaults,
    /// The `[groups]` section: consumer group coordinator settings.
    pub groups: crate::group::GroupConfig,
    /// The `[cluster]` section.
    pub cluster: ClusterConfig,
}

/// Why the configuration was refused. The message always names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

const MIB: u64 = 1 << 20;

impl Config {
    /// Reads the file named by `--config` (if any), applies the flags and
    /// validates the result. `available_cpus` is the set of CPUs the process
    /// may run on (its affinity mask), used for `all` and counts.
    pub fn load(cli: &Cli, available_cpus: &[usize]) -> Result<Self, ConfigError> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Self::from_parts(file, cli, available_cpus)
    }

    /// Parses a configuration from TOML text (used by tests and `load`).
    pub fn from_toml(text: &str, cli: &Cli, available_cpus: &[usize]) -> Result<Self, ConfigError> {
        let file = parse_file(text, Path::new("<inline>"))?;
        Self::from_parts(file, cli, available_cpus)
    }

    fn from_parts(
        file: FileConfig,
        cli: &Cli,
        available_cpus: &[usize],
    ) -> Result<Self, ConfigError> {
        let listen_text = cli
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:9092".to_string());
        let listen = resolve(&listen_text).map_err(|e| invalid("listen", e.to_string()))?;

        let advertise_text = cli.advertise.clone().or(file.advertise);
        let (advertise_host, advertise_port) = match advertise_text {
            Some(text) => {
                split_host_port(&text).map_err(|e| invalid("advertise", e.to_string()))?
            }
            None => {
                if listen.ip().is_unspecified() {
                    return Err(invalid(
                        "advertise",
                        format!("must be set when `listen` ({listen}) is a wildcard address"),
                    ));
                }
                (listen.ip().to_string(), listen.port())
            }
        };

        let data_dir = cli
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        if data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }

        let cluster_id = file
            .cluster_id
            .unwrap_or_else(|| "sluice-cluster".to_string());
        if cluster_id.is_empty() || cluster_id.len() > 255 {
            return Err(invalid("cluster_id", "must be 1 to 255 characters"));
        }
        let node_id = cli.node_id.or(file.node_id).unwrap_or(0);
        if node_id < 0 {
            return Err(invalid("node_id", "must be >= 0"));
        }

        let cores = match &cli.cores {
            Some(text) => {
                CoresSpec::parse_flag(text).map_err(|e| invalid("shards.cores", e.to_string()))?
            }
            None => file.shards.cores.unwrap_or(CoresSpec::All(AllKeyword::All)),
        };
        let cpus = choose_cpus(&cores, available_cpus)
            .map_err(|e| invalid("shards.cores", e.to_string()))?;

        let io_memory_default = file
            .shards
            .io_memory_bytes
            .unwrap_or(limits::IO_MEMORY_PER_SHARD_DEFAULT_BYTES);
        check_range(
            "shards.io_memory_bytes",
            io_memory_default as u64,
            64 << 10,
            1 << 30,
        )?;
        let cache_default = file.shards.cache_bytes.unwrap_or(64 * MIB);
        check_range("shards.cache_bytes", cache_default, 0, 1 << 40)?;
        let mut shards: Vec<ShardTuning> = cpus
            .iter()
            .map(|&cpu| ShardTuning {
                cpu,
                io_memory_bytes: io_memory_default,
                cache_bytes: cache_default,
            })
            .collect();
        for tuning in &file.shards.core {
            let mut matched = false;
            for shard in shards.iter_mut().filter(|s| s.cpu == tuning.cpu) {
                matched = true;
                if let Some(bytes) = tuning.io_memory_bytes {
                    check_range(
                        "shards.core.io_memory_bytes",
                        bytes as u64,
                        64 << 10,
                        1 << 30,
                    )?;
                    shard.io_memory_bytes = bytes;
                }
                if let Some(bytes) = tuning.cache_bytes {
                    check_range("shards.core.cache_bytes", bytes, 0, 1 << 40)?;
                    shard.cache_bytes = bytes;
                }
            }
            if !matched {
                return Err(invalid(
                    "shards.core.cpu",
                    format!(
                        "CPU {} does not run a shard (shards run on {:?})",
                        tuning.cpu, cpus
                    ),
                ));
            }
        }

        let log = LogConfig {
            segment_bytes: file.log.segment_bytes.unwrap_or(128 * MIB),
            segment_ms: file.log.segment_ms.unwrap_or(7 * 24 * 3600 * 1000),
            retention_bytes: file.log.retention_bytes.unwrap_or(-1),
            retention_ms: file.log.retention_ms.unwrap_or(7 * 24 * 3600 * 1000),
            fsync: file.log.fsync.unwrap_or(FsyncPolicy::Always),
            fsync_interval_ms: file.log.fsync_interval_ms.unwrap_or(1000),
            fsync_bytes: file.log.fsync_bytes.unwrap_or(64 * MIB),
        };
        check_range("log.segment_bytes", log.segment_bytes, MIB, 1 << 40)?;
        check_range("log.segment_ms", log.segment_ms, 1000, u64::MAX)?;
        if log.retention_bytes < -1 {
            return Err(invalid(
                "log.retention_bytes",
                "must be -1 (unlimited) or >= 0",
            ));
        }
        if log.retention_ms < -1 {
            return Err(invalid("log.retention_ms", "must be -1 (forever) or >= 0"));
        }
        check_range("log.fsync_interval_ms", log.fsync_interval_ms, 1, 3_600_000)?;
        check_range("log.fsync_bytes", log.fsync_bytes, 4096, 1 << 40)?;

        let server = ServerConfig {
            frame_bytes_max: file
                .server
                .frame_bytes_max
                .unwrap_or(limits::FRAME_BYTES_MAX_DEFAULT),
            batch_bytes_max: file
                .server
                .batch_bytes_max
                .unwrap_or(limits::BATCH_BYTES_MAX_DEFAULT),
            connections_per_shard_max: file
                .server
                .connections_per_shard_max
                .unwrap_or(limits::CONNECTIONS_PER_SHARD_MAX_DEFAULT),
            in_flight_requests_per_connection_max: file
                .server
                .in_flight_requests_per_connection_max
                .unwrap_or(limits::IN_FLIGHT_REQUESTS_PER_CONNECTION_MAX_DEFAULT),
            request_memory_per_shard_bytes: file
                .server
                .request_memory_per_shard_bytes
                .unwrap_or(limits::REQUEST_MEMORY_PER_SHARD_DEFAULT_BYTES),
        };
        check_range(
            "server.frame_bytes_max",
            server.frame_bytes_max as u64,
            64 << 10,
            limits::FRAME_BYTES_MAX_CEILING as u64,
        )?;
        check_range(
            "server.batch_bytes_max",
            server.batch_bytes_max as u64,
            1024,
            // A batch must fit in a frame and in what the log accepts.
            server.frame_bytes_max.min(storage::limits::BATCH_BYTES_MAX) as u64,
        )?;
        check_range(
            "server.connections_per_shard_max",
            server.connections_per_shard_max as u64,
            1,
            1 << 20,
        )?;
        check_range(
            "server.in_flight_requests_per_connection_max",
            server.in_flight_requests_per_connection_max as u64,
            1,
            limits::IN_FLIGHT_REQUESTS_PER_CONNECTION_CEILING as u64,
        )?;
        if server.request_memory_per_shard_bytes < server.frame_bytes_max {
            return Err(invalid(
                "server.request_memory_per_shard_bytes",
                format!(
                    "must be at least server.frame_bytes_max ({}) so one largest frame fits",
                    server.frame_bytes_max
                ),
            ));
        }

        let topics = TopicDefaults {
            auto_create: file.topics.auto_create.unwrap_or(true),
            default_partitions: file.topics.default_partitions.unwrap_or(1),
            default_replication_factor: file.topics.default_replication_factor,
        };
        if let Some(rf) = topics.default_replication_factor {
            check_range("topics.default_replication_factor", rf.max(0) as u64, 1, 16)?;
        }
        check_range(
            "topics.default_partitions",
            topics.default_partitions as u64,
            1,
            limits::PARTITIONS_PER_TOPIC_MAX as u64,
        )?;
        if topics.default_partitions < 1 {
            return Err(invalid("topics.default_partitions", "must be >= 1"));
        }

        let cluster = cluster_config(file.cluster, cli, node_id)?;

        Ok(Config {
            listen,
            advertise_host,
            advertise_port,
            data_dir,
            log_level: cli.log_level.clone().or(file.log_level),
            cluster_id,
            node_id,
            shards,
            log,
            server,
            topics,
            groups: file
                .groups
                .into_config()
                .map_err(|e| invalid("groups", e.to_string()))?,
            cluster,
        })
    }
}

/// The `[cluster]` section with its flags applied, validated.
fn cluster_config(
    file: FileCluster,
    cli: &Cli,
    node_id: i32,
) -> Result<ClusterConfig, ConfigError> {
    let voter_texts: Vec<String> = match &cli.voters {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect(),
        None => file.voters.unwrap_or_default(),
    };
    let mut voters = Vec::with_capacity(voter_texts.len());
    for text in &voter_texts {
        let voter = parse_voter(text).map_err(|m| invalid("cluster.voters", m))?;
        if voters.iter().any(|v: &Voter| v.node_id == voter.node_id) {
            return Err(invalid(
                "cluster.voters",
                format!("node id {} is listed twice", voter.node_id),
            ));
        }
        voters.push(voter);
    }
    if voters.len() > consensus::limits::MEMBERS_MAX {
        return Err(invalid("cluster.voters", "too many voters"));
    }
    let mut seed_nodes = Vec::new();
    for text in file.seed_nodes.unwrap_or_default() {
        seed_nodes.push(
            split_host_port(&text).map_err(|e| invalid("cluster.seed_nodes", e.to_string()))?,
        );
    }
    let own_voter = voters.iter().find(|v| v.node_id == node_id);
    let rpc_listen_text = cli
        .rpc_listen
        .clone()
        .or(file.rpc_listen)
        .or_else(|| own_voter.map(|v| format!("{}:{}", v.host, v.port)));
    let alone = voters.is_empty() && seed_nodes.is_empty();
    let rpc_listen = match rpc_listen_text {
        Some(text) => {
            Some(resolve(&text).map_err(|e| invalid("cluster.rpc_listen", e.to_string()))?)
        }
        None if alone => None,
        None => {
            return Err(invalid(
                "cluster.rpc_listen",
                "is required for a broker in a cluster that is not a voter",
            ))
        }
    };
    let (rpc_advertise_host, rpc_advertise_port) =
        match cli.rpc_advertise.clone().or(file.rpc_advertise) {
            Some(text) => split_host_port(&text)
                .map_err(|e| invalid("cluster.rpc_advertise", e.to_string()))?,
            // The listen address, unless it is a wildcard: then the voter
            // entry (a voter is reached where the voters say).
            None => match (rpc_listen, own_voter) {
                (Some(addr), _) if !addr.ip().is_unspecified() => {
                    (addr.ip().to_string(), addr.port())
                }
                (_, Some(v)) => (v.host.clone(), v.port),
                (Some(addr), None) => {
                    return Err(invalid(
                        "cluster.rpc_advertise",
                        format!("must be set when `rpc_listen` ({addr}) is a wildcard address"),
                    ))
                }
                (None, None) => ("127.0.0.1".to_string(), 0),
            },
        };
    if let Some(v) = own_voter {
        if (v.host.as_str(), v.port) != (rpc_advertise_host.as_str(), rpc_advertise_port) {
            return Err(invalid(
                "cluster.voters",
                format!(
                    "names node {node_id} at {}:{}, but this node advertises {rpc_advertise_host}:{rpc_advertise_port}",
                    v.host, v.port
                ),
            ));
        }
    }
    let config = ClusterConfig {
        voters,
        rpc_listen,
        rpc_advertise_host,
        rpc_advertise_port,
        seed_nodes,
        rack: file.rack.filter(|r| !r.is_empty()),
        controller_tick_ms: file.controller_tick_ms.unwrap_or(50),
        controller_election_ticks: file.controller_election_ticks.unwrap_or(12),
        controller_heartbeat_ticks: file.controller_heartbeat_ticks.unwrap_or(2),
        broker_heartbeat_interval_ms: file.broker_heartbeat_interval_ms.unwrap_or(2_000),
        broker_session_timeout_ms: file.broker_session_timeout_ms.unwrap_or(9_000),
    };
    check_range(
        "cluster.controller_tick_ms",
        config.controller_tick_ms,
        1,
        10_000,
    )?;
    if config.controller_heartbeat_ticks < 1
        || config.controller_election_ticks <= config.controller_heartbeat_ticks
    {
        return Err(invalid(
            "cluster.controller_election_ticks",
            "must exceed controller_heartbeat_ticks, which must be at least 1",
        ));
    }
    if config.broker_session_timeout_ms <= config.broker_heartbeat_interval_ms {
        return Err(invalid(
            "cluster.broker_session_timeout_ms",
            "must exceed broker_heartbeat_interval_ms",
        ));
    }
    Ok(config)
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_file(&text, path)
}

fn parse_file(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
    // toml's message already names the offending key and line.
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn check_range(key: &'static str, value: u64, lo: u64, hi: u64) -> Result<(), ConfigError> {
    if value < lo || value > hi {
        return Err(invalid(key, format!("{value} is outside {lo}..={hi}")));
    }
    Ok(())
}

/// Why a value is not what its key takes; the message names the value.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    #[error("`{0}` is not HOST:PORT ({1})")]
    NotSocketAddr(String, std::io::Error),
    #[error("`{0}` resolves to no address")]
    Unresolved(String),
    #[error("`{0}` is not HOST:PORT with a host and a non-zero port")]
    NotHostPort(String),
    #[error("`{0}` is not `all`, a count or a CPU list")]
    NotCores(String),
    #[error("`{part}` in `{list}` is not a CPU id or range")]
    NotCpu { part: String, list: String },
    #[error("the process may not run on any CPU")]
    NoCpus,
    #[error("must be at least 1")]
    ZeroShards,
    #[error("the CPU list is empty")]
    EmptyCpuList,
    #[error("CPU {cpu} is not available to this process ({available:?})")]
    UnavailableCpu { cpu: usize, available: Vec<usize> },
    #[error("CPU list {0:?} names a CPU twice")]
    RepeatedCpu(Vec<usize>),
    #[error("{0} shards exceed the limit of {max}", max = limits::SHARDS_MAX)]
    TooManyShards(usize),
}

fn resolve(text: &str) -> Result<SocketAddr, ValueError> {
    text.to_socket_addrs()
        .map_err(|e| ValueError::NotSocketAddr(text.to_string(), e))?
        .next()
        .ok_or_else(|| ValueError::Unresolved(text.to_string()))
}

fn split_host_port(text: &str) -> Result<(String, u16), ValueError> {
    let bad = || ValueError::NotHostPort(text.to_string());
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

fn choose_cpus(cores: &CoresSpec, available: &[usize]) -> Result<Vec<usize>, ValueError> {
    if available.is_empty() {
        return Err(ValueError::NoCpus);
    }
    let cpus = match cores {
        CoresSpec::All(_) => available.to_vec(),
        CoresSpec::Count(0) => return Err(ValueError::ZeroShards),
        CoresSpec::Count(n) => {
            // More shards than CPUs is allowed (they share CPUs round-robin):
            // it lets a 1-CPU machine exercise the cross-shard paths.
            (0..*n).map(|i| available[i % available.len()]).collect()
        }
        CoresSpec::List(list) => {
            if list.is_empty() {
                return Err(ValueError::EmptyCpuList);
            }
            for &cpu in list {
                if !available.contains(&cpu) {
                    return Err(ValueError::UnavailableCpu {
                        cpu,
                        available: available.to_vec(),
                    });
                }
            }
            let mut sorted = list.clone();
            sorted.sort_unstable();
            sorted.dedup();
            if sorted.len() != list.len() {
                return Err(ValueError::RepeatedCpu(list.clone()));
            }
            list.clone()
        }
    };
    if cpus.len() > limits::SHARDS_MAX {
        return Err(ValueError::TooManyShards(cpus.len()));
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPUS: &[usize] = &[0, 1];

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, &Cli::default(), CPUS)
    }

    #[test]
    fn defaults_match_the_readme() {
        let config = load("").unwrap();
        assert_eq!(
            config.listen,
            "127.0.0.1:9092".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            (config.advertise_host.as_str(), config.advertise_port),
            ("127.0.0.1", 9092)
        );
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.shards.len(), 2);
        assert!(config.topics.auto_create);
        assert_eq!(config.topics.default_partitions, 1);
        assert_eq!(config.log.fsync, FsyncPolicy::Always);
    }

    #[test]
    fn flags_override_the_file() {
        let cli = Cli {
            listen: Some("127.0.0.1:1234".into()),
            cores: Some("1".into()),
            data_dir: Some("/tmp/x".into()),
            ..Cli::default()
        };
        let config = Config::from_toml(
            "listen = \"127.0.0.1:9999\"\ndata_dir = \"/y\"\n[shards]\ncores = [0, 1]\n",
            &cli,
            CPUS,
        )
        .unwrap();
        assert_eq!(config.listen.port(), 1234);
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.shards.len(), 1);
    }

    #[test]
    fn per_core_tuning_applies_to_its_cpu_only() {
        let config = load(
            "[shards]\ncores = [0, 1]\ncache_bytes = 1000\n[[shards.core]]\ncpu = 1\ncache_bytes = 5000\n",
        )
        .unwrap();
        assert_eq!(config.shards[0].cache_bytes, 1000);
        assert_eq!(config.shards[1].cache_bytes, 5000);
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("bogus = 1", "bogus"),
            ("[log]\nfsync = \"sometimes\"", "sometimes"),
            ("[log]\nsegment_bytes = 10", "log.segment_bytes"),
            (
                "[topics]\ndefault_partitions = 0",
                "topics.default_partitions",
            ),
            ("[shards]\ncores = [7]", "shards.cores"),
            ("[shards]\ncores = 0", "shards.cores"),
            ("[[shards.core]]\ncpu = 9", "shards.core.cpu"),
            ("listen = \"nonsense\"", "listen"),
            ("listen = \"0.0.0.0:9092\"", "advertise"),
            ("advertise = \"host-without-port\"", "advertise"),
            ("[server]\nframe_bytes_max = 1", "server.frame_bytes_max"),
            (
                "[server]\nbatch_bytes_max = 104857600",
                "server.batch_bytes_max",
            ),
            ("[server]\nunknown_limit = 1", "unknown_limit"),
        ];
        for (text, key) in cases {
            let message = load(text).unwrap_err().to_string();
            assert!(
                message.contains(key),
                "{text:?} gave {message:?}, expected it to name {key}"
            );
        }
    }

    #[test]
    fn the_readme_example_is_valid_and_matches_the_defaults() {
        let readme = include_str!("../../README.md");
        let start = readme.find("```toml\n").expect("README has a toml block") + 8;
        let end = start + readme[start..].find("```").unwrap();
        let config = load(&readme[start..end]).unwrap();
        let mut defaults = load("").unwrap();
        // The example adds one per-core override on CPU 1.
        defaults.shards[1].cache_bytes = 256 << 20;
        assert_eq!(
            config,
            Config {
                log_level: Some("info".into()),
                ..defaults
            }
        );
    }

    #[test]
    fn cores_flag_forms() {
        assert_eq!(CoresSpec::parse_flag("3").unwrap(), CoresSpec::Count(3));
        assert_eq!(
            CoresSpec::parse_flag("0,2-3").unwrap(),
            CoresSpec::List(vec![0, 2, 3])
        );
        assert!(matches!(
            CoresSpec::parse_flag("all").unwrap(),
            CoresSpec::All(_)
        ));
        assert!(CoresSpec::parse_flag("x").is_err());
        assert!(CoresSpec::parse_flag("3-1").is_err());
        // More shards than CPUs share them round-robin.
        assert_eq!(
            choose_cpus(&CoresSpec::Count(3), CPUS).unwrap(),
            vec![0, 1, 0]
        );
    }
}
